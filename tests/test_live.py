"""LiveMonitor: the callback path with real av.VideoFrame frames, snapshots and saving."""

from __future__ import annotations

import threading
from fractions import Fraction

import av
import numpy as np
import pytest

from fer_core.analyzer import FrameAnalyzer
from fer_core.faces import UNKNOWN, Face
from fer_core.labels import CLASSES
from fer_core.live import LiveMonitor, LiveRecord
from fer_core.synthetic import scene


class FakeClock:
    """A clock the test advances, so timing is exact and the test is fast."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def analyzer() -> FrameAnalyzer:
    # Searches in the calling thread: when a face is confirmed must not depend on how fast
    # a background search happens to finish.
    return FrameAnalyzer(smoothing_s=0, background_search=False)


def _frame(time_s: float, n_faces: int = 2) -> av.VideoFrame:
    image = scene(time_s, n_faces, 480, 270, 96)
    frame = av.VideoFrame.from_ndarray(image, format="bgr24")
    frame.pts = int(time_s * 90_000)
    frame.time_base = Fraction(1, 90_000)
    return frame


def _run(monitor: LiveMonitor, clock: FakeClock, seconds: float, fps: float, faces: int = 2):
    for i in range(int(seconds * fps)):
        out = monitor.callback(_frame(i / fps, faces))
        clock.now += 1 / fps
    return out


def test_callback_annotates_and_counts(analyzer):
    clock = FakeClock()
    monitor = LiveMonitor(analyzer, clock=clock)
    monitor.reset()
    before = _frame(0.0)
    out = monitor.callback(before)
    assert isinstance(out, av.VideoFrame)
    assert (out.width, out.height) == (before.width, before.height)
    assert out.pts == before.pts and out.time_base == before.time_base
    assert not np.array_equal(out.to_ndarray(format="bgr24"), before.to_ndarray(format="bgr24"))
    clock.now += 0.25
    _run(monitor, clock, seconds=2.5, fps=4)
    snap = monitor.snapshot()
    assert snap.frames == 11
    assert snap.faces_in_view == 2 and snap.faces_seen == 2
    assert snap.faces_classified == 2 and snap.classified_share == 1.0
    assert snap.fps == pytest.approx(4.0)
    assert set(snap.current) == set(CLASSES)
    assert sum(snap.current.values()) == pytest.approx(1.0)
    assert snap.timeline["time_s"].tolist() == [0.0, 1.0, 2.0]
    # Faces are people from the second search on (1 s): the first second has none in view.
    assert snap.timeline["n_faces"].tolist() == [0, 2, 2]
    assert snap.timeline["valence"].isna().tolist() == [True, False, False]
    assert np.allclose(snap.timeline[list(CLASSES)].iloc[1:].sum(axis=1), 1.0)


def test_blur_hides_faces(analyzer):
    clock = FakeClock()
    image = scene(0.0, 1, 480, 270, 96)
    plain = LiveMonitor(analyzer, clock=clock)
    plain.reset()
    blurred = LiveMonitor(analyzer, blur=True, clock=clock)
    a = plain.process(image.copy())
    blurred.reset()
    b = blurred.process(image.copy())
    assert a.shape == b.shape == image.shape
    assert not np.array_equal(a, b)


def test_empty_scene_and_empty_snapshot(analyzer):
    monitor = LiveMonitor(analyzer, clock=FakeClock())
    monitor.reset()
    snap = monitor.snapshot()
    assert (snap.frames, snap.faces_in_view, snap.current) == (0, 0, None)
    assert snap.timeline.empty
    monitor.process(np.zeros((240, 320, 3), np.uint8))
    snap = monitor.snapshot()
    assert snap.frames == 1 and snap.faces_in_view == 0 and snap.current is None
    assert snap.faces_classified == 0 and snap.classified_share is None
    assert snap.timeline["n_faces"].tolist() == [0]


def test_history_is_bounded(analyzer):
    clock = FakeClock()
    monitor = LiveMonitor(analyzer, history_s=2.0, clock=clock)
    monitor.reset()
    _run(monitor, clock, seconds=5, fps=2, faces=1)
    snap = monitor.snapshot()
    assert snap.frames == 10  # counted, though old rows were dropped
    assert snap.timeline["time_s"].min() >= 2.0


def test_unsaved_hands_over_each_row_once_and_the_touched_buckets(analyzer):
    clock = FakeClock()
    monitor = LiveMonitor(analyzer, clock=clock)
    monitor.reset()
    _run(monitor, clock, seconds=1.5, fps=4, faces=1)
    faces, timeline = monitor.unsaved()
    # The face is a person from the second search (1 s) on: rows at 1.0 and 1.25 s.
    assert len(faces) == 2 and timeline["time_s"].tolist() == [0.0, 1.0]
    _run(monitor, clock, seconds=1.0, fps=4, faces=1)  # frames at 1.5 .. 2.25
    faces, timeline = monitor.unsaved()
    assert len(faces) == 4
    assert faces["time_s"].min() == pytest.approx(1.5)
    # bucket 1 grew, so it is handed over again, whole
    assert timeline["time_s"].tolist() == [1.0, 2.0]
    assert timeline["n_frames"].tolist() == [4, 2]
    faces, timeline = monitor.unsaved()
    assert faces.empty and timeline.empty


def test_frames_from_two_threads_are_all_recorded(analyzer):
    monitor = LiveMonitor(analyzer)
    monitor.reset()
    image = scene(0.0, 1, 320, 240, 80)

    def feed() -> None:
        for _ in range(5):
            monitor.process(image.copy())

    threads = [threading.Thread(target=feed) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _, timeline = monitor.unsaved()
    assert monitor.snapshot().frames == 10
    assert timeline["n_frames"].sum() == 10


def test_the_snapshot_says_how_much_of_the_room_the_figures_stand_for():
    record = LiveRecord(CLASSES, clock=FakeClock())
    read = Face((0, 0, 60, 60), np.full(7, 1 / 7, np.float32), "happy", 1 / 7, 1)
    small = Face((90, 0, 12, 12), np.full(7, np.nan, np.float32), UNKNOWN, np.nan, 2, False)
    record.add(record.elapsed(), [read, small, small], faces_seen=3)
    snap = record.snapshot()
    assert (snap.faces_in_view, snap.faces_classified) == (3, 1)
    assert snap.classified_share == pytest.approx(1 / 3)
    assert sum(snap.current.values()) == pytest.approx(1.0)  # from the one face read
