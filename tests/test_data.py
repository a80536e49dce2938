import time
import warnings

import cv2
import numpy as np
import pytest
from conftest import CSV_CODES, synthetic_face, write_split

from fer_core.data import load_dataset, to_arrays
from fer_core.errors import (
    ClassMismatchError,
    DatasetError,
    DatasetNotFoundError,
    EmptySplitError,
    UnknownEmotionError,
    UnknownLayoutError,
)
from fer_core.labels import CLASSES


def test_kaggle_folders_layout(folder_dataset, cache_dir):
    dataset = load_dataset(folder_dataset(per_class=3, test_per_class=2), cache_dir=cache_dir)
    assert dataset.layout == "folders"
    assert len(dataset.train) == 3 * 7 and len(dataset.test) == 2 * 7
    assert {"image", "label", "label_id", "path"} <= set(dataset.train.columns)
    assert dataset.classes == CLASSES
    assert list(dataset.encoder.classes_) == list(CLASSES)
    row = dataset.train.iloc[0]
    assert row["image"].shape == (48, 48) and row["image"].dtype == np.uint8
    assert dataset.encoder.inverse_transform([row["label_id"]])[0] == row["label"]
    images, labels = to_arrays(dataset.test)
    assert images.shape == (14, 48, 48) and labels.shape == (14,)


def test_images_of_any_size_and_extension_are_read(tmp_path, cache_dir):
    root = tmp_path / "jpgs"
    write_split(root / "train", 2, ext=".jpg", size=96)
    write_split(root / "test", 1, ext=".JPEG", size=64)
    dataset = load_dataset(root, cache_dir=cache_dir)
    assert len(dataset.train) == 14 and len(dataset.test) == 7
    assert dataset.test.iloc[0]["image"].shape == (48, 48)


def test_face_expression_layout(tmp_path, cache_dir):
    root = tmp_path / "face-expression"
    write_split(root / "images" / "train", 2)
    write_split(root / "images" / "validation", 1)
    dataset = load_dataset(root, cache_dir=cache_dir)
    assert dataset.layout == "face-expression"
    assert len(dataset.train) == 14 and len(dataset.test) == 7


def _write_csv(path, rows):
    lines = ["emotion,pixels,Usage"] + [f"{c},{p},{u}" for c, p, u in rows]
    path.write_text("\n".join(lines) + "\n")


def _csv_rows(usages=("Training", "PublicTest", "PrivateTest")):
    rows = []
    for usage in usages:
        for name, code in CSV_CODES.items():
            pixels = " ".join(map(str, synthetic_face(name, seed=code).ravel()))
            rows.append((code, pixels, usage))
    return rows


def test_fer2013_csv_layout_from_file_or_folder(tmp_path, cache_dir):
    csv = tmp_path / "fer2013.csv"
    _write_csv(csv, _csv_rows())
    for root in (csv, tmp_path):
        dataset = load_dataset(root, cache_dir=cache_dir)
        assert dataset.layout == "csv"
        assert set(dataset.splits) == {"train", "test", "private_test"}
        assert len(dataset.train) == 7
        # Codes follow the original CSV order (4 = sad, 6 = neutral), not the canonical one.
        by_label = dict(zip(dataset.train["label"], dataset.train["image"], strict=True))
        np.testing.assert_array_equal(by_label["sad"], synthetic_face("sad", seed=4))
        np.testing.assert_array_equal(by_label["neutral"], synthetic_face("neutral", seed=6))


def test_csv_bad_rows_are_skipped_and_reported(tmp_path, cache_dir):
    rows = _csv_rows(("Training", "PublicTest"))
    rows.append((3, "1 2 3", "Training"))  # too few pixels
    rows.append((9, rows[0][1], "Training"))  # unknown emotion code
    rows.append((-1, rows[0][1], "Training"))  # negative codes must not wrap around
    _write_csv(tmp_path / "fer2013.csv", rows)
    with pytest.warns(UserWarning, match="skipped 3"):
        dataset = load_dataset(tmp_path, cache_dir=cache_dir)
    assert len(dataset.train) == 7
    assert [s.path.rsplit(":", 1)[1] for s in dataset.skipped] == ["16", "17", "18"]


