"""LiveWorker: a live stream analyzed in a worker process, fed real frames of a real face.

The frames are ``fer_core.synthetic.scene``: the astronaut's face (scikit-image) moving around
a room. The worker imports TensorFlow and loads the model, which takes a while on a busy
machine, so waits have a generous deadline; no test depends on how long anything takes.
"""

from __future__ import annotations

import gc
import os
import signal
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import av
import numpy as np
import pytest

from fer_core.cameras.analysis import CameraWorker, EventCamera
from fer_core.cameras.frames import Frame
from fer_core.detection import HaarFaceDetector, make_detector
from fer_core.labels import CLASSES
from fer_core.synthetic import Walker, people_scene, scene
from fer_core.workers import LiveWorker
from fer_core.workers import live as live_worker

DEADLINE_S = 300  # loading TensorFlow and the model on two shared cores can be slow
CAMERA_FPS = 30


class FakeClock:
    """A clock the test advances, so each frame's time tells which frame it was."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _frame(
    time_s: float,
    width: int = 320,
    height: int = 240,
    face: int = 96,
    still_at: float | None = None,
) -> av.VideoFrame:
    """The moving face's frame at ``time_s``, or, with ``still_at``, the face held where it is
    at that time (a seated person)."""
    image = scene(time_s if still_at is None else still_at, 1, width, height, face)
    frame = av.VideoFrame.from_ndarray(image, format="bgr24")
    frame.pts = round(time_s * CAMERA_FPS)
    return frame


def _empty(time_s: float, width: int = 320, height: int = 240) -> av.VideoFrame:
    """The scene's background at ``time_s``, with no one in it."""
    frame = av.VideoFrame.from_ndarray(scene(time_s, 0, width, height, 96), format="bgr24")
    frame.pts = round(time_s * CAMERA_FPS)
    return frame


def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait until the worker process makes ``condition`` true."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what} after {DEADLINE_S} s"
        time.sleep(0.05)


def _stream(
    worker: LiveWorker,
    clock: FakeClock,
    until: Callable[[], bool],
    what: str,
    failing_is_fine: bool = False,
    frames: Callable[[float], av.VideoFrame] = _frame,
):
    """Feed camera-paced frames until ``until()``; the last frame in and what came back.
    A failed worker ends the test unless ``failing_is_fine`` (it is to be revived)."""
    deadline = time.monotonic() + DEADLINE_S
    index = 0
    while True:
        frame = frames(index / CAMERA_FPS)
        out = worker.callback(frame)
        if until():
            return frame, out
        assert failing_is_fine or worker.status != "failed", worker.error
        assert time.monotonic() < deadline, f"still waiting for {what} after {DEADLINE_S} s"
        index += 1
        clock.now += 1 / CAMERA_FPS
        time.sleep(1 / CAMERA_FPS)


def _people(worker: LiveWorker) -> list[int]:
    """The ids of the people in the latest analyzed frame."""
    return [face.track_id for face in worker.record.last_faces if face.confirmed]


def _gone(pid: int) -> bool:
    """The process has exited and been reaped: a zombie still has its /proc entry."""
    return not Path(f"/proc/{pid}").exists()


@pytest.fixture(autouse=True)
def _linux_only():
    if not Path("/proc/self").exists():
        pytest.skip("checks processes through /proc")


def test_worker_analyzes_a_stream_resets_and_stops_with_it():
    clock = FakeClock()
    worker = LiveWorker({"smoothing_s": 0}, clock=clock)
    assert worker.status == "stopped" and worker.pid is None  # nothing runs before start
    with worker:
        pid = worker.pid
        assert pid is not None and pid != os.getpid()
        first = _frame(0.0)
        assert worker.callback(first) is first  # no faces known yet: passed through at once
        # The face is a person once a second search (1 s of stream time later) finds it.
        frame, out = _stream(worker, clock, lambda: worker.snapshot().faces_in_view, "a person")
        assert worker.status == "running" and worker.error is None
        assert (out.width, out.height, out.pts) == (frame.width, frame.height, frame.pts)
        assert not np.array_equal(out.to_ndarray(format="bgr24"), frame.to_ndarray(format="bgr24"))
        snap = worker.snapshot()
        assert snap.faces_in_view == 1 and snap.faces_seen == 1 and snap.frames >= 3
        assert set(snap.current) == set(CLASSES)
        assert sum(snap.current.values()) == pytest.approx(1.0)
        faces, timeline = worker.unsaved()
        assert len(faces) >= 1 and (faces["track_id"] == 1).all()
        # The worker goes on recording frames while the test reads: at least those of the snapshot.
        assert timeline["n_faces"].max() == 1 and timeline["n_frames"].sum() >= snap.frames

        worker.reset()  # a new stream: the record and the worker's tracker start afresh
        assert worker.snapshot().frames == 0
        _stream(worker, clock, lambda: worker.snapshot().faces_seen, "a person after reset")
        faces, _ = worker.unsaved()
        assert (faces["track_id"] == 1).all() and worker.snapshot().faces_seen == 1
    assert worker.status == "stopped" and worker.pid is None
    assert _gone(pid), f"worker {pid} is still running or a zombie after close"
    assert worker.summary()["faces_seen"] == 1  # the record outlives the worker, for saving


