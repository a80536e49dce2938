"""Smooth each track's emotion probabilities over time.

An exponential moving average with a half-life in seconds (not frames), so the same setting
means the same thing at 30 frames/s live and at 2 frames/s on a sampled video. A half-life
of 0 turns smoothing off: the output is then exactly the per-frame input.
"""

from __future__ import annotations

import numpy as np


class ProbabilitySmoother:
    """Per-track exponential smoothing of probability vectors."""

    def __init__(self, half_life_s: float = 0.5, forget_after_s: float = 10.0) -> None:
        if half_life_s < 0:
            raise ValueError(f"half_life_s must be >= 0, got {half_life_s}")
        self.half_life_s = half_life_s
        self.forget_after_s = forget_after_s
        self._state: dict[int, tuple[np.ndarray, float]] = {}

    def reset(self) -> None:
        self._state.clear()

    def last(self, track_id: int) -> np.ndarray | None:
        """The current smoothed probabilities of a track, if it has any."""
        state = self._state.get(track_id)
        return None if state is None else state[0]

    def age_s(self, track_id: int, now_s: float) -> float | None:
        """Seconds since the track was last updated, or None for an unknown track."""
        state = self._state.get(track_id)
        if state is None or now_s < state[1]:  # time went backwards: treat as unknown
            return None
        return now_s - state[1]

    def update(self, track_id: int, probs: np.ndarray, time_s: float) -> np.ndarray:
        """Blend a new observation into the track's state and return the smoothed vector."""
        probs = np.asarray(probs, dtype=np.float32)
        previous = self._state.get(track_id)
        if self.half_life_s == 0 or previous is None or time_s < previous[1]:
            smoothed = probs  # off, a new track, or time went backwards (a seek): start over
        else:
            old, old_time = previous
            weight = 1.0 - 0.5 ** (max(time_s - old_time, 0.0) / self.half_life_s)
            smoothed = old + np.float32(weight) * (probs - old)
        self._state[track_id] = (smoothed, time_s)
        return smoothed

    def forget_stale(self, now_s: float) -> None:
        """Drop tracks not updated for ``forget_after_s`` seconds (they left the scene)."""
        stale = [t for t, (_, seen) in self._state.items() if now_s - seen > self.forget_after_s]
        for track_id in stale:
            del self._state[track_id]
