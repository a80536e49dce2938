"""What every face detector gives: boxes, scores and (when it has them) landmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from fer_core.errors import InvalidInputError


@dataclass(frozen=True)
class Detections:
    """The faces one search found, in frame pixels.

    ``boxes`` are (N, 4) int ``x, y, w, h``; ``scores`` (N,) the detector's confidence
    (1.0 for detectors without one); ``landmarks`` (N, K, 2) key points (for CenterFace: eyes,
    nose, mouth corners) or ``None`` when the detector gives none.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls, n_landmarks: int | None = None) -> Detections:
        landmarks = None if n_landmarks is None else np.empty((0, n_landmarks, 2), np.float32)
        return cls(np.empty((0, 4), int), np.empty(0, np.float32), landmarks)

    def take(self, keep: np.ndarray) -> Detections:
        """The subset ``keep`` (indices or a boolean mask)."""
        landmarks = None if self.landmarks is None else self.landmarks[keep]
        return Detections(self.boxes[keep], self.scores[keep], landmarks)

    def scaled(self, factor: float, offset: tuple[float, float] = (0.0, 0.0)) -> Detections:
        """A resized, shifted view's coordinates mapped back: ``view / factor + offset``."""
        shift = np.asarray(offset, np.float64)
        boxes = self.boxes.astype(np.float64) / factor
        boxes[:, :2] += shift
        landmarks = None
        if self.landmarks is not None:
            landmarks = (self.landmarks / factor + shift).astype(np.float32)
        return Detections(np.round(boxes).astype(int), self.scores, landmarks)

    @classmethod
    def concatenate(cls, parts: list[Detections]) -> Detections:
        """One set from several; landmarks are kept only when every part has the same kind."""
        if not parts:
            return cls.empty()
        marks = [p.landmarks for p in parts]
        same = all(m is not None for m in marks) and len({m.shape[1] for m in marks}) == 1
        return cls(
            np.concatenate([p.boxes for p in parts]).reshape(-1, 4).astype(int),
            np.concatenate([p.scores for p in parts]).astype(np.float32),
            np.concatenate(marks).astype(np.float32) if same else None,
        )


@runtime_checkable
class FaceDetector(Protocol):
    """Anything with ``detect(frame_bgr) -> (N, 4) int x, y, w, h`` boxes."""

    def detect(self, frame: np.ndarray) -> np.ndarray: ...


def detect_faces(detector: FaceDetector, frame: np.ndarray) -> Detections:
    """Boxes, scores and landmarks from any detector; plain ``detect`` ones get scores of 1."""
    frame = require_pixels(frame)
    richer = getattr(detector, "detect_faces", None)
    if richer is not None:
        return richer(frame)
    boxes = np.asarray(detector.detect(frame), float).reshape(-1, 4)
    return Detections(np.round(boxes).astype(int), np.ones(len(boxes), np.float32))


def non_max_suppression(found: Detections, max_iou: float) -> Detections:
    """Keep the best-scoring box of each overlapping group (IoU above ``max_iou``)."""
    if len(found) < 2:
        return found
    chosen = cv2.dnn.NMSBoxes(
        found.boxes.astype(float).tolist(), found.scores.astype(float).tolist(), 0.0, max_iou
    )
    return found.take(np.sort(np.asarray(chosen, int).reshape(-1)))


def require_pixels(frame: np.ndarray) -> np.ndarray:
    """``frame`` as an array, or a clear error when it has no pixels ((0, W), (H, 0)), which
    OpenCV would meet with a bare assertion."""
    frame = np.asarray(frame)
    if frame.ndim >= 2 and min(frame.shape[:2]) < 1:
        raise InvalidInputError(f"the frame is empty: shape {frame.shape} holds no pixels")
    return frame


def bgr_frame(frame: np.ndarray) -> np.ndarray:
    """The frame as a contiguous uint8 (H, W, 3) BGR array, or a clear error."""
    frame = require_pixels(frame)
    if frame.ndim == 2:
        frame = cv2.cvtColor(np.ascontiguousarray(frame, np.uint8), cv2.COLOR_GRAY2BGR)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise InvalidInputError(
            f"expected a uint8 (H, W, 3) BGR or (H, W) gray frame, got {frame.dtype} {frame.shape}"
        )
    return np.ascontiguousarray(frame)
