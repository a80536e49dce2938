"""Speed measurements of the pipeline against a naive reference, side by side.

The reference does what the ``fer`` package does per frame: a Haar cascade on the full
frame, then one ``model.predict`` call per face. Both run in the same process on the same
decoded frames, so every figure can be read as a ratio. Run on an idle machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import av
import cv2
import numpy as np
import pandas as pd

from fer_core.analyzer import Face, FrameAnalyzer, box_iou
from fer_core.classifier import MODEL_DEFAULT, TTA, EmotionClassifier
from fer_core.detection import HaarFaceDetector, crop_faces
from fer_core.detectors.scoring import MatchResult, load_reference, match_faces
from fer_core.errors import InvalidInputError
from fer_core.lowres import degrade
from fer_core.preprocessing import preprocess


@dataclass
class PipelineSpeed:
    frames: int
    seconds: float
    faces: int
    stage_seconds: dict[str, float] = field(default_factory=dict)
    results: list[list[Face]] = field(default_factory=list, repr=False)

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
    results = []
    start = time.perf_counter()
    for index, frame in enumerate(frames):
        results.append(analyzer.analyze(frame, index / fps))
    seconds = time.perf_counter() - start
    faces = sum(map(len, results))
    return PipelineSpeed(len(frames), seconds, faces, dict(analyzer.stage_seconds), results)


@dataclass(frozen=True)
class Agreement:
    """How a faster setting's output compares with exact per-frame work on the same frames."""

    found: float  # share of the exact run's faces that the fast run also reports
    mean_iou: float  # box overlap of those matched faces
    same_label: float  # share of matched, classified faces with the same emotion label


def agreement(exact: list[list[Face]], fast: list[list[Face]], min_iou: float = 0.3) -> Agreement:
    """Match faces frame by frame (best box overlap) and compare boxes and labels."""
    total = matched = same = labelled = 0
    overlaps = []
    for reference, candidate in zip(exact, fast, strict=True):
        for face in reference:
            total += 1
            best = max(candidate, key=lambda other: box_iou(face.box, other.box), default=None)
            if best is None or box_iou(face.box, best.box) < min_iou:
                continue
            matched += 1
            overlaps.append(box_iou(face.box, best.box))
            if face.classified and best.classified:
                labelled += 1
                same += face.label == best.label
    return Agreement(
        found=matched / total if total else float("nan"),
        mean_iou=float(np.mean(overlaps)) if overlaps else float("nan"),
        same_label=same / labelled if labelled else float("nan"),
    )


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


def classification_speed(
    classifier: EmotionClassifier,
    batch: int,
    seconds: float = 2.0,
    tta: TTA | Literal["model"] | None = MODEL_DEFAULT,
    face_px: int | None = None,
) -> float:
    """``predict_proba`` faces per second at a given batch size, with the model's own
    test-time views unless ``tta`` picks others (``None``: a single view). ``face_px`` shows
    the faces as that many pixels wide (``lowres.degrade``): a routed model sends such faces
    to its small-face network, so their cost differs from sharp ones'."""
    faces = np.random.default_rng(0).integers(0, 256, (batch, 48, 48), dtype=np.uint8)
    if face_px is not None:
        faces = degrade(faces, face_px)
    classifier.predict_proba(faces, tta=tta)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        classifier.predict_proba(faces, tta=tta)
        done += batch
    return done / (time.perf_counter() - start)


@dataclass(frozen=True)
class PhotoScore:
    """One photo's full search against its reference faces."""

    name: str
    width: int
    height: int
    match: MatchResult
    seconds: float


