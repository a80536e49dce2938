"""Alert rules on constructed timelines, and the measurement behind the default thresholds.

``simulated_timeline`` is a steady audience of ``n`` faces: each face's expression is one
class at a time (a hard label, the noisiest reading a classifier gives), its gaze is on the
stage or not (half the time), and it is in view or turned away (40% of the time); each of
the three holds for 5 s on average and then is drawn afresh. With ``shift_at`` the mood
turns: the room goes from positive to negative, from attending to not, and faces leave.
The default rules must not fire once in an hour of a steady audience of any size from 3 to
200 faces, and must fire on the shift.
"""

import math

import numpy as np
import pandas as pd
import pytest

from fer_core.events.alerts import (
    DEFAULT_RULES,
    AlertMonitor,
    AlertRule,
    candidates,
    detect_alerts,
)
from fer_core.labels import CLASSES

#: A steady room with much of both: hard labels of it swing valence as far as a room can.
LIVELY = {"happy": 0.3, "neutral": 0.4, "sad": 0.12, "angry": 0.08, "fear": 0.05, "disgust": 0.05}
#: The same room turned: valence from +0.30 ...
POSITIVE = {"happy": 0.4, "neutral": 0.45, "sad": 0.05, "angry": 0.03, "surprise": 0.05}
POSITIVE |= {"fear": 0.01, "disgust": 0.01}
#: ... to -0.30, attention from 80% to 40%, faces in view from 90% of the room to 50%.
NEGATIVE = {"happy": 0.05, "neutral": 0.55, "sad": 0.2, "angry": 0.1, "surprise": 0.05}
NEGATIVE |= {"fear": 0.03, "disgust": 0.02}
DWELL_S = 5.0  # how long a face holds an expression, a gaze or its presence, on average


def _states(rng, mixes: np.ndarray, n: int, dwell_s: float) -> np.ndarray:
    """(seconds, n) class indices: each face keeps its class, or with chance 1/dwell_s
    draws a new one from that second's mix (``mixes``: (seconds, classes))."""
    seconds = len(mixes)
    switch = rng.random((seconds, n)) < 1 / dwell_s
    switch[0] = True
    cumulative = np.cumsum(mixes, axis=1)
    draws = (rng.random((seconds, n, 1)) > cumulative[:, None, :-1]).sum(axis=2)
    since = np.maximum.accumulate(np.where(switch, np.arange(seconds)[:, None], 0), axis=0)
    return draws[since, np.arange(n)]


def simulated_timeline(
    n: int, seconds: int = 3600, seed: int = 0, shift_at: float | None = None
) -> pd.DataFrame:
    """A per-second timeline of ``n`` faces (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    after = np.arange(seconds) >= (math.inf if shift_at is None else shift_at)

    def mixes(steady: dict, before: dict, later: dict) -> np.ndarray:
        rows = [[mix.get(c, 0.0) for c in CLASSES] for mix in (steady, before, later)]
        table = np.array(rows) / np.array(rows).sum(axis=1, keepdims=True)
        if shift_at is None:
            return np.repeat(table[:1], seconds, axis=0)
        return np.where(after[:, None], table[2], table[1])

    def share(steady: float, before: float, later: float) -> np.ndarray:
        p = steady if shift_at is None else np.where(after, later, before)
        p = np.broadcast_to(p, (seconds,))
        return np.stack([1 - p, p], axis=1)

    emotions = _states(rng, mixes(LIVELY, POSITIVE, NEGATIVE), n, DWELL_S)
    attending = _states(rng, share(0.5, 0.8, 0.4), n, DWELL_S).astype(bool)
    present = _states(rng, share(0.6, 0.9, 0.5), n, DWELL_S).astype(bool)
    # Faces in view: the most found in one of three frames, each found with chance 0.95.
    found = present[:, :, None] & (rng.random((seconds, n, 3)) < 0.95)
    n_faces = found.sum(axis=1).max(axis=1)
    counts = np.stack([((emotions == k) & present).sum(axis=1) for k in range(len(CLASSES))], 1)
    in_view = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = counts / in_view[:, None]
        attention = (attending & present).sum(axis=1) / in_view
    table = pd.DataFrame(shares, columns=list(CLASSES))
    table.insert(0, "time_s", np.arange(seconds, dtype=float))
    table.insert(1, "n_frames", 3)
    table.insert(2, "n_faces", n_faces)
    table.insert(3, "n_tracks", in_view)
    table["valence"] = table["happy"] - table[["angry", "disgust", "fear", "sad"]].sum(axis=1)
    table["attention"] = attention
    return table


def noise_per_face(rule: AlertRule, n: int, seeds: int = 3) -> float:
    """The largest fall ``rule`` sees on steady audiences of ``n`` faces over an hour, times
    the square root of the faces in view then: what its ``noise`` must exceed."""
    loose = AlertRule(rule.name, rule.metric, 1e-9, rule.within_s, rule.min_faces, rule.smooth_s)
    worst = 0.0
    for seed in range(seeds):
        found = candidates(simulated_timeline(n, seed=seed), loose)
        fall = found["before"] - found["after"]
        if rule.metric == "n_faces":
            fall = fall / found["before"]
        worst = max(worst, float((fall * np.sqrt(found["faces"])).max()) if len(found) else 0.0)
    return worst


# --- the default rules on simulated audiences -------------------------------------------------


@pytest.mark.parametrize("n", [3, 5, 10, 30, 100, 200])
def test_default_rules_stay_quiet_on_an_hour_of_a_steady_audience(n):
    for rule in DEFAULT_RULES:
        assert noise_per_face(rule, n) < rule.noise / 1.15, rule.name
    for seed in range(3):
        assert detect_alerts(simulated_timeline(n, seed=seed)) == []


@pytest.mark.parametrize("n", [100, 200])
def test_default_rules_catch_a_room_that_turns(n):
    for seed in range(3):
        alerts = detect_alerts(simulated_timeline(n, seconds=1200, seed=seed, shift_at=600))
        assert sorted(a.rule for a in alerts) == sorted(rule.name for rule in DEFAULT_RULES)
        assert all(600 <= a.time_s <= 630 for a in alerts)
        assert all(a.before > a.after for a in alerts)


# --- rules on constructed timelines -----------------------------------------------------------


def _timeline(values: dict[float, float], metric: str = "valence", faces: int = 50) -> pd.DataFrame:
    """A timeline whose only figures are ``metric`` at the given seconds and the faces."""
    times = sorted(values)
    table = pd.DataFrame({"time_s": times, "n_frames": 3, "n_faces": faces})
    if metric == "n_faces":
        table["n_faces"] = [values[t] for t in times]
    else:
        table[metric] = [values[t] for t in times]
    return table


def _steps(*levels: tuple[float, float], until: float = 300) -> dict[float, float]:
    """Seconds 0..until-1 at each ``(from_s, level)``'s level from its second on."""
    return {t: next(v for start, v in reversed(levels) if t >= start) for t in range(int(until))}


