"""Give faces stable integer ids across frames, and tell people from passing detections.

A small motion tracker: each track predicts where its face moves (constant velocity), new
boxes are assigned to tracks by the Hungarian method on a cost of centre distance (in face
sizes) plus size change.

People, not detections (``fer_core.defaults`` holds the measured defaults):

- A new track is **tentative** until it has been matched in ``confirm_hits`` searches
  spanning at least ``confirm_s`` seconds; a tentative track that misses one search is
  dropped. Only **confirmed** tracks are people: ``faces_seen`` counts them. A detector's
  one-off false face (a lamp, a pattern) never confirms.
- A confirmed track that misses searches is **lost**, not gone: it is kept for ``keep_lost_s``
  seconds, and a face that reappears near it takes its id back (a person who turned away or
  was hidden by a neighbour is not a new person).
- A stream carried on by a new tracker (an analysis worker restarted after a crash) starts
  from a ``Handover``: the people last in view become lost tracks where they were last found,
  so a face found there takes its id back instead of counting as a new person.
- Matching is a cascade: every track against every box within ``max_cost`` first, then the
  confirmed tracks left over against the boxes left over within a gate that widens with the
  time since the track was last matched (``gate_per_s`` face sizes a second, up to
  ``max_gate``), so sparse samples of a moving face still join up, while a face that is
  matched well is never taken by a lost neighbour.

Why not a library: supervision dropped ByteTrack in 0.28, Roboflow's ``trackers`` needs the
GUI build of OpenCV (``opencv-python``, which clashes with the headless wheel), and norfair
pins NumPy below 2. Faces in a room move little and rarely overlap, which this handles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from fer_core import defaults

_UNMATCHABLE = 1e6


@dataclass(frozen=True)
class Handover:
    """A stream's people as one tracker left them, for the tracker that carries it on."""

    ids: np.ndarray  # (N,) ids of the confirmed people it still followed, in view or not
    boxes: np.ndarray  # (N, 4) x, y, w, h where each was last found
    next_id: int  # the first id a new person may take: every id given so far is below it
    faces_seen: int  # people counted so far, those in ``ids`` among them
    # (N,) seconds each had been out of view (0: in view); None: every one in view
    away_s: np.ndarray | None = None


@dataclass
class _Track:
    track_id: int
    box: np.ndarray  # x, y, w, h (float)
    velocity: np.ndarray  # centre motion per update
    first_s: float  # when it was first found
    last_s: float  # when a search last matched it
    hits: int = 1  # searches that matched it
    missed: int = 0  # searches missed in a row
    confirmed: bool = False

    def predicted_box(self) -> np.ndarray:
        shifted = self.box.copy()
        shifted[:2] += self.velocity * (self.missed + 1)
        return shifted


def _centres(boxes: np.ndarray) -> np.ndarray:
    return boxes[:, :2] + boxes[:, 2:4] / 2


