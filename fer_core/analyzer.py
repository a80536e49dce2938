"""``FrameAnalyzer``: one video frame in, the faces in it out, with ids and emotions.

Per frame: detect faces (on a downscaled copy when the frame is large), give them track ids,
classify every face that is large enough in one batched call, and smooth each track's
probabilities over time. With ``classify_every_s`` a track is re-classified at most that
often and keeps its smoothed probabilities in between, which bounds the CNN's work per
second whatever the frame rate. With ``detect_every_s`` the whole frame is searched at most
that often; in between, each tracked face is re-found in a small crop around where its track
predicts it, scaled so the face is about ``ROI_FACE_PX`` wide, which costs a fraction of a
full-frame search (new faces then appear up to ``detect_every_s`` late). ``annotate`` draws
the result; ``reset`` starts a new stream.
One instance serves one stream; its methods are safe to call from a video callback thread.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import supervision as sv

from fer_core.catalog import LIVE_MODEL
from fer_core.classifier import EmotionClassifier
from fer_core.detection import FaceDetector, crop_faces, make_detector
from fer_core.errors import InvalidInputError
from fer_core.smoothing import ProbabilitySmoother
from fer_core.tracking import FaceTracker

UNKNOWN = "unknown"
ROI_FACE_PX = 64  # a tracked face is re-found in a crop scaled so it is about this wide
ROI_CONTEXT = 0.5  # the crop: the predicted box grown by this many face sizes on each side


@dataclass(frozen=True)
class Face:
    """One face in one frame.

    ``probs`` are in ``FrameAnalyzer.classes`` order (smoothed unless smoothing is off).
    Faces smaller than the analyzer's ``min_face`` are reported with ``classified=False``,
    NaN probabilities and the label ``"unknown"``.
    """

    box: tuple[int, int, int, int]
    probs: np.ndarray = field(repr=False)
    label: str
    confidence: float
    track_id: int
    classified: bool = True


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
        }
        for f in faces
    ]


def _drop_duplicates(boxes: np.ndarray, max_iou: float = 0.3) -> np.ndarray:
    """Greedy suppression, largest first: crops of neighbouring faces overlap."""
    order = np.argsort(-(boxes[:, 2] * boxes[:, 3]), kind="stable")
    kept: list[np.ndarray] = []
    for box in boxes[order]:
        if all(box_iou(box, other) <= max_iou for other in kept):
            kept.append(box)
    return np.array(kept, dtype=int).reshape(-1, 4)


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``x, y, w, h`` boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(x1 - x0, 0) * max(y1 - y0, 0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


class FrameAnalyzer:
    """Detect, track, classify and smooth the faces of a stream of BGR frames."""

    def __init__(
        self,
        classifier: EmotionClassifier | str | None = None,
        detector: str | FaceDetector = "haar",
        smoothing_s: float = 0.5,
        min_face: int = 24,
        detect_width: int | None = 640,
        margin: float = 0.1,
        classify_every_s: float = 0.0,
        detect_every_s: float = 0.0,
    ) -> None:
        if not isinstance(classifier, EmotionClassifier):
            classifier = EmotionClassifier.load(classifier or LIVE_MODEL)
        self.classifier = classifier
        self.detector = make_detector(detector) if isinstance(detector, str) else detector
        self.min_face = min_face
        self.detect_width = detect_width
        self.margin = margin
        self.classify_every_s = classify_every_s
        self.detect_every_s = detect_every_s
        self._last_full_detect: float | None = None
        self.stage_seconds: Counter[str] = Counter()  # time spent per stage, for benchmarks
        self.frames_analyzed = 0
        self.smoother = ProbabilitySmoother(smoothing_s)
        self.tracker = FaceTracker()
        self._lock = threading.Lock()
        self._box_annotator = sv.BoxAnnotator(color_lookup=sv.ColorLookup.TRACK)
        self._label_annotator = sv.LabelAnnotator(
            color_lookup=sv.ColorLookup.TRACK, text_scale=0.5, text_padding=4
        )
        self._blur_annotator = sv.BlurAnnotator()

    @property
    def classes(self) -> tuple[str, ...]:
        return self.classifier.classes

    @property
    def faces_seen(self) -> int:
        """Distinct faces (track ids) since the stream started or was reset."""
        return self.tracker.faces_seen

    def reset(self) -> None:
        """Start a new stream: forget tracks, ids and smoothing state."""
        with self._lock:
            self.tracker.reset()
            self.smoother.reset()
            self._last_full_detect = None

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """Face boxes in full-frame coordinates, detecting on a copy at most ``detect_width``."""
        scale = 1.0
        if self.detect_width and frame.shape[1] > self.detect_width:
            scale = self.detect_width / frame.shape[1]
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        boxes = self.detector.detect(frame)
        return np.round(np.asarray(boxes, float).reshape(-1, 4) / scale).astype(int)

    def analyze(self, frame: np.ndarray, timestamp_s: float | None = None) -> list[Face]:
        """Faces of one uint8 (H, W, 3) BGR frame; ``timestamp_s`` defaults to the clock."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise InvalidInputError(
                f"expected a uint8 (H, W, 3) BGR frame, got {frame.dtype} {frame.shape}"
            )
        now = time.monotonic() if timestamp_s is None else float(timestamp_s)
        with self._lock:
            clock = time.perf_counter()
            boxes = self._find_faces(frame, now)
            clock = self._lap("detect", clock)
            track_ids = self.tracker.update(boxes)
            clock = self._lap("track", clock)
            large = np.minimum(boxes[:, 2], boxes[:, 3]) >= self.min_face
            fresh = np.array([self._is_fresh(int(t), now) for t in track_ids], dtype=bool)
            probs = np.full((len(boxes), len(self.classes)), np.nan, np.float32)
            for i in np.flatnonzero(large & fresh):
                probs[i] = self.smoother.last(int(track_ids[i]))
            todo = np.flatnonzero(large & ~fresh)
            if len(todo):
                raw = self.classifier.predict_proba(crop_faces(frame, boxes[todo], self.margin))
                clock = self._lap("classify", clock)
                for i, p in zip(todo, raw, strict=True):
                    probs[i] = self.smoother.update(int(track_ids[i]), p, now)
            self.smoother.forget_stale(now)
            self._lap("smooth", clock)
            self.frames_analyzed += 1
        return [
            self._face(box, p, int(t), ok)
            for box, p, t, ok in zip(boxes, probs, track_ids, large, strict=True)
        ]

    def _find_faces(self, frame: np.ndarray, now: float) -> np.ndarray:
        """A full-frame search when due (or nothing is tracked), else re-find tracked faces."""
        last = self._last_full_detect
        predicted = self.tracker.predicted_boxes()
        due = last is None or now < last or now - last >= self.detect_every_s
        if due or not len(predicted):
            self._last_full_detect = now
            return self.detect(frame)
        return self.detect_near(frame, predicted)

    def detect_near(self, frame: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """Faces found in a small crop around each predicted box, in frame coordinates."""
        height, width = frame.shape[:2]
        found = []
        for x, y, w, h in np.asarray(predicted, float).reshape(-1, 4):
            side = max(w, h, 1.0)
            pad = ROI_CONTEXT * side
            x0, y0 = max(int(x - pad), 0), max(int(y - pad), 0)
            x1, y1 = min(int(x + w + pad), width), min(int(y + h + pad), height)
            if x1 - x0 < side / 2 or y1 - y0 < side / 2:  # the face has left the frame
                continue
            crop = frame[y0:y1, x0:x1]
            scale = min(1.0, ROI_FACE_PX / side)
            if scale < 1.0:
                crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            boxes = np.asarray(self.detector.detect(crop), float).reshape(-1, 4) / scale
            boxes[:, :2] += (x0, y0)
            found.append(boxes)
        if not found:
            return np.empty((0, 4), int)
        return _drop_duplicates(np.round(np.concatenate(found)).astype(int))

    def _is_fresh(self, track_id: int, now: float) -> bool:
        """Whether the track was classified within ``classify_every_s`` and can reuse it."""
        age = self.smoother.age_s(track_id, now)
        return age is not None and age < self.classify_every_s

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stage_seconds[stage] += now - since
        return now

    def _face(self, box: np.ndarray, probs: np.ndarray, track_id: int, classified: bool) -> Face:
        box_tuple = tuple(int(v) for v in box)
        if not classified:
            return Face(box_tuple, probs, UNKNOWN, float("nan"), track_id, classified=False)
        best = int(np.argmax(probs))
        return Face(box_tuple, probs, self.classes[best], float(probs[best]), track_id)

    def annotate(self, frame: np.ndarray, faces: list[Face], blur: bool = False) -> np.ndarray:
        """A copy of ``frame`` with each face's box, track id, emotion and confidence drawn;
        ``blur=True`` also blurs every face so nobody can be recognised."""
        scene = np.array(frame, copy=True)
        if not faces:
            return scene
        xywh = np.array([f.box for f in faces], dtype=float)
        detections = sv.Detections(
            xyxy=np.column_stack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]]),
            tracker_id=np.array([f.track_id for f in faces]),
        )
        if blur:
            scene = self._blur_annotator.annotate(scene, detections)
        labels = [
            f"#{f.track_id} {f.label} {f.confidence:.0%}" if f.classified else f"#{f.track_id}"
            for f in faces
        ]
        scene = self._box_annotator.annotate(scene, detections)
        return self._label_annotator.annotate(scene, detections, labels=labels)