def test_csv_missing_columns_is_an_error(tmp_path, cache_dir):
    (tmp_path / "fer2013.csv").write_text("emotion,pixels\n0,1 2 3\n")
    with pytest.raises(DatasetError, match="usage"):
        load_dataset(tmp_path, cache_dir=cache_dir)


def test_second_load_comes_from_cache_and_is_much_faster(tmp_path, cache_dir):
    root = tmp_path / "bigger"
    write_split(root / "train", 150)
    write_split(root / "test", 20)
    start = time.perf_counter()
    first = load_dataset(root, cache_dir=cache_dir, progress=False)
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    second = load_dataset(root, cache_dir=cache_dir, progress=False)
    second_s = time.perf_counter() - start
    assert not first.from_cache and second.from_cache
    np.testing.assert_array_equal(to_arrays(first.train)[0], to_arrays(second.train)[0])
    assert second_s * 3 < first_s  # 10x and more on FER2013 itself (see README)


def test_changed_dataset_is_read_again(folder_dataset, cache_dir):
    root = folder_dataset(per_class=2)
    assert len(load_dataset(root, cache_dir=cache_dir).train) == 14
    cv2.imwrite(str(root / "train" / "happy" / "extra.png"), synthetic_face("happy", 99))
    changed = load_dataset(root, cache_dir=cache_dir)
    assert not changed.from_cache and len(changed.train) == 15


def test_missing_root(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")


def test_unknown_layout(tmp_path):
    (tmp_path / "something").mkdir()
    with pytest.raises(UnknownLayoutError, match="expected ROOT"):
        load_dataset(tmp_path)


def test_missing_test_split(tmp_path):
    write_split(tmp_path / "train", 1)
    with pytest.raises(DatasetNotFoundError, match="no test split"):
        load_dataset(tmp_path)


def test_split_without_images(tmp_path, cache_dir):
    write_split(tmp_path / "train", 1)
    (tmp_path / "test" / "happy").mkdir(parents=True)
    with pytest.raises(EmptySplitError, match=str(tmp_path / "test")):
        load_dataset(tmp_path, cache_dir=cache_dir)


def test_unknown_emotion_folder_names_the_path(folder_dataset, cache_dir):
    root = folder_dataset(per_class=1)
    (root / "train" / "contempt").mkdir()
    with pytest.raises(UnknownEmotionError, match="contempt"):
        load_dataset(root, cache_dir=cache_dir)


def test_emotion_folder_aliases_are_accepted(tmp_path, cache_dir):
    for split in ("train", "test"):
        write_split(tmp_path / split, 1, classes=["happy", "sad"])
        (tmp_path / split / "happy").rename(tmp_path / split / "Happiness")
    dataset = load_dataset(tmp_path, cache_dir=cache_dir)
    assert set(dataset.train["label"]) == {"happy", "sad"}


def test_classes_differing_between_splits(tmp_path, cache_dir):
    write_split(tmp_path / "train", 1)
    write_split(tmp_path / "test", 1, classes=[c for c in CLASSES if c != "disgust"])
    with pytest.raises(ClassMismatchError, match="disgust"):
        load_dataset(tmp_path, cache_dir=cache_dir)


def test_corrupt_and_truncated_images_are_skipped_and_named(folder_dataset, cache_dir):
    root = folder_dataset(per_class=2)
    corrupt = root / "train" / "angry" / "corrupt.png"
    corrupt.write_bytes(b"this is not a png")
    good = root / "train" / "fear" / "fear_0.png"
    truncated = root / "train" / "fear" / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:-40])
    (root / "train" / "sad" / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning, match="skipped 3") as caught:
        dataset = load_dataset(root, cache_dir=cache_dir)
    assert len(dataset.train) == 14
    skipped = {s.path: s.reason for s in dataset.skipped}
    assert set(skipped) == {str(corrupt), str(truncated), str(root / "train" / "sad" / "notes.txt")}
    assert "corrupt.png" in str(caught[0].message)
    # The report survives the cache too: a second load still tells.
    with pytest.warns(UserWarning, match="skipped 3"):
        assert load_dataset(root, cache_dir=cache_dir).from_cache


