"""Bad input gets a clear error or is made safe: empty frames, 16-bit crops, unusable batch
settings, and input file names that would lead outside the output folder."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer_core import FrameAnalyzer
from fer_core.batch import BatchError, Settings, output_names, run_batch
from fer_core.batch.outputs import INDEX_FILES
from fer_core.detectors import detect_faces, make_detector
from fer_core.errors import InvalidInputError
from fer_core.preprocessing import preprocess
from fer_core.synthetic import write_demo_video
from fer_core.video import analyze_video

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "analyze_video.py"
EMPTY = [(0, 0, 3), (0, 640, 3), (480, 0, 3)]
# Names whose stem is "..", ".", hidden, or an index file's name.
TRICKY = ["...mp4", "..mp4", ".mp4", ".index.partial.csv.mp4", "index.csv.mp4", "INDEX.JSON.mov"]


@pytest.fixture(scope="module")
def analyzer() -> FrameAnalyzer:
    return FrameAnalyzer(detect_width=320, background_search=False)


@pytest.mark.parametrize("shape", EMPTY)
def test_an_empty_frame_is_a_clear_error(analyzer, shape):
    frame = np.zeros(shape, np.uint8)
    with pytest.raises(InvalidInputError, match=r"the frame is empty: shape \(\d+, \d+, 3\)"):
        analyzer.analyze(frame, 0.0)
    with pytest.raises(InvalidInputError, match="the frame is empty"):
        analyzer.detect_faces(frame)  # shrunk to detect_width first: a cv2.error before
    for name in ("haar", "blazeface"):  # a cv2.error and a ZeroDivisionError before
        with pytest.raises(InvalidInputError, match="the frame is empty"):
            detect_faces(make_detector(name), frame)


def test_a_16_bit_crop_is_scaled_not_clipped(analyzer):
    levels = np.random.default_rng(0).integers(0, 65536, (2, 48, 48, 3), dtype=np.uint16)
    as_8_bit = np.round(levels / 257).astype(np.uint8)
    assert np.array_equal(preprocess(levels), preprocess(as_8_bit))
    gray = levels[..., 0]
    np.testing.assert_allclose(
        analyzer.classifier.predict_proba(gray),
        analyzer.classifier.predict_proba(as_8_bit[..., 0]),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "options",
    [
        {"sample_fps": math.inf},
        {"sample_fps": math.nan},
        {"sample_fps": 0},
        {"sample_fps": -3},
        {"sample_fps": 1e9},
        {"sample_fps": "3"},
        {"sample_fps": True},
        {"chunk_s": math.inf},
        {"chunk_s": 1e-9},
        {"chunk_s": math.nan},
        {"detector": "nope"},
    ],
)
def test_unusable_settings_are_refused_before_any_work(options):
    with pytest.raises(BatchError, match=next(iter(options))):
        Settings(**options)


@pytest.mark.parametrize("workers", [2.5, True, "2", 0])
def test_a_pool_needs_a_whole_number_of_workers(tmp_path, workers):
    with pytest.raises(BatchError, match="workers must be at least 1, a whole number"):
        run_batch([tmp_path], tmp_path / "out", workers=workers)


def test_the_batch_tool_refuses_an_infinite_sample_rate(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), "--out", str(tmp_path / "out"),
         "--sample-fps", "inf", "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert "sample_fps must be frames a second" in done.stderr
    assert not (tmp_path / "out").exists()


def test_output_names_never_leave_the_output_folder(tmp_path):
    out = tmp_path / "out"
    paths = [tmp_path / "in" / name for name in [*TRICKY, "talk.mp4"]]
    names = output_names(paths, out)
    assert names[paths[-1]] == "talk"
    assert len(set(names.values())) == len(paths)
    for path, name in names.items():
        assert (out / name).resolve().parent == out.resolve(), (path.name, name)
        assert not name.startswith(".") and name.casefold() not in INDEX_FILES, (path.name, name)


def test_every_output_stays_inside_out_whatever_the_input_is_named(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    videos = [
        write_demo_video(inputs / name, seconds=1, fps=5, width=160, height=120)
        for name in ("...mp4", "..mp4", "index.csv.mp4")
    ]
    out = tmp_path / "out"
    result = run_batch(videos, out)
    assert [row["status"] for row in result.rows] == ["ok", "ok", "ok"], result.rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]  # nothing beside out
    assert sorted(p.name for p in inputs.iterdir()) == sorted(v.name for v in videos)
    assert (out / "index.csv").is_file() and (out / "index.json").is_file()
    for row in result.rows:
        summary = (out / row["summary_json"]).resolve()
        assert summary.is_file() and summary.parent.parent == out.resolve(), row


@pytest.mark.parametrize(
    "setting",
    [
        {"classify_per_s": float("inf")},
        {"classify_per_s": 0},
        {"detect_every_s": float("nan")},
        {"min_face": float("nan")},
        {"smoothing_s": -1},
    ],
)
def test_analyzer_settings_that_cannot_work_are_refused(setting):
    name = next(iter(setting))
    with pytest.raises(ValueError, match=name):
        FrameAnalyzer("fast", **setting)


@pytest.mark.parametrize("sample_fps", [float("inf"), float("nan"), 0.0])
def test_analyze_video_refuses_a_sampling_rate_that_cannot_work(tmp_path, sample_fps):
    with pytest.raises(ValueError, match="sample_fps"):
        analyze_video(tmp_path / "never-opened.mp4", sample_fps=sample_fps)
