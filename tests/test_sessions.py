"""The session store: create/append/finish, list, open, rename, delete, export, compare."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from fer_core import analytics
from fer_core.events import Alert, Segment
from fer_core.labels import CLASSES
from fer_core.sessions import (
    CAMERA_TRACKS,
    SCHEMA_VERSION,
    CameraGap,
    SessionNotFoundError,
    SessionStore,
    SessionStoreError,
    database_url,
)


def _faces(times: list[float], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(len(CLASSES)), size=len(times))
    table = pd.DataFrame(probs, columns=list(CLASSES))
    table.insert(0, "time_s", times)
    table.insert(1, "frame", range(len(times)))
    table.insert(2, "track_id", 1)
    for column, value in zip("xywh", (10, 20, 64, 64), strict=True):
        table.insert(3 + "xywh".index(column), column, value)
    table["label"] = [CLASSES[i] for i in probs.argmax(axis=1)]
    table["confidence"] = probs.max(axis=1)
    table["yaw"] = rng.uniform(-60, 60, len(times))
    table["pitch"] = rng.uniform(-20, 20, len(times))
    table["attending"] = (table["yaw"].abs() < 30).astype(float)
    return table[list(analytics.FACE_COLUMNS)]


@pytest.fixture
def store(tmp_path) -> SessionStore:
    return SessionStore(tmp_path / "sessions.db")


def test_save_and_get_round_trip(store):
    faces = _faces([0.0, 0.5, 1.0, 2.5])
    frame_times = [0.0, 0.5, 1.0, 1.5, 2.5]
    timeline = analytics.timeline(faces, frame_times)
    summary = analytics.summarize(faces, frame_times)
    start = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    session_id = store.save(
        "Keynote",
        "video",
        timeline,
        faces,
        summary,
        {"detector": "haar", "sample_fps": np.float64(2.0)},
        started_at=start,
        ended_at=start + timedelta(seconds=3),
    )
    session = store.get(session_id)
    assert (session.name, session.kind) == ("Keynote", "video")
    assert session.started_at == start and session.duration_s == 3.0
    assert session.settings == {"detector": "haar", "sample_fps": 2.0}
    assert session.summary == json.loads(json.dumps(summary))
    pd.testing.assert_frame_equal(session.timeline, timeline, check_dtype=False)
    pd.testing.assert_frame_equal(session.faces, faces, check_dtype=False)


def test_live_session_grows_and_replaces_buckets(store):
    session_id = store.create("Lecture", "live", {"smoothing_s": 0.5})
    first = analytics.timeline(_faces([0.0, 0.4]))
    store.append_timeline(session_id, first)
    grown = analytics.timeline(_faces([0.0, 0.4, 0.8, 1.2], seed=1))
    store.append_timeline(session_id, grown)  # bucket 0 grew: replaced, not duplicated
    store.append_faces(session_id, _faces([0.0, 0.4]).drop(columns="frame"))
    listed = store.list()
    assert listed.loc[0, "ended_at"] is None or pd.isna(listed.loc[0, "ended_at"])
    store.finish(session_id, {"faces_seen": 1, "dominant": "happy", "mean_valence": 0.2})
    session = store.get(session_id)
    assert session.timeline["time_s"].tolist() == [0.0, 1.0]
    assert session.timeline["n_frames"].tolist() == [3, 1]
    assert (session.faces["frame"] == -1).all()
    row = store.list().iloc[0]
    assert (row["faces_seen"], row["dominant"], row["seconds"]) == (1, "happy", 2)
    assert row["duration_s"] >= 0


def test_list_rename_delete(store):
    assert store.list().empty
    old = store.create("a", "live", started_at=datetime(2026, 1, 1, tzinfo=UTC))
    new = store.create("b", "video", started_at=datetime(2026, 2, 1, tzinfo=UTC))
    assert store.list()["id"].tolist() == [new, old]  # newest first
    store.rename(old, "  renamed ")
    assert store.get(old).name == "renamed"
    store.append_timeline(old, analytics.timeline(_faces([0.0])))
    store.append_faces(old, _faces([0.0]))
    store.delete(old)
    assert store.list()["id"].tolist() == [new]
    with pytest.raises(SessionNotFoundError, match=str(old)):
        store.get(old)
    with pytest.raises(SessionNotFoundError):
        store.delete(old)


def test_export_is_json_with_nulls_for_empty_seconds(store):
    faces = _faces([0.0])
    timeline = analytics.timeline(faces, [0.0, 1.0])  # second 1 had frames but nobody
    session_id = store.save("x", "video", timeline, faces, analytics.summarize(faces))
    exported = json.loads(json.dumps(store.export(session_id)))
    assert exported["name"] == "x"
    assert len(exported["timeline"]) == 2
    assert exported["timeline"][1]["valence"] is None
    assert exported["timeline"][1]["dominant"] is None
    assert len(exported["faces"]) == 1


def test_compare_lines_up_sessions(store):
    a = store.save("a", "video", analytics.timeline(_faces([0.0, 1.0, 2.0])))
    b = store.save("b", "live", analytics.timeline(_faces([0.0, 1.0], seed=3)))
    long = store.compare([a, b], "valence")
    assert list(long.columns) == ["session", "time_s", "valence"]
    assert long.groupby("session").size().to_dict() == {f"a (#{a})": 3, f"b (#{b})": 2}
    with pytest.raises(ValueError, match="dominant"):
        store.compare([a], "dominant")


def test_bad_input_is_rejected_and_nothing_half_saved(store):
    with pytest.raises(ValueError, match="kind"):
        store.create("x", "webcam")
    with pytest.raises(ValueError, match="name"):
        store.create("  ", "live")
    with pytest.raises(SessionStoreError, match="valence"):
        store.save("bad", "video", pd.DataFrame({"time_s": [0.0]}))
    assert store.list().empty
    with pytest.raises(SessionNotFoundError):
        store.append_timeline(99, analytics.timeline(_faces([0.0])))


def test_location_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CORE_DB", str(tmp_path / "env" / "s.db"))
    assert database_url() == f"sqlite:///{tmp_path / 'env' / 's.db'}"
    assert database_url("postgresql://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(SessionStoreError, match="cannot open"):
        SessionStore("sqlite:////nonexistent-dir/x/y.db")


def _hold_write_lock(path) -> sqlite3.Connection:
    """Another process's writer, mid-transaction: the database is locked for writing."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute(
        "INSERT INTO sessions (name, kind, started_at, settings) "
        "VALUES ('x', 'video', '2026-01-01', '{}')"
    )
    return other


