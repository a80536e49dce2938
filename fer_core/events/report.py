"""The post-event report: saved sessions as one HTML page and one PDF to send afterwards.

Per session: what was measured and how, the headline figures and what share of the room they
stand for, the timeline with segment bands and alert markers, the per-segment table, the
peaks and the alerts; with several sessions, a comparison of them and of their segments.

Split by job: ``report_data`` reads the sessions and prepares what to show, ``report_charts``
draws it, ``report_html`` and ``report_pdf`` lay out the two documents. Both documents show
the same data, read once (``read_report``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from fer_core.events.report_data import SessionReport, read_sessions
from fer_core.events.report_html import html_page
from fer_core.events.report_pdf import pdf_document
from fer_core.sessions import SessionStore

HTML_FILE, PDF_FILE = "report.html", "report.pdf"


@dataclass(frozen=True, eq=False)
class Report:
    """The report of ``sessions``, read once: each document is built the first time it is
    asked for and then kept, so a page offering both downloads draws each only once."""

    sessions: tuple[SessionReport, ...]

    @cached_property
    def html(self) -> str:
        """The self-contained HTML page (plotly.js inline: no network needed)."""
        return html_page(self.sessions)

    @cached_property
    def pdf(self) -> bytes:
        """The PDF, its font embedded and its charts as images."""
        return pdf_document(self.sessions)


def read_report(store: SessionStore, session_ids: Iterable[int]) -> Report:
    """The report of ``session_ids`` (each once, in the order given), every session read now:
    an unknown id raises ``SessionNotFoundError`` before anything is drawn."""
    return Report(tuple(read_sessions(store, session_ids)))


def report_html(store: SessionStore, session_ids: Iterable[int]) -> str:
    """The report as one self-contained HTML page."""
    return read_report(store, session_ids).html


def report_pdf(store: SessionStore, session_ids: Iterable[int]) -> bytes:
    """The report as a PDF."""
    return read_report(store, session_ids).pdf


def write_report(
    store: SessionStore, session_ids: Iterable[int], out_dir: str | Path
) -> dict[str, Path]:
    """Write ``report.html`` and ``report.pdf`` into ``out_dir`` (made if needed); their paths.
    Both are built before either is written, so a session that cannot be read leaves none."""
    report = read_report(store, session_ids)
    html, pdf = report.html, report.pdf
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"html": out / HTML_FILE, "pdf": out / PDF_FILE}
    paths["html"].write_text(html, encoding="utf-8")
    paths["pdf"].write_bytes(pdf)
    return paths
