"""The report's charts: the Plotly figures and the matplotlib images draw the same series in
the shared palette."""

from __future__ import annotations

import struct
from html import escape

from test_report_data import generated_session

from fer_core.events.report_charts import (
    DPI,
    comparison_figure,
    comparison_png,
    timeline_figure,
    timeline_png,
)
from fer_core.events.report_data import session_report
from fer_core.labels import CLASSES
from fer_core.palette import ALERT_COLOR, COLORS, SEGMENT_FILLS, SESSION_COLORS


def _size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", png[16:24])


def test_the_timeline_figure_uses_the_palette():
    figure = timeline_figure(session_report(generated_session()).charts)
    colors = {trace.name: trace.line.color for trace in figure.data}
    assert {name: colors[name] for name in CLASSES} == COLORS
    alerts = next(trace for trace in figure.data if trace.name == "alerts")
    assert alerts.marker.color == ALERT_COLOR
    bands = [shape for shape in figure.layout.shapes if shape.type == "rect"]
    fills = {(band.x0, band.fillcolor) for band in bands}  # a band on every panel
    assert fills == {(0, SEGMENT_FILLS[0]), (1, SEGMENT_FILLS[1]), (2.5, SEGMENT_FILLS[0])}
    assert len(figure.layout.annotations) == 3  # a label per segment


def test_the_comparison_has_a_colour_per_session():
    reports = [
        session_report(generated_session(id=1)),
        session_report(generated_session(id=2, attention=False)),
    ]
    figure = comparison_figure(reports)
    bars = [trace for trace in figure.data if trace.type == "bar"]
    assert [bar.marker.color for bar in bars] == [
        SESSION_COLORS[0], SESSION_COLORS[0], SESSION_COLORS[1], SESSION_COLORS[1],
    ]  # fmt: skip
    assert {bar.name for bar in bars} == {escape(report.label) for report in reports}


def test_the_images_are_pngs_a_page_wide():
    one = session_report(generated_session())
    width, height = _size(timeline_png(one.charts))
    assert width == 7.5 * DPI and height > width / 2
    two = [one, session_report(generated_session(id=8, attention=False, segments=[], alerts=[]))]
    assert _size(comparison_png(two))[0] == 7.5 * DPI
