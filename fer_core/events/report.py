"""The post-event report: saved sessions as one HTML page and one PDF to send afterwards.

The HTML is self-contained: its charts are interactive Plotly figures with plotly.js inline,
so it opens offline and asks the network for nothing. The PDF embeds its font (DejaVu Sans,
shipped with matplotlib: any script a session or segment name is written in) and its charts
are drawn by matplotlib as images; Plotly's own image export (kaleido) needs a Chrome at run
time, which a room machine may not have. Both draw the same series (``chart_data``).

Per session: what was measured and how, the headline figures and what share of the room they
stand for, the timeline with segment bands and alert markers, the per-segment table, the
peaks and the alerts; with several sessions, a comparison of them and of their segments.
"""

from __future__ import annotations

import io
import json
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from itertools import zip_longest
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from fpdf import FPDF
from fpdf.fonts import FontFace
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory
from plotly.subplots import make_subplots

from fer_core import definitions
from fer_core.analytics import rolling
from fer_core.events.alerts import Alert
from fer_core.events.segments import segment_table, segments_across
from fer_core.labels import CLASSES
from fer_core.sessions import Session, SessionStore

HTML_FILE, PDF_FILE = "report.html", "report.pdf"
TITLE = "Post-event report"
#: One colour per emotion, as on the dashboard's charts.
COLORS = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#2ca02c",
    "neutral": "#7f7f7f",
    "sad": "#1f77b4",
    "surprise": "#ff7f0e",
}
BAND_COLORS = ("#1f77b4", "#ff7f0e")  # alternate, so neighbouring segments stand apart
ALERT_COLOR = "#d62728"
VALENCE_COLORS = ("#9ecae1", "#08519c")  # per second, rolling mean
ROLLING_S = 10.0  # the valence and attention curves' rolling mean, as on the dashboard
N_PEAKS = 3  # most positive and most negative seconds listed per session
PEAK_GAP_S = 30.0  # ... at least this far apart
LABEL_CHARS = 110  # characters of segment labels that fit across a timeline chart
DPI = 150
TEMPLATE = "plotly_white"  # prints as it shows; segment bands read on white
NONE = "\N{EN DASH}"  # a figure that does not exist (no faces, not measured)
FONT = "DejaVu"

#: How to read the figures: shown before them in both formats.
HOW_TO_READ = (
    "Valence is the share of happy minus the share of angry, disgust, fear and sad in the "
    "faces' mean emotion mix, from -1 to +1 (neutral and surprise count as neither).",
    f"Faces in view: {definitions.FACES_IN_VIEW}",
    f"Faces classified: {definitions.FACES_CLASSIFIED} Coverage is the share of the faces in "
    "view that were classified: how much of the room each figure stands for.",
    f"Faces seen: {definitions.FACES_SEEN}",
    "Attention, where measured, is the share of faces turned towards the stage (the camera "
    "by default), estimated from head pose; a camera beside the stage, glasses or hair over "
    "the face throw it off.",
)
#: What is stored, what the figures are not, and the law: the dashboard's About & privacy page
#: says the same.
PRIVACY_NOTE = (
    "What is stored: only numbers. Each session's name, kind, start and end, settings, the "
    "per-second figures in this report, and per-face numbers (time, track number, box "
    "position and size, emotion probabilities). Never video frames, images or crops of "
    "faces. Track numbers identify a face only within one session; no identity or face "
    "template is kept.",
    "These are estimates of expressions, not of what anyone feels. The model reads posed, "
    "frontal, well-lit faces best; it is weaker on small, turned or dimly lit faces, and its "
    "training data (FER2013) is not balanced across ages and ethnicities. Read the charts as "
    "a trend of a room, never as a judgement of a person.",
    "Emotion recognition is restricted in some places and for some uses. The EU AI Act "
    "prohibits emotion recognition systems in workplaces and education institutions (except "
    "for medical or safety reasons) and treats most other uses as high-risk or subject to "
    "transparency duties; data protection law (such as the GDPR) applies to any processing "
    "of images of people. Check what applies where you use this tool.",
    "Inform your audience before you start: say that the room's expressions are being "
    "analyzed in aggregate, what is kept, for how long, and who sees it; offer a way to opt "
    "out (for example a seating area outside the camera's view).",
)


