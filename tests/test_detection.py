"""Face detectors on a real photo, on a scene without faces, and crop geometry."""

import numpy as np
import pytest

from fer_core.detection import DETECTORS, crop_faces, make_detector, square_box
from fer_core.synthetic import scene


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_finds_the_astronaut_and_nothing_on_a_blank_wall(name, astronaut_bgr):
    detector = make_detector(name)
    (box,) = detector.detect(astronaut_bgr)
    x, y, w, h = box
    assert 200 < x + w / 2 < 250 and 100 < y + h / 2 < 150, box  # her face's centre
    assert 70 < w < 130 and 70 < h < 130
    assert len(detector.detect(np.full((300, 400, 3), 110, np.uint8))) == 0


@pytest.mark.parametrize("name", ["haar", "blazeface"])
def test_several_faces_in_a_room(name):
    frame = scene(0.0, n_faces=3, width=640, height=360, face_size=150)
    assert len(make_detector(name).detect(frame)) == 3


def test_unknown_detector_is_named():
    with pytest.raises(ValueError, match="unknown detector 'yolo'"):
        make_detector("yolo")


def test_square_crops_with_margin_are_clamped_to_the_frame():
    frame = np.zeros((100, 200, 3), np.uint8)
    assert square_box(np.array([50, 20, 40, 20]), frame.shape).tolist() == [46, 6, 48, 48]
    x, y, w, h = square_box(np.array([180, 80, 30, 30]), frame.shape)
    assert w == h and x + w <= 200 and y + h <= 100 and x >= 0 and y >= 0
    assert square_box(np.array([0, 0, 300, 300]), frame.shape).tolist() == [100, 0, 100, 100]
    crops = crop_faces(frame, np.array([[50, 20, 40, 20], [180, 80, 30, 30]]))
    assert [c.shape[:2] for c in crops] == [(48, 48), (36, 36)]
