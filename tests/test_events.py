"""Events with several cameras, and ``fer-core watch``: real RTSP cameras on loopback.

GStreamer's RTSP server (``tests/rtsp.py``) serves the astronaut's face from
``fer_core.synthetic.scene`` as H.264; each camera is analyzed by a worker process that loads
TensorFlow, so waits have generous deadlines and no test depends on how long anything takes.
Without the server the RTSP tests are skipped on a developer machine and fail in CI.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rtsp import RtspServer, free_port, require, write_face_frames

from fer_core.analytics import TIMELINE_COLUMNS
from fer_core.cameras import COMBINED_COLUMNS, Event
from fer_core.cameras.combine import combine_summaries, combine_timelines
from fer_core.labels import CLASSES
from fer_core.sessions import SessionStore

REPO = Path(__file__).resolve().parents[1]
FPS = 15
PASSWORD = "s3cret-Pa55"
SIZE = (320, 240)
DEADLINE_S = 60  # four worker processes loading TensorFlow on two shared cores
ANALYZER = {"smoothing_s": 0}


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of the moving face as numbered JPEGs, for the server to loop."""
    return write_face_frames(tmp_path_factory.mktemp("event-frames"), FPS, SIZE)


@pytest.fixture(scope="module")
def rtsp_ready() -> None:
    require()


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / "sessions.db")


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def _until(condition: Callable[[], bool], what: str, timeout_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what} after {timeout_s} s"
        time.sleep(0.1)


def _seen(event: Event, camera_id: int) -> bool:
    """Whether the camera's analysis has a face in view now."""
    (view,) = [camera for camera in event.cameras if camera.id == camera_id]
    return view.faces_in_view > 0


def _camera_rows(table: pd.DataFrame, camera: int) -> pd.DataFrame:
    return table[table["camera"] == camera].set_index("time_s")


# --- combining cameras (no server) ------------------------------------------------------------


def _second(time_s: float, faces: int, happy: float) -> dict:
    shares = dict.fromkeys(CLASSES, (1 - happy) / (len(CLASSES) - 1)) | {"happy": happy}
    if not faces:
        shares = dict.fromkeys(CLASSES, math.nan)
    return {"time_s": time_s, "n_frames": 10, "n_faces": faces, "n_tracks": faces, **shares}


def test_cameras_combine_by_faces_and_a_gap_leaves_the_others() -> None:
    hall = pd.DataFrame([_second(0, 40, 0.9), _second(1, 40, 0.9)])
    hall["attention"] = [1.0, 1.0]
    side = pd.DataFrame([_second(0, 10, 0.1), _second(2, 0, 0.0)])
    side["attention"] = [0.0, math.nan]
    combined = combine_timelines({1: hall, 2: side}).set_index("time_s")
    assert list(combined.reset_index().columns) == list(COMBINED_COLUMNS)
    assert combined["n_faces"].tolist() == [50, 40, 0]  # summed
    assert combined["cameras"].tolist() == [2, 1, 1]  # second 1: the side camera had a gap
    # 40 faces count four times 10: (40 * 0.9 + 10 * 0.1) / 50.
    assert combined.loc[0, "happy"] == pytest.approx(0.74)
    assert combined.loc[0, "attention"] == pytest.approx(0.8)
    assert combined.loc[0, list(CLASSES)].sum() == pytest.approx(1)
    assert combined.loc[1, "happy"] == pytest.approx(0.9) and combined.loc[1, "dominant"] == "happy"
    assert np.isnan(combined.loc[2, "valence"]) and combined.loc[2, "dominant"] is None
    assert combine_timelines({}).empty

    figures = {"faces_in_view": 40.0, "faces_classified": 40.0, "attention_share": 1.0}
    hall_summary = {"frames_analyzed": 10, "face_detections": 400, "faces_seen": 41, **figures}
    hall_summary["distribution"] = dict(hall.loc[0, list(CLASSES)])
    side_summary = dict(hall_summary, faces_seen=12, faces_in_view=10.0, faces_classified=10.0)
    side_summary.update(attention_share=0.0, distribution=dict(side.loc[0, list(CLASSES)]))
    summary = combine_summaries([hall_summary, side_summary], duration_s=60)
    assert summary["faces_seen"] == 53 and summary["faces_in_view"] == 50  # counted twice
    assert summary["distribution"]["happy"] == pytest.approx(0.74)
    assert summary["attention_share"] == pytest.approx(0.8) and summary["cameras"] == 2


# --- events on real cameras -------------------------------------------------------------------


