"""Agendas: a session's segments read from a CSV ``start,end,title`` or a plain chapter list.

A recorded video's agenda gives offsets from its start (``95``, ``95.5``, ``1:35``,
``1:02:03``); a live session's gives clock times (``09:15``, ``09:15:30`` on the session's
day, or full ISO datetimes), turned into offsets from ``started_at``. A chapter list is
what a video description holds: one ``TIME [-|:] TITLE`` a line (or a dash of another
width), each chapter ending where the next starts. Bad input is refused whole, naming the
line and what is wrong: a half-read agenda would put every figure in the wrong segment.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from fer_core.errors import FerCoreError
from fer_core.events.segments import Segment

HEADER = ("start", "end", "title")

_OFFSET = re.compile(r"(?:(?:(?P<h>\d+):)?(?P<m>\d+):)?(?P<s>\d+(?:\.\d+)?)")
_CLOCK = re.compile(r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}(?:\.\d+)?))?")
#: A chapter line: a time, then a separator or a space, then the title (which may be empty).
_CHAPTER = re.compile(r"(?P<time>\d+(?:[:.]\d+)*)(?:\s*[-\u2013\u2014:|]\s*|\s+|$)(?P<title>.*)")


class AgendaError(FerCoreError, ValueError):
    """An agenda file or text that cannot be read as segments; the message says where."""


@dataclass(frozen=True)
class _Row:
    line: int
    start_s: float
    end_s: float | None
    title: str
    start_text: str


def read_agenda(path: str | os.PathLike[str], started_at: datetime | None = None) -> list[Segment]:
    """``parse_agenda`` of a UTF-8 file (a byte-order mark is fine); errors name the file."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise AgendaError(f"no agenda file at {path}") from None
    except OSError as error:
        raise AgendaError(f"cannot read the agenda {path}: {error.strerror or error}") from None
    return agenda_from_bytes(data, started_at, str(path))