def test_png_cut_at_a_chunk_boundary_is_skipped(folder_dataset, cache_dir):
    root = folder_dataset(per_class=1)
    good = (root / "train" / "happy" / "happy_0.png").read_bytes()
    cut = root / "train" / "happy" / "cut.png"
    cut.write_bytes(good[: good.index(b"IDAT") - 4])  # ends right before the image data
    with pytest.warns(UserWarning, match="skipped 1"):
        dataset = load_dataset(root, cache_dir=cache_dir)
    assert [s.path for s in dataset.skipped] == [str(cut)]


def test_16_bit_images_are_scaled_not_clipped(tmp_path, cache_dir):
    for split in ("train", "test"):
        write_split(tmp_path / split, 1, classes=["happy", "sad"])
    sixteen = np.full((48, 48), 257 * 100, np.uint16)
    cv2.imwrite(str(tmp_path / "train" / "sad" / "deep.png"), sixteen)
    dataset = load_dataset(tmp_path, cache_dir=cache_dir)
    image = dataset.train.set_index("path").loc[str(tmp_path / "train" / "sad" / "deep.png")]
    assert np.all(image["image"] == 100)


def test_split_of_only_unreadable_images(tmp_path, cache_dir):
    write_split(tmp_path / "train", 1)
    (tmp_path / "test" / "happy").mkdir(parents=True)
    (tmp_path / "test" / "happy" / "bad.png").write_bytes(b"\x89PNG broken")
    with warnings.catch_warnings(), pytest.raises(EmptySplitError, match="no readable"):
        warnings.simplefilter("ignore")
        load_dataset(tmp_path, cache_dir=cache_dir)


def test_unreadable_cache_is_rebuilt(folder_dataset, cache_dir):
    root = folder_dataset(per_class=1)
    load_dataset(root, cache_dir=cache_dir)
    (cache_file,) = cache_dir.iterdir()
    original = cache_file.read_bytes()
    for broken in (b"garbage", original[: len(original) // 2]):  # junk, then a truncated zip
        cache_file.write_bytes(broken)
        reloaded = load_dataset(root, cache_dir=cache_dir)
        assert not reloaded.from_cache and len(reloaded.train) == 7
    assert load_dataset(root, cache_dir=cache_dir).from_cache, "the rebuilt cache is used"
    assert not list(cache_dir.glob("*.partial.npz"))


def test_archive_round_trip_keeps_images_labels_and_paths(folder_dataset, tmp_path, cache_dir):
    from fer_core.data import save_archive

    root = folder_dataset(per_class=3, test_per_class=2)
    original = load_dataset(root, cache_dir=cache_dir, progress=False)
    archive = save_archive(original, tmp_path / "packed.npz")
    packed = load_dataset(archive)
    assert packed.layout == "archive" and packed.classes == original.classes
    for split in ("train", "test"):
        a, b = original.splits[split], packed.splits[split]
        np.testing.assert_array_equal(np.stack(a["image"]), np.stack(b["image"]))
        assert list(a["label"]) == list(b["label"])
        assert list(a["label_id"]) == list(b["label_id"])
        assert b["path"].iloc[0] == f"{split}/angry/angry_0.png", "paths relative to the root"


def test_archive_of_the_train_split_alone_loads(folder_dataset, tmp_path, cache_dir):
    from fer_core.data import save_archive

    original = load_dataset(folder_dataset(per_class=2), cache_dir=cache_dir, progress=False)
    packed = load_dataset(save_archive(original, tmp_path / "train.npz", splits=["train"]))
    assert sorted(packed.splits) == ["train"] and len(packed.train) == 2 * len(CLASSES)
    with pytest.raises(ValueError, match="train split"):
        save_archive(original, tmp_path / "test.npz", splits=["test"])
    with pytest.raises(ValueError, match=r"no split\(s\) \['valid'\]"):
        save_archive(original, tmp_path / "x.npz", splits=["train", "valid"])


def test_corrupt_or_misshapen_archive_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(DatasetError, match=r"broken\.npz"):
        load_dataset(broken)
    misshapen = tmp_path / "misshapen.npz"
    np.savez(
        misshapen,
        splits=np.array('["train"]'),
        skipped=np.array("[]"),
        train_images=np.zeros((2, 32, 32), np.uint8),
        train_labels=np.array(["happy", "sad"]),
        train_paths=np.array(["a", "b"]),
    )
    with pytest.raises(DatasetError, match=r"misshapen\.npz.*\(2, 32, 32\)"):
        load_dataset(misshapen)
