"""Score found faces against reference boxes: recall, unmatched boxes, and the reference file.

The reference file is JSON ``{"faces": {"photo.jpg": [[x0, y0, x1, y1], ...], ...}}``. A found
box matches when its IoU with a not-yet-matched reference box is at least ``min_iou``
(0.3: reference boxes of tiny faces disagree by a few pixels between detectors); pairs are
assigned by the Hungarian method so one box never counts twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from fer_core.errors import InvalidInputError


@dataclass(frozen=True)
class MatchResult:
    """How one photo's found boxes compare with its reference boxes."""

    n_reference: int
    n_found: int
    matched: int
    unmatched_found: np.ndarray  # indices of found boxes that match no reference face

    @property
    def recall(self) -> float:
        return self.matched / self.n_reference if self.n_reference else float("nan")

    @property
    def unmatched_share(self) -> float:
        return len(self.unmatched_found) / self.n_found if self.n_found else 0.0


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) ``x, y, w, h`` boxes."""
    a = np.asarray(a, float).reshape(-1, 4)
    b = np.asarray(b, float).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y1 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_faces(found: np.ndarray, reference: np.ndarray, min_iou: float = 0.3) -> MatchResult:
    """One-to-one matching of found boxes to reference boxes (both ``x, y, w, h``)."""
    found = np.asarray(found, float).reshape(-1, 4)
    reference = np.asarray(reference, float).reshape(-1, 4)
    matched_found: set[int] = set()
    if len(found) and len(reference):
        overlap = iou_matrix(found, reference)
        rows, cols = linear_sum_assignment(-overlap)
        matched_found = {
            int(r) for r, c in zip(rows, cols, strict=True) if overlap[r, c] >= min_iou
        }
    unmatched = np.array([i for i in range(len(found)) if i not in matched_found], int)
    return MatchResult(len(reference), len(found), len(matched_found), unmatched)


def load_reference(path: str | Path) -> dict[str, np.ndarray]:
    """Photo name -> (N, 4) ``x, y, w, h`` reference boxes, from the JSON reference file."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
        faces = raw["faces"]
        return {
            name: _corners_to_xywh(np.asarray(boxes, float).reshape(-1, 4))
            for name, boxes in faces.items()
        }
    except FileNotFoundError:
        raise InvalidInputError(f"no reference file at {path}") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise InvalidInputError(
            f"{path} is not a reference file of the form "
            f'{{"faces": {{"photo.jpg": [[x0, y0, x1, y1], ...]}}}}: {error}'
        ) from None


def _corners_to_xywh(boxes: np.ndarray) -> np.ndarray:
    return np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
