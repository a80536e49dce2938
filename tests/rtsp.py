"""A real RTSP server on loopback for the camera tests: GStreamer's (``gst-rtsp-server``).

Debian packages it as a library with Python bindings (``gir1.2-gst-rtsp-server-1.0`` and
``python3-gi``; ``x264enc`` comes from ``gstreamer1.0-plugins-ugly``), which ``.ci/run``
installs. The bindings live in Debian's own Python, not in the one running the tests, so the
server is this file run as a script by ``/usr/bin/python3``; the script part imports the
standard library and GStreamer only.

Each path serves a folder of JPEG frames in a loop, encoded as H.264 at a fixed frame rate,
like an IP camera. ``RtspServer`` starts the process, waits until it listens, and stops it
(SIGKILL, as a camera loses power), so a test can take a camera away and bring it back on the
same port.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PYTHON = "/usr/bin/python3"  # Debian's, which has the GStreamer bindings
START_TIMEOUT_S = 15.0
_PROBE = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst"
_PIPELINE = (
    "( multifilesrc location={frames}/%04d.jpg index=0 loop=true"
    " caps=image/jpeg,framerate={fps}/1 ! jpegdec ! videoconvert"
    " ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps}"
    " ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)


def missing() -> str | None:
    """Why the server cannot run here, or None when it can."""
    if not os.access(PYTHON, os.X_OK):
        return f"{PYTHON} is missing"
    probe = subprocess.run([PYTHON, "-c", _PROBE], capture_output=True, text=True, timeout=30)
    if probe.returncode:
        return f"GStreamer's RTSP server is not installed: {probe.stderr.strip()[-200:]}"
    return None


def in_ci() -> bool:
    """Whether ``CI`` is set: there the RTSP tests may not be skipped."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require() -> None:
    """Skip the calling test without the server on a developer machine; fail it in CI."""
    import pytest

    reason = missing()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"{reason}; CI is set, so the RTSP tests may not be skipped")
    pytest.skip(reason)


def write_face_frames(folder: Path, fps: int, size: tuple[int, int], seconds: float = 2.0) -> Path:
    """``seconds`` of the moving astronaut face as numbered JPEGs in ``folder``, for a server
    to loop. Imports OpenCV and fer_core itself: only the tests' side calls it."""
    import cv2

    from fer_core.synthetic import scene

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(round(seconds * fps)):
        cv2.imwrite(str(folder / f"{index:04d}.jpg"), scene(index / fps, 1, *size, 120))
    return folder


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RtspServer:
    """``rtsp://127.0.0.1:PORT/PATH`` for each of ``paths``, each looping ``frames``' JPEGs
    (named ``0000.jpg``, ``0001.jpg``, ...) at ``fps``."""

    def __init__(self, frames: Path, paths: tuple[str, ...] = ("cam",), fps: int = 15) -> None:
        self.frames, self.paths, self.fps = frames, paths, fps
        self.port = free_port()
        self._process: subprocess.Popen | None = None

    def url(self, path: str | None = None, userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"rtsp://{at}127.0.0.1:{self.port}/{path or self.paths[0]}"

    def __enter__(self) -> RtspServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start serving and return once the port takes connections."""
        command = [PYTHON, __file__, "--port", str(self.port), "--frames", str(self.frames)]
        command += ["--fps", str(self.fps), *self.paths]
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the RTSP server exited with {self._process.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the RTSP server did not listen on {self.port} in {START_TIMEOUT_S} s")

    def stop(self) -> None:
        """Kill the server at once, as a camera losing power, and reap it."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=30)
        self._process = None


def _serve(port: int, frames: Path, fps: int, paths: list[str]) -> None:
    """The server process: one shared H.264 stream per path, until killed."""
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    mounts = server.get_mount_points()
    for path in paths:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(_PIPELINE.format(frames=frames, fps=fps))
        factory.set_shared(True)  # every client watches the one stream, as from a camera
        mounts.add_factory(f"/{path}", factory)
    if not server.attach(None):
        sys.exit(f"cannot listen on port {port}")
    GLib.MainLoop().run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--frames", type=Path, required=True)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("paths", nargs="+")
    options = parser.parse_args()
    _serve(options.port, options.frames, options.fps, options.paths)
