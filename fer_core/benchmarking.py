"""Speed measurements of the pipeline against a naive reference, side by side.

The reference does what the ``fer`` package does per frame: a Haar cascade on the full
frame, then one ``model.predict`` call per face. Both run in the same process on the same
decoded frames, so every figure can be read as a ratio. Run on an idle machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from fer_core.analyzer import FrameAnalyzer
from fer_core.classifier import EmotionClassifier
from fer_core.detection import HaarFaceDetector, crop_faces
from fer_core.preprocessing import preprocess


@dataclass
class PipelineSpeed:
    frames: int
    seconds: float
    faces: int
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else float("nan")


def decode_frames(path: str | Path, limit: int | None = None) -> tuple[list[np.ndarray], float]:
    """All (or the first ``limit``) frames of a video as BGR arrays, and the decode time."""
    frames = []
    start = time.perf_counter()
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="bgr24"))
            if limit is not None and len(frames) >= limit:
                break
    return frames, time.perf_counter() - start


def pipeline_speed(analyzer: FrameAnalyzer, frames: list[np.ndarray], fps: float) -> PipelineSpeed:
    """End-to-end speed of ``analyzer`` over decoded frames at their video timestamps."""
    analyzer.classifier.predict_proba(np.zeros((1, 48, 48), np.uint8))  # warm-up: compiles
    analyzer.analyze(frames[0], 0.0)
    analyzer.reset()
    analyzer.stage_seconds.clear()
    faces = 0
    start = time.perf_counter()
    for index, frame in enumerate(frames):
        faces += len(analyzer.analyze(frame, index / fps))
    seconds = time.perf_counter() - start
    return PipelineSpeed(len(frames), seconds, faces, dict(analyzer.stage_seconds))


def reference_speed(classifier: EmotionClassifier, frames: list[np.ndarray]) -> PipelineSpeed:
    """The naive per-face pipeline: Haar on the full frame, one ``model.predict`` per face."""
    detector = HaarFaceDetector()
    model = classifier.model
    model.predict(preprocess(frames[0][np.newaxis, :48, :48]), verbose=0)  # warm-up
    faces = 0
    stages = {"detect": 0.0, "classify": 0.0}
    start = time.perf_counter()
    for frame in frames:
        clock = time.perf_counter()
        boxes = detector.detect(frame)
        stages["detect"] += time.perf_counter() - clock
        clock = time.perf_counter()
        for crop in crop_faces(frame, boxes):
            model.predict(preprocess(crop[np.newaxis]), verbose=0)
            faces += 1
        stages["classify"] += time.perf_counter() - clock
    return PipelineSpeed(len(frames), time.perf_counter() - start, faces, stages)


def classification_speed(classifier: EmotionClassifier, batch: int, seconds: float = 2.0) -> float:
    """``predict_proba`` faces per second at a given batch size."""
    faces = np.random.default_rng(0).integers(0, 256, (batch, 48, 48), dtype=np.uint8)
    classifier.predict_proba(faces)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        classifier.predict_proba(faces)
        done += batch
    return done / (time.perf_counter() - start)
