"""Small faces: what a face a few pixels wide in a room camera gives the classifier.

A face that spans N pixels of a frame, cut out and scaled up to the classifier's 48 px, has
lost every detail that N pixels cannot hold. Shrinking a 48 px face to N px with area
averaging (what a camera sensor does) and scaling it back up bilinearly (what the crop's
resize does) reproduces that loss. ``degrade`` does it to measure a model on small faces
(``fer_core.evaluation.accuracy_by_face_size``); ``LowResBatches`` does it to a random share
of the training faces, the usual remedy for the accuracy that small faces cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import keras
import numpy as np

from fer_core.batches import ShuffledBatches
from fer_core.errors import InvalidInputError

#: The face sizes (px) the evaluation reports, beside the full 48 px.
FACE_SIZES = (12, 16, 24, 32)
#: The sizes (px) ``LowResBatches`` shrinks training faces to, one drawn per face.
TRAINING_SIZES = (12, 16, 20, 24, 32)
_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)  # what cv2.resize takes


def degrade(faces: np.ndarray, size: int) -> np.ndarray:
    """``faces`` as a face ``size`` px wide shows them: each shrunk to ``size`` x ``size``
    (area averaging) and scaled back up (bilinear) to its own size.

    ``faces``: (N, S, S) or (N, S, S, C) uint8, uint16 or float images; the result has the
    same shape and dtype. ``size`` is 1 to S; S itself returns an unchanged copy.
    """
    _check_faces(faces)
    check_face_size(size, faces.shape[1])
    if size == faces.shape[1] or len(faces) == 0:
        return faces.copy()
    return np.stack([_degrade_one(face, size) for face in faces])


def check_face_size(size: int, side: int) -> None:
    """Raise ``InvalidInputError`` unless ``size`` is a whole number of pixels in 1..``side``."""
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise InvalidInputError(f"a face size is a whole number of pixels, got {size!r}")
    if not 1 <= size <= side:
        raise InvalidInputError(
            f"face size {size} px is outside 1-{side} px: the faces are {side} px, and a "
            "smaller face is what the degradation shows (the full size leaves them as they are)"
        )


def degrade_at_random(
    faces: np.ndarray,
    share: float,
    rng: np.random.Generator,
    sizes: Sequence[int] = TRAINING_SIZES,
) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``faces`` in which each face, with probability ``share``, is degraded to a
    size drawn uniformly from ``sizes``; also returns each face's size (0: left as it was)."""
    _check_faces(faces)
    if not 0.0 <= share <= 1.0:
        raise InvalidInputError(f"the share of degraded faces must be in [0, 1], got {share}")
    if not sizes:
        raise InvalidInputError("degrading faces at random needs at least one size")
    for size in sizes:
        check_face_size(size, faces.shape[1])
    chosen = rng.random(len(faces)) < share
    drawn = rng.choice(np.asarray(sizes), len(faces))
    out = faces.copy()
    for i in np.flatnonzero(chosen):
        out[i] = _degrade_one(faces[i], int(drawn[i]))
    return out, np.where(chosen, drawn, 0)


def degraded_views(
    faces: np.ndarray, count: int, sizes: Sequence[int] = TRAINING_SIZES, seed: int = 0
) -> np.ndarray:
    """``(count + 1, N, ...)``: the faces as they are, then ``count`` copies of them, each face
    of each copy degraded to a size drawn from ``sizes``: fixed views a teacher can label."""
    if count < 1:
        raise InvalidInputError(f"degraded views need a count of at least 1, got {count}")
    rng = np.random.default_rng(seed)
    return np.stack([faces] + [degrade_at_random(faces, 1.0, rng, sizes)[0] for _ in range(count)])


class ViewBatches(ShuffledBatches):
    """Batches of faces that each come in fixed views with a target of their own
    (``degraded_views``, labelled view by view): every epoch shows each face once, as it is or,
    with probability ``share``, as one of its degraded views drawn at random.

    A teacher that labels the raw faces tells a small-face student what the sharp face
    showed; labelling each degraded view tells it what a strong small-face model can still
    read in that blur, which is the answer the student can learn to give.
    """

    def __init__(
        self,
        views: np.ndarray,
        targets: np.ndarray,
        batch_size: int,
        share: float,
        seed: int = 0,
        **kwargs,
    ) -> None:
        if views.shape[:2] != targets.shape[:2] or len(views) < 2:
            raise InvalidInputError(
                "views and targets must be (V, N, ...) arrays with V >= 2 and the same V and N, "
                f"got {views.shape} and {targets.shape}"
            )
        if not 0.0 < share <= 1.0:
            raise InvalidInputError(f"the share of degraded faces must be in (0, 1], got {share}")
        super().__init__(views[0], targets[0], batch_size, seed, **kwargs)
        self.views = views
        self.view_targets = targets
        self.share = share
        self._picks = self._draw_views()

    def _draw_views(self) -> np.ndarray:
        count = self.views.shape[1]
        degraded = self._rng.random(count) < self.share
        return np.where(degraded, self._rng.integers(1, len(self.views), count), 0)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        picks = self._picks[rows]
        return self.views[picks, rows], self.view_targets[picks, rows]

    def on_epoch_end(self) -> None:
        super().on_epoch_end()
        self._picks = self._draw_views()


class LowResBatches(keras.utils.PyDataset):
    """``source``'s ``(faces, targets)`` batches with a random ``share`` of the faces degraded
    to a random size of ``sizes`` (targets unchanged), for training on small faces.

    It wraps the training input's last step (after mixup, if any), so validation data, which
    ``fit`` takes apart from it, is never degraded. Each batch's draws depend only on
    ``seed``, the epoch and the batch index, so a run is repeatable whatever order and
    however many workers fetch its batches.
    """

    def __init__(
        self,
        source: keras.utils.PyDataset,
        share: float,
        sizes: Sequence[int] = TRAINING_SIZES,
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 < share <= 1.0:
            raise InvalidInputError(f"the share of degraded faces must be in (0, 1], got {share}")
        self.source = source
        self.share = share
        self.sizes = tuple(sizes)
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        faces, targets = self.source[index]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        degraded, _ = degrade_at_random(faces, self.share, rng, self.sizes)
        return degraded, targets

    def on_epoch_begin(self) -> None:
        self.source.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.source.on_epoch_end()
        self.epoch += 1


def _check_faces(faces: np.ndarray) -> None:
    if not isinstance(faces, np.ndarray) or faces.ndim not in (3, 4):
        shape = getattr(faces, "shape", type(faces).__name__)
        raise InvalidInputError(f"faces must be an (N, S, S) or (N, S, S, C) array, got {shape}")
    if faces.shape[1] != faces.shape[2]:
        raise InvalidInputError(f"faces must be square, got {faces.shape[1]}x{faces.shape[2]}")
    if faces.dtype not in _DTYPES:
        raise InvalidInputError(
            f"faces must be uint8, uint16, float32 or float64, got {faces.dtype}"
        )


def _degrade_one(face: np.ndarray, size: int) -> np.ndarray:
    side = face.shape[0]
    small = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
    # cv2 drops a single channel axis; the reshape puts it back.
    return cv2.resize(small, (side, side), interpolation=cv2.INTER_LINEAR).reshape(face.shape)
