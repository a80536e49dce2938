"""The report as a PDF on A4: a cover with how to read it and the privacy note, two pages per
session (figures and timeline; segments, peaks and alerts) and, for several sessions, a page
comparing them. The font (DejaVu Sans, shipped with matplotlib: any script a session or
segment name is written in) is embedded; the charts are ``report_charts``' PNG images."""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import zip_longest
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.fonts import FontFace

from fer_core import definitions
from fer_core.events.report_charts import comparison_png, timeline_png
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

FONT = "DejaVu"


def pdf_document(reports: Sequence[SessionReport]) -> bytes:
    """The PDF's bytes."""
    pdf = _Document()
    pdf.add_page()
    pdf.heading(TITLE, 18)
    pdf.paragraph(subtitle(reports), 10)
    pdf.paragraph(f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.", 8)
    pdf.ln(2)
    pdf.heading("How to read it")
    for text in HOW_TO_READ:
        pdf.paragraph(text)
    pdf.heading("Privacy and the law")
    for text in definitions.PRIVACY_NOTE:
        pdf.paragraph(text)
    for report in reports:
        pdf.add_page()
        pdf.heading(report.label, 15)
        pairs = zip_longest(measured_pairs(report), headline_pairs(report), fillvalue=("", ""))
        figures = Table(
            ("Measured", "", "Figures", ""),
            [(*measured, *headline) for measured, headline in pairs],
        )
        pdf.text_table(figures, (22, 40, 22, 40))
        pdf.heading("Timeline", 11)
        pdf.image_to_fit(timeline_png(report.charts))
        pdf.add_page()
        pdf.heading(f"{report.label}: segments", 13)
        pdf.text_table(segments_table(report), (4, 30, 10, 10, 10, 14, 11, 11, 17, 17), size=7)
        pdf.heading("Peaks", 11)
        pdf.text_table(peaks_table(report), (20, 10, 12, 14, 40))
        pdf.heading("Alerts", 11)
        pdf.text_table(alerts_table(report), (4, 10, 86))
    if len(reports) > 1:
        pdf.add_page()
        pdf.heading("The sessions compared", 15)
        pdf.text_table(comparison_table(reports), (40, 12, 12, 12, 12, 14, 12))
        pdf.image_to_fit(comparison_png(reports))
    return bytes(pdf.output())


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

    def text_table(self, table: Table, widths: Sequence[float], size: float = 8) -> None:
        """``table`` across the page, its columns ``widths`` apart in proportion."""
        if not table.rows:
            self.paragraph(table.empty)
            return
        self.set_font(FONT, "", size)
        style = FontFace(emphasis="BOLD", fill_color=(240, 240, 240))
        with self.table(
            col_widths=widths, headings_style=style, line_height=size * 0.5,
            text_align="LEFT", borders_layout="HORIZONTAL_LINES", padding=0.8,
        ) as cells:  # fmt: skip
            for values in (table.headers, *table.rows):
                row = cells.row()
                for value in values:
                    row.cell(value)
        self.ln(3)

    def image_to_fit(self, png: bytes) -> None:
        """``png`` across the page, shrunk if needed to fit what is left of it."""
        width, height = struct.unpack(">II", png[16:24])  # the PNG header's image size
        height_mm = min(self.epw * height / width, self.h - self.b_margin - self.y)
        width_mm = height_mm * width / height
        x = self.l_margin + (self.epw - width_mm) / 2
        self.image(io.BytesIO(png), x=x, w=width_mm, h=height_mm)
