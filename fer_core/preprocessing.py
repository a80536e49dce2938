"""The one preprocessing path used by training and by every inference path.

Any of gray / BGR / RGB / RGBA images of any size become grayscale 48x48 float32 in [0, 1],
shaped (N, 48, 48, 1). Keeping a single function means training and live inference cannot
drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np

from fer_core.errors import InvalidInputError

IMAGE_SIZE = 48
ColorOrder = Literal["bgr", "rgb"]

_TO_GRAY = {
    ("bgr", 3): cv2.COLOR_BGR2GRAY,
    ("rgb", 3): cv2.COLOR_RGB2GRAY,
    ("bgr", 4): cv2.COLOR_BGRA2GRAY,
    ("rgb", 4): cv2.COLOR_RGBA2GRAY,
}


def _as_uint8(image: np.ndarray) -> np.ndarray:
    """Bring one image to uint8: floats are read as [0, 1] unless their maximum exceeds 1,
    wider unsigned integers (a 16-bit PNG or camera) are scaled by their range, and signed
    integers are read as grey levels clipped to 0-255."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == bool:
        return image.astype(np.uint8) * 255
    if np.issubdtype(image.dtype, np.floating):
        if not np.all(np.isfinite(image)):
            raise InvalidInputError("image contains NaN or infinite values")
        scale = 255.0 if image.size and image.max() <= 1.0 else 1.0
        return np.clip(image * scale + 0.5, 0, 255).astype(np.uint8)
    if np.issubdtype(image.dtype, np.unsignedinteger):  # uint16 and wider: a full range
        top = np.iinfo(image.dtype).max
        return np.round(image.astype(np.float64) * (255.0 / top)).astype(np.uint8)
    if np.issubdtype(image.dtype, np.integer):
        return np.clip(image, 0, 255).astype(np.uint8)
    raise InvalidInputError(f"unsupported image dtype {image.dtype}")


def to_gray48(image: np.ndarray, color: ColorOrder = "bgr") -> np.ndarray:
    """One image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) -> uint8 grayscale (48, 48)."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise InvalidInputError(
            f"expected an image shaped (H, W) or (H, W, 1|3|4), got {image.shape}"
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InvalidInputError(f"image has no pixels: shape {image.shape}")
    if color not in ("bgr", "rgb"):
        raise InvalidInputError(f"color must be 'bgr' or 'rgb', got {color!r}")
    image = _as_uint8(image)
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image), _TO_GRAY[(color, image.shape[2])])
    if image.shape != (IMAGE_SIZE, IMAGE_SIZE):
        shrinking = image.shape[0] > IMAGE_SIZE or image.shape[1] > IMAGE_SIZE
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        image = cv2.resize(image, (IMAGE_SIZE, IMAGE_SIZE), interpolation=interpolation)
    return image


def to_gray48_batch(
    images: np.ndarray | Sequence[np.ndarray], color: ColorOrder = "bgr"
) -> np.ndarray:
    """Many images (an (N, ...) array or a list of any sizes) -> uint8 (N, 48, 48)."""
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise InvalidInputError(
                f"expected a batch shaped (N, H, W) or (N, H, W, 1|3|4), got {images.shape}"
            )
        if images.ndim == 3 and images.shape[2] in (3, 4) and images.shape[1] > 4:
            raise InvalidInputError(
                f"got one array shaped {images.shape}: that is a single colour image, not a "
                "batch; pass image[np.newaxis] or a list of images"
            )
        gray = images.ndim == 3 or images.shape[3] == 1
        if gray and images.dtype == np.uint8 and images.shape[1:3] == (IMAGE_SIZE, IMAGE_SIZE):
            return images.reshape(len(images), IMAGE_SIZE, IMAGE_SIZE)  # fast path: no work
    out = np.empty((len(images), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i] = to_gray48(image, color)
    return out


def preprocess(
    images: np.ndarray | Sequence[np.ndarray],
    color: ColorOrder = "bgr",
    standardize: bool = False,
) -> np.ndarray:
    """Face crops -> float32 (N, 48, 48, 1) in [0, 1].

    ``standardize=True`` instead gives each image zero mean and unit variance, for models
    trained that way (their config records it).
    """
    batch = to_gray48_batch(images, color).astype(np.float32)
    batch /= 255.0
    if standardize:
        mean = batch.mean(axis=(1, 2), keepdims=True)
        std = batch.std(axis=(1, 2), keepdims=True)
        batch = (batch - mean) / np.maximum(std, 1e-6)
    return batch[..., np.newaxis]
