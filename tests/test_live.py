"""LiveMonitor: the callback path with real av.VideoFrame frames, snapshots and saving."""

from __future__ import annotations

import gc
import json
import sqlite3
import subprocess
import sys
import threading
import time
from fractions import Fraction

import av
import numpy as np
import pandas as pd
import pytest

from fer_core import analytics
from fer_core.analyzer import FrameAnalyzer
from fer_core.faces import UNKNOWN, Face, face_rows
from fer_core.labels import CLASSES
from fer_core.live import LiveMonitor, LiveRecord, RecordedStream, SessionRecorder
from fer_core.sessions import SessionStore
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
    # A stream's first frame is no photo: the two faces it shows are no one's until confirmed.
    assert monitor.snapshot().faces_seen == 0
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


def test_save_hands_over_each_row_once_and_the_touched_buckets(analyzer):
    clock = FakeClock()
    monitor = LiveMonitor(analyzer, clock=clock)
    monitor.reset()
    written = []
    _run(monitor, clock, seconds=1.5, fps=4, faces=1)
    # The face is a person from the second search (1 s) on: rows at 1.0 and 1.25 s, of
    # which the store keeps the track's first in second 1.
    assert monitor.save(lambda faces, timeline: written.append((faces, timeline))) == 1
    faces, timeline = written[-1]
    assert faces["time_s"].tolist() == [1.0] and timeline["time_s"].tolist() == [0.0, 1.0]
    assert timeline["n_frames"].tolist() == [4, 2]
    _run(monitor, clock, seconds=1.0, fps=4, faces=1)  # frames at 1.5 .. 2.25
    monitor.save(lambda faces, timeline: written.append((faces, timeline)))
    faces, timeline = written[-1]
    assert faces["time_s"].tolist() == [2.0]  # second 1's was saved before
    # bucket 1 grew, so it is handed over again, whole
    assert timeline["time_s"].tolist() == [1.0, 2.0]
    assert timeline["n_frames"].tolist() == [4, 2]
    assert monitor.save(lambda faces, timeline: written.append((faces, timeline))) == 0
    assert len(written) == 2  # nothing new: nothing to write
    faces, timeline = monitor.unsaved()
    assert faces.empty and timeline.empty


def _person(track_id: int, probs: np.ndarray) -> Face:
    if np.isnan(probs).all():  # too small to read
        return Face((10 * track_id, 0, 12, 12), probs, UNKNOWN, np.nan, track_id, False)
    label = CLASSES[int(np.argmax(probs))]
    return Face((10 * track_id, 0, 40, 40), probs, label, float(probs.max()), track_id)


def _feed(record: LiveRecord, clock: FakeClock, seconds: float, fps: float, seed: int = 0):
    """A synthetic crowd: up to five people coming and going, some too small to read,
    moods that drift; returns every row and frame time fed, as ``summarize`` wants them."""
    rng = np.random.default_rng(seed)
    frame_times, tables = [], []
    for _ in range(int(seconds * fps)):
        elapsed = record.elapsed()
        drift = np.sin(elapsed / 97.0)
        faces = []
        for track_id in rng.choice(np.arange(1, 9), size=rng.integers(0, 6), replace=False):
            if rng.random() < 0.15:
                probs = np.full(len(CLASSES), np.nan, np.float32)
            else:
                alpha = np.ones(len(CLASSES)) + (2 + 2 * drift) * (np.array(CLASSES) == "happy")
                probs = rng.dirichlet(alpha).astype(np.float32)
            faces.append(_person(int(track_id), probs))
        faces.append(Face((0, 90, 30, 30), np.full(7, 0.5, np.float32), "happy", 0.5, 99, True,
                          confirmed=False))  # fmt: skip
        seen = len({f.track_id for t in tables for f in t} | {f.track_id for f in faces[:-1]})
        record.add(elapsed, faces, seen)
        frame_times.append(elapsed)
        tables.append(faces[:-1])
        clock.now += 1 / fps
    rows = [
        row
        for index, (time_s, faces) in enumerate(zip(frame_times, tables, strict=True))
        for row in face_rows(faces, CLASSES, time_s, index)
    ]
    return pd.DataFrame(rows, columns=list(analytics.FACE_COLUMNS)), frame_times


