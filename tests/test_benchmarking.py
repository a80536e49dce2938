"""How faster settings are compared with exact per-frame work."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fer_core.analyzer import Face, box_iou
from fer_core.benchmarking import agreement, classification_speed
from fer_core.classifier import MODEL_DEFAULT


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
        return np.full((len(faces), 7), 1 / 7, np.float32)


@pytest.mark.parametrize("tta", [MODEL_DEFAULT, None, "flip"])
def test_classification_speed_counts_faces_with_the_views_asked_for(tta):
    classifier = _CountingClassifier()
    speed = classification_speed(classifier, batch=8, seconds=0.02, tta=tta)
    assert len(classifier.calls) >= 2  # one warm-up call, then the timed ones
    assert set(classifier.calls) == {(8, tta)}
    assert speed > 0
