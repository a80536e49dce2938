"""Follow faces between full searches with sparse optical flow, at a few points per face.

A full search of a room-camera frame takes most of a second; following known faces from one
frame to the next costs milliseconds: pyramidal Lucas-Kanade flow of a small grid of points
inside each box, whose median step moves the box (and its landmarks). The median step of all
points is the camera's own motion (a slow pan), which also moves faces whose points were
lost, and shifts a background search's boxes from the frame it searched to the current one.
Flow runs on a copy at most ``flow_width`` wide; faces keep their full-resolution boxes.
"""

from __future__ import annotations

import cv2
import numpy as np

GRID = np.array([(u, v) for v in (0.35, 0.6) for u in (0.3, 0.5, 0.7)], np.float32)


class FlowTracker:
    """``step(frame, boxes) -> (moved boxes, camera shift)``; ``reset()`` for a new stream."""

    def __init__(self, flow_width: int = 960, window_px: int = 15, levels: int = 3) -> None:
        self.flow_width = flow_width
        self.window_px = window_px
        self.levels = levels
        self._previous: np.ndarray | None = None
        self._scale = 1.0

    def reset(self) -> None:
        self._previous = None

    def remember(self, frame: np.ndarray) -> None:
        """Keep ``frame`` as the one the next ``step`` moves boxes from."""
        self._previous, self._scale = self._gray(frame)

    def step(self, frame: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes of the remembered frame moved into ``frame`` (which is then remembered),
        and the camera's shift ``dx, dy`` in frame pixels."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        gray, scale = self._gray(frame)
        previous = self._previous
        self._previous, self._scale = gray, scale
        if previous is None or previous.shape != gray.shape or not len(boxes):
            return boxes, np.zeros(2)
        points = (boxes[:, None, :2] + GRID[None] * boxes[:, None, 2:]) * scale  # (N, P, 2)
        flat = points.reshape(-1, 1, 2).astype(np.float32)
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            previous,
            gray,
            flat,
            None,
            winSize=(self.window_px, self.window_px),
            maxLevel=self.levels,
            criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 0.03),
        )
        steps = (moved - flat).reshape(len(boxes), -1, 2) / scale
        ok = status.reshape(len(boxes), -1).astype(bool)
        if not ok.any():
            return boxes, np.zeros(2)
        camera = np.median(steps[ok], axis=0)
        steps[~ok] = np.nan
        trusted = ok.sum(axis=1) >= 2  # at least two points agree: the face's own motion
        shifts = np.tile(camera, (len(boxes), 1))
        if trusted.any():
            shifts[trusted] = np.nanmedian(steps[trusted], axis=1)
        out = boxes.copy()
        out[:, :2] += shifts
        return out, np.asarray(camera, np.float64)

    def _gray(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        scale = min(1.0, self.flow_width / frame.shape[1]) if self.flow_width else 1.0
        if scale < 1.0:
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), scale


def widen(boxes: np.ndarray, by: np.ndarray) -> np.ndarray:
    """``x, y, w, h`` boxes grown by ``by`` pixels (one value per box) on every side."""
    by = np.asarray(by, np.float64).reshape(-1, 1)
    return np.asarray(boxes, np.float64).reshape(-1, 4) + np.hstack([-by, -by, 2 * by, 2 * by])
