"""Face detectors by name, and the search that runs them over a whole frame.

``make_detector(name)`` gives a ready detector; ``DEFAULT_DETECTOR`` is what
``FrameAnalyzer()`` uses. Every detector has ``detect(frame) -> (N, 4) x, y, w, h`` boxes;
``detect_faces(detector, frame)`` also gives scores and, where the detector has them,
landmarks. Modules: ``base`` (the types), ``centerface``, ``blazeface``, ``haar``,
``search`` (tiles and scales), ``crops`` (square face crops), ``scoring`` (recall against
reference boxes).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from fer_core.detectors.base import Detections, FaceDetector, detect_faces, non_max_suppression
from fer_core.detectors.crops import crop_faces, square_box
from fer_core.detectors.haar import HaarFaceDetector

__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTORS",
    "Detections",
    "Downscaled",
    "FaceDetector",
    "HaarFaceDetector",
    "crop_faces",
    "detect_faces",
    "make_detector",
    "non_max_suppression",
    "square_box",
]


class Downscaled:
    """Run ``detector`` on a copy at most ``width`` pixels wide: fast, but small faces vanish."""

    def __init__(self, detector: FaceDetector, width: int) -> None:
        self.detector = detector
        self.width = width

    def detect(self, frame: np.ndarray) -> np.ndarray:
        return self.detect_faces(frame).boxes

    def detect_faces(self, frame: np.ndarray) -> Detections:
        if frame.shape[1] <= self.width:
            return detect_faces(self.detector, frame)
        factor = self.width / frame.shape[1]
        small = cv2.resize(frame, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        return detect_faces(self.detector, small).scaled(factor)


def _centerface(upscale: float, precision: str = "int8") -> Callable[[], FaceDetector]:
    def make() -> FaceDetector:
        # ONNX Runtime: on demand
        from fer_core.detectors.centerface import FLOAT_MODEL_PATH, MODEL_PATH, CenterFaceDetector
        from fer_core.detectors.search import TiledSearch

        path = MODEL_PATH if precision == "int8" else FLOAT_MODEL_PATH
        return TiledSearch(CenterFaceDetector(model_path=path), upscale=upscale)

    return make


def _blazeface(model: str) -> Callable[[], FaceDetector]:
    def make() -> FaceDetector:
        from fer_core.detectors.blazeface import BlazeFaceDetector  # LiteRT: on demand

        return BlazeFaceDetector(model)

    return make


def _haar() -> FaceDetector:
    return Downscaled(HaarFaceDetector(), 640)


DETECTORS: dict[str, Callable[[], FaceDetector]] = {
    "centerface": _centerface(2.0),
    # No enlarged pass: faster on a room, blind to faces under about 12 px.
    "centerface-native": _centerface(1.0),
    # The published float32 network: the same faces, about half the speed.
    "centerface-float32": _centerface(2.0, "float32"),
    "haar": _haar,
    "blazeface": _blazeface("full"),
    "blazeface-short": _blazeface("short"),
}
#: What ``FrameAnalyzer()`` uses: CenterFace over tiles and scales, made for small faces.
DEFAULT_DETECTOR = "centerface"


def make_detector(name: str) -> FaceDetector:
    """A detector by name (see ``DETECTORS``)."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose one of {sorted(DETECTORS)}")
    return DETECTORS[name]()
