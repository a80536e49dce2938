"""Kept for existing imports: BlazeFace now lives in ``fer_core.detectors.blazeface``."""

from fer_core.detectors.blazeface import BlazeFaceDetector

__all__ = ["BlazeFaceDetector"]
