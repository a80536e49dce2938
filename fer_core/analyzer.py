"""``FrameAnalyzer``: one video frame in, the faces in it out, with ids and emotions.

Built for a room camera (20 to 300 faces of 10 to 60 pixels) as much as for one webcam face:

- **Search** the whole frame for faces (CenterFace over tiles and scales by default) at most
  every ``detect_every_s`` seconds of stream time; the first frame, the first after
  ``reset()`` and any frame of a new size are searched at once. With ``background_search``
  later searches run in their own thread on the newest frame while frames keep flowing, and
  their boxes are moved by the camera's motion since that frame before they are used.
- **Track** in between without the detector: each face's box is carried from frame to frame
  by sparse optical flow (``fer_core.motion``), which also follows a slowly panning camera;
  searches match tracks and add newcomers (``fer_core.tracking``). A new face is tentative
  (``Face.confirmed`` False) until a second search finds it; only confirmed faces are people
  (``faces_seen``), except that a single frame analyzed on its own (a photo) counts every
  face it finds.
- **Classify** in one batched call per frame, within a budget: a track is re-read at most
  every ``classify_every_s`` seconds and at most ``classify_per_s`` faces a second in all,
  stalest first, so the CNN's work per second is bounded however many faces are in view.
  Faces narrower than ``min_face`` are reported (they count in "faces in view") but not read.
- **Smooth** each track's probabilities over time (``smoothing_s`` half-life).
- **Attention**: each search's landmarks give a face's head yaw and pitch
  (``fer_core.attention``); it attends when it faces within ``attention_cone_deg`` of the
  ``stage_direction`` (yaw, pitch; default the camera).

``annotate`` draws the result (blurring every face, found afresh in the frame drawn, if
asked); ``reset`` starts a new stream. One instance serves one stream; its methods are safe
to call from a video callback thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

import cv2
import numpy as np

from fer_core import defaults
from fer_core.attention import attending, head_pose
from fer_core.catalog import LIVE_MODEL
from fer_core.classifier import EmotionClassifier
from fer_core.detectors import (
    DEFAULT_DETECTOR,
    Detections,
    FaceDetector,
    crop_faces,
    detect_faces,
    make_detector,
)
from fer_core.detectors.base import require_pixels
from fer_core.detectors.search import TiledSearch
from fer_core.errors import InvalidInputError
from fer_core.faces import UNKNOWN, Face, FaceAnnotator, box_iou, face_rows
from fer_core.motion import FlowTracker
from fer_core.smoothing import ProbabilitySmoother
from fer_core.tracking import FaceTracker, Handover

__all__ = ["UNKNOWN", "Face", "FrameAnalyzer", "box_iou", "face_rows"]  # Face etc. live in faces

#: With nothing tracked, search at least this often, so the first face in an empty room is
#: found promptly whatever ``detect_every_s`` is.
EMPTY_SEARCH_S = 0.25


def _next_slot(last: float, now: float, interval: float) -> bool:
    """Whether ``now`` has reached the next multiple of ``interval`` after ``last``: searches
    fall on the same stream times whatever came before, so a video analyzed in chunks that
    start on such a multiple is searched on exactly the frames one whole run searches."""
    if interval <= 0:
        return True
    return np.floor(now / interval + 1e-9) > np.floor(last / interval + 1e-9)


def _stage(direction: tuple[float, float]) -> tuple[float, float]:
    """The stage's yaw and pitch in degrees, checked: finite, yaw within 180, pitch within 90."""
    yaw, pitch = (float(v) for v in direction)
    if not (abs(yaw) <= 180 and abs(pitch) <= 90):  # also refuses NaN
        raise ValueError(
            f"stage_direction must be (yaw, pitch) in degrees, |yaw| <= 180 and |pitch| <= 90, "
            f"got {direction!r}"
        )
    return yaw, pitch


