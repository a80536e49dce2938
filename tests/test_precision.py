"""Inference precision: bfloat16 copies of a float32 model, and how the precision is chosen."""

import numpy as np
import pytest

from fer_core import EmotionClassifier
from fer_core.precision import PRECISION_ENV, resolve_precision, with_precision


@pytest.fixture(scope="module")
def float32_clf() -> EmotionClassifier:
    return EmotionClassifier.load(precision="float32")


def test_explicit_precisions_are_kept_and_unknown_ones_named(monkeypatch):
    monkeypatch.delenv(PRECISION_ENV, raising=False)
    assert resolve_precision("float32") == "float32"
    assert resolve_precision("bfloat16") == "bfloat16"
    assert resolve_precision("auto") in {"float32", "bfloat16"}
    with pytest.raises(ValueError, match="float16"):
        resolve_precision("float16")


def test_the_environment_overrides_auto_only(monkeypatch):
    monkeypatch.setenv(PRECISION_ENV, "float32")
    assert resolve_precision("auto") == "float32"
    assert resolve_precision("bfloat16") == "bfloat16"
    assert EmotionClassifier.load().precision == "float32"


def test_a_bfloat16_copy_shares_the_weights_and_nearly_all_answers(float32_clf, astronaut_face):
    model = float32_clf.model
    copy = with_precision(model, "bfloat16")
    assert copy is not model and with_precision(model, "float32") is model
    for mine, theirs in zip(copy.get_weights(), model.get_weights(), strict=True):
        assert mine.dtype == np.float32
        np.testing.assert_array_equal(mine, theirs)
    assert copy.layers[-1].compute_dtype == "float32", "probabilities stay float32"

    noise = np.random.default_rng(0).integers(0, 256, (64, 48, 48, 3), dtype=np.uint8)
    faces = [*noise, astronaut_face]
    fast = EmotionClassifier(copy, float32_clf.classes, metadata=float32_clf.metadata)
    assert fast.precision == "bfloat16" and float32_clf.precision == "float32"
    exact, approx = float32_clf.predict_proba(faces), fast.predict_proba(faces)
    assert approx.dtype == np.float32
    np.testing.assert_allclose(approx.sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(exact - approx).max() < 0.05
    assert (exact.argmax(axis=1) == approx.argmax(axis=1)).mean() >= 0.95
    assert fast.predict([astronaut_face])[0] == float32_clf.predict([astronaut_face])[0]