def test_a_fall_fires_at_the_first_second_it_is_deep_enough():
    rule = AlertRule("mood", "valence", drop=0.3, within_s=30, smooth_s=1)
    alerts = detect_alerts(_timeline(_steps((0, 0.42), (100, 0.05))), [rule])
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.time_s, alert.rule, alert.metric) == (100, "mood", "valence")
    assert (alert.before, alert.after) == pytest.approx((0.42, 0.05))
    assert alert.message == "Valence fell from 0.42 to 0.05 within 30 s"


def test_smoothing_delays_the_alert_until_the_average_has_fallen():
    rule = AlertRule("mood", "valence", drop=0.3, within_s=60, smooth_s=10)
    alerts = detect_alerts(_timeline(_steps((0, 0.4), (100, 0.0))), [rule])
    # Seconds 91..100 average 0.4 * 9/10; eight seconds at 0 bring the average to 0.08.
    assert [a.time_s for a in alerts] == [107]
    assert alerts[0].after == pytest.approx(0.4 * 2 / 10)


def test_slow_drifts_and_small_falls_do_not_fire():
    rule = AlertRule("mood", "valence", drop=0.3, within_s=30, smooth_s=1)
    drift = {t: 0.5 - t / 600 for t in range(600)}  # 0.3 over 3 minutes: 0.05 per 30 s
    assert detect_alerts(_timeline(drift), [rule]) == []
    assert detect_alerts(_timeline(_steps((0, 0.4), (100, 0.11))), [rule]) == []


def test_gaps_are_not_falls_to_zero_but_seconds_without_faces_are():
    rule = AlertRule("room", "n_faces", drop=0.3, within_s=30, smooth_s=5)
    gap = {t: 40 for t in [*range(100), *range(160, 300)]}
    assert detect_alerts(_timeline(gap, "n_faces"), [rule]) == []
    empty = _steps((0, 40), (100, 0), (160, 40))
    alerts = detect_alerts(_timeline(empty, "n_faces"), [rule])
    assert [(a.time_s, a.before, a.after) for a in alerts] == [(101, 40, 24)]  # 40 40 40 0 0
    assert alerts[0].message == "Faces in view fell from 40 to 24 within 30 s"


def test_faces_in_view_fall_as_a_share_and_only_from_enough_faces():
    rule = AlertRule("room", "n_faces", drop=0.3, within_s=30, min_faces=3, smooth_s=1)
    assert len(detect_alerts(_timeline(_steps((0, 40), (100, 28)), "n_faces"), [rule])) == 1
    assert detect_alerts(_timeline(_steps((0, 40), (100, 29)), "n_faces"), [rule]) == []
    assert detect_alerts(_timeline(_steps((0, 2), (100, 0)), "n_faces"), [rule]) == []


