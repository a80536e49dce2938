import numpy as np
import pytest

from fer_core.smoothing import ProbabilitySmoother

HAPPY = np.array([0, 0, 0, 1, 0, 0, 0], np.float32)
SAD = np.array([0, 0, 0, 0, 0, 1, 0], np.float32)


def test_off_gives_the_raw_per_frame_output():
    smoother = ProbabilitySmoother(half_life_s=0)
    smoother.update(1, HAPPY, 0.0)
    np.testing.assert_array_equal(smoother.update(1, SAD, 0.04), SAD)


def test_half_life_is_in_seconds():
    smoother = ProbabilitySmoother(half_life_s=1.0)
    smoother.update(1, HAPPY, 0.0)
    after_one_half_life = smoother.update(1, SAD, 1.0)
    assert after_one_half_life[3] == pytest.approx(0.5)
    assert after_one_half_life.sum() == pytest.approx(1.0)


def test_frame_rate_does_not_change_the_result():
    slow, fast = ProbabilitySmoother(0.5), ProbabilitySmoother(0.5)
    slow.update(1, HAPPY, 0.0)
    fast.update(1, HAPPY, 0.0)
    slow_out = slow.update(1, SAD, 1.0)
    for t in np.linspace(0.1, 1.0, 10):
        fast_out = fast.update(1, SAD, t)
    np.testing.assert_allclose(slow_out, fast_out, atol=1e-5)


def test_time_going_backwards_starts_the_track_over():
    smoother = ProbabilitySmoother(half_life_s=1.0)
    smoother.update(1, HAPPY, 5.0)
    assert smoother.age_s(1, 2.0) is None
    np.testing.assert_array_equal(smoother.update(1, SAD, 2.0), SAD)


def test_tracks_are_independent_and_stale_ones_are_forgotten():
    smoother = ProbabilitySmoother(half_life_s=1.0, forget_after_s=5.0)
    smoother.update(1, HAPPY, 0.0)
    smoother.update(2, SAD, 0.0)
    np.testing.assert_array_equal(smoother.last(2), SAD)
    smoother.update(2, SAD, 6.0)
    smoother.forget_stale(6.0)
    assert smoother.last(1) is None and smoother.last(2) is not None
