"""Load labelled face datasets into DataFrames, from the layouts users actually have.

Supported layouts (detected from ``root``):

- ``folders``: the Kaggle FER2013 folders, ``root/{train,test}/<emotion>/*.png|jpg|...``;
- ``face-expression``: the Kaggle "face expression recognition dataset",
  ``root/images/{train,validation}/<emotion>/`` (``validation`` becomes the test split);
- ``csv``: the original ``fer2013.csv`` (``emotion,pixels,Usage``), given as the file or a
  folder holding it; ``Training`` -> train, ``PublicTest`` -> test, ``PrivateTest`` ->
  ``private_test``;
- ``archive``: a ``.npz`` file written by ``save_archive`` (``scripts/pack_dataset.py``): the
  decoded splits of any of the above in one compressed file, to move a dataset to a training
  machine without copying tens of thousands of small files.

Decoded images are cached as one array file per dataset version, keyed on every
file's path, size and modification time, so a changed dataset is re-read and an unchanged
one loads many times faster than decoding it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.preprocessing import LabelEncoder
from tqdm.auto import tqdm

from fer_core.errors import (
    ClassMismatchError,
    DatasetError,
    DatasetNotFoundError,
    EmptySplitError,
    UnknownLayoutError,
)
from fer_core.labels import CLASSES, canonical_emotion, label_encoder
from fer_core.preprocessing import IMAGE_SIZE, to_gray48

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
#: Emotion codes of the original fer2013.csv.
CSV_EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CSV_SPLITS = {"Training": "train", "PublicTest": "test", "PrivateTest": "private_test"}
_CACHE_VERSION = 1


@dataclass(frozen=True)
class SkippedImage:
    """An input that could not be used, and why."""

    path: str
    reason: str


@dataclass
class FerDataset:
    """Named splits, as DataFrames: ``image`` (uint8 48x48), ``label``, ``label_id``, ``path``."""

    splits: dict[str, pd.DataFrame]
    classes: tuple[str, ...]
    encoder: LabelEncoder
    layout: str
    root: Path
    skipped: list[SkippedImage] = field(default_factory=list)
    from_cache: bool = False

    @property
    def train(self) -> pd.DataFrame:
        return self.splits["train"]

    @property
    def test(self) -> pd.DataFrame:
        return self.splits["test"]


def to_arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """A split DataFrame -> (images uint8 (N, 48, 48), integer labels (N,))."""
    if len(frame) == 0:
        return np.empty((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.empty(0, np.int64)
    return np.stack(frame["image"].to_numpy()), frame["label_id"].to_numpy(np.int64)


def default_cache_dir() -> Path:
    """``$FER_CORE_CACHE``, else ``$XDG_CACHE_HOME/fer_core``, else ``~/.cache/fer_core``."""
    if env := os.environ.get("FER_CORE_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fer_core"


def load_dataset(
    root: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: bool = True,
) -> FerDataset:
    """Load a dataset from any supported layout; see the module docstring.

    Unreadable or truncated images are skipped, listed in ``FerDataset.skipped`` and reported
    with a warning; everything else that is wrong raises a ``DatasetError`` naming the path.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetNotFoundError(f"dataset root {root} does not exist")
    layout, sources = _detect_layout(root)
    if layout == "archive":
        splits, skipped = _read_arrays(sources["archive"])
        return _assemble(splits, skipped, layout, root, from_cache=False)
    fingerprint = _fingerprint(layout, sources)
    cache_file = Path(cache_dir or default_cache_dir()) / f"{fingerprint}.npz"

    raw = _read_cache(cache_file) if use_cache else None
    from_cache = raw is not None
    if raw is None:
        raw = _read_csv(sources["csv"]) if layout == "csv" else _read_folders(sources, progress)
        if use_cache:
            _write_cache(cache_file, raw)
    splits, skipped = raw
    dataset = _assemble(splits, skipped, layout, root, from_cache)
    if skipped:
        shown = "; ".join(f"{s.path} ({s.reason})" for s in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        message = f"skipped {len(skipped)} unreadable input(s) under {root}: {shown}{more}"
        warnings.warn(message, stacklevel=2)
        log.warning(message)
    return dataset


# --- layout detection -------------------------------------------------------------------


def _detect_layout(root: Path) -> tuple[str, dict[str, Path]]:
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return "csv", {"csv": root}
        if root.suffix.lower() == ".npz":
            return "archive", {"archive": root}
        raise UnknownLayoutError(f"{root} is a file but not a .csv or .npz; {_LAYOUT_HELP}")
    for csv in (root / "fer2013.csv", root / "fer2013" / "fer2013.csv"):
        if csv.is_file():
            return "csv", {"csv": csv}
    if (root / "train").is_dir() and (root / "test").is_dir():
        return "folders", {"train": root / "train", "test": root / "test"}
    for base in (root / "images", root):
        if (base / "train").is_dir() and (base / "validation").is_dir():
            return "face-expression", {"train": base / "train", "test": base / "validation"}
    if (root / "train").is_dir() or (root / "images" / "train").is_dir():
        raise DatasetNotFoundError(
            f"{root} has a train split but no test split (expected {root / 'test'} "
            f"or {root / 'images' / 'validation'})"
        )
    raise UnknownLayoutError(f"no dataset found at {root}; {_LAYOUT_HELP}")


_LAYOUT_HELP = (
    "expected ROOT/{train,test}/<emotion>/*.png, ROOT/images/{train,validation}/<emotion>/, "
    "fer2013.csv, or a .npz archive from scripts/pack_dataset.py"
)


def _list_split(split_dir: Path) -> tuple[list[tuple[Path, str]], list[SkippedImage]]:
    """(image path, emotion) pairs of one split folder, and the files that cannot be used."""
    items: list[tuple[Path, str]] = []
    skipped: list[SkippedImage] = []
    for entry in sorted(os.scandir(split_dir), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            skipped.append(SkippedImage(entry.path, "not inside an emotion folder"))
            continue
        emotion = canonical_emotion(entry.name, where=entry.path)
        for file in sorted(os.scandir(entry.path), key=lambda e: e.name):
            if file.name.startswith(".") or file.is_dir():
                continue
            if Path(file.name).suffix.lower() in IMAGE_EXTENSIONS:
                items.append((Path(file.path), emotion))
            else:
                skipped.append(SkippedImage(file.path, "not an image file"))
    return items, skipped


def _fingerprint(layout: str, sources: dict[str, Path]) -> str:
    """A key that changes whenever any file of the dataset is added, removed or modified."""
    digest = hashlib.sha256(f"v{_CACHE_VERSION}|{layout}".encode())
    for name, path in sorted(sources.items()):
        digest.update(f"|{name}={path.resolve()}".encode())
        if path.is_file():
            stat = path.stat()
            digest.update(f"|{stat.st_size}:{stat.st_mtime_ns}".encode())
            continue
        for folder, _, files in sorted(os.walk(path)):
            for file in sorted(files):
                stat = os.stat(os.path.join(folder, file))
                digest.update(f"|{folder}/{file}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


# --- reading ----------------------------------------------------------------------------

RawSplits = tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], list[SkippedImage]]


# What Pillow raises for corrupt, truncated or hostile files (SyntaxError: broken PNG chunks).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def _decode(path: Path) -> np.ndarray:
    """Decode one image fully; Pillow raises on truncated files instead of padding them."""
    with Image.open(path) as image:
        image.load()
        if image.mode.startswith("I;16"):  # 16-bit gray: scale, since convert("L") clips
            gray = (np.asarray(image, dtype=np.float32) / 257.0).round().astype(np.uint8)
        else:
            gray = np.asarray(image.convert("L"))
    return to_gray48(gray)


def _read_folders(sources: dict[str, Path], progress: bool) -> RawSplits:
    splits = {}
    skipped: list[SkippedImage] = []
    for split, split_dir in sources.items():
        items, split_skipped = _list_split(split_dir)
        skipped += split_skipped
        images, labels, paths = [], [], []
        for path, emotion in tqdm(items, desc=f"decoding {split}", disable=not progress):
            try:
                images.append(_decode(path))
            except _DECODE_ERRORS as error:
                skipped.append(SkippedImage(str(path), f"unreadable image: {error}"))
                continue
            labels.append(emotion)
            paths.append(str(path))
        if not images:
            raise EmptySplitError(f"split {split_dir} holds no readable images")
        splits[split] = (np.stack(images), np.array(labels), np.array(paths))
    return splits, skipped


def _read_csv(csv_path: Path) -> RawSplits:
    try:
        table = pd.read_csv(csv_path, dtype=str, skipinitialspace=True)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DatasetError(f"cannot read {csv_path}: {error}") from error
    table.columns = [c.strip().lower() for c in table.columns]
    missing = {"emotion", "pixels", "usage"} - set(table.columns)
    if missing:
        raise DatasetError(
            f"{csv_path} lacks column(s) {sorted(missing)}; expected emotion,pixels,Usage"
        )
    collected: dict[str, tuple[list, list, list]] = {}
    skipped: list[SkippedImage] = []
    rows = zip(table["emotion"], table["pixels"], table["usage"], strict=True)
    for row, (code, pixels, usage) in enumerate(rows, start=2):  # row 1 is the header
        where = f"{csv_path}:{row}"
        split = CSV_SPLITS.get(str(usage).strip())
        if split is None:
            skipped.append(SkippedImage(where, f"unknown Usage {usage!r}"))
            continue
        try:
            if not 0 <= int(code) < len(CSV_EMOTIONS):
                raise ValueError(code)
            emotion = CSV_EMOTIONS[int(code)]
            values = np.array(str(pixels).split(), dtype=np.int64)
        except ValueError:
            skipped.append(SkippedImage(where, f"bad emotion {code!r} or pixel values"))
            continue
        if values.size != IMAGE_SIZE * IMAGE_SIZE or values.min() < 0 or values.max() > 255:
            skipped.append(
                SkippedImage(where, f"expected 2304 pixels in 0..255, got {values.size}")
            )
            continue
        images, labels, paths = collected.setdefault(split, ([], [], []))
        images.append(values.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE))
        labels.append(emotion)
        paths.append(where)
    for split in ("train", "test"):
        if split not in collected:
            raise EmptySplitError(f"{csv_path} holds no readable rows for split {split!r}")
    splits = {
        split: (np.stack(images), np.array(labels), np.array(paths))
        for split, (images, labels, paths) in collected.items()
    }
    return splits, skipped


