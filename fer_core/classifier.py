"""``EmotionClassifier``: a saved model plus the exact preprocessing it was trained with."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import keras
import numpy as np

# Re-exported: callers have imported the model locations from here.
from fer_core.calibration import apply_temperature
from fer_core.catalog import DEFAULT_MODEL, MODELS_DIR, resolve_model_path
from fer_core.errors import InvalidInputError, ModelNotFoundError
from fer_core.labels import CLASSES
from fer_core.litert import LITERT_FILE, LiteRTRunner, stale_reason
from fer_core.precision import Precision, resolve_precision, with_precision
from fer_core.preprocessing import ColorOrder, preprocess
from fer_core.routing import ROUTER_LAYER, mix_by_share, routed_parts
from fer_core.storage import load_model

TTA = Literal["flip", "tencrop"]
Runtime = Literal["auto", "keras", "litert"]
#: ``predict_proba``'s default: the test-time augmentation the model ships with, if any.
MODEL_DEFAULT = "model"
__all__ = [
    "DEFAULT_MODEL",
    "MODELS_DIR",
    "MODEL_DEFAULT",
    "TTA",
    "EmotionClassifier",
    "resolve_model_path",
]
_TENCROP_SHIFT = 4  # pixels: the corner crops of the classic 40-from-48 ten-crop


class EmotionClassifier:
    """Classify face crops into the 7 emotions.

    >>> clf = EmotionClassifier.load()
    >>> clf.predict_proba(crops)  # (N, 7) float32, columns in ``clf.classes`` order
    """

    def __init__(
        self,
        model: keras.Model,
        classes: Sequence[str] = CLASSES,
        standardize: bool = False,
        batch_size: int = 256,
        metadata: dict | None = None,
        runner: LiteRTRunner | None = None,
        small_runner: LiteRTRunner | None = None,
    ) -> None:
        outputs = model.output_shape[-1]
        if outputs != len(classes):
            raise InvalidInputError(f"model has {outputs} outputs but {len(classes)} classes")
        self.model = model
        self.classes: tuple[str, ...] = tuple(classes)
        self.standardize = standardize
        self.batch_size = batch_size
        self.metadata = metadata or {}
        self.runner = runner
        self.small_runner = small_runner
        self._parts = routed_parts(model)
        if self._parts is not None and (runner is None) != (small_runner is None):
            raise InvalidInputError("a routed model on LiteRT needs a runner for each network")

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        precision: Precision = "auto",
        runtime: Runtime = "auto",
    ) -> EmotionClassifier:
        """Load the default shipped model, a shipped model by name, or any saved model.

        ``runtime="auto"`` runs the network on LiteRT when the model ships a
        ``model.tflite`` beside its ``model.keras`` (see ``fer_core.litert``), else on Keras;
        on Keras, ``precision="auto"`` computes in bfloat16 on CPUs with native bfloat16
        instructions (see ``fer_core.precision``), else in float32.
        """
        if runtime not in ("auto", "keras", "litert"):
            raise ValueError(f"runtime must be 'auto', 'keras' or 'litert', got {runtime!r}")
        model_file = resolve_model_path(path)
        try:
            model = load_model(model_file)
        except (OSError, ValueError) as error:
            raise ModelNotFoundError(f"cannot load model {model_file}: {error}") from error
        folder = model_file.parent
        classes = CLASSES
        if (folder / "classes.json").is_file():
            classes = tuple(json.loads((folder / "classes.json").read_text()))
        metadata = {}
        if (folder / "config.json").is_file():
            metadata = json.loads((folder / "config.json").read_text())
        runners = (None, None)
        if runtime != "keras":
            routed = routed_parts(model) is not None
            runners = _litert_runners(model_file, metadata, runtime, routed)
        if runners[0] is None:
            model = with_precision(model, resolve_precision(precision))
        standardize = bool(metadata.get("preprocessing", {}).get("standardize", False))
        return cls(
            model,
            classes,
            standardize=standardize,
            metadata=metadata,
            runner=runners[0],
            small_runner=runners[1],
        )

    @property
    def temperature(self) -> float:
        """The fitted calibration temperature (``scripts/calibrate.py``); 1.0 when none."""
        return float(self.metadata.get("calibration", {}).get("temperature", 1.0))

    @property
    def default_tta(self) -> TTA | None:
        """The test-time augmentation this model is meant to be used with (``config.json``'s
        ``"inference"``), which ``predict_proba`` applies unless told otherwise."""
        return self.metadata.get("inference", {}).get("tta")

    @property
    def runtime(self) -> str:
        """What runs the network: ``"litert"`` or ``"keras"``."""
        return "litert" if self.runner is not None else "keras"

    @property
    def precision(self) -> str:
        """The dtype the network computes in: ``"float32"`` or ``"bfloat16"``."""
        if self.runner is not None:
            return "float32"
        bfloat16 = any(layer.compute_dtype == "bfloat16" for layer in _leaf_layers(self.model))
        return "bfloat16" if bfloat16 else "float32"

    @property
    def name(self) -> str:
        return self.model.name

    def predict_proba(
        self,
        faces: np.ndarray | Sequence[np.ndarray],
        color: ColorOrder = "bgr",
        tta: TTA | Literal["model"] | None = MODEL_DEFAULT,
        calibrated: bool = True,
    ) -> np.ndarray:
        """Face crops -> (N, 7) float32 probabilities whose rows sum to 1.

        ``faces``: (N, H, W) or (N, H, W, 1|3|4) uint8 or float crops of any size, or a list
        of crops of different sizes; colour crops are read as BGR unless ``color="rgb"``.
        ``tta`` averages over views: ``"flip"`` (2 views) or ``"tencrop"`` (5 crops x flip);
        by default the model's own choice (``default_tta``), ``None`` for a single view.
        Probabilities are temperature-scaled when the model has a fitted temperature, unless
        ``calibrated=False``; the most likely class is the same either way.
        """
        batch = preprocess(faces, color=color, standardize=self.standardize)
        if len(batch) == 0:
            return np.empty((0, len(self.classes)), np.float32)
        tta = self.default_tta if tta == MODEL_DEFAULT else tta
        if self._parts is None:
            probs = self._views_mean(self.runner, self.model, batch, tta)
        else:
            probs = self._routed(batch, tta)
        probs /= probs.sum(axis=1, keepdims=True)
        if calibrated and self.temperature != 1.0:
            return apply_temperature(probs, self.temperature)
        return probs.astype(np.float32)

    def predict(self, faces: np.ndarray | Sequence[np.ndarray], **kwargs) -> np.ndarray:
        """The most likely class name of each face."""
        return np.array(self.classes)[self.predict_proba(faces, **kwargs).argmax(axis=1)]

    @property
    def small_part_tta(self) -> TTA | None:
        """The most views a routed model's small-face part reads (``config.json``'s
        ``"inference"``); ``None``: as many as the rest of the model."""
        return self.metadata.get("inference", {}).get("small_part_tta")

    def _routed(self, batch: np.ndarray, tta: TTA | None) -> np.ndarray:
        """A routed model's answer: the gate reads each face as it is, and each part reads
        only the faces it has a say in, over its own views (``capped_tta``)."""
        general, small = self._parts
        small_tta = capped_tta(tta, self.small_part_tta)
        return mix_by_share(
            batch,
            self.model.get_layer(ROUTER_LAYER).shares(batch),
            lambda faces: self._views_mean(self.runner, general, faces, tta),
            lambda faces: self._views_mean(self.small_runner, small, faces, small_tta),
        )

    def _views_mean(
        self,
        runner: LiteRTRunner | None,
        network: keras.Model,
        batch: np.ndarray,
        tta: TTA | None,
    ) -> np.ndarray:
        return np.mean([self._run(runner, network, view) for view in tta_views(batch, tta)], axis=0)

    def _run(
        self, runner: LiteRTRunner | None, network: keras.Model, batch: np.ndarray
    ) -> np.ndarray:
        if runner is not None:
            return runner(batch)
        # predict_on_batch runs the compiled predict function with no per-call dataset set-up,
        # which ``predict`` pays; chunks bound memory for large N.
        chunks = [
            keras.ops.convert_to_numpy(network.predict_on_batch(batch[i : i + self.batch_size]))
            for i in range(0, len(batch), self.batch_size)
        ]
        return np.concatenate(chunks).astype(np.float32)


def _litert_runners(
    model_file: Path, metadata: dict, runtime: Runtime, routed: bool
) -> tuple[LiteRTRunner | None, LiteRTRunner | None]:
    """The model's LiteRT twin if it ships one that matches it (a routed model: its general
    and its small-face network's); ``runtime="litert"`` insists, ``"auto"`` falls back to
    Keras (with a warning when a file is there but unusable)."""
    litert_file = model_file.parent / LITERT_FILE
    if not litert_file.is_file():
        if runtime == "litert":
            raise ModelNotFoundError(f"no {LITERT_FILE} beside {model_file}; export one first")
        return None, None
    problem = stale_reason(model_file, metadata)
    if problem is None and routed and "small_file" not in metadata["litert"]:
        problem = f"{litert_file} holds the whole routed model, not its networks one by one"
    if problem is None:
        try:
            if routed:
                small_file = model_file.parent / metadata["litert"]["small_file"]
                return LiteRTRunner(litert_file), LiteRTRunner(small_file)
            return LiteRTRunner(litert_file), None
        except ImportError as error:
            problem = f"cannot run {litert_file}: {error}"
        except (OSError, ValueError, RuntimeError) as error:
            raise ModelNotFoundError(f"cannot load {litert_file}: {error}") from error
    if runtime == "litert":
        raise ModelNotFoundError(problem)
    warnings.warn(f"{problem}; running on Keras instead", stacklevel=3)
    return None, None


def _leaf_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer, looking inside nested models (an ensemble's members)."""
    leaves = []
    for layer in model.layers:
        leaves += _leaf_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return leaves


