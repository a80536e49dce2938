"""Plotly figures of timelines, distributions and model figures; presentation only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from fer_core.labels import CLASSES

#: One colour per emotion on every chart, so a glance across pages reads the same.
COLORS = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#2ca02c",
    "neutral": "#7f7f7f",
    "sad": "#1f77b4",
    "surprise": "#ff7f0e",
}


def _layout(figure: go.Figure, height: int = 300) -> go.Figure:
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


def emotions_over_time(timeline: pd.DataFrame, title: str = "Emotions over time") -> go.Figure:
    """Stacked area of the mean emotion distribution per time bucket."""
    long = timeline.melt(
        id_vars="time_s", value_vars=list(CLASSES), var_name="emotion", value_name="share"
    )
    figure = px.area(
        long,
        x="time_s",
        y="share",
        color="emotion",
        color_discrete_map=COLORS,
        category_orders={"emotion": list(CLASSES)},
        labels={"time_s": "time (s)", "share": "share of faces"},
        title=title,
    )
    figure.update_yaxes(range=[0, 1])
    return _layout(figure)


def valence_line(timeline: pd.DataFrame, rolled: pd.DataFrame | None = None) -> go.Figure:
    """Valence per bucket, with an optional rolling mean on top."""
    figure = go.Figure()
    figure.add_scatter(x=timeline["time_s"], y=timeline["valence"], name="per second", mode="lines")
    if rolled is not None:
        figure.add_scatter(
            x=rolled["time_s"], y=rolled["valence"], name="rolling mean", line={"width": 3}
        )
    figure.add_hline(y=0, line_dash="dot", line_color="grey")
    figure.update_layout(title="Valence", xaxis_title="time (s)", yaxis_title="valence")
    figure.update_yaxes(range=[-1, 1])
    return _layout(figure)


def distribution_bar(distribution: Mapping[str, float] | None, title: str) -> go.Figure:
    """Shares of each emotion as bars (empty axes when nobody was seen)."""
    shares = [float((distribution or {}).get(name, 0.0)) for name in CLASSES]
    figure = go.Figure(
        go.Bar(x=list(CLASSES), y=shares, marker_color=[COLORS[name] for name in CLASSES])
    )
    figure.update_layout(title=title, yaxis_title="share", yaxis_range=[0, 1])
    return _layout(figure, height=260)


def compare_sessions(long: pd.DataFrame, column: str) -> go.Figure:
    """One line per session, time measured from each session's start."""
    figure = px.line(
        long,
        x="time_s",
        y=column,
        color="session",
        labels={"time_s": "seconds from start"},
        title=f"{column} by session",
    )
    return _layout(figure, height=360)


def confusion_matrix(matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> go.Figure:
    """Row-normalized confusion matrix; hover shows the counts."""
    counts = pd.DataFrame(matrix, index=list(classes), columns=list(classes))
    shares = counts.div(counts.sum(axis=1).replace(0, 1), axis=0)
    figure = px.imshow(
        shares,
        text_auto=".2f",
        color_continuous_scale="Blues",
        labels={"x": "predicted", "y": "true", "color": "share of row"},
        title="Confusion matrix (rows: true class)",
    )
    figure.update_traces(customdata=counts.to_numpy(), hovertemplate="%{customdata} images")
    return _layout(figure, height=480)