def test_only_the_newest_frame_waits_while_the_worker_is_busy():
    clock = FakeClock()
    with LiveWorker({"smoothing_s": 0}, clock=clock) as worker:
        _until(lambda: worker.status == "running", "the model to load")
        # Frozen, the worker holds the first frame (small, so it fits in the pipe) while three
        # more arrive; each returns at once, and only the newest is kept for it.
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            for index in range(4):
                frame = _frame(float(index), 160, 120, 100)
                assert worker.callback(frame) is frame  # no faces known yet
                clock.now += 1.0
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        _until(lambda: worker.snapshot().frames == 2, "the held and the newest frame")
        _, timeline = worker.unsaved()
        analyzed = timeline.loc[timeline["n_frames"] > 0, "time_s"].tolist()
        assert analyzed == [0.0, 3.0]  # frames 1 and 2 were never queued


def test_blur_hides_every_face_in_every_returned_frame():
    # A face crosses a 640x360 frame and back in 4 s (9 px a frame). Frames go back blurred
    # whole while the model loads; then the worker analyzes some frames and the others go back
    # at once: every one must be blurred where the face is now, not where it was analyzed.
    walker = Walker((60, 150), (580, 150), face_px=80)
    haar = HaarFaceDetector(min_neighbors=3, min_size=24)  # more eager than its default 5
    clock = FakeClock()
    frames = faces_in = faces_out = sharp_floor = 0
    with LiveWorker({"smoothing_s": 0}, blur=True, clock=clock) as worker:
        deadline = time.monotonic() + DEADLINE_S
        while worker.snapshot().frames < 20:
            assert worker.status != "failed", worker.error
            assert time.monotonic() < deadline, "still waiting for 20 analyzed frames"
            walked = (frames / CAMERA_FPS) % 4.0
            image, _ = people_scene([walker], min(walked, 4.0 - walked), 2.0, 640, 360)
            out = worker.callback(av.VideoFrame.from_ndarray(image, format="bgr24"))
            out = out.to_ndarray(format="bgr24")
            faces_in += len(haar.detect(image)) > 0
            faces_out += len(haar.detect(out))
            sharp_floor += np.array_equal(image[320:], out[320:])  # below the face
            frames += 1
            clock.now += 1 / CAMERA_FPS
            time.sleep(1 / CAMERA_FPS)
    assert faces_in == frames  # unblurred, the face shows in every frame
    assert faces_out == 0
    assert sharp_floor >= 10  # once analyzed, blurred where the face is, not whole


def test_blur_hides_a_face_in_the_very_frame_it_turns_to_the_camera():
    # Someone faces away, then turns: the frame in which the face first shows goes back before
    # the worker has analyzed it, so only a search of that frame itself can cover the face.
    walker = Walker((320, 170), face_px=80, away=((0.0, 1.0),))
    haar = HaarFaceDetector(min_neighbors=3, min_size=24)
    clock = FakeClock()
    shown = turned = 0
    with LiveWorker({"smoothing_s": 0}, blur=True, clock=clock) as worker:
        _until(lambda: worker.status == "running", "the model to load")
        # Let the worker analyze a few frames of the back of the head, so boxes are known.
        for index in range(45):
            image, facing = people_scene([walker], index / CAMERA_FPS, 2.0, 640, 360)
            out = worker.callback(av.VideoFrame.from_ndarray(image, format="bgr24"))
            if facing:
                turned += len(haar.detect(image)) > 0
                shown += len(haar.detect(out.to_ndarray(format="bgr24")))
            clock.now += 1 / CAMERA_FPS
            time.sleep(1 / CAMERA_FPS)
    assert turned >= 10  # the face shows, unblurred, once she has turned
    assert shown == 0


