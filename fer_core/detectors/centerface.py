"""CenterFace: a small anchor-free face detector made for small and turned faces.

The network (MIT licence; provenance and changes in ``models/detectors/centerface/``) predicts,
at stride 4, a face-centre heat map, each face's size, a sub-cell offset and five landmarks
(eyes, nose, mouth corners). It runs under ONNX Runtime at the frame's native resolution, so a
15-pixel face stays 15 pixels; ``TiledSearch`` splits large frames and adds coarser and finer
views. Input sides are padded (never resized) to a multiple of 32.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from fer_core.detectors.base import Detections, bgr_frame, non_max_suppression
from fer_core.errors import ModelNotFoundError
from fer_core.shipped import shipped_folder

_FOLDER = shipped_folder("models") / "detectors" / "centerface"
#: The network as published (float32).
FLOAT_MODEL_PATH = _FOLDER / "centerface.onnx"
#: The same network in int8 (``fer_core.detectors.quantize``): about twice as fast, the same
#: faces found on the sample group photos; the default.
MODEL_PATH = _FOLDER / "centerface-int8.onnx"
STRIDE = 4  # output cells per input pixel
ALIGN = 32  # input sides must be multiples of this
N_LANDMARKS = 5


class CenterFaceDetector:
    """``detect_faces(frame_bgr) -> Detections`` with 5 landmarks per face, at native size.

    ``min_score`` is the heat-map peak a face needs (0.4: on group photos and generated halls
    it found 0.5-3.5 points more faces than 0.5 with at most 0.5% more false boxes; 0.3 let
    in 6% false boxes on the tiniest faces); ``nms_iou`` merges duplicate peaks;
    ``num_threads`` is ONNX Runtime's intra-op thread count. Calls are serialised: one ONNX
    session is not shared between threads.
    """

    def __init__(
        self,
        min_score: float = 0.4,
        nms_iou: float = 0.3,
        num_threads: int = 2,
        model_path: str | Path = MODEL_PATH,
    ) -> None:
        import onnxruntime as ort  # loaded only when this detector is chosen

        path = Path(model_path)
        if not path.is_file():
            raise ModelNotFoundError(f"the CenterFace model is missing: {path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # no warnings about unused initialisers
        # Idle threads sleep instead of spinning: a search shares the CPU with the
        # tracking and classification of the frames that arrive meanwhile.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._outputs = [o.name for o in self._session.get_outputs()]
        self.min_score = min_score
        self.nms_iou = nms_iou
        self._lock = threading.Lock()

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """Faces as (N, 4) int ``x, y, w, h`` boxes."""
        return self.detect_faces(frame).boxes

    def detect_faces(self, frame: np.ndarray) -> Detections:
        """Boxes, heat-map scores and landmarks of every face in a BGR frame."""
        frame = bgr_frame(frame)
        height, width = frame.shape[:2]
        blob = network_input(frame)
        with self._lock:
            heat, size, offset, marks = self._session.run(self._outputs, {self._input: blob})
        found = _decode(heat[0, 0], size[0], offset[0], marks[0], self.min_score)
        found = _clip(found, width, height)
        return non_max_suppression(found, self.nms_iou)


def network_input(frame: np.ndarray) -> np.ndarray:
    """A BGR frame as the network takes it: RGB 0-255 floats, NCHW, sides padded to ``ALIGN``."""
    height, width = frame.shape[:2]
    padded_h, padded_w = -(-height // ALIGN) * ALIGN, -(-width // ALIGN) * ALIGN
    blob = np.zeros((1, 3, padded_h, padded_w), np.float32)
    blob[0, :, :height, :width] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
    return blob


def _decode(
    heat: np.ndarray, size: np.ndarray, offset: np.ndarray, marks: np.ndarray, min_score: float
) -> Detections:
    """Heat-map peaks above ``min_score`` -> boxes and landmarks in input pixels."""
    rows, cols = np.nonzero(heat > min_score)
    if not len(rows):
        return Detections.empty(N_LANDMARKS)
    box_h = np.exp(size[0, rows, cols]) * STRIDE
    box_w = np.exp(size[1, rows, cols]) * STRIDE
    centre_y = (rows + offset[0, rows, cols] + 0.5) * STRIDE
    centre_x = (cols + offset[1, rows, cols] + 0.5) * STRIDE
    x0, y0 = centre_x - box_w / 2, centre_y - box_h / 2
    points = marks[:, rows, cols].T.reshape(-1, N_LANDMARKS, 2)  # (y, x) pairs, box-relative
    landmarks = np.stack(
        [
            x0[:, None] + points[..., 1] * box_w[:, None],
            y0[:, None] + points[..., 0] * box_h[:, None],
        ],
        axis=-1,
    ).astype(np.float32)
    boxes = np.round(np.stack([x0, y0, box_w, box_h], axis=1)).astype(int)
    return Detections(boxes, heat[rows, cols].astype(np.float32), landmarks)


def _clip(found: Detections, width: int, height: int) -> Detections:
    """Boxes clamped to the frame; a face whose box is mostly outside it is dropped."""
    if not len(found):
        return found
    x0 = np.clip(found.boxes[:, 0], 0, width - 1)
    y0 = np.clip(found.boxes[:, 1], 0, height - 1)
    x1 = np.clip(found.boxes[:, 0] + found.boxes[:, 2], x0 + 1, width)
    y1 = np.clip(found.boxes[:, 1] + found.boxes[:, 3], y0 + 1, height)
    clamped = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
    inside = clamped[:, 2] * clamped[:, 3] >= 0.5 * found.boxes[:, 2] * found.boxes[:, 3]
    return Detections(clamped[inside], found.scores[inside], found.landmarks[inside])
