"""The ``fer-core`` command: its commands, the quiet start, and the dashboard's settings."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import cv2
import pytest

from fer_core.catalog import LIVE_MODEL, MODELS_DIR
from fer_core.cli import COMMANDS, main
from fer_core.cli.dashboard import streamlit_command, streamlit_flags
from fer_core.cli.quiet import NativeLogFilter, asked_verbose
from fer_core.shipped import shipped_folder

REPO = Path(__file__).resolve().parents[1]
#: What TensorFlow and LiteRT print on a CPU machine; a quiet command shows none of it.
NATIVE_NOISE = re.compile(r"oneDNN|cuda|cuInit|absl::InitializeLog|XNNPACK|^[IWE]\d{4} ", re.M)

ONEDNN = (
    b"I0000 00:00:1796050844.148322   16410 port.cc:153] oneDNN custom operations are on. "
    b"To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n"
)
CUINIT = (
    b"E0000 00:00:1796050846.925538   16410 cuda_platform.cc:52] failed call to cuInit: "
    b"INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
)
PREAMBLE = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
)


def _through(*chunks: bytes) -> bytes:
    log_filter = NativeLogFilter()
    return b"".join(log_filter.feed(chunk) for chunk in chunks) + log_filter.close()


def test_the_filter_drops_native_log_lines_and_keeps_ours():
    ours = b"/x/analyzer.py:83: UserWarning: model.tflite is stale; running on Keras instead\n"
    fatal = b"F0000 00:00:1796050846.925538   16410 util.cc:12] Check failed: x\n"
    assert _through(PREAMBLE, ONEDNN, ours, CUINIT, b"error: no such model\n", fatal) == (
        ours + b"error: no such model\n" + fatal
    )
    # Chunks need not follow lines; LiteRT writes its prefix, message and newline apart.
    stream = PREAMBLE + ONEDNN + ours + CUINIT
    assert _through(*(stream[i : i + 7] for i in range(0, len(stream), 7))) == ours
    litert = (b"INFO: ", b"Created TensorFlow Lite XNNPACK delegate for CPU.", b"\n")
    assert _through(*litert, b"done\n") == b"done\n"
    assert _through(b"INFO: unfinished at the end") == b""
    # A worker's prefix parted from its message by another process's progress bar.
    bar = b"\rvideos:   0%|          | 0/1"
    assert _through(b"INFO: ", bar, *litert[1:], b"done\n") == bar + b"done\n"


def test_progress_bars_pass_at_once():
    log_filter = NativeLogFilter()
    assert log_filter.feed(b"\rvideos:  50%|#####     | 1/2") == b"\rvideos:  50%|#####     | 1/2"
    assert log_filter.feed(b"\rInterview.mp4:  10%") == b"\rInterview.mp4:  10%"
    # Only what may still become a log line waits for the rest of it.
    assert log_filter.feed(b"\rI0000 00:00") == b"\r"
    assert log_filter.feed(b":17.5 1 port.cc:153] oneDNN\n") == b""
    assert log_filter.feed(b"W") == b""
    assert log_filter.feed(b"arm-up done\n") == b"Warm-up done\n"


def test_verbose_is_read_as_argparse_reads_it():
    assert asked_verbose(["a.png", "--verbose"]) and asked_verbose(["--verb", "--model", "x"])
    assert not asked_verbose(["a.png", "--model", "fast"])
    assert not asked_verbose(["--", "--verbose"])  # a file named --verbose


def test_every_command_has_help_and_verbose(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    listing = capsys.readouterr().out
    assert done.value.code == 0
    for name in COMMANDS:
        assert re.search(rf"^  {name} +\S", listing, re.M), f"{name} is not listed"
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        usage = capsys.readouterr().out
        assert done.value.code == 0 and usage.startswith(f"usage: fer-core {name} ")
        assert "--verbose" in usage
    for wrong in (["no-such-command"], [], ["analyze", "videos/"]):
        with pytest.raises(SystemExit) as done:
            main(wrong)
        assert done.value.code == 2


def _script_main(path: Path):
    spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_every_script_is_its_command(capsys):
    """``scripts/X.py`` takes the same options as ``fer-core X`` (the dashboard has none)."""
    scripts = {
        name: "analyze_video" if name == "analyze" else name.replace("-", "_") for name in COMMANDS
    }
    del scripts["dashboard"]  # ``streamlit run dashboard/app.py`` is its script
    assert {path.stem for path in (REPO / "scripts").glob("*.py")} == set(scripts.values())
    for name, script in scripts.items():
        with pytest.raises(SystemExit):
            main([name, "--help"])
        ours = capsys.readouterr().out
        with pytest.raises(SystemExit) as done:
            _script_main(REPO / "scripts" / f"{script}.py")(["--help"])
        theirs = capsys.readouterr().out
        assert done.value.code == 0
        assert _options(theirs) == _options(ours) and len(_options(ours)) > 2


def _options(help_text: str) -> list[str]:
    return re.findall(r"^ +(-[-\w]+)", help_text, re.M)


@pytest.fixture(scope="module")
def stale_model(tmp_path_factory) -> Path:
    """``fast`` with a model.tflite that does not match its model.keras: it loads with our
    warning, on Keras."""
    folder = tmp_path_factory.mktemp("models") / "stale"
    shutil.copytree(MODELS_DIR / LIVE_MODEL, folder)
    config = json.loads((folder / "config.json").read_text())
    config["litert"]["keras_sha256"] = "0" * 64
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _fer_core(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fer_core", *args], cwd=cwd, capture_output=True, text=True
    )


def test_a_quiet_start_shows_our_warnings_and_no_native_lines(
    stale_model, astronaut_face, tmp_path
):
    crop = tmp_path / "face.png"
    cv2.imwrite(str(crop), astronaut_face)
    done = _fer_core("predict", "--model", str(stale_model), "--crops", str(crop), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{crop}: face at x=0 y=0" in done.stdout
    assert "running on Keras instead" in done.stderr  # our own warning
    assert not NATIVE_NOISE.search(done.stderr), done.stderr

    verbose = _fer_core(
        "predict", "--crops", str(crop), "--model", "fast", "--verbose", cwd=tmp_path
    )
    assert verbose.returncode == 0 and ": happy" in verbose.stdout
    assert re.search(r"^[IWE]\d{4} .*\] ", verbose.stderr, re.M), "TensorFlow's lines were hidden"


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task").glob("*/children")
    return [int(child) for task in tasks for child in task.read_text().split()]


def test_a_command_stopped_with_term_stops_its_filtered_child(tmp_path):
    command = subprocess.Popen(
        [sys.executable, "-m", "fer_core", "predict"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (children := _children(command.pid)):
        assert command.poll() is None and time.monotonic() < deadline, "no filtered child"
        time.sleep(0.05)
    command.terminate()
    assert command.wait(timeout=60) == 128 + signal.SIGTERM  # as a shell reports it
    assert not Path(f"/proc/{children[0]}").exists()  # ended and reaped, not orphaned
    command.stderr.close()


def test_the_dashboard_gets_the_shipped_settings_as_flags():
    config = shipped_folder(".streamlit") / "config.toml"
    assert config == REPO / ".streamlit" / "config.toml"  # a clone: the repository's own
    flags = streamlit_flags(tomllib.loads(config.read_text()))
    assert "--server.maxUploadSize=1024" in flags and "--server.headless=true" in flags
    assert streamlit_flags({"a": {"b": {"c": False}}, "d": [1, "x"]}) == [
        "--a.b.c=false",
        "--d=1",
        "--d=x",
    ]
    command = streamlit_command(["--server.headless", "false", "--server.maxUploadSize=10"])
    assert command[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert command[4] == str(REPO / "dashboard" / "app.py")
    assert command[-3:] == ["--server.headless", "false", "--server.maxUploadSize=10"]
    assert "--browser.gatherUsageStats=false" in command  # the rest still applies
    shipped = command[5:-3]
    assert not any(f.startswith(("--server.headless=", "--server.maxUploadSize=")) for f in shipped)
