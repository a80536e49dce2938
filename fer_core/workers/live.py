"""``LiveWorker``: a live stream whose frames are analyzed in a worker process.

The calling process (the web server) keeps the stream's ``LiveRecord`` and draws every frame;
the worker builds the ``FrameAnalyzer`` from keyword arguments, so TensorFlow loads there and a
crash in the model ends only the worker, and a frame the analyzer raises on is skipped, not
the end of the stream's analysis (``skipped``, ``frame_error``; ``MAX_FAILED_FRAMES`` in a row
end the worker with the reason). The worker analyzes one frame at a time. While it is
busy only the newest frame waits for it; the others go back at once, drawn with the last
known faces, so no backlog builds and the video keeps the camera's frame rate.

With ``blur`` on, every frame goes back with every face blurred, though none is drawn after
its own analysis: the worker also searches each frame it analyzes for every face (a newcomer
the tracks do not know yet), and the calling process carries those boxes into each frame it
returns by optical flow, widened by how far they moved. Until such boxes are known (the model
still loading, blur just turned on, the worker dead) frames go back blurred whole.

Faces come back with their probabilities in ``fer_core.labels.CLASSES`` order, whatever the
model's own order. The worker starts with ``start`` (a new stream) and ends with ``close``
(the stream stopped), on a dropped ``LiveWorker``, or when the calling process exits. After a
worker died, ``restart`` carries the same stream on with a fresh one: the record goes on, and
the people the old worker followed, in view or lost from view for less than ``keep_lost_s``,
are handed over (``fer_core.tracking.Handover``, sent with each analyzed frame's faces), so
one the new worker finds where they were keeps their id and is not counted again; a new
person is numbered after every id the old worker gave.
With ``restart_dead`` a worker that dies after it ran (killed for memory, a crash in a native
library) is restarted that way by itself: its death sets a wait (``restart_in_s``; longer after
each death in a row), and the first frame given to ``callback`` after it (or a ``revive`` call)
restarts it. A worker that could not build its analyzer is not: it would fail the same way.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import Any, Literal

import av
import cv2
import numpy as np

from fer_core.detectors import FaceDetector, detect_faces, make_detector
from fer_core.faces import Face, FaceAnnotator
from fer_core.labels import CLASSES
from fer_core.live import LiveRecord, RecordedStream, replace_image
from fer_core.motion import FlowTracker, widen
from fer_core.tracking import Handover
from fer_core.workers.process import WorkerError, WorkerProcess

#: With blur on, each frame returned is also searched here, at native size in one pass: a
#: face large enough to recognise is large enough for it, and it costs a few tens of ms.
QUICK_SEARCH = "centerface-native"

log = logging.getLogger(__name__)

Status = Literal["stopped", "starting", "running", "failed"]
#: A frame the analyzer raises on is skipped (an odd frame must not end a stream's analysis);
#: this many in a row mean something is broken, and the worker fails with the reason.
MAX_FAILED_FRAMES = 10
# With blur on and no boxes to blur by, the frame is shown as this many cells across its
# shorter side, smoothed: 24 px cells still let OpenCV's Haar cascade find an 80 px face.
BLUR_WHOLE_CELLS = 8
#: Seconds before restarting a worker that died, by deaths in a row (the last repeats): a
#: crash that comes back at once costs a model load a minute, not a busy loop.
RESTART_WAITS_S = (2.0, 10.0, 60.0)
STEADY_S = 300.0  # a worker that ran this long before dying starts the waits afresh


class LiveWorker(RecordedStream):
    """The surface of ``fer_core.live.LiveMonitor``, with the analyzer in a worker process.

    ``analyzer_options`` are ``FrameAnalyzer``'s keyword arguments (``classifier`` as a model
    name). Nothing starts until ``start``; as a context manager it starts and closes. With
    ``restart_dead`` a worker that died is restarted (see the module); ``name`` says which
    stream in the log.
    """

    def __init__(
        self,
        analyzer_options: Mapping[str, Any] | None = None,
        blur: bool = False,
        history_s: float = 600.0,
        bucket_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        restart_dead: bool = False,
        name: str = "live stream",
    ) -> None:
        self.analyzer_options = dict(analyzer_options or {})
        self.blur = blur  # read per frame, so the page can toggle it mid-stream
        self.restart_dead = restart_dead
        self.name = name
        self.restarts = 0  # workers that died and were restarted, since ``start``
        self.record = LiveRecord(CLASSES, history_s, bucket_s, clock)
        self._annotator = FaceAnnotator()
        # start, close and restart one at a time: a stream closed while its dead worker is
        # being revived stays closed.
        self._lifecycle = threading.Lock()
        self._open = False  # from start (or restart) to close: a dead worker may be revived
        self._lock = threading.Lock()  # guards everything below
        self._deaths = 0  # in a row: each lengthens the wait before the next restart
        self._running_since: float | None = None  # time.monotonic() the worker got ready
        self._restart_at: float | None = None  # time.monotonic() of the next restart
        self._worker: WorkerProcess | None = None
        self._listener: threading.Thread | None = None
        self._finalizer: weakref.finalize | None = None
        self._status: Status = "stopped"
        self._error: str | None = None
        self._ran = False  # the current worker reported ready
        self._skipped = 0  # frames the worker could not analyze
        self._frame_error: str | None = None  # why the latest of them could not be
        self._forget_people()
        self._busy = False  # a frame is with the worker
        self._waiting: tuple[float, np.ndarray] | None = None  # the newest frame since
        self._generation = 0  # bumped by start and reset; older results are dropped
        self._sent: np.ndarray | None = None  # the frame with the worker
        # With blur on: every face box of the last analyzed frame, and where flow has carried
        # them since (into the frame ``_flow`` remembers).
        self._cover: np.ndarray | None = None
        self._carried: np.ndarray | None = None
        self._flow = FlowTracker()
        self._quick: FaceDetector | None = None  # searches returned frames, with blur on

    def __enter__(self) -> LiveWorker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def status(self) -> Status:
        """``starting`` while the worker loads the model, ``failed`` after it failed or died."""
        return self._status

    @property
    def error(self) -> str | None:
        """Why the worker failed, in words; None unless ``status`` is ``failed``."""
        return self._error

    @property
    def skipped(self) -> int:
        """Frames the worker could not analyze and skipped, since ``start``."""
        return self._skipped

    @property
    def frame_error(self) -> str | None:
        """Why the latest skipped frame could not be analyzed."""
        return self._frame_error

    @property
    def ran(self) -> bool:
        """Whether the worker got as far as analyzing: a worker that failed before it could
        build its analyzer (a bad model or option) would fail the same way again."""
        return self._ran

    @property
    def restart_in_s(self) -> float | None:
        """Seconds until ``revive`` restarts the dead worker; None when no restart is due."""
        at = self._restart_at
        return None if at is None else max(at - time.monotonic(), 0.0)

    @property
    def pid(self) -> int | None:
        """The worker process's id while one runs."""
        worker = self._worker
        return worker.pid if worker is not None else None

    def start(self) -> None:
        """A new stream: forget the record and start a fresh worker (restarting a running one).

        The worker loads the model first; until then frames pass through unanalyzed.
        """
        with self._lifecycle:
            self._stop_worker()
            with self._lock:
                self.record.reset()
                self._forget_people()
                self._skipped, self._frame_error = 0, None
                self.restarts = self._deaths = 0
                self._running_since = self._restart_at = None
            self._open = True
            self._spawn()

    def restart(self) -> None:
        """The same stream with a fresh worker (after the last one died): the record goes on,
        and so do the people: one the old worker followed (in view, or lost from view for a
        while) whom the new worker finds where they were last seen keeps their id, a new
        person gets an id after every id the old worker gave, and the count of people seen
        goes on from the old worker's. Smoothing starts afresh."""
        with self._lifecycle:
            self._restart()

    def revive(self, now: float | None = None) -> bool:
        """Restart the dead worker if a restart is due by ``now`` (``time.monotonic()``'s);
        True when it did. ``callback`` calls it with ``restart_dead``."""
        if self._restart_at is None:  # every frame asks: answer without a lock
            return False
        now = time.monotonic() if now is None else now
        with self._lifecycle:
            with self._lock:
                due = self._open and self._restart_at is not None and now >= self._restart_at
                if not due:
                    return False
                self.restarts += 1
            self._restart()
            return True

    def _restart(self) -> None:
        self._stop_worker()
        with self._lock:
            self._handover, self._restart_at = self._people, None
        self._open = True
        self._spawn()

    def _forget_people(self) -> None:
        """A new stream: ids and the count of people seen start afresh."""
        self._people: Handover | None = None  # as the worker's latest analyzed frame left them
        # The people a restarted worker carries on from: sent with its first frame, so a reset
        # before that frame drops them with the rest of the stream.
        self._handover: Handover | None = None

    def _spawn(self) -> None:
        worker = WorkerProcess(_serve, "fer-live-worker", self.analyzer_options)
        listener = threading.Thread(
            target=_listen, args=(weakref.ref(self), worker), name="fer-live-listener", daemon=True
        )
        with self._lock:
            self._worker, self._listener = worker, listener
            self._status, self._error, self._ran = "starting", None, False
            self._busy, self._waiting = False, None
            self._generation += 1
            self._cover = self._carried = None
        # If the page drops this object without closing it, the worker still ends.
        self._finalizer = weakref.finalize(self, worker.stop)
        listener.start()

    def close(self) -> None:
        """Stop the worker and reap it (and restart no dead one); the record stays readable
        for the summary."""
        with self._lifecycle:
            self._open = False
            with self._lock:
                self._restart_at = None
            self._stop_worker()

    def _stop_worker(self) -> None:
        with self._lock:
            worker, listener = self._worker, self._listener
            self._worker = self._listener = None
            self._busy, self._waiting = False, None
            if self._status != "failed":
                self._status = "stopped"
        if worker is None:
            return
        if self._finalizer is not None:
            self._finalizer.detach()
        worker.stop()
        listener.join()  # it returns once it hears the worker exit
        worker.close()

    def callback(self, frame: av.VideoFrame, at: float | None = None) -> av.VideoFrame:
        """streamlit-webrtc's ``video_frame_callback``; never waits for the model. ``at`` is
        the frame's time on the record's clock (default: now, by ``record.elapsed()``), for a
        source that knows when its frame was captured."""
        if self.restart_dead:
            self.revive()
        image = frame.to_ndarray(format="bgr24")
        blur = self.blur
        offered = self._offer(image, blur, at)
        cover = self._carry(image) if offered and blur else None
        if blur and cover is None:  # no boxes to blur by
            return replace_image(frame, _blur_whole(image))
        if blur:  # a face that turned up since the last analyzed frame: found here, now
            cover = np.vstack([cover, self._search_here(image)])
        faces = self.record.last_faces if offered else []
        if not faces and not blur:
            return frame
        return replace_image(frame, self._annotator.annotate(image, faces, blur, cover))

    def reset(self) -> None:
        """Forget everything: a new stream starts (the worker's analyzer resets before its
        next frame, so tracks and smoothing start afresh too)."""
        with self._lock:
            self._generation += 1
            self._waiting = None
            self._cover = self._carried = None
            self._forget_people()
            self.record.reset()

    def _offer(self, image: np.ndarray, blur: bool, at: float | None) -> bool:
        """Hand ``image`` (taken at ``at``, default now) to the worker if it is free, else keep
        it as the newest waiting; False when no worker is running to take it. With ``blur``
        the worker also searches it for every face to blur."""
        with self._lock:
            if self._status != "running":
                return False
            elapsed = self.record.elapsed() if at is None else at
            if self._busy:
                self._waiting = (elapsed, image, blur)
                return True
            self._busy, self._sent = True, image
            message = self._frame_message(elapsed, image, blur)
            worker = self._worker
        worker.send(message)  # a dead worker is reported by the listener
        return True

    def _frame_message(self, elapsed: float, image: np.ndarray, blur: bool) -> tuple:
        """What the worker is sent for a frame (under ``_lock``): the handover, if any, goes
        with the first frame and only with it."""
        handover, self._handover = self._handover, None
        return self._generation, elapsed, image, blur, handover

    def _search_here(self, image: np.ndarray) -> np.ndarray:
        """Face boxes of one quick search of ``image`` in this process (the detector needs no
        TensorFlow): the frame goes back before the worker has seen it, and a newcomer in it
        is covered only by looking."""
        if self._quick is None:
            self._quick = make_detector(QUICK_SEARCH)
        return detect_faces(self._quick, image).boxes.astype(float)

    def _carry(self, image: np.ndarray) -> np.ndarray | None:
        """The last analyzed frame's face boxes moved into ``image`` by optical flow, each
        widened by how far it moved (the further, the less sure); None when none are known."""
        with self._lock:
            if self._cover is None:
                return None
            self._carried, _ = self._flow.step(image, self._carried)
            moved = np.abs(self._carried[:, :2] - self._cover[:, :2]).max(axis=1)
            return widen(self._carried, moved)

    def _on_message(self, worker: WorkerProcess, message: tuple) -> None:
        """A message from ``worker``: ready, the faces of a frame, a frame it skipped, or why
        it failed."""
        with self._lock:
            if worker is not self._worker:  # closed or restarted meanwhile
                return
            kind = message[0]
            if kind == "ready":
                self._status, self._ran = "running", True
                self._running_since = time.monotonic()
                return
            if kind == "failed":
                self._fail(message[1])
                return
            if kind == "skipped":
                self._skipped += 1
                self._frame_error = message[1]
            else:
                self._recorded(*message[1:])
            waiting, self._waiting = self._waiting, None
            self._busy = waiting is not None
            following = None
            if waiting is not None:
                following = self._frame_message(*waiting)
                self._sent = waiting[1]
        if following is not None:
            worker.send(following)

    def _recorded(
        self,
        generation: int,
        elapsed: float,
        faces: list[Face],
        people: Handover,
        cover: np.ndarray | None,
    ) -> None:
        """Record a frame's analysis, unless it belongs to a stream since reset."""
        if generation == self._generation:
            self._people = people
            self.record.add(elapsed, faces, people.faces_seen)
            self._cover = self._carried = cover
            if cover is not None:
                self._flow.remember(self._sent)

    def _on_exit(self, worker: WorkerProcess, error: WorkerError) -> None:
        with self._lock:
            if worker is self._worker and self._status != "failed":
                self._fail(str(error))

    def _fail(self, error: str) -> None:
        self._status, self._error = "failed", error
        self._busy, self._waiting = False, None
        self._cover = self._carried = None
        if self.restart_dead and self._open and self._ran:
            self._schedule_restart()

    def _schedule_restart(self) -> None:
        """After a death, the wait before the restart: longer for each death in a row, where
        a worker that ran ``STEADY_S`` before it died starts the count afresh."""
        now = time.monotonic()
        if self._running_since is not None and now - self._running_since >= STEADY_S:
            self._deaths = 0
        wait = RESTART_WAITS_S[min(self._deaths, len(RESTART_WAITS_S) - 1)]
        self._deaths += 1
        self._restart_at, self._running_since = now + wait, None
        log.warning(
            "%s: analysis worker failed (%s); restarting in %.0f s", self.name, self._error, wait
        )