def _both_seen(snapshot, *cameras: int) -> set[float]:
    """The seconds in which every one of ``cameras`` saw one face (in the retained history)."""
    seen = [
        set(table.loc[table["n_faces"] == 1, "time_s"])
        for camera, table in snapshot.camera_timelines.items()
        if camera in cameras
    ]
    return set.intersection(*seen) if len(seen) == len(cameras) else set()


def test_two_cameras_make_one_event_with_each_timeline_and_the_sum(
    rtsp_ready: None, frames: Path, store: SessionStore
) -> None:
    with RtspServer(frames, paths=("hall", "stage"), fps=FPS) as server:
        event = Event(store, "Two cameras", ANALYZER, every_s=1)
        hall = event.add_camera(server.url("hall", userinfo=f"admin:{PASSWORD}"))
        stage = event.add_camera(server.url("stage"))
        session_id = event.start()
        assert event.wait_connected(15) == {}
        _until(lambda: _seen(event, hall) and _seen(event, stage), "both cameras' faces")
        _until(lambda: event.snapshot().faces_in_view == 2, "two faces in view")
        _until(lambda: len(_both_seen(event.snapshot(), hall, stage)) >= 4, "seconds with both")
        snapshot = event.snapshot()
        shown = [str(view) for view in snapshot.cameras] + [
            view.error or "" for view in snapshot.cameras
        ]
        latencies = [view.latency for view in snapshot.cameras]
        assert event.stop()
    assert snapshot.faces_in_view == 2 and snapshot.current is not None
    assert all(latency is not None and 0 < latency.mean_s < 5 for latency in latencies)
    assert all(
        view.preview is not None and view.preview.shape == (SIZE[1], SIZE[0], 3)
        for view in snapshot.cameras
    )

    session = store.get(session_id)
    assert session.kind == "event" and session.status == "finished"
    assert [camera.camera for camera in session.cameras] == [hall, stage]
    per_camera = session.camera_timeline
    seconds = []
    for camera in (hall, stage):
        rows = _camera_rows(per_camera, camera)
        assert (rows["n_faces"] == 1).sum() >= 3, rows
        seconds.append(set(rows.index[rows["n_faces"] == 1]))
    both = sorted(seconds[0] & seconds[1])
    assert len(both) >= 3
    combined = session.timeline.set_index("time_s")
    assert (combined.loc[both, "n_faces"] == 2).all()  # faces summed
    frames_sum = sum(
        _camera_rows(per_camera, camera).loc[both, "n_frames"] for camera in (hall, stage)
    )
    assert (combined.loc[both, "n_frames"] == frames_sum).all()
    assert combined.loc[both, list(CLASSES)].sum(axis=1).to_numpy() == pytest.approx(1)
    assert session.summary["cameras"] == 2 and session.summary["faces_seen"] == 2
    assert session.summary["frames_analyzed"] == sum(
        camera.summary["frames_analyzed"] for camera in session.cameras
    )
    assert session.gaps == []
    # The password is in no name, status, setting or stored field.
    masked = f"rtsp://admin:***@127.0.0.1:{server.port}/hall"
    assert session.cameras[0].name == masked and session.settings["cameras"][0] == masked
    stored = json.dumps(store.export(session_id)) + "".join(shown)
    assert PASSWORD not in stored and masked in stored


def test_a_camera_that_drops_leaves_a_gap_and_the_others_go_on(
    rtsp_ready: None, frames: Path, store: SessionStore
) -> None:
    with RtspServer(frames, fps=FPS) as lost, RtspServer(frames, fps=FPS) as kept:
        event = Event(store, "Power cut", ANALYZER, every_s=1)
        dropping = event.add_camera(lost.url())
        steady = event.add_camera(kept.url())
        session_id = event.start()
        _until(lambda: _seen(event, dropping) and _seen(event, steady), "both cameras' faces")
        lost.stop()  # the camera loses power
        _until(lambda: event.cameras[0].status == "reconnecting", "the drop", 15)
        time.sleep(3)
        lost.start()
        _until(lambda: event.cameras[0].status == "connected", "the camera's return", 30)
        _until(lambda: _seen(event, dropping), "faces again")
        time.sleep(2)
        assert event.stop()
    session = store.get(session_id)
    assert session.status == "finished"
    (gap,) = session.gaps
    assert gap.camera == dropping and gap.end_s is not None and gap.end_s - gap.start_s > 2.5
    inside = np.arange(math.floor(gap.start_s) + 1, math.floor(gap.end_s))  # whole seconds
    assert len(inside) >= 2
    away = _camera_rows(session.camera_timeline, dropping)
    there = _camera_rows(session.camera_timeline, steady)
    assert not away.index.isin(inside).any()  # no data, not "no faces"
    assert away.index.max() > gap.end_s  # its data continued after the gap
    assert there.index.isin(inside).sum() == len(inside)  # the other camera went on
    combined = session.timeline.set_index("time_s")
    assert (combined.loc[inside, "n_faces"] == there.loc[inside, "n_faces"]).all()
    assert (combined.loc[inside, "n_frames"] == there.loc[inside, "n_frames"]).all()