def test_a_reader_in_another_process_does_not_block_a_write(tmp_path):
    path = tmp_path / "sessions.db"
    store = SessionStore(path, busy_timeout_s=0.2, attempts=1)
    session_id = store.create("Lecture", "live")
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM sessions").fetchone() == (1,)  # holds a snapshot
    store.append(session_id, _faces([0.0, 0.5]), analytics.timeline(_faces([0.0, 0.5])))
    reader.execute("COMMIT")
    assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    reader.close()
    assert len(store.get(session_id).faces) == 2


def test_a_locked_database_is_waited_for_and_retried(tmp_path):
    path = tmp_path / "sessions.db"
    store = SessionStore(path, busy_timeout_s=0.3, attempts=4)
    session_id = store.create("Lecture", "live")
    other = _hold_write_lock(path)
    threading.Timer(0.8, lambda: other.execute("ROLLBACK")).start()  # longer than one wait
    store.append(session_id, _faces([0.0, 0.5]), analytics.timeline(_faces([0.0, 0.5])))
    other.close()
    assert len(store.get(session_id).faces) == 2


def test_a_write_that_stays_locked_fails_whole_and_can_be_repeated(tmp_path):
    path = tmp_path / "sessions.db"
    store = SessionStore(path, busy_timeout_s=0.05, attempts=2)
    session_id = store.create("Lecture", "live")
    store.append(session_id, None, analytics.timeline(_faces([0.0])))  # a second, stored before
    faces = _faces([0.0, 0.5, 1.0])
    timeline = analytics.timeline(faces)
    other = _hold_write_lock(path)
    with pytest.raises(SessionStoreError, match="database is locked"):
        store.append(session_id, faces, timeline)
    other.close()  # its transaction is rolled back
    session = store.get(session_id)
    assert session.faces.empty and session.timeline["n_frames"].tolist() == [1]
    store.append(session_id, faces, timeline)
    session = store.get(session_id)
    pd.testing.assert_frame_equal(session.faces, faces, check_dtype=False)
    pd.testing.assert_frame_equal(session.timeline, timeline, check_dtype=False)


