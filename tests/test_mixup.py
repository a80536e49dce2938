import json

import numpy as np
import pytest

from fer_core.mixup import MixupBatches
from fer_core.training import TrainConfig, train


def _numbered_faces(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Face i is the constant image i / n and its target is one-hot at i, so a blend of two
    faces can be read back from its pixels and checked against its target."""
    faces = np.repeat((np.arange(n) / n).astype(np.float32), 48 * 48).reshape(n, 48, 48, 1)
    return faces, np.eye(n, dtype=np.float32)


def test_each_face_is_blended_with_a_partner_in_the_proportion_of_its_target():
    faces, targets = _numbered_faces(10)
    batches = MixupBatches(faces, targets, batch_size=4, alpha=0.4, seed=3)
    assert len(batches) == 3

    primaries, weights = [], []
    for index in range(len(batches)):
        mixed, mixed_targets = batches[index]
        assert mixed.dtype == np.float32 and mixed.shape[1:] == (48, 48, 1)
        np.testing.assert_allclose(mixed_targets.sum(axis=1), 1.0, atol=1e-6)
        # The pixels are the target-weighted mean of the two faces' values.
        expected = mixed_targets @ (np.arange(10) / 10)
        np.testing.assert_allclose(mixed[:, 0, 0, 0], expected, atol=1e-6)
        np.testing.assert_allclose(mixed.min(axis=(1, 2, 3)), mixed.max(axis=(1, 2, 3)))
        primaries += list(mixed_targets.argmax(axis=1))
        weights += list(mixed_targets.max(axis=1))

    assert sorted(primaries) == list(range(10)), "every face leads one blend per epoch"
    assert min(weights) >= 0.5, "a face always dominates its own blend"
    assert max(weights) < 1.0, "and is blended with another"


def test_a_new_epoch_reshuffles():
    faces, targets = _numbered_faces(32)
    batches = MixupBatches(faces, targets, batch_size=32, alpha=0.2, seed=0)
    first = batches[0][1].argmax(axis=1)
    batches.on_epoch_end()
    second = batches[0][1].argmax(axis=1)
    assert sorted(first) == sorted(second) == list(range(32))
    assert not np.array_equal(first, second)


def test_bad_settings_are_named():
    faces, targets = _numbered_faces(4)
    with pytest.raises(ValueError, match="alpha must be positive"):
        MixupBatches(faces, targets, batch_size=2, alpha=0.0)
    with pytest.raises(ValueError, match="4 faces but 3 targets"):
        MixupBatches(faces, targets[:3], batch_size=2, alpha=0.2)
    with pytest.raises(ValueError, match="mixup alpha"):
        TrainConfig(data="d", out="o", mixup=-0.1).resolved()


def test_a_mixup_run_trains_and_records_its_alpha(folder_dataset, tmp_path, cache_dir):
    out = tmp_path / "mixup"
    config = TrainConfig(
        data=str(folder_dataset(per_class=4)),
        out=str(out),
        cache_dir=str(cache_dir),
        arch="vgg-tiny",
        epochs=1,
        batch_size=8,
        val_fraction=0.25,
        mixup=0.2,
    )
    result = train(config)
    assert json.loads((out / "config.json").read_text())["config"]["mixup"] == 0.2
    assert len(result.history) == 1 and np.isfinite(result.history["loss"]).all()
    assert result.model_path.is_file()