def test_a_camera_that_never_answers_fails_in_seconds_and_the_others_run(
    rtsp_ready: None, frames: Path, store: SessionStore
) -> None:
    with RtspServer(frames, fps=FPS) as server, silent_port() as silent:
        event = Event(store, "Dead cameras", ANALYZER, camera_options={"open_timeout_s": 2})
        good = event.add_camera(server.url())
        refused = event.add_camera(f"rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/cam")
        mute = event.add_camera(f"rtsp://admin:{PASSWORD}@127.0.0.1:{silent}/cam")
        started = time.monotonic()
        session_id = event.start()
        failed = event.wait_connected(15)
        elapsed = time.monotonic() - started
        assert set(failed) == {refused, mute} and elapsed < 8, (failed, elapsed)
        assert "refused" in failed[refused] and "no answer within 2 s" in failed[mute]
        assert all("admin:***@127.0.0.1" in message for message in failed.values())
        _until(lambda: _seen(event, good), "the working camera's faces")
        views = {view.id: view for view in event.cameras}
        assert event.stop()
    assert views[good].status == "connected" and views[refused].status == "failed"
    assert views[mute].error == failed[mute]
    session = store.get(session_id)
    assert [camera.camera for camera in session.cameras] == [good, refused, mute]
    assert set(session.camera_timeline["camera"]) == {good}
    assert PASSWORD not in json.dumps(store.export(session_id)) + str(views)


# --- fer-core watch ---------------------------------------------------------------------------


def _watch(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "watch.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_watch_runs_an_event_for_its_duration_and_saves_it(
    rtsp_ready: None, frames: Path, tmp_path: Path
) -> None:
    db = tmp_path / "watch.db"
    dead = f"rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/door"
    with RtspServer(frames, fps=FPS) as server:
        url = server.url(userinfo=f"admin:{PASSWORD}")
        command = _watch(url, dead, "--event", "Keynote", "--duration", "20", "--db", str(db))
        out, err = command.communicate(timeout=120)
    assert command.returncode == 0, err
    assert "warning: camera rtsp://admin:***@127.0.0.1" in err and "refused" in err
    assert "1/2 cameras" in out and "faces" in out and "saved session #1 'Keynote'" in out
    assert PASSWORD not in out + err
    session = SessionStore(db).get(1)
    assert session.status == "finished" and session.kind == "event"
    assert session.duration_s == pytest.approx(20, abs=3)
    assert (_camera_rows(session.camera_timeline, 1)["n_faces"] == 1).sum() >= 3
    assert session.timeline["n_faces"].max() == 1 and list(session.timeline.columns) == list(
        TIMELINE_COLUMNS
    )
    assert PASSWORD not in json.dumps(session.to_dict())


def test_watch_stops_and_saves_on_sigterm_and_fails_without_cameras(
    rtsp_ready: None, frames: Path, tmp_path: Path
) -> None:
    db = tmp_path / "watch.db"
    with RtspServer(frames, fps=FPS) as server:
        command = _watch(server.url(), "--event", "Open end", "--db", str(db))
        deadline = time.monotonic() + DEADLINE_S
        while "session #1" not in (line := command.stdout.readline()):
            assert line and time.monotonic() < deadline, command.stderr.read()
        # Until the model has loaded and a save has stored the camera's seconds.
        while SessionStore(db).camera_timeline(1).empty:
            assert time.monotonic() < deadline, "no camera second was saved"
            time.sleep(0.5)
        command.send_signal(signal.SIGTERM)
        out, err = command.communicate(timeout=60)
    assert command.returncode == 0, err
    assert "saved session #1 'Open end'" in out
    stopped = SessionStore(db).get(1)
    assert stopped.status == "finished" and not stopped.camera_timeline.empty

    started = time.monotonic()
    nobody = _watch(f"rtsp://127.0.0.1:{free_port()}/cam", "--event", "Empty", "--db", str(db))
    out, err = nobody.communicate(timeout=60)
    assert nobody.returncode == 1 and time.monotonic() - started < 30
    assert "no camera could be reached" in err and "refused" in err
    assert SessionStore(db).list()["name"].tolist() == ["Open end"]  # nothing was kept
