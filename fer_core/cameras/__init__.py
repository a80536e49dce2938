"""Cameras the server reads itself: IP cameras by URL and local devices.

``CameraSource`` reads one camera in its own thread and hands out its newest frame; drops
are reconnected and recorded as ``Gap``s. See ``fer_core.cameras.source``. An ``Event`` is a
saved session watched by one or more cameras, each analyzed in its own worker process, with
a combined timeline; see ``fer_core.cameras.event``.
"""

from fer_core.cameras.address import SCHEMES, CameraAddress, parse_address
from fer_core.cameras.analysis import CameraView, Latency
from fer_core.cameras.combine import COMBINED_COLUMNS
from fer_core.cameras.errors import (
    CameraError,
    CameraNotFoundError,
    CameraUnreachableError,
    UnsupportedCameraError,
)
from fer_core.cameras.event import Event, EventSnapshot
from fer_core.cameras.frames import Frame, Gap
from fer_core.cameras.source import CameraSource, Status

__all__ = [
    "COMBINED_COLUMNS",
    "SCHEMES",
    "CameraAddress",
    "CameraError",
    "CameraNotFoundError",
    "CameraSource",
    "CameraUnreachableError",
    "CameraView",
    "Event",
    "EventSnapshot",
    "Frame",
    "Gap",
    "Latency",
    "Status",
    "UnsupportedCameraError",
    "parse_address",
]
