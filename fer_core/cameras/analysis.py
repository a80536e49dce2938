"""One camera of an event, analyzed: its newest frames handed to a worker process.

``EventCamera`` joins a ``CameraSource`` to a ``CameraWorker`` (a ``LiveWorker``: the model,
and TensorFlow, in a process of its own) with a pump thread: it takes the newest frame, hands
it to the worker (which analyzes one at a time and keeps only the newest waiting) and keeps
the frame that comes back, annotated, as the camera's preview. Nothing here depends on a page
being open. An event runs unattended for hours, so a worker that dies while analyzing (killed
for memory, a crash in a native library) is restarted after a wait that grows with each death
in a row; one that could not build its analyzer is not, since it would fail the same way.

Every camera of an event is timed on the event's clock: a frame's time is when it was
captured, in seconds since the event started (wall clock, as ``Frame.captured_at``), so the
cameras' timelines line up second by second. The same stamp gives each camera's latency:
from a frame's capture to its analysis coming back, under whatever load the machine has.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np

from fer_core.cameras.source import CameraSource
from fer_core.faces import Face
from fer_core.labels import CLASSES
from fer_core.live import LiveRecord
from fer_core.sessions import CameraGap
from fer_core.workers import LiveWorker

RECENT_S = 10.0  # latency and analyzed frames per second are measured over this last stretch
STALE_S = 2.0  # a camera analyzed longer ago than this has no faces "in view now"
PUMP_WAIT_S = 0.5  # how long the pump waits for a frame before it looks whether to stop


@dataclass(frozen=True)
class Latency:
    """Seconds from frames' capture to their analysis coming back, over the last
    ``RECENT_S``, and how many frames a second were analyzed."""

    mean_s: float
    max_s: float
    analyzed_fps: float


class CameraRecord(LiveRecord):
    """A ``LiveRecord`` on an event's clock: seconds since ``origin`` (the event's start,
    ``time.time()``); each frame is given its capture time on it, and its latency is measured
    when its analysis is recorded."""

    def __init__(self, origin: float, history_s: float = 600.0, bucket_s: float = 1.0) -> None:
        super().__init__(CLASSES, history_s, bucket_s, clock=time.time)
        self.origin = origin
        self._recent_lock = threading.Lock()
        self._recent: deque[tuple[float, float]] = deque()  # (analyzed at, latency), monotonic
        self.analyzed_s: float | None = None  # the event second of the latest analyzed frame

    def elapsed(self) -> float:
        """The present second of the event."""
        return time.time() - self.origin

    def add(self, elapsed: float, faces: list[Face], faces_seen: int) -> None:
        super().add(elapsed, faces, faces_seen)
        self.analyzed_s = elapsed
        latency = time.time() - self.origin - elapsed
        now = time.monotonic()
        with self._recent_lock:
            self._recent.append((now, latency))
            while self._recent[0][0] < now - RECENT_S:
                self._recent.popleft()

    def latency(self) -> Latency | None:
        """Over the last ``RECENT_S``; None when no frame was analyzed in it."""
        now = time.monotonic()
        with self._recent_lock:
            recent = [(at, latency) for at, latency in self._recent if at >= now - RECENT_S]
        if not recent:
            return None
        delays = [latency for _, latency in recent]
        span = recent[-1][0] - recent[0][0]
        fps = (len(recent) - 1) / span if span > 0 else 0.0
        return Latency(float(np.mean(delays)), max(delays), fps)

    def reset(self) -> None:
        super().reset()
        with self._recent_lock:
            self._recent.clear()
        self.analyzed_s = None


class CameraWorker(LiveWorker):
    """A ``LiveWorker`` that records into a ``CameraRecord`` on the event's clock; an event
    runs unattended, so a worker that dies is restarted by default."""

    record: CameraRecord

    def __init__(
        self,
        origin: float,
        analyzer_options: Mapping[str, Any] | None = None,
        blur: bool = False,
        history_s: float = 600.0,
        name: str = "camera",
        restart_dead: bool = True,
    ) -> None:
        super().__init__(analyzer_options, blur, history_s, restart_dead=restart_dead, name=name)
        self.record = CameraRecord(origin, history_s)


@dataclass(frozen=True)
class CameraView:
    """What a page shows of one camera of an event, at one moment."""

    id: int
    name: str  # the URL with its password masked, or the device
    kind: str
    #: The camera's: ``connecting``, ``connected``, ``reconnecting``, ``failed``, ``stopped``.
    status: str
    #: The analysis worker's: ``starting`` (loading the model), ``running``, ``failed``...
    analysis: str
    error: str | None  # why the camera or its analysis failed last, masked
    fps: float  # frames decoded a second
    faces_in_view: int  # people in the latest analyzed frame; 0 once it is stale
    latency: Latency | None
    dropped: int  # frames decoded but replaced by a newer one before analysis took them
    gaps: list[CameraGap]
    added_s: float
    removed_s: float | None
    restarts: int  # times its analysis worker died and was restarted
    #: The newest frame, annotated with the latest faces, as BGR; None before any.
    preview: np.ndarray | None = field(repr=False)


class EventCamera:
    """One camera of an event: its source, its analysis in a worker process, and the pump
    thread between them. ``start`` and ``stop`` are the event's to call."""

    def __init__(
        self,
        camera_id: int,
        source: CameraSource,
        worker: CameraWorker,
        added_s: float,
    ) -> None:
        self.id = camera_id
        self.source = source
        self.worker = worker
        self.added_s = added_s
        self.removed_s: float | None = None
        self._preview: np.ndarray | None = None
        self._lock = threading.Lock()  # start and stop, which the event may call at once
        self._stopping = threading.Event()
        self._pump: threading.Thread | None = None

    @property
    def record(self) -> CameraRecord:
        return self.worker.record

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def restarts(self) -> int:
        """Times its analysis worker died and was restarted."""
        return self.worker.restarts

    def start(self) -> None:
        """Start the worker (it loads the model meanwhile), the camera and the pump; once
        stopped, it stays stopped."""
        with self._lock:
            if self._stopping.is_set():
                return
            self.worker.start()
            self.source.start()
            self._pump = threading.Thread(
                target=self._run, name=f"fer-pump {self.name}", daemon=True
            )
            self._pump.start()

    def stop(self) -> None:
        """Stop the camera, the pump and the worker; the record stays to be saved."""
        with self._lock:
            self._stopping.set()
            self.source.stop()
            if self._pump is not None:
                self._pump.join()
            self.worker.close()

    def gaps(self) -> list[CameraGap]:
        """The camera's gaps, in event seconds."""
        origin = self.record.origin
        return [
            CameraGap(self.id, gap.start - origin, None if gap.end is None else gap.end - origin)
            for gap in self.source.gaps
        ]

    def fresh(self, now_s: float) -> bool:
        """Whether its latest analysis is recent at event second ``now_s``: its faces are in
        view now (not those of a camera that dropped or left)."""
        analyzed = self.record.analyzed_s
        return self.removed_s is None and analyzed is not None and now_s - analyzed <= STALE_S

    def view(self, now_s: float) -> CameraView:
        """The camera at event second ``now_s``."""
        faces = [face for face in self.record.last_faces if face.confirmed]
        return CameraView(
            id=self.id,
            name=self.name,
            kind=self.source.kind,
            status=self.source.status,
            analysis=self.worker.status,
            error=self.worker.error or self.source.error,
            fps=self.source.fps,
            faces_in_view=len(faces) if self.fresh(now_s) else 0,
            latency=self.record.latency(),
            dropped=self.source.dropped,
            gaps=self.gaps(),
            added_s=self.added_s,
            removed_s=self.removed_s,
            restarts=self.restarts,
            preview=self._preview,
        )

    def _run(self) -> None:
        """The pump: the newest frame to the worker, the annotated one back as the preview."""
        while not self._stopping.is_set():
            frame = self.source.latest(wait_s=PUMP_WAIT_S)
            if frame is None:
                if self.source.status == "failed":  # nothing more will come: free the model
                    self.worker.close()
                    return
                continue
            given = av.VideoFrame.from_ndarray(frame.image, format="bgr24")
            shown = self.worker.callback(given, at=frame.captured_at - self.record.origin)
            self._preview = frame.image if shown is given else shown.to_ndarray(format="bgr24")