def test_a_batch_save_is_stored_whole_or_not_at_all(tmp_path):
    path = tmp_path / "sessions.db"
    store = SessionStore(path, busy_timeout_s=0.05, attempts=1)
    faces = _faces([0.0, 0.5])
    other = _hold_write_lock(path)
    with pytest.raises(SessionStoreError, match="locked"):
        store.save("talk.mp4", "video", analytics.timeline(faces), faces)
    other.close()
    assert store.list().empty


#: The schema before versions (version 1), as the store created it.
VERSION_1 = [
    """CREATE TABLE sessions (id INTEGER NOT NULL, name VARCHAR(200) NOT NULL,
    kind VARCHAR(16) NOT NULL, started_at DATETIME NOT NULL, ended_at DATETIME,
    settings JSON NOT NULL, summary JSON, PRIMARY KEY (id))""",
    """CREATE TABLE timeline (session_id INTEGER NOT NULL, time_s FLOAT NOT NULL,
    n_frames INTEGER NOT NULL, n_faces INTEGER NOT NULL, n_tracks INTEGER NOT NULL,
    angry FLOAT, disgust FLOAT, fear FLOAT, happy FLOAT, neutral FLOAT, sad FLOAT,
    surprise FLOAT, dominant VARCHAR(16), valence FLOAT, PRIMARY KEY (session_id, time_s),
    FOREIGN KEY(session_id) REFERENCES sessions (id))""",
    """CREATE TABLE faces (id INTEGER NOT NULL, session_id INTEGER NOT NULL,
    time_s FLOAT NOT NULL, frame INTEGER NOT NULL, track_id INTEGER NOT NULL,
    x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,
    label VARCHAR(16), confidence FLOAT, angry FLOAT, disgust FLOAT, fear FLOAT, happy FLOAT,
    neutral FLOAT, sad FLOAT, surprise FLOAT, PRIMARY KEY (id),
    FOREIGN KEY(session_id) REFERENCES sessions (id))""",
    "CREATE INDEX ix_faces_session_id ON faces (session_id)",
    """INSERT INTO sessions VALUES (1, 'Keynote', 'video', '2026-01-02 09:00:00.000000',
    '2026-01-02 09:10:00.000000', '{}', '{"faces_seen": 3, "dominant": "happy"}')""",
    """INSERT INTO sessions VALUES (2, 'Lecture', 'live', '2026-01-03 10:00:00.000000',
    NULL, '{"blur": true}', NULL)""",
    """INSERT INTO timeline VALUES (2, 0.0, 4, 1, 1, 0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1,
    'happy', 0.0)""",
]


def _old_database(path: Path, statements: list[str]) -> Path:
    """A database at ``path`` as an older release wrote it."""
    with sqlite3.connect(path) as old:
        for statement in statements:
            old.execute(statement)
    old.close()
    return path


def _schema_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        (version,) = db.execute("SELECT version FROM schema_version").fetchall()
    db.close()
    return version[0]