def agenda_from_bytes(
    data: bytes, started_at: datetime | None = None, source: str = "the agenda"
) -> list[Segment]:
    """``parse_agenda`` of an uploaded or read file's bytes (UTF-8, a byte-order mark is
    fine); errors name ``source``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise AgendaError(
            f"{source}, line {line}: not UTF-8 text (byte 0x{data[error.start]:02x}); "
            "save the agenda as UTF-8"
        ) from None
    try:
        return parse_agenda(text, started_at)
    except AgendaError as error:
        raise AgendaError(f"{source}, {error}") from None


def parse_agenda(text: str, started_at: datetime | None = None) -> list[Segment]:
    """Segments, sorted by start, from a CSV agenda or a chapter list.

    Without ``started_at`` times are offsets in seconds or ``[H:]MM:SS``; with it (a
    timezone-aware start of a live session) they are clock times on that day, in its zone,
    or ISO datetimes. Overlapping segments, an end not after its start and times before the
    session's start are refused. An empty title becomes "Segment N".
    """
    if started_at is not None and started_at.utcoffset() is None:
        raise ValueError("started_at must be timezone-aware")
    lines = text.removeprefix("\ufeff").splitlines()
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise AgendaError("the agenda is empty")
    first_line, first = numbered[0]
    header = [cell.strip().lower() for cell in next(csv.reader([first]))]
    chapters = False
    if "start" in header or "title" in header:
        rows = _csv_rows(numbered, header, started_at)
    elif _CHAPTER.fullmatch(first.strip()):
        rows, chapters = _chapter_rows(numbered, started_at), True
    else:
        raise AgendaError(
            f"line {first_line}: no header; an agenda is a CSV starting with the line "
            f"'{','.join(HEADER)}' or a chapter list with lines like '05:30 Keynote'"
        )
    if not rows:
        raise AgendaError("the agenda has a header but no segments")
    rows = _checked(rows)
    if chapters:  # each chapter ends where the next starts; the last stays open
        ends = [row.start_s for row in rows[1:]] + [None]
        rows = [replace(row, end_s=end) for row, end in zip(rows, ends, strict=True)]
    return [
        Segment(row.start_s, row.end_s, row.title or f"Segment {n}")
        for n, row in enumerate(rows, start=1)
    ]


def _csv_rows(
    numbered: list[tuple[int, str]], header: list[str], started_at: datetime | None
) -> list[_Row]:
    header_line = numbered[0][0]
    missing = [name for name in HEADER if name not in header]
    if missing:
        raise AgendaError(
            f"line {header_line}: the header lacks {', '.join(missing)}; "
            f"it must be '{','.join(HEADER)}'"
        )
    where = {name: header.index(name) for name in HEADER}
    rows = []
    for line, record in numbered[1:]:
        cells = next(csv.reader([record]))
        if len(cells) > len(header):
            raise AgendaError(
                f"line {line}: {len(cells)} fields, the header has {len(header)} "
                "(put a title that holds a comma in double quotes)"
            )
        cells += [""] * (len(header) - len(cells))
        start_text, end_text, title = (cells[where[name]].strip() for name in HEADER)
        if not start_text:
            raise AgendaError(f"line {line}: no start time")
        start_s = _seconds(start_text, line, started_at)
        end_s = _seconds(end_text, line, started_at) if end_text else None
        if end_s is not None and end_s <= start_s:
            raise AgendaError(f"line {line}: end {end_text} is not after start {start_text}")
        rows.append(_Row(line, start_s, end_s, title, start_text))
    return rows


def _chapter_rows(numbered: list[tuple[int, str]], started_at: datetime | None) -> list[_Row]:
    rows = []
    for line, record in numbered:
        match = _CHAPTER.fullmatch(record.strip())
        if match is None:
            raise AgendaError(
                f"line {line}: no time at the start of {record.strip()!r}; a chapter line "
                "is a time and a title, like '05:30 Keynote'"
            )
        time_text = match["time"]
        start_s = _seconds(time_text, line, started_at)
        rows.append(_Row(line, start_s, None, match["title"].strip(), time_text))
    return rows


def _seconds(text: str, line: int, started_at: datetime | None) -> float:
    """An agenda time as seconds from the session's start."""
    if started_at is None:
        match = _OFFSET.fullmatch(text)
        if (
            match is None
            or (match["h"] and int(match["m"]) >= 60)
            or (match["m"] and float(match["s"]) >= 60)
        ):
            raise AgendaError(
                f"line {line}: cannot read the time {text!r}; give seconds (95, 95.5) "
                "or [H:]MM:SS (1:35, 1:02:03)"
            )
        hours, minutes = int(match["h"] or 0), int(match["m"] or 0)
        return hours * 3600 + minutes * 60 + float(match["s"])
    moment = _clock(text, started_at)
    if moment is None:
        raise AgendaError(
            f"line {line}: cannot read the time {text!r}; give a clock time HH:MM[:SS] "
            "or an ISO date and time (2024-05-01T09:15)"
        )
    offset = (moment - started_at).total_seconds()
    if offset < 0:
        raise AgendaError(
            f"line {line}: {text} is before the session's start at "
            f"{started_at.isoformat(sep=' ', timespec='seconds')}"
        )
    return offset


def _clock(text: str, started_at: datetime) -> datetime | None:
    """A clock time on the session's day in its zone, or an ISO datetime (naive: its zone)."""
    match = _CLOCK.fullmatch(text)
    if match is not None:
        hours, minutes, seconds = int(match["h"]), int(match["m"]), float(match["s"] or 0)
        if hours >= 24 or minutes >= 60 or seconds >= 60:
            return None
        whole = int(seconds)
        return started_at.replace(
            hour=hours, minute=minutes, second=whole, microsecond=round((seconds - whole) * 1e6)
        )
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=started_at.tzinfo)


def _checked(rows: list[_Row]) -> list[_Row]:
    """The rows sorted by start; two starting together or overlapping are refused."""
    rows = sorted(rows, key=lambda row: row.start_s)
    for before, after in itertools.pairwise(rows):
        if after.start_s == before.start_s:
            raise AgendaError(
                f"lines {before.line} and {after.line} both start at {after.start_text}"
            )
        if before.end_s is not None and before.end_s > after.start_s:
            raise AgendaError(
                f"line {before.line} ({before.title or 'untitled'}) overlaps line {after.line} "
                f"({after.title or 'untitled'}, starting {after.start_text}): segments may not "
                "overlap"
            )
    return rows