def crowd_recall(
    analyzer: FrameAnalyzer,
    folder: str | Path,
    reference: str | Path | None = None,
    crops_dir: str | Path | None = None,
    scale: float = 1.0,
) -> list[PhotoScore]:
    """One ``analyze`` call per photo (a full search after ``reset``), matched against the
    reference boxes (default: ``folder/reference_faces.json``). With ``crops_dir`` each box
    that matches no reference face is saved there as a crop, so anyone can look at them.
    ``scale`` resizes each photo (and its reference boxes) first: 0.5 turns 12-25 px faces
    into the 6-12 px ones of a larger hall."""
    if scale <= 0:
        raise InvalidInputError(f"scale must be positive, got {scale}")
    folder = Path(folder)
    boxes_by_photo = load_reference(reference or folder / "reference_faces.json")
    if not boxes_by_photo:
        raise InvalidInputError(f"the reference file for {folder} lists no photos")
    if crops_dir is not None:
        Path(crops_dir).mkdir(parents=True, exist_ok=True)
    scores = []
    for name, truth in sorted(boxes_by_photo.items()):
        image = cv2.imread(str(folder / name))
        if image is None:
            raise InvalidInputError(f"cannot read the photo {folder / name}")
        if scale != 1.0:
            shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=shrink)
            truth = np.round(truth * scale)
        analyzer.reset()
        start = time.perf_counter()
        faces = analyzer.analyze(image)
        seconds = time.perf_counter() - start
        found = np.array([f.box for f in faces], int).reshape(-1, 4)
        match = match_faces(found, truth)
        if crops_dir is not None:
            for i in match.unmatched_found:
                x, y, w, h = found[i]
                crop = image[max(y, 0) : y + h, max(x, 0) : x + w]
                cv2.imwrite(str(Path(crops_dir) / f"{Path(name).stem}_unmatched_{i}.png"), crop)
        scores.append(PhotoScore(name, image.shape[1], image.shape[0], match, seconds))
    return scores


@dataclass
class LiveCrowdSpeed:
    """The live path on crowd footage: speed, faces per frame, and their coverage."""

    frames: int
    analyze_s: float  # FrameAnalyzer.analyze alone
    process_s: float  # LiveMonitor.process: analysis, recording and annotation
    faces: int
    coverage: float  # share of a full search's faces that the live output reports
    searches: int

    @property
    def analyze_fps(self) -> float:
        return self.frames / self.analyze_s if self.analyze_s else float("nan")

    @property
    def process_fps(self) -> float:
        return self.frames / self.process_s if self.process_s else float("nan")


def live_crowd_speed(
    analyzer: FrameAnalyzer, frames: list[tuple[float, np.ndarray]], check_every: int = 30
) -> LiveCrowdSpeed:
    """Feed ``(time_s, frame)`` pairs as fast as they are taken, twice: to
    ``FrameAnalyzer.analyze``, then to ``LiveMonitor.process`` (annotation on, blur off).
    Every ``check_every``-th frame's faces from the first run are compared with a full search
    of that frame (run afterwards, outside the timing)."""
    from fer_core.live import LiveMonitor

    analyzer.classifier.predict_proba(np.zeros((1, 48, 48), np.uint8))  # warm-up
    analyzer.reset()
    outputs: list[list[Face]] = []
    start = time.perf_counter()
    for time_s, frame in frames:
        outputs.append(analyzer.analyze(frame, time_s))
    analyze_s = time.perf_counter() - start
    searches = analyzer.searches
    analyzer.reset()
    times = iter([t for t, _ in frames])
    monitor = LiveMonitor(analyzer, clock=lambda: next(times))
    start = time.perf_counter()
    for _, frame in frames:
        monitor.process(frame)
    process_s = time.perf_counter() - start
    analyzer.close()
    found = covered = 0
    for index in range(0, len(frames), check_every):
        reference = analyzer.detect(frames[index][1])
        live = np.array([f.box for f in outputs[index]], int).reshape(-1, 4)
        found += len(reference)
        covered += match_faces(live, reference).matched
    faces = sum(map(len, outputs))
    return LiveCrowdSpeed(
        len(frames), analyze_s, process_s, faces, covered / max(found, 1), searches
    )


# --- people, not detections -------------------------------------------------------------------


@dataclass(frozen=True)
class CrowdVideoSpeed:
    """Batch analysis of one video as the batch tool runs it (searching in the calling thread)."""

    video_s: float  # seconds of footage
    processing_s: float
    samples: int  # frames analyzed
    faces: int  # rows of the per-face table: people's faces over all samples
    stage_seconds: dict[str, float]  # detect, track, classify

    @property
    def speed_x_realtime(self) -> float:
        return self.video_s / self.processing_s


def crowd_video_speed(
    analyzer: FrameAnalyzer, path: str | Path, sample_fps: float = 3.0
) -> CrowdVideoSpeed:
    """Time ``analyze_video`` on ``path`` at ``sample_fps``; give an analyzer made with
    ``background_search=False`` to time it as the batch tool runs it."""
    from fer_core.video import analyze_video

    analyzer.stage_seconds.clear()
    run = analyze_video(path, sample_fps=sample_fps, analyzer=analyzer)
    return CrowdVideoSpeed(
        video_s=run.summary["duration_s"],
        processing_s=run.summary["processing_s"],
        samples=len(run.frame_times),
        faces=len(run.faces),
        stage_seconds=dict(analyzer.stage_seconds),
    )


