"""The camera errors: each message names the camera by its masked URL or device."""

from __future__ import annotations

from fer_core.errors import FerCoreError


class CameraError(FerCoreError):
    """A camera cannot be used: its address is wrong, or it never sent a frame."""


class UnsupportedCameraError(CameraError, ValueError):
    """The address is neither a URL of a supported scheme nor a device path."""


class CameraNotFoundError(CameraError, FileNotFoundError):
    """The local device (``/dev/video*``) does not exist."""


class CameraUnreachableError(CameraError, ConnectionError):
    """The camera never answered, or answered without sending a frame."""