class FrameAnalyzer:
    """Detect, track, classify and smooth the faces of a stream of BGR frames."""

    def __init__(
        self,
        classifier: EmotionClassifier | str | None = None,
        detector: str | FaceDetector = DEFAULT_DETECTOR,
        smoothing_s: float = defaults.SMOOTHING_S,
        min_face: int = defaults.MIN_FACE_PX,
        detect_width: int | None = None,
        margin: float = 0.1,
        classify_every_s: float = defaults.CLASSIFY_EVERY_S,
        detect_every_s: float = defaults.DETECT_EVERY_S,
        background_search: bool = True,
        classify_per_s: float | None = defaults.CLASSIFY_PER_S,
        attention_cone_deg: float = defaults.ATTENTION_CONE_DEG,
        stage_direction: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        for name, value in (
            ("detect_every_s", detect_every_s),
            ("classify_every_s", classify_every_s),
            ("smoothing_s", smoothing_s),
            ("min_face", min_face),
            ("attention_cone_deg", attention_cone_deg),
        ):
            if not 0 <= value < math.inf:  # also refuses NaN
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if classify_per_s is not None and not 0 < classify_per_s < math.inf:
            raise ValueError(
                f"classify_per_s must be a finite number > 0 or None, got {classify_per_s!r}"
            )
        if not isinstance(classifier, EmotionClassifier):
            classifier = EmotionClassifier.load(classifier or LIVE_MODEL)
        self.classifier = classifier
        self.detector = make_detector(detector) if isinstance(detector, str) else detector
        self.min_face = min_face
        self.detect_width = detect_width
        self.margin = margin
        self.classify_every_s = classify_every_s
        self.detect_every_s = detect_every_s
        self.background_search = background_search
        self.classify_per_s = classify_per_s
        self.attention_cone_deg = attention_cone_deg
        self.stage_direction = _stage(stage_direction)
        self.stage_seconds: Counter[str] = Counter()  # time spent per stage, for benchmarks
        self.frames_analyzed = 0
        self.searches = 0
        self.smoother = ProbabilitySmoother(smoothing_s)
        self.tracker = FaceTracker()
        self.flow = FlowTracker()
        self._lock = threading.Lock()
        # One search at a time: ``annotate(blur=True)`` searches beside the background search,
        # and not every detector (LiteRT's interpreter, OpenCV's cascade) may be run twice at once.
        self._detect_lock = threading.Lock()
        self._annotator = FaceAnnotator()
        self._searcher: ThreadPoolExecutor | None = None
        self._clear_stream()

    def _clear_stream(self) -> None:
        self._last_search: float | None = None
        self._frame_shape: tuple[int, ...] | None = None
        self._pending: tuple[Future[Detections], np.ndarray, float] | None = None
        self._stream_frames = 0  # frames since the stream started
        self._resumed = False  # carried on from another analyzer's tracks: never a photo
        self._faces_in_first_frame = 0
        self._camera = np.zeros(2)  # the camera's total shift since the stream started
        self._landmarks: dict[int, np.ndarray] = {}
        # track -> head yaw, pitch (degrees) and whether it attends (None: no pose)
        self._poses: dict[int, tuple[float, float, bool | None]] = {}
        self._budget = 0.0
        self._budget_time: float | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        return self.classifier.classes

    @property
    def faces_seen(self) -> int:
        """Distinct people (confirmed tracks) since the stream started or was reset; after a
        single frame (a photo), every face found in it."""
        if self._stream_frames == 1 and not self._resumed:
            return self._faces_in_first_frame
        return self.tracker.faces_seen

    def reset(self) -> None:
        """Start a new stream: forget tracks, ids and smoothing state."""
        with self._lock:
            self.tracker.reset()
            self.smoother.reset()
            self.flow.reset()
            self._clear_stream()

    def handover(self, timestamp_s: float | None = None) -> Handover:
        """The people this analyzer follows at ``timestamp_s`` (default: the clock), in view
        or lost from view, for an analyzer that may have to carry the stream on (``resume``)."""
        now = time.monotonic() if timestamp_s is None else float(timestamp_s)
        with self._lock:
            return self.tracker.handover(now)

    def resume(self, handover: Handover, timestamp_s: float | None = None) -> None:
        """Carry on a stream another analyzer followed (one in a worker that died): like
        ``reset``, but the people it handed over (``handover``) keep their ids if the first
        search (of the frame at ``timestamp_s``) finds them where they were, and the count of
        people seen goes on from its own (``FaceTracker.resume``). ``timestamp_s`` defaults
        to the clock, as ``analyze``'s does."""
        now = time.monotonic() if timestamp_s is None else float(timestamp_s)
        self.reset()
        with self._lock:
            self.tracker.resume(handover, now)
            self._resumed = True

    def close(self) -> None:
        """Stop the background search thread (a later ``analyze`` starts a new one)."""
        with self._lock:
            if self._searcher is not None:
                self._searcher.shutdown(wait=True, cancel_futures=True)
                self._searcher = None
            self._pending = None

    def flush(self) -> None:
        """Wait for a background search still running and apply it, so the end of a
        recording is as well confirmed as its middle."""
        with self._lock:
            if self._pending is not None:
                future, camera_then, searched_at = self._pending
                self._pending = None
                shift = tuple(self._camera - camera_then)
                self._apply(future.result().scaled(1.0, shift), searched_at)

    def detect_faces(
        self, frame: np.ndarray, near: np.ndarray | None = None, everywhere: bool = False
    ) -> Detections:
        """A full search: every face in the frame, with scores and landmarks. With the tiled
        search (the default detector's), ``near`` boxes of faces known from before and
        ``everywhere`` say where to look closer for faces too small for one pass
        (``TiledSearch.detect_faces``); other detectors search as ever."""
        frame = require_pixels(frame)
        scale = 1.0
        if self.detect_width and frame.shape[1] > self.detect_width:
            scale = self.detect_width / frame.shape[1]
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        with self._detect_lock:
            if isinstance(self.detector, TiledSearch):
                near = None if near is None else np.asarray(near, float) * scale
                found = self.detector.detect_faces(frame, near, everywhere)
            else:
                found = detect_faces(self.detector, frame)
            return found.scaled(scale)

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """Face boxes of a full search, in frame coordinates."""
        return self.detect_faces(frame).boxes

    def analyze(self, frame: np.ndarray, timestamp_s: float | None = None) -> list[Face]:
        """Faces of one uint8 (H, W, 3) BGR frame; ``timestamp_s`` defaults to the clock."""
        frame = require_pixels(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise InvalidInputError(
                f"expected a uint8 (H, W, 3) BGR frame, got {frame.dtype} {frame.shape}"
            )
        now = time.monotonic() if timestamp_s is None else float(timestamp_s)
        with self._lock:
            clock = time.perf_counter()
            self._follow(frame)
            clock = self._lap("track", clock)
            self._search(frame, now)
            clock = self._lap("detect", clock)
            track_ids, boxes, visible, confirmed = self.tracker.snapshot()
            track_ids, boxes = track_ids[visible], np.round(boxes[visible]).astype(int)
            confirmed = confirmed[visible]
            large = np.minimum(boxes[:, 2], boxes[:, 3]) >= self.min_face
            probs = self._classify(frame, track_ids, boxes, large, now)
            self._lap("classify", clock)
            self.frames_analyzed += 1
            self._stream_frames += 1
            if self._stream_frames == 1:
                self._faces_in_first_frame = len(track_ids)
            return [
                self._face(box, p, int(t), ok and not np.isnan(p).any(), bool(sure))
                for box, p, t, ok, sure in zip(
                    boxes, probs, track_ids, large, confirmed, strict=True
                )
            ]

    def _follow(self, frame: np.ndarray) -> None:
        """Carry every track (and its landmarks) into this frame by optical flow."""
        if self._frame_shape != frame.shape:  # a new stream or a new size: nothing to follow
            self.flow.remember(frame)
            return
        ids, boxes, visible, _ = self.tracker.snapshot()
        moved, camera = self.flow.step(frame, boxes)
        # A face the last search missed is turned away or hidden: the flow at its box is that
        # of whatever hides it, so it moves with the camera only and waits where it was.
        moved[~visible, :2] = boxes[~visible, :2] + camera
        self._camera += camera
        if len(ids):
            self.tracker.move(moved)
            for track_id, shift in zip(ids, moved[:, :2] - boxes[:, :2], strict=True):
                if int(track_id) in self._landmarks:
                    self._landmarks[int(track_id)] = self._landmarks[int(track_id)] + shift

    def _search(self, frame: np.ndarray, now: float) -> None:
        """Run a due full search (here, or in the background) and apply a finished one."""
        new_stream = self._frame_shape != frame.shape or self._last_search is None
        if self._pending is not None and (new_stream or self._pending[0].done()):
            future, camera_then, searched_at = self._pending
            self._pending = None
            if not new_stream:  # a search of an older frame, moved by the camera since
                shift = tuple(self._camera - camera_then)
                self._apply(future.result().scaled(1.0, shift), searched_at)
        interval = self.detect_every_s
        if not self.tracker.snapshot()[2].any():
            interval = min(interval, EMPTY_SEARCH_S)
        due = new_stream or now < self._last_search or _next_slot(self._last_search, now, interval)
        self._frame_shape = frame.shape
        if not due or self._pending is not None:
            return
        self._last_search = now
        self.searches += 1
        if new_stream:  # nothing to go on: look closely everywhere (a photo is one frame)
            self._apply(self.detect_faces(frame, everywhere=True), now)
            return
        # Every track, in view or not, keeps the closer look where it is.
        near = self.tracker.snapshot()[1]
        if not self.background_search:
            self._apply(self.detect_faces(frame, near), now)
            return
        if self._searcher is None:
            self._searcher = ThreadPoolExecutor(1, thread_name_prefix="face-search")
        future = self._searcher.submit(self.detect_faces, frame.copy(), near)
        self._pending = (future, self._camera.copy(), now)

    def _apply(self, found: Detections, searched_at: float) -> None:
        """Match a search (of the frame at ``searched_at``) to the tracks: confirm, add
        newcomers, age the missed."""
        track_ids = self.tracker.update(found.boxes, searched_at)
        if found.landmarks is not None and len(found.landmarks):
            # Once a search: moving a face by flow keeps its pose.
            yaws, pitches = head_pose(found.landmarks)
            looks = attending(yaws, pitches, self.attention_cone_deg, self.stage_direction)
            for track_id, points, yaw, pitch, look in zip(
                track_ids, found.landmarks, yaws, pitches, looks, strict=True
            ):
                self._landmarks[int(track_id)] = points.astype(np.float64)
                known = None if np.isnan(look) else bool(look)
                self._poses[int(track_id)] = (float(yaw), float(pitch), known)
        live = set(self.tracker.snapshot()[0].tolist())
        self._landmarks = {t: p for t, p in self._landmarks.items() if t in live}
        self._poses = {t: p for t, p in self._poses.items() if t in live}

    def _classify(
        self,
        frame: np.ndarray,
        track_ids: np.ndarray,
        boxes: np.ndarray,
        large: np.ndarray,
        now: float,
    ) -> np.ndarray:
        """Probabilities per face: fresh ones re-read within the budget, stalest first."""
        probs = np.full((len(boxes), len(self.classes)), np.nan, np.float32)
        ages = [self.smoother.age_s(int(t), now) for t in track_ids]
        stale = []
        for i, age in enumerate(ages):
            if not large[i]:
                continue
            if age is not None and age < self.classify_every_s:
                probs[i] = self.smoother.last(int(track_ids[i]))
            else:
                stale.append(i)
        stale.sort(key=lambda i: -np.inf if ages[i] is None else -ages[i])  # never read first
        todo = stale[: self._allowance(now, len(stale))]
        if todo:
            raw = self.classifier.predict_proba(crop_faces(frame, boxes[todo], self.margin))
            for i, p in zip(todo, raw, strict=True):
                probs[i] = self.smoother.update(int(track_ids[i]), p, now)
        for i in stale[len(todo) :]:  # waiting for the budget: the last reading, if any
            last = self.smoother.last(int(track_ids[i]))
            if last is not None:
                probs[i] = last
        self.smoother.forget_stale(now)
        return probs

    def _allowance(self, now: float, wanted: int) -> int:
        """How many faces this frame may classify: a token bucket of ``classify_per_s``
        faces a second (one second's worth at most), on stream time; the first frame of a
        stream reads every face."""
        if self.classify_per_s is None:
            return wanted
        if self._budget_time is None or now < self._budget_time:
            self._budget_time = now
            self._budget = 0.0
            return wanted
        self._budget = min(
            self._budget + (now - self._budget_time) * self.classify_per_s, self.classify_per_s
        )
        self._budget_time = now
        granted = min(wanted, int(self._budget))
        self._budget -= granted
        return granted

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stage_seconds[stage] += now - since
        return now

    def _face(
        self, box: np.ndarray, probs: np.ndarray, track_id: int, classified: bool, confirmed: bool
    ) -> Face:
        box_tuple = tuple(int(v) for v in box)
        points = self._landmarks.get(track_id)
        landmarks = None if points is None else points.astype(np.float32)
        yaw, pitch, looks = self._poses.get(track_id, (math.nan, math.nan, None))
        if not classified:
            probs = np.full(len(self.classes), np.nan, np.float32)
            label, confidence = UNKNOWN, float("nan")
        else:
            best = int(np.argmax(probs))
            label, confidence = self.classes[best], float(probs[best])
        return Face(
            box_tuple,
            probs,
            label,
            confidence,
            track_id,
            classified,
            landmarks,
            confirmed,
            yaw,
            pitch,
            looks,
        )

    def annotate(self, frame: np.ndarray, faces: list[Face], blur: bool = False) -> np.ndarray:
        """A copy of ``frame`` with each face's box, track id, emotion and confidence drawn.

        ``blur=True`` also blurs every face so nobody can be recognised: those of ``faces``
        and those a full search of this very frame finds, since between searches (or between
        a video's samples) ``faces`` miss a newcomer and lag a moving face. That search costs
        as much as ``detect``, on every frame blurred.
        """
        cover = self.detect(frame) if blur else None
        return self._annotator.annotate(frame, faces, blur, cover)
