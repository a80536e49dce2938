"""Save a Keras model with its weights stored as float16: half the file, the same answers.

A shipped model lives in git, where every byte stays in the history for good, and an
ensemble of several networks in float32 soon outgrows what a repository should carry.
Weights rounded to float16 (11 significant bits) move a network's probabilities by well under
1e-3 and its answers almost never. The file is a plain ``.keras`` archive: Keras loads it
with ``keras.models.load_model`` into the usual float32 variables (a variable casts what it
is assigned), so nothing that reads models needs to know.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Literal

import h5py
import keras
import numpy as np

WeightsDtype = Literal["float32", "float16"]
_WEIGHTS_ENTRY = "model.weights.h5"
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def save_model(
    model: keras.Model, path: str | os.PathLike[str], weights: WeightsDtype = "float32"
) -> Path:
    """``model.save(path)``, with the weights stored as ``weights`` (float32 or float16)."""
    if weights not in ("float32", "float16"):
        raise ValueError(f"weights must be 'float32' or 'float16', got {weights!r}")
    path = Path(path)
    if weights == "float32":
        model.save(path)
        return path
    with tempfile.TemporaryDirectory() as scratch:
        full = Path(scratch) / "model.keras"
        model.save(full)
        with zipfile.ZipFile(full) as source:
            entries = [(entry, source.read(entry)) for entry in source.infolist()]
    entries = [
        (entry, _half_weights(content) if entry.filename == _WEIGHTS_ENTRY else content)
        for entry, content in entries
    ]
    partial = path.with_name(path.stem + ".partial.keras")
    with zipfile.ZipFile(partial, "w") as target:
        for entry, content in entries:
            target.writestr(entry, content)
    partial.replace(path)  # a failed save never leaves a half-written model behind
    return path


def _half_weights(h5_bytes: bytes) -> bytes:
    """The same HDF5 weights file with every float32 array stored as float16."""
    out = io.BytesIO()
    with h5py.File(io.BytesIO(h5_bytes), "r") as source, h5py.File(out, "w") as target:
        _copy_attrs(source, target)

        def copy(name: str, item: h5py.Group | h5py.Dataset) -> None:
            if isinstance(item, h5py.Group):
                _copy_attrs(item, target.require_group(name))
                return
            data = item[()]
            if isinstance(data, np.ndarray) and data.dtype == np.float32:
                largest = float(np.abs(data).max(initial=0.0))
                if largest > _FLOAT16_MAX:
                    raise ValueError(f"weight {name} reaches {largest:g}, beyond float16's range")
                data = data.astype(np.float16)
            _copy_attrs(item, target.create_dataset(name, data=data))

        source.visititems(copy)
    return out.getvalue()


def _copy_attrs(source: h5py.HLObject, target: h5py.HLObject) -> None:
    for key, value in source.attrs.items():
        target.attrs[key] = value
