import cv2
import numpy as np
import pytest
from skimage.data import camera

from fer_core.batches import ShuffledBatches
from fer_core.errors import InvalidInputError
from fer_core.lowres import (
    COMPRESSION_QUALITIES,
    TRAINING_SIZES,
    LowResBatches,
    ViewBatches,
    compress,
    degrade,
    degrade_at_random,
    degraded_views,
    enlarge,
    shrink,
)


def _detailed_faces(n: int = 4) -> np.ndarray:
    """(n, 48, 48) uint8 crops of a real photograph, full of edges and fine texture."""
    photo = camera()
    crops = [photo[60 * i : 60 * i + 240, 100 + 30 * i : 340 + 30 * i] for i in range(n)]
    return np.stack([cv2.resize(c, (48, 48), interpolation=cv2.INTER_AREA) for c in crops])


def _error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_the_smaller_the_face_the_more_detail_is_lost():
    faces = _detailed_faces()
    errors = {size: _error(degrade(faces, size), faces) for size in (12, 16, 24, 32)}
    assert errors[12] > errors[16] > errors[24] > errors[32] > 0
    assert errors[12] > 1.8 * errors[32], errors
    # Only detail is lost: the mean brightness stays, and a smooth face survives the trip.
    assert abs(degrade(faces, 12).mean() - faces.mean()) < 1.0
    gradient = np.tile(np.linspace(0.2, 0.8, 48, dtype=np.float32), (2, 48, 1))
    np.testing.assert_allclose(
        degrade(gradient, 12)[:, 6:-6, 6:-6], gradient[:, 6:-6, 6:-6], atol=2e-3
    )
    # A 12 px face holds no more than 12 x 12 values: shrinking it again loses little more.
    twelve = degrade(faces, 12)
    assert _error(degrade(twelve, 12), twelve) < 0.3 * errors[12]


def test_the_full_size_is_left_as_it_is():
    faces = _detailed_faces()
    same = degrade(faces, 48)
    np.testing.assert_array_equal(same, faces)
    assert same is not faces


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((3, 48, 48), np.uint8), ((3, 48, 48, 1), np.float32), ((2, 48, 48, 3), np.uint8)],
)
def test_shape_and_dtype_are_kept(shape, dtype):
    faces = np.random.default_rng(0).integers(0, 256, shape).astype(dtype)
    if dtype == np.float32:
        faces /= 255
    out = degrade(faces, 16)
    assert out.shape == faces.shape and out.dtype == faces.dtype
    assert not np.array_equal(out, faces)


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (0, "outside 1-48 px"),
        (-4, "outside 1-48 px"),
        (49, "outside 1-48 px"),
        (64, "outside 1-48 px"),
        (12.5, "whole number of pixels"),
        (True, "whole number of pixels"),
    ],
)
def test_bad_sizes_are_named(size, message):
    with pytest.raises(InvalidInputError, match=message):
        degrade(_detailed_faces(1), size)


def test_bad_faces_are_named():
    with pytest.raises(InvalidInputError, match="square"):
        degrade(np.zeros((2, 48, 40), np.uint8), 12)
    with pytest.raises(InvalidInputError, match=r"\(N, S, S\)"):
        degrade(np.zeros((48, 48), np.uint8), 12)
    with pytest.raises(InvalidInputError, match="float16"):
        degrade(np.zeros((1, 48, 48), np.float16), 12)


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((3, 48, 48), np.uint8), ((2, 48, 48, 1), np.float32), ((0, 48, 48), np.uint8)],
)
def test_shrink_then_enlarge_is_degrade_in_two_halves(shape, dtype):
    faces = np.resize(_detailed_faces(), shape).astype(dtype)
    small = shrink(faces, 16)
    assert small.shape == (shape[0], 16, 16, *shape[3:]) and small.dtype == dtype
    np.testing.assert_array_equal(enlarge(small, 48), degrade(faces, 16))
    # Each small pixel is the mean of the 3 x 3 block it stands for.
    if len(faces):
        block = faces[0, :3, :3].astype(np.float64).mean()
        assert abs(float(small[0, 0, 0].squeeze()) - block) <= 0.5 + 1e-6
    np.testing.assert_array_equal(shrink(faces, 48), faces)


@pytest.mark.parametrize("side", [8, 11, 24.0, True])
def test_enlarging_to_a_smaller_or_odd_side_is_named(side):
    with pytest.raises(InvalidInputError, match="enlarged to a whole number"):
        enlarge(np.zeros((1, 12, 12), np.uint8), side)


