"""Segment tables on constructed timelines: which seconds count, weights, peaks, open ends."""

import math

import numpy as np
import pandas as pd
import pytest

from fer_core.analytics import TIMELINE_COLUMNS, timeline
from fer_core.events.segments import (
    SEGMENT_COLUMNS,
    Segment,
    closed,
    segment_table,
    segments_across,
    segments_from_table,
    timeline_end_s,
)
from fer_core.labels import CLASSES


def _second(time_s, n_faces, mix=None, attention=np.nan):
    """One timeline row: ``mix`` maps classes to shares (None: frames but no faces)."""
    shares = dict.fromkeys(CLASSES, np.nan if mix is None else 0.0) | (mix or {})
    value = np.nan if mix is None else shares["happy"] - shares["sad"] - shares["angry"]
    dominant = None if mix is None else max(shares, key=shares.get)
    return {
        "time_s": float(time_s),
        "n_frames": 3,
        "n_faces": n_faces,
        "n_tracks": n_faces,
        **shares,
        "dominant": dominant,
        "valence": value,
        "attention": attention,
    }


HAPPY, SAD, NEUTRAL = {"happy": 1.0}, {"sad": 1.0}, {"neutral": 1.0}


def test_figures_weigh_seconds_by_their_faces():
    rows = [
        _second(0, 1, HAPPY, attention=1.0),
        _second(1, 3, SAD, attention=0.0),
        _second(2, 0),  # frames, nobody in view
        _second(5, 4, {"happy": 0.5, "neutral": 0.5}, attention=0.5),  # 3 and 4 are a gap
    ]
    table = segment_table(pd.DataFrame(rows), [Segment(0, None, "Talk")])
    assert list(table.columns) == list(SEGMENT_COLUMNS)
    row = table.iloc[0]
    assert (row["start_s"], row["end_s"], row["duration_s"]) == (0, 6, 6)  # last second + 1
    assert row["seconds_with_data"] == 4
    assert row["faces_in_view"] == pytest.approx(8 / 4)
    assert row["happy"] == pytest.approx((1 + 2) / 8)
    assert row["sad"] == pytest.approx(3 / 8)
    assert row["neutral"] == pytest.approx(2 / 8)
    assert row[list(CLASSES)].sum() == pytest.approx(1)
    assert row["dominant"] == "happy"  # 3/8 each for happy and sad: the first wins
    assert row["mean_valence"] == pytest.approx(0)
    assert row["attention"] == pytest.approx((1 + 0 + 2) / 8)
    assert (row["peak_positive_s"], row["peak_positive_valence"]) == (0, 1)
    assert (row["peak_negative_s"], row["peak_negative_valence"]) == (1, -1)


def test_seconds_belong_to_the_segment_they_start_in_and_open_ends_meet_the_next():
    frame = pd.DataFrame([_second(t, 2, HAPPY if t < 10 else SAD) for t in range(20)])
    segments = [
        Segment(10, None, "B"),  # unsorted: the table is in time order
        Segment(0, 10, "A"),
        Segment(15, None, "C"),
    ]
    table = segment_table(frame, segments, end_s=30)
    assert list(table["title"]) == ["A", "B", "C"]
    assert list(table["end_s"]) == [10, 15, 30]
    assert list(table["seconds_with_data"]) == [10, 5, 5]
    assert list(table["dominant"]) == ["happy", "sad", "sad"]
    assert list(table["mean_valence"]) == [1, -1, -1]


def test_segments_without_data_have_nan_figures():
    frame = pd.DataFrame([_second(0, 2), _second(1, 2)])  # frames, faces too small to read
    table = segment_table(
        frame,
        [Segment(0, 2, "Unread"), Segment(5, 8, "Gap"), Segment(40, None, "After the end")],
        end_s=30,
    )
    unread, gap, after = (table.iloc[i] for i in range(3))
    assert unread["seconds_with_data"] == 2 and unread["faces_in_view"] == 2
    assert math.isnan(unread["mean_valence"]) and unread["dominant"] is None
    assert math.isnan(unread["attention"]) and math.isnan(unread["peak_positive_s"])
    assert gap["seconds_with_data"] == 0 and math.isnan(gap["faces_in_view"])
    assert (after["end_s"], after["duration_s"]) == (40, 0)  # the video ended before it
    assert math.isnan(after["happy"])


def test_a_real_timeline_without_an_attention_column():
    faces = pd.DataFrame(
        [
            {"time_s": t, "track_id": 1, **dict.fromkeys(CLASSES, 0.0), "happy": 1.0}
            for t in (0.0, 0.5, 1.0, 2.5)
        ]
    )
    frame = timeline(faces, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    table = segment_table(
        frame[[c for c in TIMELINE_COLUMNS if c != "attention"]], [Segment(0, None, "All")]
    )
    assert table.loc[0, "seconds_with_data"] == 3
    assert table.loc[0, "happy"] == 1 and math.isnan(table.loc[0, "attention"])
    assert segment_table(frame.iloc[:0], [Segment(0, None, "Empty")]).loc[0, "duration_s"] == 0


def test_closed_fills_open_ends_and_drops_what_the_session_never_reached():
    segments = [Segment(50, None, "C"), Segment(0, None, "A"), Segment(20, 30, "B")]
    assert closed(segments, 60) == [
        Segment(0, 20, "A"),
        Segment(20, 30, "B"),
        Segment(50, 60, "C"),
    ]
    assert closed(segments, 50) == [Segment(0, 20, "A"), Segment(20, 30, "B")]


def test_segments_across_sessions_in_one_table():
    frame = pd.DataFrame([_second(t, 2, HAPPY) for t in range(5)])
    first = segment_table(frame, [Segment(0, None, "Talk")])
    second = segment_table(frame, [Segment(0, 2, "Talk"), Segment(2, None, "Q&A")])
    both = segments_across({"Monday": first, "Tuesday": second})
    assert list(both.columns) == ["session", *SEGMENT_COLUMNS]
    assert list(both["session"]) == ["Monday", "Tuesday", "Tuesday"]
    assert list(both["title"]) == ["Talk", "Talk", "Q&A"]
    assert list(segments_across({}).columns) == ["session", *SEGMENT_COLUMNS]


def test_segments_as_a_person_edits_them_in_a_table():
    table = pd.DataFrame(
        {
            "start_s": [600.0, 0.0, np.nan],
            "end_s": [np.nan, 600.0, 5.0],
            "title": ["  Panel ", None, "never started"],
        }
    )
    assert segments_from_table(table) == [
        Segment(0.0, 600.0, "Segment 1"),
        Segment(600.0, None, "Panel"),
    ]
    backwards = pd.DataFrame({"start_s": [10.0], "end_s": [5.0], "title": ["Q&A"]})
    with pytest.raises(ValueError, match=r"row 1: segment 'Q&A' ends at 5\.0 s"):
        segments_from_table(backwards)


def test_a_session_ends_on_its_own_clock_not_its_wall_clock():
    seconds = pd.DataFrame([_second(t, 1, HAPPY) for t in range(30)])
    assert timeline_end_s(seconds) == 30.0
    # A video's length, past its last second with a frame (the analysis took longer or less).
    assert timeline_end_s(seconds, {"duration_s": 31.5}) == 31.5
    assert timeline_end_s(seconds, {"duration_s": 12.0}) == 30.0
    assert timeline_end_s(seconds.iloc[:0]) == 0.0
