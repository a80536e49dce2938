"""Cameras the server reads itself: IP cameras by URL and local devices.

``CameraSource`` reads one camera in its own thread and hands out its newest frame; drops
are reconnected and recorded as ``Gap``s. See ``fer_core.cameras.source``.
"""

from fer_core.cameras.address import SCHEMES, CameraAddress, parse_address
from fer_core.cameras.errors import (
    CameraError,
    CameraNotFoundError,
    CameraUnreachableError,
    UnsupportedCameraError,
)
from fer_core.cameras.frames import Frame, Gap
from fer_core.cameras.source import CameraSource, Status

__all__ = [
    "SCHEMES",
    "CameraAddress",
    "CameraError",
    "CameraNotFoundError",
    "CameraSource",
    "CameraUnreachableError",
    "Frame",
    "Gap",
    "Status",
    "UnsupportedCameraError",
    "parse_address",
]
