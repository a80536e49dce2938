"""The README's first command: classify the faces in a sample photo with the shipped model."""

import subprocess
import sys
from pathlib import Path

import cv2

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "predict.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_demo_photo_and_crops(tmp_path, astronaut_face):
    done = _run()
    assert done.returncode == 0, done.stderr
    assert "face at x=" in done.stdout and ": happy" in done.stdout
    crop = tmp_path / "face.png"
    cv2.imwrite(str(crop), astronaut_face)
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), astronaut_face * 0 + 120)
    done = _run("--crops", str(crop))
    assert done.returncode == 0 and ": happy" in done.stdout
    assert "no face found" in _run(str(blank)).stdout


def test_unreadable_image_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    done = _run(str(bad))
    assert done.returncode != 0 and "cannot read image" in done.stderr
