"""A live stream's state, shared between the video callback thread and the page that shows it.

``LiveRecord`` keeps what a stream has shown so far: the page polls ``snapshot`` for the
figures and charts, and ``save`` writes the rows not yet in the session store, forgetting them
only once the write returns (a locked database must not lose them). Everything shared sits
behind one lock and is bounded: the snapshot's rows older than ``history_s`` are dropped and
the summary comes from running totals, so a stream that is saved as it goes can run for hours
in fixed memory. The session store keeps the whole stream's per-second timeline and summary,
and of the per-face rows each track's first reading in each second (``bucket_s``): at 15
frames a second that is a fifteenth of the rows, so a 3-hour stream of 50 faces stores about
540,000 of them rather than 8 million, while every person's course stays in the record.
``LiveMonitor`` analyzes every
frame with a ``FrameAnalyzer`` in this process; the callback thread calls ``process`` (or
``callback`` with ``av.VideoFrame`` objects, as streamlit-webrtc does).
``fer_core.workers.LiveWorker`` offers the same surface with the analyzer in a worker process.
``SessionRecorder`` saves a stream into the session store from its own thread, whatever
page shows it, and closes the session however the stream ends; it raises alerts on the
timeline as it grows and marks segments live. This module itself never
imports TensorFlow.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import av
import numpy as np
import pandas as pd

from fer_core import analytics
from fer_core.analytics import FACE_COLUMNS
from fer_core.events.alerts import DEFAULT_RULES, Alert, AlertMonitor, AlertRule
from fer_core.events.segments import Segment
from fer_core.faces import Face, face_rows
from fer_core.labels import CLASSES

if TYPE_CHECKING:
    from fer_core.analyzer import FrameAnalyzer
    from fer_core.sessions import SessionStore

SAVE_EVERY_S = 5.0  # how often a recorded stream is written, and its session's heartbeat
FINAL_SAVE_TRIES = 60  # a stream that ended: tries, SAVE_EVERY_S apart, to save and close it


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
    #: The share of the latest frame's faces with a head pose that face the stage.
    attention: float | None = None

    @property
    def classified_share(self) -> float | None:
        """The share of the faces in view that the emotion figures stand for."""
        return self.faces_classified / self.faces_in_view if self.faces_in_view else None


class LiveRecord:
    """The analyzed frames of one stream; thread-safe.

    Apart from the analysis, so one record serves an analyzer in this process or in a worker.
    ``classes`` is the order of every face's probabilities. The snapshot's history is bounded
    to ``history_s``; the summary covers the whole stream from running totals. Rows not yet
    saved stay until ``save`` has written them, however long the store refuses them.
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
        self._save_lock = threading.Lock()  # one save at a time: each row is written once
        # The retained history, one entry per frame: its time, and its people's track ids,
        # probabilities and attention (1, 0 or NaN) as arrays (a tenth of the memory of rows:
        # 50 faces, 10 minutes at 15 frames a second are 450,000 of them).
        self._frame_times: deque[float] = deque()
        self._history: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque()
        self._last_faces: list[Face] = []
        self._start: float | None = None
        self._frames = 0
        self._faces_seen = 0
        self._totals = analytics.RunningSummary(bucket_s)
        # The tracks whose row the store keeps for the bucket of the latest frame.
        self._kept_bucket: float | None = None
        self._kept: set[int] = set()
        # Not yet saved: face rows to keep, and the rows and frame times of every bucket from the
        # oldest one not saved whole (the one being filled when the last save was written).
        self._unsaved_rows: list[dict] = []
        self._open_rows: list[dict] = []
        self._open_frames: list[float] = []
        self._changed = 0  # frames added since the last successful save
        self._generation = 0  # bumped by reset: a save begun before it forgets nothing after

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
            self._frame_times.append(elapsed)
            self._history.append(
                (
                    np.array([f.track_id for f in people], int),
                    np.array([f.probs for f in people], float).reshape(-1, len(self.classes)),
                    np.array([row["attending"] for row in rows], float),
                )
            )
            self._unsaved_rows.extend(self._to_keep(elapsed, rows))
            self._open_rows.extend(rows)
            self._open_frames.append(elapsed)
            self._changed += 1
            self._totals.add(elapsed, rows)
            self._last_faces = faces
            self._faces_seen = max(self._faces_seen, faces_seen)
            self._forget_before(elapsed - self.history_s)

    @property
    def generation(self) -> int:
        """Counts resets: a new stream in the same record has a new generation."""
        return self._generation

    @property
    def last_faces(self) -> list[Face]:
        """The faces of the latest recorded frame."""
        with self._lock:
            return list(self._last_faces)

    def snapshot(self) -> LiveSnapshot:
        """Figures and the per-second timeline of the retained history."""
        with self._lock:  # copy only: the callback thread waits while the lock is held
            history = list(self._history)
            frame_times = np.fromiter(self._frame_times, float)
            last = [f for f in self._last_faces if f.confirmed]  # people, not detections
            frames, faces_seen = self._frames, self._faces_seen
        faces = self._history_table(frame_times, history)
        elapsed = float(frame_times[-1]) if len(frame_times) else 0.0
        recent = frame_times[frame_times > elapsed - 2.0]
        fps = (len(recent) - 1) / np.ptp(recent) if len(recent) > 1 and np.ptp(recent) else 0.0
        classified = [f.probs for f in last if f.classified]
        posed = [f.attending for f in last if f.attending is not None]
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
            attention=float(np.mean(posed)) if posed else None,
        )

    def unsaved(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per-face rows to keep not yet saved (a track's first in each bucket), and the
        timeline buckets added or changed since the last save; both empty when nothing was
        added since. Reading them forgets nothing."""
        with self._lock:
            return self._unsaved()

    def save(self, write: Callable[[pd.DataFrame, pd.DataFrame], object]) -> int:
        """Hand ``unsaved()`` to ``write(faces, timeline)``; forget it only once that returns.

        If ``write`` raises, nothing is forgotten and the next save hands it over again, with
        what came meanwhile. Returns how many face rows were written.
        """
        with self._save_lock:
            with self._lock:
                faces, timeline = self._unsaved()
                changed, generation = self._changed, self._generation
                if not changed:
                    return 0
                last_bucket = self._bucket(max(self._open_frames))
            write(faces, timeline)
            with self._lock:
                if generation != self._generation:  # reset meanwhile: a new stream's rows
                    return len(faces)
                del self._unsaved_rows[: len(faces)]
                self._changed -= changed
                # The last bucket written may still grow: it is written again, whole.
                self._open_rows = [
                    row for row in self._open_rows if self._bucket(row["time_s"]) >= last_bucket
                ]
                self._open_frames = [t for t in self._open_frames if self._bucket(t) >= last_bucket]
            return len(faces)

    def summary(self) -> dict:
        """The summary of the whole stream (``analytics.summarize`` over every row)."""
        with self._lock:
            summary = self._totals.summary()
            summary["faces_seen"] = self._faces_seen  # the analyzer's count of people
        return summary

    def reset(self) -> None:
        """Forget everything: a new stream starts."""
        with self._lock:
            self._frame_times.clear()
            self._history.clear()
            self._unsaved_rows, self._open_rows, self._open_frames = [], [], []
            self._kept_bucket, self._kept = None, set()
            self._changed = 0
            self._generation += 1
            self._totals = analytics.RunningSummary(self.bucket_s)
            self._last_faces, self._start, self._frames, self._faces_seen = [], None, 0, 0

    def _unsaved(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        faces = self._table(self._unsaved_rows)
        if not self._changed:
            return faces, analytics.timeline(faces, [], self.bucket_s)
        window = self._table(self._open_rows)
        return faces, analytics.timeline(window, self._open_frames, self.bucket_s)

    def _to_keep(self, elapsed: float, rows: list[dict]) -> list[dict]:
        """The rows of the frame at ``elapsed`` that the store keeps: each track's first in
        its bucket (the timeline and summary count every row)."""
        bucket = self._bucket(elapsed)
        if bucket != self._kept_bucket:
            self._kept_bucket, self._kept = bucket, set()
        kept = [row for row in rows if row["track_id"] not in self._kept]
        self._kept.update(row["track_id"] for row in kept)
        return kept

    def _bucket(self, time_s: float) -> float:
        return float(np.floor(time_s / self.bucket_s + 1e-9) * self.bucket_s)

    def _forget_before(self, cutoff: float) -> None:
        while self._frame_times and self._frame_times[0] < cutoff:
            self._frame_times.popleft()
            self._history.popleft()

    def _history_table(
        self,
        frame_times: np.ndarray,
        history: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    ) -> pd.DataFrame:
        """The retained faces, with the columns ``analytics.timeline`` reads."""
        counts = [len(tracks) for tracks, _, _ in history]
        empty = (np.empty(0, int), np.empty((0, len(self.classes))), np.empty(0))
        tracks, probs, looks = (np.concatenate(part) for part in zip(empty, *history, strict=True))
        table = pd.DataFrame(probs, columns=list(self.classes))
        table.insert(0, "time_s", np.repeat(frame_times, counts))
        table.insert(1, "track_id", tracks)
        table["attending"] = looks
        return table

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
        """Per-face rows not yet saved and the timeline buckets they touched."""
        return self.record.unsaved()

    def save(self, write: Callable[[pd.DataFrame, pd.DataFrame], object]) -> int:
        """Write what is unsaved with ``write(faces, timeline)``; kept if that raises."""
        return self.record.save(write)

    def summary(self) -> dict:
        """The summary of the whole stream."""
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
        # A stream counts confirmed people only: its first frame is no photo, and a face one
        # search found may be no one (the record keeps the most it was told).
        self.record.add(elapsed, faces, self.analyzer.tracker.faces_seen)
        return self.analyzer.annotate(frame_bgr, faces, blur=self.blur)

    def callback(self, frame: av.VideoFrame) -> av.VideoFrame:
        """streamlit-webrtc's ``video_frame_callback``: frame in, annotated frame out."""
        return replace_image(frame, self.process(frame.to_ndarray(format="bgr24")))

    def reset(self) -> None:
        """Forget everything: a new stream starts."""
        self.analyzer.reset()
        self.record.reset()


class SessionRecorder:
    """Saves live streams into sessions from its own thread: saving belongs to the stream, not
    to the page showing it, which a closed tab, a lost connection or a rerun can stop.

    ``start`` opens a session; every ``every_s`` the thread writes what is new with the summary
    so far, which is also the session's heartbeat. The session is finished with the whole
    stream's summary however the stream ends: ``stop`` (STOP, a closed tab, a lost connection),
    the stream being dropped, or this process exiting. A process killed outright stops
    beating, and ``SessionStore.close_abandoned`` closes its session as interrupted. Rows the
    database refuses stay in the stream's record and are written by a later try; ``error``
    says why the latest write failed.
    """

    def __init__(
        self,
        store: SessionStore,
        every_s: float = SAVE_EVERY_S,
        rules: Sequence[AlertRule] = DEFAULT_RULES,
    ) -> None:
        self.store = store
        self.every_s = every_s
        self.rules = tuple(rules)
        self._lock = threading.Lock()  # guards the five below: start and stop may race
        self._session_id: int | None = None
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._recorded: LiveRecord | None = None  # the record of the stream being saved
        self._alerts: list[Alert] = []
        self._error: str | None = None

    @property
    def session_id(self) -> int | None:
        """The session being recorded, or None between streams."""
        return self._session_id

    @property
    def error(self) -> str | None:
        """Why the latest write failed, until one succeeds; None when all is saved."""
        return self._error

    @property
    def alerts(self) -> list[Alert]:
        """The alerts raised on the stream being recorded (or the last one), in time order."""
        with self._lock:
            return list(self._alerts)

    def next_segment(self, title: str = "") -> Segment:
        """ "Next segment": the current segment ends now and a new one, named ``title`` (or
        numbered), starts at the stream's present second."""
        with self._lock:
            session_id, record = self._session_id, self._recorded
        if session_id is None or record is None:
            raise RuntimeError("no stream is being recorded")
        return self.store.start_segment(session_id, record.elapsed(), title)

    def start(self, stream: RecordedStream, name: str, settings: dict | None = None) -> int:
        """Open a session for ``stream`` (stopping any recorded before) and save it as it goes."""
        self.stop()
        session_id = self.store.create(name, "live", settings)
        stop = threading.Event()
        thread = threading.Thread(
            target=self._record,
            args=(stream.record, weakref.ref(stream), session_id, stop, stream.record.generation),
            name=f"fer-session-{session_id}",
            daemon=True,
        )
        with self._lock:
            self._session_id, self._stop, self._thread = session_id, stop, thread
            self._recorded, self._alerts, self._error = stream.record, [], None
        atexit.register(self.stop)
        thread.start()
        return session_id

    def stop(self, wait_s: float = 10.0) -> bool:
        """The stream ended: save the rest and finish the session. True once it is finished
        within ``wait_s``; otherwise the thread goes on trying (``error`` says why)."""
        with self._lock:
            stop, thread = self._stop, self._thread
            self._session_id = self._stop = self._thread = self._recorded = None
        if thread is None:
            return self._error is None
        atexit.unregister(self.stop)
        stop.set()
        thread.join(wait_s)
        return not thread.is_alive() and self._error is None

    def _record(
        self,
        record: LiveRecord,
        stream: weakref.ref[RecordedStream],
        session_id: int,
        stop: threading.Event,
        generation: int,
    ) -> None:
        """The thread: save every ``every_s`` until the stream ends, then save and finish;
        alerts are raised on the timeline as it grows, and stored as they come."""
        monitor = AlertMonitor(self.rules)
        unsaved: list[Alert] = []  # raised, not yet stored: kept for the next try
        ended = False
        while not ended:
            ended = stop.wait(self.every_s) or stream() is None
            if record.generation != generation:  # its rows are gone; the new ones are not ours
                self._error = f"session {session_id}: the stream restarted before it was saved"
                return
            raised = monitor.update(record.snapshot().timeline)
            with self._lock:
                self._alerts.extend(raised)
            unsaved.extend(raised)
            tries = FINAL_SAVE_TRIES if ended else 1
            while not self._saved(record, session_id, unsaved, finish=ended):
                tries -= 1
                if not tries:
                    break
                time.sleep(self.every_s)

    def _saved(
        self, record: LiveRecord, session_id: int, alerts: list[Alert], finish: bool
    ) -> bool:
        """Write what is new with the summary so far (a heartbeat, even if nothing is new)
        and the ``alerts`` not yet stored (emptied once they are), and ``finish`` the
        session; False, with ``error`` set, if the database refused."""
        try:
            if alerts:
                self.store.add_alerts(session_id, alerts)
                alerts.clear()
            written = record.save(
                lambda faces, timeline: self.store.append(
                    session_id, faces, timeline, record.summary()
                )
            )
            if not written:
                self.store.append(session_id, summary=record.summary())
            if finish:
                self.store.finish(session_id, record.summary())
        except Exception as error:  # the database's errors: a later try writes the rows
            self._error = str(error)
            return False
        self._error = None
        return True
