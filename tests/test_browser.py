"""End to end: the dashboard's Live page in a real, headless Chromium with a fake camera.

The camera is a ``.y4m`` clip of the astronaut's face moving around a room, made here from
``fer_core.synthetic.scene``. The app and the browser run inside a private network namespace
whose only interface is loopback (plus a second loopback address, 127.0.0.2, for aiortc's
ICE), so the WebRTC connection never touches the machine's real network. The test clicks
START and waits until the server-side counters ("Frames analyzed", "Faces seen") move and the
live Plotly chart has points; it then types a segment name and clicks "Next segment", and a few
seconds later clicks it again with no name, and clicks STOP. Meanwhile it checks through
``/proc`` that the model ran in a worker process, that TensorFlow never loaded in the server's,
and that STOP ended the worker. Last, it opens the saved session on the Sessions page and
downloads its report as HTML and as PDF; the test checks the stored segments and both files.

Needs root (``ip netns``), Debian's ``/usr/bin/chromium`` and the ``playwright`` package (no
browser download: Playwright drives the Debian binary). Without them the test is skipped on a
developer machine, but fails when ``CI`` is set, so CI cannot skip it silently.

The Playwright side runs as this file executed as a script inside the namespace
(``python tests/test_browser.py drive --url ... --video ... --out ...``); it writes what it saw to
a JSON file and the test asserts on that.

A second test starts the dashboard with a password and a stored session, and visits every
page's URL in a fresh browser session, and asks for every page over a bare websocket, before
signing in: none may show the page or the session's name. Then it signs in on each URL and
sees that page (``python tests/test_browser.py gate ...`` is the browser side).

The same file measures the page's throughput with a webcam-like 30 fps camera (root, chromium
and playwright needed, as for the test): ``python tests/test_browser.py measure --seconds 30``
prints the frames analyzed per second over that window, after a warm-up.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from fer_core.sessions import SessionStore

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
CHROMIUM = "/usr/bin/chromium"
PORT = 8501  # the namespace is ours alone, so the default port is always free
IFRAME_TITLE = "streamlit_webrtc.component.webrtc_streamer"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
# The fake camera: small and slow, to keep the CPU load of the test modest. Chromium loops it.
WIDTH, HEIGHT, FPS, SECONDS, FACE_SIZE = 320, 240, 10, 3, 120
# Limits of the browser run: the server's health, the START button (the first run of the page
# loads the model), the figures after connecting, and the whole driver process.
HEALTH_TIMEOUT_S, START_TIMEOUT_S, FIGURES_TIMEOUT_S, DRIVER_TIMEOUT_S = 120, 120, 90, 420
# Limits of a click's effect (a rerun, or a report built on the server) and the time between
# the two "Next segment" clicks.
CLICK_TIMEOUT_S, SEGMENT_GAP_S = 60, 3
SEGMENT_NAME = "Keynote"
WARMUP_S = 10  # a measurement starts this long after the figures first appear


# --- the fake camera file --------------------------------------------------------------------


def write_y4m(path: Path, frames_bgr: list[np.ndarray], fps: int) -> Path:
    """Write BGR frames as an uncompressed YUV4MPEG2 (I420) clip, Chromium's fake-camera format."""
    height, width = frames_bgr[0].shape[:2]
    if width % 2 or height % 2:
        raise ValueError(f"I420 needs even frame sizes, got {width}x{height}")
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420\n".encode())
        for frame in frames_bgr:
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def face_clip(
    path: Path,
    width: int = WIDTH,
    height: int = HEIGHT,
    fps: int = FPS,
    seconds: int = SECONDS,
    face_size: int = FACE_SIZE,
) -> Path:
    """The fake camera's clip: one face drifting around a room (Chromium loops it)."""
    from fer_core.synthetic import scene

    frames = [scene(i / fps, 1, width, height, face_size) for i in range(seconds * fps)]
    return write_y4m(path, frames, fps)


def crowd_clip(path: Path, seconds: int = 2, fps: int = FPS) -> Path:
    """A 1080p room camera: a slow pan across 200 faces of 14-48 px (Chromium loops it)."""
    from fer_core.synthetic import panning_crowd

    frames = [frame for _, frame, _ in panning_crowd(seconds, fps, 1920, 1080, 200)]
    return write_y4m(path, frames, fps)