class FaceTracker:
    """Assign track ids to each search's face boxes; ``update`` once per search.

    ``update``'s ``time_s`` is the stream time of the searched frame; without it each update
    counts as one second, so the ``*_s`` settings read as numbers of updates.
    """

    def __init__(
        self,
        max_cost: float = 1.0,
        confirm_hits: int = defaults.CONFIRM_HITS,
        confirm_s: float = defaults.CONFIRM_S,
        keep_lost_s: float = defaults.KEEP_LOST_S,
        gate_per_s: float = defaults.GATE_PER_S,
        max_gate: float = defaults.MAX_GATE,
    ) -> None:
        if confirm_hits < 1:
            raise ValueError(f"confirm_hits must be at least 1, got {confirm_hits}")
        if min(confirm_s, keep_lost_s, gate_per_s) < 0 or max_gate < max_cost:
            raise ValueError(
                "confirm_s, keep_lost_s and gate_per_s must be >= 0 and max_gate >= max_cost"
            )
        self.max_cost = max_cost
        self.confirm_hits = confirm_hits
        self.confirm_s = confirm_s
        self.keep_lost_s = keep_lost_s
        self.gate_per_s = gate_per_s
        self.max_gate = max_gate
        self.reset()

    def reset(self) -> None:
        """Forget every track (a new stream); ids start again at 1."""
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._confirmed: set[int] = set()
        self._seen_before = 0  # people counted before a handover, beside those it carries
        self._updates = 0

    def handover(self, time_s: float | None = None) -> Handover:
        """The people this tracker follows at ``time_s`` (the latest update's time by
        default), for a tracker that carries the stream on: every confirmed track, in view or
        lost, with how long each has been out of view."""
        now = float(max(self._updates - 1, 0) if time_s is None else time_s)
        people = [track for track in self._tracks if track.confirmed]
        away = [0.0 if track.missed == 0 else max(now - track.last_s, 0.0) for track in people]
        return Handover(
            np.array([track.track_id for track in people], int),
            np.array([track.box for track in people], float).reshape(-1, 4),
            self._next_id,
            self.faces_seen,
            np.array(away, float),
        )

    def resume(self, handover: Handover, time_s: float | None = None) -> None:
        """Carry on a stream another tracker followed, forgetting every track: the people
        handed over are lost tracks, as long out of view at ``time_s`` (the first search's
        time, so the time no tracker watched widens no gate) as they were when handed over; a
        face found within ``max_cost`` of one in view (further for one away longer, as ever)
        takes its id back, and new people are numbered from ``next_id`` and counted on from
        ``faces_seen``. One not found again within ``keep_lost_s`` of when it was last seen is
        gone, as ever."""
        ids = np.asarray(handover.ids, dtype=int).reshape(-1)
        boxes = np.asarray(handover.boxes, dtype=float).reshape(-1, 4)
        away = np.zeros(len(ids)) if handover.away_s is None else np.asarray(handover.away_s)
        away = away.astype(float).reshape(-1)
        if not len(ids) == len(boxes) == len(away):
            raise ValueError(
                f"a handover of {len(ids)} ids has {len(boxes)} boxes and {len(away)} times away"
            )
        if len(set(ids.tolist())) != len(ids) or (len(ids) and ids.min() < 1):
            raise ValueError(f"handed-over ids must be distinct and positive, got {ids}")
        if not np.all(away >= 0):
            raise ValueError(f"times away must be >= 0 s, got {away}")
        self.reset()
        now = float(self._updates if time_s is None else time_s)
        for track_id, box, away_s in zip(ids.tolist(), boxes, away.tolist(), strict=True):
            if away_s > self.keep_lost_s:
                continue  # gone already, though still counted
            seen = now - away_s
            track = _Track(track_id, box.copy(), np.zeros(2), seen, seen, self.confirm_hits)
            track.missed, track.confirmed = 1, True
            self._tracks.append(track)
        self._confirmed = set(ids.tolist())
        self._next_id = max([handover.next_id, *(track_id + 1 for track_id in ids.tolist())])
        self._seen_before = max(handover.faces_seen - len(ids), 0)

    @property
    def faces_seen(self) -> int:
        """How many distinct people (confirmed tracks) this stream has had."""
        return self._seen_before + len(self._confirmed)

    @property
    def confirmed_ids(self) -> frozenset[int]:
        """The ids of every track confirmed so far, lost ones included: an offline analysis
        keeps a person's rows from before their confirmation too."""
        return frozenset(self._confirmed)

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every live track: ids (N,), boxes (N, 4), whether the last update matched it, and
        whether it is confirmed."""
        ids = np.array([t.track_id for t in self._tracks], int)
        boxes = np.array([t.box for t in self._tracks], float).reshape(-1, 4)
        visible = np.array([t.missed == 0 for t in self._tracks], bool)
        confirmed = np.array([t.confirmed for t in self._tracks], bool)
        return ids, boxes, visible, confirmed

    def move(self, boxes: np.ndarray) -> None:
        """Put every track (in ``snapshot`` order) at a box measured by other means (optical
        flow between searches); their motion is then known, so velocities are cleared."""
        boxes = np.asarray(boxes, float).reshape(-1, 4)
        if len(boxes) != len(self._tracks):
            raise ValueError(f"expected {len(self._tracks)} boxes, got {len(boxes)}")
        for track, box in zip(self._tracks, boxes, strict=True):
            track.box = box.copy()
            track.velocity = np.zeros(2)

    def predicted_boxes(self) -> np.ndarray:
        """(N, 4) boxes where each live track expects its face in the next frame."""
        if not self._tracks:
            return np.empty((0, 4))
        return np.stack([track.predicted_box() for track in self._tracks])

    def update(self, boxes: np.ndarray, time_s: float | None = None) -> np.ndarray:
        """(N, 4) ``x, y, w, h`` boxes of one search -> (N,) int track ids, in box order."""
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        now = float(self._updates if time_s is None else time_s)
        self._updates += 1
        ids = np.zeros(len(boxes), dtype=int)
        matched: set[int] = set()
        for t, d in self._assign(boxes, now):
            track = self._tracks[t]
            self._follow(track, boxes[d], now)
            if not track.confirmed and self._ready(track):
                track.confirmed = True
                self._confirmed.add(track.track_id)
            ids[d] = track.track_id
            matched.add(t)
        kept = []
        for t, track in enumerate(self._tracks):
            if t not in matched:
                track.missed += 1
                if not track.confirmed or now - track.last_s > self.keep_lost_s:
                    continue  # a tentative track ends at its first miss
            kept.append(track)
        self._tracks = kept
        for d in np.flatnonzero(ids == 0):
            track = _Track(self._next_id, boxes[d].copy(), np.zeros(2), now, now)
            if self._ready(track):  # confirm_hits=1 and confirm_s=0: every box is a person
                track.confirmed = True
                self._confirmed.add(track.track_id)
            self._tracks.append(track)
            ids[d] = track.track_id
            self._next_id += 1
        return ids

    def _ready(self, track: _Track) -> bool:
        return track.hits >= self.confirm_hits and track.last_s - track.first_s >= self.confirm_s

    def _assign(self, boxes: np.ndarray, now: float) -> list[tuple[int, int]]:
        """(track index, box index) pairs: a first round for every track within ``max_cost``,
        then the confirmed tracks left over within their widened gates (a tentative track's
        wider gate would let one-off false detections chain into a person)."""
        if not self._tracks or not len(boxes):
            return []
        cost = self._cost(boxes)
        pairs = _solve(np.where(cost <= self.max_cost, cost, _UNMATCHABLE))
        taken = {p[0] for p in pairs}
        left_tracks = [
            t for t, track in enumerate(self._tracks) if track.confirmed and t not in taken
        ]
        left_boxes = [d for d in range(len(boxes)) if d not in {p[1] for p in pairs}]
        if left_tracks and left_boxes:
            since = np.array([now - self._tracks[t].last_s for t in left_tracks])
            gate = np.minimum(self.max_cost + self.gate_per_s * since, self.max_gate)
            sub = cost[np.ix_(left_tracks, left_boxes)]
            sub = np.where(sub <= gate[:, None], sub, _UNMATCHABLE)
            pairs += [(left_tracks[t], left_boxes[d]) for t, d in _solve(sub)]
        return pairs

    def _cost(self, boxes: np.ndarray) -> np.ndarray:
        """Centre distance in face sizes plus log size change, for every (track, box) pair."""
        predicted = np.stack([t.predicted_box() for t in self._tracks])
        scale = np.maximum(predicted[:, None, 2:4].max(-1), boxes[None, :, 2:4].max(-1))
        distance = np.linalg.norm(
            _centres(predicted)[:, None] - _centres(boxes)[None], axis=-1
        ) / np.maximum(scale, 1.0)
        size_change = np.abs(
            np.log(np.maximum(predicted[:, None, 2], 1) / np.maximum(boxes[None, :, 2], 1))
        )
        cost = distance + size_change
        return np.where(np.isfinite(cost), cost, _UNMATCHABLE)

    @staticmethod
    def _follow(track: _Track, box: np.ndarray, now: float) -> None:
        step = (_centres(box[None])[0] - _centres(track.box[None])[0]) / (track.missed + 1)
        track.velocity = 0.5 * track.velocity + 0.5 * step
        track.box = box.copy()
        track.missed = 0
        track.hits += 1
        track.last_s = now


def _solve(cost: np.ndarray) -> list[tuple[int, int]]:
    """The cheapest assignment among gated pairs (``cost`` holds ``_UNMATCHABLE`` for the
    rest); gating before solving means it never trades a valid pair for one it rejects."""
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if cost[r, c] < _UNMATCHABLE]
