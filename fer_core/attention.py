"""Attention: head yaw and pitch from a detector's landmarks, and whether a face attends.

A face attends when it is turned towards the stage: the angle between the direction it faces
and the stage direction is within a cone (``ATTENTION_CONE_DEG``). The stage direction is
given as the yaw and pitch a face has when it looks at the stage; the default, (0, 0), is the
camera, right for a camera above or below the stage.

The pose is fitted to a generic head (``HEAD_MODELS``, in units of the distance between the
eyes) under scaled orthographic projection: one least-squares fit per face, done for all faces
at once with a single matrix product, since every face shares the model. That is the right
projection for faces that are small against their distance from the camera, as in a room.

It is an estimate with known limits: it reads the head, not the eyes (someone looking down
at notes with their head up counts as attending); the generic head does not fit every face, so
a few degrees of bias per person are normal, more for pitch than for yaw; glasses, hair or a
hand over the eyes move the landmarks; a face turned more than about 60 degrees is often not
found at all, so it is missing rather than counted as not attending; and a camera beside the
stage needs the stage direction set, or everyone watching the stage counts as turned away.

Yaw is positive when a face turns towards the image's right (the person's left), pitch when
it tilts up; both in degrees, 0 facing the camera.
"""

from __future__ import annotations

import numpy as np

from fer_core.defaults import ATTENTION_CONE_DEG

#: Generic 3D landmark positions by landmark count: x to the image's right, y up, z towards
#: the camera, nose tip at the origin; units of the distance between the eye centres. Ratios
#: from a standard anthropometric head (eye centres 0.52 above the nose tip and 0.36 behind
#: it); they reproduce the astronaut photo's frontal landmarks within 0.05.
HEAD_MODELS: dict[int, np.ndarray] = {
    # CenterFace: eye (image-left), eye (image-right), nose tip, mouth corners (left, right).
    5: np.array(
        [
            [-0.5, 0.52, -0.36],
            [0.5, 0.52, -0.36],
            [0.0, 0.0, 0.0],
            [-0.42, -0.45, -0.38],
            [0.42, -0.45, -0.38],
        ]
    ),
    # BlazeFace: eyes, nose tip, mouth centre, ear tragions (image-left, image-right).
    6: np.array(
        [
            [-0.5, 0.52, -0.36],
            [0.5, 0.52, -0.36],
            [0.0, 0.0, 0.0],
            [0.0, -0.45, -0.3],
            [-1.07, 0.38, -1.4],
            [1.07, 0.38, -1.4],
        ]
    ),
}


def _fit_operators() -> dict[int, np.ndarray]:
    """For each model, the (K, 4) pseudo-inverse that fits ``image = M @ [X, 1]`` by least
    squares: the same for every face, so a frame's faces are fitted in one product."""
    return {
        count: np.linalg.pinv(np.column_stack([model, np.ones(count)]))
        for count, model in HEAD_MODELS.items()
    }


_FIT = _fit_operators()


def head_pose(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Yaw and pitch in degrees of each face of ``(N, K, 2)`` (or one ``(K, 2)``) landmarks
    in image coordinates; NaN for a face whose landmarks do not fit a head (collapsed or
    non-finite points). ``K`` must be a key of ``HEAD_MODELS``."""
    points = np.asarray(landmarks, dtype=np.float64)
    single = points.ndim == 2
    points = points.reshape(-1, *points.shape[-2:])
    if points.shape[-1] != 2 or points.shape[1] not in _FIT:
        raise ValueError(
            f"landmarks must be (N, K, 2) with K in {sorted(_FIT)}, got {points.shape}"
        )
    flipped = points * np.array([1.0, -1.0])  # image y grows down; the model's grows up
    # Rows of the 2x4 affine camera of each face: image = M @ [X, 1].
    camera = np.einsum("fk,nkc->ncf", _FIT[points.shape[1]], flipped)
    first, second = camera[:, 0, :3], camera[:, 1, :3]
    with np.errstate(invalid="ignore", divide="ignore"):
        r1 = first / np.linalg.norm(first, axis=1, keepdims=True)
        second = second - np.sum(second * r1, axis=1, keepdims=True) * r1
        r2 = second / np.linalg.norm(second, axis=1, keepdims=True)
    r3 = np.cross(r1, r2)
    # The direction the face looks, in camera coordinates: the model's +z through R.
    facing = np.stack([r1[:, 2], r2[:, 2], r3[:, 2]], axis=1)
    yaw = np.degrees(np.arctan2(facing[:, 0], facing[:, 2]))
    pitch = np.degrees(np.arcsin(np.clip(facing[:, 1], -1.0, 1.0)))
    bad = ~np.isfinite(facing).all(axis=1)
    yaw[bad], pitch[bad] = np.nan, np.nan
    return (yaw[0], pitch[0]) if single else (yaw, pitch)


def facing_direction(yaw_deg: np.ndarray, pitch_deg: np.ndarray) -> np.ndarray:
    """Unit vectors (x right, y up, z towards the camera) of faces with these angles."""
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    return np.stack(
        [np.cos(pitch) * np.sin(yaw), np.sin(pitch), np.cos(pitch) * np.cos(yaw)], axis=-1
    )


def attending(
    yaw_deg: np.ndarray | float,
    pitch_deg: np.ndarray | float,
    cone_deg: float = ATTENTION_CONE_DEG,
    stage: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Whether each face looks within ``cone_deg`` of the ``stage`` direction (its yaw and
    pitch as seen from the camera). A face with no pose (NaN) is neither: the result is a
    float array of 1.0, 0.0 or NaN."""
    yaw, pitch = np.asarray(yaw_deg, float), np.asarray(pitch_deg, float)
    faces = facing_direction(yaw, pitch)
    target = facing_direction(np.float64(stage[0]), np.float64(stage[1]))
    angle = np.degrees(np.arccos(np.clip(faces @ target, -1.0, 1.0)))
    return np.where(np.isnan(angle), np.nan, (angle <= cone_deg).astype(float))
