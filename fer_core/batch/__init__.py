"""Analyze many videos unattended: per-video tables and summary, an index, resumable runs.

Inputs are video files or folders (searched recursively for ``VIDEO_EXTENSIONS``). Each video
gets a folder ``OUT/<name>/`` with ``faces.csv``, ``timeline.csv``, ``summary.json`` (with
the timeline's alerts) and, if asked, ``annotated.mp4`` and an agenda's ``segments.csv``;
``OUT/index.csv`` and ``OUT/index.json`` list every input of the run with its status. Every
file is written under a temporary name and renamed, and ``summary.json`` is written last: it
is what marks a video as done, so a re-run skips the videos whose summary matches the input
file and the settings, and redoes the rest.

The work is cut into tasks (a whole video, or ``chunk_s``-second chunks of one) that run in
this process, in a local process pool or on a Ray cluster. Tasks only analyze; this process
gathers their results and writes every file, so all engines give the same outputs.

This package's top is the public API and runs the batch; ``engines`` holds the tasks and
where they run, ``outputs`` the files, ``sessions`` the saving into the session store,
``chunks`` the joining of a chunked video's people and ``types`` what they all share.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fer_core.batch.engines import ENGINES, Failed, import_ray, plan, run_tasks
from fer_core.batch.outputs import (
    INDEX_COLUMNS,
    INDEX_FILES,
    Video,
    done_row,
    drop_if_empty,
    fingerprint,
    index_row,
    refresh_events,
    remove_parts,
    write_index,
    write_outputs,
)
from fer_core.batch.sessions import SessionSaver
from fer_core.batch.types import (
    BUCKET_S,
    CHUNK_ID_STRIDE,
    BatchError,
    Input,
    Settings,
    VideoOutputs,
)
from fer_core.errors import FerCoreError
from fer_core.events.segments import Segment
from fer_core.redaction import mask_credentials

__all__ = [
    "BUCKET_S",
    "CHUNK_ID_STRIDE",
    "ENGINES",
    "INDEX_COLUMNS",
    "VIDEO_EXTENSIONS",
    "BatchError",
    "BatchResult",
    "Input",
    "Reporter",
    "Settings",
    "VideoOutputs",
    "discover",
    "finished_summary",
    "output_names",
    "run_batch",
]

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


class Reporter:
    """Progress hooks of ``run_batch``; these do nothing (the CLI draws progress bars)."""

    def begin(self, total: int) -> None:
        """The run has ``total`` inputs."""

    def video(self, name: str, fraction: float) -> None:
        """Video ``name`` is ``fraction`` analyzed."""

    def finished(self, row: dict[str, Any]) -> None:
        """An input is done with (``row`` is its index row: ok, skipped or failed)."""


@dataclass
class BatchResult:
    """The index rows (one per input, in input order) and where the index was written."""

    rows: list[dict[str, Any]]
    index_csv: Path
    index_json: Path
    run: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(row["status"] != "failed" for row in self.rows)


# --- inputs and output layout ----------------------------------------------------------------


def discover(inputs: Sequence[str | os.PathLike[str]], exclude: Path | None = None) -> list[Input]:
    """Video files from files and folders (recursive, sorted), each file once.

    A named file is taken whatever its extension (analysis says if it is no video); in
    folders only ``VIDEO_EXTENSIONS`` count, hidden files and folders and ``exclude`` (the
    output folder) are skipped. A missing path or a folder without videos is an ``Input``
    with its ``error``.
    """
    found: list[Input] = []
    seen: set[Path] = set()
    skip = exclude.resolve() if exclude is not None else None
    for arg in map(str, inputs):
        path = Path(arg).expanduser()
        if path.is_dir():
            videos = _videos_in(path.resolve(), skip)
            if not videos:
                kinds = ", ".join(VIDEO_EXTENSIONS)
                found.append(Input(arg, None, f"folder holds no video files ({kinds})"))
        elif path.exists():
            videos = [path.resolve()]
        else:
            found.append(Input(arg, None, "does not exist"))
            continue
        for video in videos:
            if video not in seen:
                seen.add(video)
                found.append(Input(arg, video))
    return found


def _videos_in(folder: Path, skip: Path | None) -> list[Path]:
    videos = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and here / d != skip)
        videos += [
            here / name
            for name in sorted(files)
            if not name.startswith(".") and Path(name).suffix.lower() in VIDEO_EXTENSIONS
        ]
    return videos


def output_names(paths: Sequence[Path], out: Path | None = None) -> dict[Path, str]:
    """Output folder name per video: its stem, or ``stem-<hash of its path>`` when videos of
    the run share a stem (ignoring case, as some file systems do), when ``out`` holds
    results of another file under the stem, or when the stem cannot be a folder of its own in
    ``out`` (see ``_plain_name``); results of this file under either name win."""
    plain_names = {path: _plain_name(path) for path in paths}
    stems = Counter(name.casefold() for name in plain_names.values() if name is not None)
    names = {}
    for path in paths:
        stem = plain_names[path]
        hashed = f"{path.stem.lstrip('.') or 'video'}-{_short_hash(path)}"
        plain = stem is not None and stems[stem.casefold()] == 1
        if plain and out is not None:
            plain = _results_of(out / str(stem)) in (None, str(path))
            plain = plain and _results_of(out / hashed) != str(path)
        names[path] = stem if plain and stem else hashed
    return names


def _plain_name(path: Path) -> str | None:
    """The video's stem, or None where it cannot name a folder in ``out``: empty, ``.`` or
    ``..`` (``..mp4``, ``...mp4``: ``out`` itself, its parent), hidden (the index's
    temporary files are) or an index file's name (``index.csv.mp4``)."""
    stem = path.stem
    if not stem or stem.startswith(".") or stem.casefold() in INDEX_FILES:
        return None
    return stem


