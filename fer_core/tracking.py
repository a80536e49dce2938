"""Give faces stable integer ids across frames.

A small motion tracker: each track predicts where its face moves (constant velocity), new
boxes are assigned to tracks by the Hungarian method on a cost of centre distance (in face
sizes) plus size change, and a track survives ``max_missed`` frames without a match, so a
face that is briefly hidden or missed by the detector keeps its id.

Why not a library: supervision dropped ByteTrack in 0.28, Roboflow's ``trackers`` needs the
GUI build of OpenCV (``opencv-python``, which clashes with the headless wheel), and norfair
pins NumPy below 2. Faces in a room move little and rarely overlap, which this handles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

_UNMATCHABLE = 1e6


@dataclass
class _Track:
    track_id: int
    box: np.ndarray  # x, y, w, h (float)
    velocity: np.ndarray  # centre motion per frame
    missed: int = 0

    def predicted_box(self) -> np.ndarray:
        shifted = self.box.copy()
        shifted[:2] += self.velocity * (self.missed + 1)
        return shifted


def _centres(boxes: np.ndarray) -> np.ndarray:
    return boxes[:, :2] + boxes[:, 2:4] / 2


class FaceTracker:
    """Assign track ids to each frame's face boxes; ``update`` once per analyzed frame."""

    def __init__(self, max_cost: float = 1.0, max_missed: int = 15) -> None:
        self.max_cost = max_cost
        self.max_missed = max_missed
        self.reset()

    def reset(self) -> None:
        """Forget every track (a new stream); ids start again at 1."""
        self._tracks: list[_Track] = []
        self._next_id = 1

    @property
    def faces_seen(self) -> int:
        """How many distinct faces (ids) this stream has had."""
        return self._next_id - 1

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every live track: ids (N,), boxes (N, 4) and whether the last update matched it."""
        ids = np.array([t.track_id for t in self._tracks], int)
        boxes = np.array([t.box for t in self._tracks], float).reshape(-1, 4)
        visible = np.array([t.missed == 0 for t in self._tracks], bool)
        return ids, boxes, visible

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

    def update(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) ``x, y, w, h`` boxes of one frame -> (N,) int track ids, in box order."""
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        ids = np.zeros(len(boxes), dtype=int)
        matched_tracks: set[int] = set()
        if self._tracks and len(boxes):
            cost = self._cost(boxes)
            rows, cols = linear_sum_assignment(cost)
            for t, d in zip(rows, cols, strict=True):
                if cost[t, d] > self.max_cost:
                    continue
                self._follow(self._tracks[t], boxes[d])
                ids[d] = self._tracks[t].track_id
                matched_tracks.add(t)
        for t, track in enumerate(self._tracks):
            if t not in matched_tracks:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        for d in np.flatnonzero(ids == 0):
            track = _Track(self._next_id, boxes[d].copy(), np.zeros(2))
            self._tracks.append(track)
            ids[d] = track.track_id
            self._next_id += 1
        return ids

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
        # Gate before solving, so the assignment never trades a valid pair for one it rejects.
        return np.where(np.isfinite(cost) & (cost <= self.max_cost), cost, _UNMATCHABLE)

    @staticmethod
    def _follow(track: _Track, box: np.ndarray) -> None:
        step = (_centres(box[None])[0] - _centres(track.box[None])[0]) / (track.missed + 1)
        track.velocity = 0.5 * track.velocity + 0.5 * step
        track.box = box.copy()
        track.missed = 0
