"""The LiteRT runtime gives Keras' answers, and a model folder with a .tflite uses it."""

import json
import shutil

import keras
import numpy as np
import pytest

from fer_core import EmotionClassifier
from fer_core.errors import ModelNotFoundError
from fer_core.labels import CLASSES
from fer_core.litert import LITERT_FILE, LiteRTRunner, export_model_litert
from fer_core.models import build_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("model")
    model = build_model("vgg-tiny")  # augmentation layers inside: they must vanish at inference
    model.save(folder / "model.keras")
    (folder / "classes.json").write_text(json.dumps(list(CLASSES)))
    export_model_litert(folder / "model.keras")
    return folder


@pytest.mark.parametrize(
    ("n", "padded"), [(1, {1}), (3, {3}), (5, {6}), (65, {96}), (300, {256, 48})]
)
def test_runner_matches_keras_for_any_batch_size(model_dir, n, padded):
    model = keras.models.load_model(model_dir / "model.keras")
    runner = LiteRTRunner(model_dir / LITERT_FILE)
    faces = np.random.default_rng(n).random((n, 48, 48, 1), dtype=np.float32)
    np.testing.assert_allclose(runner(faces), model.predict_on_batch(faces), atol=1e-5)
    assert set(runner._interpreters) - {1} == padded - {1}  # at most a third is padding


def test_classifier_runs_on_litert_when_the_model_ships_it(model_dir, tmp_path):
    auto = EmotionClassifier.load(model_dir)
    keras_only = EmotionClassifier.load(model_dir, runtime="keras", precision="float32")
    assert auto.runtime == "litert" and auto.precision == "float32"
    assert keras_only.runtime == "keras"
    faces = np.random.default_rng(5).integers(0, 256, (7, 60, 50, 3), dtype=np.uint8)
    np.testing.assert_allclose(
        auto.predict_proba(faces, tta="flip"),
        keras_only.predict_proba(faces, tta="flip"),
        atol=1e-5,
    )
    assert auto.predict_proba(faces[:0]).shape == (0, 7)

    plain = tmp_path / "plain"
    shutil.copytree(model_dir, plain)
    (plain / LITERT_FILE).unlink()
    assert EmotionClassifier.load(plain).runtime == "keras"
    with pytest.raises(ModelNotFoundError, match=LITERT_FILE):
        EmotionClassifier.load(plain, runtime="litert")
    with pytest.raises(ValueError, match="runtime"):
        EmotionClassifier.load(plain, runtime="onnx")


def test_corrupt_litert_file_is_a_clear_error(model_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / LITERT_FILE).write_bytes(b"garbage")
    with pytest.raises(ModelNotFoundError, match=LITERT_FILE):
        EmotionClassifier.load(broken)


def test_a_litert_file_from_another_keras_model_is_not_used(model_dir, tmp_path):
    replaced = tmp_path / "replaced"
    shutil.copytree(model_dir, replaced)
    keras.utils.set_random_seed(1)
    build_model("vgg-tiny").save(replaced / "model.keras")  # retrained, tflite left behind
    with pytest.warns(UserWarning, match=r"older model\.keras"):
        assert EmotionClassifier.load(replaced).runtime == "keras"
    with pytest.raises(ModelNotFoundError, match=r"older model\.keras"):
        EmotionClassifier.load(replaced, runtime="litert")


def test_int8_export_stays_close_to_keras_and_records_itself(model_dir, tmp_path):
    folder = tmp_path / "int8"
    shutil.copytree(model_dir, folder)
    faces = np.random.default_rng(3).random((40, 48, 48, 1), dtype=np.float32)
    with pytest.raises(ValueError, match="representative"):
        export_model_litert(folder / "model.keras", "int8")
    export_model_litert(folder / "model.keras", "int8", representative=faces)
    assert json.loads((folder / "config.json").read_text())["litert"]["quantize"] == "int8"
    assert (folder / LITERT_FILE).stat().st_size < 0.5 * (model_dir / LITERT_FILE).stat().st_size
    model = keras.models.load_model(folder / "model.keras")
    probs = LiteRTRunner(folder / LITERT_FILE)(faces)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.02)
    np.testing.assert_allclose(probs, model.predict_on_batch(faces), atol=0.05)