def test_y4m_clip_has_a_header_and_whole_i420_frames(tmp_path):
    path = face_clip(tmp_path / "face.y4m")
    data = path.read_bytes()
    header, _, body = data.partition(b"\n")
    assert header == f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420".encode()
    frame_bytes = len(b"FRAME\n") + WIDTH * HEIGHT * 3 // 2
    assert len(body) == SECONDS * FPS * frame_bytes
    # The first frame decodes back to the scene (the face is there, not a blank frame).
    yuv = np.frombuffer(body[6:frame_bytes], np.uint8).reshape(HEIGHT * 3 // 2, WIDTH)
    bgr = cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420)
    from fer_core.synthetic import scene

    assert np.abs(bgr.astype(int) - scene(0.0, 1, WIDTH, HEIGHT, FACE_SIZE)).mean() < 6


# --- the browser side (runs inside the namespace) ---------------------------------------------

_METRICS_JS = """() => Array.from(document.querySelectorAll('[data-testid="stMetric"]')).map(m => [
    (m.querySelector('[data-testid="stMetricLabel"]') || {}).innerText || '',
    (m.querySelector('[data-testid="stMetricValue"]') || {}).innerText || ''])"""

# Points per trace of every Plotly chart on the page, as plotly.js holds them after drawing.
_CHARTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
    const title = gd.layout && gd.layout.title;
    const box = gd.getBoundingClientRect();
    return {
        title: (title && (title.text !== undefined ? title.text : title)) || '',
        points: (gd.calcdata || []).map(trace => trace.length),
        visible: box.width > 0 && box.height > 0 && getComputedStyle(gd).visibility !== 'hidden',
    };
})"""


def _number(text: str) -> float | None:
    match = re.search(r"-?\d[\d,]*(?:\.\d+)?", text)
    return float(match.group().replace(",", "")) if match else None


def wait_for_health(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}/_stcore/health did not answer within {timeout_s:.0f} s")
        time.sleep(0.5)


def drive(url: str, video: Path, out: Path, measure_s: float = 0.0, segment: str = "") -> dict:
    """Open the Live page, stream the fake camera, and record what the page shows.

    With ``measure_s``, once the figures are up and a warm-up has passed, also count the frames
    analyzed over about that many seconds (``seen["rate"]``). With ``segment``, once the figures
    are up, mark a segment of that name and then an unnamed one; after STOP, open the session
    on the Sessions page and download its reports next to ``out`` (``seen["downloads"]``).
    """
    from playwright.sync_api import sync_playwright

    seen: dict = {"metrics": {}, "charts": [], "steps": [], "console": [], "error": None}
    seen["downloads"] = {}

    def step(name: str) -> None:
        seen["steps"].append([name, round(time.monotonic() - t0, 1)])

    t0 = time.monotonic()
    wait_for_health(url, HEALTH_TIMEOUT_S)
    step("healthy")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={video}"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.on("console", lambda message: seen["console"].append(message.text[:300]))
        try:
            page.goto(url, wait_until="domcontentloaded")
            webrtc = page.frame_locator(f'iframe[title="{IFRAME_TITLE}"]')
            start = webrtc.get_by_role("button", name=re.compile(r"^\s*start\s*$", re.I))
            start.click(timeout=START_TIMEOUT_S * 1000)
            step("clicked START")
            stop = webrtc.get_by_role("button", name=re.compile(r"^\s*stop\s*$", re.I))
            stop.wait_for(timeout=30_000)
            step("STOP shown")
            deadline = time.monotonic() + FIGURES_TIMEOUT_S
            while True:
                seen["metrics"] = dict(page.evaluate(_METRICS_JS))
                seen["charts"] = page.evaluate(_CHARTS_JS)
                if _done(seen):
                    step("frames, faces and chart points seen")
                    break
                if time.monotonic() > deadline:
                    step("gave up waiting")
                    break
                page.wait_for_timeout(1000)
            if measure_s and _done(seen):
                seen["rate"] = _measure_rate(page, measure_s)
                step("measured")
            if segment and _done(seen):
                _mark_segments(page, segment)
                step("marked two segments")
            page.screenshot(path=str(out.with_suffix(".png")), full_page=True)
            stop.click(timeout=10_000)
            start.wait_for(timeout=30_000)
            step("stopped (START shown again)")
            page.wait_for_timeout(3000)  # the rerun that closes the saved session
            if segment:
                seen["downloads"] = _download_reports(page, url, out.parent)
                step("downloaded the reports")
        except Exception as exc:  # reported to the test, with a screenshot
            seen["error"] = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):  # the page itself may be gone
                page.screenshot(path=str(out.with_suffix(".png")), full_page=True)
        finally:
            browser.close()
    out.write_text(json.dumps(seen, indent=1))
    return seen


def _mark_segments(page, name: str) -> None:
    """Click "Next segment" with ``name`` typed, and again a few seconds later with no name;
    each click's toast shows the segment started."""
    field = page.get_by_role("textbox", name="Segment name", exact=True)
    button = page.get_by_role("button", name="Next segment", exact=True)
    field.fill(name, timeout=CLICK_TIMEOUT_S * 1000)
    button.click(timeout=CLICK_TIMEOUT_S * 1000)
    page.get_by_text(f"{name} started at").wait_for(timeout=CLICK_TIMEOUT_S * 1000)
    page.wait_for_timeout(SEGMENT_GAP_S * 1000)
    button.click(timeout=CLICK_TIMEOUT_S * 1000)  # the form cleared the name on submit
    page.get_by_text("Segment 2 started at").wait_for(timeout=CLICK_TIMEOUT_S * 1000)


