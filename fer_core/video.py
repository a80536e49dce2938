"""Analyze a recorded video file: every face, every analyzed frame, and the mood timeline.

Decoding uses PyAV (FFmpeg), so any container and codec FFmpeg reads works: mp4, mov, avi,
mkv, webm. An annotated copy (optionally with faces blurred) can be written as H.264 MP4; it
is written under a temporary name and renamed when complete, so a crash never leaves a file
that looks finished.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd

from fer_core import analytics
from fer_core.analytics import FACE_COLUMNS, POSE_COLUMNS
from fer_core.analyzer import Face, FrameAnalyzer, face_rows
from fer_core.errors import FerCoreError
from fer_core.labels import CLASSES

_FACE_DTYPES = {
    "time_s": float,
    "frame": int,
    "track_id": int,
    "x": int,
    "y": int,
    "w": int,
    "h": int,
    "label": str,
    "confidence": float,
} | dict.fromkeys((*CLASSES, *POSE_COLUMNS), float)


class VideoError(FerCoreError):
    """A file that is missing, is not a video, or cannot be decoded."""


@dataclass
class VideoAnalysis:
    """Per-face rows, the per-second timeline, a summary dict, and the annotated copy if any."""

    faces: pd.DataFrame
    timeline: pd.DataFrame
    summary: dict
    annotated_path: Path | None = None
    frame_times: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    #: People's rows from the ``warmup_s`` before ``start_s``: what a chunk shares with the
    #: chunk before it, to tell which of its people are the same (``fer_core.batch.chunks``).
    warmup_faces: pd.DataFrame | None = field(default=None, repr=False)


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise VideoError(f"video {path} does not exist")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise VideoError(f"{path} is not a readable video: {error}") from error
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path} has no video stream")
    return container


def _duration_s(container: av.container.InputContainer, stream: av.video.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


class _AnnotatedWriter:
    """Writes annotated frames to a hidden partial file and renames it on ``close``."""

    def __init__(self, target: Path, width: int, height: int, rate: Fraction) -> None:
        self.target = target
        self.partial = target.with_name(f".{target.stem}.partial.mp4")
        if not target.parent.is_dir():
            raise VideoError(f"cannot write annotated video {target}: no folder {target.parent}")
        try:
            self.container = av.open(str(self.partial), mode="w")
            self.stream = self.container.add_stream("libx264", rate=rate)
            self.stream.width, self.stream.height = width - width % 2, height - height % 2
            self.stream.pix_fmt = "yuv420p"
        except (av.error.FFmpegError, OSError) as error:
            self.partial.unlink(missing_ok=True)
            raise VideoError(f"cannot write annotated video {target}: {error}") from error

    def write(self, frame_bgr: np.ndarray) -> None:
        frame_bgr = frame_bgr[: self.stream.height, : self.stream.width]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_bgr), format="bgr24")
        try:  # FFmpeg opens the file lazily: a bad folder shows up at the first frame
            self.container.mux(self.stream.encode(frame))
        except (av.error.FFmpegError, OSError) as error:
            raise VideoError(f"cannot write annotated video {self.target}: {error}") from error

    def close(self, keep: bool) -> None:
        try:
            if keep:
                self.container.mux(self.stream.encode())
            self.container.close()
            if keep:
                self.partial.replace(self.target)
        except (av.error.FFmpegError, OSError) as error:
            raise VideoError(f"cannot write annotated video {self.target}: {error}") from error
        finally:
            self.partial.unlink(missing_ok=True)


def _frames(
    container: av.container.InputContainer, path: Path, start_s: float = 0.0
) -> Iterator[tuple[int, float, av.VideoFrame]]:
    """(index, seconds from the first frame, frame); decoding errors become ``VideoError``.

    With ``start_s`` decoding seeks to a keyframe a little before it (so the caller also sees
    the frame before ``start_s``); indices then come from timestamps, as the frames skipped
    were never counted (exact at a constant frame rate). If the seek lands past ``start_s``
    the video is decoded from its start instead, so no frame is ever lost.
    """
    stream = container.streams.video[0]
    fps = float(stream.average_rate or 25)
    time_s = 0.0
    try:
        decoded = container.decode(stream)
        head = next(decoded, None)
        if head is None:
            return
        first = float(head.time) if head.time is not None else 0.0
        first_pts, counted = head.pts, True
        target = start_s - 2 / fps
        if target > 0 and head.time is not None:
            container.seek(int((first + target) / stream.time_base), stream=stream)
            decoded = container.decode(stream)
            head = next(decoded, None)
            counted = head is None or head.time is None or float(head.time) - first >= start_s
            if counted:  # no frame before start_s: the seek overshot (or found nothing)
                container.seek(first_pts, stream=stream)
                decoded = container.decode(stream)
                head = next(decoded, None)
        for index, frame in enumerate(itertools.chain([] if head is None else [head], decoded)):
            stamp = float(frame.time) if frame.time is not None else first + index / fps
            time_s = stamp - first
            yield (index if counted else round(time_s * fps)), time_s, frame
    except av.error.FFmpegError as error:
        raise VideoError(f"{path} could not be decoded past {time_s:.2f} s: {error}") from error


def analyze_video(
    path: str | os.PathLike[str],
    sample_fps: float | None = None,
    progress: Callable[[float], None] | None = None,
    analyzer: FrameAnalyzer | None = None,
    annotated_path: str | os.PathLike[str] | None = None,
    blur: bool = False,
    bucket_s: float = 1.0,
    start_s: float = 0.0,
    end_s: float | None = None,
    warmup_s: float = 0.0,
    lookahead_s: float = 0.0,
) -> VideoAnalysis:
    """Analyze ``path``: all frames, or the first frame of every 1/``sample_fps`` seconds.

    ``progress(fraction)`` is called as decoding advances. With ``annotated_path`` an MP4
    with boxes, ids and emotions is written; frames between samples show the latest result.
    With ``blur`` every face in every written frame is blurred, each frame searched afresh
    (``FrameAnalyzer.annotate``), so a face that moved or arrived since the last sample is
    too; that costs a full search per written frame. The per-face table holds people only:
    every row of each track that was confirmed at some point (``fer_core.tracking``), none of
    a detection that never was. A video without faces gives empty, well-formed tables; a
    missing, corrupt or truncated one raises ``VideoError``.

    ``start_s`` / ``end_s`` analyze only the frames in ``[start_s, end_s)`` (times stay on
    the video's clock), so consecutive windows of a long video analyze exactly the frames
    and samples one whole run would; tracking and smoothing restart at ``start_s``, and the
    summary covers the window. ``warmup_s`` starts tracking that much earlier: those frames
    are analyzed (so the people in view at ``start_s`` are already known) but neither
    written, counted nor summarized; their people's rows come back as ``warmup_faces``.
    ``lookahead_s`` goes on tracking that long past ``end_s`` without recording, so a person
    who arrived just before ``end_s`` is confirmed as one whole run would confirm them.
    """
    if sample_fps is not None and not 0 < sample_fps < math.inf:  # also refuses NaN
        raise ValueError(f"sample_fps must be a finite number > 0, got {sample_fps!r}")
    if start_s < 0 or (end_s is not None and end_s <= start_s):
        raise ValueError(f"need 0 <= start_s < end_s, got start_s={start_s}, end_s={end_s}")
    for name, value in (("warmup_s", warmup_s), ("lookahead_s", lookahead_s)):
        if not 0 <= value < math.inf:
            raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value}")
    warm_from = max(start_s - warmup_s, 0.0)
    path = Path(path)
    # Searches in the calling thread by default: the same video gives the same output.
    analyzer = analyzer or FrameAnalyzer(background_search=False)
    if set(analyzer.classes) != set(CLASSES):
        raise VideoError(f"the model's classes {analyzer.classes} are not {CLASSES}")
    analyzer.reset()
    container = _open(path)
    start = time.perf_counter()
    rows: list[dict] = []
    times: list[float] = []
    warmup_rows: list[dict] = []
    warmup_frames = 0
    writer: _AnnotatedWriter | None = None
    completed = False
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = _duration_s(container, stream)
        fps = float(stream.average_rate or 25)
        faces: list[Face] = []
        previous: float | None = None  # time of the frame decoded before, for sampling
        last_time: float | None = None
        stop = duration if end_s is None else min(duration, end_s)
        for index, time_s, frame in _frames(container, path, warm_from):
            last_time = time_s
            if time_s + 1e-6 < warm_from:  # decoded on the way from the keyframe
                previous = time_s
                continue
            if end_s is not None and time_s + 1e-6 >= end_s + lookahead_s:
                break
            # The first frame of each 1/sample_fps interval, whatever frame came before.
            sampled = (
                sample_fps is None
                or previous is None
                or math.floor(time_s * sample_fps + 1e-6) > math.floor(previous * sample_fps + 1e-6)
            )
            previous = time_s
            image = None
            warming = time_s + 1e-6 < start_s
            outside = warming or (end_s is not None and time_s + 1e-6 >= end_s)
            if sampled:
                image = frame.to_ndarray(format="bgr24")
                faces = analyzer.analyze(image, time_s)
                found = face_rows(faces, analyzer.classes, time_s, index)
                if warming:
                    warmup_rows += found
                    warmup_frames += 1
                if outside:
                    continue
                rows += found
                times.append(time_s)
            elif outside:
                continue
            if annotated_path is not None:
                image = frame.to_ndarray(format="bgr24") if image is None else image
                if writer is None:
                    rate = stream.average_rate or Fraction(25)
                    writer = _AnnotatedWriter(Path(annotated_path), frame.width, frame.height, rate)
                writer.write(analyzer.annotate(image, faces, blur=blur))
            if progress is not None and stop > start_s:
                progress(min((time_s - start_s) / (stop - start_s), 1.0))
        if last_time is None:
            raise VideoError(f"{path} holds no decodable video frames")
        missing_s = stop - (last_time + 1 / fps)
        if missing_s > max(0.5, 0.05 * duration):
            raise VideoError(
                f"{path} is truncated: frames stop at {last_time:.2f} s of {duration:.2f} s"
            )
        completed = True
    finally:
        container.close()
        if writer is not None:
            writer.close(keep=completed)
    if progress is not None:
        progress(1.0)

    if len(times) + warmup_frames > 1:  # people, not detections; a photo counts every face
        analyzer.flush()
        people = analyzer.tracker.confirmed_ids
        rows = [row for row in rows if row["track_id"] in people]
        warmup_rows = [row for row in warmup_rows if row["track_id"] in people]
    table = _face_table(rows)
    frame_times = np.asarray(times)
    elapsed = time.perf_counter() - start
    end = max(duration, last_time)
    length = max((end if end_s is None else min(end, end_s)) - start_s, 0.0)
    summary = analytics.summarize(table, frame_times, bucket_s, duration_s=length)
    summary |= {
        "source": path.name,
        "width": stream.width,
        "height": stream.height,
        "fps": fps,
        "sample_fps": sample_fps,
        "processing_s": elapsed,
        "speed_x_realtime": length / elapsed if elapsed > 0 else None,
    }
    return VideoAnalysis(
        faces=table,
        timeline=analytics.timeline(table, frame_times, bucket_s),
        summary=summary,
        annotated_path=Path(annotated_path) if annotated_path is not None else None,
        frame_times=frame_times,
        warmup_faces=_face_table(warmup_rows) if warmup_s else None,
    )


def _face_table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(FACE_COLUMNS)).astype(_FACE_DTYPES)