def _kept(rows: pd.DataFrame) -> pd.DataFrame:
    """What a live session stores of ``rows``: each track's first row in each second."""
    second = np.floor(rows["time_s"].to_numpy() + 1e-9)
    return rows[~rows.assign(second=second).duplicated(["track_id", "second"])]


def test_a_long_stream_stores_one_row_per_track_and_second_and_counts_every_one():
    clock = FakeClock()
    record = LiveRecord(CLASSES, clock=clock)
    fed, frame_times = _feed(record, clock, seconds=60, fps=15)
    saved = []
    record.save(lambda faces, timeline: saved.append((faces, timeline)))
    faces, timeline = saved[0]
    pd.testing.assert_frame_equal(faces, _kept(fed).reset_index(drop=True), check_dtype=False)
    assert len(faces) <= 8 * 60 < len(fed) / 4  # at most one per person (8) and second
    # The timeline and the summary stand for every row, not only those kept.
    expected = analytics.timeline(fed, frame_times)
    pd.testing.assert_frame_equal(timeline, expected, check_dtype=False)
    _assert_same_summary(record.summary(), analytics.summarize(fed, frame_times))
    pd.testing.assert_frame_equal(record.snapshot().timeline, expected, check_dtype=False)


def _assert_same_summary(summary: dict, expected: dict) -> None:
    assert summary.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, dict):
            assert summary[key].keys() == value.keys(), key
            for name, figure in value.items():
                assert summary[key][name] == pytest.approx(figure, rel=1e-6, abs=1e-9), key
        else:
            assert summary[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key


def test_the_summary_covers_the_whole_stream_not_the_retained_history():
    clock = FakeClock()
    record = LiveRecord(CLASSES, history_s=30.0, clock=clock)
    faces, frame_times = _feed(record, clock, seconds=20 * 60, fps=2)
    assert record.snapshot().timeline["time_s"].min() >= 20 * 60 - 31  # history is bounded
    expected = analytics.summarize(faces, frame_times)
    summary = record.summary()
    _assert_same_summary(summary, expected)
    assert summary["duration_s"] == pytest.approx(20 * 60 - 0.5)
    assert summary["frames_analyzed"] == 2400 and summary["faces_seen"] == 8
    # Moods drift over the run: the peaks lie outside the last 30 s, which alone would not do.
    assert min(summary["peak_positive"]["time_s"], summary["peak_negative"]["time_s"]) < 1100
    record.reset()
    _assert_same_summary(record.summary(), analytics.summarize(faces.iloc[:0], []))


def test_monitor_summary_counts_frames_beyond_its_history(analyzer):
    clock = FakeClock()
    monitor = LiveMonitor(analyzer, history_s=2.0, clock=clock)
    monitor.reset()
    _run(monitor, clock, seconds=5, fps=2, faces=1)
    summary = monitor.summary()
    assert summary["duration_s"] == pytest.approx(4.5)
    assert summary["frames_analyzed"] == 10 and summary["faces_seen"] == 1
    assert summary["face_detections"] == 8  # a person from the second search (1 s) on


class Refusing:
    """A store that fails while ``refuse`` is set, and otherwise keeps what it is given."""

    def __init__(self) -> None:
        self.refuse = True
        self.faces: list[pd.DataFrame] = []
        self.timeline: dict[float, dict] = {}

    def __call__(self, faces: pd.DataFrame, timeline: pd.DataFrame) -> None:
        if self.refuse:
            raise OSError("database is locked")
        self.faces.append(faces)
        self.timeline |= {row["time_s"]: row for row in timeline.to_dict(orient="records")}


def test_rows_a_failed_save_could_not_write_are_written_by_the_next_once():
    clock = FakeClock()
    record = LiveRecord(CLASSES, history_s=5.0, clock=clock)
    store = Refusing()
    store.refuse = False
    first, frame_times = _feed(record, clock, seconds=3.5, fps=3, seed=1)  # 0 .. 3.0 s
    assert record.save(store) == len(_kept(first))
    store.refuse = True
    fed = [first]
    for seed in range(4):  # 20 s of refusals: longer than the record's history
        rows, times = _feed(record, clock, seconds=5, fps=3, seed=seed)
        fed.append(rows)
        frame_times += times
        with pytest.raises(OSError, match="locked"):
            record.save(store)
    store.refuse = False
    assert record.save(store) > 0
    assert record.save(store) == 0  # nothing twice
    stored = pd.concat(store.faces, ignore_index=True)
    everything = pd.concat(fed, ignore_index=True)
    assert len(everything) == record.summary()["face_detections"]
    # Frames count on across feeds in the record, not in _feed: compare times and tracks.
    kept = _kept(everything)[["time_s", "track_id"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(stored[["time_s", "track_id"]], kept)
    assert (
        stored["frame"].is_monotonic_increasing
        and not stored.duplicated(["frame", "track_id"]).any()
    )
    # Every second is stored whole, also second 3, which the first save caught at one frame.
    timeline = pd.DataFrame(sorted(store.timeline.values(), key=lambda row: row["time_s"]))
    assert timeline["time_s"].tolist() == [float(t) for t in range(24)]
    assert timeline["n_frames"].tolist() == [3] * 23 + [1]
    expected = analytics.timeline(everything, frame_times)
    assert timeline["n_faces"].tolist() == expected["n_faces"].tolist()
    assert np.allclose(timeline["valence"], expected["valence"], equal_nan=True)


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


class Stream(RecordedStream):
    """A stream as a page holds it: here, only its record (frames are fed by the test)."""

    def __init__(self, clock: FakeClock) -> None:
        self.record = LiveRecord(CLASSES, history_s=5.0, clock=clock)


def _wait_for(condition, what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.01)


def test_a_recorded_stream_is_saved_as_it_goes_and_closed_with_its_whole_summary(tmp_path):
    store = SessionStore(tmp_path / "sessions.db")
    clock = FakeClock()
    stream = Stream(clock)
    recorder = SessionRecorder(store, every_s=0.05)
    session_id = recorder.start(stream, "Lecture", {"blur": True})
    assert store.get(session_id).status == "recording"
    fed, _ = _feed(stream.record, clock, seconds=12, fps=3)
    _wait_for(lambda: len(store.get(session_id).faces) == len(_kept(fed)), "the rows to be saved")
    assert store.get(session_id).summary["frames_analyzed"] == 36  # the summary so far
    more, _ = _feed(stream.record, clock, seconds=3, fps=3, seed=1)
    assert recorder.stop() and recorder.session_id is None
    session = store.get(session_id)
    assert session.status == "finished" and session.ended_at is not None
    assert session.summary == json.loads(json.dumps(stream.summary()))
    assert session.summary["frames_analyzed"] == 45
    assert len(session.faces) == len(_kept(fed)) + len(_kept(more))  # each kept row, once
    assert session.timeline["n_frames"].sum() == 45


def test_a_dropped_stream_is_saved_and_closed_by_its_recorder(tmp_path):
    store = SessionStore(tmp_path / "sessions.db")
    clock = FakeClock()
    stream = Stream(clock)
    recorder = SessionRecorder(store, every_s=0.05)
    session_id = recorder.start(stream, "Closed tab")
    fed, _ = _feed(stream.record, clock, seconds=2, fps=3)
    del stream  # the page's state went away without STOP
    gc.collect()
    _wait_for(lambda: store.get(session_id).status == "finished", "the session to be closed")
    assert len(store.get(session_id).faces) == len(_kept(fed))


def test_a_locked_database_delays_saving_and_loses_nothing(tmp_path):
    path = tmp_path / "sessions.db"
    store = SessionStore(path, busy_timeout_s=0.01, attempts=1)
    clock = FakeClock()
    stream = Stream(clock)
    recorder = SessionRecorder(store, every_s=0.05)
    session_id = recorder.start(stream, "Lecture")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # a batch job writing a long video
    other.execute("DELETE FROM timeline")
    fed, _ = _feed(stream.record, clock, seconds=20, fps=3)
    _wait_for(lambda: recorder.error is not None, "a refused write")
    assert "locked" in recorder.error
    other.close()
    _wait_for(lambda: recorder.error is None, "a write to succeed")
    assert recorder.stop()
    stored = store.get(session_id).faces
    assert len(stored) == len(_kept(fed)) and not stored.duplicated(["frame", "track_id"]).any()


def _room(record: LiveRecord, clock: FakeClock, seconds: float, mood: str, looking: bool):
    """Ten people at 2 frames a second, all feeling ``mood`` and looking at the stage or not."""
    probs = np.full(len(CLASSES), 0.01, np.float32)
    probs[CLASSES.index(mood)] = 1 - 0.01 * (len(CLASSES) - 1)
    for _ in range(int(seconds * 2)):
        people = [
            Face((40 * i, 0, 30, 30), probs, mood, float(probs.max()), i, attending=looking)
            for i in range(1, 11)
        ]
        record.add(record.elapsed(), people, 10)
        clock.now += 0.5


def test_a_recorded_stream_raises_alerts_live_and_marks_segments(tmp_path):
    store = SessionStore(tmp_path / "sessions.db")
    clock = FakeClock()
    stream = Stream(clock)
    stream.record.history_s = 600.0
    recorder = SessionRecorder(store, every_s=0.05)
    session_id = recorder.start(stream, "Workshop")
    assert recorder.next_segment("Welcome").start_s == 0.0
    _room(stream.record, clock, 60, "happy", looking=True)
    assert recorder.next_segment("  ").title == "Segment 2"
    _wait_for(lambda: store.get(session_id).timeline["n_frames"].sum() >= 120, "a save")
    assert recorder.alerts == []  # a steady room raises nothing
    _room(stream.record, clock, 60, "sad", looking=False)  # the room turns, and looks away
    _wait_for(lambda: len(recorder.alerts) == 2, "the alerts")
    assert recorder.stop()
    session = store.get(session_id)
    assert [s.title for s in session.segments] == ["Welcome", "Segment 2"]
    assert session.segments[0].end_s == session.segments[1].start_s == pytest.approx(60.0)
    assert {a.metric for a in session.alerts} == {"valence", "attention"}
    assert all(60 <= a.time_s < 120 for a in session.alerts)
    assert session.timeline["attention"].iloc[0] == 1.0
    assert session.timeline["attention"].iloc[-1] == 0.0
    with pytest.raises(RuntimeError, match="no stream"):
        recorder.next_segment("After the end")


RECORD_AND_EXIT = """
import sys, time
from fer_core.labels import CLASSES
from fer_core.live import LiveRecord, RecordedStream, SessionRecorder
from fer_core.sessions import SessionStore

class Stream(RecordedStream):
    def __init__(self):
        self.record = LiveRecord(CLASSES)

stream = Stream()
recorder = SessionRecorder(SessionStore(sys.argv[1]), every_s=0.05)
print(recorder.start(stream, "Server"), flush=True)
for _ in range(5):
    stream.record.add(stream.record.elapsed(), [], 0)
    time.sleep(0.05)
if sys.argv[2] == "crash":
    time.sleep(60)  # killed meanwhile
"""


def test_a_server_that_exits_closes_its_session_and_one_that_dies_leaves_it_to_others(tmp_path):
    path = tmp_path / "sessions.db"
    exited = subprocess.run(
        [sys.executable, "-c", RECORD_AND_EXIT, str(path), "exit"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    session = SessionStore(path).get(int(exited.stdout))
    assert session.status == "finished" and session.summary["frames_analyzed"] == 5

    crashing = subprocess.Popen(
        [sys.executable, "-c", RECORD_AND_EXIT, str(path), "crash"], stdout=subprocess.PIPE
    )
    session_id = int(crashing.stdout.readline())
    store = SessionStore(path)
    _wait_for(lambda: store.get(session_id).timeline["n_frames"].sum() == 5, "the frames")
    crashing.kill()
    crashing.wait()
    crashing.stdout.close()
    assert store.close_abandoned() == []  # its heartbeat is fresh: it might be alive
    assert store.close_abandoned(stale_after_s=0) == [session_id]
    session = store.get(session_id)
    assert session.status == "interrupted" and session.summary["frames_analyzed"] == 5
