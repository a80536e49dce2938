"""Cut faces out of a frame as square crops for the classifier."""

from __future__ import annotations

import numpy as np


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