# --- what the charts draw, shared by Plotly and matplotlib -----------------------------------


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
    """An alert on the charts, in minutes; ``number`` is its row in the alerts list."""

    minute: float
    number: int
    message: str


@dataclass(frozen=True)
class Panel:
    name: str
    axis: str
    range: tuple[float, float] | None


PANELS = {
    "shares": Panel("emotion mix", "share of faces", (0.0, 1.0)),
    "valence": Panel("valence", "valence", (-1.0, 1.0)),
    "attention": Panel("attention", "share attending", (0.0, 1.0)),
    "faces": Panel("faces in view", "faces", None),
}


@dataclass(frozen=True)
class ChartData:
    """One session's timeline as the charts draw it, in minutes from the session's start.

    Emotion shares are 0 in seconds with nobody classified (the stack drops to nothing),
    valence and attention NaN there (the line breaks); the rolled curves are the
    ``ROLLING_S`` means the dashboard shows. ``attention`` is None when it was not measured.
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
            _fit(f"{number} {row.title}", (row.end_s - row.start_s) / 60 / end_min),
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


def _fit(label: str, share: float) -> str:
    """``label`` cut to the characters a band of ``share`` of the chart's width holds."""
    room = int(share * LABEL_CHARS)
    if len(label) <= room:
        return label
    number = label.split(" ", 1)[0]
    return label[: room - 1] + "…" if room > len(number) + 2 else number


# --- one session's figures, as text ------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    """One session in the report, with what its sections are built from."""

    session: Session
    segments: pd.DataFrame
    charts: ChartData

    @property
    def label(self) -> str:
        return f"{self.session.name} (#{self.session.id})"


def _parts(store: SessionStore, session_ids: Iterable[int]) -> list[_Part]:
    """Every session read before anything is drawn: an unknown id fails the whole report
    (``SessionNotFoundError``) before a file is written."""
    ids = list(dict.fromkeys(session_ids))
    if not ids:
        raise ValueError("a report needs at least one session")
    parts = []
    for session in [store.get(session_id, faces=False) for session_id in ids]:
        segments = segment_table(session.timeline, session.segments, end_s=_duration_s(session))
        parts.append(
            _Part(session, segments, chart_data(session.timeline, segments, session.alerts))
        )
    return parts


def _duration_s(session: Session) -> float:
    if session.duration_s is not None:
        return session.duration_s
    times = session.timeline["time_s"]
    return float(times.max() + 1) if len(times) else 0.0


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


