"""Synthetic datasets and real face images for the tests; no FER2013 data is used."""

from __future__ import annotations

# aiortc (through pylibsrtp) segfaults at import if TensorFlow was imported first, and pytest
# runs every test in one process: import it before any test can pull in TensorFlow.
import aiortc  # noqa: F401  # isort: skip

import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_core.labels import CLASSES

# The original fer2013.csv emotion codes, for writing CSV fixtures.
CSV_CODES = {
    name: code
    for code, name in enumerate(("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"))
}


def synthetic_face(label: str, seed: int, size: int = 48) -> np.ndarray:
    """A gray image whose brightness pattern depends on the class, so labels are learnable."""
    rng = np.random.default_rng(seed)
    level = 40 + 25 * CLASSES.index(label)
    image = rng.normal(level, 20, (size, size)).clip(0, 255).astype(np.uint8)
    return image


def write_split(
    split_dir: Path,
    per_class: int,
    classes: Iterable[str] = CLASSES,
    ext: str = ".png",
    size: int = 48,
) -> None:
    for label in classes:
        folder = split_dir / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            seed = zlib.crc32(f"{split_dir.name}/{label}/{i}".encode())
            image = synthetic_face(label, seed=seed, size=size)
            cv2.imwrite(str(folder / f"{label}_{i}{ext}"), image)


@pytest.fixture
def folder_dataset(tmp_path: Path) -> Callable[..., Path]:
    """Factory: a Kaggle FER2013-style ``root/{train,test}/<emotion>/`` dataset."""

    def make(per_class: int = 4, test_per_class: int = 2, **kwargs) -> Path:
        root = tmp_path / "fer_folders"
        write_split(root / "train", per_class, **kwargs)
        write_split(root / "test", test_per_class, **kwargs)
        return root

    return make


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    from skimage.data import astronaut

    return cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="session")
def astronaut_face(astronaut_bgr: np.ndarray) -> np.ndarray:
    """The astronaut's face, found by the Haar detector (a real, smiling face)."""
    from fer_core.detection import HaarFaceDetector, crop_faces

    boxes = HaarFaceDetector().detect(astronaut_bgr)
    assert len(boxes) == 1
    return crop_faces(astronaut_bgr, boxes)[0]
