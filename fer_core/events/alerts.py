"""Alerts: moments on a session's timeline that an organizer should look at.

A rule watches one per-second figure (valence, attention or faces in view), smoothed over a
few seconds, and fires where it has fallen far enough below its highest level of the
seconds just before. The default rules' thresholds are measured, not guessed: on simulated
steady audiences of 3 to 200 faces (each face's expression, gaze and presence changing
every few seconds at random, read as hard labels, the noisiest a classifier gives) they
stay quiet for hours, and they fire on a real shift (``tests/test_alerts.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

METRICS = ("valence", "attention", "n_faces")


@dataclass(frozen=True)
class Alert:
    """One rule firing at ``time_s`` (seconds from the session's start): ``metric`` went from
    ``before`` to ``after``; ``message`` says so in words."""

    time_s: float
    rule: str
    metric: str
    before: float
    after: float
    message: str


@dataclass(frozen=True)
class AlertRule:
    """Fire when ``metric``, averaged over the last ``smooth_s`` seconds, is ``drop`` below
    its highest such average of the ``within_s`` seconds before.

    ``drop`` is absolute for valence and attention (0.3 = 0.3 lower) and a share for
    ``n_faces`` (0.3 = 30% fewer faces). Seconds with fewer than ``min_faces`` faces in view
    are ignored for valence and attention (a face or two is no audience); faces in view are
    only said to fall from at least ``min_faces``. Within ``cooldown_s`` of an alert the
    rule stays quiet: one fall is one alert.

    ``noise`` is the largest fall that chance alone gives with one face in view; with ``n``
    faces chance gives ``noise / sqrt(n)``, so a smaller fall is not reported. A fixed
    ``drop`` cannot serve both a class of 5 and a hall of 200: what is a real shift in the
    hall is a coin toss in the class.
    """

    name: str
    metric: str
    drop: float
    within_s: float
    min_faces: int = 3
    smooth_s: float = 10.0
    cooldown_s: float = 120.0
    noise: float = 0.0

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}")
        most = 2.0 if self.metric == "valence" else 1.0  # valence spans -1..1; the rest shares
        if not 0 < self.drop < most:
            raise ValueError(f"rule {self.name!r}: drop {self.drop!r} is out of range")
        for field in ("within_s", "smooth_s"):
            if not math.isfinite(getattr(self, field)) or getattr(self, field) <= 0:
                raise ValueError(f"rule {self.name!r}: {field} must be positive seconds")
        for field in ("cooldown_s", "noise"):
            if not math.isfinite(getattr(self, field)) or getattr(self, field) < 0:
                raise ValueError(f"rule {self.name!r}: {field} must be finite, at least 0")

    @property
    def lookback_s(self) -> float:
        """How far back a second's verdict reaches: the window and the smoothing before it."""
        return self.within_s + self.smooth_s

    def message(self, before: float, after: float) -> str:
        if self.metric == "valence":
            change = f"Valence fell from {before:.2f} to {after:.2f}"
        elif self.metric == "attention":
            change = f"Attention fell from {before:.0%} to {after:.0%}"
        else:
            change = f"Faces in view fell from {before:.0f} to {after:.0f}"
        return f"{change} within {self.within_s:g} s"


#: Measured with ``noise_per_face`` (tests/test_alerts.py) on simulated steady audiences of
#: 3, 5, 10, 30, 100 and 200 faces, an hour each, five seeds: each face holds an expression
#: (hard labels of a room with much of both moods), a gaze (half the time on the stage) and
#: its presence (out of view 40% of the time) for 5 s on average. Smoothed over 15 s, the
#: largest fall within 60 s times the root of the faces in view was at most 3.27 for valence,
#: 1.94 for attention and 2.0 (as a share) for faces in view, whatever the room's size; the
#: ``noise`` below is a fifth or more above, so none fires in those hours. What they catch
#: (the same test): a hall of 100 going from valence +0.30 to -0.30, from 80% attending to
#: 40% or from 90% of it in view to 50%, within half a minute of the turn. A room of 30, all in
#: view, needs a fall of 0.75 in valence or 0.5 in attention to be told from chance. 15 s of
#: smoothing and a minute's window are the time a mood takes to turn; a fall under ``drop``
#: is not worth an organizer's glance in any room.
DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule("valence falling", "valence", drop=0.2, within_s=60, smooth_s=15, noise=3.9),
    AlertRule("attention falling", "attention", drop=0.15, within_s=60, smooth_s=15, noise=2.6),
    AlertRule("faces in view dropping", "n_faces", drop=0.2, within_s=60, smooth_s=15, noise=2.4),
)


