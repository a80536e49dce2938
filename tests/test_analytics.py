"""Invariants of the analytics, checked on generated sessions (hypothesis)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fer_core.analytics import (
    TIMELINE_COLUMNS,
    TRACK_COLUMNS,
    rolling,
    summarize,
    timeline,
    tracks,
    valence,
)
from fer_core.labels import CLASSES


def _faces_table(times: np.ndarray, tracks: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    probs = weights / weights.sum(axis=1, keepdims=True)
    table = pd.DataFrame(probs, columns=list(CLASSES))
    table.insert(0, "time_s", times)
    table.insert(1, "track_id", tracks)
    table["attending"] = np.nan  # no head pose unless a test gives one
    return table


@st.composite
def sessions(draw, max_faces: int = 40) -> tuple[pd.DataFrame, np.ndarray]:
    """A per-face table and the analyzed frame times (some frames may have no faces)."""
    n_frames = draw(st.integers(0, 30))
    frame_times = np.sort(
        draw(arrays(float, n_frames, elements=st.floats(0, 20), unique=True))
    ).round(3)
    frame_times = np.unique(frame_times)
    if len(frame_times) == 0:
        return _faces_table(np.empty(0), np.empty(0, int), np.ones((0, 7))), frame_times
    n = draw(st.integers(0, max_faces))
    picks = draw(arrays(int, n, elements=st.integers(0, len(frame_times) - 1)))
    tracks = draw(arrays(int, n, elements=st.integers(0, 5)))
    weights = draw(arrays(float, (n, 7), elements=st.floats(0.01, 1.0)))
    table = _faces_table(frame_times[picks], tracks, weights)
    # Faces too small to classify carry NaN probabilities; sometimes all of them are.
    unclassified = draw(arrays(bool, n, elements=st.booleans())) if n else np.zeros(0, bool)
    table.loc[unclassified, list(CLASSES)] = np.nan
    # Head pose: attending, not, or unknown (a detector without landmarks).
    table["attending"] = draw(arrays(float, n, elements=st.sampled_from([0.0, 1.0, np.nan])))
    return table, frame_times


@settings(max_examples=150, deadline=None)
@given(sessions(), st.sampled_from([0.5, 1.0, 2.5]))
def test_timeline_invariants(session, bucket_s):
    faces, frame_times = session
    table = timeline(faces, frame_times, bucket_s)
    assert tuple(table.columns) == TIMELINE_COLUMNS
    # One row per bucket that holds an analyzed frame, in time order.
    expected = np.unique(np.floor(frame_times / bucket_s) * bucket_s)
    np.testing.assert_allclose(table["time_s"], expected)
    assert table["n_frames"].sum() == len(frame_times)
    with_faces = table["dominant"].notna()
    # Distributions sum to 1 wherever a face was classified, and are empty elsewhere.
    np.testing.assert_allclose(table.loc[with_faces, list(CLASSES)].sum(axis=1), 1.0)
    assert table.loc[~with_faces, list(CLASSES)].isna().all().all()
    classified = faces.dropna(subset=list(CLASSES))
    buckets_with_classified = np.unique(np.floor(classified["time_s"] / bucket_s + 1e-9) * bucket_s)
    np.testing.assert_allclose(table.loc[with_faces, "time_s"], buckets_with_classified)
    assert table["valence"].dropna().between(-1, 1).all()
    assert table["n_faces"].sum() <= len(faces) and (table["n_tracks"] <= 6).all()
    for _, row in table[with_faces].iterrows():
        assert row["dominant"] == max(CLASSES, key=lambda c: row[c])
    # Attention is a share of the faces with a pose, unknown in buckets without any.
    posed = faces.dropna(subset=["attending"])
    buckets_with_pose = np.unique(np.floor(posed["time_s"] / bucket_s + 1e-9) * bucket_s)
    np.testing.assert_allclose(table.dropna(subset=["attention"])["time_s"], buckets_with_pose)
    assert table["attention"].dropna().between(0, 1).all()


@settings(max_examples=100, deadline=None)
@given(sessions())
def test_summary_invariants(session):
    faces, frame_times = session
    summary = summarize(faces, frame_times)
    assert summary["frames_analyzed"] == len(frame_times)
    assert summary["face_detections"] == len(faces)
    posed = faces["attending"].dropna()
    assert summary["attention_share"] == (pytest.approx(posed.mean()) if len(posed) else None)
    if faces[list(CLASSES)].dropna().empty:
        assert summary["distribution"] is None and summary["peak_positive"] is None
        assert summary["faces_seen"] == (faces["track_id"].nunique() if len(faces) else 0)
        return
    assert sum(summary["distribution"].values()) == pytest.approx(1.0)
    assert summary["faces_seen"] == faces["track_id"].nunique()
    peak_pos, peak_neg = summary["peak_positive"], summary["peak_negative"]
    assert -1 <= peak_neg["valence"] <= summary["mean_valence"] + 1e-9 or len(faces) == 1
    assert peak_neg["valence"] <= peak_pos["valence"]


@settings(max_examples=60, deadline=None)
@given(sessions(), st.sampled_from([1.0, 3.0, 10.0]))
def test_rolling_means_stay_within_the_range_of_their_window(session, window_s):
    faces, frame_times = session
    table = timeline(faces, frame_times)
    smoothed = rolling(table, window_s)
    assert len(smoothed) == len(table)
    if table["valence"].notna().any():
        lo, hi = table["valence"].min(), table["valence"].max()
        assert smoothed["valence"].dropna().between(lo - 1e-9, hi + 1e-9).all()
    assert np.allclose(smoothed[list(CLASSES)].dropna().sum(axis=1), 1.0)


def test_valence_definition():
    happy = pd.Series({c: 1.0 if c == "happy" else 0.0 for c in CLASSES})
    sad = pd.Series({c: 1.0 if c == "sad" else 0.0 for c in CLASSES})
    mixed = pd.Series({c: 0.0 for c in CLASSES} | {"happy": 0.5, "fear": 0.25, "neutral": 0.25})
    assert valence(happy) == 1.0 and valence(sad) == -1.0 and valence(mixed) == 0.25


def test_a_known_session():
    faces = _faces_table(
        np.array([0.0, 0.0, 0.5, 1.2]),
        np.array([1, 2, 1, 1]),
        np.array(
            [
                [0, 0, 0, 1, 0, 0, 0],
                [0, 0, 0, 0, 0, 1, 0],
                [0, 0, 0, 1, 0, 0, 0],
                [1, 0, 0, 0, 0, 0, 0],
            ],
            float,
        )
        + 1e-9,
    )
    table = timeline(faces, frame_times=[0.0, 0.5, 1.2, 2.4])
    assert table["time_s"].tolist() == [0.0, 1.0, 2.0]
    assert table["n_faces"].tolist() == [2, 1, 0] and table["n_tracks"].tolist() == [2, 1, 0]
    assert table.loc[0, "happy"] == pytest.approx(2 / 3)
    assert table["dominant"].tolist() == ["happy", "angry", None]
    summary = summarize(faces, frame_times=[0.0, 0.5, 1.2, 2.4])
    assert summary["faces_seen"] == 2 and summary["duration_s"] == pytest.approx(2.4)
    assert summary["peak_positive"]["time_s"] == 0.0
    assert summary["peak_negative"]["time_s"] == 1.0


def test_the_summary_says_how_much_of_the_room_the_figures_stand_for():
    probs = np.tile(np.eye(7)[3], (4, 1))
    probs[1:3] = np.nan  # two faces too small to read
    faces = _faces_table(np.array([0.0, 0.0, 0.0, 1.0]), np.array([1, 2, 3, 1]), probs)
    summary = summarize(faces, frame_times=[0.0, 1.0])
    assert summary["faces_in_view"] == 2.0  # 3 faces, then 1
    assert summary["faces_classified"] == 1.0  # 1, then 1
    assert summary["classified_share"] == 0.5
    assert summarize(faces.iloc[:0], frame_times=[0.0])["classified_share"] is None


def test_empty_input_gives_empty_well_formed_results():
    empty = _faces_table(np.empty(0), np.empty(0, int), np.ones((0, 7)))
    table = timeline(empty)
    assert table.empty and tuple(table.columns) == TIMELINE_COLUMNS
    assert summarize(empty)["frames_analyzed"] == 0
    assert rolling(table).empty


def test_decimal_buckets_hold_their_own_boundaries():
    faces = _faces_table(np.array([0.3, 0.6]), np.array([1, 1]), np.ones((2, 7)))
    assert timeline(faces, bucket_s=0.1)["time_s"].round(6).tolist() == [0.3, 0.6]
    assert timeline(faces, bucket_s=0.2)["time_s"].round(6).tolist() == [0.2, 0.6]


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="happy"):
        timeline(pd.DataFrame({"time_s": [0.0]}))


@settings(max_examples=100, deadline=None)
@given(sessions())
def test_track_table_invariants(session):
    faces, _ = session
    table = tracks(faces)
    assert list(table.columns) == list(TRACK_COLUMNS)
    assert sorted(table["track_id"]) == sorted(faces["track_id"].unique())
    assert table["detections"].sum() == len(faces)
    assert (table["first_s"] <= table["last_s"]).all()
    classified = table.dropna(subset=list(CLASSES))
    assert np.allclose(classified[list(CLASSES)].sum(axis=1), 1.0)
    assert (classified["valence"].between(-1, 1)).all()
    assert table.loc[table[list(CLASSES)].isna().any(axis=1), "dominant"].isna().all()


def test_a_known_track_table():
    faces = _faces_table(
        np.array([0.0, 1.0, 2.0, 1.5]),
        np.array([1, 1, 1, 2]),
        np.array([[0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 1, 0], [1] * 7])
        + 1e-9,
    )
    first, second = tracks(faces).itertuples(index=False)
    assert (first.track_id, first.first_s, first.last_s, first.detections) == (1, 0.0, 2.0, 3)
    assert first.dominant == "happy"
    assert first.valence == pytest.approx(2 / 3 - 1 / 3)
    assert (second.track_id, second.detections, second.dominant) == (2, 1, "angry")