def _assemble(
    splits: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    skipped: list[SkippedImage],
    layout: str,
    root: Path,
    from_cache: bool,
) -> FerDataset:
    encoder = label_encoder()
    if "train" not in splits:
        raise EmptySplitError(f"{root} holds no train split (found {sorted(splits)})")
    present = {name: tuple(sorted(set(labels))) for name, (_, labels, _) in splits.items()}
    if "test" in present and present["train"] != present["test"]:
        only_train = sorted(set(present["train"]) - set(present["test"]))
        only_test = sorted(set(present["test"]) - set(present["train"]))
        raise ClassMismatchError(
            f"train and test splits under {root} hold different classes: "
            f"only in train {only_train}, only in test {only_test}"
        )
    frames = {
        name: pd.DataFrame(
            {
                "image": list(images),
                "label": labels,
                "label_id": encoder.transform(labels),
                "path": paths,
            }
        )
        for name, (images, labels, paths) in splits.items()
    }
    classes = tuple(c for c in CLASSES if c in present["train"])
    return FerDataset(frames, classes, encoder, layout, root, skipped, from_cache)


# --- cache ------------------------------------------------------------------------------


def _read_arrays(file: Path) -> RawSplits:
    """Splits stored by ``_write_arrays``; a ``DatasetError`` naming the file if unreadable."""
    try:
        with np.load(file, allow_pickle=False) as stored:
            names = json.loads(str(stored["splits"]))
            splits = {
                name: (stored[f"{name}_images"], stored[f"{name}_labels"], stored[f"{name}_paths"])
                for name in names
            }
            skipped = [SkippedImage(**item) for item in json.loads(str(stored["skipped"]))]
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
        raise DatasetError(f"cannot read dataset arrays from {file}: {error}") from error
    for name, (images, labels, paths) in splits.items():
        if (
            images.ndim != 3
            or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE)
            or not len(labels) == len(paths) == len(images)
        ):
            raise DatasetError(
                f"{file}: split {name!r} holds images of shape {images.shape}, "
                f"{len(labels)} labels and {len(paths)} paths; expected "
                f"(N, {IMAGE_SIZE}, {IMAGE_SIZE}) and N of each"
            )
        unknown = sorted(set(labels.tolist()) - set(CLASSES))
        if unknown:
            raise DatasetError(f"{file}: split {name!r} has unknown labels {unknown[:5]}")
    return splits, skipped