@dataclass(frozen=True)
class PeopleCount:
    """One run over generated footage with a known number of people."""

    scenario: str
    people: int  # how many people the footage holds
    sample_fps: float | None  # None: every frame
    chunks: int  # 1: one pass; more: a chunked batch run
    faces_seen: int
    most_in_view: int  # the most people counted in one analyzed frame
    seconds: float  # processing time

    @property
    def error(self) -> float:
        """``faces_seen`` against the truth, as a share of it (0.05: 5% too many)."""
        return (self.faces_seen - self.people) / self.people


def people_scenarios(seconds: float = 20.0) -> dict[str, tuple[list, tuple[int, int]]]:
    """Generated footage with known people: ``name -> (walkers, (width, height))``.

    - ``one person``: walks across a 720p room, facing away twice on the way.
    - ``fixed camera``: 60 people seated in rows of a 1080p hall (faces 24-48 px), nobody
      coming or going; a few turn away for a while.
    - ``comings and goings``: 10 people at 720p who arrive, leave, cross each other and turn
      away, each once in the room.
    """
    from fer_core.synthetic import Walker

    one = [Walker((80, 380), (1200, 330), face_px=48, away=((5.0, 6.5), (12.0, 13.0)))]
    rng = np.random.default_rng(7)
    seated = []
    for row in range(5):
        face = 24 + row * 6
        for col in range(12):
            centre = (100 + col * 150 + rng.uniform(-20, 20), 150 + row * 190)
            away = ((rng.uniform(2, seconds - 4), 0.0),) if rng.random() < 0.2 else ()
            away = tuple((start, start + 2.5) for start, _ in away)
            seated.append(Walker(centre, face_px=face, away=away))
    third = seconds / 3
    moving = [
        Walker((60, 200), (1220, 220), face_px=44),  # these two cross mid-way
        Walker((1220, 300), (60, 280), face_px=44),
        Walker((300, 560), face_px=36, enter_s=third),  # arrives and sits
        Walker((900, 560), face_px=36, leave_s=2 * third),  # leaves
        Walker((640, 120), face_px=30, away=((third, third + 2.0),)),  # turns away
        Walker((150, 450), (500, 470), face_px=40, enter_s=third, leave_s=2 * third),
        *(Walker((450 + 130 * k, 640), face_px=32) for k in range(4)),
    ]
    return {
        "one person": (one, (1280, 720)),
        "fixed camera": (seated, (1920, 1080)),
        "comings and goings": (moving, (1280, 720)),
    }


def count_people(
    folder: str | Path,
    seconds: float = 20.0,
    fps: int = 30,
    sample_rates: tuple[float | None, ...] = (None, 3.0),
    chunks: int = 4,
) -> list[PeopleCount]:
    """Write each of ``people_scenarios`` as a video under ``folder`` and count its people:
    with ``analyze_video`` at each of ``sample_rates``, and with the batch tool cut into
    ``chunks`` chunks at 3 samples a second."""
    import json

    from fer_core.batch import Settings, run_batch
    from fer_core.synthetic import write_people_video
    from fer_core.video import analyze_video

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    analyzer = FrameAnalyzer(background_search=False)
    results = []
    for name, (walkers, (width, height)) in people_scenarios(seconds).items():
        path = write_people_video(
            folder / f"{name.replace(' ', '-')}.mp4", walkers, seconds, fps, width, height
        )
        for rate in sample_rates:
            start = time.perf_counter()
            run = analyze_video(path, sample_fps=rate, analyzer=analyzer)
            elapsed = time.perf_counter() - start
            most = int(run.faces.groupby("time_s").size().max()) if len(run.faces) else 0
            seen = run.summary["faces_seen"]
            results.append(PeopleCount(name, len(walkers), rate, 1, seen, most, elapsed))
        if chunks > 1:
            out = folder / f"{path.stem}-chunked"
            start = time.perf_counter()
            run_batch([path], out, Settings(sample_fps=3.0, chunk_s=seconds / chunks), force=True)
            elapsed = time.perf_counter() - start
            summary = json.loads((out / path.stem / "summary.json").read_text())
            faces = pd.read_csv(out / path.stem / "faces.csv")
            most = int(faces.groupby("time_s").size().max()) if len(faces) else 0
            results.append(
                PeopleCount(name, len(walkers), 3.0, chunks, summary["faces_seen"], most, elapsed)
            )
    return results
