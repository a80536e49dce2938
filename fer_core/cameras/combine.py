"""An event's figures from its cameras': faces in view summed, emotions weighted by faces.

A camera with 40 faces counts four times one with 10, so the event's mood is the room's, not
the average of its cameras. People seen by two cameras are counted twice: nothing tells that
a face in one camera is a face in another, so cameras should watch different parts of a room.

A second in which a camera sent no frames has no row in that camera's timeline; the combined
second stands for the cameras that had data (``cameras`` says how many).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fer_core.analytics import TIMELINE_COLUMNS, valence
from fer_core.labels import CLASSES

#: The combined timeline's columns: a timeline's, and how many cameras had data each second.
COMBINED_COLUMNS = (*TIMELINE_COLUMNS, "cameras")
_COUNTS = ["n_frames", "n_faces", "n_tracks"]


def combine_timelines(timelines: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """One timeline from each camera's (by camera id), second by second: frames, faces and
    tracks summed; each emotion and attention the mean of the cameras' weighted by their faces
    in view (cameras with no figure that second left out); ``dominant`` and ``valence`` from
    the combined emotions. Columns ``COMBINED_COLUMNS``."""
    parts = [table for table in timelines.values() if not table.empty]
    if not parts:
        return pd.DataFrame(columns=list(COMBINED_COLUMNS))
    rows = pd.concat(parts, ignore_index=True)
    seconds = rows["time_s"]
    table = rows.groupby(seconds)[_COUNTS].sum()
    table["cameras"] = rows.groupby(seconds).size()
    read = rows[list(CLASSES)].notna().all(axis=1)
    table[list(CLASSES)] = _weighted(rows[list(CLASSES)], rows["n_faces"].where(read, 0), seconds)
    posed = rows["attention"].notna()
    table["attention"] = _weighted(rows[["attention"]], rows["n_faces"].where(posed, 0), seconds)
    has_faces = table[list(CLASSES)].notna().all(axis=1)
    table["dominant"] = None
    table.loc[has_faces, "dominant"] = table.loc[has_faces, list(CLASSES)].idxmax(axis=1)
    table["valence"] = valence(table[list(CLASSES)]).where(has_faces)
    table = table.rename_axis("time_s").reset_index()
    return table[list(COMBINED_COLUMNS)].astype({"dominant": object, **dict.fromkeys(_COUNTS, int)})


def _weighted(values: pd.DataFrame, weights: pd.Series, seconds: pd.Series) -> pd.DataFrame:
    """Per second, the mean of ``values`` weighted by ``weights``; NaN where they sum to 0."""
    sums = values.fillna(0).mul(weights, axis=0).groupby(seconds).sum()
    totals = weights.groupby(seconds).sum()
    return sums.div(totals.where(totals > 0), axis=0)


def combine_current(
    figures: Sequence[tuple[int, int, dict[str, float] | None, float | None]],
) -> tuple[dict[str, float] | None, float | None]:
    """The emotions and attention of the faces in view now, from each camera's
    ``(faces_in_view, faces_classified, current, attention)``: each camera's weighted by its
    faces."""
    weights = [classified for _, classified, current, _ in figures if current is not None]
    current = None
    if sum(weights):
        mixed = sum(
            np.array([c[name] for name in CLASSES]) * classified
            for _, classified, c, _ in figures
            if c is not None
        )
        current = dict(zip(CLASSES, (mixed / sum(weights)).tolist(), strict=True))
    posed = [(faces, attention) for faces, _, _, attention in figures if attention is not None]
    seen = sum(faces for faces, _ in posed)
    attention = sum(faces * share for faces, share in posed) / seen if seen else None
    return current, attention


def combine_summaries(summaries: Sequence[dict], duration_s: float) -> dict:
    """The event's summary from each camera's (``LiveRecord.summary``): counts summed (faces
    seen too: someone seen by two cameras counts twice), the faces in view per frame summed
    over cameras (the room's), the distribution and attention weighted by each camera's faces.
    Peaks come from the combined timeline (``Peaks``); ``duration_s`` is the event's."""
    in_view = sum(s["faces_in_view"] for s in summaries)
    classified = sum(s["faces_classified"] for s in summaries)
    read = [(s["faces_classified"], s["distribution"]) for s in summaries if s["distribution"]]
    weight = sum(faces for faces, _ in read)
    distribution = None
    if weight:
        distribution = {
            name: sum(faces * shares[name] for faces, shares in read) / weight for name in CLASSES
        }
    posed = [(s["faces_in_view"], s["attention_share"]) for s in summaries]
    posed = [(faces, share) for faces, share in posed if share is not None and faces]
    seen = sum(faces for faces, _ in posed)
    return {
        "duration_s": float(duration_s),
        "cameras": len(summaries),
        "frames_analyzed": sum(s["frames_analyzed"] for s in summaries),
        "face_detections": sum(s["face_detections"] for s in summaries),
        "faces_seen": sum(s["faces_seen"] for s in summaries),
        "faces_in_view": in_view,
        "faces_classified": classified,
        "classified_share": classified / in_view if in_view else None,
        "distribution": distribution,
        "dominant": None if distribution is None else max(distribution, key=distribution.get),
        "mean_valence": None if distribution is None else valence(pd.Series(distribution)),
        "attention_share": sum(f * share for f, share in posed) / seen if seen else None,
        "peak_positive": None,
        "peak_negative": None,
    }


class Peaks:
    """The seconds of highest and lowest valence of a combined timeline that grows (its latest
    seconds rewritten as they fill): one value kept per second, a few kilobytes an hour."""

    def __init__(self) -> None:
        self._seconds: dict[float, tuple[float, str]] = {}

    def update(self, timeline: pd.DataFrame) -> None:
        """Take in rows of the combined timeline, new or rewritten."""
        rows = timeline.dropna(subset=["valence"])
        for time_s, value, dominant in rows[["time_s", "valence", "dominant"]].itertuples(
            index=False
        ):
            self._seconds[float(time_s)] = (float(value), dominant)

    def peaks(self) -> dict[str, dict | None]:
        """``peak_positive`` and ``peak_negative`` as ``analytics.summarize`` gives them (the
        earliest wins a tie)."""
        ordered = sorted(self._seconds.items())
        if not ordered:
            return {"peak_positive": None, "peak_negative": None}
        high = max(ordered, key=lambda item: item[1][0])  # max and min keep the first of ties
        low = min(ordered, key=lambda item: item[1][0])
        return {"peak_positive": _peak(*high), "peak_negative": _peak(*low)}


def _peak(time_s: float, figures: tuple[float, str]) -> dict:
    return {"time_s": time_s, "valence": figures[0], "dominant": figures[1]}
