"""Generate test and benchmark footage from a real face photo shipped with scikit-image.

FER2013 images must never be committed or redistributed, so footage for tests, benchmarks
and demos is made here: the astronaut photo's face, scaled and moved around a plain room.
"""

from __future__ import annotations

import os
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
    path = Path(path)
    # faststart puts the index first, as web players (and truncation tests) need.
    with av.open(str(path), mode="w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(int(seconds * fps)):
            image = scene(index / fps, n_faces, width, height, face_size)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path
