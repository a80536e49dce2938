"""Mixup batches for training (Zhang et al., 2018, "mixup: Beyond Empirical Risk Minimization").

Each face is blended with another face of the same shuffled batch, and its target with that
face's target in the same proportion. FER2013's labels are noisy and many expressions sit
between two classes (fear and surprise, sad and neutral); training on blends teaches the
network to answer in proportion instead of memorising each image, which is what the long
schedules over-fit on. The augmentation layers inside the model then jitter the blend.
"""

from __future__ import annotations

import numpy as np

from fer_core.batches import ShuffledBatches


class MixupBatches(ShuffledBatches):
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
        if alpha <= 0:
            raise ValueError(f"mixup alpha must be positive, got {alpha}")
        super().__init__(faces, targets.astype(np.float32), batch_size, seed, **kwargs)
        self.alpha = alpha

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        faces, targets = super().__getitem__(index)
        own = self._rng.beta(self.alpha, self.alpha, len(faces)).astype(np.float32)
        own = np.maximum(own, 1.0 - own)
        partner = np.roll(np.arange(len(faces)), 1)  # the batch is shuffled: a random other face
        face_weight = own.reshape(-1, *([1] * (faces.ndim - 1)))
        mixed_faces = face_weight * faces + (1.0 - face_weight) * faces[partner]
        mixed_targets = own[:, None] * targets + (1.0 - own[:, None]) * targets[partner]
        return mixed_faces.astype(np.float32), mixed_targets
