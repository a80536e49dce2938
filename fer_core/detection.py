"""Find faces in a frame and cut them out as square crops for the classifier."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from fer_core.errors import InvalidInputError


class HaarFaceDetector:
    """OpenCV's frontal-face Haar cascade, shipped inside opencv-python-headless 4.x."""

    def __init__(
        self, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 30
    ) -> None:
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"cannot load the Haar cascade from {path}")

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """A BGR or gray frame -> (N, 4) int boxes ``x, y, w, h``."""
        frame = np.asarray(frame)
        if frame.ndim == 3 and frame.shape[2] == 3:
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        elif frame.ndim == 2:
            gray = frame
        else:
            raise InvalidInputError(f"expected a (H, W, 3) BGR or (H, W) frame, got {frame.shape}")
        gray = np.ascontiguousarray(gray, dtype=np.uint8)
        boxes = self._cascade.detectMultiScale(
            gray, self.scale_factor, self.min_neighbors, minSize=(self.min_size, self.min_size)
        )
        return np.asarray(boxes, dtype=int).reshape(-1, 4)


def square_box(box: np.ndarray, frame_shape: tuple[int, ...], margin: float = 0.1) -> np.ndarray:
    """Grow ``x, y, w, h`` to a square with ``margin`` on each side, clamped to the frame."""
    x, y, w, h = (int(v) for v in box)
    side = round(max(w, h) * (1 + 2 * margin))
    height, width = frame_shape[:2]
    side = min(side, height, width)
    cx, cy = x + w / 2, y + h / 2
    left = int(np.clip(round(cx - side / 2), 0, width - side))
    top = int(np.clip(round(cy - side / 2), 0, height - side))
    return np.array([left, top, side, side])


def crop_faces(frame: np.ndarray, boxes: np.ndarray, margin: float = 0.1) -> list[np.ndarray]:
    """Square crops of each box (with margin, clamped to the frame)."""
    crops = []
    for box in boxes:
        x, y, w, h = square_box(box, frame.shape, margin)
        crops.append(frame[y : y + h, x : x + w])
    return crops


class FaceDetector(Protocol):
    """Anything with ``detect(frame_bgr) -> (N, 4) int x, y, w, h`` boxes."""

    def detect(self, frame: np.ndarray) -> np.ndarray: ...


def _blazeface(model: str) -> Callable[[], FaceDetector]:
    def make() -> FaceDetector:
        from fer_core.blazeface import BlazeFaceDetector  # loads LiteRT only when chosen

        return BlazeFaceDetector(model)

    return make


DETECTORS: dict[str, Callable[[], FaceDetector]] = {
    "haar": HaarFaceDetector,
    "blazeface": _blazeface("full"),
    "blazeface-short": _blazeface("short"),
}


def make_detector(name: str) -> FaceDetector:
    """A detector by name (see ``DETECTORS``)."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose one of {sorted(DETECTORS)}")
    return DETECTORS[name]()
