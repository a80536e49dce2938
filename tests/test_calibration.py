"""Temperature scaling and the expected calibration error."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fer_core.calibration import (
    TemperatureScaler,
    apply_temperature,
    expected_calibration_error,
    negative_log_likelihood,
)


def _overconfident(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Predictions right 60% of the time that claim about 95% confidence."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, n)
    predicted = np.where(rng.random(n) < 0.6, labels, rng.integers(0, 7, n))
    logits = rng.normal(0, 0.5, (n, 7))
    logits[np.arange(n), predicted] += 6.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs, labels


def test_a_perfectly_calibrated_predictor_has_zero_ece():
    probs = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(probs, np.array([0, 1])) == 0.0
    # Says 0.8 and is right 80% of the time.
    probs = np.tile([0.8, 0.2], (10, 1))
    labels = np.array([0] * 8 + [1] * 2)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-12)


def test_ece_of_an_overconfident_predictor_is_the_gap():
    probs = np.tile([0.9, 0.1], (10, 1))
    labels = np.array([0] * 6 + [1] * 4)  # 60% right at 90% confidence
    assert expected_calibration_error(probs, labels) == pytest.approx(0.3)


def test_temperature_scaling_fixes_overconfidence_without_changing_predictions():
    probs, labels = _overconfident()
    fit_half, test_half = slice(0, 2000), slice(2000, None)
    scaler = TemperatureScaler().fit(probs[fit_half], labels[fit_half])
    assert scaler.temperature_ > 1.5  # softening
    calibrated = scaler.transform(probs[test_half])
    before = expected_calibration_error(probs[test_half], labels[test_half])
    after = expected_calibration_error(calibrated, labels[test_half])
    assert before > 0.25 and after < 0.05
    assert negative_log_likelihood(calibrated, labels[test_half]) < negative_log_likelihood(
        probs[test_half], labels[test_half]
    )
    np.testing.assert_array_equal(calibrated.argmax(1), probs[test_half].argmax(1))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 30), st.floats(0.1, 10.0), st.integers(0, 10_000))
def test_apply_temperature_keeps_distributions_and_ranking(n, temperature, seed):
    probs = np.random.default_rng(seed).dirichlet(np.ones(7), size=n)
    scaled = apply_temperature(probs, temperature)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(scaled.argmax(1), probs.argmax(1))
    np.testing.assert_allclose(apply_temperature(probs, 1.0), probs, atol=1e-6)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="positive"):
        apply_temperature(np.ones((1, 7)) / 7, 0.0)
    with pytest.raises(ValueError, match="N labels"):
        expected_calibration_error(np.ones((3, 7)) / 7, np.array([0, 1]))
    with pytest.raises(ValueError, match="class indices"):
        TemperatureScaler().fit(np.ones((2, 7)) / 7, np.array([0, 9]))