def test_about_the_share_asked_for_is_degraded_each_to_a_listed_size():
    faces = np.random.default_rng(1).random((4000, 48, 48, 1), dtype=np.float32)
    out, sizes = degrade_at_random(faces, 0.3, np.random.default_rng(7))
    assert out.shape == faces.shape and out.dtype == np.float32
    changed = np.abs(out - faces).max(axis=(1, 2, 3)) > 0
    np.testing.assert_array_equal(changed, sizes > 0)
    assert 0.27 < changed.mean() < 0.33
    assert set(np.unique(sizes[sizes > 0])) == set(TRAINING_SIZES)
    for i in np.flatnonzero(changed)[:20]:
        np.testing.assert_array_equal(out[i], degrade(faces[i : i + 1], int(sizes[i]))[0])

    again, again_sizes = degrade_at_random(faces, 0.3, np.random.default_rng(7))
    np.testing.assert_array_equal(again, out)
    np.testing.assert_array_equal(again_sizes, sizes)
    assert not degrade_at_random(faces[:50], 0.0, np.random.default_rng(0))[1].any()
    assert degrade_at_random(faces[:50], 1.0, np.random.default_rng(0))[1].all()
    with pytest.raises(InvalidInputError, match=r"in \[0, 1\]"):
        degrade_at_random(faces, 1.5, np.random.default_rng(0))


def test_compression_loses_more_the_lower_the_quality_and_the_smaller_the_face():
    faces = _detailed_faces()
    errors = {q: _error(compress(faces, q), faces) for q in (30, 60, 90)}
    assert errors[30] > errors[60] > errors[90] > 0, errors
    # It is JPEG: the same bytes as encoding and decoding each face by hand.
    encoded = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 60])[1] for f in faces]
    by_hand = np.stack([cv2.imdecode(e, cv2.IMREAD_GRAYSCALE) for e in encoded])
    np.testing.assert_array_equal(compress(faces, 60), by_hand)
    # At a face size the codec works on the small face: it loses more than shrinking alone,
    # and more than the same quality costs the full-size face.
    small = compress(faces, 60, size=24)
    assert _error(small, faces) > _error(degrade(faces, 24), faces) + 0.5
    assert _error(small, degrade(faces, 24)) > 0.5 * errors[60]
    # Float faces in [0, 1] come back as the same faces in uint8 do, scaled (to the odd
    # coefficient that a half level of rounding before the codec tips over).
    as_float = compress(faces.astype(np.float32)[..., None] / 255, 60, size=24)
    assert as_float.shape == (4, 48, 48, 1) and as_float.dtype == np.float32
    assert _error(as_float[..., 0] * 255, small) < 0.2 * _error(small, faces)
    colour = np.repeat(faces[..., None], 3, axis=3)
    assert compress(colour, 60).shape == colour.shape
    assert compress(faces[:0], 60).shape == (0, 48, 48)
    # The codec sits between degrade's two halves: it resizes a face as degrade does.
    shrunk = shrink(faces, 24)
    by_halves = enlarge(np.stack([compress(shrunk[i : i + 1], 60)[0] for i in range(4)]), 48)
    np.testing.assert_array_equal(small, by_halves)


@pytest.mark.parametrize(
    ("faces", "quality", "size", "message"),
    [
        (np.zeros((2, 48, 48), np.uint8), 0, None, "quality is 1-100"),
        (np.zeros((2, 48, 48), np.uint8), 101, None, "quality is 1-100"),
        (np.zeros((2, 48, 48), np.uint8), 50.0, None, "whole number"),
        (np.zeros((2, 48, 48), np.uint8), True, None, "whole number"),
        (np.zeros((2, 48, 48), np.uint8), 50, 49, "outside 1-48"),
        (np.zeros((2, 48, 48), np.uint16), 50, None, "8-bit"),
    ],
)
def test_bad_compression_settings_are_named(faces, quality, size, message):
    with pytest.raises(InvalidInputError, match=message):
        compress(faces, quality, size)


def test_a_share_of_faces_is_compressed_apart_from_the_share_shrunk():
    faces = np.random.default_rng(1).random((2000, 48, 48, 1), dtype=np.float32)
    out, sizes = degrade_at_random(faces, 0.0, np.random.default_rng(3), compression=0.4)
    changed = np.abs(out - faces).max(axis=(1, 2, 3)) > 0
    assert not sizes.any() and 0.36 < changed.mean() < 0.44
    qualities = {
        q
        for i in np.flatnonzero(changed)[:60]
        for q in COMPRESSION_QUALITIES
        if np.array_equal(out[i], compress(faces[i : i + 1], q)[0])
    }
    assert len(qualities) > 5, "each compressed face at a quality drawn from the list"

    both, both_sizes = degrade_at_random(faces, 1.0, np.random.default_rng(3), compression=1.0)
    for i in range(10):  # compressed at the size it was shrunk to
        matches = [
            q
            for q in COMPRESSION_QUALITIES
            if np.array_equal(both[i], compress(faces[i : i + 1], q, int(both_sizes[i]))[0])
        ]
        assert matches, i
    # Without compression the draws are what they were before compression existed.
    plain = degrade_at_random(faces[:50], 0.5, np.random.default_rng(9))
    asked = degrade_at_random(faces[:50], 0.5, np.random.default_rng(9), compression=0.0)
    np.testing.assert_array_equal(plain[0], asked[0])
    with pytest.raises(InvalidInputError, match=r"compressed faces must be in \[0, 1\]"):
        degrade_at_random(faces, 0.5, np.random.default_rng(0), compression=2.0)
    with pytest.raises(InvalidInputError, match="at least one quality"):
        degrade_at_random(faces, 0.5, np.random.default_rng(0), compression=0.5, qualities=())


