"""Small faces: what a face a few pixels wide in a room camera gives the classifier.

A face that spans N pixels of a frame, cut out and scaled up to the classifier's 48 px, has
lost every detail that N pixels cannot hold. Shrinking a 48 px face to N px with area
averaging (what a camera sensor does) and scaling it back up bilinearly (what the crop's
resize does) reproduces that loss. ``degrade`` does it to measure a model on small faces
(``fer_core.evaluation.accuracy_by_face_size``); ``LowResBatches`` does it to a random share
of the training faces, the usual remedy for the accuracy that small faces cost.

A camera then compresses what its sensor saw, and the fewer pixels a face holds, the more of
its detail the codec's blocks replace (``fer_core.codec`` measures it through H.264: at CRF
28, ``fast`` read 24 px test faces 3.9 points worse than uncompressed ones and 16 px ones 5.7,
before its small-face networks were taught such faces; 3.4 and 4.0 after). ``compress`` does
that to a face with JPEG, the block codec every image library has, so training can show it
too (``LowResBatches``'s ``compression``).
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
#: The JPEG qualities a compressed training face is drawn from, uniformly: from a well-fed
#: camera stream's (95) to a starved one's (30).
COMPRESSION_QUALITIES = tuple(range(30, 96, 5))
_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)  # what cv2.resize takes


def degrade(faces: np.ndarray, size: int) -> np.ndarray:
    """``faces`` as a face ``size`` px wide shows them: each shrunk to ``size`` x ``size``
    (area averaging) and scaled back up (bilinear) to its own size.

    ``faces``: (N, S, S) or (N, S, S, C) uint8, uint16 or float images; the result has the
    same shape and dtype. ``size`` is 1 to S; S itself returns an unchanged copy.
    """
    return enlarge(shrink(faces, size), faces.shape[1])


def shrink(faces: np.ndarray, size: int) -> np.ndarray:
    """``faces`` shrunk to ``size`` x ``size`` px by area averaging, as a camera's sensor
    gathers a face that spans ``size`` pixels: the first half of ``degrade``, for whatever
    acts on the face at that size (a codec) before ``enlarge`` scales it back up."""
    _check_faces(faces)
    check_face_size(size, faces.shape[1])
    return _resized_all(faces, size, cv2.INTER_AREA)


def enlarge(faces: np.ndarray, side: int) -> np.ndarray:
    """``faces`` scaled up bilinearly to ``side`` x ``side`` px, as a small face's crop is
    resized to the classifier's input: the second half of ``degrade``."""
    _check_faces(faces)
    if isinstance(side, bool) or not isinstance(side, int | np.integer) or side < faces.shape[1]:
        raise InvalidInputError(
            f"faces of {faces.shape[1]} px are enlarged to a whole number of pixels at least "
            f"that large, got {side!r}"
        )
    return _resized_all(faces, int(side), cv2.INTER_LINEAR)


def check_face_size(size: int, side: int) -> None:
    """Raise ``InvalidInputError`` unless ``size`` is a whole number of pixels in 1..``side``."""
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise InvalidInputError(f"a face size is a whole number of pixels, got {size!r}")
    if not 1 <= size <= side:
        raise InvalidInputError(
            f"face size {size} px is outside 1-{side} px: the faces are {side} px, and a "
            "smaller face is what the degradation shows (the full size leaves them as they are)"
        )


def compress(faces: np.ndarray, quality: int, size: int | None = None) -> np.ndarray:
    """``faces`` as a camera's codec leaves them: each JPEG-encoded at ``quality`` (1-100) and
    decoded, at ``size`` px when given (shrunk there first and scaled back up after, as
    ``degrade``: the codec works on the pixels the face has in the frame).

    ``faces``: (N, S, S) or (N, S, S, C) uint8 images, or float ones in [0, 1]; the result
    has the same shape and dtype.
    """
    _check_faces(faces)
    _check_codec_input(faces)
    check_quality(quality)
    size = faces.shape[1] if size is None else size
    check_face_size(size, faces.shape[1])
    if len(faces) == 0:
        return faces.copy()
    coded = np.stack([_jpeg(face, quality) for face in shrink(faces, size)])
    return enlarge(coded, faces.shape[1])


def check_quality(quality: int) -> None:
    """Raise ``InvalidInputError`` unless ``quality`` is a JPEG quality, a whole 1..100."""
    if isinstance(quality, bool) or not isinstance(quality, int | np.integer):
        raise InvalidInputError(f"a JPEG quality is a whole number, got {quality!r}")
    if not 1 <= quality <= 100:
        raise InvalidInputError(f"a JPEG quality is 1-100, got {quality}")