def test_a_worker_that_dies_is_reported_and_the_stream_keeps_flowing():
    clock = FakeClock()
    with LiveWorker({"smoothing_s": 0}, clock=clock) as worker:
        _stream(worker, clock, lambda: worker.snapshot().faces_in_view == 1, "a face")
        pid = worker.pid
        os.kill(pid, signal.SIGKILL)
        _until(lambda: worker.status == "failed", "the death to be noticed")
        assert worker.error == "the fer-live-worker process was killed by SIGKILL"
        frame = _frame(0.0)
        assert worker.callback(frame) is frame  # frames still come back, without stale boxes
        worker.blur = True  # no faces to blur by: the whole frame is blurred
        blurred = worker.callback(frame).to_ndarray(format="bgr24")
        image = frame.to_ndarray(format="bgr24")
        assert blurred.shape == image.shape
        detector = make_detector("haar")
        assert len(detector.detect(image)) == 1 and len(detector.detect(blurred)) == 0
        assert worker.snapshot().frames >= 1  # what was analyzed is kept
    assert _gone(pid)
    assert worker.status == "failed"  # the error stays for the page to show


def test_an_analyzer_that_cannot_be_built_fails_with_its_reason():
    with LiveWorker({"detector": "no-such-detector"}) as worker:
        _until(lambda: worker.status == "failed", "the analyzer to fail")
        assert "the analyzer could not be built" in worker.error
        assert "no-such-detector" in worker.error
        assert not worker.ran  # a restart would fail the same way


class DarkFramesFail:
    """A face finder that raises on an all-black frame and finds no face in any other."""

    def detect(self, frame: np.ndarray) -> np.ndarray:
        if not frame.any():
            raise RuntimeError("an all-black frame")
        return np.zeros((0, 4))


def test_a_frame_the_analyzer_raises_on_is_skipped_until_too_many_in_a_row(monkeypatch):
    # The worker unpickles the finder above: it imports this module from this folder.
    here = [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, here)))
    clock = FakeClock()
    black = av.VideoFrame.from_ndarray(np.zeros((240, 320, 3), np.uint8), format="bgr24")
    searching = {"detector": DarkFramesFail(), "detect_every_s": 0, "background_search": False}
    with LiveWorker(searching, clock=clock) as worker:
        _stream(worker, clock, lambda: worker.snapshot().frames >= 1, "a frame analyzed")
        _stream_frame(worker, clock, black, lambda: worker.skipped >= 1, "a skipped frame")
        assert worker.frame_error == "a frame could not be analyzed: an all-black frame"
        frames = worker.snapshot().frames
        _stream(worker, clock, lambda: worker.snapshot().frames > frames, "the stream going on")
        assert worker.status == "running" and worker.error is None
        # Frames that all fail mean the analysis is broken: the worker says so and ends.
        with pytest.raises(AssertionError, match="10 frames in a row could not be analyzed"):
            _stream_frame(worker, clock, black, lambda: False, "the worker to fail")
        assert worker.status == "failed" and worker.skipped >= 10


def _stream_frame(worker, clock, frame, until, what) -> None:
    """Feed the same frame, camera-paced, until ``until()``."""
    deadline = time.monotonic() + DEADLINE_S
    while not until():
        worker.callback(frame)
        assert worker.status != "failed", worker.error
        assert time.monotonic() < deadline, f"still waiting for {what} after {DEADLINE_S} s"
        clock.now += 1 / CAMERA_FPS
        time.sleep(1 / CAMERA_FPS)


def _killed(worker: LiveWorker) -> None:
    os.kill(worker.pid, signal.SIGKILL)
    _until(lambda: worker.status == "failed", "the death to be noticed")


def test_a_restarted_worker_carries_the_stream_and_its_people_on():
    clock = FakeClock()
    with LiveWorker({"smoothing_s": 0}, clock=clock) as worker:
        # A 48 px face, seated where its path puts it at 1.75 s, then (after the second death)
        # where it is at 5.24 s: 2.2 face sizes away.
        here = partial(_frame, face=48, still_at=1.75)
        there = partial(_frame, face=48, still_at=5.24)
        seated = partial(_stream, worker, clock, frames=here)
        seated(lambda: worker.snapshot().faces_in_view == 1, "a person")
        _killed(worker)
        assert worker.ran and worker.snapshot().faces_seen == 1
        frames = worker.snapshot().frames
        worker.restart()
        assert worker.status == "starting" and worker.error is None
        # The new worker finds the seated person where they were: the same person, counted once.
        seated(lambda: worker.snapshot().frames > frames + 2, "frames after the restart")
        assert _people(worker) == [1] and worker.snapshot().faces_seen == 1
        # They turn away, and the worker dies while no one is in view: the next one still
        # knows them when they turn back.
        _stream(worker, clock, lambda: _people(worker) == [], "no one in view", frames=_empty)
        _killed(worker)
        worker.restart()
        seated(lambda: _people(worker) != [], "the person back")
        assert _people(worker) == [1] and worker.snapshot().faces_seen == 1
        # Dead again, and when the next worker looks the face is two face sizes away: someone
        # new as far as it can tell, numbered after everyone recorded.
        _killed(worker)
        worker.restart()
        _stream(worker, clock, lambda: _people(worker) == [2], "person #2", frames=there)
        assert worker.snapshot().faces_seen == 2
        faces, _ = worker.unsaved()
        assert set(faces["track_id"]) == {1, 2}


