"""How faster settings are compared with exact per-frame work."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from fer_core.analyzer import Face, FrameAnalyzer, box_iou
from fer_core.benchmarking import (
    agreement,
    classification_speed,
    crowd_recall,
    crowd_video_speed,
)
from fer_core.classifier import MODEL_DEFAULT
from fer_core.errors import InvalidInputError
from fer_core.synthetic import crowd_scene, write_crowd_video
from fer_core.video import VideoError


def _face(box, label="happy", classified=True) -> Face:
    return Face(box, np.full(7, 1 / 7, np.float32), label, 0.5, 1, classified)


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_agreement_counts_found_faces_overlap_and_labels():
    exact = [[_face((0, 0, 10, 10)), _face((50, 50, 10, 10))], [_face((0, 0, 10, 10))], []]
    fast = [[_face((0, 0, 10, 10), "sad")], [_face((1, 0, 10, 10))], [_face((9, 9, 9, 9))]]
    result = agreement(exact, fast)
    assert result.found == pytest.approx(2 / 3)  # the face at (50, 50) was missed
    assert result.mean_iou == pytest.approx((1.0 + 90 / 110) / 2)
    assert result.same_label == pytest.approx(1 / 2)


def test_agreement_of_identical_runs_and_of_nothing():
    run = [[_face((0, 0, 10, 10)), _face((30, 0, 10, 10), classified=False)]]
    assert agreement(run, run) == agreement(run, run)
    same = agreement(run, run)
    assert (same.found, same.mean_iou, same.same_label) == (1.0, 1.0, 1.0)
    empty = agreement([[]], [[]])
    assert math.isnan(empty.found) and math.isnan(empty.same_label)
    with pytest.raises(ValueError):
        agreement([[]], [])


class _CountingClassifier:
    """Records the views each call asks for; the speed loop needs nothing else."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, object]] = []

    def predict_proba(self, faces, tta=MODEL_DEFAULT):
        self.calls.append((len(faces), tta))
        self.faces = faces
        return np.full((len(faces), 7), 1 / 7, np.float32)


@pytest.mark.parametrize("tta", [MODEL_DEFAULT, None, "flip"])
def test_classification_speed_counts_faces_with_the_views_asked_for(tta):
    classifier = _CountingClassifier()
    speed = classification_speed(classifier, batch=8, seconds=0.02, tta=tta)
    assert len(classifier.calls) >= 2  # one warm-up call, then the timed ones
    assert set(classifier.calls) == {(8, tta)}
    assert speed > 0


def test_classification_speed_can_show_the_faces_small():
    classifier = _CountingClassifier()
    classification_speed(classifier, batch=8, seconds=0.01)
    sharp = np.abs(np.diff(classifier.faces.astype(float), axis=2)).mean()
    classification_speed(classifier, batch=8, seconds=0.01, face_px=16)
    assert classifier.faces.shape == (8, 48, 48)
    assert np.abs(np.diff(classifier.faces.astype(float), axis=2)).mean() < sharp / 3


def test_crowd_recall_scores_photos_and_saves_the_unmatched_boxes(tmp_path):
    frame, truth = crowd_scene(960, 540, n_faces=30, face_px=(18, 40), seed=4)
    cv2.imwrite(str(tmp_path / "hall.png"), frame)
    corners = np.column_stack([truth[:, :2], truth[:, :2] + truth[:, 2:]])
    # The reference leaves out two faces: the finder's boxes there count as unmatched.
    reference = {"faces": {"hall.png": corners[2:].tolist()}}
    (tmp_path / "reference_faces.json").write_text(json.dumps(reference))
    crops = tmp_path / "crops"
    (score,) = crowd_recall(FrameAnalyzer(), tmp_path, crops_dir=crops)
    assert (score.width, score.height) == (960, 540)
    assert score.match.n_reference == 28 and score.match.recall >= 0.9
    assert len(score.match.unmatched_found) >= 2
    assert len(list(crops.glob("hall_unmatched_*.png"))) == len(score.match.unmatched_found)
    with pytest.raises(InvalidInputError, match="cannot read the photo"):
        (tmp_path / "hall.png").write_bytes(b"not an image")
        crowd_recall(FrameAnalyzer(), tmp_path)


def test_crowd_video_speed_times_batch_analysis_of_a_generated_crowd(tmp_path):
    video = write_crowd_video(tmp_path / "crowd.mp4", seconds=2, width=960, height=540, n_faces=40)
    speed = crowd_video_speed(FrameAnalyzer("fast", background_search=False), video, 2)
    assert speed.samples == 4 and speed.video_s == pytest.approx(2.0, abs=0.1)
    assert speed.faces >= 4 * 20  # most of the 40 faces, at every sample
    assert {"detect", "classify"} <= set(speed.stage_seconds)
    assert 0 < sum(speed.stage_seconds.values()) < speed.processing_s
    assert speed.speed_x_realtime == pytest.approx(speed.video_s / speed.processing_s)
    with pytest.raises(VideoError, match=r"missing\.mp4"):
        crowd_video_speed(FrameAnalyzer("fast"), tmp_path / "missing.mp4")
