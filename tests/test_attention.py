"""Attention: head pose from landmarks on known rotations, and on real faces."""

import cv2
import numpy as np
import pandas as pd
import pytest

from fer_core import FrameAnalyzer
from fer_core.analytics import summarize, timeline, tracks
from fer_core.attention import HEAD_MODELS, attending, head_pose
from fer_core.labels import CLASSES


def _project(model: np.ndarray, yaw: float, pitch: float, scale=30.0, at=(400.0, 300.0)):
    """Image landmarks of the generic head tilted up by ``pitch``, then turned by ``yaw``:
    the landmark geometry of a face with a known rotation, as a camera far away sees it."""
    y, p = np.radians(yaw), np.radians(pitch)
    turn = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    tilt = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
    points = model @ (turn @ tilt).T
    return np.column_stack([at[0] + scale * points[:, 0], at[1] - scale * points[:, 1]])


@pytest.mark.parametrize("count", sorted(HEAD_MODELS))
def test_known_rotations_are_recovered(count):
    rng = np.random.default_rng(count)
    angles = [(0, 0), (25, 0), (-40, 0), (0, 20), (0, -25), (35, 15), (-55, -10), (70, 5)]
    # A face 30 px between the eyes, its landmarks off by up to a pixel, as a detector's are.
    faces = np.stack([_project(HEAD_MODELS[count], *a) for a in angles])
    faces += rng.uniform(-1, 1, faces.shape)
    yaw, pitch = head_pose(faces)
    truth = np.array(angles, float)
    # A pixel of landmark error at this size moves the estimate by up to about 6 degrees.
    np.testing.assert_allclose(yaw, truth[:, 0], atol=8)
    np.testing.assert_allclose(pitch, truth[:, 1], atol=8)
    exact = head_pose(np.stack([_project(HEAD_MODELS[count], *a) for a in angles]))
    np.testing.assert_allclose(np.transpose(exact), truth, atol=1e-6)
    # Where the face is, how big, and one face or many: the same angles.
    alone = head_pose(_project(HEAD_MODELS[count], 25, 10, scale=8, at=(5, 1000)))
    np.testing.assert_allclose(alone, (25, 10), atol=1e-6)


def test_collapsed_or_missing_landmarks_give_no_pose():
    points = _project(HEAD_MODELS[5], 0, 0)
    faces = np.stack([points, np.zeros_like(points), np.full_like(points, np.nan)])
    yaw, pitch = head_pose(faces)
    assert np.isfinite([yaw[0], pitch[0]]).all() and np.isnan(yaw[1:]).all()
    assert np.isnan(pitch[1:]).all()
    with pytest.raises(ValueError, match="K in"):
        head_pose(np.zeros((1, 3, 2)))


def test_attending_is_a_cone_around_the_stage_direction():
    yaw = np.array([0, 25, 35, 0, 20, np.nan])
    pitch = np.array([0, 0, 0, -35, 20, 0])
    np.testing.assert_array_equal(attending(yaw, pitch, 30), [1, 1, 0, 0, 1, np.nan])
    # A camera beside the stage: the stage is 40 degrees to the image's left.
    np.testing.assert_array_equal(
        attending(np.array([-40, -15, 0]), np.zeros(3), 30, stage=(-40, 0)), [1, 1, 0]
    )


@pytest.fixture(scope="module")
def analyzer() -> FrameAnalyzer:
    return FrameAnalyzer(smoothing_s=0, detect_every_s=0, background_search=False)


def test_a_real_frontal_face_attends_and_its_pose_is_on_its_face(analyzer, astronaut_bgr):
    analyzer.reset()
    (face,) = analyzer.analyze(astronaut_bgr)
    assert abs(face.yaw) < 10 and abs(face.pitch) < 10 and face.attending is True
    # Tilting the head in the image plane (roll) turns it neither left nor up.
    height, width = astronaut_bgr.shape[:2]
    turn = cv2.getRotationMatrix2D((225, 125), 20, 1.0)
    rolled = cv2.warpAffine(astronaut_bgr, turn, (width, height), borderMode=cv2.BORDER_REFLECT)
    analyzer.reset()
    (face,) = analyzer.analyze(rolled)
    assert abs(face.yaw) < 12 and abs(face.pitch) < 12 and face.attending is True


def test_a_stage_off_to_the_side_makes_the_frontal_face_look_away(astronaut_bgr):
    aside = FrameAnalyzer(detect_every_s=0, background_search=False, stage_direction=(60, 0))
    (face,) = aside.analyze(astronaut_bgr)
    assert face.attending is False
    with pytest.raises(ValueError, match="stage_direction"):
        FrameAnalyzer(stage_direction=(0, float("nan")))


def test_a_detector_without_landmarks_leaves_attention_unknown(astronaut_bgr):
    haar = FrameAnalyzer(detector="haar", detect_every_s=0, background_search=False)
    (face,) = haar.analyze(astronaut_bgr)
    assert np.isnan(face.yaw) and face.attending is None


def test_attention_per_second_and_per_person_counts_only_faces_with_a_pose():
    probs = np.tile(np.eye(len(CLASSES))[3], (6, 1))
    faces = pd.DataFrame(probs, columns=list(CLASSES))
    faces.insert(0, "time_s", [0.0, 0.0, 0.0, 1.0, 1.0, 2.0])
    faces.insert(1, "track_id", [1, 2, 3, 1, 2, 1])
    faces["attending"] = [1.0, 0.0, np.nan, 1.0, 1.0, np.nan]
    table = timeline(faces, [0.0, 1.0, 2.0])
    assert table["attention"].tolist()[:2] == [0.5, 1.0] and np.isnan(table["attention"][2])
    assert summarize(faces)["attention_share"] == 0.75
    per_person = tracks(faces).set_index("track_id")["attention"]
    assert per_person[1] == 1.0 and per_person[2] == 0.5 and np.isnan(per_person[3])
    assert summarize(faces.drop(columns="attending"))["attention_share"] is None
