"""Search a whole frame for faces of every size a room camera shows, in bounded pieces.

One detector pass sees faces between roughly 10 and 400 pixels. ``TiledSearch`` covers the
rest with up to three views of the frame, merged by non-maximum suppression:

- **native**: the frame at its own resolution, cut into overlapping tiles of at most
  ``tile_px`` pixels a side when it is larger (a 4K frame is never one giant tensor);
- **upscaled**: ``upscale``-times enlarged cells where faces near the native pass's floor
  were found, or were known before (a stream's tracks), and the cells beside and above them,
  where more such faces hide; or the whole frame when it is at most ``upscale_all_px``
  pixels in all and the native pass found no face or a small one, or when asked to look
  everywhere (a first look at a photo or a stream, which has nothing to go on): for faces of
  6-12 pixels, which the native pass misses; a webcam's face skips it;
- **coarse**: a copy at ``coarse_px`` on its longer side when the frame is larger than that,
  for faces too large for one tile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from fer_core.detectors.base import (
    Detections,
    FaceDetector,
    bgr_frame,
    detect_faces,
    non_max_suppression,
)


@dataclass(frozen=True)
class _Window:
    """A rectangle of the frame, ``x0, y0, x1, y1`` in frame pixels."""

    x0: int
    y0: int
    x1: int
    y1: int


def tile_windows(width: int, height: int, tile_px: int, overlap_px: int) -> list[_Window]:
    """Equal, overlapping windows of at most ``tile_px`` a side that cover the frame."""
    windows = []
    cols = _pieces(width, tile_px, overlap_px)
    rows = _pieces(height, tile_px, overlap_px)
    for y0, y1 in rows:
        for x0, x1 in cols:
            windows.append(_Window(x0, y0, x1, y1))
    return windows


def _pieces(length: int, tile_px: int, overlap_px: int) -> list[tuple[int, int]]:
    if length <= tile_px:
        return [(0, length)]
    count = math.ceil((length - overlap_px) / (tile_px - overlap_px))
    size = math.ceil((length + (count - 1) * overlap_px) / count)
    starts = np.linspace(0, length - size, count).round().astype(int)
    return [(int(s), int(s) + size) for s in starts]


class TiledSearch:
    """A full search for faces of 6 to 1,000+ pixels: ``detect_faces(frame) -> Detections``.

    Wraps a native-resolution detector (CenterFace by default; see ``fer_core.detectors``).
    ``small_px``: faces narrower than this seed the upscaled pass around them.
    """

    def __init__(
        self,
        detector: FaceDetector,
        tile_px: int = 1920,
        overlap_px: int = 128,
        upscale: float = 2.0,
        small_px: int = 16,
        cell_px: int = 256,
        upscale_all_px: int = 1_500_000,
        coarse_px: int = 640,
        nms_iou: float = 0.3,
    ) -> None:
        self.detector = detector
        self.tile_px = tile_px
        self.overlap_px = overlap_px
        self.upscale = upscale
        self.small_px = small_px
        self.cell_px = cell_px
        self.upscale_all_px = upscale_all_px
        self.coarse_px = coarse_px
        self.nms_iou = nms_iou

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """Faces as (N, 4) int ``x, y, w, h`` boxes."""
        return self.detect_faces(frame).boxes

    def detect_faces(
        self, frame: np.ndarray, near: np.ndarray | None = None, everywhere: bool = False
    ) -> Detections:
        """Every face the three views find, merged, in frame pixels. ``near``: (N, 4) boxes
        of faces known from before (a stream's tracks, in this frame), whose small ones seed
        the enlarged pass as the native pass's do: a row of faces the native pass misses,
        once found, stays searched. ``everywhere``: enlarge the whole frame, whatever its
        size."""
        frame = bgr_frame(frame)
        height, width = frame.shape[:2]
        found = [self._native(frame)]
        seeds = found[0].boxes
        if near is not None:
            seeds = np.vstack([seeds, np.asarray(near, float).reshape(-1, 4)])
        # Only where faces may be too small for one pass: none found yet, or small ones.
        may_hide_small = not len(found[0]) or (seeds[:, 2] < self.small_px).any()
        if self.upscale > 1 and (everywhere or may_hide_small):
            found.append(self._upscaled(frame, seeds, everywhere))
        if self.coarse_px and max(height, width) > self.coarse_px * 2:
            factor = self.coarse_px / max(height, width)
            small = cv2.resize(frame, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
            coarse = detect_faces(self.detector, small).scaled(factor)
            # Only large faces: the finer views already read small ones more precisely.
            found.append(coarse.take(coarse.boxes[:, 2] >= self.overlap_px))
        return non_max_suppression(Detections.concatenate(found), self.nms_iou)

    def _native(self, frame: np.ndarray) -> Detections:
        height, width = frame.shape[:2]
        parts = []
        for w in tile_windows(width, height, self.tile_px, self.overlap_px):
            tile = frame[w.y0 : w.y1, w.x0 : w.x1]
            parts.append(detect_faces(self.detector, tile).scaled(1.0, (w.x0, w.y0)))
        return Detections.concatenate(parts)

    def _upscaled(self, frame: np.ndarray, seeds: np.ndarray, everywhere: bool) -> Detections:
        """The enlarged pass over the parts of the frame that may hold faces too small for
        the native pass: all of a small frame (or of any, ``everywhere``), else rows of cells
        around the small faces among ``seeds``."""
        height, width = frame.shape[:2]
        if everywhere or height * width <= self.upscale_all_px:
            windows = [_Window(0, 0, width, height)]
        else:
            windows = self._small_face_windows(seeds, width, height)
        parts = []
        for w in windows:
            view = cv2.resize(
                frame[w.y0 : w.y1, w.x0 : w.x1],
                None,
                fx=self.upscale,
                fy=self.upscale,
                interpolation=cv2.INTER_LINEAR,
            )
            found = self._native(view)  # tiled again: an enlarged view can be large
            parts.append(found.scaled(self.upscale, (w.x0, w.y0)))
        found = Detections.concatenate(parts)
        # Enlarged views add the small faces; larger ones are the native pass's to report.
        return found.take(found.boxes[:, 2] < 2 * self.small_px) if len(found) else found

    def _small_face_windows(self, boxes: np.ndarray, width: int, height: int) -> list[_Window]:
        """Runs of grid cells holding a small face, beside one or above one: one window each."""
        cells_x, cells_y = math.ceil(width / self.cell_px), math.ceil(height / self.cell_px)
        small = boxes[boxes[:, 2] < self.small_px]
        if not len(small):
            return []
        centres = small[:, :2] + small[:, 2:] / 2
        cx = np.clip((centres[:, 0] // self.cell_px).astype(int), 0, cells_x - 1)
        cy = np.clip((centres[:, 1] // self.cell_px).astype(int), 0, cells_y - 1)
        seeds = np.zeros((cells_y, cells_x), bool)
        seeds[cy, cx] = True
        # Their row's neighbours and the row above: smaller faces sit further back, higher up.
        chosen = seeds.copy()
        chosen[:, 1:] |= seeds[:, :-1]
        chosen[:, :-1] |= seeds[:, 1:]
        chosen[:-1] |= chosen[1:].copy()
        context = self.small_px  # a face on a cell's edge is whole in one of the two cells
        windows = []
        for row in range(cells_y):
            col = 0
            while col < cells_x:
                if not chosen[row, col]:
                    col += 1
                    continue
                start = col
                while col < cells_x and chosen[row, col]:
                    col += 1
                windows.append(
                    _Window(
                        max(start * self.cell_px - context, 0),
                        max(row * self.cell_px - context, 0),
                        min(col * self.cell_px + context, width),
                        min((row + 1) * self.cell_px + context, height),
                    )
                )
        return windows
