"""Join a video analyzed in chunks back into one set of people.

Each chunk of a chunked batch run tracks faces on its own, so on its own it would count
everyone in view at its start as new. A chunk therefore starts tracking a few seconds before
its start (``analyze_video``'s ``warmup_s``), over frames the chunk before it also analyzed;
in those shared frames the same person has nearly the same box in both chunks.
``link_tracks`` pairs the tracks by box overlap, frame by frame, and ``relabel`` gives each
later track its earlier id, so the whole video reports each person once. A chunk also goes
on tracking a little past its end (``lookahead_s``), so that a person who arrived just
before it is confirmed as one whole run would confirm them.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from fer_core import defaults
from fer_core.detectors.scoring import iou_matrix

#: How much earlier than its start a chunk begins tracking: as long as a lost person is kept
#: (``fer_core.defaults.KEEP_LOST_S``), so one who turned away before the start and looks back
#: after it is linked too, and two more seconds to confirm them.
WARMUP_S = defaults.KEEP_LOST_S + 2.0
#: How far past its end a chunk goes on tracking (without recording), so that a person who
#: arrived just before the end is confirmed, as in one whole run.
LOOKAHEAD_S = 2.0
#: The box overlap (intersection over union) above which two boxes of one frame are one face.
MIN_IOU = 0.5
BOX = ("x", "y", "w", "h")


def link_tracks(before: pd.DataFrame, after: pd.DataFrame, min_iou: float = MIN_IOU) -> dict:
    """``{after's track id: before's track id}`` for the people both tables show.

    ``before`` and ``after`` are per-face tables (``time_s``, ``track_id``, ``x``, ``y``,
    ``w``, ``h``) of the same frames analyzed twice. In each shared frame the boxes are
    paired one-to-one by overlap; a pair of tracks is linked when it is the best match of
    both across the shared frames.
    """
    votes: Counter[tuple[int, int]] = Counter()
    times_before = np.round(before["time_s"].to_numpy(float), 6)
    times_after = np.round(after["time_s"].to_numpy(float), 6)
    for time_s in np.intersect1d(times_before, times_after):
        a = before[times_before == time_s]
        b = after[times_after == time_s]
        overlap = iou_matrix(a[list(BOX)].to_numpy(float), b[list(BOX)].to_numpy(float))
        rows, cols = linear_sum_assignment(-overlap)
        for r, c in zip(rows, cols, strict=True):
            if overlap[r, c] >= min_iou:
                votes[int(b["track_id"].iloc[c]), int(a["track_id"].iloc[r])] += 1
    links: dict[int, int] = {}
    taken: set[int] = set()
    for (later, earlier), _ in votes.most_common():  # each track linked once, best first
        if later not in links and earlier not in taken:
            links[later] = earlier
            taken.add(earlier)
    return links


def relabel(faces: pd.DataFrame, links: dict) -> pd.DataFrame:
    """``faces`` with each linked track id replaced by the id it links to."""
    if not links or faces.empty:
        return faces
    ids = faces["track_id"].map(lambda track: links.get(int(track), int(track)))
    return faces.assign(track_id=ids.astype(faces["track_id"].dtype))
