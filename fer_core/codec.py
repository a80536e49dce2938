"""Faces as a camera's video stream delivers them: shrunk to a face size, H.264-compressed in
a 1080p frame, decoded and cut out again.

A room camera compresses every frame before anything reads it, and the fewer pixels a face
holds, the more of its detail the codec's blocks replace. ``through_h264`` measures that: it
tiles the faces edge to edge into 1080p frames (a crowd much denser than a room, so each
block holds parts of several faces, as a small face's block holds its neighbours'), encodes
each frame as a stream of its own (one intra frame: a stream's key frame, which the frames
after it in a still room borrow from) with libx264 at a CRF, decodes it and scales each face
back up to its size. CRF 23 is ffmpeg's default; each 6 more roughly halves the bitrate.
The luma plane goes in and comes out as it is: no colour conversion adds its own rounding.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from fer_core.errors import InvalidInputError
from fer_core.lowres import check_face_size, enlarge, shrink

#: ffmpeg's default quality for libx264: a moderate-bitrate recording or stream.
DEFAULT_CRF = 23
#: The frame the faces are tiled into, (height, width): a 1080p room camera's.
FRAME_SHAPE = (1080, 1920)
_NEUTRAL = 128  # the grey around the tiles, and both chroma planes (a grey picture)


def through_h264(faces: np.ndarray, size: int, crf: int = DEFAULT_CRF) -> np.ndarray:
    """``faces`` ((N, S, S) uint8 grayscale) as a 1080p H.264 stream at ``crf`` (0-51, lower
    is better) shows them at ``size`` px: shrunk there (area averaging), compressed, decoded
    and scaled back up to S px (bilinear), as ``fer_core.lowres.degrade`` does without the
    codec. Same shape and dtype."""
    faces = _checked(faces)
    side = faces.shape[1]
    check_face_size(size, side)
    check_crf(crf)
    if len(faces) == 0:
        return faces.copy()
    small = shrink(faces, size)
    rows, cols = FRAME_SHAPE[0] // size, FRAME_SHAPE[1] // size
    frames = [
        _tiled(small[start : start + rows * cols], rows, cols)
        for start in range(0, len(small), rows * cols)
    ]
    decoded = _encode_decode(frames, int(crf))
    out = np.concatenate([_cut(frame, size, rows, cols) for frame in decoded])[: len(faces)]
    return enlarge(out, side)


def check_crf(crf: int) -> None:
    """Raise ``InvalidInputError`` unless ``crf`` is an H.264 CRF, a whole 0..51."""
    if isinstance(crf, bool) or not isinstance(crf, int | np.integer) or not 0 <= crf <= 51:
        raise InvalidInputError(f"an H.264 CRF is a whole number 0-51, got {crf!r}")


def _checked(faces: np.ndarray) -> np.ndarray:
    if not isinstance(faces, np.ndarray) or faces.ndim != 3 or faces.dtype != np.uint8:
        shape = getattr(faces, "shape", type(faces).__name__)
        dtype = getattr(faces, "dtype", "")
        raise InvalidInputError(
            f"faces through H.264 are an (N, S, S) uint8 grayscale array, got {shape} {dtype}"
        )
    if faces.shape[1] != faces.shape[2]:
        raise InvalidInputError(f"faces must be square, got {faces.shape[1]}x{faces.shape[2]}")
    return faces


def _tiled(faces: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """One luma plane with ``faces`` (at most rows * cols of them) tiled row by row."""
    size = faces.shape[1]
    grid = np.full((rows * cols, size, size), _NEUTRAL, np.uint8)
    grid[: len(faces)] = faces
    plane = np.full(FRAME_SHAPE, _NEUTRAL, np.uint8)
    plane[: rows * size, : cols * size] = (
        grid.reshape(rows, cols, size, size).transpose(0, 2, 1, 3).reshape(rows * size, cols * size)
    )
    return plane


def _cut(plane: np.ndarray, size: int, rows: int, cols: int) -> np.ndarray:
    """The (rows * cols, size, size) tiles of a luma plane, row by row."""
    grid = plane[: rows * size, : cols * size].reshape(rows, size, cols, size)
    return grid.transpose(0, 2, 1, 3).reshape(rows * cols, size, size)


def _encode_decode(planes: list[np.ndarray], crf: int) -> list[np.ndarray]:
    """Each luma plane (grey chroma) through libx264 at ``crf`` as a stream of its own, and
    back: every frame gets the quality CRF gives one picture, whatever came before it (in one
    stream, x264's rate control spent fewer bits on each dense frame after the first)."""
    height, width = FRAME_SHAPE
    chroma = np.full((height // 2, width), _NEUTRAL, np.uint8)
    decoded = []
    for plane in planes:
        encoder = av.CodecContext.create("libx264", "w")
        encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
        encoder.time_base = Fraction(1, 30)
        # zerolatency (no lookahead, no B-frames), as a live stream is encoded: with a
        # lookahead, a one-frame stream's frame got far fewer bits than a stream's frames do.
        encoder.options = {"crf": str(crf), "preset": "medium", "tune": "zerolatency"}
        frame = av.VideoFrame.from_ndarray(np.concatenate([plane, chroma]), format="yuv420p")
        frame.pts = 0
        packets = [*encoder.encode(frame), *encoder.encode(None)]
        decoder = av.CodecContext.create("h264", "r")
        frames = [f for packet in [*packets, None] for f in decoder.decode(packet)]
        if len(frames) != 1:
            raise RuntimeError(f"H.264 gave back {len(frames)} frames for one")
        decoded.append(frames[0].to_ndarray(format="yuv420p")[:height])
    return decoded