def _read_cache(cache_file: Path) -> RawSplits | None:
    if not cache_file.is_file():
        return None
    try:
        return _read_arrays(cache_file)
    except DatasetError as error:
        log.warning("ignoring unreadable dataset cache: %s", error)
        return None


def _write_cache(cache_file: Path, raw: RawSplits) -> None:
    try:
        # Uncompressed: loading is what must be fast.
        _write_arrays(cache_file, raw, compress=False)
    except OSError as error:
        log.warning("could not write dataset cache %s: %s", cache_file, error)


def save_archive(
    dataset: FerDataset, path: str | os.PathLike[str], splits: Sequence[str] | None = None
) -> Path:
    """Write ``splits`` (default: all) of a loaded dataset as one compressed ``.npz`` archive
    that ``load_dataset`` reads back; paths are stored relative to the dataset's root."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise ValueError(f"a dataset archive must end in .npz, got {path}")
    names = list(splits or dataset.splits)
    unknown = sorted(set(names) - set(dataset.splits))
    if unknown:
        raise ValueError(
            f"no split(s) {unknown} in {dataset.root}; it has {sorted(dataset.splits)}"
        )
    if "train" not in names:
        raise ValueError("an archive must hold the train split")
    raw: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for name in names:
        frame = dataset.splits[name]
        images, _ = to_arrays(frame)
        paths = [_relative(p, dataset.root) for p in frame["path"]]
        raw[name] = (images, frame["label"].to_numpy(str), np.array(paths, dtype=str))
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_arrays(path, (raw, list(dataset.skipped)), compress=True)
    return path


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


def _write_arrays(file: Path, raw: RawSplits, compress: bool) -> None:
    """Write atomically (temporary name, then rename) so a crash never leaves a bad file."""
    splits, skipped = raw
    arrays: dict[str, np.ndarray] = {
        "splits": np.array(json.dumps(sorted(splits))),
        "skipped": np.array(json.dumps([vars(s) for s in skipped])),
    }
    for name, (images, labels, paths) in splits.items():
        arrays |= {f"{name}_images": images, f"{name}_labels": labels, f"{name}_paths": paths}
    partial = file.with_suffix(f".{os.getpid()}.partial.npz")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        (np.savez_compressed if compress else np.savez)(partial, **arrays)
        partial.replace(file)
    finally:
        partial.unlink(missing_ok=True)
