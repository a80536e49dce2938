"""Ensembles: one saved model that averages its members, used like any other model."""

import json

import keras
import numpy as np
import pytest

from fer_core import EmotionClassifier
from fer_core.ensemble import average_models, save_ensemble
from fer_core.errors import InvalidInputError
from fer_core.labels import CLASSES
from fer_core.models import build_model
from fer_core.precision import with_precision


def _member(folder, arch: str, seed: int, split_seed: int = 1337):
    keras.utils.set_random_seed(seed)
    folder.mkdir(parents=True)
    build_model(arch).save(folder / "model.keras")
    (folder / "classes.json").write_text(json.dumps(list(CLASSES)))
    config = {"config": {"arch": arch, "val_fraction": 0.1, "seed": seed, "split_seed": split_seed}}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture
def members(tmp_path):
    return [_member(tmp_path / "a", "vgg-tiny", 1), _member(tmp_path / "b", "vgg", 2)]


def test_output_is_the_mean_of_the_members(members):
    loaded = [keras.models.load_model(m / "model.keras") for m in members]
    ensemble = average_models(loaded)
    faces = np.random.default_rng(0).random((6, 48, 48, 1), dtype=np.float32)
    expected = np.mean([m.predict_on_batch(faces) for m in loaded], axis=0)
    np.testing.assert_allclose(ensemble.predict_on_batch(faces), expected, atol=1e-6)


def test_saved_ensemble_loads_as_a_classifier_with_its_tta(members, tmp_path):
    save_ensemble(members, tmp_path / "ens", tta="flip")
    clf = EmotionClassifier.load(tmp_path / "ens", precision="float32")
    assert clf.default_tta == "flip" and clf.classes == CLASSES
    saved = json.loads((tmp_path / "ens" / "config.json").read_text())
    assert [m["model"] for m in saved["members"]] == ["a", "b"]
    assert saved["config"]["split_seed"] == 1337
    faces = np.random.default_rng(1).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    parts = [
        EmotionClassifier.load(m, precision="float32").predict_proba(faces, tta="flip")
        for m in members
    ]
    np.testing.assert_allclose(clf.predict_proba(faces), np.mean(parts, axis=0), atol=1e-5)


def test_bfloat16_ensemble_keeps_probabilities_in_float32(members):
    ensemble = average_models([m / "model.keras" for m in members])
    fast = with_precision(ensemble, "bfloat16")
    nested = [layer for layer in fast.layers if isinstance(layer, keras.Model)]
    assert nested and all(m.layers[-1].compute_dtype == "float32" for m in nested)
    assert any(layer.compute_dtype == "bfloat16" for layer in nested[0].layers)
    assert fast.layers[-1].compute_dtype == "float32"
    assert EmotionClassifier(fast).precision == "bfloat16"
    assert EmotionClassifier(ensemble).precision == "float32"
    faces = np.random.default_rng(2).random((3, 48, 48, 1), dtype=np.float32)
    probs = keras.ops.convert_to_numpy(fast.predict_on_batch(faces))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_members_must_share_their_validation_split(tmp_path, members):
    other = _member(tmp_path / "c", "vgg-tiny", 3, split_seed=7)
    with pytest.raises(InvalidInputError, match="--split-seed"):
        save_ensemble([members[0], other], tmp_path / "ens")
    reordered = _member(tmp_path / "d", "vgg-tiny", 4)
    (reordered / "classes.json").write_text(json.dumps(list(reversed(CLASSES))))
    with pytest.raises(InvalidInputError, match="different classes"):
        save_ensemble([members[0], reordered], tmp_path / "ens")
    with pytest.raises(InvalidInputError, match="at least two"):
        average_models([members[0] / "model.keras"])


def test_an_ensemble_member_joins_as_its_networks(members, tmp_path):
    save_ensemble(members, tmp_path / "pair")
    third = _member(tmp_path / "c", "vgg-tiny", 3)
    save_ensemble([tmp_path / "pair", third], tmp_path / "trio")
    trio = keras.models.load_model(tmp_path / "trio" / "model.keras")
    assert [layer.name for layer in trio.layers if isinstance(layer, keras.Model)] == [
        "member_0",
        "member_1",
        "member_2",
    ]
    saved = json.loads((tmp_path / "trio" / "config.json").read_text())
    assert [m["model"] for m in saved["members"]] == ["a", "b", "c"]
    networks = [keras.models.load_model(m / "model.keras") for m in [*members, third]]
    faces = np.random.default_rng(3).random((5, 48, 48, 1), dtype=np.float32)
    expected = np.mean([n.predict_on_batch(faces) for n in networks], axis=0)
    np.testing.assert_allclose(trio.predict_on_batch(faces), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("weights", "size_share", "atol"), [("float16", 0.6, 2e-3), ("int8", 0.35, 2e-2)]
)
def test_stored_smaller_ensemble_answers_like_the_float32_one(
    members, tmp_path, weights, size_share, atol
):
    save_ensemble(members, tmp_path / "f32", tta="flip")
    save_ensemble(members, tmp_path / weights, tta="flip", weights=weights)
    saved = json.loads((tmp_path / weights / "config.json").read_text())
    assert saved["weights_dtype"] == weights
    full, smaller = (tmp_path / name / "model.keras" for name in ("f32", weights))
    assert smaller.stat().st_size < size_share * full.stat().st_size
    faces = np.random.default_rng(2).integers(0, 256, (8, 48, 48), dtype=np.uint8)
    probs = [
        EmotionClassifier.load(tmp_path / name, precision="float32").predict_proba(faces)
        for name in ("f32", weights)
    ]
    np.testing.assert_allclose(probs[1], probs[0], atol=atol)
    assert not np.array_equal(probs[1], probs[0])
