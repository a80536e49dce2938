"""Cameras over HLS and UDP: real streams written by PyAV on loopback, read by ``CameraSource``.

PyAV encodes the moving astronaut face (``fer_core.synthetic.scene``) as H.264 in MPEG-TS:
into HLS segments served by a small ``http.server``, or as datagrams sent to a UDP port.
Nothing but PyAV's wheel and the standard library is needed, so none of these tests skip.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import pytest
from test_cameras import FPS, IN_FLIGHT_S, SIZE, _wait_until

from fer_core.cameras import CameraSource, CameraUnreachableError
from fer_core.synthetic import scene

#: libx264 is in PyAV's wheels; MPEG-2 is FFmpeg's own, should a build lack it.
ENCODER = "libx264" if "libx264" in av.codecs_available else "mpeg2video"
SEGMENT_S = 1  # HLS segment length; a key frame starts each second
HLS_OPTIONS = {"hls_time": str(SEGMENT_S)}
#: A live camera's playlist: the last three segments, older ones deleted, and no end mark
#: when the writer stops, as when the encoder dies.
LIVE_HLS_OPTIONS = {
    **HLS_OPTIONS,
    "hls_list_size": "3",
    "hls_flags": "delete_segments+omit_endlist",
}
VOD_HLS_OPTIONS = {**HLS_OPTIONS, "hls_list_size": "0", "hls_playlist_type": "vod"}


def _open_video(container: av.container.OutputContainer) -> av.VideoStream:
    """A ``SIZE`` video stream at ``FPS`` with a key frame each second, so a reader that
    joins late (UDP) or a segmenter (HLS) can start within a second."""
    stream = container.add_stream(ENCODER, rate=FPS)
    stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
    stream.gop_size = FPS
    if ENCODER == "libx264":
        stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
    return stream


def _face(index: int) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(scene(index / FPS, 1, *SIZE, 120), format="bgr24")
    frame.pts = index
    return frame


def write_hls_vod(folder: Path, frames: int) -> str:
    """``frames`` of the face as a finished (``EXT-X-ENDLIST``) playlist; returns its name."""
    with av.open(str(folder / "stream.m3u8"), "w", format="hls", options=VOD_HLS_OPTIONS) as out:
        stream = _open_video(out)
        for index in range(frames):
            out.mux(stream.encode(_face(index)))
        out.mux(stream.encode())
    return "stream.m3u8"


class LiveEncoder:
    """Encodes the face at ``FPS`` in real time into ``open_output()``'s container, in a
    thread, from ``start`` to ``stop``: a camera's encoder, switched on and off."""

    def __init__(self, open_output: Callable[[], av.container.OutputContainer]) -> None:
        self.open_output = open_output
        self._running = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LiveEncoder:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._running.set()
        self._thread = threading.Thread(target=self._encode, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sending and wait until the output is closed."""
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _encode(self) -> None:
        with self.open_output() as out:
            stream = _open_video(out)
            began = time.monotonic()
            index = 0
            while self._running.is_set():
                out.mux(stream.encode(_face(index)))
                index += 1
                time.sleep(max(0.0, began + index / FPS - time.monotonic()))
            out.mux(stream.encode())


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """``http://127.0.0.1:PORT/`` serving ``folder``'s files, as a camera's web server."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def free_udp_port() -> int:
    """A loopback UDP port nothing is bound to now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- HLS ------------------------------------------------------------------------------------


def test_live_hls_gives_frames_and_a_dead_encoder_is_a_drop(tmp_path: Path) -> None:
    playlist = tmp_path / "stream.m3u8"
    encoder = LiveEncoder(
        lambda: av.open(str(playlist), "w", format="hls", options=LIVE_HLS_OPTIONS)
    )
    seen: list[tuple[str, str | None]] = []
    with encoder, serve_folder(tmp_path) as root:
        assert _wait_until(playlist.exists, 10)  # written once the first segment is
        camera = CameraSource(
            root + playlist.name,
            read_timeout_s=2,
            on_status=lambda status: seen.append((status, camera.error)),
        )
        with camera:
            camera.wait_connected(timeout_s=10)
            frame = camera.latest(wait_s=5)
            assert frame is not None and frame.image.shape == (SIZE[1], SIZE[0], 3)
            assert _wait_until(lambda: camera.fps > FPS / 2, 10), camera.fps
            encoder.stop()  # the playlist stays, no segment is added
            stopped_at = time.time()
            assert _wait_until(lambda: camera.status == "reconnecting", 15)
            (gap,) = camera.gaps
    # A live playlist that stops growing is a stall, not an end.
    assert seen[:3] == [
        ("connecting", None),
        ("connected", None),
        ("reconnecting", f"camera {camera.name}: no frame for 2 s"),
    ]
    # The segment being written when the encoder stopped still arrives after.
    assert stopped_at - 5 < gap.start < stopped_at + SEGMENT_S + IN_FLIGHT_S


def test_a_finished_hls_playlist_is_a_recording_and_is_refused(tmp_path: Path) -> None:
    """A finished (VOD) playlist has a length: watched as a camera it would loop, each pass a
    gap and its faces counted again, so it is refused with a clear reason."""
    name = write_hls_vod(tmp_path, 2 * FPS)
    assert "#EXT-X-ENDLIST" in (tmp_path / name).read_text()
    with serve_folder(tmp_path) as root:
        camera = CameraSource(root + name)
        with camera, pytest.raises(CameraUnreachableError, match="a recording, not a live"):
            camera.wait_connected(timeout_s=10)
    assert camera.status == "failed" and camera.frames == 0 and camera.gaps == []


# --- MPEG-TS over UDP -----------------------------------------------------------------------


def test_a_silent_udp_port_fails_within_the_open_timeout() -> None:
    """UDP has no connection to refuse: a port nobody sends to is only silence."""
    camera = CameraSource(f"udp://127.0.0.1:{free_udp_port()}", open_timeout_s=2)
    started = time.monotonic()
    with camera, pytest.raises(CameraUnreachableError, match="no answer within 2 s"):
        camera.wait_connected(timeout_s=15)
    assert time.monotonic() - started < 10
    assert camera.status == "failed" and camera.gaps == []


def test_udp_gives_frames_and_a_silent_sender_is_a_drop_until_it_resumes() -> None:
    url = f"udp://127.0.0.1:{free_udp_port()}"
    sender = LiveEncoder(lambda: av.open(url, "w", format="mpegts"))
    seen: list[tuple[str, str | None]] = []
    camera = CameraSource(
        url,
        open_timeout_s=2,
        read_timeout_s=1,
        on_status=lambda status: seen.append((status, camera.error)),
    )
    with camera, sender:  # the reader binds the port; what is sent before is lost
        camera.wait_connected(timeout_s=10)
        frame = camera.latest(wait_s=5)
        assert frame is not None and frame.image.shape == (SIZE[1], SIZE[0], 3)
        assert _wait_until(lambda: camera.fps > FPS / 2, 10), camera.fps
        sender.stop()
        stopped_at = time.time()
        assert _wait_until(lambda: camera.status == "reconnecting", 10)
        camera.latest()  # the last frame decoded before the drop, if not taken yet
        decoded = camera.frames
        assert camera.latest(wait_s=1.5) is None  # nothing comes while it is silent
        assert camera.frames == decoded
        sender.start()
        resumed_at = time.time()
        assert _wait_until(lambda: camera.status == "connected", 15)
        frame = camera.latest(wait_s=5)
        assert frame is not None and frame.captured_at >= resumed_at
    assert [status for status, _ in seen] == [
        "connecting",
        "connected",
        "reconnecting",
        "connected",
        "stopped",
    ]
    assert seen[2] == ("reconnecting", f"camera {camera.name}: no frame for 1 s")
    (gap,) = camera.gaps
    assert stopped_at - 5 < gap.start < stopped_at + IN_FLIGHT_S
    assert resumed_at <= gap.end <= frame.captured_at