def _blur_whole(image: np.ndarray) -> np.ndarray:
    """``image`` as coarse, smoothed cells, so no face in it, however large, can be
    recognised."""
    height, width = image.shape[:2]
    cell = min(height, width) / BLUR_WHOLE_CELLS
    cells = (max(round(width / cell), 1), max(round(height / cell), 1))
    small = cv2.resize(image, cells, interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(coarse, (0, 0), cell / 2)


def _listen(owner: weakref.ref[LiveWorker], worker: WorkerProcess) -> None:
    """The calling process's thread that hears the worker; it holds its ``LiveWorker`` only
    weakly, so a dropped one is collected (and its worker stopped by the finalizer)."""
    while True:
        try:
            message = worker.receive()
        except WorkerError as error:
            live = owner()
            if live is not None:
                live._on_exit(worker, error)
            return
        live = owner()
        if live is None:
            return
        live._on_message(worker, message)
        del live


def _serve(connection: Connection, analyzer_options: dict[str, Any]) -> None:
    """The worker process: build the analyzer, then analyze frames until the pipe closes.
    A stream's first frame may bring a ``Handover`` (the worker before this one died)."""
    try:
        from fer_core.analyzer import FrameAnalyzer  # TensorFlow: only ever in the worker

        analyzer = FrameAnalyzer(**analyzer_options)
        if set(analyzer.classes) != set(CLASSES):
            raise ValueError(f"the model's classes {analyzer.classes} are not {CLASSES}")
    except Exception as error:
        traceback.print_exc()
        connection.send(("failed", f"the analyzer could not be built: {error}"))
        return
    order = [analyzer.classes.index(name) for name in CLASSES]
    generation = None
    failed_in_a_row = 0
    try:
        connection.send(("ready",))
        while True:
            frame_generation, elapsed, image, blur, handover = connection.recv()
            if frame_generation != generation:
                if handover is not None:
                    analyzer.resume(handover, elapsed)
                else:
                    analyzer.reset()
                generation = frame_generation
            try:
                faces = analyzer.analyze(image, elapsed)
                cover = None
                if blur:  # every face to blur: the tracks', and a newcomer's before its search
                    found = analyzer.detect(image)
                    cover = np.vstack([np.array([f.box for f in faces]).reshape(-1, 4), found])
            except Exception as error:
                traceback.print_exc()
                failed_in_a_row += 1
                if failed_in_a_row >= MAX_FAILED_FRAMES:
                    reason = f"{failed_in_a_row} frames in a row could not be analyzed: {error}"
                    connection.send(("failed", reason))
                    return
                connection.send(("skipped", f"a frame could not be analyzed: {error}"))
                continue
            failed_in_a_row = 0
            faces = [dataclasses.replace(face, probs=face.probs[order]) for face in faces]
            # Who the tracker follows, for a worker that may carry the stream on after this
            # one; a stream counts confirmed people only (its first frame is no photo).
            people = analyzer.handover(elapsed)
            message = ("faces", frame_generation, elapsed, faces, people, cover)
            connection.send(message)
    except (EOFError, BrokenPipeError):  # the calling process closed the pipe or exited
        return
