"""What the post-event report shows, read and prepared once for both of its formats.

Pure data, no drawing: the sessions as read from the store (``SessionReport``), the series
their charts draw (``ChartData``), and their tables as text (``Table``), with the figures
formatted the same way in the HTML page and the PDF.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import numpy as np
import pandas as pd

from fer_core import definitions
from fer_core.analytics import rolling
from fer_core.events.alerts import Alert
from fer_core.events.segments import segment_table, segments_across, timeline_end_s
from fer_core.labels import CLASSES
from fer_core.sessions import Session, SessionStore

TITLE = "Post-event report"
ROLLING_S = 10.0  # the valence curve's rolling mean, as on the dashboard
N_PEAKS = 3  # most positive and most negative seconds listed per session
PEAK_GAP_S = 30.0  # ... at least this far apart
LABEL_CHARS = 110  # characters of segment labels that fit across a timeline chart
NONE = "\N{EN DASH}"  # a figure that does not exist (no faces, not measured)

#: How to read the figures: shown before them in both formats.
HOW_TO_READ = (
    f"Valence: {definitions.VALENCE}",
    f"Faces in view: {definitions.FACES_IN_VIEW}",
    f"Faces classified: {definitions.FACES_CLASSIFIED} Coverage is the share of the faces in "
    "view that were classified: how much of the room each figure stands for.",
    f"Faces seen: {definitions.FACES_SEEN}",
    f"Attention, where measured: {definitions.ATTENTION} Glasses, hair or a hand over the "
    "face throw it off.",
)


# --- what the charts draw ----------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """A segment's span on the charts, in minutes; ``label`` is its number and as much of its
    title as fits the span."""

    start_min: float
    end_min: float
    title: str
    label: str


@dataclass(frozen=True)
class Marker:
    """An alert on the charts, in minutes; ``number`` is its row in the alerts table."""

    minute: float
    number: int
    message: str


@dataclass(frozen=True)
class ChartData:
    """One session's timeline as the charts draw it, in minutes from the session's start.

    Emotion shares are 0 in seconds with nobody classified (the stack drops to nothing),
    valence and attention NaN there (the line breaks); the rolled curve is the ``ROLLING_S``
    mean the dashboard shows. ``attention`` is None when it was not measured.
    """

    minutes: np.ndarray
    shares: dict[str, np.ndarray]
    valence: np.ndarray
    valence_rolled: np.ndarray
    attention: np.ndarray | None
    faces: np.ndarray
    bands: tuple[Band, ...]
    markers: tuple[Marker, ...]
    end_min: float  # the charts' span: the last second or segment end

    @property
    def panels(self) -> tuple[str, ...]:
        """The timeline's panels, top to bottom: attention only where it was measured."""
        attention = () if self.attention is None else ("attention",)
        return ("shares", "valence", *attention, "faces")


def chart_data(
    timeline: pd.DataFrame, segments: pd.DataFrame, alerts: Sequence[Alert]
) -> ChartData:
    """The series to draw from a session's ``timeline``, its ``segments`` as
    ``segment_table`` resolved them (open ends closed) and its ``alerts``."""
    minutes = timeline["time_s"].to_numpy(float) / 60
    rolled = rolling(timeline.dropna(subset=["valence"]), window_s=ROLLING_S)
    valence_rolled = (
        rolled.set_index("time_s")["valence"].reindex(timeline["time_s"]).to_numpy(float)
    )
    attention = None
    if "attention" in timeline and timeline["attention"].notna().any():
        attention = timeline["attention"].to_numpy(float)
    end_min = max(
        minutes.max(initial=0.0), segments["end_s"].max() / 60 if len(segments) else 0.0, 1e-9
    )
    bands = tuple(
        Band(
            row.start_s / 60,
            row.end_s / 60,
            row.title,
            fit_label(f"{number} {row.title}", (row.end_s - row.start_s) / 60 / end_min),
        )
        for number, row in enumerate(segments.itertuples(), 1)
    )
    return ChartData(
        minutes=minutes,
        shares={name: timeline[name].fillna(0).to_numpy(float) for name in CLASSES},
        valence=timeline["valence"].to_numpy(float),
        valence_rolled=valence_rolled,
        attention=attention,
        faces=timeline["n_faces"].to_numpy(float),
        bands=bands,
        markers=tuple(
            Marker(alert.time_s / 60, number, alert.message)
            for number, alert in enumerate(alerts, 1)
        ),
        end_min=end_min,
    )


