"""A live stream's state, shared between the video callback thread and the page that shows it.

``LiveRecord`` keeps what a stream has shown so far: the page polls ``snapshot`` for the
figures and charts, and ``unsaved`` hands the rows not yet written to the session store.
Everything shared sits behind one lock and is bounded: per-face rows older than ``history_s``
are dropped, so a stream can run for hours in fixed memory (the session store keeps the full
record). ``LiveMonitor`` analyzes every frame with a ``FrameAnalyzer`` in this process; the
callback thread calls ``process`` (or ``callback`` with ``av.VideoFrame`` objects, as
streamlit-webrtc does). ``fer_core.workers.LiveWorker`` offers the same surface with the
analyzer in a worker process. This module itself never imports TensorFlow.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import av
import numpy as np
import pandas as pd

from fer_core import analytics
from fer_core.analytics import FACE_COLUMNS
from fer_core.faces import Face, face_rows
from fer_core.labels import CLASSES

if TYPE_CHECKING:
    from fer_core.analyzer import FrameAnalyzer


@dataclass(frozen=True)
class LiveSnapshot:
    """What the page shows at one moment."""

    frames: int
    elapsed_s: float
    fps: float
    faces_in_view: int
    faces_seen: int
    current: dict[str, float] | None
    timeline: pd.DataFrame = field(repr=False)
    #: Faces of the latest frame large enough to read: what ``current`` stands for.
    faces_classified: int = 0

    @property
    def classified_share(self) -> float | None:
        """The share of the faces in view that the emotion figures stand for."""
        return self.faces_classified / self.faces_in_view if self.faces_in_view else None


class LiveRecord:
    """The analyzed frames of one stream, bounded to ``history_s``; thread-safe.

    Apart from the analysis, so one record serves an analyzer in this process or in a worker.
    ``classes`` is the order of every face's probabilities.
    """

    def __init__(
        self,
        classes: Sequence[str],
        history_s: float = 600.0,
        bucket_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if set(classes) != set(CLASSES):
            raise ValueError(f"the model's classes {tuple(classes)} are not {CLASSES}")
        self.classes = tuple(classes)
        self.history_s = history_s
        self.bucket_s = bucket_s
        self._clock = clock
        self._lock = threading.Lock()
        self._rows: deque[dict] = deque()
        self._frame_times: deque[float] = deque()
        self._unsaved_rows: list[dict] = []
        self._unsaved_from: float | None = None  # earliest bucket touched since the last save
        self._last_faces: list[Face] = []
        self._start: float | None = None
        self._frames = 0
        self._faces_seen = 0

    def elapsed(self) -> float:
        """Seconds since the stream's first frame; the first call starts the clock."""
        with self._lock:
            now = self._clock()
            if self._start is None:
                self._start = now
            return now - self._start

    def add(self, elapsed: float, faces: list[Face], faces_seen: int) -> None:
        """Record the faces of the frame taken at ``elapsed`` (from ``elapsed()``), and the
        analyzer's count of distinct faces so far."""
        with self._lock:
            self._frames += 1
            people = [f for f in faces if f.confirmed]  # a tentative face may be no one
            rows = face_rows(people, self.classes, elapsed, self._frames - 1)
            self._rows.extend(rows)
            self._frame_times.append(elapsed)
            self._unsaved_rows.extend(rows)
            if self._unsaved_from is None:
                self._unsaved_from = elapsed
            self._last_faces = faces
            self._faces_seen = max(self._faces_seen, faces_seen)
            self._forget_before(elapsed - self.history_s)

    @property
    def last_faces(self) -> list[Face]:
        """The faces of the latest recorded frame."""
        with self._lock:
            return list(self._last_faces)

    def snapshot(self) -> LiveSnapshot:
        """Figures and the per-second timeline of the retained history."""
        with self._lock:  # copy only: the callback thread waits while the lock is held
            rows = list(self._rows)
            frame_times = np.fromiter(self._frame_times, float)
            last = [f for f in self._last_faces if f.confirmed]  # people, not detections
            frames, faces_seen = self._frames, self._faces_seen
        faces = self._table(rows)
        elapsed = float(frame_times[-1]) if len(frame_times) else 0.0
        recent = frame_times[frame_times > elapsed - 2.0]
        fps = (len(recent) - 1) / np.ptp(recent) if len(recent) > 1 and np.ptp(recent) else 0.0
        classified = [f.probs for f in last if f.classified]
        current = None
        if classified:
            mean = np.mean(classified, axis=0)
            current = dict(zip(self.classes, (mean / mean.sum()).tolist(), strict=True))
        return LiveSnapshot(
            frames=frames,
            elapsed_s=elapsed,
            fps=float(fps),
            faces_in_view=len(last),
            faces_seen=faces_seen,
            current=current,
            timeline=analytics.timeline(faces, frame_times, self.bucket_s),
            faces_classified=len(classified),
        )

    def unsaved(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per-face rows and timeline buckets added or changed since the last call."""
        with self._lock:
            new_rows, since = self._unsaved_rows, self._unsaved_from
            self._unsaved_rows, self._unsaved_from = [], None
            if since is not None:
                first_bucket = np.floor(since / self.bucket_s + 1e-9) * self.bucket_s
                # Rows are in time order: only the touched buckets' tail is copied.
                window = list(
                    itertools.takewhile(
                        lambda row: row["time_s"] >= first_bucket, reversed(self._rows)
                    )
                )[::-1]
                frame_times = np.fromiter(self._frame_times, float)
        faces = self._table(new_rows)
        if since is None:
            return faces, analytics.timeline(faces, [], self.bucket_s)
        frame_times = frame_times[frame_times >= first_bucket]
        return faces, analytics.timeline(self._table(window), frame_times, self.bucket_s)

    def summary(self) -> dict:
        """The session summary over the retained history (the store has the whole run)."""
        with self._lock:
            rows = list(self._rows)
            frame_times = np.fromiter(self._frame_times, float)
            faces_seen = self._faces_seen
        summary = analytics.summarize(self._table(rows), frame_times, self.bucket_s)
        summary["faces_seen"] = faces_seen  # counts the whole run
        return summary

    def reset(self) -> None:
        """Forget everything: a new stream starts."""
        with self._lock:
            self._rows.clear()
            self._frame_times.clear()
            self._unsaved_rows, self._unsaved_from = [], None
            self._last_faces, self._start, self._frames, self._faces_seen = [], None, 0, 0

    def _forget_before(self, cutoff: float) -> None:
        while self._frame_times and self._frame_times[0] < cutoff:
            self._frame_times.popleft()
        while self._rows and self._rows[0]["time_s"] < cutoff:
            self._rows.popleft()

    @staticmethod
    def _table(rows) -> pd.DataFrame:
        return pd.DataFrame(list(rows), columns=list(FACE_COLUMNS))


def replace_image(frame: av.VideoFrame, image_bgr: np.ndarray) -> av.VideoFrame:
    """A new ``av.VideoFrame`` of ``image_bgr`` with ``frame``'s timing, for the callback."""
    out = av.VideoFrame.from_ndarray(image_bgr, format="bgr24")
    out.pts = frame.pts
    if frame.time_base is not None:  # frames made from arrays have none
        out.time_base = frame.time_base
    return out


class RecordedStream:
    """What a page reads of a stream, in this process or fed by a worker: its ``record``."""

    record: LiveRecord

    def snapshot(self) -> LiveSnapshot:
        """Figures and the per-second timeline of the retained history."""
        return self.record.snapshot()

    def unsaved(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per-face rows and timeline buckets added or changed since the last call."""
        return self.record.unsaved()

    def summary(self) -> dict:
        """The session summary over the retained history (the store has the whole run)."""
        return self.record.summary()


class LiveMonitor(RecordedStream):
    """Analyze, annotate and record the frames of one live stream in this process; thread-safe."""

    def __init__(
        self,
        analyzer: FrameAnalyzer,
        blur: bool = False,
        history_s: float = 600.0,
        bucket_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.analyzer = analyzer
        self.blur = blur  # read per frame, so the page can toggle it mid-stream
        self.record = LiveRecord(analyzer.classes, history_s, bucket_s, clock)

    @property
    def history_s(self) -> float:
        return self.record.history_s

    @property
    def bucket_s(self) -> float:
        return self.record.bucket_s

    def process(self, frame_bgr: np.ndarray) -> np.ndarray:
        """Analyze one BGR frame, record its faces and return it annotated."""
        elapsed = self.record.elapsed()
        faces = self.analyzer.analyze(frame_bgr, elapsed)  # the analyzer has its own lock
        self.record.add(elapsed, faces, self.analyzer.faces_seen)
        return self.analyzer.annotate(frame_bgr, faces, blur=self.blur)

    def callback(self, frame: av.VideoFrame) -> av.VideoFrame:
        """streamlit-webrtc's ``video_frame_callback``: frame in, annotated frame out."""
        return replace_image(frame, self.process(frame.to_ndarray(format="bgr24")))

    def reset(self) -> None:
        """Forget everything: a new stream starts."""
        self.analyzer.reset()
        self.record.reset()
