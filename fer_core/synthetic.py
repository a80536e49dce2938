"""Generate test and benchmark footage from a real face photo shipped with scikit-image.

FER2013 images must never be committed or redistributed, so footage for tests, benchmarks
and demos is made here: the astronaut photo's face, scaled and moved around a plain room.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np


def astronaut_face_patch(size: int = 160) -> np.ndarray:
    """The astronaut's head (with some margin), BGR, ``size`` pixels square."""
    from skimage.data import astronaut

    image = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)
    return cv2.resize(image[15:235, 115:335], (size, size), interpolation=cv2.INTER_AREA)


def scene(time_s: float, n_faces: int, width: int, height: int, face_size: int) -> np.ndarray:
    """One frame at ``time_s``: ``n_faces`` faces in a row, each drifting on its own path."""
    frame = np.full((height, width, 3), (70, 80, 90), np.uint8)
    patch = astronaut_face_patch(face_size)
    slot = width / max(n_faces, 1)
    for i in range(n_faces):
        x = slot * (i + 0.5) - face_size / 2 + 0.15 * slot * np.sin(time_s * 0.9 + i)
        y = (height - face_size) / 2 + 0.2 * (height - face_size) * np.cos(time_s * 0.7 + 2 * i)
        x = int(np.clip(x, 0, width - face_size))
        y = int(np.clip(y, 0, height - face_size))
        frame[y : y + face_size, x : x + face_size] = patch
    return frame


