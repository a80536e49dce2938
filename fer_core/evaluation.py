"""Score a classifier on a labelled split: accuracy, macro F1, per-class scores, confusion."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from fer_core.calibration import (
    TemperatureScaler,
    expected_calibration_error,
    negative_log_likelihood,
)
from fer_core.classifier import TTA, EmotionClassifier, resolve_model_path
from fer_core.codec import DEFAULT_CRF, check_crf, through_h264
from fer_core.data import FerDataset, load_dataset, to_arrays
from fer_core.errors import DatasetError, InvalidInputError
from fer_core.labels import CLASSES
from fer_core.lowres import FACE_SIZES, check_face_size, degrade
from fer_core.preprocessing import IMAGE_SIZE
from fer_core.reports import write_report
from fer_core.training import split_train_val, validation_settings


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> dict:
    """Metrics of integer predictions against integer labels, as a JSON-ready dict."""
    codes = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=codes, zero_division=0
    )
    return {
        "n_images": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=codes, average="macro", zero_division=0)),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=codes).tolist(),
    }


def accuracy_by_face_size(
    classifier: EmotionClassifier,
    images: np.ndarray,
    labels: np.ndarray,
    sizes: Sequence[int] = FACE_SIZES,
    full_size_probs: np.ndarray | None = None,
    h264_crf: int | None = None,
) -> dict:
    """How well ``classifier`` reads ``images`` as faces ``sizes`` px wide would show them
    (``fer_core.lowres.degrade``: shrunk with area averaging, scaled back up bilinearly), beside
    the full-size figure: what a room camera's small faces cost. With ``h264_crf`` every size,
    the full one too, also goes through a 1080p H.264 stream at that CRF
    (``fer_core.codec.through_h264``; ``images`` then uint8), as a camera's video delivers it,
    and the report says ``"h264_crf"``.

    ``images``: (N, 48, 48) faces, ``labels`` their codes in ``classifier.classes`` order.
    Predictions take the model's default path (its own test-time views), as the headline
    figure does; ``full_size_probs``, that path's probabilities for ``images`` if already at
    hand, spares computing them again. Returns a JSON-ready dict::

        {"sizes_px": [48, 32, 24, 16, 12],            # full size first, then smaller
         "accuracy": {"48": 0.70, "32": 0.70, ...},   # keyed by str(size)
         "macro_f1": {"48": 0.66, "32": 0.66, ...},
         "n_images": N,
         "default_tta": "tencrop" | "flip" | None}    # the views every figure used
    """
    if len(images) == 0:
        raise ValueError("cannot evaluate on an empty set of images")
    if np.ndim(images) < 3 or np.shape(images)[1:3] != (IMAGE_SIZE, IMAGE_SIZE):
        raise InvalidInputError(
            f"face sizes are measured on (N, {IMAGE_SIZE}, {IMAGE_SIZE}) faces, "
            f"got shape {np.shape(images)}"
        )
    report: dict = {
        "sizes_px": _report_sizes(sizes),
        "accuracy": {},
        "macro_f1": {},
        "n_images": len(images),
        "default_tta": classifier.default_tta,
    }
    if h264_crf is not None:
        report["h264_crf"] = h264_crf
    for size in report["sizes_px"]:
        if h264_crf is not None:
            probs = classifier.predict_proba(through_h264(images, size, h264_crf))
        elif size == IMAGE_SIZE and full_size_probs is not None:
            probs = full_size_probs
        else:
            probs = classifier.predict_proba(degrade(images, size))
        scored = classification_metrics(labels, probs.argmax(axis=1), classifier.classes)
        report["accuracy"][str(size)] = scored["accuracy"]
        report["macro_f1"][str(size)] = scored["macro_f1"]
    return report


def _report_sizes(sizes: Sequence[int]) -> list[int]:
    """The full size and ``sizes`` (each checked), largest first, each once."""
    for size in sizes:
        check_face_size(size, IMAGE_SIZE)
    return sorted({IMAGE_SIZE, *(int(size) for size in sizes)}, reverse=True)


def evaluate(
    classifier: EmotionClassifier,
    images: np.ndarray,
    labels: np.ndarray,
    tta: Sequence[TTA] = (),
    face_sizes: Sequence[int] = (),
    h264_crf: int | None = None,
) -> dict:
    """Metrics of ``classifier`` on ``images`` as ``predict_proba`` gives them by default,
    plus each requested TTA beside them.

    ``labels`` are integer codes in ``classifier.classes`` order. The headline figures (and
    ``faces_per_second``) are the model's default prediction path, its own test-time
    augmentation included; other views are reported under ``"tta"``, the single-view
    figure (``"none"``) always among them when the default path augments. ``face_sizes``
    adds ``"by_face_size"``, the same path's figures on smaller faces
    (``accuracy_by_face_size``), and with ``h264_crf`` ``"by_face_size_h264"``, the same sizes
    through a 1080p H.264 stream at that CRF.
    """
    if len(images) == 0:
        raise ValueError("cannot evaluate on an empty set of images")
    _report_sizes(face_sizes)  # a bad size fails before the costly predictions
    start = time.perf_counter()
    probs = classifier.predict_proba(images)
    seconds = time.perf_counter() - start
    metrics = classification_metrics(labels, probs.argmax(axis=1), classifier.classes)
    metrics["classes"] = list(classifier.classes)
    metrics["ece"] = expected_calibration_error(probs, labels)
    metrics["temperature"] = classifier.temperature
    metrics["faces_per_second"] = float(len(images) / seconds)
    metrics["default_tta"] = classifier.default_tta
    metrics["precision"] = classifier.precision
    metrics["runtime"] = classifier.runtime
    metrics["tta"] = {}
    modes = [mode for mode in tta if mode != classifier.default_tta]
    if classifier.default_tta is not None:
        modes.insert(0, None)
    for mode in modes:
        tta_probs = classifier.predict_proba(images, tta=mode)
        scored = classification_metrics(labels, tta_probs.argmax(axis=1), classifier.classes)
        metrics["tta"][mode or "none"] = {k: scored[k] for k in ("accuracy", "macro_f1")}
    if face_sizes:
        metrics["by_face_size"] = accuracy_by_face_size(
            classifier, images, labels, face_sizes, full_size_probs=probs
        )
        if h264_crf is not None:
            metrics["by_face_size_h264"] = accuracy_by_face_size(
                classifier, images, labels, face_sizes, h264_crf=h264_crf
            )
    return metrics


def evaluate_saved_model(
    model: str | os.PathLike[str] | None,
    data: str | os.PathLike[str],
    split: str = "test",
    tta: Sequence[TTA] = (),
    out: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    offline_html: bool = False,
    face_sizes: Sequence[int] = FACE_SIZES,
    h264_crf: int | None = DEFAULT_CRF,
) -> tuple[dict, dict[str, Path]]:
    """Load a model and a dataset split, score it, and write the report files.

    Reports go to ``out``, by default the model's own folder, so a shipped model keeps its
    figures beside it. ``metrics.json`` holds ``"by_face_size"`` (``accuracy_by_face_size``)
    unless ``face_sizes`` is empty, and ``"by_face_size_h264"`` beside it unless ``h264_crf``
    is None: the sizes as a room camera's 1080p H.264 stream delivers them.
    """
    _report_sizes(face_sizes)  # before loading anything
    if h264_crf is not None:
        check_crf(h264_crf)
    model_file = resolve_model_path(model)
    classifier = EmotionClassifier.load(model_file)
    dataset = load_dataset(data, cache_dir=cache_dir)
    if split == VALIDATION_SPLIT:
        images, names = validation_split(classifier, dataset)
    elif split in dataset.splits:
        frame = dataset.splits[split]
        images, names = to_arrays(frame)[0], frame["label"].to_numpy()
    else:
        raise DatasetError(
            f"{data} has no split {split!r}; it has {sorted(dataset.splits)} "
            f"(and {VALIDATION_SPLIT!r}, the model's own validation split of train)"
        )
    unknown = sorted(set(names) - set(classifier.classes))
    if unknown:
        raise DatasetError(f"{data} has classes {unknown} that model {model_file} does not know")
    # Codes in the model's own class order, whatever order its classes.json gives.
    labels = np.array([classifier.classes.index(label) for label in names])
    metrics = evaluate(
        classifier, images, labels, tta=tta, face_sizes=face_sizes, h264_crf=h264_crf
    )
    metrics["model"] = model_file.parent.name
    metrics["data"] = {"root": Path(data).name, "split": split, "layout": dataset.layout}
    paths = write_report(metrics, Path(out) if out else model_file.parent, offline_html)
    return metrics, paths


#: ``evaluate_saved_model``'s name for the held-out part of train/ a model was trained without.
VALIDATION_SPLIT = "val"


def validation_split(
    classifier: EmotionClassifier, dataset: FerDataset
) -> tuple[np.ndarray, np.ndarray]:
    """The images and label names of the validation split ``classifier`` was trained without,
    rebuilt from its ``config.json`` (fraction and split seed): for choosing between models and
    calibrating them without touching the test split."""
    if "val_fraction" not in classifier.metadata.get("config", {}):
        raise DatasetError(
            "the model's config.json does not say which validation split it was trained "
            "without (config.val_fraction and split_seed), so no split of train/ is safe to "
            "score or calibrate on"
        )
    fraction, seed = validation_settings(classifier.metadata)
    images, codes = to_arrays(dataset.train)
    _, x_val, _, y_val = split_train_val(images, codes, fraction, seed)
    return x_val, np.array(CLASSES)[y_val]


def calibrate_saved_model(
    model: str | os.PathLike[str] | None,
    data: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
) -> dict:
    """Fit a model's temperature on the validation split it was trained with; save it.

    The split is rebuilt from the model's ``config.json`` (fraction and seed), so the images
    were never trained on, and the test split stays untouched. The temperature and the
    before/after figures go into ``config.json`` under ``"calibration"``, where
    ``EmotionClassifier.load`` finds them.
    """
    model_file = resolve_model_path(model)
    classifier = EmotionClassifier.load(model_file)
    fraction, seed = validation_settings(classifier.metadata)
    x_val, names = validation_split(classifier, load_dataset(data, cache_dir=cache_dir))
    labels = np.array([classifier.classes.index(name) for name in names])
    probs = classifier.predict_proba(x_val, calibrated=False)
    scaler = TemperatureScaler().fit(probs, labels)
    calibrated = scaler.transform(probs)
    calibration = {
        "temperature": scaler.temperature_,
        "fitted_on": f"{fraction:.0%} validation split of train/ (seed {seed})",
        "n_images": len(labels),
        "ece_before": expected_calibration_error(probs, labels),
        "ece_after": expected_calibration_error(calibrated, labels),
        "nll_before": negative_log_likelihood(probs, labels),
        "nll_after": negative_log_likelihood(calibrated, labels),
    }
    config_file = model_file.parent / "config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    config["calibration"] = calibration
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    return calibration