def test_a_database_of_the_first_schema_is_upgraded_in_place(tmp_path):
    path = _old_database(tmp_path / "sessions.db", VERSION_1)
    store = SessionStore(path)
    listed = store.list().set_index("id")
    assert listed.loc[1, "status"] == "finished" and listed.loc[1, "duration_s"] == 600
    assert listed.loc[1, "faces_seen"] == 3
    # Left open by a writer of the old schema, which never beat: its writer is gone.
    assert listed.loc[2, "status"] == "recording"
    assert store.close_abandoned() == [2]
    lecture = store.get(2)
    assert lecture.status == "interrupted" and lecture.duration_s == 0
    assert lecture.settings == {"blur": True} and lecture.timeline["n_frames"].tolist() == [4]
    assert SessionStore(path).list()["status"].tolist() == ["interrupted", "finished"]  # once
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        db.execute(f"UPDATE schema_version SET version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(SessionStoreError, match=f"version {SCHEMA_VERSION + 1}"):
        SessionStore(path)


#: Version 2: a session's status and heartbeat; faces indexed by session alone.
VERSION_2 = [
    *VERSION_1,
    "ALTER TABLE sessions ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'finished'",
    "ALTER TABLE sessions ADD COLUMN heartbeat_at DATETIME",
    "UPDATE sessions SET status = 'recording' WHERE ended_at IS NULL",
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "INSERT INTO schema_version VALUES (2)",
    """INSERT INTO faces VALUES (1, 2, 0.5, 3, 7, 10, 20, 64, 64, 'happy', 0.4,
    0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1)""",
    """INSERT INTO faces VALUES (2, 2, 0.25, 2, 7, 10, 20, 64, 64, 'happy', 0.4,
    0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1)""",
]


def _indexes(path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as db:
        names = [row[1] for row in db.execute("PRAGMA index_list(faces)")]
        found = {
            name: [row[2] for row in db.execute(f"PRAGMA index_info({name})")] for name in names
        }
    db.close()
    return found


def test_a_database_of_the_second_schema_gets_faces_indexed_by_time(tmp_path):
    path = _old_database(tmp_path / "sessions.db", VERSION_2)
    assert _indexes(path) == {"ix_faces_session_id": ["session_id"]}
    store = SessionStore(path)
    assert _indexes(path) == {"ix_faces_session_time": ["session_id", "time_s", "track_id"]}
    lecture = store.get(2)
    assert lecture.status == "recording" and lecture.faces["time_s"].tolist() == [0.25, 0.5]
    assert _indexes(tmp_path / "new.db") == {}  # no file yet
    SessionStore(tmp_path / "new.db")
    assert _indexes(tmp_path / "new.db") == _indexes(path)  # a new database: the same index
    assert _schema_version(path) == SCHEMA_VERSION


#: Version 3: faces indexed by (session, time, track); no pose, attention, segments or alerts.
VERSION_3 = [
    *(s for s in VERSION_2 if not s.startswith("INSERT INTO schema_version")),
    "INSERT INTO schema_version VALUES (3)",
    "DROP INDEX ix_faces_session_id",
    "CREATE INDEX ix_faces_session_time ON faces (session_id, time_s, track_id)",
]


def test_a_database_of_the_third_schema_gains_attention_segments_and_alerts(tmp_path):
    path = _old_database(tmp_path / "sessions.db", VERSION_3)
    store = SessionStore(path)
    lecture = store.get(2)
    # Rows stored before head poses existed: their attention is unknown, not "not attending".
    assert lecture.faces[["yaw", "pitch", "attending"]].isna().all().all()
    assert lecture.timeline["attention"].isna().all()
    assert lecture.segments == [] and lecture.alerts == []
    assert store.tracks(2)["attention"].isna().all()
    store.start_segment(2, 0.0, "Opening")
    store.add_alerts(2, [Alert(0.0, "valence", "valence", 0.4, 0.0, "Valence fell")])
    reopened = SessionStore(path).get(2)
    assert [s.title for s in reopened.segments] == ["Opening"]
    assert [a.message for a in reopened.alerts] == ["Valence fell"]
    assert _schema_version(path) == SCHEMA_VERSION


#: Version 4: head pose and attention, segments and alerts; no cameras.
VERSION_4 = [
    *(s for s in VERSION_3 if not s.startswith("INSERT INTO schema_version")),
    "INSERT INTO schema_version VALUES (4)",
    *(f"ALTER TABLE faces ADD COLUMN {name} FLOAT" for name in ("yaw", "pitch", "attending")),
    "ALTER TABLE timeline ADD COLUMN attention FLOAT",
    """CREATE TABLE segments (id INTEGER NOT NULL, session_id INTEGER NOT NULL,
    start_s FLOAT NOT NULL, end_s FLOAT, title VARCHAR(200) NOT NULL, PRIMARY KEY (id))""",
    """CREATE TABLE alerts (id INTEGER NOT NULL, session_id INTEGER NOT NULL,
    time_s FLOAT NOT NULL, rule VARCHAR(64) NOT NULL, metric VARCHAR(32) NOT NULL,
    before FLOAT, after FLOAT, message VARCHAR(500) NOT NULL, PRIMARY KEY (id))""",
]


def test_a_database_of_the_fourth_schema_gains_event_cameras(tmp_path):
    path = _old_database(tmp_path / "sessions.db", VERSION_4)
    store = SessionStore(path)
    lecture = store.get(2)  # a single stream: no cameras
    assert lecture.cameras == [] and lecture.gaps == [] and lecture.camera_timeline.empty
    event = store.create("Hall", "event")
    store.add_camera(event, 1, "rtsp://admin:***@10.0.0.5/stream", "rtsp", 0.0)
    store.set_gaps(event, 1, [CameraGap(1, 3.0, None)])
    reopened = SessionStore(path).get(event)
    assert [c.name for c in reopened.cameras] == ["rtsp://admin:***@10.0.0.5/stream"]
    assert reopened.gaps == [CameraGap(1, 3.0, None)]
    assert _schema_version(path) == SCHEMA_VERSION


def _camera_faces(times: list[float], track_id: int, seed: int) -> pd.DataFrame:
    return _faces(times, seed).assign(track_id=track_id)


def test_an_event_stores_each_camera_its_timeline_and_gaps(store):
    event = store.create("Conference", "event", {"cameras": ["rtsp://admin:***@hall/1"]})
    store.add_camera(event, 1, "rtsp://admin:s3cret@hall/1", "rtsp", 0.0)  # masked here too
    store.add_camera(event, 2, "/dev/video0", "device", 1.5)
    hall, stage = _camera_faces([0.0, 0.5, 1.0], 1, 0), _camera_faces([1.5, 2.0], 1, 1)
    store.append_camera(event, 1, hall, analytics.timeline(hall), {"faces_seen": 1})
    store.append_camera(event, 2, stage, analytics.timeline(stage))
    # The last second grew: it is replaced, not stored twice.
    grown = _camera_faces([1.0, 1.25], 1, 2)
    store.append_camera(event, 1, grown.iloc[1:], analytics.timeline(grown), removed_s=1.9)
    store.set_gaps(event, 2, [CameraGap(2, 2.2, None)])
    store.set_gaps(event, 2, [CameraGap(2, 2.2, 4.0), CameraGap(2, 5.0, None)])  # replaced

    session = store.get(event)
    assert session.kind == "event"
    assert [(c.camera, c.name, c.kind, c.added_s, c.removed_s) for c in session.cameras] == [
        (1, "rtsp://admin:***@hall/1", "rtsp", 0.0, 1.9),
        (2, "/dev/video0", "device", 1.5, None),
    ]
    assert session.cameras[0].summary == {"faces_seen": 1}  # kept when not given again
    table = session.camera_timeline
    assert table[["camera", "time_s"]].values.tolist() == [[1, 0.0], [1, 1.0], [2, 1.0], [2, 2.0]]
    assert table.loc[1, "n_frames"] == 2 and table["valence"].notna().all()
    assert session.gaps == [CameraGap(2, 2.2, 4.0), CameraGap(2, 5.0, None)]
    # Two cameras' first tracks stay apart, each camera's tracks numbered apart.
    assert sorted(store.tracks(event)["track_id"]) == [CAMERA_TRACKS + 1, 2 * CAMERA_TRACKS + 1]
    assert store.cameras(event) == session.cameras and store.gaps(event) == session.gaps
    pd.testing.assert_frame_equal(store.camera_timeline(event), table)

    exported = json.loads(json.dumps(store.export(event)))
    assert [c["camera"] for c in exported["cameras"]] == [1, 2]
    assert len(exported["camera_timeline"]) == 4 and exported["gaps"][1]["end_s"] is None
    written = io.StringIO()
    store.write_json(event, written)
    assert json.loads(written.getvalue()) == exported
    assert "s3cret" not in written.getvalue()

    store.delete(event)
    with store.engine.connect() as connection:
        for name in ("cameras", "camera_timeline", "gaps", "faces"):
            count = connection.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
            assert count == 0
    with pytest.raises(SessionNotFoundError):
        store.append_camera(event, 1, timeline=analytics.timeline(hall))


def test_segments_are_marked_live_imported_and_edited(store):
    session_id = store.create("Conference", "live")
    assert store.start_segment(session_id, 0.0, "  Welcome ") == Segment(0.0, None, "Welcome")
    store.start_segment(session_id, 95.5, "")
    assert store.segments(session_id) == [
        Segment(0.0, 95.5, "Welcome"),
        Segment(95.5, None, "Segment 2"),
    ]
    with pytest.raises(ValueError, match="after 'Segment 2'"):
        store.start_segment(session_id, 90.0, "Late")
    agenda = [Segment(0.0, 600.0, "Keynote"), Segment(600.0, None, "Panel")]
    store.set_segments(session_id, agenda)
    assert store.get(session_id, faces=False).segments == agenda
    with pytest.raises(ValueError, match="overlaps"):
        store.set_segments(session_id, [Segment(0.0, 700.0, "A"), Segment(600.0, None, "B")])
    assert store.segments(session_id) == agenda  # a refused edit changes nothing
    with pytest.raises(SessionNotFoundError):
        store.segments(999)


def test_alerts_and_segments_are_stored_exported_and_deleted_with_their_session(store):
    faces = _faces([0.0, 1.0, 2.0])
    alerts = [
        Alert(2.0, "attention", "attention", 0.8, 0.3, "Attention fell from 80% to 30%"),
        Alert(1.0, "valence", "valence", 0.5, 0.1, "Valence fell, see rtsp://cam:secret@x"),
    ]
    segments = [Segment(0.0, 1.5, "Intro"), Segment(1.5, None, "Talk")]
    session_id = store.save(
        "Talk", "video", analytics.timeline(faces), faces, segments=segments, alerts=alerts
    )
    session = store.get(session_id)
    assert session.segments == segments
    assert [a.time_s for a in session.alerts] == [1.0, 2.0]  # in time order
    assert "secret" not in session.alerts[0].message  # credentials never stored in clear
    exported = store.export(session_id)
    assert [s["title"] for s in exported["segments"]] == ["Intro", "Talk"]
    assert exported["alerts"][1]["metric"] == "attention"
    later = Alert(2.5, "faces", "n_faces", 20, 8, "Faces in view dropped")
    store.add_alerts(session_id, [later])
    assert store.alerts(session_id)[-1] == later
    store.delete(session_id)
    with store.engine.connect() as connection:
        for table in ("segments", "alerts"):
            count = connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            assert count == 0


def test_a_session_opens_without_its_faces_and_exports_them_in_chunks(store):
    faces = pd.concat([_faces([0.0, 0.5, 1.0, 2.5]), _faces([0.0, 1.5], seed=2)])
    faces["track_id"] = [1, 1, 1, 1, 2, 2]
    faces = faces.sort_values(["time_s", "track_id"], ignore_index=True)
    frame_times = [0.0, 0.5, 1.0, 1.5, 2.5, 3.0]
    timeline = analytics.timeline(faces, frame_times)
    session_id = store.save("x", "video", timeline, faces, analytics.summarize(faces, frame_times))
    opened = store.get(session_id, faces=False)
    assert opened.faces is None
    pd.testing.assert_frame_equal(opened.timeline, store.get(session_id).timeline)
    chunks = list(store.faces_chunks(session_id, chunk_rows=4))
    assert [len(chunk) for chunk in chunks] == [4, 2]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), faces, check_dtype=False)

    written = io.StringIO()
    store.write_json(session_id, written, chunk_rows=4)
    assert json.loads(written.getvalue()) == json.loads(json.dumps(store.export(session_id)))
    written = io.StringIO()
    store.write_faces_csv(session_id, written, chunk_rows=4)
    read = pd.read_csv(io.StringIO(written.getvalue()))
    pd.testing.assert_frame_equal(read, faces, check_dtype=False)

    empty = store.save("nobody", "video", analytics.timeline(faces.iloc[:0], [0.0]))
    written = io.StringIO()
    store.write_json(empty, written)
    assert json.loads(written.getvalue())["faces"] == []
    written = io.StringIO()
    store.write_faces_csv(empty, written)
    assert pd.read_csv(io.StringIO(written.getvalue())).columns.tolist() == list(
        analytics.FACE_COLUMNS
    )
    with pytest.raises(SessionNotFoundError):
        store.write_json(99, io.StringIO())


