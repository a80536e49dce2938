"""OpenCV's frontal-face Haar cascade: the classic detector, for close, frontal faces."""

from __future__ import annotations

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