#: Test-time augmentations from fewest views to most.
_TTA_ORDER: tuple[TTA | None, ...] = (None, "flip", "tencrop")


def capped_tta(tta: TTA | None, cap: TTA | None) -> TTA | None:
    """``tta``, or ``cap`` if that reads fewer views; ``cap=None`` caps nothing.

    A routed model's small-face part is capped at ``"flip"``: a ten-crop view shifts the
    face by 4 px, a large part of a 16 px face scaled up, and on the validation split the
    small-face networks read 16 px faces better from the face and its mirror alone."""
    for name in (tta, cap):
        if name not in _TTA_ORDER:
            raise InvalidInputError(f"tta must be None, 'flip' or 'tencrop', got {name!r}")
    if cap is None or _TTA_ORDER.index(tta) <= _TTA_ORDER.index(cap):
        return tta
    return cap


def tta_views(batch: np.ndarray, tta: TTA | None) -> list[np.ndarray]:
    """Views of a preprocessed (N, 48, 48, 1) batch for test-time augmentation."""
    if tta is None:
        return [batch]
    flipped = batch[:, :, ::-1]
    if tta == "flip":
        return [batch, flipped]
    if tta == "tencrop":
        s = _TENCROP_SHIFT
        views = []
        for image in (batch, flipped):
            padded = np.pad(image, ((0, 0), (s, s), (s, s), (0, 0)), mode="reflect")
            size = image.shape[1]
            for dy, dx in ((s, s), (0, 0), (0, 2 * s), (2 * s, 0), (2 * s, 2 * s)):
                views.append(np.ascontiguousarray(padded[:, dy : dy + size, dx : dx + size]))
        return views
    raise InvalidInputError(f"tta must be None, 'flip' or 'tencrop', got {tta!r}")
