"""float16 and int8 weight storage: a smaller file, the same network once loaded."""

import zipfile

import keras
import numpy as np
import pytest

from fer_core.models import build_model
from fer_core.storage import load_model, save_model


@pytest.fixture(scope="module")
def network():
    keras.utils.set_random_seed(3)
    return build_model("vgg-tiny")


def test_float16_file_is_half_and_loads_as_the_same_float32_network(network, tmp_path):
    full = save_model(network, tmp_path / "full.keras")
    half = save_model(network, tmp_path / "half.keras", weights="float16")
    assert 0.45 < half.stat().st_size / full.stat().st_size < 0.55
    loaded = keras.models.load_model(half, compile=False)
    assert {v.dtype for v in loaded.weights if "float" in v.dtype} == {"float32"}
    faces = np.random.default_rng(0).random((16, 48, 48, 1), dtype=np.float32)
    expected = network.predict_on_batch(faces)
    got = loaded.predict_on_batch(faces)
    np.testing.assert_allclose(got, expected, atol=2e-3)
    assert not np.array_equal(got, expected)  # the weights really were rounded
    np.testing.assert_array_equal(got.argmax(1), expected.argmax(1))


def test_out_of_range_weights_are_refused_and_the_old_file_kept(network, tmp_path):
    path = save_model(network, tmp_path / "model.keras", weights="float16")
    before = path.read_bytes()
    huge = keras.models.clone_model(network)
    huge.set_weights([w * 0 + 1e6 for w in network.get_weights()])
    with pytest.raises(ValueError, match="beyond float16"):
        save_model(huge, path, weights="float16")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def test_unknown_weights_dtype_is_refused(network, tmp_path):
    with pytest.raises(ValueError, match="float16, int8"):
        save_model(network, tmp_path / "m.keras", weights="int4")


def test_float16_archive_keeps_keras_layout(network, tmp_path):
    path = save_model(network, tmp_path / "m.keras", weights="float16")
    names = zipfile.ZipFile(path).namelist()
    assert {"config.json", "metadata.json", "model.weights.h5"} <= set(names)


def test_int8_file_is_a_quarter_and_loads_as_nearly_the_same_network(network, tmp_path):
    full = save_model(network, tmp_path / "full.keras")
    small = save_model(network, tmp_path / "int8.keras", weights="int8")
    assert 0.2 < small.stat().st_size / full.stat().st_size < 0.35
    loaded = load_model(small)
    assert {v.dtype for v in loaded.weights if "float" in v.dtype} == {"float32"}
    kernels = [w for w in network.weights if len(w.shape) >= 2]
    assert kernels
    for original, back in zip(network.weights, loaded.weights, strict=True):
        original, back = keras.ops.convert_to_numpy(original), keras.ops.convert_to_numpy(back)
        if original.ndim >= 2:  # within half a step of its channel's 127 steps
            step = np.abs(original).max(axis=tuple(range(original.ndim - 1))) / 127
            assert np.all(np.abs(back - original) <= step / 2 + 1e-7)
    faces = np.random.default_rng(0).random((16, 48, 48, 1), dtype=np.float32)
    expected = network.predict_on_batch(faces)
    got = loaded.predict_on_batch(faces)
    np.testing.assert_allclose(got, expected, atol=2e-2)
    assert not np.array_equal(got, expected)


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras, on its way to refusing
def test_plain_keras_refuses_an_int8_file_rather_than_load_wrong_weights(network, tmp_path):
    path = save_model(network, tmp_path / "m.keras", weights="int8")
    with pytest.raises(ValueError, match="Dataset"):
        keras.models.load_model(path, compile=False)


def test_load_model_reads_float_files_as_keras_does(network, tmp_path):
    path = save_model(network, tmp_path / "m.keras", weights="float16")
    faces = np.random.default_rng(1).random((4, 48, 48, 1), dtype=np.float32)
    np.testing.assert_array_equal(
        load_model(path).predict_on_batch(faces),
        keras.models.load_model(path, compile=False).predict_on_batch(faces),
    )
