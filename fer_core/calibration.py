"""Calibrated probabilities: temperature scaling, and how far confidence is from accuracy.

The dashboard averages probabilities over faces and seconds, so a model that says 90% when
it is right 60% of the time skews every chart. Temperature scaling (Guo et al., 2017) fits
one number ``T`` on held-out data: ``p' = softmax(log(p) / T)``. It never changes which class
wins, so accuracy is untouched; only confidence moves. Fit it on the validation split of the
training data, never on the test split.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

_EPS = 1e-12


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins
    weighted by how many predictions fall in each (0 = perfectly calibrated)."""
    probs, labels = _check(probs, labels)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    gap = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            gap += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(gap)


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray) -> float:
    probs, labels = _check(probs, labels)
    return float(-np.log(np.maximum(probs[np.arange(len(labels)), labels], _EPS)).mean())


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(p) / T)`` row by row; T > 1 softens, T < 1 sharpens, 1 is a no-op."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logits = np.log(np.maximum(np.asarray(probs, np.float64), _EPS)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


class TemperatureScaler:
    """Fit one temperature by minimising the negative log-likelihood (scikit-learn style).

    >>> scaler = TemperatureScaler().fit(val_probs, val_labels)
    >>> calibrated = scaler.transform(test_probs)
    """

    def __init__(self, bounds: tuple[float, float] = (0.05, 20.0)) -> None:
        self.bounds = bounds

    def fit(self, probs: np.ndarray, labels: np.ndarray) -> TemperatureScaler:
        probs, labels = _check(probs, labels)
        # Search log T, so halving and doubling the temperature are equally easy to reach.
        result = minimize_scalar(
            lambda log_t: negative_log_likelihood(apply_temperature(probs, np.exp(log_t)), labels),
            bounds=tuple(np.log(self.bounds)),
            method="bounded",
        )
        self.temperature_ = float(np.exp(result.x))
        return self

    def transform(self, probs: np.ndarray) -> np.ndarray:
        return apply_temperature(probs, self.temperature_)


def _check(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels)
    if probs.ndim != 2 or len(probs) != len(labels) or len(labels) == 0:
        raise ValueError(
            f"expected (N, C) probabilities and N labels with N > 0, got {probs.shape} "
            f"and {labels.shape}"
        )
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(f"labels must be class indices in [0, {probs.shape[1]})")
    return probs, labels.astype(int)
