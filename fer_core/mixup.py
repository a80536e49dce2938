"""Mixup batches for training (Zhang et al., 2018, "mixup: Beyond Empirical Risk Minimization").

Each face is blended with another face of the same shuffled batch, and its target with that
face's target in the same proportion. FER2013's labels are noisy and many expressions sit
between two classes (fear and surprise, sad and neutral); training on blends teaches the
network to answer in proportion instead of memorising each image, which is what the long
schedules over-fit on. The augmentation layers inside the model then jitter the blend.
"""

from __future__ import annotations

import math

import keras
import numpy as np


class MixupBatches(keras.utils.PyDataset):
    """Shuffled ``(faces, targets)`` batches in which every face is mixed with a partner.

    The weight of each face's own image is ``max(lam, 1 - lam)`` with ``lam`` drawn from
    Beta(``alpha``, ``alpha``), so the face still dominates its blend (the variant most image
    recipes use); ``alpha`` of 0.1-0.4 keeps most blends close to one face. Targets must be
    probability rows (one-hot or soft), and stay so after mixing.
    """

    def __init__(
        self,
        faces: np.ndarray,
        targets: np.ndarray,
        batch_size: int,
        alpha: float,
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if alpha <= 0:
            raise ValueError(f"mixup alpha must be positive, got {alpha}")
        if len(faces) != len(targets):
            raise ValueError(f"{len(faces)} faces but {len(targets)} targets")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.faces = faces
        self.targets = targets.astype(np.float32)
        self.batch_size = batch_size
        self.alpha = alpha
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(faces))

    def __len__(self) -> int:
        return math.ceil(len(self.faces) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        faces, targets = self.faces[rows], self.targets[rows]
        own = self._rng.beta(self.alpha, self.alpha, len(rows)).astype(np.float32)
        own = np.maximum(own, 1.0 - own)
        partner = np.roll(np.arange(len(rows)), 1)  # the batch is shuffled: a random other face
        face_weight = own.reshape(-1, *([1] * (faces.ndim - 1)))
        mixed_faces = face_weight * faces + (1.0 - face_weight) * faces[partner]
        mixed_targets = own[:, None] * targets + (1.0 - own[:, None]) * targets[partner]
        return mixed_faces.astype(np.float32), mixed_targets

    def on_epoch_end(self) -> None:
        self._order = self._rng.permutation(len(self.faces))
