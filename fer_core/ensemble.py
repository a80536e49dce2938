"""Average several trained networks into one Keras model that saves, loads and runs as one.

Networks trained from different seeds make different mistakes, so the mean of their
probabilities is more accurate than any of them (the classic FER recipe: every top result on
FER2013 is an ensemble or a much larger single network). Stored as one ``.keras`` file, an
ensemble is just another model to ``EmotionClassifier``, the evaluation and the dashboard.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import keras
from keras import layers

from fer_core.catalog import MODEL_FILE, resolve_model_path
from fer_core.errors import InvalidInputError
from fer_core.labels import CLASSES
from fer_core.litert import LITERT_FILE
from fer_core.storage import WeightsDtype, save_model
from fer_core.training import validation_settings

MEAN_LAYER = "mean_probabilities"


def average_models(
    members: Sequence[keras.Model | str | os.PathLike[str]], name: str = "ensemble"
) -> keras.Model:
    """One model whose output is the mean of ``members``' probabilities.

    Members are models or ``.keras`` files with the same input shape and classes; each is
    copied under its own name (``member_0``, ``member_1``, ...) so their layers never clash.
    A member that is itself an ensemble joins as its networks, so every network weighs the
    same: growing an ensemble by one network is ``average_models([old, new])``.
    """
    loaded = [
        network
        for m in members
        for network in _networks(
            m if isinstance(m, keras.Model) else keras.models.load_model(m, compile=False)
        )
    ]
    if len(loaded) < 2:
        raise InvalidInputError(f"an ensemble needs at least two members, got {len(loaded)}")
    shapes = {(tuple(m.input_shape[1:]), m.output_shape[-1]) for m in loaded}
    if len(shapes) != 1:
        raise InvalidInputError(f"ensemble members differ in input or output shape: {shapes}")
    inputs = keras.Input(loaded[0].input_shape[1:])
    outputs = [_renamed(m, f"member_{i}")(inputs) for i, m in enumerate(loaded)]
    mean = layers.Average(dtype="float32", name=MEAN_LAYER)(outputs)
    return keras.Model(inputs, mean, name=name)


def _networks(model: keras.Model) -> list[keras.Model]:
    """The networks an ensemble made by ``average_models`` averages, or ``[model]``."""
    if model.layers and model.layers[-1].name == MEAN_LAYER:
        return [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return [model]


def _renamed(model: keras.Model, name: str) -> keras.Model:
    config = model.get_config()
    config["name"] = name
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def save_ensemble(
    members: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    tta: str | None = None,
    weights: WeightsDtype = "float32",
) -> Path:
    """Write an ensemble of saved models as a model folder: ``model.keras``, ``classes.json``
    and a ``config.json`` recording the members and the test-time augmentation to use.

    Members must share classes and the validation split they were trained without, so that
    the ensemble can be calibrated (``scripts/calibrate.py``) on images none of them saw.
    ``weights="float16"`` halves the file (``fer_core.storage``), so that more members fit
    a repository's size limit; the ensemble is then evaluated as it is stored.
    """
    files = [resolve_model_path(m) for m in members]
    configs = [_folder_config(f) for f in files]
    classes = {_classes_of(f) for f in files}
    if len(classes) != 1:
        raise InvalidInputError(f"ensemble members predict different classes: {classes}")
    preprocessing = {json.dumps(c.get("preprocessing", {}), sort_keys=True) for c in configs}
    if len(preprocessing) != 1:
        raise InvalidInputError(f"ensemble members preprocess differently: {preprocessing}")
    splits = {validation_settings(c) for c in configs}
    if len(splits) != 1:
        raise InvalidInputError(
            f"ensemble members were validated on different splits {sorted(splits)}; "
            "train them with the same --val-fraction and --split-seed"
        )
    fraction, split_seed = splits.pop()
    model = average_models(files)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / LITERT_FILE).unlink(missing_ok=True)  # made from whatever was here before
    save_model(model, out / MODEL_FILE, weights)
    (out / "classes.json").write_text(json.dumps(list(classes.pop())))
    config = {
        "config": {"arch": "ensemble", "val_fraction": fraction, "split_seed": split_seed},
        "members": [
            entry for f, c in zip(files, configs, strict=True) for entry in _member_entries(f, c)
        ],
        "params": model.count_params(),
        "preprocessing": configs[0].get("preprocessing", {}),
        "inference": {"tta": tta},
        "weights_dtype": weights,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return out / MODEL_FILE


def _member_entries(model_file: Path, config: dict) -> list[dict]:
    """What ``config.json`` records of a member: an ensemble's own entries, as it joins flat."""
    if "members" in config:
        return config["members"]
    return [
        {
            "model": model_file.parent.name,
            "arch": config.get("config", {}).get("arch"),
            "params": config.get("params"),
        }
    ]


def _classes_of(model_file: Path) -> tuple[str, ...]:
    classes_file = model_file.parent / "classes.json"
    return tuple(json.loads(classes_file.read_text())) if classes_file.is_file() else CLASSES


def _folder_config(model_file: Path) -> dict:
    config_file = model_file.parent / "config.json"
    return json.loads(config_file.read_text()) if config_file.is_file() else {}