def _download_reports(page, url: str, folder: Path) -> dict[str, str]:
    """Open the Sessions page (the newest session is the one opened) and download its report
    as HTML and as PDF into ``folder``; where each was saved, by format."""
    page.goto(f"{url}/sessions", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Sessions", exact=True).wait_for(
        timeout=START_TIMEOUT_S * 1000
    )
    saved = {}
    for name in ("HTML", "PDF"):
        button = page.get_by_role("button", name=f"Report ({name})", exact=True)
        with page.expect_download(timeout=CLICK_TIMEOUT_S * 1000) as started:
            button.click(timeout=CLICK_TIMEOUT_S * 1000)
        download = started.value
        path = folder / download.suggested_filename
        download.save_as(path)
        saved[name] = str(path)
    return saved


def _measure_rate(page, seconds: float) -> dict:
    """Frames analyzed per second between the first and last change of the page's counter.

    The counter is redrawn about once a second, so it is polled often and each change is timed
    when it appears; the rate is taken between two such changes, after ``WARMUP_S``.
    """
    page.wait_for_timeout(WARMUP_S * 1000)
    changes: list[tuple[float, float]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end or len(changes) < 2:
        count = _number(dict(page.evaluate(_METRICS_JS)).get("Frames analyzed", ""))
        if count is not None and (not changes or count != changes[-1][1]):
            changes.append((time.monotonic(), count))
        page.wait_for_timeout(100)
    (t_first, first), (t_last, last) = changes[0], changes[-1]
    return {
        "frames": last - first,
        "seconds": t_last - t_first,
        "fps": (last - first) / (t_last - t_first),
    }


def _metric(seen: dict, label: str) -> float | None:
    return _number(seen["metrics"].get(label, ""))


def _chart_points(seen: dict, title: str) -> int:
    """Points drawn in the visible Plotly charts whose title contains ``title``."""
    charts = [c for c in seen["charts"] if c["visible"] and title in c["title"]]
    return sum(sum(chart["points"]) for chart in charts)


def _done(seen: dict) -> bool:
    return (
        (_metric(seen, "Frames analyzed") or 0) > 0
        and (_metric(seen, "Faces seen") or 0) >= 1
        and _chart_points(seen, "Emotions over time") > 0
        and _chart_points(seen, "Valence") > 0
    )


# --- the password gate, seen by a browser and by a bare websocket (inside the namespace) -------

#: Each page's URL path and the title it shows once signed in ("" is the Live page, the default).
PAGE_TITLES = {
    "": "Live audience",
    "cameras": "Room cameras",
    "video": "Analyze a recorded video",
    "sessions": "Sessions",
    "model": "Models",
    "about": "About & privacy",
}

_PAGE_JS = """() => ({
    h1: Array.from(document.querySelectorAll('h1')).map(h => h.innerText.trim()),
    text: document.body.innerText + '\\n' + Array.from(document.querySelectorAll('input'))
        .map(i => i.value).join('\\n'),
    nav: Array.from(document.querySelectorAll('[data-testid="stSidebarNav"] a'))
        .map(a => a.innerText.trim()),
    passwords: document.querySelectorAll('input[type="password"]').length,
    uploaders: document.querySelectorAll('[data-testid="stFileUploader"]').length,
    iframes: Array.from(document.querySelectorAll('iframe')).map(f => f.title),
})"""


def _settled(page) -> dict:
    """What the page shows once the app's script has run (checked twice, 1.5 s apart, so a
    page that arrives late is still seen)."""
    finished = '[data-testid="stApp"][data-test-script-state="notRunning"]'
    for _ in range(2):
        page.wait_for_selector(finished, timeout=START_TIMEOUT_S * 1000)
        page.wait_for_timeout(1500)
    return page.evaluate(_PAGE_JS)


def bare_websocket(url: str, path: str, forge: bool = False, timeout_s: float = 60.0) -> str:
    """Everything the server sends a client that asks for page ``path`` straight over the
    websocket, as a browser would after loading that URL, with no sign-in (with ``forge``, a
    widget state named like the gate's session flag); as text."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.util import calc_hash
    from websockets.sync.client import connect

    request = BackMsg()
    request.rerun_script.page_name = path
    request.rerun_script.page_script_hash = calc_hash(path) if path else ""
    if forge:
        forged = request.rerun_script.widget_states.widgets.add()
        forged.id, forged.bool_value = "authenticated", True
    received = []
    stream = url.replace("http", "ws", 1) + "/_stcore/stream"
    with connect(stream, subprotocols=["streamlit"], open_timeout=timeout_s) as socket:
        socket.send(request.SerializeToString())
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                data = socket.recv(timeout=1.0)
            except TimeoutError:
                continue
            message = ForwardMsg()
            message.ParseFromString(data)
            received.append(str(message))
            if message.HasField("script_finished"):
                break
    return "\n".join(received)


def visit_gated(url: str, password: str, out: Path) -> dict:
    """Ask for every page over a bare websocket, then open every page's URL in a fresh browser
    session, record what it shows before signing in, sign in there and record it again."""
    from playwright.sync_api import sync_playwright

    seen: dict = {"websocket": {}, "forged": "", "before": {}, "after": {}, "error": None}
    wait_for_health(url, HEALTH_TIMEOUT_S)
    for path in PAGE_TITLES:
        seen["websocket"][path] = bare_websocket(url, path)
    seen["forged"] = bare_websocket(url, "sessions", forge=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = None
        try:
            for path, title in PAGE_TITLES.items():
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.goto(f"{url}/{path}", wait_until="domcontentloaded")
                seen["before"][path] = _settled(page)
                page.fill('input[type="password"]', password, timeout=10_000)
                page.get_by_role("button", name="Enter").click(timeout=10_000)
                page.get_by_role("heading", name=title).wait_for(timeout=START_TIMEOUT_S * 1000)
                seen["after"][path] = _settled(page)
                page.close()
        except Exception as exc:  # reported to the test, with a screenshot
            seen["error"] = f"{type(exc).__name__}: {exc}"
            if page is not None:
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(out.with_suffix(".png")), full_page=True)
        finally:
            browser.close()
    out.write_text(json.dumps(seen, indent=1))
    return seen


# --- the app and the namespace (run outside the namespace) -------------------------------------


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _require(ok: bool, reason: str) -> None:
    if ok:
        return
    if _in_ci():
        pytest.fail(f"{reason}; CI is set, so the browser test may not be skipped")
    pytest.skip(reason)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def private_network() -> Iterator[str]:
    """A private network namespace with only loopback (127.0.0.1 and 127.0.0.2); needs root."""
    name = f"fer-e2e-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    # A CI runner stops a job with SIGTERM: turn it into an exception so the cleanup below runs.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    try:
        for command in (
            ["ip", "link", "set", "lo", "up"],
            ["ip", "addr", "add", "127.0.0.2/8", "dev", "lo"],
        ):
            subprocess.run(["ip", "netns", "exec", name, *command], check=True, timeout=30)
        yield name
    finally:
        # Everything still in the namespace was started here (it is ours alone).
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = [int(pid) for pid in _run("ip", "netns", "pids", name).stdout.split()]
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            if pids and sig == signal.SIGTERM:
                time.sleep(2)
        subprocess.run(["ip", "netns", "delete", name], check=False, timeout=30)
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def netns():
    _require(hasattr(os, "geteuid") and os.geteuid() == 0, "needs root for `ip netns`")
    _require(shutil.which("ip") is not None, "needs the `ip` command (iproute2)")
    _require(_run("ip", "netns", "list").returncode == 0, "`ip netns` does not work here")
    _require(os.access(CHROMIUM, os.X_OK), f"needs Debian's chromium at {CHROMIUM}")
    _require(importlib.util.find_spec("playwright") is not None, "needs the playwright package")
    with private_network() as name:
        yield name


def _interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _stop(process: subprocess.Popen) -> None:
    """End a process started in its own session, with its children, by its group id."""
    if process.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, n: int = 40) -> str:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join(lines[-n:])


def _app_command(netns: str, app_path: Path) -> list[str]:
    """``streamlit run app_path`` inside ``netns``, on ``PORT``."""
    return [
        "ip", "netns", "exec", netns, sys.executable, "-m", "streamlit", "run", str(app_path),
        "--server.headless", "true", "--server.port", str(PORT),
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def run_live_page(
    netns: str,
    folder: Path,
    video: Path,
    measure_s: float = 0.0,
    app_path: Path = APP,
    segment: str = "",
) -> dict:
    """Serve the dashboard ``app_path`` inside ``netns``, from the folder above its own (where
    its ``.streamlit`` config is), and drive its Live page with ``video`` as camera (and with
    ``segment``, mark segments and download the reports into ``folder``: see ``drive``).

    Returns what the browser saw (``drive``'s record), with ``report``: the steps, the logs and
    the screenshot's path, for a failure message; and ``processes``: whether TensorFlow was ever
    loaded in the server's process and in a worker, and the workers left after STOP.
    """
    in_ns = ["ip", "netns", "exec", netns]
    env = {**os.environ, "FER_CORE_DB": str(folder / "sessions.db")}
    app_log, driver_log, result = folder / "app.log", folder / "driver.log", folder / "seen.json"
    app_command = _app_command(netns, app_path)
    driver_command = [
        *in_ns, sys.executable, __file__, "drive", "--measure-s", str(measure_s),
        "--url", f"http://localhost:{PORT}", "--video", str(video), "--out", str(result),
        "--segment", segment,
    ]  # fmt: skip
    t0 = time.monotonic()
    processes = {"server_tensorflow": False, "worker_tensorflow": False}
    with open(app_log, "w") as app_out, open(driver_log, "w") as driver_out:
        app = subprocess.Popen(
            app_command, cwd=app_path.parents[1], env=env, stdout=app_out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        driver = None
        try:
            driver = subprocess.Popen(
                driver_command, cwd=ROOT, stdout=driver_out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            while driver.poll() is None:
                assert app.poll() is None, f"the app exited ({app.returncode}):\n{_tail(app_log)}"
                assert time.monotonic() - t0 < DRIVER_TIMEOUT_S + measure_s, (
                    f"the browser run took over {DRIVER_TIMEOUT_S} s:\n{_tail(driver_log)}"
                )
                processes["server_tensorflow"] |= _loads_tensorflow(app.pid)
                processes["worker_tensorflow"] |= any(map(_loads_tensorflow, _workers(app.pid)))
                time.sleep(0.5)
            processes["workers_after_stop"] = _workers(app.pid)
        finally:
            if driver is not None:
                _stop(driver)
            _stop(app)
    context = (
        f"\n--- driver log\n{_tail(driver_log)}\n--- app log\n{_tail(app_log)}"
        f"\n--- screenshot of the page: {result.with_suffix('.png')}"
    )
    assert driver.returncode == 0 and result.exists(), f"the browser driver failed{context}"
    seen = json.loads(result.read_text())
    seen["processes"] = processes
    seen["report"] = (
        f"after {time.monotonic() - t0:.0f} s, steps {seen['steps']}, metrics {seen['metrics']}, "
        f"charts {seen['charts']}, processes {processes}, downloads {seen['downloads']}, "
        f"error {seen['error']}{context}"
    )
    return seen


def run_gate_check(
    netns: str, folder: Path, password: str, app_path: Path = APP
) -> tuple[dict, str]:
    """Serve the dashboard ``app_path`` inside ``netns`` with ``password`` in its secrets and
    the session database ``folder/sessions.db``, and run ``visit_gated`` against it.

    Returns what was seen and the logs, for a failure message.
    """
    in_ns = ["ip", "netns", "exec", netns]
    home = folder / "home"  # the server's own secrets.toml, as a deployment has one
    (home / ".streamlit").mkdir(parents=True)
    (home / ".streamlit" / "secrets.toml").write_text(f"password = {json.dumps(password)}\n")
    env = {**os.environ, "FER_CORE_DB": str(folder / "sessions.db"), "HOME": str(home)}
    app_log, driver_log, result = folder / "app.log", folder / "driver.log", folder / "gate.json"
    driver_command = [
        *in_ns, sys.executable, __file__, "gate", "--url", f"http://localhost:{PORT}",
        "--password", password, "--out", str(result),
    ]  # fmt: skip
    with open(app_log, "w") as app_out, open(driver_log, "w") as driver_out:
        app = subprocess.Popen(
            _app_command(netns, app_path), cwd=app_path.parents[1], env=env, stdout=app_out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            driver = subprocess.run(
                driver_command, cwd=ROOT, stdout=driver_out, stderr=subprocess.STDOUT,
                timeout=DRIVER_TIMEOUT_S,
            )  # fmt: skip
        finally:
            _stop(app)
    logs = f"\n--- driver log\n{_tail(driver_log)}\n--- app log\n{_tail(app_log)}"
    assert driver.returncode == 0 and result.exists(), f"the browser driver failed{logs}"
    return json.loads(result.read_text()), logs


def _workers(server: int) -> list[int]:
    """The analysis worker processes under ``server`` (any thread may have started one)."""
    found, todo = [], [server]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):  # it exited meanwhile
            if b"fer_core.workers" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
            for children in Path(f"/proc/{pid}/task").glob("*/children"):
                todo += [int(child) for child in children.read_text().split()]
    return sorted(found)


def _loads_tensorflow(pid: int) -> bool:
    """Whether TensorFlow's libraries are mapped into the process."""
    try:
        return "tensorflow" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:  # it exited meanwhile
        return False


# --- the test ----------------------------------------------------------------------------------


@pytest.mark.browser
def test_live_page_counts_frames_and_faces_from_a_browser_camera(netns, tmp_path):
    assert APP.exists(), f"the dashboard is missing: {APP}"
    video = face_clip(tmp_path / "face.y4m")
    seen = run_live_page(netns, tmp_path, video, segment=SEGMENT_NAME)
    report = seen["report"]
    assert seen["error"] is None, report
    assert (_metric(seen, "Frames analyzed") or 0) > 0, report
    assert (_metric(seen, "Faces seen") or 0) >= 1, report
    assert _chart_points(seen, "Emotions over time") > 0, report
    assert _chart_points(seen, "Valence") > 0, report
    # The model ran in a worker process, never in the server's, and STOP ended the worker.
    processes = seen["processes"]
    assert not processes["server_tensorflow"] and processes["worker_tensorflow"], report
    assert processes["workers_after_stop"] == [], report
    # The run was saved as a live session while streaming, and closed by STOP.
    saved = SessionStore(tmp_path / "sessions.db").list()
    assert saved["kind"].tolist() == ["live"], f"sessions {saved.to_dict('records')}; {report}"
    assert saved.loc[0, "seconds"] > 0 and saved.loc[0, "faces_seen"] >= 1, report
    assert pd.notna(saved.loc[0, "ended_at"]), report
    # The two segments marked live: the named one ends where the numbered one starts.
    session = SessionStore(tmp_path / "sessions.db").get(int(saved.loc[0, "id"]), faces=False)
    segments = session.segments
    assert [s.title for s in segments] == [SEGMENT_NAME, "Segment 2"], f"{segments}; {report}"
    assert segments[0].end_s == segments[1].start_s, f"{segments}; {report}"
    # The reports downloaded from the Sessions page: a self-contained HTML and a PDF.
    downloads = seen["downloads"]
    assert set(downloads) == {"HTML", "PDF"}, report
    html = Path(downloads["HTML"]).read_text(encoding="utf-8")
    assert SEGMENT_NAME in html and "Plotly.newPlot" in html, report
    assert not re.search(r"<script[^>]*\bsrc=[\"']?https?:", html, re.I), report
    pdf = Path(downloads["PDF"])
    assert pdf.read_bytes().startswith(b"%PDF"), report
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(pdf).pages)
    assert " ".join(session.name.split()) in text, f"{text[:2000]}; {report}"
    assert SEGMENT_NAME in text, f"{text[:2000]}; {report}"


@pytest.mark.browser
def test_no_page_opens_before_the_password_by_url_or_websocket(netns, tmp_path):
    secret_name = "Board meeting 7f3a"
    store = SessionStore(tmp_path / "sessions.db")
    store.finish(store.create(secret_name, "video"), {"faces_seen": 3})
    seen, logs = run_gate_check(netns, tmp_path, "correct horse 42")
    shown = [title for title in PAGE_TITLES.values() if title != "Sessions"]
    for path, messages in seen["websocket"].items():
        assert '"Password"' in messages, f"/{path} over the websocket: no sign-in form{logs}"
        leaked = [word for word in [secret_name, "Rename", *shown] if word in messages]
        assert not leaked, f"/{path} over the websocket sent {leaked} before the password{logs}"
    leaked = [word for word in [secret_name, "Rename"] if word in seen["forged"]]
    assert not leaked, f"a forged 'authenticated' widget state got {leaked}{logs}"
    for path, page in seen["before"].items():
        report = f"/{path} before signing in showed {json.dumps(page)[:3000]}{logs}"
        assert page["passwords"] == 1 and page["h1"] == [], report
        assert secret_name not in page["text"] and "Rename" not in page["text"], report
        assert page["nav"] == [] and page["uploaders"] == 0, report
        assert IFRAME_TITLE not in page["iframes"], report
    assert seen["error"] is None, f"{seen['error']}{logs}"
    assert set(seen["before"]) == set(seen["after"]) == set(PAGE_TITLES), logs
    for path, page in seen["after"].items():
        assert page["h1"][:1] == [PAGE_TITLES[path]], f"/{path} signed in: {page['h1']}{logs}"
        assert page["passwords"] == 0 and len(page["nav"]) == len(PAGE_TITLES), (
            f"/{path}: {page['nav']}{logs}"
        )
    assert secret_name in seen["after"]["sessions"]["text"], logs
    assert seen["after"]["video"]["uploaders"] == 2, logs  # the video's and the agenda's
    assert IFRAME_TITLE in seen["after"][""]["iframes"], logs


def measure(seconds: float, app_path: Path = APP, crowd: bool = False) -> dict:
    """Frames analyzed per second with a 30 fps camera streaming to the Live page: one face at
    640x480, or with ``crowd`` a 1080p room of 200 faces.

    ``app_path`` can be another version of the dashboard (say, an older commit's ``dashboard``
    and ``.streamlit`` from ``git archive``), run with this checkout's ``fer_core``.
    """
    with tempfile.TemporaryDirectory(prefix="fer-measure-") as name:
        folder = Path(name)
        if crowd:
            video, camera = crowd_clip(folder / "camera.y4m"), "1920x1080 at 30 fps, 200 faces"
        else:
            video = face_clip(folder / "camera.y4m", 640, 480, 30, 3, 160)
            camera = "640x480 at 30 fps, one face"
        with private_network() as netns:
            seen = run_live_page(netns, folder, video, measure_s=seconds, app_path=app_path)
        if "rate" not in seen:
            raise RuntimeError(f"no measurement: {seen['report']}")
        return seen["rate"] | {"camera": camera, "processes": seen["processes"]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Drive or measure the Live page in Chromium.")
    commands = parser.add_subparsers(dest="command", required=True)
    driving = commands.add_parser("drive", help="inside the namespace: the browser side")
    driving.add_argument("--url", required=True)
    driving.add_argument("--video", type=Path, required=True)
    driving.add_argument("--out", type=Path, required=True)
    driving.add_argument("--measure-s", type=float, default=0.0)
    driving.add_argument("--segment", default="", help="mark segments, download the reports")
    gating = commands.add_parser("gate", help="inside the namespace: every page, signed out")
    gating.add_argument("--url", required=True)
    gating.add_argument("--password", required=True)
    gating.add_argument("--out", type=Path, required=True)
    measuring = commands.add_parser("measure", help="frames analyzed per second (needs root)")
    measuring.add_argument("--seconds", type=float, default=30.0)
    measuring.add_argument("--app", type=Path, default=APP, help="the dashboard's app.py")
    measuring.add_argument("--crowd", action="store_true", help="a 1080p camera of 200 faces")
    arguments = parser.parse_args()
    if arguments.command == "drive":
        drive(arguments.url, arguments.video, arguments.out, arguments.measure_s, arguments.segment)
    elif arguments.command == "gate":
        visit_gated(arguments.url, arguments.password, arguments.out)
    else:
        print(json.dumps(measure(arguments.seconds, arguments.app.resolve(), arguments.crowd)))
