"""Batch analysis: outputs, index, resumability, bad inputs, the CLI, and engines that agree."""

import filecmp
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import av
import pandas as pd
import pytest

from fer_core.analytics import FACE_COLUMNS, TIMELINE_COLUMNS
from fer_core.batch import (
    INDEX_COLUMNS,
    BatchError,
    Reporter,
    Settings,
    discover,
    output_names,
    run_batch,
)
from fer_core.batch.chunks import LOOKAHEAD_S, WARMUP_S
from fer_core.batch.engines import cached_analyzer
from fer_core.events.agenda import parse_agenda
from fer_core.events.segments import SEGMENT_COLUMNS
from fer_core.synthetic import scene, write_demo_video
from fer_core.video import analyze_video

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "analyze_video.py"
VIDEOS = ("a", "b")


def _cli():
    spec = importlib.util.spec_from_file_location("analyze_video_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _same_tables(first: Path, second: Path) -> None:
    """The per-video CSVs of two output folders are byte for byte the same."""
    for name in VIDEOS:
        for table in ("faces.csv", "timeline.csv"):
            assert filecmp.cmp(first / name / table, second / name / table, shallow=False), (
                f"{name}/{table} differs"
            )


def _frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


class _Recorder(Reporter):
    def __init__(self) -> None:
        self.total, self.fractions, self.rows = None, {}, []

    def begin(self, total: int) -> None:
        self.total = total

    def video(self, name: str, fraction: float) -> None:
        self.fractions.setdefault(name, []).append(fraction)

    def finished(self, row: dict) -> None:
        self.rows.append(row)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """A folder of two tiny one-face videos (2 s and 3 s at 10 fps), one in a subfolder."""
    root = tmp_path_factory.mktemp("library")
    (root / "sub").mkdir()
    write_demo_video(root / "a.mp4", seconds=2, fps=10, width=320, height=240)
    write_demo_video(root / "sub" / "b.mp4", seconds=3, fps=10, width=320, height=240)
    (root / "notes.txt").write_text("not a video, and not picked up from a folder\n")
    return root


@pytest.fixture(scope="module")
def baseline(library, tmp_path_factory):
    """One in-process run with the default settings, its progress recorded."""
    recorder = _Recorder()
    out = tmp_path_factory.mktemp("baseline")
    return run_batch([library], out, reporter=recorder), out, recorder


@pytest.fixture(scope="module")
def chunked(library, tmp_path_factory):
    """The same videos cut into 1 s chunks, with annotated copies."""
    out = tmp_path_factory.mktemp("chunked")
    return run_batch([library], out, Settings(annotate=True, chunk_s=1.0)), out


def test_discover_expands_folders_and_reports_unusable_inputs(tmp_path):
    root = tmp_path / "talks"
    for name in ("b.mp4", "a.MOV", "sub/c.mkv", "notes.txt", ".hidden.mp4", ".cache/d.mp4"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    (root / "out").mkdir()
    (root / "out" / "annotated.mp4").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    found = discover(
        [root, root / "b.mp4", root / "notes.txt", tmp_path / "empty", tmp_path / "nowhere"],
        exclude=root / "out",
    )
    videos = [item.path.relative_to(root).as_posix() for item in found if item.path]
    assert videos == ["a.MOV", "b.mp4", "sub/c.mkv", "notes.txt"]  # b.mp4 once; named file kept
    errors = {Path(item.arg).name: item.error for item in found if item.error}
    assert errors["nowhere"] == "does not exist"
    assert errors["empty"].startswith("folder holds no video files")


def test_output_names_are_unique_stable_and_plain_when_possible(tmp_path):
    paths = [tmp_path / "day1" / "talk.mp4", tmp_path / "day2" / "talk.mp4"]
    paths += [tmp_path / "day2" / "Talk.mov", tmp_path / "day1" / "keynote.mp4"]
    names = output_names(paths)
    assert names[paths[3]] == "keynote"
    assert len(set(names.values())) == 4
    assert all(names[p].startswith(p.stem + "-") for p in paths[:3])
    assert output_names(list(reversed(paths))) == names
    # An output folder already holding another file's results is not taken over.
    (tmp_path / "out" / "keynote").mkdir(parents=True)
    (tmp_path / "out" / "keynote" / "summary.json").write_text('{"input": "/elsewhere.mp4"}')
    assert output_names(paths, tmp_path / "out")[paths[3]].startswith("keynote-")


def test_outputs_summary_index_and_progress(baseline, library):
    result, out, recorder = baseline
    assert result.ok and [row["status"] for row in result.rows] == ["ok", "ok"]
    faces = pd.read_csv(out / "a" / "faces.csv")
    assert tuple(faces.columns) == FACE_COLUMNS
    assert len(faces) == 6 and set(faces["label"]) == {"happy"}  # 2 s at 3 samples a second
    timeline = pd.read_csv(out / "b" / "timeline.csv")
    assert tuple(timeline.columns) == TIMELINE_COLUMNS
    assert timeline["time_s"].tolist() == [0.0, 1.0, 2.0]
    summary = json.loads((out / "b" / "summary.json").read_text())
    assert summary["duration_s"] == pytest.approx(3.0, abs=0.15)
    assert summary["faces_seen"] == 1 and summary["dominant"] == "happy"
    assert summary["peak_positive"] is not None and set(summary["distribution"]) >= {"happy"}
    assert summary["processing_s"] > 0 and summary["speed_x_realtime"] > 0
    assert summary["frames_per_s"] > 0 and summary["settings"] == Settings().to_dict()
    assert summary["input"] == str((library / "sub" / "b.mp4").resolve())
    assert not (out / "a" / "annotated.mp4").exists()
    assert not list(out.rglob(".*"))  # no temporary files left

    index = pd.read_csv(result.index_csv)
    assert tuple(index.columns) == INDEX_COLUMNS
    assert index["name"].tolist() == ["a", "b"]
    assert index["faces_csv"].tolist() == ["a/faces.csv", "b/faces.csv"]
    assert index["frames_analyzed"].tolist() == [6, 9]
    # One large face per frame: in view and classified in every analyzed frame.
    assert index["faces_in_view"].tolist() == [1.0, 1.0]
    assert index["classified_share"].tolist() == [1.0, 1.0]
    as_json = json.loads(result.index_json.read_text())
    assert as_json["run"]["ok"] == 2 and as_json["run"]["failed"] == 0
    assert [v["status"] for v in as_json["videos"]] == ["ok", "ok"]

    assert recorder.total == 2 and [row["name"] for row in recorder.rows] == ["a", "b"]
    for fractions in recorder.fractions.values():
        assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_rerun_skips_done_videos_and_redoes_unfinished_ones(library, tmp_path):
    out = tmp_path / "out"
    run_batch([library], out)
    done_at = (out / "b" / "faces.csv").stat().st_mtime_ns
    again = run_batch([library], out)
    assert [row["status"] for row in again.rows] == ["skipped", "skipped"]
    assert again.rows[0]["frames_analyzed"] == 6 and again.ok
    assert (out / "b" / "faces.csv").stat().st_mtime_ns == done_at

    # An interrupted video: tables half written, no summary.json -> analyzed again.
    (out / "a" / "summary.json").unlink()
    (out / "a" / "faces.csv").write_text("time_s,fra")
    again = run_batch([library], out)
    assert [row["status"] for row in again.rows] == ["ok", "skipped"]
    assert len(pd.read_csv(out / "a" / "faces.csv")) == 6

    # Other settings, or --force, redo the work.
    assert {r["status"] for r in run_batch([library], out, Settings(sample_fps=2)).rows} == {"ok"}
    assert len(pd.read_csv(out / "a" / "faces.csv")) == 4
    assert {r["status"] for r in run_batch([library], out, Settings(sample_fps=2)).rows} == {
        "skipped"
    }
    assert {
        r["status"] for r in run_batch([library], out, Settings(sample_fps=2), force=True).rows
    } == {"ok"}


def test_cli_reports_bad_inputs_goes_on_and_annotates(library, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_text("hello, I am a text file\n" * 50)
    cut = tmp_path / "cut.mp4"
    whole = (library / "a.mp4").read_bytes()
    cut.write_bytes(whole[: len(whole) // 2])
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    args = [library / "a.mp4", corrupt, cut, tmp_path / "nowhere.mp4", tmp_path / "empty"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args), "--out", str(out), "--blur"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    assert "not a readable video" in done.stderr and "does not exist" in done.stderr
    assert "1 analyzed" in done.stdout and "4 failed" in done.stdout

    index = pd.read_csv(out / "index.csv").set_index("input")
    status = dict(zip(index.index.map(lambda p: Path(p).name), index["status"], strict=True))
    assert status == {
        "a.mp4": "ok",
        "corrupt.mp4": "failed",
        "cut.mp4": "failed",
        "nowhere.mp4": "failed",
        "empty": "failed",
    }
    reasons = index["reason"].dropna().tolist()
    assert any("truncated" in r or "could not be decoded" in r for r in reasons)
    assert any(r.startswith("folder holds no video files") for r in reasons)
    assert sorted(p.name for p in out.iterdir()) == ["a", "index.csv", "index.json"]
    annotated = out / "a" / "annotated.mp4"
    assert _frame_count(annotated) == 20
    assert json.loads((out / "a" / "summary.json").read_text())["settings"]["blur"] is True


def test_cli_usage_errors_exit_2(tmp_path, capsys):
    main = _cli()
    usage = (["--sample-fps", "-1"], ["--address", "auto"], ["--db", "x.db"], ["--chunk-s", "0"])
    for extra in usage:
        with pytest.raises(SystemExit) as stop:
            main([str(tmp_path), "--out", str(tmp_path / "out"), *extra])
        assert stop.value.code == 2
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path), "--out", str(tmp_path / "out"), "--workers", "0"])
    assert stop.value.code == 2 and "workers must be at least 1" in capsys.readouterr().err
    with pytest.raises(BatchError, match="blur"):
        Settings(blur=True)


def test_chunks_keep_every_sample_and_count_each_person_once(baseline, chunked):
    _, whole_out, _ = baseline
    result, out = chunked
    assert result.ok
    for name, chunks in (("a", 2), ("b", 3)):
        whole = pd.read_csv(whole_out / name / "faces.csv")
        parts = pd.read_csv(out / name / "faces.csv")
        same = ["time_s", "frame", "x", "y", "w", "h", "label"]
        pd.testing.assert_frame_equal(parts[same], whole[same])
        # Each chunk links its person to the chunk before's: one id, one person.
        assert (parts["track_id"] == whole["track_id"]).all()
        # Smoothing restarts with each chunk, so probabilities differ a little at the joins.
        assert (parts["happy"] - whole["happy"]).abs().max() < 0.05
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["chunks"] == chunks and summary["faces_seen"] == 1
        assert _frame_count(out / name / "annotated.mp4") == 10 * chunks
    assert not list(out.rglob(".*"))  # chunk parts removed


def test_windows_of_a_video_with_many_keyframes_are_exactly_its_frames(tmp_path):
    # Keyframes every 0.5 s and B-frames, so windows really seek (write_demo_video has one).
    path = tmp_path / "gop.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=10, options={"g": "5", "bf": "2"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index in range(30):
            image = scene(index / 10, 1, 320, 240, 100)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode())
    analyzer = cached_analyzer(None, "haar")
    columns = ["time_s", "frame", "x", "y", "w", "h"]
    for sample_fps in (None, 3.0):
        whole = analyze_video(path, sample_fps=sample_fps, analyzer=analyzer).faces[columns]
        # Windows start on the analyzer's search slots (every second), so each one is searched
        # and followed exactly as the whole run is; as in a chunked run, each tracks from a
        # warm-up before its start to a look-ahead past its end, to confirm people as one run.
        windows = [(0.0, 1.0), (1.0, 2.0), (2.0, None)]
        parts = [
            analyze_video(
                path,
                sample_fps,
                analyzer=analyzer,
                start_s=start,
                end_s=end,
                warmup_s=WARMUP_S,
                lookahead_s=LOOKAHEAD_S,
            )
            for start, end in windows
        ]
        joined = pd.concat([part.faces[columns] for part in parts], ignore_index=True)
        pd.testing.assert_frame_equal(joined, whole)
        assert sum(part.summary["duration_s"] for part in parts) == pytest.approx(3.0, abs=0.01)


def test_process_pool_gives_the_same_files(library, baseline, tmp_path):
    result = run_batch([library], tmp_path, workers=2)
    assert result.ok
    _same_tables(baseline[1], tmp_path)


def test_ray_gives_the_same_files_as_the_local_engine(library, baseline, chunked, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        whole = run_batch([library], tmp_path / "whole", engine="ray")
        parts = run_batch(
            [library], tmp_path / "parts", Settings(annotate=True, chunk_s=1.0), engine="ray"
        )
    finally:
        ray.shutdown()
    assert whole.ok and parts.ok
    _same_tables(baseline[1], tmp_path / "whole")
    _same_tables(chunked[1], tmp_path / "parts")
    assert _frame_count(tmp_path / "parts" / "b" / "annotated.mp4") == 30


def test_sessions_are_saved_once(library, tmp_path):
    sessions = pytest.importorskip("fer_core.sessions")
    db = tmp_path / "sessions.db"
    result = run_batch([library], tmp_path / "out", save_sessions=True, db=db)
    store = sessions.SessionStore(db)
    listing = store.list()
    assert sorted(listing["name"]) == ["a.mp4", "b.mp4"] and set(listing["kind"]) == {"video"}
    saved = store.get(int(result.rows[1]["session_id"]))
    timeline = pd.read_csv(tmp_path / "out" / "b" / "timeline.csv")
    assert saved.timeline["time_s"].tolist() == timeline["time_s"].tolist()
    assert len(saved.faces) == 9 and saved.summary["faces_seen"] == 1
    assert saved.duration_s == pytest.approx(3.0, abs=0.15)

    again = run_batch([library], tmp_path / "out", save_sessions=True, db=db)
    assert [r["status"] for r in again.rows] == ["skipped", "skipped"]
    assert len(store.list()) == 2  # not saved twice
    # Videos done without --save-sessions are saved from their files by a later run.
    other = tmp_path / "other.db"
    run_batch([library], tmp_path / "out", save_sessions=True, db=other)
    assert len(sessions.SessionStore(other).list()) == 2


def test_agenda_gives_every_video_segments_and_a_new_agenda_needs_no_new_analysis(
    library, tmp_path, capsys
):
    agenda = tmp_path / "agenda.csv"
    agenda.write_text("start,end,title\n0,1,Opening\n1,,Talk\n2,,Late\n")
    out = tmp_path / "out"
    main = _cli()
    assert main([str(library), "--out", str(out), "--agenda", str(agenda), "--no-progress"]) == 0
    for name, length in (("a", 2), ("b", 3)):
        table = pd.read_csv(out / name / "segments.csv")
        assert tuple(table.columns) == SEGMENT_COLUMNS
        assert table["title"].tolist() == ["Opening", "Talk", "Late"]
        summary = json.loads((out / name / "summary.json").read_text())
        assert [s["title"] for s in summary["segments"]] == ["Opening", "Talk", "Late"]
        assert summary["outputs"]["segments"] == "segments.csv"
        assert summary["alerts"] == []  # one steady face: nothing to report
        opening, talk, late = summary["segments"]
        assert opening["seconds_with_data"] == 1 and opening["dominant"] == "happy"
        assert talk["end_s"] == 2 and talk["seconds_with_data"] == 1
        assert late["end_s"] == pytest.approx(max(2, summary["duration_s"]))
        if length == 2:  # the video ends as the last segment starts: no figures
            assert late["seconds_with_data"] == 0 and late["happy"] is None
        else:
            assert late["seconds_with_data"] == 1 and late["happy"] > 0.5
    analyzed_at = (out / "a" / "faces.csv").stat().st_mtime_ns

    agenda.write_text("0:00 Welcome\n0:02 Questions\n")
    assert main([str(library), "--out", str(out), "--agenda", str(agenda), "--no-progress"]) == 0
    assert "2 already done" in capsys.readouterr().out
    assert (out / "a" / "faces.csv").stat().st_mtime_ns == analyzed_at
    table = pd.read_csv(out / "b" / "segments.csv")
    assert table["title"].tolist() == ["Welcome", "Questions"]
    assert table["seconds_with_data"].tolist() == [2, 1]

    # Redone without an agenda: no segments.csv from the replaced timeline is left behind.
    assert main([str(library), "--out", str(out), "--force", "--no-progress"]) == 0
    for name in ("a", "b"):
        assert not (out / name / "segments.csv").exists()
        summary = json.loads((out / name / "summary.json").read_text())
        assert "segments" not in summary and "segments" not in summary["outputs"]


def test_a_bad_agenda_stops_the_run_before_any_video(library, tmp_path, capsys):
    agenda = tmp_path / "agenda.csv"
    agenda.write_text("start,end,title\n0,60,Opening\n30,,Talk\n")
    out = tmp_path / "out"
    main = _cli()
    assert main([str(library), "--out", str(out), "--agenda", str(agenda)]) == 1
    error = capsys.readouterr().err
    assert "agenda.csv, line 2 (Opening) overlaps line 3" in error
    assert main([str(library), "--out", str(out), "--agenda", str(tmp_path / "none.csv")]) == 1
    assert "no agenda file at" in capsys.readouterr().err
    assert not out.exists()


def test_agenda_segments_and_alerts_are_saved_with_the_sessions(library, tmp_path):
    sessions = pytest.importorskip("fer_core.sessions")
    db = tmp_path / "sessions.db"
    agenda = parse_agenda("0:00 Opening\n0:01 Talk\n0:02.5 Late\n")
    result = run_batch([library], tmp_path / "out", save_sessions=True, db=db, agenda=agenda)
    store = sessions.SessionStore(db)
    a, b = (int(row["session_id"]) for row in result.rows)
    assert [s.title for s in store.segments(a)] == ["Opening", "Talk"]  # a is 2 s long
    assert store.segments(b) == agenda
    assert store.alerts(b) == []

    # Another agenda on a re-run: the stored sessions' segments follow, none saved twice.
    other = parse_agenda("start,end,title\n0,2,First part\n")
    again = run_batch([library], tmp_path / "out", save_sessions=True, db=db, agenda=other)
    assert [r["status"] for r in again.rows] == ["skipped", "skipped"]
    assert len(store.list()) == 2
    assert store.segments(a) == store.segments(b) == other
