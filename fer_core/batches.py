"""Training batches: the faces and their targets, reshuffled every epoch."""

from __future__ import annotations

import math

import keras
import numpy as np


class ShuffledBatches(keras.utils.PyDataset):
    """``(faces, targets)`` batches in a new random order each epoch: the plain training
    input, and the base of the batch sources that change faces (mixup, low resolution)."""

    def __init__(
        self, faces: np.ndarray, targets: np.ndarray, batch_size: int, seed: int = 0, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if len(faces) != len(targets):
            raise ValueError(f"{len(faces)} faces but {len(targets)} targets")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.faces = faces
        self.targets = targets
        self.batch_size = batch_size
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(faces))

    def __len__(self) -> int:
        return math.ceil(len(self.faces) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.faces[rows], self.targets[rows]

    def on_epoch_end(self) -> None:
        self._order = self._rng.permutation(len(self.faces))