def fit_label(label: str, share: float) -> str:
    """``label`` (a number, a space, a title) cut to the characters that a span of ``share``
    of a chart's width holds; down to the number alone if little more fits."""
    room = int(share * LABEL_CHARS)
    if len(label) <= room:
        return label
    number = label.split(" ", 1)[0]
    return label[: room - 1] + "…" if room > len(number) + 2 else number


# --- the sessions, read once -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SessionReport:
    """One session in the report: the session as stored (without its per-face rows), its
    length, its segments as ``segment_table`` resolved them and the series its charts draw."""

    session: Session
    duration_s: float  # on its own clock (a video's length), see ``timeline_end_s``
    segments: pd.DataFrame
    charts: ChartData

    @property
    def label(self) -> str:
        """How the report names the session: its name and id, since names may repeat."""
        return f"{self.session.name} (#{self.session.id})"


def read_sessions(store: SessionStore, session_ids: Iterable[int]) -> list[SessionReport]:
    """Every session (each id once, in the order given) read before anything is drawn: an
    unknown id fails the whole report (``SessionNotFoundError``) before a file is written."""
    ids = list(dict.fromkeys(session_ids))
    if not ids:
        raise ValueError("a report needs at least one session")
    return [session_report(store.get(session_id, faces=False)) for session_id in ids]


def session_report(session: Session) -> SessionReport:
    """``session`` prepared for the report: its open segment closed at its end."""
    duration_s = timeline_end_s(session.timeline, session.summary)
    segments = segment_table(session.timeline, session.segments, end_s=duration_s)
    charts = chart_data(session.timeline, segments, session.alerts)
    return SessionReport(session, duration_s, segments, charts)


# --- the figures as text -----------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """Rows of text under ``headers``; where there are none, ``empty`` is said instead."""

    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]
    empty: str = ""


def subtitle(reports: Sequence[SessionReport]) -> str:
    """The sessions the report is of, with the day each started."""
    return "; ".join(
        f"{report.label}, {report.session.started_at.astimezone(UTC):%Y-%m-%d}"
        for report in reports
    )


