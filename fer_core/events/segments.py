"""Segments: named spans of a session (a talk, a lesson part, an advert), and their figures.

Pure functions over a session's per-second timeline (``fer_core.analytics.timeline``); the
dashboard draws its charts from ``segment_table``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fer_core.analytics import valence
from fer_core.labels import CLASSES


@dataclass(frozen=True)
class Segment:
    """A named span of a session, in seconds from its start (the timeline's ``time_s``).

    ``end_s`` None means open: the segment runs until the next one starts or the session
    ends (a segment marked live with "next segment" is open until the next click).
    """

    start_s: float
    end_s: float | None
    title: str

    def __post_init__(self) -> None:
        if not self.start_s >= 0:  # also refuses NaN
            raise ValueError(f"a segment cannot start at {self.start_s} s")
        if self.end_s is not None and not self.end_s > self.start_s:
            raise ValueError(
                f"segment {self.title!r} ends at {self.end_s} s, not after its start "
                f"{self.start_s} s"
            )


SEGMENT_COLUMNS = (
    "title",
    "start_s",
    "end_s",
    "duration_s",
    "seconds_with_data",
    "faces_in_view",
    *CLASSES,
    "dominant",
    "mean_valence",
    "attention",
    "peak_positive_s",
    "peak_positive_valence",
    "peak_negative_s",
    "peak_negative_valence",
)


def _ends(ordered: Sequence[Segment], end_s: float | None) -> list[float]:
    """Each segment's end: its own, else the next later start, else ``end_s``; an open
    segment that starts after ``end_s`` (a video shorter than its agenda) ends as it starts."""
    ends = []
    for position, segment in enumerate(ordered):
        if segment.end_s is not None:
            ends.append(segment.end_s)
            continue
        later = (s.start_s for s in ordered[position + 1 :] if s.start_s > segment.start_s)
        end = next(later, end_s)
        ends.append(segment.start_s if end is None else max(end, segment.start_s))
    return ends


def closed(segments: Sequence[Segment], end_s: float) -> list[Segment]:
    """The segments sorted by start, each open end filled (the next start, else ``end_s``,
    the session's end). An open segment starting at or after ``end_s`` is left out: the
    session never reached it."""
    ordered = sorted(segments, key=lambda s: s.start_s)
    return [
        Segment(s.start_s, end, s.title)
        for s, end in zip(ordered, _ends(ordered, end_s), strict=True)
        if end > s.start_s
    ]


def segment_table(
    timeline: pd.DataFrame, segments: Sequence[Segment], end_s: float | None = None
) -> pd.DataFrame:
    """One row per segment (sorted by start) with its figures (``SEGMENT_COLUMNS``).

    A timeline second belongs to a segment when ``start_s <= time_s < end``. An open
    segment ends where the next starts, else at ``end_s`` (default: the last timeline second
    + 1). The emotion mix and attention weigh each second by its faces, so a full second
    counts more than one with a face or two; seconds without data (gaps) count for nothing.
    A segment without data has NaN figures.
    """
    ordered = sorted(segments, key=lambda s: s.start_s)
    if end_s is None and len(timeline):
        end_s = float(timeline["time_s"].max()) + 1.0
    rows = []
    for segment, end in zip(ordered, _ends(ordered, end_s), strict=True):
        inside = timeline[(timeline["time_s"] >= segment.start_s) & (timeline["time_s"] < end)]
        if "n_frames" in inside:
            inside = inside[inside["n_frames"] > 0]
        rows.append(
            {
                "title": segment.title,
                "start_s": segment.start_s,
                "end_s": end,
                "duration_s": end - segment.start_s,
                "seconds_with_data": len(inside),
            }
            | _figures(inside)
        )
    table = pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS))
    floats = [c for c in SEGMENT_COLUMNS if c not in ("title", "dominant", "seconds_with_data")]
    return table.astype({**dict.fromkeys(floats, float), "seconds_with_data": int})


def _figures(seconds: pd.DataFrame) -> dict:
    """A segment's figures from its seconds with data."""
    faces = seconds["n_faces"].astype(float)
    figures: dict = dict.fromkeys(SEGMENT_COLUMNS[5:], np.nan) | {"dominant": None}
    if seconds.empty:
        return figures
    figures["faces_in_view"] = faces.mean()
    shares = seconds[list(CLASSES)].astype(float)
    read = shares.notna().all(axis=1) & (faces > 0)
    if read.any():
        mix = shares[read].mul(faces[read], axis=0).sum() / faces[read].sum()
        mix /= mix.sum()
        figures |= {c: float(mix[c]) for c in CLASSES}
        figures["dominant"] = str(mix.idxmax())
        figures["mean_valence"] = valence(mix)
    attention = seconds.get("attention")
    if attention is not None:
        attention = attention.astype(float)
        posed = attention.notna() & (faces > 0)
        if posed.any():
            figures["attention"] = float(np.average(attention[posed], weights=faces[posed]))
    valences = seconds["valence"].astype(float).dropna()
    if len(valences):
        high, low = valences.idxmax(), valences.idxmin()  # the earliest on a tie
        figures["peak_positive_s"] = float(seconds.at[high, "time_s"])
        figures["peak_positive_valence"] = float(valences[high])
        figures["peak_negative_s"] = float(seconds.at[low, "time_s"])
        figures["peak_negative_valence"] = float(valences[low])
    return figures


def timeline_end_s(timeline: pd.DataFrame, summary: Mapping | None = None) -> float:
    """Where a session ends on its own clock (the timeline's seconds), for its last open
    segment: the summary's ``duration_s`` (a video's length, a live stream's span), and at
    least the end of its last second with data. Not its wall-clock span: a video's session
    lasts as long as its analysis took."""
    last = float(timeline["time_s"].max() + 1) if len(timeline) else 0.0
    duration = (summary or {}).get("duration_s")
    return max(last, float(duration)) if duration is not None else last


def segments_from_table(table: pd.DataFrame) -> list[Segment]:
    """Segments from a table of ``start_s``, ``end_s`` (empty: open) and ``title`` (empty:
    "Segment N"), as a person edits them; rows without a start are left out, the rest sorted.
    A start or end that makes no segment raises ``ValueError`` naming the row."""
    rows = table.dropna(subset=["start_s"]).sort_values("start_s")
    segments = []
    for number, row in enumerate(rows.itertuples(), start=1):
        title = "" if pd.isna(row.title) else str(row.title).strip()
        end = None if pd.isna(row.end_s) else float(row.end_s)
        try:
            segments.append(Segment(float(row.start_s), end, title or f"Segment {number}"))
        except ValueError as error:
            raise ValueError(f"row {number}: {error}") from None
    return segments


def segments_across(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Segment tables of several sessions as one, a ``session`` column first: the same
    talk or lesson part compared between sessions."""
    parts = [table.assign(session=name) for name, table in tables.items()]
    columns = ["session", *SEGMENT_COLUMNS]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]
