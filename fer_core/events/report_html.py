"""The report as one self-contained HTML page: interactive Plotly charts with plotly.js inline,
so the page opens offline and asks the network for nothing. Every piece of user text (session
and segment names, alert messages) is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from fer_core import definitions
from fer_core.events.report_charts import comparison_figure, timeline_figure
from fer_core.events.report_data import (
    HOW_TO_READ,
    TITLE,
    SessionReport,
    Table,
    alerts_table,
    comparison_table,
    headline_pairs,
    measured_pairs,
    peaks_table,
    segments_table,
    subtitle,
)

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


def html_page(reports: Sequence[SessionReport]) -> str:
    """The page: how to read it and the privacy note, a section per session (figures,
    timeline, segments, peaks, alerts) and, for several sessions, one comparing them."""
    figures = [
        (f"timeline-{report.session.id}", timeline_figure(report.charts)) for report in reports
    ]
    if len(reports) > 1:
        figures.append(("comparison", comparison_figure(reports)))
    # plotly.js once, inline, with the first figure; the others use it.
    charts = {
        div_id: figure.to_html(
            full_html=False, include_plotlyjs=index == 0, div_id=div_id, config=_CONFIG
        )
        for index, (div_id, figure) in enumerate(figures)
    }
    body = [
        f"<h1>{TITLE}</h1>",
        f'<p class="sub">{escape(subtitle(reports))}</p>',
        '<section><h2>How to read it</h2><div class="note">',
        *(f"<p>{escape(text)}</p>" for text in HOW_TO_READ),
        '</div></section><section><h2>Privacy and the law</h2><div class="note">',
        *(f"<p>{escape(text)}</p>" for text in definitions.PRIVACY_NOTE),
        "</div></section>",
    ]
    for report in reports:
        body += [
            f"<section><h2>{escape(report.label)}</h2>",
            '<div class="side"><div><h3>What was measured, and how</h3>',
            _pairs_html(measured_pairs(report)),
            "</div><div><h3>Headline figures</h3>",
            _pairs_html(headline_pairs(report)),
            "</div></div><h3>Timeline</h3>",
            charts[f"timeline-{report.session.id}"],
            "<h3>Segments</h3>",
            _table_html(segments_table(report)),
            "<h3>Peaks</h3>",
            _table_html(peaks_table(report)),
            "<h3>Alerts</h3>",
            _table_html(alerts_table(report)),
            "</section>",
        ]
    if len(reports) > 1:
        body += [
            "<section><h2>The sessions compared</h2>",
            _table_html(comparison_table(reports)),
            charts["comparison"],
            "</section>",
        ]
    title = escape(f"{TITLE}: {', '.join(report.label for report in reports)}")
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


def _table_html(table: Table) -> str:
    if not table.rows:
        return f"<p>{escape(table.empty)}</p>"
    head = "".join(f"<th>{escape(header)}</th>" for header in table.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