def _results_of(folder: Path) -> str | None:
    """The input file whose finished results ``folder`` holds, if any."""
    try:
        return json.loads((folder / "summary.json").read_text()).get("input")
    except (OSError, ValueError, AttributeError):
        return None


def _short_hash(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]


def finished_summary(outputs: VideoOutputs, path: Path, settings: Settings) -> dict | None:
    """The summary of an earlier complete run on this same file with these settings, if any."""
    try:
        summary = json.loads(outputs.summary.read_text())
        same = summary.get("settings") == settings.to_dict() and summary.get("input") == str(path)
        same = same and summary.get("input_file") == fingerprint(path)
    except (OSError, ValueError, AttributeError):
        return None
    needed = [outputs.faces, outputs.timeline] + [outputs.annotated] * settings.annotate
    return summary if same and all(p.is_file() for p in needed) else None


# --- the run ---------------------------------------------------------------------------------


def run_batch(
    inputs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    settings: Settings | None = None,
    *,
    engine: str = "local",
    workers: int = 1,
    address: str | None = None,
    force: bool = False,
    save_sessions: bool = False,
    db: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
    agenda: Sequence[Segment] | None = None,
) -> BatchResult:
    """Analyze every video of ``inputs`` into ``out``; failures are recorded, never raised.

    ``engine="local"`` runs in this process (``workers=1``) or in a pool of ``workers``
    processes; ``engine="ray"`` sends tasks to Ray (``address``, e.g. ``"auto"``, or a Ray
    started here, or the one already initialized). Videos done by an earlier run with the
    same settings are skipped unless ``force``. With ``save_sessions`` each video is also
    stored in the dashboard's session database (``db``: a path or SQLAlchemy URL). Every
    video's summary lists its alerts; an ``agenda`` (offsets from each video's start, see
    ``fer_core.events.agenda``) gives each video ``segments.csv`` and a ``segments`` list,
    also for videos done before (from their timeline, not analyzed again).
    Raises ``BatchError`` only for a run that cannot start.
    """
    settings = settings or Settings()
    reporter = reporter or Reporter()
    _check_run(settings, engine, workers, address)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BatchError(f"cannot create the output folder {out}: {error}") from error
    save = SessionSaver(db) if save_sessions else None
    db_name = save.db if save is not None else None

    started_at, clock = datetime.now(UTC), time.perf_counter()
    items = discover(inputs, exclude=out)
    names = output_names([item.path for item in items if item.path is not None], out)
    rows: dict[int, dict] = {}
    videos: dict[str, Video] = {}
    positions: dict[str, int] = {}
    reporter.begin(len(items))

    def finish(position: int, row: dict) -> None:
        rows[position] = row
        reporter.finished(row)

    for position, item in enumerate(items):
        if item.path is None:
            finish(position, index_row(item, None, "failed", item.error))
            continue
        name = names[item.path]
        outputs = VideoOutputs(out / name)
        summary = None if force else finished_summary(outputs, item.path, settings)
        if summary is not None:
            try:
                refreshed = refresh_events(outputs, summary, agenda)
                if save is not None:
                    save.update_events(summary, refreshed)
                    refreshed = save.save_earlier(outputs, item.path, refreshed)
                summary = refreshed
            except (FerCoreError, OSError, ValueError) as error:
                finish(position, index_row(item, name, "failed", str(error)))
                continue
            finish(position, done_row(item, name, "skipped", summary, db_name))
            continue
        try:
            outputs.folder.mkdir(parents=True, exist_ok=True)
            outputs.summary.unlink(missing_ok=True)  # from now on the folder is not "done"
            remove_parts(outputs)
            tasks = plan(name, item.path, settings, outputs)
        except (FerCoreError, OSError) as error:
            drop_if_empty(outputs.folder)
            finish(position, index_row(item, name, "failed", str(error)))
            continue
        videos[name] = Video(item, name, outputs, tasks)
        positions[name] = position

    def on_progress(event: tuple[str, int, float]) -> None:
        name, chunk, fraction = event
        video = videos[name]
        video.fractions[chunk] = fraction
        reporter.video(name, video.fraction())

    tasks = [task for video in videos.values() for task in video.tasks]
    analyzed_s = processing_s = 0.0
    for task, outcome in run_tasks(tasks, engine, workers, address, on_progress):
        video = videos[task.name]
        video.done[task.chunk] = outcome
        if len(video.done) < len(video.tasks):
            continue
        failures = [o.reason for o in video.done.values() if isinstance(o, Failed)]
        try:
            if failures:
                raise FerCoreError(failures[0])
            summary = write_outputs(video, settings, save, agenda)
            row = done_row(video.item, video.name, "ok", summary, db_name)
            analyzed_s += summary["duration_s"]
            processing_s += summary["processing_s"]
        except (FerCoreError, OSError, ValueError) as error:
            row = index_row(video.item, video.name, "failed", str(error))
        finally:
            remove_parts(video.outputs)
        if row["status"] == "failed":
            drop_if_empty(video.outputs.folder)
        finish(positions[video.name], row)

    ordered = [rows[i] for i in range(len(items))]
    wall_s = time.perf_counter() - clock
    counts = Counter(row["status"] for row in ordered)
    run = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "wall_s": wall_s,
        "engine": engine,
        "workers": workers if engine == "local" else None,
        "settings": settings.to_dict(),
        "inputs": [mask_credentials(arg) for arg in inputs],
        "ok": counts["ok"],
        "skipped": counts["skipped"],
        "failed": counts["failed"],
        "analyzed_s": analyzed_s,  # seconds of video analyzed by this run
        "processing_s": processing_s,  # seconds spent analyzing them, summed over tasks
        "analysis_speed_x_realtime": analyzed_s / processing_s if processing_s else None,
        "speed_x_realtime": analyzed_s / wall_s if analyzed_s else None,  # with start-up, queues
    }
    index_csv, index_json = write_index(out, ordered, run)
    return BatchResult(ordered, index_csv, index_json, run)


def _check_run(settings: Settings, engine: str, workers: int, address: str | None) -> None:
    """Refuse, before any work, a run that cannot go through."""
    if engine not in ENGINES:
        raise BatchError(f"engine must be one of {ENGINES}, got {engine!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise BatchError(f"workers must be at least 1, a whole number; got {workers!r}")
    if address is not None and engine != "ray":
        raise BatchError("an address is only for --engine ray")
    if workers != 1 and engine == "ray":
        raise BatchError("workers are for the local engine; Ray runs a task per CPU it has")
    if engine == "ray":
        import_ray()
    if settings.model is not None:
        from fer_core.catalog import resolve_model_path

        try:
            resolve_model_path(settings.model)
        except FerCoreError as error:
            raise BatchError(str(error)) from error