def measured_pairs(report: SessionReport) -> list[tuple[str, str]]:
    """What was measured and how: the session's kind, times and analysis settings."""
    session = report.session
    settings = dict(session.settings)
    rows = [
        ("Kind", session.kind),
        ("Started", session.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("Duration", _clock(report.duration_s)),
        ("Status", session.status),
        ("Detector", str(settings.pop("detector", NONE))),
        ("Model", str(settings.pop("model", NONE))),
    ]
    for key, value in sorted(settings.items()):
        text = value if isinstance(value, str) else json.dumps(value)
        rows.append((key.replace("_", " ").capitalize(), text))
    return rows


def headline_pairs(report: SessionReport) -> list[tuple[str, str]]:
    """The summary's figures, with the share of the room they stand for."""
    summary = report.session.summary or {}
    rows = [
        ("Faces seen", str(summary.get("faces_seen", NONE))),
        ("Faces in view", f"{_decimal(summary.get('faces_in_view'))} per frame"),
        ("Faces classified", f"{_decimal(summary.get('faces_classified'))} per frame"),
        ("Coverage", f"{_percent(summary.get('classified_share'))} of the faces in view"),
        ("Mean valence", _signed(summary.get("mean_valence"))),
        ("Dominant", summary.get("dominant") or "no faces"),
    ]
    if not _missing(summary.get("attention_share")):
        rows.append(("Attention", f"{_percent(summary['attention_share'])} of the faces"))
    return rows


def segments_table(report: SessionReport) -> Table:
    """Each segment's times, figures and most positive and negative second."""
    headers = (
        "#", "Segment", "Start", "Length", "Faces in view", "Dominant", "Valence", "Attention",
        "Most positive", "Most negative",
    )  # fmt: skip
    rows = [
        (
            str(number),
            row.title,
            _clock(row.start_s),
            _clock(row.duration_s),
            _decimal(row.faces_in_view),
            row.dominant if isinstance(row.dominant, str) else NONE,
            _signed(row.mean_valence),
            _percent(row.attention),
            _peak_text(row.peak_positive_s, row.peak_positive_valence),
            _peak_text(row.peak_negative_s, row.peak_negative_valence),
        )
        for number, row in enumerate(report.segments.itertuples(), 1)
    ]
    return Table(headers, rows, "No segments were marked.")


def peaks_table(report: SessionReport) -> Table:
    """The most positive and most negative seconds, and the segment each is in."""
    read = report.session.timeline.dropna(subset=["valence"])
    segments = report.segments
    rows = []
    for name, largest in (("most positive", True), ("most negative", False)):
        for peak in _extremes(read, largest):
            inside = segments[
                (segments["start_s"] <= peak.time_s) & (peak.time_s < segments["end_s"])
            ]
            title = inside["title"].iloc[0] if len(inside) else NONE
            rows.append((name, _clock(peak.time_s), _signed(peak.valence), peak.dominant, title))
    return Table(("", "Time", "Valence", "Dominant", "Segment"), rows, "No faces were classified.")


def alerts_table(report: SessionReport) -> Table:
    """The session's alerts, numbered as their markers on the timeline."""
    rows = [
        (str(number), _clock(alert.time_s), alert.message)
        for number, alert in enumerate(report.session.alerts, 1)
    ]
    return Table(("#", "Time", "Alert"), rows, "No alerts.")


def comparison_table(reports: Sequence[SessionReport]) -> Table:
    """The sessions' headline figures side by side."""
    headers = (
        "Session", "Duration", "Faces seen", "Coverage", "Mean valence", "Dominant", "Attention",
    )  # fmt: skip
    rows = []
    for report in reports:
        summary = report.session.summary or {}
        rows.append(
            (
                report.label,
                _clock(report.duration_s),
                str(summary.get("faces_seen", NONE)),
                _percent(summary.get("classified_share")),
                _signed(summary.get("mean_valence")),
                summary.get("dominant") or NONE,
                _percent(summary.get("attention_share")),
            )
        )
    return Table(headers, rows)


def comparison_data(reports: Sequence[SessionReport]) -> pd.DataFrame:
    """Every session's segments side by side (``segments_across``), sessions by label."""
    return segments_across({report.label: report.segments for report in reports})


def _extremes(read: pd.DataFrame, largest: bool) -> list[Any]:
    """The ``N_PEAKS`` seconds of highest (or lowest) valence at least ``PEAK_GAP_S`` apart:
    the tops of separate swings rather than one top and the seconds beside it."""
    chosen: list[Any] = []
    for row in read.sort_values("valence", ascending=not largest, kind="stable").itertuples():
        if all(abs(row.time_s - other.time_s) >= PEAK_GAP_S for other in chosen):
            chosen.append(row)
            if len(chosen) == N_PEAKS:
                break
    return chosen


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _clock(seconds: float | None) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    if _missing(seconds):
        return NONE
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _percent(share: float | None) -> str:
    return NONE if _missing(share) else f"{share:.0%}"


def _signed(value: float | None) -> str:
    return NONE if _missing(value) else f"{value:+.2f}"


def _decimal(value: float | None) -> str:
    return NONE if _missing(value) else f"{value:.1f}"


def _peak_text(time_s: float | None, value: float | None) -> str:
    return NONE if _missing(time_s) else f"{_clock(time_s)} ({_signed(value)})"
