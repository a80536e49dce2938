"""Plotly figures of timelines, distributions and model figures; presentation only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from fer_core.events import Alert
from fer_core.labels import CLASSES
from fer_core.palette import ALERT_COLOR, COLORS, SEGMENT_FILLS


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


def attention_line(timeline: pd.DataFrame, rolled: pd.DataFrame | None = None) -> go.Figure:
    """The share of faces attending per bucket, with an optional rolling mean on top."""
    figure = go.Figure()
    figure.add_scatter(
        x=timeline["time_s"], y=timeline["attention"], name="per second", mode="lines"
    )
    if rolled is not None:
        figure.add_scatter(
            x=rolled["time_s"], y=rolled["attention"], name="rolling mean", line={"width": 3}
        )
    figure.update_layout(title="Attention", xaxis_title="time (s)", yaxis_title="share attending")
    figure.update_yaxes(range=[0, 1], tickformat=".0%")
    return _layout(figure)


def mark_events(
    figure: go.Figure, segments: pd.DataFrame | None = None, alerts: Sequence[Alert] = ()
) -> go.Figure:
    """Shade each segment (a ``segment_table``: title, start_s, end_s) with its title, and
    draw each alert as a red dashed line; in place, and returned."""
    for index, row in enumerate(() if segments is None else segments.itertuples()):
        figure.add_vrect(
            x0=row.start_s,
            x1=row.end_s,
            fillcolor=SEGMENT_FILLS[index % len(SEGMENT_FILLS)],
            opacity=0.12,
            line_width=0,
            annotation_text=row.title,
            annotation_position="top left",
            annotation_font_size=10,
        )
    for alert in alerts:
        figure.add_vline(x=alert.time_s, line_dash="dash", line_color=ALERT_COLOR)
    if alerts:  # a hover over an invisible point says what each line is
        figure.add_scatter(
            x=[a.time_s for a in alerts],
            y=[0] * len(alerts),
            mode="markers",
            marker={"color": ALERT_COLOR, "symbol": "triangle-up", "size": 9},
            name="alert",
            hovertext=[a.message for a in alerts],
            hoverinfo="text",
        )
    return figure


def faces_by_camera(
    timelines: Mapping[int, pd.DataFrame],
    names: Mapping[int, str],
    gaps: Sequence[tuple[int, float, float | None]] = (),
) -> go.Figure:
    """Faces in view per second, a line per camera; each camera's gaps (no data) shaded grey
    (``gaps``: camera, start, end or None while it is away)."""
    figure = go.Figure()
    for camera, table in timelines.items():
        figure.add_scatter(
            x=table["time_s"],
            y=table["n_faces"],
            name=names.get(camera, f"#{camera}"),
            mode="lines",
        )
    for camera, start, end in gaps:
        figure.add_vrect(
            x0=start,
            x1=end
            if end is not None
            else max((t["time_s"].max() for t in timelines.values()), default=start),
            fillcolor="#9e9e9e",
            opacity=0.25,
            line_width=0,
            annotation_text=f"no data: {names.get(camera, f'#{camera}')}",
            annotation_position="bottom left",
            annotation_font_size=10,
        )
    figure.update_layout(
        title="Faces in view by camera", xaxis_title="time (s)", yaxis_title="faces"
    )
    return _layout(figure)


def segment_bars(table: pd.DataFrame, measure: str) -> go.Figure:
    """One bar per segment of ``measure`` (a ``segment_table`` column); coloured by session
    when the table has a ``session`` column (``segments_across``)."""
    session = "session" if "session" in table else None
    figure = px.bar(
        table,
        x="title",
        y=measure,
        color=session,
        barmode="group",
        labels={"title": "segment"},
        title=f"{measure.replace('_', ' ')} by segment",
    )
    if measure in ("attention", *CLASSES):
        figure.update_yaxes(range=[0, 1], tickformat=".0%")
    elif measure == "mean_valence":
        figure.update_yaxes(range=[-1, 1])
    return _layout(figure, height=340)


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
