"""What the pipeline reports per face, and drawing it: light modules, no TensorFlow.

Kept apart from ``FrameAnalyzer`` so a process that only shows results (the web server, a
report) can hold and draw faces without loading the model's framework.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import supervision as sv

UNKNOWN = "unknown"
#: A blurred face's box is widened by this share of its size on every side (chin, ears, a
#: box that lags a moving face), and by ``BLUR_ABOVE`` more of its height upwards (sharp hair
#: over a blurred face still read as a head to OpenCV's Haar cascade), and shown as about
#: ``BLUR_CELLS`` cells across: a plain blur of the detector's box left enough of the eyes and
#: mouth for Haar to find the face.
BLUR_PAD = 0.25
BLUR_ABOVE = 0.3
BLUR_CELLS = 4


@dataclass(frozen=True)
class Face:
    """One face in one frame.

    ``probs`` are in the analyzer's ``classes`` order (smoothed unless smoothing is off).
    Faces smaller than the analyzer's ``min_face`` are reported with ``classified=False``,
    NaN probabilities and the label ``"unknown"``. ``landmarks`` are the detector's key
    points (eyes, nose, mouth corners for CenterFace) as a ``(K, 2)`` array in frame
    coordinates, or ``None`` when the detector gives none. ``confirmed`` is False while the
    face's track is tentative (found by one search only): such a face may be a false
    detection, so it is drawn apart and counted as a person only once confirmed. ``yaw`` and
    ``pitch`` are the head's angles in degrees from the landmarks (``fer_core.attention``;
    NaN without landmarks), and ``attending`` whether it faces the stage (None when unknown).
    """

    box: tuple[int, int, int, int]
    probs: np.ndarray = field(repr=False)
    label: str
    confidence: float
    track_id: int
    classified: bool = True
    landmarks: np.ndarray | None = field(default=None, repr=False, compare=False)
    confirmed: bool = True
    yaw: float = math.nan
    pitch: float = math.nan
    attending: bool | None = None


def face_rows(faces: list[Face], classes: tuple[str, ...], time_s: float, frame: int) -> list[dict]:
    """Rows of the per-face table; probabilities are matched to columns by class name."""
    return [
        {
            "time_s": time_s,
            "frame": frame,
            "track_id": f.track_id,
            "x": f.box[0],
            "y": f.box[1],
            "w": f.box[2],
            "h": f.box[3],
            "label": f.label,
            "confidence": f.confidence,
            **dict(zip(classes, f.probs.tolist(), strict=True)),
            "yaw": f.yaw,
            "pitch": f.pitch,
            "attending": math.nan if f.attending is None else float(f.attending),
        }
        for f in faces
    ]


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``x, y, w, h`` boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(x1 - x0, 0) * max(y1 - y0, 0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


class FaceAnnotator:
    """Draw faces on a frame: box, track id, emotion and confidence; optionally blurred.

    A tentative face (``Face.confirmed`` False) gets a thin grey box and no label: it may be
    a false detection and counts for nothing yet. Blurring covers every face, tentative ones
    included, and any further boxes given as ``cover`` (faces found or moved since).
    """

    def __init__(self) -> None:
        self._box = sv.BoxAnnotator(color_lookup=sv.ColorLookup.TRACK)
        self._tentative = sv.BoxAnnotator(
            color=sv.Color.from_hex("#9e9e9e"), thickness=1, color_lookup=sv.ColorLookup.INDEX
        )
        self._label = sv.LabelAnnotator(
            color_lookup=sv.ColorLookup.TRACK, text_scale=0.5, text_padding=4
        )

    def annotate(
        self,
        frame: np.ndarray,
        faces: list[Face],
        blur: bool = False,
        cover: np.ndarray | None = None,
    ) -> np.ndarray:
        """A copy of ``frame`` with each face drawn; ``blur=True`` also blurs every face, and
        every ``x, y, w, h`` box of ``cover``, so nobody can be recognised."""
        scene = np.array(frame, copy=True)
        if blur:
            boxes = [np.reshape(cover, (-1, 4))] if cover is not None else []
            hide(scene, np.concatenate([np.array([f.box for f in faces]).reshape(-1, 4), *boxes]))
        if not faces:
            return scene
        confirmed = [f for f in faces if f.confirmed]
        tentative = [f for f in faces if not f.confirmed]
        if tentative:
            scene = self._tentative.annotate(scene, _detections(tentative))
        if not confirmed:
            return scene
        detections = _detections(confirmed)
        labels = [
            f"#{f.track_id} {f.label} {f.confidence:.0%}" if f.classified else f"#{f.track_id}"
            for f in confirmed
        ]
        scene = self._box.annotate(scene, detections)
        return self._label.annotate(scene, detections, labels=labels)


def _detections(faces: list[Face]) -> sv.Detections:
    xywh = np.array([f.box for f in faces], dtype=float)
    return sv.Detections(
        xyxy=np.column_stack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]]),
        tracker_id=np.array([f.track_id for f in faces]),
    )


def hide(scene: np.ndarray, boxes: np.ndarray) -> None:
    """Blur each ``x, y, w, h`` box of ``scene`` in place, widened by ``BLUR_PAD`` (and
    ``BLUR_ABOVE``), down to about ``BLUR_CELLS`` cells across."""
    height, width = scene.shape[:2]
    for x, y, w, h in np.asarray(boxes, float).reshape(-1, 4):
        x0, y0 = max(int(x - BLUR_PAD * w), 0), max(int(y - (BLUR_PAD + BLUR_ABOVE) * h), 0)
        x1 = min(int(np.ceil(x + (1 + BLUR_PAD) * w)), width)
        y1 = min(int(np.ceil(y + (1 + BLUR_PAD) * h)), height)
        if x1 <= x0 or y1 <= y0:
            continue
        region = scene[y0:y1, x0:x1]
        cell = max(max(x1 - x0, y1 - y0) / BLUR_CELLS, 1.0)
        cells = (max(round((x1 - x0) / cell), 1), max(round((y1 - y0) / cell), 1))
        small = cv2.resize(region, cells, interpolation=cv2.INTER_AREA)
        region[:] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