def _measured(session: Session) -> list[tuple[str, str]]:
    """What was measured and how: the session's kind, times and analysis settings."""
    settings = dict(session.settings)
    rows = [
        ("Kind", session.kind),
        ("Started", session.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("Duration", _clock(_duration_s(session))),
        ("Status", session.status),
        ("Detector", str(settings.pop("detector", NONE))),
        ("Model", str(settings.pop("model", NONE))),
    ]
    for key, value in sorted(settings.items()):
        text = value if isinstance(value, str) else json.dumps(value)
        rows.append((key.replace("_", " ").capitalize(), text))
    return rows


def _headline(session: Session) -> list[tuple[str, str]]:
    """The summary's figures, with the share of the room they stand for."""
    summary = session.summary or {}
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


SEGMENT_HEADERS = (
    "#", "Segment", "Start", "Length", "Faces in view", "Dominant", "Valence", "Attention",
    "Most positive", "Most negative",
)  # fmt: skip


def _segment_rows(segments: pd.DataFrame) -> list[tuple[str, ...]]:
    return [
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
        for number, row in enumerate(segments.itertuples(), 1)
    ]


def _peak_text(time_s: float | None, value: float | None) -> str:
    return NONE if _missing(time_s) else f"{_clock(time_s)} ({_signed(value)})"


PEAK_HEADERS = ("", "Time", "Valence", "Dominant", "Segment")


def _peak_rows(part: _Part) -> list[tuple[str, ...]]:
    """The most positive and most negative seconds, and the segment each is in."""
    read = part.session.timeline.dropna(subset=["valence"])
    rows = []
    for name, largest in (("most positive", True), ("most negative", False)):
        for peak in _extremes(read, largest):
            inside = part.segments[
                (part.segments["start_s"] <= peak.time_s) & (peak.time_s < part.segments["end_s"])
            ]
            title = inside["title"].iloc[0] if len(inside) else NONE
            rows.append((name, _clock(peak.time_s), _signed(peak.valence), peak.dominant, title))
    return rows


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


ALERT_HEADERS = ("#", "Time", "Alert")


def _alert_rows(session: Session) -> list[tuple[str, ...]]:
    return [
        (str(number), _clock(alert.time_s), alert.message)
        for number, alert in enumerate(session.alerts, 1)
    ]


COMPARISON_HEADERS = (
    "Session", "Duration", "Faces seen", "Coverage", "Mean valence", "Dominant", "Attention",
)  # fmt: skip


def _comparison_rows(parts: Sequence[_Part]) -> list[tuple[str, ...]]:
    rows = []
    for part in parts:
        summary = part.session.summary or {}
        rows.append(
            (
                part.label,
                _clock(_duration_s(part.session)),
                str(summary.get("faces_seen", NONE)),
                _percent(summary.get("classified_share")),
                _signed(summary.get("mean_valence")),
                summary.get("dominant") or NONE,
                _percent(summary.get("attention_share")),
            )
        )
    return rows


def comparison_data(parts: Sequence[_Part]) -> pd.DataFrame:
    """Every session's segments side by side (``segments_across``), sessions by label."""
    return segments_across({part.label: part.segments for part in parts})


def _subtitle(parts: Sequence[_Part]) -> str:
    return "; ".join(
        f"{part.label}, {part.session.started_at.astimezone(UTC):%Y-%m-%d}" for part in parts
    )


# --- the HTML page -----------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, "DejaVu Sans", sans-serif; margin: 2em auto; max-width: 70em;
  padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } .sub { color: #555; margin-top: 0; }
section { margin-top: 2.5em; border-top: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 0.25em 0.7em; text-align: left;
  vertical-align: top; }
th { background: #f4f4f4; }
.pairs th { background: none; font-weight: 600; }
.side { display: flex; gap: 3em; flex-wrap: wrap; }
.note { background: #f8f8f2; padding: 0.5em 1em; border-left: 4px solid #bbb; }
"""
_CONFIG = {"displaylogo": False, "responsive": True}


def report_html(store: SessionStore, session_ids: Iterable[int]) -> str:
    """The report as one self-contained HTML page (plotly.js inline: no network needed)."""
    return _html(_parts(store, session_ids))


def _html(parts: Sequence[_Part]) -> str:
    figures = [(f"timeline-{part.session.id}", timeline_figure(part.charts)) for part in parts]
    if len(parts) > 1:
        figures.append(("comparison", comparison_figure(parts)))
    # plotly.js once, inline, with the first figure; the others use it.
    charts = {
        div_id: figure.to_html(
            full_html=False, include_plotlyjs=index == 0, div_id=div_id, config=_CONFIG
        )
        for index, (div_id, figure) in enumerate(figures)
    }
    body = [
        f"<h1>{TITLE}</h1>",
        f'<p class="sub">{escape(_subtitle(parts))}</p>',
        '<section><h2>How to read it</h2><div class="note">',
        *(f"<p>{escape(text)}</p>" for text in HOW_TO_READ),
        '</div></section><section><h2>Privacy and the law</h2><div class="note">',
        *(f"<p>{escape(text)}</p>" for text in PRIVACY_NOTE),
        "</div></section>",
    ]
    for part in parts:
        body += [
            f"<section><h2>{escape(part.label)}</h2>",
            '<div class="side"><div><h3>What was measured, and how</h3>',
            _pairs_html(_measured(part.session)),
            "</div><div><h3>Headline figures</h3>",
            _pairs_html(_headline(part.session)),
            "</div></div><h3>Timeline</h3>",
            charts[f"timeline-{part.session.id}"],
            "<h3>Segments</h3>",
            _table_html(SEGMENT_HEADERS, _segment_rows(part.segments), "No segments were marked."),
            "<h3>Peaks</h3>",
            _table_html(PEAK_HEADERS, _peak_rows(part), "No faces were classified."),
            "<h3>Alerts</h3>",
            _table_html(ALERT_HEADERS, _alert_rows(part.session), "No alerts."),
            "</section>",
        ]
    if len(parts) > 1:
        body += [
            "<section><h2>The sessions compared</h2>",
            _table_html(COMPARISON_HEADERS, _comparison_rows(parts), ""),
            charts["comparison"],
            "</section>",
        ]
    title = escape(f"{TITLE}: {', '.join(part.label for part in parts)}")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _pairs_html(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><th>{escape(key)}</th><td>{escape(value)}</td></tr>" for key, value in rows
    )
    return f'<table class="pairs">{cells}</table>'


def _table_html(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    if not rows:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def timeline_figure(data: ChartData) -> go.Figure:
    """One session's timeline: a panel per series, segments shaded, alerts as dashed lines.

    Plotly reads tags and entities in its text, so user text is escaped for it too."""
    panels = data.panels
    figure = make_subplots(
        rows=len(panels),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        row_heights=[2.0 if name == "shares" else 1.0 for name in panels],
    )
    x = data.minutes
    for row, name in enumerate(panels, 1):
        panel = PANELS[name]
        if name == "shares":
            for emotion in CLASSES:
                figure.add_scatter(
                    x=x, y=data.shares[emotion], name=emotion, stackgroup="mix",
                    line={"width": 0.5, "color": COLORS[emotion]},
                    hovertemplate=f"{emotion} %{{y:.0%}}<extra></extra>", row=row, col=1,
                )  # fmt: skip
        elif name == "valence":
            figure.add_scatter(
                x=x, y=data.valence, name="valence, per second",
                line={"width": 1, "color": VALENCE_COLORS[0]}, row=row, col=1,
            )  # fmt: skip
            figure.add_scatter(
                x=x, y=data.valence_rolled, name=f"valence, {ROLLING_S:.0f} s mean",
                line={"width": 2.5, "color": VALENCE_COLORS[1]}, row=row, col=1,
            )  # fmt: skip
            figure.add_hline(y=0, line_dash="dot", line_color="grey", row=row, col=1)
        elif name == "attention":
            figure.add_scatter(
                x=x, y=data.attention, name="attention", line={"color": "#2ca02c"},
                row=row, col=1,
            )  # fmt: skip
        else:
            figure.add_scatter(
                x=x, y=data.faces, name="faces in view", line={"color": "#555", "shape": "hv"},
                row=row, col=1,
            )  # fmt: skip
        figure.update_yaxes(title_text=panel.axis, range=panel.range, row=row, col=1)
    for index, band in enumerate(data.bands):
        figure.add_vrect(
            x0=band.start_min, x1=band.end_min, fillcolor=BAND_COLORS[index % 2], opacity=0.1,
            line_width=0, layer="below", row="all", col=1,
        )  # fmt: skip
        figure.add_annotation(
            x=band.start_min, y=1.0, xref="x", yref="paper", xanchor="left", yanchor="bottom",
            text=escape(band.label), hovertext=escape(band.title), showarrow=False,
            font={"size": 11},
        )  # fmt: skip
    if data.markers:
        for marker in data.markers:
            figure.add_vline(
                x=marker.minute, line_dash="dash", line_color=ALERT_COLOR, line_width=1,
                row="all", col=1,
            )  # fmt: skip
        figure.add_scatter(
            x=[marker.minute for marker in data.markers], y=[0.9] * len(data.markers),
            text=[str(marker.number) for marker in data.markers],
            hovertext=[escape(marker.message) for marker in data.markers], hoverinfo="text",
            mode="markers+text", textposition="middle right", name="alerts",
            marker={"symbol": "triangle-down", "color": ALERT_COLOR, "size": 10},
            cliponaxis=False, row=panels.index("valence") + 1, col=1,
        )  # fmt: skip
    figure.update_xaxes(range=[0, data.end_min])
    figure.update_xaxes(title_text="minutes from the start", row=len(panels), col=1)
    figure.update_layout(
        template=TEMPLATE,
        height=170 * len(panels) + 200,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.1, "traceorder": "normal"},
    )
    return figure


def comparison_figure(parts: Sequence[_Part]) -> go.Figure:
    """Sessions side by side: valence and attention per segment, and valence over time."""
    segments = comparison_data(parts)
    attention = segments["attention"].notna().any()
    rows = ["valence by segment", *(["attention by segment"] if attention else [])]
    rows.append(f"valence over time ({ROLLING_S:.0f} s mean)")
    figure = make_subplots(rows=len(rows), cols=1, subplot_titles=rows, vertical_spacing=0.12)
    for index, part in enumerate(parts):
        color = _session_color(index)
        mine = segments[segments["session"] == part.label]
        name = escape(part.label)
        titles = [escape(title) for title in mine["title"]]
        figure.add_bar(
            x=titles, y=mine["mean_valence"], name=name, marker_color=color, legendgroup=name,
            row=1, col=1,
        )  # fmt: skip
        if attention:
            figure.add_bar(
                x=titles, y=mine["attention"], name=name, marker_color=color, legendgroup=name,
                showlegend=False, row=2, col=1,
            )  # fmt: skip
        figure.add_scatter(
            x=part.charts.minutes, y=part.charts.valence_rolled, name=name, legendgroup=name,
            line={"color": color}, showlegend=False, row=len(rows), col=1,
        )  # fmt: skip
    figure.update_yaxes(range=[-1, 1], title_text="valence", row=1, col=1)
    if attention:
        figure.update_yaxes(range=[0, 1], title_text="share attending", row=2, col=1)
    figure.update_yaxes(range=[-1, 1], title_text="valence", row=len(rows), col=1)
    figure.update_xaxes(title_text="minutes from the start", row=len(rows), col=1)
    figure.update_layout(
        template=TEMPLATE,
        barmode="group",
        height=280 * len(rows) + 60,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return figure


def _session_color(index: int) -> str:
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
    return palette[index % len(palette)]


# --- the static charts -------------------------------------------------------------------------


def timeline_png(data: ChartData) -> bytes:
    """``timeline_figure`` as a static image, for the PDF."""
    panels = data.panels
    heights = [2.0 if name == "shares" else 1.2 for name in panels]
    figure = Figure(figsize=(7.5, sum(heights) + 1.0), dpi=DPI)
    axes = figure.subplots(len(panels), 1, sharex=True, height_ratios=heights)
    x = data.minutes
    for axis, name in zip(axes, panels, strict=True):
        panel = PANELS[name]
        if name == "shares":
            axis.stackplot(
                x,
                [data.shares[emotion] for emotion in CLASSES],
                colors=[COLORS[emotion] for emotion in CLASSES],
                labels=CLASSES,
                linewidth=0,
            )
        elif name == "valence":
            axis.plot(x, data.valence, color=VALENCE_COLORS[0], linewidth=0.6)
            axis.plot(x, data.valence_rolled, color=VALENCE_COLORS[1], linewidth=1.6)
            axis.axhline(0, color="grey", linestyle=":", linewidth=0.8)
        elif name == "attention":
            axis.plot(x, data.attention, color="#2ca02c", linewidth=1.2)
        else:
            axis.step(x, data.faces, where="post", color="#555", linewidth=1)
        if panel.range:
            axis.set_ylim(*panel.range)
        axis.set_ylabel(panel.axis, fontsize=8)
        axis.tick_params(labelsize=7)
        for index, band in enumerate(data.bands):
            axis.axvspan(
                band.start_min, band.end_min, color=BAND_COLORS[index % 2], alpha=0.1, lw=0
            )
        for marker in data.markers:
            axis.axvline(marker.minute, color=ALERT_COLOR, linestyle="--", linewidth=0.8)
    top = axes[0]
    above = blended_transform_factory(top.transData, top.transAxes)
    for band in data.bands:
        top.text(band.start_min, 1.02, band.label, transform=above, fontsize=6.5, va="bottom")
    valence = axes[panels.index("valence")]
    inside = blended_transform_factory(valence.transData, valence.transAxes)
    for marker in data.markers:
        valence.text(
            marker.minute, 0.95, f" {marker.number}", transform=inside, color=ALERT_COLOR,
            fontsize=7, va="top", fontweight="bold",
        )  # fmt: skip
    axes[-1].set_xlabel("minutes from the start", fontsize=8)
    axes[-1].set_xlim(0, data.end_min)
    handles, labels = top.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(CLASSES), fontsize=7, frameon=False)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    return _png(figure)


def comparison_png(parts: Sequence[_Part]) -> bytes:
    """``comparison_figure`` as a static image, for the PDF."""
    segments = comparison_data(parts)
    attention = segments["attention"].notna().any()
    count = 3 if attention else 2
    figure = Figure(figsize=(7.5, 2.6 * count), dpi=DPI)
    axes = list(figure.subplots(count, 1))
    titles = list(dict.fromkeys(segments["title"]))
    width = 0.8 / len(parts)
    for index, part in enumerate(parts):
        mine = segments[segments["session"] == part.label]
        where = np.array([titles.index(title) for title in mine["title"]]) + index * width - 0.4
        bars = {"width": width, "align": "edge", "color": _session_color(index)}
        axes[0].bar(where, mine["mean_valence"], label=part.label, **bars)
        if attention:
            axes[1].bar(where, mine["attention"], **bars)
        axes[-1].plot(
            part.charts.minutes, part.charts.valence_rolled, color=_session_color(index), lw=1.2
        )
    for axis, label in zip(axes[:-1], ["valence", "share attending"], strict=False):
        axis.set_xticks(range(len(titles)), [_fit(t, 1.5 / max(len(titles), 1)) for t in titles])
        axis.set_ylabel(label, fontsize=8)
    axes[0].set_ylim(-1, 1)
    axes[0].axhline(0, color="grey", linewidth=0.6)
    axes[0].set_title("valence by segment", fontsize=9)
    if attention:
        axes[1].set_ylim(0, 1)
        axes[1].set_title("attention by segment", fontsize=9)
    axes[-1].set_ylim(-1, 1)
    axes[-1].set_ylabel("valence", fontsize=8)
    axes[-1].set_xlabel("minutes from the start", fontsize=8)
    axes[-1].set_title(f"valence over time ({ROLLING_S:.0f} s mean)", fontsize=9)
    for axis in axes:
        axis.tick_params(labelsize=7)
    figure.legend(loc="lower center", ncol=min(len(parts), 3), fontsize=7, frameon=False)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    return _png(figure)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


# --- the PDF -----------------------------------------------------------------------------------


class _Document(FPDF):
    """A4 pages in DejaVu Sans, embedded, with the page number in the footer."""

    def __init__(self) -> None:
        super().__init__(format="A4")
        fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        self.add_font(FONT, "", fonts / "DejaVuSans.ttf")
        self.add_font(FONT, "B", fonts / "DejaVuSans-Bold.ttf")
        self.set_auto_page_break(True, margin=15)
        self.set_title(TITLE)
        self.set_creator("fer_core")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(120)
        self.cell(0, 5, f"{TITLE} · page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0)

    def heading(self, text: str, size: float = 13) -> None:
        self.set_font(FONT, "B", size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(1.5)
        self.set_font(FONT, "", 9)

    def paragraph(self, text: str, size: float = 9) -> None:
        self.set_font(FONT, "", size)
        self.multi_cell(0, size * 0.48, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(1.5)

    def rows(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        empty: str,
        size: float = 8,
    ) -> None:
        if not rows:
            self.paragraph(empty)
            return
        self.set_font(FONT, "", size)
        style = FontFace(emphasis="BOLD", fill_color=(240, 240, 240))
        with self.table(
            col_widths=widths, headings_style=style, line_height=size * 0.5,
            text_align="LEFT", borders_layout="HORIZONTAL_LINES", padding=0.8,
        ) as table:  # fmt: skip
            for cells in (headers, *rows):
                row = table.row()
                for cell in cells:
                    row.cell(cell)
        self.ln(3)

    def image_to_fit(self, png: bytes) -> None:
        """``png`` across the page, shrunk if needed to fit what is left of it."""
        width, height = struct.unpack(">II", png[16:24])  # the PNG header's image size
        height_mm = min(self.epw * height / width, self.h - self.b_margin - self.y)
        width_mm = height_mm * width / height
        x = self.l_margin + (self.epw - width_mm) / 2
        self.image(io.BytesIO(png), x=x, w=width_mm, h=height_mm)


def report_pdf(store: SessionStore, session_ids: Iterable[int]) -> bytes:
    """The report as a PDF: a cover with how to read it and the privacy note, two pages per
    session (figures and timeline; segments, peaks and alerts) and, for several sessions, a
    page comparing them."""
    return _pdf(_parts(store, session_ids))


def _pdf(parts: Sequence[_Part]) -> bytes:
    pdf = _Document()
    pdf.add_page()
    pdf.heading(TITLE, 18)
    pdf.paragraph(_subtitle(parts), 10)
    pdf.paragraph(f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.", 8)
    pdf.ln(2)
    pdf.heading("How to read it")
    for text in HOW_TO_READ:
        pdf.paragraph(text)
    pdf.heading("Privacy and the law")
    for text in PRIVACY_NOTE:
        pdf.paragraph(text)
    for part in parts:
        pdf.add_page()
        pdf.heading(part.label, 15)
        pairs = list(
            zip_longest(_measured(part.session), _headline(part.session), fillvalue=("", ""))
        )
        pdf.rows(
            ("Measured", "", "Figures", ""),
            [(*measured, *headline) for measured, headline in pairs],
            (22, 40, 22, 40),
            "",
        )
        pdf.heading("Timeline", 11)
        pdf.image_to_fit(timeline_png(part.charts))
        pdf.add_page()
        pdf.heading(f"{part.label}: segments", 13)
        pdf.rows(
            SEGMENT_HEADERS,
            _segment_rows(part.segments),
            (4, 30, 10, 10, 10, 14, 11, 11, 17, 17),
            "No segments were marked.",
            size=7,
        )
        pdf.heading("Peaks", 11)
        pdf.rows(PEAK_HEADERS, _peak_rows(part), (20, 10, 12, 14, 40), "No faces were classified.")
        pdf.heading("Alerts", 11)
        pdf.rows(ALERT_HEADERS, _alert_rows(part.session), (4, 10, 86), "No alerts.")
    if len(parts) > 1:
        pdf.add_page()
        pdf.heading("The sessions compared", 15)
        pdf.rows(COMPARISON_HEADERS, _comparison_rows(parts), (40, 12, 12, 12, 12, 14, 12), "")
        pdf.image_to_fit(comparison_png(parts))
    return bytes(pdf.output())


def write_report(
    store: SessionStore, session_ids: Iterable[int], out_dir: str | Path
) -> dict[str, Path]:
    """Write ``report.html`` and ``report.pdf`` into ``out_dir`` (made if needed); their paths.
    Both are built before either is written, so a session that cannot be read leaves none."""
    parts = _parts(store, session_ids)
    html, pdf = _html(parts), _pdf(parts)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"html": out / HTML_FILE, "pdf": out / PDF_FILE}
    paths["html"].write_text(html, encoding="utf-8")
    paths["pdf"].write_bytes(pdf)
    return paths
