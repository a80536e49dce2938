"""Every dashboard page through Streamlit's AppTest, with a private session database.

Analysis runs in worker processes; ``test_the_server_process_never_imports_tensorflow`` runs
``serve_every_page`` in a fresh interpreter to check what the server's process imports.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import time as dt_time
from pathlib import Path
from types import SimpleNamespace

import av
import pandas as pd
import pytest
import rtsp
import sqlalchemy as sa
import streamlit_webrtc
import streamlit_webrtc.component
from streamlit.testing.v1 import AppTest

from fer_core import analytics
from fer_core.catalog import DEFAULT_MODEL
from fer_core.detection import DEFAULT_DETECTOR
from fer_core.events import Alert, Segment
from fer_core.labels import CLASSES
from fer_core.sessions import SessionStore
from fer_core.synthetic import scene, write_demo_video
from fer_core.workers import LiveWorker

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
DEADLINE_S = 300  # a worker process loads TensorFlow and the model; two shared cores are slow


@pytest.fixture(autouse=True)
def _keep_main(monkeypatch):
    """AppTest leaves the app script as ``__main__``, which multiprocessing's spawn would
    re-run in every child process of a later test (the batch pool's): put it back after."""
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])


@pytest.fixture
def database(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "sessions.db"
    monkeypatch.setenv("FER_CORE_DB", str(path))
    # AppTest has no real Runtime; streamlit-webrtc treats "no session info" as a unit test.
    monkeypatch.setattr(streamlit_webrtc.component, "get_this_session_info", lambda: None)
    return path


@pytest.fixture
def app(database) -> AppTest:
    test = AppTest.from_file(str(APP), default_timeout=120)
    test.run()
    assert not test.exception, test.exception
    return test


@pytest.fixture(scope="module")
def demo_video(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("video") / "talk.mp4"
    return write_demo_video(path, seconds=2.0, fps=6, n_faces=2, width=320, height=180).read_bytes()


def _open(app: AppTest, page: str) -> AppTest:
    app.switch_page(f"views/{page}.py")
    app.run()
    assert not app.exception, app.exception
    return app


def _metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait until a worker process makes ``condition`` true."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what} after {DEADLINE_S} s"
        time.sleep(0.05)


def _stream(monitor: LiveWorker, until: Callable[[], bool]) -> None:
    """What streamlit-webrtc's thread does with a 10 fps camera, until ``until()``."""
    deadline = time.monotonic() + DEADLINE_S
    index = 0
    while not until():
        assert monitor.status != "failed", monitor.error
        assert time.monotonic() < deadline, f"the worker analyzed nothing in {DEADLINE_S} s"
        frame = av.VideoFrame.from_ndarray(scene(index / 10, 2, 480, 270, 96), format="bgr24")
        monitor.callback(frame)
        index += 1
        time.sleep(0.1)


def _warning(app: AppTest, start: str) -> str | None:
    """The page's warning that starts with ``start``, if it shows one."""
    return next((w.value for w in app.warning if w.value.startswith(start)), None)


def _analyze_upload(app: AppTest, video: bytes) -> AppTest:
    _open(app, "video")
    app.file_uploader[0].set_value(("talk.mp4", video, "video/mp4"))
    app.select_slider[0].set_value("every frame")
    app.checkbox[0].check()
    app.run()
    app.button[0].click().run()
    assert not app.exception, app.exception
    return app


def _save_session(database: Path, name: str, seconds: int) -> int:
    """A finished session of one happy face, as a batch run would store it."""
    others = dict.fromkeys(("angry", "disgust", "fear", "neutral", "sad", "surprise"), 0.05)
    table = pd.DataFrame(
        [
            {"time_s": float(t), "frame": t, "track_id": 1, "x": 0, "y": 0, "w": 50, "h": 50}
            | {"label": "happy", "confidence": 0.7, "happy": 0.7}
            | others
            for t in range(seconds)
        ]
    )
    return SessionStore(database).save(
        name, "video", analytics.timeline(table), table, analytics.summarize(table)
    )


def test_every_page_opens(app):
    assert app.title[0].value == "Live audience"
    for page, title in [
        ("cameras", "Room cameras"),
        ("video", "Analyze a recorded video"),
        ("sessions", "Sessions"),
        ("model", "Models"),
        ("about", "About & privacy"),
        ("live", "Live audience"),
    ]:
        assert _open(app, page).title[0].value == title


def test_live_page_shows_what_the_worker_analyzed_and_a_worker_death(app):
    assert _metrics(app) == {
        "Frames analyzed": "0",
        "Faces in view": "0",
        "Faces classified": "0",
        "Faces seen": "0",
        "Attention": "-",
    }
    labels = {widget.label for widget in app.selectbox} | {widget.label for widget in app.slider}
    assert {"Model", "Face detector", "Smoothing (s)", "Minimum face size (px)"} <= labels
    assert app.selectbox(key="live_detector").value == DEFAULT_DETECTOR
    assert app.toggle[0].label == "Blur faces in the video"
    monitor: LiveWorker = app.session_state["live_monitor"]
    assert monitor.pid is None  # no worker before START
    with monitor:  # what START and STOP do
        # Until both faces are people: a second search, a second of stream after the first.
        _stream(monitor, lambda: monitor.snapshot().faces_in_view == 2)
        app.run()
        metrics = _metrics(app)
        assert int(metrics["Frames analyzed"]) >= 3
        assert metrics["Faces in view"] == "2" and metrics["Faces seen"] == "2"
        assert metrics["Faces classified"] == "2"  # both large enough to read
        assert metrics["Attention"] == "100%"  # both face the camera
        assert len(app.get("plotly_chart")) == 4  # now, emotions over time, valence, attention
        assert not app.error

        os.kill(monitor.pid, signal.SIGKILL)  # the model's process crashes
        _until(lambda: monitor.status == "failed", "the worker's death to be noticed")
        app.run()
        assert not app.exception, app.exception
        stopped = _warning(app, "The analysis stopped")
        assert stopped.startswith("The analysis stopped: the fer-live-worker process")
        assert "SIGKILL" in stopped and "Restarting it in" in stopped
        assert int(_metrics(app)["Frames analyzed"]) >= 3  # what was analyzed stays shown
        # The stream's next frames bring a fresh worker; the page says it restarted.
        _until(lambda: monitor.restart_in_s == 0, "the restart to fall due")
        monitor.callback(av.VideoFrame.from_ndarray(scene(0, 2, 480, 270, 96), format="bgr24"))
        assert monitor.restarts == 1 and monitor.status == "starting"
        _stream(monitor, lambda: monitor.status == "running")
        app.run()
        assert not app.error and _warning(app, "The analysis stopped") is None
        assert any("restarted 1x" in caption.value for caption in app.caption)


class FakeWebrtc:
    """streamlit-webrtc's component as the Live page sees it: playing or not, and the
    callbacks it would call from its own threads."""

    def __init__(self) -> None:
        self.playing = False
        self.options: dict = {}

    def __call__(self, **options):
        self.options = options
        return SimpleNamespace(state=SimpleNamespace(playing=self.playing))


def test_a_live_stream_is_saved_and_closed_when_its_tab_closes(database, monkeypatch):
    webrtc = FakeWebrtc()
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", webrtc)
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    webrtc.playing = True
    app.run()  # START
    assert not app.exception, app.exception
    session_id = app.session_state["live_session_id"]
    store = SessionStore(database)
    assert store.get(session_id).status == "recording"
    monitor: LiveWorker = app.session_state["live_monitor"]
    _stream(monitor, lambda: monitor.snapshot().faces_in_view == 2)
    app.text_input(key="segment_name").set_value("Keynote")
    next(b for b in app.button if b.label == "Next segment").click().run()
    assert not app.exception, app.exception
    _stream(monitor, lambda: monitor.snapshot().frames >= 30)
    next(b for b in app.button if b.label == "Next segment").click().run()  # no name
    webrtc.options["on_video_ended"]()  # the tab closes: no rerun of the page follows
    assert monitor.pid is None
    session = store.get(session_id)
    assert session.status == "finished" and session.ended_at is not None
    summary = monitor.summary()
    assert session.summary["frames_analyzed"] == summary["frames_analyzed"] >= 3
    # Each person's first reading in each second; the summary counts every one.
    assert 0 < len(session.faces) <= summary["face_detections"]
    seconds = session.faces.assign(second=session.faces["time_s"] // 1)
    assert not seconds.duplicated(["track_id", "second"]).any()
    assert session.timeline["n_frames"].sum() == summary["frames_analyzed"]
    assert [segment.title for segment in session.segments] == ["Keynote", "Segment 2"]
    assert session.segments[0].end_s == session.segments[1].start_s > session.segments[0].start_s


def test_sessions_whose_server_died_are_shown_as_interrupted(app, database):
    store = SessionStore(database)
    lost = store.create("Live before a restart", "live")
    store.append(lost, summary={"faces_seen": 4})
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE sessions SET heartbeat_at = '2026-01-01 10:00:00'"))
    _open(app, "sessions")
    listed = app.dataframe[0].value
    assert listed["status"].tolist() == ["interrupted"]
    assert any("This stream was interrupted" in warning.value for warning in app.warning)
    assert _metrics(app)["Faces seen"] == "4"


def test_live_settings_build_a_new_analyzer_between_streams(app):
    first = app.session_state["live_monitor"]
    app.slider(key="live_min_face").set_value(48).run()
    second = app.session_state["live_monitor"]
    assert second is not first and second.analyzer_options["min_face"] == 48
    app.toggle(key="live_blur").set_value(True).run()
    assert app.session_state["live_monitor"] is second and second.blur


def test_uploaded_video_gives_charts_downloads_and_a_session(app, database, demo_video):
    assert _open(app, "video").button[0].disabled  # nothing uploaded yet
    _analyze_upload(app, demo_video)
    assert not app.error
    metrics = _metrics(app)
    assert metrics["Faces seen"] == "2" and metrics["Frames analyzed"] == "12"
    assert metrics["Faces in view"] == metrics["Faces classified"] == "2.0"
    charts = [chart.key for chart in app.get("plotly_chart")]
    assert charts == ["video_overall", "video_area", "video_valence", "video_attention"]
    tracks = app.dataframe[0].value
    assert list(tracks.columns) == list(analytics.TRACK_COLUMNS) and len(tracks) == 2
    downloads = [button.proto.label for button in app.get("download_button")]
    assert downloads == ["Per-face CSV", "Per-second CSV", "Summary JSON", "Annotated MP4"]
    saved = SessionStore(database).list()
    assert saved["name"].tolist() == ["talk.mp4"] and saved["kind"].tolist() == ["video"]
    assert saved.loc[0, "faces_seen"] == 2


def test_an_agenda_uploaded_with_a_video_divides_its_session(app, database, demo_video):
    _open(app, "video")
    agenda = b"00:00 Opening\n00:01 Q&A\n"  # a chapter list
    app.file_uploader[1].set_value(("chapters.txt", agenda, "text/plain"))
    _analyze_upload(app, demo_video)
    assert not app.error
    table = next(frame.value for frame in app.dataframe if "title" in frame.value)
    assert table["title"].tolist() == ["Opening", "Q&A"]
    assert table["end_s"].tolist() == [1.0, 2.0]  # the last ends with the video
    (session_id,) = SessionStore(database).list()["id"]
    titles = [segment.title for segment in SessionStore(database).segments(session_id)]
    assert titles == ["Opening", "Q&A"]

    _open(app, "video")
    app.file_uploader[1].set_value(("agenda.csv", b"start,end,title\n5,2,Backwards\n", "text/csv"))
    _analyze_upload(app, demo_video)
    assert "agenda.csv, line 2" in app.error[0].value  # refused before any analysis
    assert len(SessionStore(database).list()) == 1


def test_a_result_the_database_refuses_is_kept_with_its_file_and_saved_on_retry(
    app, database, demo_video, monkeypatch
):
    save = SessionStore.save
    refusals = []

    def locked_once(store, *args, **kwargs):
        if not refusals:
            refusals.append(args[0])
            raise sa.exc.OperationalError(
                "INSERT INTO sessions", {}, Exception("database is locked")
            )
        return save(store, *args, **kwargs)

    monkeypatch.setattr(SessionStore, "save", locked_once)
    _analyze_upload(app, demo_video)
    assert refusals == ["talk.mp4"]
    assert "could not be saved as a session" in app.error[0].value
    assert "database is locked" in app.error[0].value
    assert _metrics(app)["Faces seen"] == "2"  # the analysis is still shown
    downloads = [button.proto.label for button in app.get("download_button")]
    assert downloads == ["Per-face CSV", "Per-second CSV", "Summary JSON", "Annotated MP4"]
    annotated = app.session_state["video_result"]["annotated"]
    assert annotated.stat().st_size > 0  # on disk, not in the server's memory
    assert [path.name for path in annotated.parent.iterdir()] == ["annotated.mp4"]  # no upload
    assert SessionStore(database).list().empty

    next(button for button in app.button if button.label == "Save again").click().run()
    assert not app.exception and not app.error
    assert "saved as session" in app.success[0].value
    saved = SessionStore(database).list()
    assert saved["name"].tolist() == ["talk.mp4"] and saved.loc[0, "faces_seen"] == 2
    assert annotated.exists()
    app.button[0].click().run()  # analyzed again: the earlier result and its file are gone
    assert not annotated.parent.exists()


def test_a_corrupt_upload_gives_a_clear_message(app, database):
    _open(app, "video")
    app.file_uploader[0].set_value(("broken.mp4", b"not a video at all" * 100, "video/mp4"))
    app.run()
    app.button[0].click().run()
    assert not app.exception
    assert "Could not analyze broken.mp4" in app.error[0].value
    assert SessionStore(database).list().empty


def test_sessions_open_rename_export_compare_delete(app, database, monkeypatch):
    opened = []
    get = SessionStore.get
    monkeypatch.setattr(
        SessionStore, "get", lambda store, *args, **kw: opened.append(kw) or get(store, *args, **kw)
    )
    _open(app, "sessions")
    assert "No sessions yet" in app.info[0].value
    first = _save_session(database, "Morning", 4)
    second = _save_session(database, "Afternoon", 3)
    app.run()
    assert not app.exception
    listed = app.dataframe[0].value
    assert set(listed["name"]) == {"Morning", "Afternoon"}
    session_box = next(box for box in app.selectbox if box.label == "Session")
    session_box.set_value(first).run()
    assert _metrics(app)["Faces seen"] == "1"
    downloads = [button.proto.label for button in app.get("download_button")]
    assert set(downloads) == {"Export JSON", "Per-second CSV", "Per-face CSV"} | {
        "Report (HTML)",
        "Report (PDF)",
    }
    assert opened and all(kw == {"faces": False} for kw in opened)  # per-face rows: on export
    tables = len(app.dataframe)
    app.toggle(key="session_tracks").set_value(True).run()
    tracks = app.dataframe[tables].value
    assert tracks["track_id"].tolist() == [1] and tracks["detections"].tolist() == [4]
    app.toggle(key="session_tracks").set_value(False).run()
    app.text_input[0].set_value("Morning keynote")
    next(button for button in app.button if button.label == "Rename").click().run()
    assert SessionStore(database).get(first).name == "Morning keynote"

    app.multiselect[0].set_value([first, second]).run()
    assert not app.exception
    assert len(app.get("plotly_chart")) == 3  # the opened session's two, and the comparison

    session_box = next(box for box in app.selectbox if box.label == "Session")
    session_box.set_value(second).run()
    delete = next(button for button in app.button if button.label == "Delete session")
    assert delete.disabled  # needs the confirmation first
    app.checkbox[0].check().run()
    next(button for button in app.button if button.label == "Delete session").click().run()
    assert SessionStore(database).list()["id"].tolist() == [first]
    assert json.loads(json.dumps(SessionStore(database).export(first)))["name"] == "Morning keynote"


def test_a_session_shows_its_segments_and_alerts_and_takes_an_agenda(app, database):
    table = pd.DataFrame(
        [
            {"time_s": float(t), "frame": t, "track_id": 1, "x": 0, "y": 0, "w": 50, "h": 50}
            | {"label": "happy", "confidence": 0.7}
            | dict.fromkeys(CLASSES, 0.05)
            | {"happy": 0.7, "attending": float(t < 60)}
            for t in range(120)
        ]
    )
    store = SessionStore(database)
    session_id = store.save(
        "Open day",
        "video",
        analytics.timeline(table),
        table,
        analytics.summarize(table),
        segments=[Segment(0.0, 60.0, "Welcome"), Segment(60.0, None, "Demo")],
        alerts=[Alert(75.0, "attention falling", "attention", 1.0, 0.0, "Attention fell")],
    )
    _open(app, "sessions")
    next(box for box in app.selectbox if box.label == "Session").set_value(session_id).run()
    assert not app.exception, app.exception
    segments = next(frame.value for frame in app.dataframe if "title" in frame.value)
    assert segments["title"].tolist() == ["Welcome", "Demo"]
    assert segments["attention"].tolist() == [1.0, 0.0]
    alerts = next(frame.value for frame in app.dataframe if "alert" in frame.value)
    assert alerts["alert"].tolist() == ["Attention fell"]
    charts = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    titles = [chart["layout"]["title"]["text"] for chart in charts]
    assert "Attention" in titles and "mean valence by segment" in titles
    bands = [shape for shape in charts[0]["layout"]["shapes"] if shape["type"] == "rect"]
    assert [(band["x0"], band["x1"]) for band in bands] == [(0.0, 60.0), (60.0, 120.0)]

    agenda = b"start,end,title\n0,0:30,Intro\n0:30,,Q&A\n"
    app.file_uploader(key=f"agenda_{session_id}").set_value(("agenda.csv", agenda, "text/csv"))
    app.run()
    next(b for b in app.button if b.label.startswith("Replace the segments")).click().run()
    assert not app.exception, app.exception
    assert SessionStore(database).segments(session_id) == [
        Segment(0.0, 30.0, "Intro"),
        Segment(30.0, None, "Q&A"),
    ]
    app.file_uploader(key=f"agenda_{session_id}").set_value(("bad.csv", b"start,end\n", "text/csv"))
    app.run()
    next(b for b in app.button if b.label.startswith("Replace the segments")).click().run()
    assert any("was not imported" in error.value for error in app.error)
    assert len(SessionStore(database).segments(session_id)) == 2  # unchanged


def _start_event(app: AppTest, name: str, cameras: str) -> AppTest:
    next(text for text in app.text_input if text.label == "Event name").set_value(name)
    next(area for area in app.text_area if area.label.startswith("Cameras")).set_value(cameras)
    next(button for button in app.button if button.label == "Start event").click().run()
    assert not app.exception, app.exception
    return app


def test_an_event_with_room_cameras_runs_on_the_server_and_is_saved(app, database, tmp_path):
    rtsp.require()
    frames = rtsp.write_face_frames(tmp_path / "frames", 15, (320, 240))
    _open(app, "cameras")
    assert "No event is running" in app.info[0].value
    app.time_input[0].set_value(dt_time(0, 0))
    _start_event(app, "Too late", "rtsp://127.0.0.1:9/cam")
    assert "00:00 has passed today" in app.error[0].value
    app.time_input[0].set_value(None)
    _start_event(app, "Bad", "ftp://camera/stream")
    assert "not started" in app.error[0].value and "ftp" in app.error[0].value
    assert common_events(app) == {}  # nothing runs, nothing is stored
    assert SessionStore(database).list().empty
    with rtsp.RtspServer(frames, fps=15) as server:
        dead = f"rtsp://admin:hunter22@127.0.0.1:{rtsp.free_port()}/cam"
        _start_event(app, "Open day", f"{server.url()}\n{dead}")
        ((session_id, event),) = common_events(app).items()
        _until(lambda: event.snapshot().faces_in_view == 1, "the camera's face")
        _until(lambda: event.cameras[1].status == "failed", "the dead camera to fail")
        app.run()
        assert not app.exception, app.exception
        metrics = _metrics(app)
        assert metrics["Cameras connected"] == "1 / 2" and metrics["Faces in view"] == "1"
        shown = " ".join(element.value for element in app.markdown) + str(app.error)
        assert "hunter22" not in shown and "admin:***@" in shown
        assert len(app.get("image")) >= 1  # the live camera's annotated preview
        next(button for button in app.button if button.label == "Stop event").click().run()
        assert not app.exception, app.exception
    session = SessionStore(database).get(session_id)
    assert session.kind == "event" and session.status == "finished"
    assert [camera.name for camera in session.cameras][1] == dead.replace("hunter22", "***")
    assert (session.camera_timeline["n_faces"] == 1).any()
    assert common_events(app) == {}
    _open(app, "sessions")
    cameras = next(frame.value for frame in app.dataframe if "camera" in frame.value)
    assert cameras["camera"].tolist() == [
        f"#1 {session.cameras[0].name}",
        f"#2 {dead}".replace("hunter22", "***"),
    ]
    charts = [chart.key for chart in app.get("plotly_chart")]
    assert "session_cameras" in charts


def common_events(app: AppTest) -> dict:
    """The server's running events, as the page keeps them (one cache for every session)."""
    import common

    return common.running_events()


def test_an_export_is_built_when_downloaded_from_rows_streamed_to_a_file(database, monkeypatch):
    monkeypatch.syspath_prepend(str(APP.parent))
    import common

    session_id = _save_session(database, "Morning", 5)
    store = SessionStore(database)
    chunks = []
    faces_chunks = store.faces_chunks
    monkeypatch.setattr(
        store, "faces_chunks", lambda *args: chunks.append(args) or faces_chunks(*args)
    )
    build = common.streamed_download(store.write_json, session_id)
    assert chunks == []  # nothing read until the download is clicked
    assert json.loads(build()) == json.loads(json.dumps(store.export(session_id)))
    faces = common.streamed_download(store.write_faces_csv, session_id)()
    table = pd.read_csv(io.BytesIO(faces))
    assert table["time_s"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and len(chunks) == 2


def test_model_page_shows_the_shipped_figures(app):
    _open(app, "model")
    metrics = _metrics(app)
    shipped = json.loads((APP.parents[1] / "models" / DEFAULT_MODEL / "metrics.json").read_text())
    assert metrics["Accuracy"] == f"{shipped['accuracy']:.1%}"
    assert metrics["Test images"] == f"{shipped['n_images']:,}"
    assert len(app.dataframe[0].value) == 7
    assert len(app.get("plotly_chart")) == 1


def test_password_gate(database, tmp_path):
    test = AppTest.from_file(str(APP), default_timeout=60)
    test.secrets["password"] = "s3cret"
    test.run()
    assert not test.title  # nothing but the login form
    test.text_input[0].set_value("wrong")
    test.button[0].click().run()
    assert "Wrong password" in test.error[0].value and not test.title
    test.text_input[0].set_value("s3cret")
    test.button[0].click().run()
    assert test.title[0].value == "Live audience"


def test_the_server_process_never_imports_tensorflow(tmp_path, demo_video):
    """Streamlit clears the Keras session after every rerun once Keras is imported, and
    TensorFlow before aiortc crashes: the server must leave both to its workers."""
    video = tmp_path / "talk.mp4"
    video.write_bytes(demo_video)
    env = {**os.environ, "FER_CORE_DB": str(tmp_path / "sessions.db")}
    code = (
        "import json, sys, test_dashboard as t; print(json.dumps(t.serve_every_page(sys.argv[1])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(video)], cwd=Path(__file__).parent,
        capture_output=True, text=True, env=env, timeout=3 * DEADLINE_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["video_faces_seen"] == "2" and seen["live_frames_analyzed"] > 0, seen
    assert seen["tensorflow_or_keras"] == [], seen


def serve_every_page(video: str) -> dict:
    """Open every page, analyze a video and stream to the Live page, as the server does;
    then report the TensorFlow and Keras modules this process imported (none, we expect)."""
    streamlit_webrtc.component.get_this_session_info = lambda: None  # as the fixture does
    app = AppTest.from_file(str(APP), default_timeout=DEADLINE_S)
    app.run()
    for page in ("sessions", "model", "about", "cameras", "live"):
        _open(app, page)
    monitor: LiveWorker = app.session_state["live_monitor"]
    with monitor:
        _stream(monitor, lambda: monitor.snapshot().frames >= 1)
    app.run()
    live_frames = int(_metrics(app)["Frames analyzed"])
    video_faces_seen = _metrics(_analyze_upload(app, Path(video).read_bytes()))["Faces seen"]
    heavy = sorted(name for name in sys.modules if name.split(".")[0] in {"tensorflow", "keras"})
    return {
        "tensorflow_or_keras": heavy,
        "live_frames_analyzed": live_frames,
        "video_faces_seen": video_faces_seen,
    }