def write_demo_video(
    path: str | os.PathLike[str],
    seconds: float = 3.0,
    fps: int = 15,
    n_faces: int = 1,
    width: int = 640,
    height: int = 360,
    face_size: int | None = None,
) -> Path:
    """Write an H.264 MP4 of moving faces; returns its path."""
    face_size = face_size or min(height // 2, int(width / max(n_faces, 1) * 0.6))
    frames = (
        scene(index / fps, n_faces, width, height, face_size) for index in range(int(seconds * fps))
    )
    return _write_mp4(path, frames, fps, width, height)


def _write_mp4(
    path: str | os.PathLike[str], frames: Iterable[np.ndarray], fps: int, width: int, height: int
) -> Path:
    """Encode BGR ``frames`` as an H.264 MP4 at ``fps``; returns its path."""
    path = Path(path)
    # faststart puts the index first, as web players (and truncation tests) need.
    with av.open(str(path), mode="w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode())
    return path


# Where the face sits in ``astronaut_face_patch``: CenterFace's box of her face, as fractions
# of the patch (x, y, w, h), so generated crowds come with their true face boxes.
_FACE_IN_PATCH = np.array([0.305, 0.195, 0.4, 0.545])


def crowd_scene(
    width: int = 1920,
    height: int = 1080,
    n_faces: int = 150,
    face_px: tuple[int, int] = (14, 48),
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """An audience seen from the back of a hall: ``n_faces`` copies of a real face in rows,
    smaller towards the back (top), with varied brightness and some mirrored. Returns the
    BGR frame and the faces' true (N, 4) ``x, y, w, h`` boxes."""
    rng = np.random.default_rng(seed)
    frame = _hall(width, height, rng)
    rows = max(1, round(np.sqrt(n_faces * height / width)))
    per_row = np.full(rows, n_faces // rows)
    per_row[: n_faces % rows] += 1
    boxes = []
    for row, count in enumerate(per_row):
        depth = (row + 0.5) / rows  # 0 at the back (top), 1 at the front
        face = face_px[0] + depth * (face_px[1] - face_px[0])
        patch_px = max(round(face / _FACE_IN_PATCH[2]), 8)
        y = int(depth * (height - patch_px))
        slots = np.linspace(0, width - patch_px, count + 2)[1:-1] if count else []
        for x in slots:
            x = int(np.clip(x + rng.uniform(-0.25, 0.25) * patch_px, 0, width - patch_px))
            top = int(np.clip(y + rng.uniform(-0.15, 0.15) * patch_px, 0, height - patch_px))
            patch = astronaut_face_patch(patch_px).astype(np.float32) * rng.uniform(0.7, 1.15)
            if rng.random() < 0.5:
                patch = patch[:, ::-1]
            frame[top : top + patch_px, x : x + patch_px] = np.clip(patch, 0, 255)
            boxes.append(np.array([x, top, 0, 0]) + _FACE_IN_PATCH * patch_px)
    return frame, np.round(np.array(boxes, float).reshape(-1, 4)).astype(int)


def _hall(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A dim, textured background (seats and walls), so detectors are not handed a flat one."""
    ys = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    base = 60 + 40 * ys + rng.normal(0, 6, (height, width, 1)).astype(np.float32)
    tint = np.array([1.0, 0.9, 0.8], np.float32)
    return np.clip(base * tint, 0, 255).astype(np.uint8)


def panning_crowd(
    seconds: float = 10.0,
    fps: float = 30.0,
    width: int = 1920,
    height: int = 1080,
    n_faces: int = 200,
    pan_px_per_s: float = 20.0,
    seed: int = 0,
):
    """Frames of a camera panning slowly across a crowd: yields ``(time_s, frame, boxes)``
    with the true face boxes of each frame (faces cut by the frame's edge included)."""
    travel = int(np.ceil(seconds * pan_px_per_s)) + 1
    canvas, boxes = crowd_scene(width + travel, height, n_faces, seed=seed)
    for index in range(int(seconds * fps)):
        time_s = index / fps
        left = round(time_s * pan_px_per_s)
        shifted = boxes - np.array([left, 0, 0, 0])
        inside = (shifted[:, 0] >= 0) & (shifted[:, 0] + shifted[:, 2] <= width)
        yield time_s, np.ascontiguousarray(canvas[:, left : left + width]), shifted[inside]


@dataclass(frozen=True)
class Walker:
    """One person in generated footage. The face's centre moves in a straight line from
    ``start`` to ``end`` (pixels) between ``enter_s`` and ``leave_s`` and is in the frame only
    then; during each ``(from_s, to_s)`` of ``away`` the person faces away (the back of a head,
    no face)."""

    start: tuple[float, float]
    end: tuple[float, float] | None = None  # None: stays at start
    enter_s: float = 0.0
    leave_s: float = math.inf
    face_px: int = 60
    away: tuple[tuple[float, float], ...] = ()

    def centre(self, time_s: float, seconds: float) -> np.ndarray:
        end = self.end if self.end is not None else self.start
        span = min(self.leave_s, seconds) - self.enter_s
        share = np.clip((time_s - self.enter_s) / span, 0.0, 1.0) if span > 0 else 0.0
        return np.asarray(self.start, float) + share * (np.asarray(end, float) - self.start)

    def present(self, time_s: float) -> bool:
        return self.enter_s <= time_s < self.leave_s

    def facing(self, time_s: float) -> bool:
        return self.present(time_s) and not any(a <= time_s < b for a, b in self.away)


def write_crowd_video(
    path: str | os.PathLike[str],
    seconds: float = 10.0,
    fps: int = 30,
    width: int = 1920,
    height: int = 1080,
    n_faces: int = 200,
) -> Path:
    """Write an H.264 MP4 of ``panning_crowd``; returns its path."""
    frames = (frame for _, frame, _ in panning_crowd(seconds, fps, width, height, n_faces))
    return _write_mp4(path, frames, fps, width, height)


def people_scene(
    walkers: Sequence[Walker],
    time_s: float,
    seconds: float,
    width: int = 1280,
    height: int = 720,
) -> tuple[np.ndarray, list[int]]:
    """One frame of ``walkers`` at ``time_s`` in a hall; also the indices of the walkers
    whose face is visible in it."""
    frame = _hall(width, height, np.random.default_rng(0))
    visible = []
    for index, walker in enumerate(walkers):
        if not walker.present(time_s):
            continue
        patch_px = max(round(walker.face_px / _FACE_IN_PATCH[2]), 8)
        face_centre = _FACE_IN_PATCH[:2] + _FACE_IN_PATCH[2:] / 2
        x, y = np.round(walker.centre(time_s, seconds) - face_centre * patch_px).astype(int)
        if walker.facing(time_s):
            _paste(frame, astronaut_face_patch(patch_px), x, y)
        else:  # the back of a head: dark hair where the face was
            centre = tuple(int(v) for v in walker.centre(time_s, seconds))
            axes = (int(patch_px * 0.24), int(patch_px * 0.32))
            cv2.ellipse(frame, centre, axes, 0, 0, 360, (30, 35, 40), -1)
        if walker.facing(time_s) and x >= 0 and x + patch_px <= width:
            visible.append(index)
    return frame, visible


def _paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Paste ``patch`` with its top-left at ``(x, y)``, cut by the frame's edges."""
    h, w = patch.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]


def write_people_video(
    path: str | os.PathLike[str],
    walkers: Sequence[Walker],
    seconds: float,
    fps: int = 30,
    width: int = 1280,
    height: int = 720,
) -> Path:
    """Write an H.264 MP4 of ``walkers`` (see ``people_scene``); returns its path."""
    frames = (
        people_scene(walkers, index / fps, seconds, width, height)[0]
        for index in range(round(seconds * fps))
    )
    return _write_mp4(path, frames, fps, width, height)
