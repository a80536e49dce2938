import numpy as np
import pytest

from fer_core.errors import InvalidInputError
from fer_core.preprocessing import preprocess, to_gray48


def _check_contract(batch: np.ndarray, n: int) -> None:
    assert batch.shape == (n, 48, 48, 1)
    assert batch.dtype == np.float32
    assert batch.min() >= 0.0 and batch.max() <= 1.0


@pytest.mark.parametrize(
    "shape",
    [(3, 48, 48), (3, 48, 48, 1), (3, 100, 80), (3, 100, 80, 1), (3, 30, 30, 3), (3, 64, 64, 4)],
)
def test_any_layout_and_size_becomes_gray_48(shape):
    images = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    _check_contract(preprocess(images), 3)


def test_list_of_differently_sized_crops():
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(20, 20), (200, 150)]]
    _check_contract(preprocess(crops), 2)


def test_uint8_is_scaled_to_unit_range_exactly():
    image = np.full((1, 48, 48), 255, np.uint8)
    image[0, 0, 0] = 0
    batch = preprocess(image)
    assert batch[0, 0, 0, 0] == 0.0
    assert batch[0, 1, 1, 0] == 1.0


def test_float_input_in_unit_range_matches_uint8():
    rng = np.random.default_rng(2)
    as_uint8 = rng.integers(0, 256, (2, 48, 48), dtype=np.uint8)
    np.testing.assert_allclose(preprocess(as_uint8 / 255.0), preprocess(as_uint8), atol=1 / 255)
    np.testing.assert_allclose(
        preprocess(as_uint8.astype(np.float32)), preprocess(as_uint8), atol=1 / 255
    )


def test_colour_order_matters_and_is_respected():
    blue_bgr = np.zeros((1, 48, 48, 3), np.uint8)
    blue_bgr[..., 0] = 255  # pure blue in BGR order
    as_bgr = preprocess(blue_bgr, color="bgr")[0, 0, 0, 0]
    as_rgb = preprocess(blue_bgr[..., ::-1], color="rgb")[0, 0, 0, 0]
    assert as_bgr == pytest.approx(as_rgb)
    assert as_bgr == pytest.approx(29 / 255, abs=1 / 255)  # luma weight of blue is 0.114


def test_rgba_alpha_is_ignored():
    rgb = np.random.default_rng(3).integers(0, 256, (1, 48, 48, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.zeros((1, 48, 48, 1), np.uint8)], axis=-1)
    np.testing.assert_array_equal(preprocess(rgba, color="rgb"), preprocess(rgb, color="rgb"))


def test_standardize_gives_zero_mean_unit_variance():
    images = np.random.default_rng(4).integers(0, 256, (2, 48, 48), dtype=np.uint8)
    batch = preprocess(images, standardize=True)
    np.testing.assert_allclose(batch.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(batch.std(axis=(1, 2, 3)), 1, atol=1e-3)


def test_empty_batch_keeps_the_shape():
    assert preprocess(np.empty((0, 48, 48), np.uint8)).shape == (0, 48, 48, 1)
    assert preprocess([]).shape == (0, 48, 48, 1)


@pytest.mark.parametrize(
    "bad", [np.zeros((48,)), np.zeros((2, 48, 48, 2)), np.zeros((1, 2, 3, 4, 5))]
)
def test_wrong_shapes_raise_a_clear_error(bad):
    with pytest.raises(InvalidInputError, match="expected"):
        preprocess(bad)


def test_a_single_colour_image_is_not_mistaken_for_a_batch():
    with pytest.raises(InvalidInputError, match="single colour image"):
        preprocess(np.zeros((120, 100, 3), np.uint8))
    assert preprocess(np.zeros((120, 100, 3), np.uint8)[np.newaxis]).shape == (1, 48, 48, 1)


def test_float_range_is_judged_per_image_whatever_the_container():
    dark = np.full((48, 48), 3.0, np.float32)  # a 0-255 image: its maximum exceeds 1
    bright = np.full((48, 48), 0.8, np.float32)  # a 0-1 image
    as_batch = preprocess(np.stack([dark, bright]))
    as_list = preprocess([dark, bright])
    np.testing.assert_array_equal(as_batch, as_list)
    assert as_batch[0].max() == pytest.approx(3 / 255)
    assert as_batch[1].max() == pytest.approx(204 / 255)


def test_nan_is_rejected():
    image = np.zeros((48, 48), np.float32)
    image[0, 0] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        to_gray48(image)
