"""What the report shows, before anything is drawn: the charts' series, the sessions read
once, the tables as text, and the words it takes from ``fer_core.definitions``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from test_report import ALERTS, NAME, SECONDS, SEGMENTS, SUMMARY, generated_timeline

from fer_core import definitions
from fer_core.analytics import NEGATIVE, POSE_COLUMNS, POSITIVE
from fer_core.defaults import ATTENTION_CONE_DEG
from fer_core.events.report_data import (
    HOW_TO_READ,
    N_PEAKS,
    NONE,
    PEAK_GAP_S,
    alerts_table,
    comparison_table,
    fit_label,
    headline_pairs,
    measured_pairs,
    peaks_table,
    read_sessions,
    segments_table,
    session_report,
)
from fer_core.labels import CLASSES
from fer_core.sessions import Session, SessionNotFoundError, SessionStore

START = datetime(2025, 5, 1, 14, 0, tzinfo=UTC)


def generated_session(attention: bool = True, **fields) -> Session:
    """A session as the store returns it, still recording (no end: its length is its
    timeline's), with the test report's segments and alerts."""
    values = {
        "id": 7,
        "name": NAME,
        "kind": "live",
        "started_at": START,
        "ended_at": None,
        "settings": {"detector": "yunet", "model": "fast", "stage_direction": [10, 0]},
        "summary": SUMMARY,
        "timeline": generated_timeline(SECONDS, attention),
        "faces": None,
        "segments": SEGMENTS,
        "alerts": ALERTS,
    }
    return Session(**{**values, **fields})


def test_the_charts_draw_minutes_bands_and_numbered_alerts():
    report = session_report(generated_session())
    charts = report.charts
    assert report.duration_s == SECONDS  # from the timeline: the session has no end yet
    assert np.allclose(charts.minutes, np.arange(SECONDS) / 60)
    assert charts.end_min == SECONDS / 60
    assert [(band.start_min, band.end_min) for band in charts.bands] == [(0, 1), (1, 2.5), (2.5, 4)]
    assert [band.title for band in charts.bands] == [s.title for s in SEGMENTS]
    assert all(band.label.startswith(f"{n} ") for n, band in enumerate(charts.bands, 1))
    assert [(m.minute, m.number, m.message) for m in charts.markers] == [
        (a.time_s / 60, n, a.message) for n, a in enumerate(ALERTS, 1)
    ]
    assert charts.panels == ("shares", "valence", "attention", "faces")
    gap = slice(30, 40)  # nobody in view: the stack drops to nothing, the lines break
    assert all((charts.shares[name][gap] == 0).all() for name in CLASSES)
    assert np.isnan(charts.valence[gap]).all() and np.isnan(charts.attention[gap]).all()
    assert np.isfinite(charts.valence_rolled[:30]).all()


def test_a_session_without_attention_has_no_attention_panel():
    charts = session_report(generated_session(attention=False, segments=[], alerts=[])).charts
    assert charts.attention is None
    assert charts.panels == ("shares", "valence", "faces")
    assert charts.bands == () and charts.markers == ()
    assert charts.end_min == (SECONDS - 1) / 60  # no segment end: the last second's start


def test_a_band_label_is_cut_to_its_span():
    assert fit_label("2 Keynote", 0.5) == "2 Keynote"
    cut = fit_label("2 " + "long title " * 20, 0.3)
    assert cut.startswith("2 long title") and cut.endswith("…") and len(cut) == 33
    assert fit_label("12 Keynote", 0.01) == "12"  # no room: the number alone


def test_sessions_are_read_once_each_in_the_order_given(tmp_path):
    store = SessionStore(tmp_path / "s.db")
    timeline = generated_timeline(SECONDS)
    end = START + timedelta(seconds=100)
    first, second = (
        store.save(name, "video", timeline, started_at=START, ended_at=end) for name in ("a", "b")
    )
    reports = read_sessions(store, [second, first, second])
    assert [report.label for report in reports] == [f"b (#{second})", f"a (#{first})"]
    # On its own clock (a video's length), not the 100 s its analysis took.
    assert reports[0].duration_s == SECONDS
    assert reports[0].session.faces is None  # the per-face rows are not read
    with pytest.raises(ValueError, match="at least one session"):
        read_sessions(store, [])
    with pytest.raises(SessionNotFoundError):
        read_sessions(store, [first, 999])


def test_the_tables_hold_the_figures_as_text():
    report = session_report(generated_session())
    measured = dict(measured_pairs(report))
    assert measured["Detector"] == "yunet" and measured["Duration"] == "4:00"
    assert measured["Stage direction"] == "[10, 0]"
    headline = dict(headline_pairs(report))
    assert headline["Coverage"] == "86% of the faces in view"
    assert headline["Attention"] == "70% of the faces"
    segments = segments_table(report)
    assert [row[:4] for row in segments.rows] == [
        ("1", SEGMENTS[0].title, "0:00", "1:00"),
        ("2", SEGMENTS[1].title, "1:00", "1:30"),
        ("3", SEGMENTS[2].title, "2:30", "1:30"),  # the open segment closed at the end
    ]
    assert all(len(row) == len(segments.headers) for row in segments.rows)
    alerts = alerts_table(report)
    assert [row[1:] for row in alerts.rows] == [
        ("1:40", ALERTS[0].message),
        ("3:20", ALERTS[1].message),
    ]


def test_peaks_are_separate_swings():
    peaks = peaks_table(session_report(generated_session())).rows
    for kind in ("most positive", "most negative"):
        times = [_seconds(row[1]) for row in peaks if row[0] == kind]
        assert 1 <= len(times) <= N_PEAKS
        assert all(abs(a - b) >= PEAK_GAP_S for a in times for b in times if a != b)
    assert {row[4] for row in peaks} <= {s.title for s in SEGMENTS}


def _seconds(clock: str) -> int:
    minutes, seconds = clock.split(":")
    return 60 * int(minutes) + int(seconds)


def test_what_was_not_measured_says_so():
    quiet = session_report(
        generated_session(attention=False, summary={"faces_seen": 0}, segments=[], alerts=[])
    )
    assert "Attention" not in dict(headline_pairs(quiet))
    assert dict(headline_pairs(quiet))["Mean valence"] == NONE
    assert segments_table(quiet).rows == [] and segments_table(quiet).empty
    assert alerts_table(quiet).empty == "No alerts."
    compared = comparison_table([session_report(generated_session()), quiet])
    assert [row[-1] for row in compared.rows] == ["70%", NONE]


def test_the_definitions_match_what_is_computed():
    assert f"{ATTENTION_CONE_DEG:.0f} degrees" in definitions.ATTENTION
    assert all(name in definitions.VALENCE for name in (*POSITIVE, *NEGATIVE))
    assert any(definitions.ATTENTION in text for text in HOW_TO_READ)
    assert any(definitions.VALENCE in text for text in HOW_TO_READ)


def test_the_privacy_note_names_every_kind_of_per_face_number():
    stored = definitions.PRIVACY_NOTE[0]
    assert set(POSE_COLUMNS) == {"yaw", "pitch", "attending"}  # said in words below
    for words in ("head yaw and pitch", "turned to the stage", "emotion probabilities"):
        assert words in stored
    assert "Never video frames, images or crops of faces" in stored
