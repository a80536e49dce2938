"""Cameras read by the server: real RTSP and MJPEG servers on loopback, dropped and restored.

The RTSP server is GStreamer's (``tests/rtsp.py``), serving the astronaut's face from
``fer_core.synthetic.scene`` as H.264. Without it the RTSP tests are skipped on a developer
machine, but fail when ``CI`` is set, so CI cannot skip them silently. The MJPEG server is a
small ``http.server`` here.
"""

from __future__ import annotations

import contextlib
import http.server
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rtsp import RtspServer, require, write_face_frames

from fer_core.cameras import (
    CameraNotFoundError,
    CameraSource,
    CameraUnreachableError,
    Gap,
    UnsupportedCameraError,
)

FPS = 15
PASSWORD = "s3cret-Pa55"
SIZE = (320, 240)
IN_FLIGHT_S = 0.5  # frames already sent when a server stops may still arrive this late


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of the moving face as numbered JPEGs, for the servers to loop."""
    return write_face_frames(tmp_path_factory.mktemp("camera-frames"), FPS, SIZE)


@pytest.fixture(scope="module")
def rtsp_ready() -> None:
    require()


class MjpegServer:
    """``http://127.0.0.1:PORT/`` streaming ``frames``' JPEGs as multipart/x-mixed-replace,
    as many IP cameras do; ``stalled`` set, it keeps the connection but sends nothing."""

    def __init__(self, frames: Path) -> None:
        self.jpegs = [path.read_bytes() for path in sorted(frames.glob("*.jpg"))]
        self.stalled = threading.Event()
        self.closing = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace;boundary=frame")
                self.end_headers()
                index = 0
                while not server.closing.is_set():
                    if not server.stalled.is_set():
                        jpeg = server.jpegs[index % len(server.jpegs)]
                        index += 1
                        head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}"
                        self.wfile.write(f"{head}\r\n\r\n".encode() + jpeg + b"\r\n")
                    time.sleep(1 / FPS)

            def log_message(self, *args: object) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/video.mjpg"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.closing.set()
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def mjpeg(frames: Path) -> Iterator[MjpegServer]:
    server = MjpegServer(frames)
    yield server
    server.close()


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["file:///etc/passwd", "ftp://cam/x", "camera-1", "rtsp://cam:port/x", "rtsp://"]
)
def test_an_address_that_is_no_camera_is_refused_by_name(address: str) -> None:
    with pytest.raises(UnsupportedCameraError, match="not a camera address") as caught:
        CameraSource(address)
    assert address.split("://")[0] in str(caught.value)


def test_a_missing_device_is_named() -> None:
    with pytest.raises(CameraNotFoundError, match="/dev/video-none: no such device"):
        CameraSource("/dev/video-none")


def test_a_refused_address_masks_its_password() -> None:
    with pytest.raises(UnsupportedCameraError) as caught:
        CameraSource(f"ftp://admin:{PASSWORD}@cam/x")
    assert PASSWORD not in str(caught.value) and "admin:***@cam" in str(caught.value)


# --- cameras that never answer --------------------------------------------------------------


def test_a_closed_port_fails_at_once_with_the_reason() -> None:
    url = f"rtsp://admin:{PASSWORD}@127.0.0.1:{closed_port()}/cam"
    started = time.monotonic()
    with CameraSource(url, open_timeout_s=2) as camera:
        with pytest.raises(CameraUnreachableError, match="refused") as caught:
            camera.wait_connected(timeout_s=10)
        elapsed = time.monotonic() - started
        assert camera.status == "failed"
    assert elapsed < 3
    message = str(caught.value)
    assert PASSWORD not in message and "admin:***@127.0.0.1" in message
    assert camera.status == "failed" and camera.error == message  # stop keeps the reason
    assert camera.latest(wait_s=1) is None and camera.gaps == []


@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_a_camera_that_accepts_and_never_speaks_fails_within_the_open_timeout(scheme) -> None:
    with silent_port() as port:
        camera = CameraSource(f"{scheme}://admin:{PASSWORD}@127.0.0.1:{port}/cam", open_timeout_s=2)
        started = time.monotonic()
        with camera, pytest.raises(CameraUnreachableError, match="no answer within 2 s") as caught:
            camera.wait_connected(timeout_s=15)
        elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 6, elapsed
    assert PASSWORD not in str(caught.value) and PASSWORD not in repr(camera)


# --- MJPEG over HTTP ------------------------------------------------------------------------


def test_mjpeg_over_http_gives_frames_and_a_stall_is_a_drop(mjpeg: MjpegServer) -> None:
    statuses: list[str] = []
    camera = CameraSource(mjpeg.url, read_timeout_s=1, on_status=statuses.append)
    with camera:
        camera.wait_connected(timeout_s=10)
        frame = camera.latest(wait_s=5)
        assert frame is not None and frame.image.shape == (SIZE[1], SIZE[0], 3)
        assert _wait_until(lambda: camera.fps > FPS / 2, 5), camera.fps
        stalled_at = time.time()
        mjpeg.stalled.set()  # the server stays, the frames stop
        assert _wait_until(lambda: camera.status == "reconnecting", 5)
        assert "no frame for 1 s" in camera.error
        mjpeg.stalled.clear()
        resumed_at = time.time()
        assert _wait_until(lambda: camera.status == "connected", 10)
    (gap,) = camera.gaps
    assert stalled_at - 5 < gap.start < stalled_at + IN_FLIGHT_S
    assert gap.end >= resumed_at
    assert statuses == ["connecting", "connected", "reconnecting", "connected", "stopped"]


# --- RTSP: a real server, dropped and restored ------------------------------------------------


def test_rtsp_camera_reconnects_after_the_server_returns_and_marks_the_gap(
    rtsp_ready: None, frames: Path
) -> None:
    statuses: list[str] = []
    gaps: list[Gap] = []
    with RtspServer(frames, fps=FPS) as server:
        url = server.url(userinfo=f"admin:{PASSWORD}")
        camera = CameraSource(url, on_status=statuses.append, on_gap=gaps.append)
        with camera:
            camera.wait_connected(timeout_s=15)
            assert camera.latest(wait_s=5) is not None
            server.stop()  # the camera loses power
            stopped_at = time.time()
            assert _wait_until(lambda: camera.status == "reconnecting", 10)
            camera.latest()  # the last frame decoded before the drop, if not taken yet
            decoded = camera.frames
            assert camera.latest(wait_s=1.5) is None  # nothing comes while it is away
            assert camera.frames == decoded
            server.start()
            restarted_at = time.time()
            assert _wait_until(lambda: camera.status == "connected", 15)
            frame = camera.latest(wait_s=5)
            assert frame is not None and frame.captured_at >= restarted_at
            shown = [camera.name, repr(camera), camera.error, str(camera.gaps)]
    assert statuses == ["connecting", "connected", "reconnecting", "connected", "stopped"]
    (gap,) = camera.gaps
    # It starts at the last frame: packets already on their way when the server died
    # may still be decoded just after.
    assert stopped_at - 5 < gap.start < stopped_at + IN_FLIGHT_S
    assert restarted_at <= gap.end <= frame.captured_at
    assert gaps == [Gap(gap.start), gap]  # told when it opened and when it closed
    assert "refused" in camera.error or "ended" in camera.error or "error" in camera.error
    assert all(PASSWORD not in text for text in shown)
    assert camera.name == url.replace(PASSWORD, "***")


def test_several_rtsp_cameras_at_once(rtsp_ready: None, frames: Path) -> None:
    with RtspServer(frames, paths=("hall", "stage"), fps=FPS) as first, RtspServer(frames) as other:
        urls = [first.url("hall"), first.url("stage"), other.url()]
        cameras = [CameraSource(url) for url in urls]
        with contextlib.ExitStack() as stack:
            for camera in cameras:
                stack.enter_context(camera)
            for camera in cameras:
                camera.wait_connected(timeout_s=15)
            assert _wait_until(lambda: all(c.fps > FPS / 2 for c in cameras), 10)
            taken = [camera.latest(wait_s=5) for camera in cameras]
    assert all(frame is not None and frame.image.shape == (SIZE[1], SIZE[0], 3) for frame in taken)
    assert [camera.status for camera in cameras] == ["stopped"] * 3


def test_a_slow_consumer_always_gets_the_newest_frame(rtsp_ready: None, frames: Path) -> None:
    with RtspServer(frames, fps=FPS) as server, CameraSource(server.url()) as camera:
        camera.wait_connected(timeout_s=15)
        time.sleep(2)  # past the burst a server sends a new client first
        camera.latest()
        taken = []
        for _ in range(6):
            time.sleep(0.5)  # analysis that takes half a second a frame
            taken.append(camera.latest())
    assert all(frame is not None for frame in taken)
    # Each was at most about one frame interval (1/15 s) old when taken, never a backlog.
    assert max(frame.delay_s for frame in taken) < 0.25, [frame.delay_s for frame in taken]
    assert all(frame.age_s() > frame.delay_s > 0 for frame in taken)
    steps = [later.index - earlier.index for earlier, later in itertools.pairwise(taken)]
    assert min(steps) >= FPS / 2 - 2  # the frames between were skipped...
    assert camera.dropped >= sum(steps) - len(steps) - 2  # ...and counted as dropped