def candidates(timeline: pd.DataFrame, rule: AlertRule) -> pd.DataFrame:
    """Every second where ``rule``'s condition holds: ``time_s``, ``before``, ``after`` and
    ``faces`` (faces in view, smoothed alike).

    Absent seconds (no frames) are gaps, not zeros; seconds without the metric are skipped.
    """
    columns = ["time_s", "before", "after", "faces"]
    if timeline.empty or (rule.metric != "n_faces" and rule.metric not in timeline):
        return pd.DataFrame(columns=columns, dtype=float)  # attention: not estimated then
    faces = timeline["n_faces"].astype(float)
    values = faces if rule.metric == "n_faces" else timeline[rule.metric].astype(float)
    if rule.metric != "n_faces":
        values = values.where(faces >= rule.min_faces)
    valid = values.notna().to_numpy()
    index = pd.to_timedelta(timeline["time_s"].to_numpy(float)[valid], unit="s")
    window = pd.Timedelta(seconds=rule.smooth_s)
    both = pd.DataFrame({"value": values[valid].to_numpy(), "faces": faces[valid].to_numpy()})
    smooth = both.set_axis(index).sort_index().rolling(window, min_periods=1).mean()
    after = smooth["value"]
    before = after.rolling(pd.Timedelta(seconds=rule.within_s), closed="left").max()
    fall = before - after
    if rule.metric == "n_faces":
        fall = fall / before.where(before >= rule.min_faces)
    # The fall must matter (``drop``) and be beyond what noise gives with these many faces.
    floor = np.maximum(rule.drop, rule.noise / np.sqrt(smooth["faces"].clip(lower=1)))
    fired = (fall >= floor - 1e-9).to_numpy()
    return pd.DataFrame(
        {
            "time_s": smooth.index.total_seconds().to_numpy()[fired],
            "before": before.to_numpy()[fired],
            "after": after.to_numpy()[fired],
            "faces": smooth["faces"].to_numpy()[fired],
        }
    )


def detect_alerts(
    timeline: pd.DataFrame, rules: Sequence[AlertRule] = DEFAULT_RULES
) -> list[Alert]:
    """The alerts of ``rules`` on a session's per-second timeline, in time order."""
    return AlertMonitor(rules).update(timeline)


class AlertMonitor:
    """Alerts on a live session's growing timeline, each returned once.

    ``update`` takes the whole timeline so far (its last second may be re-written as more
    frames of it arrive) and looks only at the seconds since the last call, plus the
    lookback they need, so a call costs the same after hours as after minutes.
    """

    def __init__(self, rules: Sequence[AlertRule] = DEFAULT_RULES) -> None:
        self.rules = tuple(rules)
        self._last: list[float] = [-math.inf] * len(self.rules)  # each rule's last alert
        self._from = -math.inf  # the first second not yet judged for good

    def update(self, timeline: pd.DataFrame) -> list[Alert]:
        """The alerts that ``timeline`` holds and no earlier call returned, in time order."""
        if timeline.empty:
            return []
        lookback = max((rule.lookback_s for rule in self.rules), default=0.0)
        recent = timeline[timeline["time_s"] >= self._from - lookback]
        alerts = []
        for position, rule in enumerate(self.rules):
            found = candidates(recent, rule)
            found = found[found["time_s"] >= self._from]
            for time_s, before, after in found[["time_s", "before", "after"]].to_numpy().tolist():
                last = self._last[position]
                if time_s > last and time_s - last >= rule.cooldown_s:
                    message = rule.message(before, after)
                    alerts.append(Alert(time_s, rule.name, rule.metric, before, after, message))
                    self._last[position] = time_s
        self._from = float(timeline["time_s"].max())  # the last second may still change
        return sorted(alerts, key=lambda alert: alert.time_s)
