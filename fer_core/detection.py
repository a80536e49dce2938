"""Kept for existing imports: detectors now live in ``fer_core.detectors``."""

from fer_core.detectors import (
    DEFAULT_DETECTOR,
    DETECTORS,
    FaceDetector,
    HaarFaceDetector,
    crop_faces,
    make_detector,
    square_box,
)

__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTORS",
    "FaceDetector",
    "HaarFaceDetector",
    "crop_faces",
    "make_detector",
    "square_box",
]
