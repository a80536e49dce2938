"""``CameraSource``: a camera the server reads itself, in its own thread, through PyAV.

Real cameras drop. After a drop the source reconnects with exponential backoff, forever
while it runs, and records the time without frames as a ``Gap``: a timeline must tell "no
data" from "no faces". A camera that never sent a frame is another matter: a wrong address,
a camera switched off, a firewall. That fails at once (status ``failed``, with the reason)
instead of retrying quietly, so whoever added the camera learns it within seconds.

A stream that stalls (the server alive, no packets) is caught by the read timeout; a
connection that never answers by the open timeout. Both are PyAV's interrupt callback, which
works for every input FFmpeg has.

Everything shown of a camera, its name, status, errors and ``repr``, has the URL's password
masked.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Literal

import av

from fer_core.cameras.address import parse_address
from fer_core.cameras.errors import CameraUnreachableError
from fer_core.cameras.frames import Frame, Gap, NewestFrame

Status = Literal["connecting", "connected", "reconnecting", "failed", "stopped"]

OPEN_TIMEOUT_S = 5.0  # to connect and learn the stream's format (each, in FFmpeg's two steps)
READ_TIMEOUT_S = 5.0  # without a packet before a stream counts as dropped
BACKOFF_MIN_S = 0.5  # first wait before reconnecting, doubled after each failed try
BACKOFF_MAX_S = 10.0
FPS_WINDOW_S = 2.0  # frames per second are measured over this last stretch
#: A stream with a length is a recording (a file, a finished HLS playlist): as a camera it
#: would loop, each pass a gap and its faces counted again. It is refused, not watched.
RECORDING = "a recording, not a live camera: analyze it as a video (fer-core analyze)"
#: RTSP over TCP, as cameras' own viewers use: it passes NAT and firewalls, and loses no
#: packets (over UDP one lost packet smears the picture until the next key frame).
DEFAULT_OPTIONS = {"rtsp": {"rtsp_transport": "tcp"}, "rtsps": {"rtsp_transport": "tcp"}}


class CameraSource:
    """One camera, read in a thread of its own; ``latest`` hands out its newest frame.

    ``source`` is a URL (``rtsp://``, ``rtsps://``, ``http(s)://`` for MJPEG or HLS,
    ``udp://``) or a device (``/dev/video0``); a wrong one raises ``UnsupportedCameraError``
    or ``CameraNotFoundError`` here. ``options`` go to FFmpeg (say ``{"rtsp_transport":
    "udp"}`` or a device's ``{"video_size": "1280x720"}``). ``on_status(status)`` and
    ``on_gap(gap)`` are called from the camera's thread: ``on_gap`` when a gap opens (its
    ``end`` None) and again when it closes. Nothing starts until ``start``; as a context
    manager it starts and stops.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        options: Mapping[str, str] | None = None,
        open_timeout_s: float = OPEN_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
        backoff_min_s: float = BACKOFF_MIN_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        on_status: Callable[[Status], None] | None = None,
        on_gap: Callable[[Gap], None] | None = None,
    ) -> None:
        self._address = parse_address(source)
        self.options = {**DEFAULT_OPTIONS.get(self.kind, {}), **(options or {})}
        self.open_timeout_s, self.read_timeout_s = open_timeout_s, read_timeout_s
        self.backoff_min_s, self.backoff_max_s = backoff_min_s, backoff_max_s
        self.on_status, self.on_gap = on_status, on_gap
        self._slot = NewestFrame()
        self._changed = threading.Condition()  # guards everything below; notified on status
        self._status: Status = "stopped"
        self._error: str | None = None
        self._gaps: list[Gap] = []
        self._frames = 0
        self._last_at: float | None = None  # wall-clock time of the newest frame
        self._arrivals: deque[float] = deque()  # monotonic times within FPS_WINDOW_S
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        """The URL with its password masked, or the device: safe to show and to store."""
        return self._address.name

    @property
    def kind(self) -> str:
        """``device`` for a local device, else the URL's scheme (``rtsp``, ``http``, ...)."""
        return self._address.kind

    @property
    def status(self) -> Status:
        """``connecting`` until the first frame, then ``connected`` while frames come,
        ``reconnecting`` after a drop, ``failed`` if the first frame never came."""
        return self._status

    @property
    def error(self) -> str | None:
        """The last reason the camera stopped sending, in words; kept after it recovers."""
        return self._error

    @property
    def frames(self) -> int:
        """Frames decoded since ``start``."""
        return self._frames

    @property
    def dropped(self) -> int:
        """Frames decoded but replaced by a newer one before ``latest`` took them."""
        return self._slot.dropped

    @property
    def gaps(self) -> list[Gap]:
        """The stretches without frames since ``start``; the last one open while away."""
        with self._changed:
            return list(self._gaps)

    @property
    def fps(self) -> float:
        """Frames per second decoded over the last couple of seconds; 0 while none come."""
        now = time.monotonic()
        with self._changed:
            recent = [t for t in self._arrivals if t > now - FPS_WINDOW_S]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / (recent[-1] - recent[0])

    def __repr__(self) -> str:
        return f"CameraSource({self.name!r}, status={self.status!r})"

    def __enter__(self) -> CameraSource:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start reading (a fresh run: counts and gaps start over); no-op while running."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping = threading.Event()
        self._slot.reopen()
        with self._changed:
            self._error, self._gaps, self._frames, self._last_at = None, [], 0, None
            self._arrivals.clear()
        self._set_status("connecting")
        self._thread = threading.Thread(
            target=self._run, args=(self._stopping,), name=f"fer-camera {self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and wait for the thread (at most a timeout, if the camera hangs).

        A gap still open ends now. After a failure the status stays ``failed``.
        """
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        thread.join()
        closed = self._close_gap(time.time())
        if self._status != "failed":
            self._set_status("stopped")
        self._slot.close()
        if closed is not None and self.on_gap is not None:
            self.on_gap(closed)

    def latest(self, wait_s: float = 0.0) -> Frame | None:
        """The newest frame not taken yet, waiting up to ``wait_s`` for one; None if none
        came. Older frames were dropped (``dropped``): a slow consumer never lags."""
        return self._slot.take(wait_s)

    def wait_connected(self, timeout_s: float | None = None) -> None:
        """Return once the first frame has come; raise ``CameraUnreachableError`` with the
        reason if the camera failed, was stopped, or sent none within ``timeout_s``."""
        with self._changed:
            self._changed.wait_for(lambda: self._status != "connecting", timeout_s)
            status, error = self._status, self._error
        if status in ("connected", "reconnecting"):
            return
        if status == "connecting":
            error = f"camera {self.name}: no frame within {timeout_s:g} s"
        raise CameraUnreachableError(error or f"camera {self.name}: {status}")

    def _run(self, stopping: threading.Event) -> None:
        """The camera's thread: watch, and after each drop wait and watch again."""
        delay = self.backoff_min_s
        try:
            while True:
                before = self._frames
                reason = self._watch(stopping)
                if stopping.is_set():
                    return
                # No frame ever came (a wrong or dead camera), or it is no camera at all.
                if self._last_at is None or reason == RECORDING:
                    self._fail(reason)
                    return
                if self._frames > before:  # it was flowing: the first retry comes soon
                    delay = self.backoff_min_s
                self._drop(reason)
                if stopping.wait(delay):
                    return
                delay = min(delay * 2, self.backoff_max_s)
        except Exception as error:  # a bug, not a camera: say so rather than hang
            self._fail(f"{type(error).__name__}: {error}")
            raise

    def _watch(self, stopping: threading.Event) -> str:
        """Connect and decode until the stream ends, fails or stalls, or ``stopping`` is set;
        returns why it ended.

        A timeout is told by the time taken, not by the error: FFmpeg's RTSP input reports
        its interrupted read as invalid data, and its HLS input a live playlist that stopped
        growing as the stream's end. MPEG-TS (UDP, HLS) holds each packet back until the next
        begins and hands the last over when its read is interrupted: a packet that comes only
        after the read timeout is a stall, not a frame (it would be timed a timeout late).
        """
        began = time.monotonic()
        try:
            container = av.open(
                self._address.url,
                format=self._address.format,
                options=self.options,
                timeout=(self.open_timeout_s, self.read_timeout_s),
            )
        except av.error.FFmpegError as error:
            if time.monotonic() - began >= self.open_timeout_s:
                return f"no answer within {self.open_timeout_s:g} s"
            return _reason(error)
        with container:
            if not container.streams.video:
                return "the stream has no video"
            if container.duration is not None:  # a file or a finished playlist, not a camera
                return RECORDING
            stream = container.streams.video[0]
            asked = time.monotonic()  # when the packet awaited now was asked for
            try:
                for packet in container.demux(stream):
                    if time.monotonic() - asked >= self.read_timeout_s:
                        break  # it stalled; this packet was held back until the read timed out
                    if stopping.is_set():
                        return "stopped"
                    try:
                        decoded = stream.decode(packet)
                    except av.error.InvalidDataError:
                        decoded = []  # a damaged packet: the next key frame mends the picture
                    for frame in decoded:
                        self._arrived(frame)
                    asked = time.monotonic()
            except av.error.FFmpegError as error:
                reason = _reason(error)
            else:
                reason = "the stream ended"
            if time.monotonic() - asked >= self.read_timeout_s:
                return f"no frame for {self.read_timeout_s:g} s"
            return reason

    def _arrived(self, frame: av.VideoFrame) -> None:
        now = time.time()
        with self._changed:
            index, self._frames = self._frames, self._frames + 1
            self._last_at = now
            self._arrivals.append(time.monotonic())
            while self._arrivals[0] < self._arrivals[-1] - FPS_WINDOW_S:
                self._arrivals.popleft()
        self._slot.put(frame, now, index)
        if self._status != "connected":
            closed = self._close_gap(now)
            self._set_status("connected")
            if closed is not None and self.on_gap is not None:
                self.on_gap(closed)

    def _drop(self, reason: str) -> None:
        """Frames stopped: open a gap from the last frame (once per drop) and say why."""
        opened = None
        with self._changed:
            self._error = self._address.mask(f"camera {self.name}: {reason}")
            if self._status == "connected":
                opened = Gap(start=self._last_at)
                self._gaps.append(opened)
        self._set_status("reconnecting")
        if opened is not None and self.on_gap is not None:
            self.on_gap(opened)

    def _close_gap(self, end: float) -> Gap | None:
        """End the open gap at ``end``; returns it, or None if none was open."""
        with self._changed:
            if not self._gaps or self._gaps[-1].end is not None:
                return None
            self._gaps[-1] = replace(self._gaps[-1], end=end)
            return self._gaps[-1]

    def _fail(self, reason: str) -> None:
        with self._changed:
            self._error = self._address.mask(f"camera {self.name}: {reason}")
        self._set_status("failed")
        self._slot.close()

    def _set_status(self, status: Status) -> None:
        with self._changed:
            if status == self._status:
                return
            self._status = status
            self._changed.notify_all()
        if self.on_status is not None:
            self.on_status(status)


def _reason(error: av.error.FFmpegError) -> str:
    """FFmpeg's words for ``error``, without the URL it quotes (the camera is named apart)."""
    return error.strerror or str(error)
