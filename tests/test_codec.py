import cv2
import numpy as np
import pytest
from skimage.data import camera

from fer_core.codec import FRAME_SHAPE, through_h264
from fer_core.errors import InvalidInputError
from fer_core.lowres import degrade


def _photo_faces(n: int) -> np.ndarray:
    """(n, 48, 48) uint8 crops of a real photograph, each from its own place."""
    photo = camera()
    rng = np.random.default_rng(0)
    corners = rng.integers(0, photo.shape[0] - 200, (n, 2))
    return np.stack(
        [
            cv2.resize(photo[y : y + 200, x : x + 200], (48, 48), interpolation=cv2.INTER_AREA)
            for y, x in corners
        ]
    )


def _error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_lossless_h264_gives_every_face_back_in_order_across_frames():
    faces = np.random.default_rng(1).integers(0, 256, (900, 48, 48), dtype=np.uint8)
    assert len(faces) > (FRAME_SHAPE[0] // 48) * (FRAME_SHAPE[1] // 48), "two frames' worth"
    np.testing.assert_array_equal(through_h264(faces, 48, crf=0), faces)
    # At a face size, lossless H.264 is the plain shrink and scale back up.
    np.testing.assert_array_equal(through_h264(faces[:50], 24, crf=0), degrade(faces[:50], 24))


def test_the_lower_the_quality_the_more_of_a_face_is_lost():
    faces = _photo_faces(200)
    errors = {crf: _error(through_h264(faces, 24, crf), degrade(faces, 24)) for crf in (18, 28, 38)}
    assert 0 < errors[18] < errors[28] < errors[38], errors
    out = through_h264(faces, 16)
    assert out.shape == faces.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(through_h264(faces, 16), out)  # the same trip every time
    assert through_h264(faces[:0], 24).shape == (0, 48, 48)


@pytest.mark.parametrize(
    ("faces", "size", "crf", "message"),
    [
        (np.zeros((2, 48, 48), np.float32), 24, 23, "uint8 grayscale"),
        (np.zeros((2, 48, 48, 1), np.uint8), 24, 23, "uint8 grayscale"),
        ([[0]], 24, 23, "uint8 grayscale"),
        (np.zeros((2, 48, 40), np.uint8), 24, 23, "square"),
        (np.zeros((2, 48, 48), np.uint8), 0, 23, "outside 1-48"),
        (np.zeros((2, 48, 48), np.uint8), 24, 52, "CRF is a whole number 0-51"),
        (np.zeros((2, 48, 48), np.uint8), 24, 23.5, "CRF is a whole number 0-51"),
        (np.zeros((2, 48, 48), np.uint8), 24, True, "CRF is a whole number 0-51"),
    ],
)
def test_bad_input_is_named(faces, size, crf, message):
    with pytest.raises(InvalidInputError, match=message):
        through_h264(faces, size, crf)