def test_per_track_figures_are_grouped_by_the_database(store):
    faces = pd.concat([_faces([0.0, 0.5, 1.0]), _faces([0.5, 2.0], seed=2)], ignore_index=True)
    faces["track_id"] = [3, 3, 3, 1, 1]
    faces.loc[1, list(CLASSES)] = np.nan  # too small to read, once
    faces.loc[1, ["label", "confidence"]] = ["unknown", np.nan]
    session_id = store.save("x", "video", analytics.timeline(faces), faces)
    expected = analytics.tracks(faces)
    pd.testing.assert_frame_equal(store.tracks(session_id), expected, check_dtype=False)
    assert store.tracks(session_id)["detections"].tolist() == [2, 3]
    empty = store.save("nobody", "video", analytics.timeline(faces.iloc[:0], [0.0]))
    assert store.tracks(empty).empty


def test_sessions_whose_writer_stopped_beating_are_closed_as_interrupted(store):
    lost = store.create("Crashed server", "live")
    alive = store.create("Still streaming", "live")
    done = store.create("Stopped", "live")
    store.finish(done, {"faces_seen": 2})
    store.append(lost, _faces([0.0]), analytics.timeline(_faces([0.0])), {"faces_seen": 1})
    last_beat = datetime.now(UTC) - timedelta(seconds=90)
    with store.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE sessions SET heartbeat_at = :at WHERE id = :id"),
            {"at": last_beat.replace(tzinfo=None), "id": lost},
        )
    store.append(alive)  # a heartbeat
    assert store.close_abandoned() == [lost]
    session = store.get(lost)
    assert session.status == "interrupted" and session.summary == {"faces_seen": 1}
    assert abs((session.ended_at - last_beat).total_seconds()) < 1e-3  # its last sign of life
    assert len(session.faces) == 1
    assert [store.get(alive).status, store.get(done).status] == ["recording", "finished"]
    assert store.close_abandoned() == []
    # Its writer was alive after all (the database had been locked): it takes the session back.
    store.append(lost, _faces([1.0]))
    session = store.get(lost)
    assert (session.status, session.ended_at, len(session.faces)) == ("recording", None, 2)
