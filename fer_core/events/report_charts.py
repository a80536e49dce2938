"""The report's charts, drawn from ``report_data``: interactive Plotly figures for the HTML
page, and the same charts drawn by matplotlib as PNG images for the PDF (Plotly's own image
export, kaleido, needs a Chrome at run time, which a room machine may not have).

Segments are shaded bands labelled above the chart, alerts dashed lines numbered as in the
alerts table; the colours are ``fer_core.palette``'s, as on the dashboard.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import plotly.graph_objects as go
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory
from plotly.subplots import make_subplots

from fer_core.events.report_data import (
    ROLLING_S,
    ChartData,
    SessionReport,
    comparison_data,
    fit_label,
)
from fer_core.labels import CLASSES
from fer_core.palette import (
    ALERT_COLOR,
    ATTENTION_COLOR,
    COLORS,
    FACES_COLOR,
    SEGMENT_FILLS,
    SESSION_COLORS,
    VALENCE_COLORS,
)

DPI = 150
TEMPLATE = "plotly_white"  # prints as it shows; segment bands read on white


@dataclass(frozen=True)
class Panel:
    """A timeline panel's y-axis label and fixed y range (None: fit to the data)."""

    axis: str
    range: tuple[float, float] | None


PANELS = {
    "shares": Panel("share of faces", (0.0, 1.0)),
    "valence": Panel("valence", (-1.0, 1.0)),
    "attention": Panel("share attending", (0.0, 1.0)),
    "faces": Panel("faces", None),
}


# --- interactive, for the HTML page ------------------------------------------------------------


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
                x=x, y=data.attention, name="attention", line={"color": ATTENTION_COLOR},
                row=row, col=1,
            )  # fmt: skip
        else:
            figure.add_scatter(
                x=x, y=data.faces, name="faces in view", line={"color": FACES_COLOR, "shape": "hv"},
                row=row, col=1,
            )  # fmt: skip
        figure.update_yaxes(title_text=panel.axis, range=panel.range, row=row, col=1)
    for index, band in enumerate(data.bands):
        figure.add_vrect(
            x0=band.start_min, x1=band.end_min, fillcolor=SEGMENT_FILLS[index % 2], opacity=0.1,
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


def comparison_figure(reports: Sequence[SessionReport]) -> go.Figure:
    """Sessions side by side: valence and attention per segment, and valence over time."""
    segments = comparison_data(reports)
    attention = segments["attention"].notna().any()
    rows = ["valence by segment", *(["attention by segment"] if attention else [])]
    rows.append(f"valence over time ({ROLLING_S:.0f} s mean)")
    figure = make_subplots(rows=len(rows), cols=1, subplot_titles=rows, vertical_spacing=0.12)
    for index, report in enumerate(reports):
        color = _session_color(index)
        mine = segments[segments["session"] == report.label]
        name = escape(report.label)
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
            x=report.charts.minutes, y=report.charts.valence_rolled, name=name, legendgroup=name,
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
    return SESSION_COLORS[index % len(SESSION_COLORS)]


# --- static, for the PDF -----------------------------------------------------------------------


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
            axis.plot(x, data.attention, color=ATTENTION_COLOR, linewidth=1.2)
        else:
            axis.step(x, data.faces, where="post", color=FACES_COLOR, linewidth=1)
        if panel.range:
            axis.set_ylim(*panel.range)
        axis.set_ylabel(panel.axis, fontsize=8)
        axis.tick_params(labelsize=7)
        for index, band in enumerate(data.bands):
            axis.axvspan(
                band.start_min, band.end_min, color=SEGMENT_FILLS[index % 2], alpha=0.1, lw=0
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


def comparison_png(reports: Sequence[SessionReport]) -> bytes:
    """``comparison_figure`` as a static image, for the PDF."""
    segments = comparison_data(reports)
    attention = segments["attention"].notna().any()
    count = 3 if attention else 2
    figure = Figure(figsize=(7.5, 2.6 * count), dpi=DPI)
    axes = list(figure.subplots(count, 1))
    titles = list(dict.fromkeys(segments["title"]))
    width = 0.8 / len(reports)
    for index, report in enumerate(reports):
        mine = segments[segments["session"] == report.label]
        where = np.array([titles.index(title) for title in mine["title"]]) + index * width - 0.4
        bars = {"width": width, "align": "edge", "color": _session_color(index)}
        axes[0].bar(where, mine["mean_valence"], label=report.label, **bars)
        if attention:
            axes[1].bar(where, mine["attention"], **bars)
        axes[-1].plot(
            report.charts.minutes, report.charts.valence_rolled, color=_session_color(index), lw=1.2
        )
    for axis, label in zip(axes[:-1], ["valence", "share attending"], strict=False):
        axis.set_xticks(
            range(len(titles)), [fit_label(t, 1.5 / max(len(titles), 1)) for t in titles]
        )
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
    figure.legend(loc="lower center", ncol=min(len(reports), 3), fontsize=7, frameon=False)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    return _png(figure)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