def test_seconds_with_too_few_faces_or_no_reading_are_skipped():
    rule = AlertRule("mood", "valence", drop=0.3, within_s=30, min_faces=3, smooth_s=1)
    few = _timeline(_steps((0, 0.4), (100, -0.5)))
    few.loc[few["time_s"] >= 100, "n_faces"] = 2
    assert detect_alerts(few, [rule]) == []
    unread = _timeline(_steps((0, 0.4), (100, np.nan), (110, 0.38)))
    assert detect_alerts(unread, [rule]) == []


def test_attention_rules_need_an_attention_column():
    rule = AlertRule("gaze", "attention", drop=0.25, within_s=30, smooth_s=1)
    table = _timeline(_steps((0, 0.8), (100, 0.4)), "attention")
    assert [a.message for a in detect_alerts(table, [rule])] == [
        "Attention fell from 80% to 40% within 30 s"
    ]
    assert detect_alerts(table.drop(columns="attention"), [rule]) == []
    assert detect_alerts(table.iloc[:0], DEFAULT_RULES) == []


def test_the_noise_floor_asks_more_of_a_small_room():
    rule = AlertRule("mood", "valence", drop=0.1, within_s=30, smooth_s=1, noise=2.0)
    fall = _steps((0, 0.4), (100, 0.1))  # 0.3: beyond 2 / sqrt(100), within 2 / sqrt(16)
    assert len(detect_alerts(_timeline(fall, faces=100), [rule])) == 1
    assert detect_alerts(_timeline(fall, faces=16), [rule]) == []


def test_cooldown_makes_one_alert_of_one_fall_and_rules_interleave_in_time():
    mood = AlertRule("mood", "valence", drop=0.3, within_s=30, smooth_s=1, cooldown_s=120)
    levels = _steps((0, 0.4), (100, 0.0), (110, 0.4), (150, 0.0), (200, 0.4), (300, 0.0), until=400)
    table = _timeline(levels)
    assert [a.time_s for a in detect_alerts(table, [mood])] == [100, 300]
    gaze = AlertRule("gaze", "attention", drop=0.3, within_s=30, smooth_s=1)
    table["attention"] = [1.0 if t < 200 else 0.5 for t in table["time_s"]]
    assert [(a.time_s, a.rule) for a in detect_alerts(table, [mood, gaze])] == [
        (100, "mood"),
        (200, "gaze"),
        (300, "mood"),
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"metric": "mood"}, "metric must be one of"),
        ({"drop": 0}, "drop 0 is out of range"),
        ({"metric": "attention", "drop": 1.0}, "drop 1.0 is out of range"),
        ({"within_s": 0}, "within_s must be positive"),
        ({"smooth_s": math.nan}, "smooth_s must be positive"),
        ({"cooldown_s": -1}, "cooldown_s must be finite"),
        ({"noise": math.inf}, "noise must be finite"),
    ],
)
def test_rules_refuse_settings_that_mean_nothing(changes, message):
    settings = {"name": "r", "metric": "valence", "drop": 0.3, "within_s": 30} | changes
    with pytest.raises(ValueError, match=message):
        AlertRule(**settings)


# --- the live monitor -------------------------------------------------------------------------


def test_the_monitor_returns_each_alert_once_as_the_timeline_grows():
    table = simulated_timeline(200, seconds=900, seed=4, shift_at=500)
    monitor = AlertMonitor()
    seen = []
    for end in range(1, len(table) + 1, 7):
        seen += monitor.update(table.iloc[:end])
    seen += monitor.update(table)
    whole = detect_alerts(table)
    assert [(a.time_s, a.rule, a.message) for a in seen] == [
        (a.time_s, a.rule, a.message) for a in whole
    ]
    assert [a.after for a in seen] == pytest.approx([a.after for a in whole])
    assert len(seen) == 3
    assert monitor.update(table) == []


def test_the_monitor_does_not_refire_when_the_last_second_is_rewritten():
    rule = AlertRule("mood", "valence", drop=0.3, within_s=30, smooth_s=1)
    table = _timeline(_steps((0, 0.4), until=101))
    monitor = AlertMonitor([rule])
    assert monitor.update(table) == []
    table.loc[table["time_s"] == 100, "valence"] = 0.0  # more frames of second 100 came in
    first = monitor.update(table)
    assert [a.time_s for a in first] == [100]
    table.loc[table["time_s"] == 100, "valence"] = -0.1
    assert monitor.update(table) == []
    later = pd.concat([table, _timeline({101.0: -0.2, 102.0: 0.4, 103.0: 0.0})])
    assert monitor.update(later) == []  # another fall, but within the cooldown
