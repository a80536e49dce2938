"""Score a classifier on a labelled split: accuracy, macro F1, per-class scores, confusion."""

from __future__ import annotations

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

from fer_core.classifier import TTA, EmotionClassifier, resolve_model_path
from fer_core.data import load_dataset, to_arrays
from fer_core.errors import DatasetError
from fer_core.reports import write_report


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


def evaluate(
    classifier: EmotionClassifier,
    images: np.ndarray,
    labels: np.ndarray,
    tta: Sequence[TTA] = (),
) -> dict:
    """Plain metrics of ``classifier`` on ``images``, plus each requested TTA beside them.

    ``labels`` are integer codes in ``classifier.classes`` order. The plain figure is what
    ``predict_proba`` gives by default; TTA figures are reported under ``"tta"``, never instead.
    """
    if len(images) == 0:
        raise ValueError("cannot evaluate on an empty set of images")
    start = time.perf_counter()
    probs = classifier.predict_proba(images)
    seconds = time.perf_counter() - start
    metrics = classification_metrics(labels, probs.argmax(axis=1), classifier.classes)
    metrics["classes"] = list(classifier.classes)
    metrics["faces_per_second"] = float(len(images) / seconds)
    metrics["tta"] = {}
    for mode in tta:
        tta_probs = classifier.predict_proba(images, tta=mode)
        scored = classification_metrics(labels, tta_probs.argmax(axis=1), classifier.classes)
        metrics["tta"][mode] = {k: scored[k] for k in ("accuracy", "macro_f1")}
    return metrics


def evaluate_saved_model(
    model: str | os.PathLike[str] | None,
    data: str | os.PathLike[str],
    split: str = "test",
    tta: Sequence[TTA] = (),
    out: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    offline_html: bool = False,
) -> tuple[dict, dict[str, Path]]:
    """Load a model and a dataset split, score it, and write the report files.

    Reports go to ``out``, by default the model's own folder, so a shipped model keeps its
    figures beside it.
    """
    model_file = resolve_model_path(model)
    classifier = EmotionClassifier.load(model_file)
    dataset = load_dataset(data, cache_dir=cache_dir)
    if split not in dataset.splits:
        raise DatasetError(f"{data} has no split {split!r}; it has {sorted(dataset.splits)}")
    frame = dataset.splits[split]
    images, _ = to_arrays(frame)
    unknown = sorted(set(frame["label"]) - set(classifier.classes))
    if unknown:
        raise DatasetError(f"{data} has classes {unknown} that model {model_file} does not know")
    # Codes in the model's own class order, whatever order its classes.json gives.
    labels = np.array([classifier.classes.index(label) for label in frame["label"]])
    metrics = evaluate(classifier, images, labels, tta=tta)
    metrics["model"] = model_file.parent.name
    metrics["data"] = {"root": Path(data).name, "split": split, "layout": dataset.layout}
    paths = write_report(metrics, Path(out) if out else model_file.parent, offline_html)
    return metrics, paths