def test_a_stream_revives_its_dead_worker_by_itself_and_a_closed_one_stays_closed(monkeypatch):
    monkeypatch.setattr(live_worker, "RESTART_WAITS_S", (0.5, 1.0))
    clock = FakeClock()
    worker = LiveWorker({"smoothing_s": 0}, clock=clock, restart_dead=True)
    with worker:
        seated = partial(_frame, still_at=0.0)
        _stream(
            worker, clock, lambda: worker.snapshot().faces_in_view == 1, "a person", frames=seated
        )
        _killed(worker)
        frames = worker.snapshot().frames
        # The death sets the wait; the first frame after it restarts the worker.
        assert 0 < worker.restart_in_s <= 0.5
        assert not worker.revive(time.monotonic()) and worker.status == "failed"
        revived = lambda: worker.snapshot().frames > frames + 2  # noqa: E731
        _stream(
            worker, clock, revived, "frames after the restart", failing_is_fine=True, frames=seated
        )
        assert worker.restarts == 1
        assert worker.restart_in_s is None
        assert _people(worker) == [1] and worker.snapshot().faces_seen == 1  # still seated
        # A second death in a row waits longer.
        _killed(worker)
        assert 0.5 < worker.restart_in_s <= 1.0
    # Closed (STOP) while dead: frames still arriving restart nothing.
    assert worker.restart_in_s is None
    time.sleep(1.2)
    for index in range(5):
        worker.callback(_frame(index / CAMERA_FPS))
    assert worker.pid is None and worker.restarts == 1 and worker.status == "failed"


def test_a_worker_that_cannot_build_its_analyzer_is_not_revived():
    with LiveWorker({"detector": "none-such"}, restart_dead=True) as worker:
        _until(lambda: worker.status == "failed", "the bad detector to fail the worker")
        for index in range(3):
            worker.callback(_frame(index / CAMERA_FPS))
            assert not worker.revive(time.monotonic() + 3600)
        assert worker.restarts == 0 and worker.restart_in_s is None


class SceneCamera:
    """Stands in for a ``CameraSource``: the face held still, 15 frames a second, connected."""

    name = kind = "scene"
    status = "connected"
    error = None
    fps = 15.0
    dropped = 0

    def __init__(self) -> None:
        self.index = 0
        self.gaps: list = []

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def latest(self, wait_s: float = 0.0) -> Frame:
        time.sleep(1 / 15)
        self.index += 1
        now = time.time()
        return Frame(scene(0.0, 1, 320, 240, 96), now, self.index, now)


def test_an_event_camera_restarts_a_worker_that_died_and_not_one_that_cannot_start(monkeypatch):
    monkeypatch.setattr(live_worker, "RESTART_WAITS_S", (0.5,))
    camera = EventCamera(1, SceneCamera(), CameraWorker(time.time(), {"smoothing_s": 0}), 0.0)
    broken = EventCamera(2, SceneCamera(), CameraWorker(time.time(), {"detector": "none-such"}), 0)
    camera.start()
    broken.start()
    try:
        _until(lambda: camera.worker.snapshot().faces_in_view == 1, "a person")
        os.kill(camera.worker.pid, signal.SIGKILL)
        frames = camera.worker.snapshot().frames
        _until(lambda: camera.restarts == 1, "the dead worker to be restarted")
        _until(lambda: camera.worker.snapshot().frames > frames + 2, "frames after the restart")
        # The face is where it was (the camera holds it still): the same person, counted once.
        assert _people(camera.worker) == [1] and camera.worker.snapshot().faces_seen == 1
        assert camera.view(camera.record.elapsed()).restarts == 1
        assert camera.worker.status == "running"
        assert broken.worker.status == "failed" and broken.restarts == 0
    finally:
        camera.stop()
        broken.stop()
    assert camera.worker.pid is None and camera.restarts == 1


def test_a_dropped_worker_stops_its_process():
    worker = LiveWorker()
    worker.start()
    pid = worker.pid
    del worker  # as when a browser session's state is discarded without a STOP
    gc.collect()
    _until(lambda: _gone(pid), f"worker {pid} to be stopped and reaped")
