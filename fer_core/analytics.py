"""From per-face results to a timeline of the audience's mood, and a session summary.

Pure functions over pandas DataFrames: no model, no video, no UI. The input is a per-face
table with a ``time_s`` column, one probability column per class (``CLASSES``) and, where a
tracker ran, ``track_id``; the analyzed frame times are passed separately so that seconds in
which nobody was in view still appear (with no emotion figures).

Valence is the share of positive minus the share of negative emotion in a distribution:
``valence = P(happy) - (P(angry) + P(disgust) + P(fear) + P(sad))``, from -1 (all negative)
to +1 (all happy). ``neutral`` and ``surprise`` count as neither: surprise is as often
alarm as delight.

Attention is the share of the faces with a head-pose estimate that face the stage
(``fer_core.attention``), from the per-face ``attending`` column: 1, 0, or NaN for a face
whose pose is unknown (a detector without landmarks), which counts for neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from fer_core.labels import CLASSES

POSITIVE: tuple[str, ...] = ("happy",)
NEGATIVE: tuple[str, ...] = ("angry", "disgust", "fear", "sad")
#: Per-face head pose (degrees) and whether the face attends (1, 0, or NaN when unknown);
#: optional in an input table (a table without them has no attention figures).
POSE_COLUMNS = ("yaw", "pitch", "attending")
FACE_COLUMNS = (
    *("time_s", "frame", "track_id", "x", "y", "w", "h", "label", "confidence", *CLASSES),
    *POSE_COLUMNS,
)
TIMELINE_COLUMNS = (
    *("time_s", "n_frames", "n_faces", "n_tracks", *CLASSES, "dominant", "valence"),
    "attention",
)


def valence(distribution: pd.DataFrame | pd.Series) -> pd.Series | float:
    """Share of positive minus share of negative emotion, per row (or for one distribution)."""
    positive, negative = distribution[list(POSITIVE)], distribution[list(NEGATIVE)]
    if isinstance(distribution, pd.DataFrame):
        return positive.sum(axis=1) - negative.sum(axis=1)
    return float(positive.sum() - negative.sum())


def _bucket_start(times: pd.Series | np.ndarray, bucket_s: float) -> np.ndarray:
    # The epsilon keeps 0.3 s in the 0.3 bucket of 0.1 s buckets despite float rounding.
    return np.floor(np.asarray(times, dtype=float) / bucket_s + 1e-9) * bucket_s


def timeline(
    faces: pd.DataFrame,
    frame_times: Sequence[float] | np.ndarray | None = None,
    bucket_s: float = 1.0,
) -> pd.DataFrame:
    """Aggregate per-face rows into time buckets (1 s by default), one row per bucket.

    Columns: ``time_s`` (bucket start), ``n_frames`` (analyzed frames in the bucket),
    ``n_faces`` (the most faces seen in one frame), ``n_tracks`` (distinct track ids), the
    mean probability of each class over every face in the bucket (rows sum to 1),
    ``dominant``, ``valence`` and ``attention`` (the share of faces with a pose that
    attend). Buckets with frames but no faces have NaN emotions and ``dominant`` None.
    Without ``frame_times``, the frames are those that had faces.
    """
    if bucket_s <= 0:
        raise ValueError(f"bucket_s must be positive, got {bucket_s}")
    missing = {"time_s", *CLASSES} - set(faces.columns)
    if missing:
        raise ValueError(f"faces table lacks column(s) {sorted(missing)}")
    frames = pd.Series(
        np.unique(faces["time_s"]) if frame_times is None else np.unique(np.asarray(frame_times)),
        dtype=float,
    )
    per_frame = pd.DataFrame({"time_s": frames, "bucket": _bucket_start(frames, bucket_s)})
    per_frame["faces"] = per_frame["time_s"].map(faces.groupby("time_s").size()).fillna(0)
    buckets = per_frame.groupby("bucket").agg(n_frames=("time_s", "size"), n_faces=("faces", "max"))

    rows = faces.assign(bucket=_bucket_start(faces["time_s"], bucket_s))
    grouped = rows.groupby("bucket")
    means = grouped[list(CLASSES)].mean()
    means = means.div(means.sum(axis=1), axis=0)  # guard against rounding in the inputs
    if "track_id" in rows:
        means["n_tracks"] = grouped["track_id"].nunique()
    means["attention"] = grouped["attending"].mean() if "attending" in rows else np.nan

    table = buckets.join(means, how="outer")
    table["n_frames"] = table["n_frames"].fillna(0).astype(int)
    table["n_faces"] = table["n_faces"].fillna(0).astype(int)
    table["n_tracks"] = table.get("n_tracks", pd.Series(0, index=table.index)).fillna(0).astype(int)
    has_faces = table[list(CLASSES)].notna().all(axis=1)
    table["dominant"] = None
    table.loc[has_faces, "dominant"] = table.loc[has_faces, list(CLASSES)].idxmax(axis=1)
    table["valence"] = valence(table[list(CLASSES)]).where(has_faces)
    table["attention"] = table["attention"].astype(float)
    table = table.rename_axis("time_s").reset_index()
    return table[list(TIMELINE_COLUMNS)].astype({"dominant": object})


def rolling(table: pd.DataFrame, window_s: float = 5.0, bucket_s: float = 1.0) -> pd.DataFrame:
    """Rolling means of the class columns, valence and (where the table has it) attention over
    the last ``window_s`` seconds.

    Empty buckets are skipped (not counted as zeros); each output row covers the buckets
    whose start lies in ``(time_s - window_s, time_s]``.
    """
    columns = [*CLASSES, "valence", *(["attention"] if "attention" in table else [])]
    indexed = table.set_index(pd.to_timedelta(table["time_s"], unit="s"))[columns]
    smoothed = indexed.rolling(pd.Timedelta(seconds=window_s), min_periods=1).mean()
    smoothed = smoothed.reset_index(drop=True)
    smoothed.insert(0, "time_s", table["time_s"].to_numpy())
    return smoothed


def summarize(
    faces: pd.DataFrame,
    frame_times: Sequence[float] | np.ndarray | None = None,
    bucket_s: float = 1.0,
    duration_s: float | None = None,
) -> dict:
    """A session in one dict: duration, frames, faces seen, overall mood and its peaks.

    ``faces_seen`` counts distinct track ids (or, without a tracker, the most faces in one
    frame). ``faces_in_view`` and ``faces_classified`` are means per analyzed frame (a face
    too small to read is in view but not classified); ``classified_share`` is the share of
    the faces in view that the emotion figures stand for. ``attention_share`` is the share of
    the face rows with a head pose that attend (None without any). Peaks are the buckets of
    highest and lowest valence. ``duration_s`` defaults to the span of the analyzed frames; a video
    passes its own length.
    """
    table = timeline(faces, frame_times, bucket_s)
    times = np.unique(np.asarray(frame_times if frame_times is not None else faces["time_s"]))
    if "track_id" in faces and len(faces):
        faces_seen = int(faces["track_id"].nunique())
    else:
        faces_seen = int(table["n_faces"].max()) if len(table) else 0
    classified = faces[list(CLASSES)].dropna()  # faces too small to classify have NaN
    overall = classified.mean() / classified.mean().sum() if len(classified) else None
    with_faces = table.dropna(subset=["valence"])
    posed = faces["attending"].dropna() if "attending" in faces else pd.Series(dtype=float)
    n_frames = max(len(times), 1)
    return {
        "duration_s": float(
            duration_s if duration_s is not None else np.ptp(times) if len(times) else 0.0
        ),
        "frames_analyzed": len(times),
        "face_detections": len(faces),
        "faces_seen": faces_seen,
        # How much of the room the emotion figures stand for (see ``coverage``).
        "faces_in_view": len(faces) / n_frames,
        "faces_classified": len(classified) / n_frames,
        "classified_share": len(classified) / len(faces) if len(faces) else None,
        "distribution": None if overall is None else {c: float(overall[c]) for c in CLASSES},
        "dominant": None if overall is None else str(overall.idxmax()),
        "mean_valence": None if overall is None else float(valence(overall)),
        "attention_share": float(posed.mean()) if len(posed) else None,
        "peak_positive": _peak(with_faces, "idxmax"),
        "peak_negative": _peak(with_faces, "idxmin"),
    }


def _peak(table: pd.DataFrame, which: str) -> dict | None:
    if table.empty:
        return None
    row = table.loc[getattr(table["valence"], which)()]
    return {
        "time_s": float(row["time_s"]),
        "valence": float(row["valence"]),
        "dominant": row["dominant"],
    }


class RunningSummary:
    """``summarize`` over a stream of frames, in memory that does not grow with its rows.

    A live session runs for hours: it keeps totals (frames, face rows, the sum of the
    classified faces' probabilities, track ids) and per-bucket sums for the buckets of the last
    ``open_s`` seconds; older buckets are final and only the peaks among them are kept. Frames
    are assumed to come at distinct times, within ``open_s`` of each other's order.
    """

    def __init__(self, bucket_s: float = 1.0, open_s: float = 60.0) -> None:
        if bucket_s <= 0:
            raise ValueError(f"bucket_s must be positive, got {bucket_s}")
        self.bucket_s = bucket_s
        self.open_s = max(open_s, bucket_s)
        self._first: float | None = None
        self._last: float | None = None
        self._frames = 0
        self._detections = 0
        self._classified = 0
        self._most_in_frame = 0
        self._sums = np.zeros(len(CLASSES))
        self._posed = 0  # rows with a head pose, and how many of them attend
        self._attending = 0.0
        self._tracks: set[int] = set()
        self._open: dict[float, list] = {}  # bucket start -> [sum of probabilities, faces]
        self._peaks: dict[str, dict | None] = {"idxmax": None, "idxmin": None}

    def add(self, time_s: float, rows: Iterable[Mapping]) -> None:
        """One analyzed frame at ``time_s`` and its per-face rows (``FACE_COLUMNS`` keys)."""
        rows = list(rows)
        self._first = time_s if self._first is None else min(self._first, time_s)
        self._last = time_s if self._last is None else max(self._last, time_s)
        self._frames += 1
        self._detections += len(rows)
        self._most_in_frame = max(self._most_in_frame, len(rows))
        self._tracks.update(int(row["track_id"]) for row in rows if "track_id" in row)
        probs = np.array([[row[name] for name in CLASSES] for row in rows], float)
        probs = probs.reshape(-1, len(CLASSES))
        probs = probs[~np.isnan(probs).any(axis=1)]  # faces too small to read
        bucket = float(_bucket_start(np.array([time_s]), self.bucket_s)[0])
        totals = self._open.setdefault(bucket, [np.zeros(len(CLASSES)), 0])
        totals[0] += probs.sum(axis=0)
        totals[1] += len(probs)
        self._sums += probs.sum(axis=0)
        self._classified += len(probs)
        looks = np.array([row.get("attending", np.nan) for row in rows], float)
        self._posed += int(np.count_nonzero(~np.isnan(looks)))
        self._attending += float(np.nansum(looks))
        for start in sorted(self._open):
            if start + self.bucket_s > self._last - self.open_s:
                break
            self._settle(self._peaks, start, *self._open.pop(start))

    def summary(self) -> dict:
        """What ``summarize`` gives over every row and frame time added."""
        peaks = dict(self._peaks)
        for start in sorted(self._open):
            self._settle(peaks, start, *self._open[start])
        overall = self._sums / self._sums.sum() if self._classified else None
        n_frames = max(self._frames, 1)
        distribution = None
        if overall is not None:
            distribution = dict(zip(CLASSES, overall.tolist(), strict=True))
        return {
            "duration_s": float(self._last - self._first) if self._frames else 0.0,
            "frames_analyzed": self._frames,
            "face_detections": self._detections,
            "faces_seen": len(self._tracks) if self._tracks else self._most_in_frame,
            "faces_in_view": self._detections / n_frames,
            "faces_classified": self._classified / n_frames,
            "classified_share": self._classified / self._detections if self._detections else None,
            "distribution": distribution,
            "dominant": None if overall is None else CLASSES[int(np.argmax(overall))],
            "mean_valence": None if distribution is None else valence(pd.Series(distribution)),
            "attention_share": self._attending / self._posed if self._posed else None,
            "peak_positive": peaks["idxmax"],
            "peak_negative": peaks["idxmin"],
        }

    @staticmethod
    def _settle(peaks: dict[str, dict | None], start: float, sums: np.ndarray, n: int) -> None:
        """Let one bucket, in time order, challenge the peaks (the earliest wins a tie)."""
        if not n:
            return
        mean = sums / sums.sum()
        value = valence(pd.Series(mean, index=list(CLASSES)))
        peak = {"time_s": start, "valence": value, "dominant": CLASSES[int(np.argmax(mean))]}
        high, low = peaks["idxmax"], peaks["idxmin"]
        if high is None or value > high["valence"]:
            peaks["idxmax"] = peak
        if low is None or value < low["valence"]:
            peaks["idxmin"] = peak


TRACK_COLUMNS = (
    *("track_id", "first_s", "last_s", "detections", *CLASSES, "dominant", "valence"),
    "attention",
)


def tracks(faces: pd.DataFrame) -> pd.DataFrame:
    """One row per tracked face: when it was seen, how often, and its mean emotions.

    Unclassified sightings (faces too small, NaN probabilities) count as detections but not
    in the means; a track never classified has NaN emotions and ``dominant`` None.
    ``attention`` is the share of its sightings with a head pose in which it attended.
    """
    if faces.empty:
        return pd.DataFrame(columns=list(TRACK_COLUMNS))
    grouped = faces.groupby("track_id")
    table = grouped["time_s"].agg(first_s="min", last_s="max", detections="size")
    table = table.join(grouped[list(CLASSES)].mean())
    table["attention"] = grouped["attending"].mean() if "attending" in faces else np.nan
    return track_table(table.reset_index())


def track_table(sums: pd.DataFrame) -> pd.DataFrame:
    """``tracks`` from per-track figures already grouped (a database's ``GROUP BY``):
    ``track_id``, ``first_s``, ``last_s``, ``detections``, each class's mean and
    ``attention`` (the mean of ``attending``; NaN when absent)."""
    table = sums.set_index("track_id")
    table["attention"] = table["attention"].astype(float) if "attention" in table else np.nan
    means = table[list(CLASSES)]
    table[list(CLASSES)] = means.div(means.sum(axis=1), axis=0)
    classified = table[list(CLASSES)].notna().all(axis=1)
    table["dominant"] = None
    table.loc[classified, "dominant"] = table.loc[classified, list(CLASSES)].idxmax(axis=1)
    table["valence"] = valence(table[list(CLASSES)]).where(classified)
    return table.reset_index()[list(TRACK_COLUMNS)].astype({"dominant": object})