def degrade_at_random(
    faces: np.ndarray,
    share: float,
    rng: np.random.Generator,
    sizes: Sequence[int] = TRAINING_SIZES,
    compression: float = 0.0,
    qualities: Sequence[int] = COMPRESSION_QUALITIES,
) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``faces`` in which each face, with probability ``share``, is degraded to a
    size drawn uniformly from ``sizes`` and, with probability ``compression`` (drawn apart),
    compressed at a JPEG quality drawn from ``qualities`` (at its degraded size, if it has
    one); also returns each face's size (0: left its size)."""
    _check_faces(faces)
    for name, value in (("degraded", share), ("compressed", compression)):
        if not 0.0 <= value <= 1.0:
            raise InvalidInputError(f"the share of {name} faces must be in [0, 1], got {value}")
    if not sizes:
        raise InvalidInputError("degrading faces at random needs at least one size")
    for size in sizes:
        check_face_size(size, faces.shape[1])
    chosen = rng.random(len(faces)) < share
    drawn = rng.choice(np.asarray(sizes), len(faces))
    quality = np.zeros(len(faces), int)
    if compression:  # drawn only when asked: runs without it draw as they always did
        _check_codec_input(faces)
        if not qualities:
            raise InvalidInputError("compressing faces at random needs at least one quality")
        for q in qualities:
            check_quality(q)
        compressed = rng.random(len(faces)) < compression
        quality = np.where(compressed, rng.choice(np.asarray(qualities), len(faces)), 0)
    side = faces.shape[1]
    out = faces.copy()
    for i in np.flatnonzero(chosen | (quality > 0)):
        size = int(drawn[i]) if chosen[i] else side
        out[i] = _degrade_one(faces[i], size, int(quality[i]) or None)
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
    to a random size of ``sizes`` and a random ``compression`` share compressed
    (``degrade_at_random``; targets unchanged), for training on faces as room cameras give them.

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
        compression: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("degraded", share), ("compressed", compression)):
            if not 0.0 <= value <= 1.0:
                raise InvalidInputError(f"the share of {name} faces must be in [0, 1], got {value}")
        if not (share or compression):
            raise InvalidInputError("LowResBatches changes no face with both shares 0")
        self.source = source
        self.share = share
        self.sizes = tuple(sizes)
        self.seed = seed
        self.compression = compression
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        faces, targets = self.source[index]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        degraded, _ = degrade_at_random(faces, self.share, rng, self.sizes, self.compression)
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


def _check_codec_input(faces: np.ndarray) -> None:
    if faces.dtype == np.uint16:
        raise InvalidInputError("JPEG holds 8-bit faces: give uint8 ones, or float ones in [0, 1]")


def _degrade_one(face: np.ndarray, size: int, quality: int | None = None) -> np.ndarray:
    small = _resized(face, size, cv2.INTER_AREA)
    if quality is not None:
        small = _jpeg(small, quality)
    return _resized(small, face.shape[0], cv2.INTER_LINEAR)


def _resized_all(faces: np.ndarray, size: int, interpolation: int) -> np.ndarray:
    out = np.empty((len(faces), size, size, *faces.shape[3:]), faces.dtype)
    for i, face in enumerate(faces):
        out[i] = _resized(face, size, interpolation)
    return out


def _resized(face: np.ndarray, size: int, interpolation: int) -> np.ndarray:
    """One square face at ``size`` px (itself, unchanged, at its own size)."""
    if face.shape[0] == size:
        return face
    # cv2 drops a single channel axis; the reshape puts it back.
    resized = cv2.resize(face, (size, size), interpolation=interpolation)
    return resized.reshape(size, size, *face.shape[2:])


def _jpeg(face: np.ndarray, quality: int) -> np.ndarray:
    """``face`` (uint8, or float in [0, 1]; one channel or three) through JPEG at ``quality``."""
    pixels = face if face.dtype == np.uint8 else np.clip(np.rint(face * 255.0), 0, 255)
    pixels = pixels.astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]  # JPEG's grayscale is a 2-D image
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise InvalidInputError(f"JPEG could not encode a face of shape {face.shape}")
    flag = cv2.IMREAD_GRAYSCALE if pixels.ndim == 2 else cv2.IMREAD_COLOR
    decoded = cv2.imdecode(encoded, flag).reshape(face.shape)
    return decoded if face.dtype == np.uint8 else (decoded / 255.0).astype(face.dtype)
