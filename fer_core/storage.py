"""Save a Keras model with its weights stored as float16 or int8: a half or a quarter of the
file, the same answers.

A shipped model lives in git, where every byte stays in the history for good, and an
ensemble of several networks in float32 soon outgrows what a repository should carry.
Weights rounded to float16 (11 significant bits) move a network's probabilities by well under
1e-3 and its answers almost never; such a file is a plain ``.keras`` archive that
``keras.models.load_model`` reads into the usual float32 variables (a variable casts what it
is assigned).

``int8`` goes further for the kernels (every weight array of two or more axes): each output
channel is scaled so that its largest weight is 127 and rounded, the usual per-channel weight
quantization, which moves a batch-norm network's answers about as little as float16 does;
vectors (biases, batch-norm statistics) stay float16. Only ``load_model`` here reads such a
file: it turns the kernels back into floats before Keras sees them, and a plain
``keras.models.load_model`` refuses it (a kernel is a group, not an array) rather than load
wrong weights.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Literal, get_args

import h5py
import keras
import numpy as np

WeightsDtype = Literal["float32", "float16", "int8"]
WEIGHTS_DTYPES: tuple[str, ...] = get_args(WeightsDtype)
_WEIGHTS_ENTRY = "model.weights.h5"
_FLOAT16_MAX = float(np.finfo(np.float16).max)
#: Marks an int8 kernel's group (its ``values`` and per-output-channel ``scale``).
_INT8_ENCODING = "int8 per output channel"


def save_model(
    model: keras.Model, path: str | os.PathLike[str], weights: WeightsDtype = "float32"
) -> Path:
    """``model.save(path)``, with the weights stored as ``weights`` (float32, float16 or
    int8; read an int8 file back with ``load_model``)."""
    if weights not in WEIGHTS_DTYPES:
        raise ValueError(f"weights must be one of {', '.join(WEIGHTS_DTYPES)}, got {weights!r}")
    path = Path(path)
    if weights == "float32":
        model.save(path)
        return path
    with tempfile.TemporaryDirectory() as scratch:
        full = Path(scratch) / "model.keras"
        model.save(full)
        with zipfile.ZipFile(full) as source:
            entries = [(entry, source.read(entry)) for entry in source.infolist()]
    shrink = _half_weights if weights == "float16" else _int8_weights
    _write_entries(
        path, [(e, shrink(c) if e.filename == _WEIGHTS_ENTRY else c) for e, c in entries]
    )
    return path


def load_model(path: str | os.PathLike[str]) -> keras.Model:
    """``keras.models.load_model(path, compile=False)`` for any file ``save_model`` writes,
    int8 kernels included, routed models' own layers known."""
    import fer_core.routing  # noqa: F401  (registers SmallFaceRouter and HorizontalFlip)

    path = Path(path)
    if not zipfile.is_zipfile(path):
        return keras.models.load_model(path, compile=False)
    with zipfile.ZipFile(path) as source:
        entries = [(entry, source.read(entry)) for entry in source.infolist()]
    weights = next((c for e, c in entries if e.filename == _WEIGHTS_ENTRY), None)
    if weights is None or not _has_int8(weights):
        return keras.models.load_model(path, compile=False)
    with tempfile.TemporaryDirectory() as scratch:
        plain = Path(scratch) / "model.keras"
        _write_entries(
            plain,
            [(e, _float_weights(c) if e.filename == _WEIGHTS_ENTRY else c) for e, c in entries],
        )
        return keras.models.load_model(plain, compile=False)


def _write_entries(path: Path, entries: list[tuple[zipfile.ZipInfo, bytes]]) -> None:
    partial = path.with_name(path.stem + ".partial.keras")
    with zipfile.ZipFile(partial, "w") as target:
        for entry, content in entries:
            target.writestr(entry, content)
    partial.replace(path)  # a failed save never leaves a half-written model behind


def _half_weights(h5_bytes: bytes) -> bytes:
    """The same HDF5 weights file with every float32 array stored as float16."""
    return _rewrite(h5_bytes, _store_half)


def _int8_weights(h5_bytes: bytes) -> bytes:
    """The same HDF5 weights file with every float32 kernel stored as int8 and a scale per
    output channel (its last axis), every other float32 array as float16."""

    def store(target: h5py.Group, name: str, data: np.ndarray) -> h5py.HLObject:
        if data.ndim < 2:
            return _store_half(target, name, data)
        largest = np.abs(data).max(axis=tuple(range(data.ndim - 1)))
        scale = np.where(largest > 0, largest / 127.0, 1.0).astype(np.float32)
        group = target.create_group(name)
        group.attrs["encoding"] = _INT8_ENCODING
        group.create_dataset("values", data=np.rint(data / scale).astype(np.int8))
        group.create_dataset("scale", data=scale)
        return group

    return _rewrite(h5_bytes, store)


def _store_half(target: h5py.Group, name: str, data: np.ndarray) -> h5py.Dataset:
    largest = float(np.abs(data).max(initial=0.0))
    if largest > _FLOAT16_MAX:
        raise ValueError(f"weight {name} reaches {largest:g}, beyond float16's range")
    return target.create_dataset(name, data=data.astype(np.float16))


def _rewrite(h5_bytes: bytes, store_float32) -> bytes:
    """A copy of an HDF5 file in which ``store_float32(target, name, array)`` writes each
    float32 array (and returns what it made, for the array's attributes)."""
    out = io.BytesIO()
    with h5py.File(io.BytesIO(h5_bytes), "r") as source, h5py.File(out, "w") as target:
        _copy_attrs(source, target)

        def copy(name: str, item: h5py.Group | h5py.Dataset) -> None:
            if isinstance(item, h5py.Group):
                _copy_attrs(item, target.require_group(name))
                return
            data = item[()]
            if isinstance(data, np.ndarray) and data.dtype == np.float32:
                made = store_float32(target, name, data)
            else:
                made = target.create_dataset(name, data=data)
            _copy_attrs(item, made)

        source.visititems(copy)
    return out.getvalue()


def _has_int8(h5_bytes: bytes) -> bool:
    with h5py.File(io.BytesIO(h5_bytes), "r") as source:
        found = source.visititems(
            lambda _, item: True if item.attrs.get("encoding") == _INT8_ENCODING else None
        )
    return bool(found)


def _float_weights(h5_bytes: bytes) -> bytes:
    """An int8 weights file (``_int8_weights``) with its kernels back as float32 arrays."""
    out = io.BytesIO()
    with h5py.File(io.BytesIO(h5_bytes), "r") as source, h5py.File(out, "w") as target:
        _copy_attrs(source, target)
        quantized: list[str] = []

        def copy(name: str, item: h5py.Group | h5py.Dataset) -> None:
            if any(name.startswith(prefix + "/") for prefix in quantized):
                return
            if isinstance(item, h5py.Group) and item.attrs.get("encoding") == _INT8_ENCODING:
                quantized.append(name)
                kernel = item["values"][()].astype(np.float32) * item["scale"][()]
                made = target.create_dataset(name, data=kernel)
                _copy_attrs(item, made)
                del made.attrs["encoding"]
            elif isinstance(item, h5py.Group):
                _copy_attrs(item, target.require_group(name))
            else:
                _copy_attrs(item, target.create_dataset(name, data=item[()]))

        source.visititems(copy)
    return out.getvalue()


def _copy_attrs(source: h5py.HLObject, target: h5py.HLObject) -> None:
    for key, value in source.attrs.items():
        target.attrs[key] = value
