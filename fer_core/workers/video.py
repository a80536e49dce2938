"""``analyze_video`` in a worker process, with its progress reported back to the caller."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import pandas as pd

from fer_core.errors import FerCoreError
from fer_core.workers.process import WorkerError, WorkerProcess


@dataclass(frozen=True)
class VideoResult:
    """``analyze_video``'s tables and summary, in a type the caller unpickles without
    importing TensorFlow (``VideoAnalysis`` lives beside the analyzer)."""

    faces: pd.DataFrame
    timeline: pd.DataFrame
    summary: dict = field(repr=False)


def analyze_video_in_worker(
    path: str | os.PathLike[str],
    analyzer_options: Mapping[str, Any] | None = None,
    progress: Callable[[float], None] | None = None,
    **options: Any,
) -> VideoResult:
    """``fer_core.video.analyze_video(path, **options)`` in a new worker process.

    The worker builds the ``FrameAnalyzer`` from ``analyzer_options`` (its keyword arguments);
    ``progress(fraction)`` is called here, at most once per percent. An annotated video is
    written where ``annotated_path`` says. Whatever stops the analysis (an error, a dead
    worker, or an exception from ``progress``) stops the worker too; errors come back as
    ``WorkerError`` with the worker's message (a missing or corrupt video, a bad option).
    """
    worker = WorkerProcess(
        _analyze, "fer-video-worker", os.fspath(path), dict(analyzer_options or {}), options
    )
    try:
        while True:
            kind, payload = worker.receive()
            if kind == "progress":
                if progress is not None:
                    progress(payload)
            elif kind == "done":
                return payload
            else:
                raise WorkerError(payload)
    finally:
        worker.close()


def _analyze(
    connection: Connection, path: str, analyzer_options: dict[str, Any], options: dict[str, Any]
) -> None:
    """The worker process: analyze the video and send back progress, then the result."""
    percent = -1

    def report(done: float) -> None:
        nonlocal percent
        if int(done * 100) != percent:
            percent = int(done * 100)
            connection.send(("progress", done))

    try:
        from fer_core.analyzer import FrameAnalyzer  # TensorFlow: only ever in the worker
        from fer_core.video import analyze_video

        # Searches in this thread, as batch runs do: the same video gives the same output.
        analyzer = FrameAnalyzer(**({"background_search": False} | analyzer_options))
        result = analyze_video(path, progress=report, analyzer=analyzer, **options)
    except (FerCoreError, ValueError) as error:  # the input's fault: the message says why
        connection.send(("failed", str(error)))
        return
    except Exception as error:
        traceback.print_exc()
        connection.send(("failed", f"the analysis failed: {type(error).__name__}: {error}"))
        return
    connection.send(("done", VideoResult(result.faces, result.timeline, result.summary)))
