"""The shipped models: where they live, how a name resolves, and what each one reports.

Kept free of TensorFlow so that listing models and reading their figures (the dashboard's
Model page) costs nothing; ``EmotionClassifier`` loads the weights.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_core.errors import ModelNotFoundError
from fer_core.shipped import shipped_folder

#: Folder of shipped models; ``FER_CORE_MODELS`` points elsewhere.
MODELS_DIR = Path(os.environ.get("FER_CORE_MODELS", shipped_folder("models")))
#: The most accurate shipped model: what ``EmotionClassifier.load()`` gives.
DEFAULT_MODEL = "accurate"
#: The shipped model built for speed: what live and video analysis use unless told otherwise.
LIVE_MODEL = "fast"
MODEL_FILE = "model.keras"


def resolve_model_path(path: str | os.PathLike[str] | None = None) -> Path:
    """A model name (a folder of ``MODELS_DIR``), a model folder or a ``.keras`` file -> file."""
    given = Path(path) if path is not None else MODELS_DIR / DEFAULT_MODEL
    candidate = given
    if not given.exists() and not given.is_absolute():
        candidate = MODELS_DIR / given
    if candidate.is_dir():
        candidate = candidate / MODEL_FILE
    if not candidate.is_file():
        shipped = model_names()
        raise ModelNotFoundError(
            f"no saved model at {given} (nor {candidate}); pass a .keras file, a model folder, "
            f"or one of the shipped names {shipped or '(none found in ' + str(MODELS_DIR) + ')'}"
        )
    return candidate


def model_names(first: str = DEFAULT_MODEL) -> list[str]:
    """Names of the shipped models, ``first`` (if shipped) ahead of the rest."""
    names = sorted(p.parent.name for p in MODELS_DIR.glob(f"*/{MODEL_FILE}"))
    return sorted(names, key=lambda name: name != first)


@dataclass(frozen=True)
class ModelInfo:
    """A model folder's published figures and card, as shipped beside the weights."""

    name: str
    folder: Path
    metrics: dict[str, Any] | None
    card: str | None


def model_info(name: str | os.PathLike[str] | None = None) -> ModelInfo:
    """Read ``metrics.json`` and ``MODEL_CARD.md`` of a shipped model (or a model folder)."""
    folder = resolve_model_path(name).parent
    metrics_file, card_file = folder / "metrics.json", folder / "MODEL_CARD.md"
    try:
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else None
    except json.JSONDecodeError as error:
        raise ModelNotFoundError(f"{metrics_file} is not valid JSON: {error}") from error
    card = card_file.read_text() if card_file.is_file() else None
    return ModelInfo(folder.name, folder, metrics, card)
