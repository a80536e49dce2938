"""Install it like a library: build the wheel, install it into a fresh virtual environment and
run ``fer-core`` from a folder outside the repository, as a new user would.

The environment sees the already installed dependencies (``--system-site-packages``) but the
wheel's own ``fer_core``, never this checkout's; nothing is downloaded (the build uses the
installed setuptools, the install takes no dependencies).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import cv2
import pandas as pd
import pytest

from fer_core.synthetic import write_demo_video

REPO = Path(__file__).resolve().parents[1]
#: What the wheel is built from: the package and the folders it carries (pyproject.toml).
SOURCES = ("pyproject.toml", "README.md", "fer_core", "models", "dashboard", ".streamlit")
MAX_WHEEL_BYTES = 100 * 2**20  # a package index's default limit per file
NATIVE_NOISE = ("oneDNN", "cuda", "cuInit", "absl::InitializeLog", "XNNPACK")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    (source / ".streamlit" / "secrets.toml").write_text('password = "never in a wheel"\n')
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", str(out), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (built,) = out.glob("fer_core-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed; its ``bin`` folder."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(root)],
        check=True,
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install",
         "--quiet", "--no-deps", "--no-index", "--ignore-installed", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    return root / "bin"


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """A working folder outside the repository."""
    assert REPO not in tmp_path.parents
    return tmp_path


def _env() -> dict[str, str]:
    """This environment, less what would point the installed library at the checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FER_CORE_MODELS")}


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True)
    noise = [word for word in NATIVE_NOISE if word in done.stderr]
    assert not noise, f"{command[1:2]} showed TensorFlow's lines:\n{done.stderr}"
    return done


def test_the_wheel_carries_the_models_and_the_app_and_nothing_else(wheel):
    assert wheel.stat().st_size < MAX_WHEEL_BYTES
    names = set(zipfile.ZipFile(wheel).namelist())
    for model in ("accurate", "fast"):
        for file in ("model.keras", "config.json", "classes.json", "metrics.json", "MODEL_CARD.md"):
            assert f"fer_core/_shipped/models/{model}/{file}" in names
    assert "fer_core/_shipped/models/fast/model.tflite" in names
    for file in ("centerface.onnx", "centerface-int8.onnx", "LICENSE"):
        assert f"fer_core/_shipped/models/detectors/centerface/{file}" in names
    assert not [name for name in names if "history" in name or name.endswith(".csv")]
    app = {path.relative_to(REPO).as_posix() for path in (REPO / "dashboard").rglob("*.py")}
    assert {f"fer_core/_shipped/{path}" for path in app} <= names
    assert "fer_core/_shipped/streamlit/config.toml" in names
    assert not [name for name in names if "secrets" in name]
    modules = {path.relative_to(REPO).as_posix() for path in (REPO / "fer_core").rglob("*.py")}
    assert modules <= names
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "fer-core = fer_core.cli:run" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_installed_library_is_the_wheels_and_finds_its_models(venv, elsewhere):
    done = _run(
        [str(venv / "python"), "-c",
         "import fer_core, fer_core.catalog as c; print(fer_core.__file__); "
         "print(c.MODELS_DIR); print(c.model_names())"],
        elsewhere,
    )  # fmt: skip
    package, models, names = done.stdout.splitlines()
    site = venv.parent / "lib"
    assert Path(package).is_relative_to(site) and Path(models).is_relative_to(site), done.stdout
    assert names == "['accurate', 'fast']"


def test_fer_core_predict(venv, elsewhere, astronaut_bgr):
    cv2.imwrite(str(elsewhere / "people.png"), astronaut_bgr)
    done = _run([str(venv / "fer-core"), "predict", "people.png"], elsewhere)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("people.png: face at x=") and ": happy" in done.stdout


def test_fer_core_analyze(venv, elsewhere):
    (elsewhere / "talks").mkdir()
    write_demo_video(elsewhere / "talks" / "a.mp4", seconds=2, fps=10, width=320, height=240)
    fer_core = str(venv / "fer-core")
    # Two worker processes: they start from the installed command, and are quiet too.
    args = ["analyze", "talks", "--out", "results", "--workers", "2", "--chunk-s", "1"]
    done = _run([fer_core, *args], elsewhere)
    assert done.returncode == 0, done.stderr
    assert "1 analyzed, 0 already done, 0 failed" in done.stdout
    faces = pd.read_csv(elsewhere / "results" / "a" / "faces.csv")
    assert len(faces) > 0 and faces["label"].notna().all()
    summary = json.loads((elsewhere / "results" / "a" / "summary.json").read_text())
    assert summary["duration_s"] == pytest.approx(2, abs=0.2)
    assert (elsewhere / "results" / "index.csv").is_file()

    failed = _run([fer_core, "analyze", "nowhere.mp4", "--out", "results"], elsewhere)
    assert failed.returncode == 1 and "nowhere.mp4" in failed.stderr
    usage = _run([fer_core, "analyze", "talks"], elsewhere)
    assert usage.returncode == 2 and "--out" in usage.stderr


APP_TEST = """
import streamlit_webrtc.component
from streamlit.testing.v1 import AppTest
from fer_core.shipped import shipped_folder

# AppTest has no real Runtime; streamlit-webrtc treats "no session info" as a unit test.
streamlit_webrtc.component.get_this_session_info = lambda: None
app = shipped_folder("dashboard") / "app.py"
test = AppTest.from_file(str(app), default_timeout=120)
test.run()
assert not test.exception, test.exception
print(app)
print(test.title[0].value)  # the default page's
"""


def test_the_installed_dashboard_app_runs(venv, elsewhere):
    done = subprocess.run(
        [str(venv / "python"), "-c", APP_TEST],
        cwd=elsewhere, env={**_env(), "FER_CORE_DB": str(elsewhere / "sessions.db")},
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    app, title = done.stdout.splitlines()
    assert Path(app).is_relative_to(venv.parent / "lib") and title


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status


def test_fer_core_dashboard(venv, elsewhere):
    port = _free_port()
    server = subprocess.Popen(
        [str(venv / "fer-core"), "dashboard", "--server.address", "127.0.0.1",
         "--server.port", str(port)],
        cwd=elsewhere, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.communicate()
            try:
                if _get(f"http://127.0.0.1:{port}/_stcore/health") == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "the dashboard did not start in 90 s"
                time.sleep(0.5)
        assert _get(f"http://127.0.0.1:{port}/") == 200
        tasks = Path(f"/proc/{server.pid}/task").glob("*/children")
        (child,) = [pid for task in tasks for pid in task.read_text().split()]
        streamlit = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")  # what it runs
        app = Path(streamlit[4].decode())
        assert app.name == "app.py" and app.is_relative_to(venv.parent / "lib")
        assert b"--server.maxUploadSize=1024" in streamlit  # the shipped config.toml's
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert f"http://127.0.0.1:{port}" in out
