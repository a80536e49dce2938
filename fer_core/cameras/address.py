"""Where a camera is: its URL or device checked, with the name that may be shown of it.

The clear URL, password included, is needed to connect and is kept only here; everything
shown or stored uses ``name``, the URL with its password masked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

from fer_core.cameras.errors import CameraNotFoundError, UnsupportedCameraError
from fer_core.redaction import mask_credentials

#: URL schemes read through FFmpeg's network inputs (``http(s)`` covers MJPEG and HLS).
SCHEMES = ("rtsp", "rtsps", "http", "https", "udp")
DEVICE_PREFIX = "/dev/"


@dataclass(frozen=True)
class CameraAddress:
    """A checked camera address: what ``av.open`` needs, and its safe ``name``."""

    url: str = field(repr=False)  # may hold a password: never show it
    name: str
    format: str | None = None  # FFmpeg's input format: "v4l2" for a device, else probed
    password: str | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        """``device`` for a local device, else the URL's scheme (``rtsp``, ``http``, ...)."""
        return "device" if self.format == "v4l2" else self.url.partition("://")[0].lower()

    def mask(self, text: object) -> str:
        """``text`` with this camera's password masked wherever it appears."""
        return mask_credentials(text, self.password)


def parse_address(source: str | os.PathLike[str]) -> CameraAddress:
    """Check ``source``, a camera URL or a local video device such as ``/dev/video0``.

    Raises ``UnsupportedCameraError`` for any other address and ``CameraNotFoundError`` for a
    device that does not exist, so a typo fails at once rather than as a camera that never
    answers.
    """
    text = os.fspath(source).strip()
    if text.startswith(DEVICE_PREFIX):
        if not Path(text).exists():
            raise CameraNotFoundError(f"camera {text}: no such device")
        return CameraAddress(url=text, name=text, format="v4l2")
    parts = urlsplit(text)
    password = unquote(parts.password) if parts.password else None
    name = mask_credentials(text)  # the URL's own password; the name holds nothing else
    if parts.scheme.lower() not in SCHEMES or not _has_host(parts):
        supported = ", ".join(f"{scheme}://" for scheme in SCHEMES)
        raise UnsupportedCameraError(
            f"camera {name!r}: not a camera address; a camera is a URL ({supported}) "
            f"or a device such as {DEVICE_PREFIX}video0"
        )
    return CameraAddress(url=text, name=name, password=password)


def _has_host(parts: SplitResult) -> bool:
    """Whether the URL names a host or a port (``udp://@:1234`` listens on every address)."""
    try:
        port = parts.port
    except ValueError:  # a port that is not a number
        return False
    return bool(parts.hostname or port)
