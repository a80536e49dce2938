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
from typing import Literal

import keras
import numpy as np
from keras import layers

from fer_core.catalog import MODEL_FILE, resolve_model_path
from fer_core.errors import InvalidInputError
from fer_core.labels import CLASSES
from fer_core.litert import LITERT_FILE, SMALL_LITERT_FILE
from fer_core.models import renamed
from fer_core.routing import BAND_POOLS, ROUTER_LAYER, routed_parts, unflipped
from fer_core.storage import WeightsDtype, load_model, save_model
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
        for network in _networks(m if isinstance(m, keras.Model) else load_model(m))
    ]
    if len(loaded) < 2:
        raise InvalidInputError(f"an ensemble needs at least two members, got {len(loaded)}")
    shapes = {(tuple(m.input_shape[1:]), m.output_shape[-1]) for m in loaded}
    if len(shapes) != 1:
        raise InvalidInputError(f"ensemble members differ in input or output shape: {shapes}")
    inputs = keras.Input(loaded[0].input_shape[1:])
    outputs = [renamed(m, f"member_{i}")(inputs) for i, m in enumerate(loaded)]
    mean = layers.Average(dtype="float32", name=MEAN_LAYER)(outputs)
    return keras.Model(inputs, mean, name=name)


def _networks(model: keras.Model) -> list[keras.Model]:
    """The networks an ensemble made by ``average_models`` averages (or a routed model's, its
    general networks' then its small-face network's), or ``[model]``."""
    if parts := routed_parts(model):
        return [network for part in parts for network in _networks(unflipped(part))]
    if model.layers and model.layers[-1].name == MEAN_LAYER:
        return [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return [model]


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


#: The face sizes (px) a routed model's gate is fitted on: every size a room camera gives a
#: face between these, not only the few the evaluation reports (a gate fitted to those would
#: learn their particular resampling).
ROUTING_SIZES = tuple(range(12, 41))


def save_routed(
    general: str | os.PathLike[str],
    small: str | os.PathLike[str],
    out: str | os.PathLike[str],
    data: str | os.PathLike[str],
    tta: str | None = None,
    weights: WeightsDtype = "float32",
    sizes: Sequence[int] = ROUTING_SIZES,
    draws: int = 4,
    seed: int = 0,
    small_tta: Literal["flip"] | None = "flip",
    small_part_tta: Literal["flip"] | None = None,
) -> Path:
    """Write a model folder in which ``small`` reads the faces that hold little detail and
    ``general`` the rest (``fer_core.routing``), the gate fitted on the validation split of
    ``data``'s ``train/``: each face as it is and at ``draws`` sizes drawn from ``sizes``.
    Both must have been validated on that split. ``small_tta="flip"`` averages the small-face
    part over each face and its mirror image (``None`` when ``tta`` mirrors already). With a
    ``tta``, the gate is fitted on each part's answers averaged over those views;
    ``small_part_tta="flip"`` caps the small-face part's views at the face and its mirror
    image when ``tta`` reads more (``fer_core.classifier.capped_tta``).

    ``config.json`` records the members (the small-face network last, marked), the gate and
    the log loss of each network and of the mix on the fitting faces.
    """
    from fer_core.classifier import capped_tta, tta_views
    from fer_core.data import load_dataset, to_arrays
    from fer_core.lowres import degrade_at_random
    from fer_core.preprocessing import preprocess
    from fer_core.routing import detail_bands, fit_gate, route_small_faces, small_face_part
    from fer_core.training import split_train_val

    files = [resolve_model_path(general), resolve_model_path(small)]
    configs = [_folder_config(f) for f in files]
    if len({_classes_of(f) for f in files}) != 1:
        raise InvalidInputError("the general and small-face models predict different classes")
    splits = {validation_settings(c) for c in configs}
    if len(splits) != 1:
        raise InvalidInputError(
            f"the general and small-face models were validated on different splits "
            f"{sorted(splits)}; the gate must be fitted on faces neither saw"
        )
    fraction, split_seed = splits.pop()
    images, codes = to_arrays(load_dataset(data).train)
    _, faces, _, labels = split_train_val(images, codes, fraction, split_seed)
    rng = np.random.default_rng(seed)
    shown = [faces] + [degrade_at_random(faces, 1.0, rng, sizes)[0] for _ in range(draws)]
    shown = preprocess(np.concatenate(shown))
    labels = np.tile(labels, draws + 1)
    networks = [load_model(f) for f in files]
    parts = [networks[0], small_face_part(networks[1], small_tta)]
    # Each part's answer over the views the model will read (``tta``), as it will give it:
    # a gate fitted on single views of a ten-crop model underrates its general part.
    general_p, small_p = (
        np.mean(
            [m.predict(view, batch_size=256, verbose=0) for view in tta_views(shown, views)],
            axis=0,
        )
        for m, views in zip(parts, (tta, capped_tta(tta, small_part_tta)), strict=True)
    )
    bands = keras.ops.convert_to_numpy(detail_bands(shown))
    gate_weights, bias = fit_gate(bands, general_p, small_p, labels)
    model = route_small_faces(*networks, gate_weights, bias, small_tta)
    share = keras.ops.convert_to_numpy(model.get_layer(ROUTER_LAYER).general_share(shown))
    mixed = share[:, None] * general_p + (1.0 - share[:, None]) * small_p

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (LITERT_FILE, SMALL_LITERT_FILE):  # made from whatever was here before
        (out / stale).unlink(missing_ok=True)
    save_model(model, out / MODEL_FILE, weights)
    (out / "classes.json").write_text(json.dumps(list(_classes_of(files[0]))))
    rows = np.arange(len(labels))
    config = {
        "config": {"arch": "routed", "val_fraction": fraction, "split_seed": split_seed},
        "members": [
            *_member_entries(files[0], configs[0]),
            *({**entry, "reads": "small faces"} for entry in _member_entries(files[1], configs[1])),
        ],
        "routing": {
            "bands_px": list(BAND_POOLS),
            "weights": gate_weights,
            "bias": bias,
            "small_tta": small_tta,
            "fitted_on": f"{fraction:.0%} validation split of train/ (seed {split_seed}), "
            f"each face as it is and at {draws} sizes drawn from {min(sizes)}-{max(sizes)} px"
            + (f", each part's answer averaged over the {tta} views" if tta else "")
            + (f" ({small_part_tta} for the small-face part)" if small_part_tta else ""),
            "log_loss": {
                name: float(-np.log(p[rows, labels] + 1e-12).mean())
                for name, p in (("general", general_p), ("small", small_p), ("routed", mixed))
            },
        },
        "params": model.count_params(),
        "preprocessing": configs[0].get("preprocessing", {}),
        "inference": {"tta": tta} | ({"small_part_tta": small_part_tta} if small_part_tta else {}),
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
