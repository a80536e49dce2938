"""``Event``: one saved session (kind ``event``) watched by one or more cameras.

Each camera is read in its own thread and analyzed in its own worker process
(``fer_core.cameras.analysis``); every camera is timed on the event's clock, seconds since
the event started, so their timelines line up. The event's timeline combines them second by
second: faces in view summed, emotions and attention weighted by faces
(``fer_core.cameras.combine``). People seen by two cameras are counted twice.

The event saves itself from its own thread every few seconds, whatever page shows it (or
none): each camera's per-face rows, timeline and gaps, the combined timeline with the summary
so far (the session's heartbeat), and the alerts raised on the combined timeline. It ends at
``stop`` or at its end time, and is finished however it ends: ``stop``, the end time, or this
process exiting. A camera that drops keeps the event going: it reconnects, and the time
without frames is stored as its gap (no data, not "no faces"); the combined seconds in a gap
stand for the cameras that had data. Every camera is stored and shown by its masked name.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from fer_core.analytics import TIMELINE_COLUMNS
from fer_core.cameras.analysis import CameraView, CameraWorker, EventCamera
from fer_core.cameras.combine import (
    Peaks,
    combine_current,
    combine_summaries,
    combine_timelines,
)
from fer_core.cameras.errors import CameraUnreachableError
from fer_core.cameras.source import CameraSource
from fer_core.events.alerts import DEFAULT_RULES, Alert, AlertMonitor, AlertRule
from fer_core.events.segments import Segment
from fer_core.live import FINAL_SAVE_TRIES, SAVE_EVERY_S
from fer_core.redaction import mask_credentials
from fer_core.sessions import CameraGap, SessionStore


@dataclass(frozen=True)
class EventSnapshot:
    """What a page shows of an event at one moment. Figures of "now" count the cameras
    analyzed in the last couple of seconds; someone seen by two cameras counts twice."""

    elapsed_s: float
    faces_in_view: int  # summed over the cameras
    faces_classified: int
    current: dict[str, float] | None  # the faces in view now, weighted by each camera's faces
    attention: float | None
    #: The combined per-second timeline of the retained history (``COMBINED_COLUMNS``).
    timeline: pd.DataFrame = field(repr=False)
    #: Each camera's own timeline, by camera id.
    camera_timelines: dict[int, pd.DataFrame] = field(repr=False)
    cameras: list[CameraView] = field(repr=False)
    alerts: list[Alert] = field(repr=False)


class Event:
    """An event with cameras, saved as one session of ``store``; thread-safe.

    ``analyzer_options`` are ``FrameAnalyzer``'s keyword arguments, for each camera's worker;
    ``camera_options`` are ``CameraSource``'s (``open_timeout_s``, ``read_timeout_s``, ...).
    It ends at ``end_at`` or ``duration_s`` after ``start`` (at most one of them), or at
    ``stop``. Cameras may be added before ``start`` and while it runs.
    """

    def __init__(
        self,
        store: SessionStore,
        name: str,
        analyzer_options: Mapping[str, Any] | None = None,
        *,
        blur: bool = False,
        end_at: datetime | None = None,
        duration_s: float | None = None,
        camera_options: Mapping[str, Any] | None = None,
        every_s: float = SAVE_EVERY_S,
        rules: Sequence[AlertRule] = DEFAULT_RULES,
        history_s: float = 600.0,
    ) -> None:
        if not name.strip():
            raise ValueError("an event needs a name")
        if end_at is not None and duration_s is not None:
            raise ValueError("give the event an end time or a duration, not both")
        if duration_s is not None and not duration_s > 0:
            raise ValueError(f"duration_s must be positive, got {duration_s!r}")
        self.store = store
        self.name = name.strip()
        self.analyzer_options = dict(analyzer_options or {})
        self.blur = blur
        self.end_at, self.duration_s = end_at, duration_s
        self.camera_options = dict(camera_options or {})
        self.every_s = every_s
        self.rules = tuple(rules)
        self.history_s = history_s
        self._lock = threading.Lock()  # guards the cameras, the alerts and the state below
        self._waiting: dict[int, CameraSource] = {}  # added before start
        self._cameras: dict[int, EventCamera] = {}
        self._next_id = 1
        self._origin: float | None = None  # time.time() at start
        self._deadline: float | None = None
        self._ended_at: float | None = None
        self._session_id: int | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ended = threading.Event()
        self._alerts: list[Alert] = []
        self._error: str | None = None
        # The saving thread's own: combined seconds to write, peaks, what is stored already.
        self._pending: set[float] = set()
        self._peaks = Peaks()
        self._saved_gaps: dict[int, list[CameraGap]] = {}
        self._saved_removal: set[int] = set()

    @property
    def session_id(self) -> int | None:
        """The event's session, once started."""
        return self._session_id

    @property
    def running(self) -> bool:
        """Started and not ended yet."""
        return self._thread is not None and not self._ended.is_set()

    @property
    def error(self) -> str | None:
        """Why the latest save failed, until one succeeds."""
        return self._error

    @property
    def alerts(self) -> list[Alert]:
        """The alerts raised on the combined timeline, in time order."""
        with self._lock:
            return list(self._alerts)

    @property
    def elapsed_s(self) -> float:
        """Seconds since the event started (its whole length once it ended); 0 before."""
        if self._origin is None:
            return 0.0
        return (self._ended_at or time.time()) - self._origin

    @property
    def cameras(self) -> list[CameraView]:
        """Every camera of the event, by id, including those that failed or were removed."""
        now_s = self.elapsed_s
        return [camera.view(now_s) for camera in self._all_cameras()]

    def add_camera(
        self, source: str | os.PathLike[str], options: Mapping[str, str] | None = None
    ) -> int:
        """Add a camera (URL or device; ``options`` for FFmpeg) and return its id; it starts
        at once if the event runs. A wrong address raises ``UnsupportedCameraError`` or
        ``CameraNotFoundError`` here; a camera that never answers shows ``failed`` within
        its open timeout."""
        camera = CameraSource(source, options=options, **self.camera_options)
        with self._lock:
            if self._stopping.is_set():
                raise RuntimeError(f"the event {self.name!r} has ended")
            camera_id, self._next_id = self._next_id, self._next_id + 1
            if self._session_id is None:
                self._waiting[camera_id] = camera
                return camera_id
        self._open(camera_id, camera, self.elapsed_s)
        return camera_id

    def remove_camera(self, camera_id: int) -> None:
        """Stop a camera; what it recorded stays in the event."""
        with self._lock:
            if self._waiting.pop(camera_id, None) is not None:
                return
            camera = self._cameras.get(camera_id)
            if camera is None:
                raise KeyError(f"the event has no camera {camera_id}")
            if camera.removed_s is not None:
                return
            camera.removed_s = self.elapsed_s
        camera.stop()

    def start(self) -> int:
        """Open the event's session, start its cameras and save it as it goes; its id."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError(f"the event {self.name!r} has already started")
            waiting, self._waiting = self._waiting, {}
            origin = time.time()
            settings = {
                "cameras": [camera.name for camera in waiting.values()],
                "analyzer": self.analyzer_options,
                "blur": self.blur,
                "end_at": None if self.end_at is None else self.end_at.isoformat(),
                "duration_s": self.duration_s,
            }
            started = datetime.fromtimestamp(origin, UTC)
            session_id = self.store.create(self.name, "event", settings, started_at=started)
            self._origin, self._session_id = origin, session_id
            if self.duration_s is not None:
                self._deadline = origin + self.duration_s
            elif self.end_at is not None:
                self._deadline = self.end_at.timestamp()
            self._thread = threading.Thread(
                target=self._run, name=f"fer-event-{session_id}", daemon=True
            )
        for camera_id, camera in waiting.items():
            self._open(camera_id, camera, 0.0)
        atexit.register(self.stop)
        self._thread.start()
        return session_id

    def stop(self, wait_s: float = 30.0) -> bool:
        """End the event: stop the cameras, save the rest and finish the session. True once
        it is finished within ``wait_s``; otherwise the thread goes on trying."""
        self._stopping.set()
        thread = self._thread
        if thread is None:
            return True
        atexit.unregister(self.stop)
        thread.join(wait_s)
        return not thread.is_alive() and self._error is None

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until the event has ended and is saved; whether it has."""
        return self._ended.wait(timeout_s)

    def wait_connected(self, timeout_s: float) -> dict[int, str]:
        """Wait up to ``timeout_s`` for every camera's first frame; the cameras that sent
        none (failed, or still connecting), by id, with why."""
        deadline = time.monotonic() + timeout_s
        failed = {}
        for camera in self._all_cameras():
            try:
                camera.source.wait_connected(max(deadline - time.monotonic(), 0.0))
            except CameraUnreachableError as error:
                failed[camera.id] = str(error)
        return failed

    def next_segment(self, title: str = "") -> Segment:
        """The current segment ends now and a new one, ``title`` (or numbered), starts."""
        if self._session_id is None:
            raise RuntimeError(f"the event {self.name!r} has not started")
        return self.store.start_segment(self._session_id, self.elapsed_s, title)

    def snapshot(self) -> EventSnapshot:
        """The combined figures and timeline, and each camera's."""
        now_s = self.elapsed_s
        cameras = self._all_cameras()
        snapshots = {camera.id: camera.record.snapshot() for camera in cameras}
        now = [snapshots[camera.id] for camera in cameras if camera.fresh(now_s)]
        current, attention = combine_current(
            [(s.faces_in_view, s.faces_classified, s.current, s.attention) for s in now]
        )
        timelines = {camera_id: snapshot.timeline for camera_id, snapshot in snapshots.items()}
        return EventSnapshot(
            elapsed_s=now_s,
            faces_in_view=sum(s.faces_in_view for s in now),
            faces_classified=sum(s.faces_classified for s in now),
            current=current,
            attention=attention,
            timeline=combine_timelines(timelines),
            camera_timelines=timelines,
            cameras=[camera.view(now_s) for camera in cameras],
            alerts=self.alerts,
        )

    def _all_cameras(self) -> list[EventCamera]:
        with self._lock:
            return [self._cameras[camera_id] for camera_id in sorted(self._cameras)]

    def _open(self, camera_id: int, source: CameraSource, added_s: float) -> None:
        """Store the camera with the session and start it."""
        worker = CameraWorker(
            self._origin,
            self.analyzer_options,
            self.blur,
            self.history_s,
            name=f"camera {source.name}",
        )
        camera = EventCamera(camera_id, source, worker, added_s)
        self.store.add_camera(self._session_id, camera_id, source.name, source.kind, added_s)
        with self._lock:
            if self._stopping.is_set():  # the event ended meanwhile
                return
            self._cameras[camera_id] = camera
        camera.start()

    def _run(self) -> None:
        """The saving thread: save every ``every_s`` until the event ends, then stop the
        cameras, save the rest and finish the session."""
        monitor = AlertMonitor(self.rules)
        unsaved: list[Alert] = []  # raised, not yet stored: kept for the next try
        ended = False
        while not ended:
            ended = self._stopping.wait(self._until_next_save()) or self._past_end()
            if ended:
                with self._lock:  # no camera starts after this
                    self._stopping.set()
                self._stop_cameras()
                self._ended_at = time.time()
            tries = FINAL_SAVE_TRIES if ended else 1
            while not self._saved(monitor, unsaved, finish=ended):
                tries -= 1
                if not tries:
                    break
                time.sleep(self.every_s)
        self._ended.set()

    def _until_next_save(self) -> float:
        if self._deadline is None:
            return self.every_s
        return min(self.every_s, max(self._deadline - time.time(), 0.0))

    def _past_end(self) -> bool:
        return self._deadline is not None and time.time() >= self._deadline

    def _stop_cameras(self) -> None:
        """Stop every camera at once: each waits for its reader and its worker."""
        stopping = [
            threading.Thread(target=camera.stop, daemon=True)
            for camera in self._all_cameras()
            if camera.removed_s is None
        ]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()

    def _saved(self, monitor: AlertMonitor, alerts: list[Alert], finish: bool) -> bool:
        """Write each camera's new rows and gaps, then the combined seconds they touched with
        the summary so far (the heartbeat), and the ``alerts`` not yet stored (emptied once
        they are); ``finish`` the session. False, with ``error`` set, if the database
        refused: what was not written is written by a later try."""
        session_id = self._session_id
        try:
            cameras = self._all_cameras()
            for camera in cameras:
                self._save_camera(session_id, camera)
            combined = combine_timelines(
                {camera.id: camera.record.snapshot().timeline for camera in cameras}
            )
            raised = monitor.update(combined)
            with self._lock:
                self._alerts.extend(raised)
            alerts.extend(raised)
            if alerts:
                self.store.add_alerts(session_id, alerts)
                alerts.clear()
            rows = combined[combined["time_s"].isin(self._pending)]
            self._peaks.update(rows)
            summary = combine_summaries(
                [camera.record.summary() for camera in cameras], self.elapsed_s
            )
            summary.update(self._peaks.peaks())
            self.store.append(session_id, timeline=rows[list(TIMELINE_COLUMNS)], summary=summary)
            self._pending.clear()
            if finish:
                self.store.finish(session_id, summary)
        except Exception as error:  # the database's errors: a later try writes the rows
            self._error = mask_credentials(error)
            return False
        self._error = None
        return True

    def _save_camera(self, session_id: int, camera: EventCamera) -> None:
        """One camera's new rows with its summary, its removal, and its gaps if they changed;
        the seconds it touched wait in ``_pending`` for the combined timeline."""
        record = camera.record

        def write(faces: pd.DataFrame, timeline: pd.DataFrame) -> None:
            self.store.append_camera(
                session_id, camera.id, faces, timeline, record.summary(), camera.removed_s
            )
            self._pending.update(timeline["time_s"].tolist())

        record.save(write)
        if camera.removed_s is not None and camera.id not in self._saved_removal:
            self.store.append_camera(
                session_id, camera.id, summary=record.summary(), removed_s=camera.removed_s
            )
            self._saved_removal.add(camera.id)
        gaps = camera.gaps()
        if gaps != self._saved_gaps.get(camera.id, []):
            self.store.set_gaps(session_id, camera.id, gaps)
            self._saved_gaps[camera.id] = gaps