def _numbered(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Detailed float faces and one-hot targets, face i at target i."""
    faces = np.random.default_rng(2).random((n, 48, 48, 1), dtype=np.float32)
    return faces, np.eye(n, dtype=np.float32)


def test_low_resolution_batches_degrade_a_share_and_keep_faces_with_their_targets():
    faces, targets = _numbered(200)
    batches = LowResBatches(ShuffledBatches(faces, targets, 32, seed=0), 0.5, seed=3)
    assert len(batches) == 7

    def epoch() -> tuple[list[int], int]:
        seen, degraded = [], 0
        for index in range(len(batches)):
            batch, batch_targets = batches[index]
            assert batch.dtype == np.float32 and batch.shape[1:] == (48, 48, 1)
            rows = batch_targets.argmax(axis=1)
            same = np.all(batch == faces[rows], axis=(1, 2, 3))
            degraded += int((~same).sum())
            seen += list(rows)
        return seen, degraded

    seen, degraded = epoch()
    assert sorted(seen) == list(range(200)), "every face once per epoch, with its own target"
    assert 70 < degraded < 130
    np.testing.assert_array_equal(batches[2][0], batches[2][0])  # a batch is repeatable
    first = batches[0][0]
    batches.on_epoch_end()
    assert not np.array_equal(batches[0][0], first), "a new epoch, new order and new draws"


def test_low_resolution_batches_need_a_share_to_change():
    faces, targets = _numbered(4)
    with pytest.raises(InvalidInputError, match="both shares 0"):
        LowResBatches(ShuffledBatches(faces, targets, 2), 0.0)
    with pytest.raises(InvalidInputError, match="compressed faces"):
        LowResBatches(ShuffledBatches(faces, targets, 2), 0.5, compression=1.5)


def test_low_resolution_batches_can_compress_faces_only():
    faces, targets = _numbered(64)
    batches = LowResBatches(ShuffledBatches(faces, targets, 64, seed=0), 0.0, compression=1.0)
    batch, batch_targets = batches[0]
    rows = batch_targets.argmax(axis=1)
    assert not np.any(np.all(batch == faces[rows], axis=(1, 2, 3))), "every face compressed"
    # Compressed at full size, not shrunk: far closer to the face than a 12 px view of it.
    assert _error(batch, faces[rows]) < _error(degrade(faces[rows], 12), faces[rows])


def test_degraded_views_keep_the_faces_first_then_degrade_every_face():
    faces = _detailed_faces(6)
    views = degraded_views(faces, 3, sizes=(12, 16), seed=4)
    assert views.shape == (4, 6, 48, 48) and views.dtype == faces.dtype
    assert np.array_equal(views[0], faces)
    for view in views[1:]:
        assert all(_error(v, f) > 2 for v, f in zip(view, faces, strict=True))
    assert np.array_equal(views, degraded_views(faces, 3, sizes=(12, 16), seed=4))
    with pytest.raises(InvalidInputError, match="at least 1"):
        degraded_views(faces, 0)


def test_view_batches_show_each_face_once_an_epoch_with_its_views_target():
    n, count = 40, 3
    faces = np.arange(n, dtype=np.float32)[:, None, None].repeat(4, 1).repeat(4, 2)
    views = np.stack([faces + 1000 * v for v in range(count + 1)])  # view v: 1000 v + face
    targets = np.stack([np.stack([np.full(2, 1000 * v + i) for i in range(n)]) for v in range(4)])
    batches = ViewBatches(views, targets.astype(np.float32), batch_size=16, share=0.5, seed=1)
    shown = []
    for _epoch in range(2):
        seen = np.concatenate([batches[i][0][:, 0, 0] for i in range(len(batches))])
        paired = np.concatenate([batches[i][1][:, 0] for i in range(len(batches))])
        assert np.array_equal(seen, paired)  # every face travels with its own view's target
        assert sorted(seen % 1000) == list(range(n))  # each face once
        shown.append(seen // 1000)
        batches.on_epoch_end()
    degraded = np.concatenate(shown) > 0
    assert 0.25 < degraded.mean() < 0.75 and set(np.concatenate(shown)) <= {0, 1, 2, 3}
    with pytest.raises(InvalidInputError, match="V >= 2"):
        ViewBatches(views[:1], targets[:1], 16, 0.5)
    with pytest.raises(InvalidInputError, match="share"):
        ViewBatches(views, targets, 16, 0.0)
