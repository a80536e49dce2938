"""Train a model from a dataset folder: load, preprocess, build, compile, fit, save.

Every epoch is checkpointed (``backup/`` holds weights, optimizer and epoch, for
``resume=True``; ``best.keras`` holds the best epoch on the validation split), the history is
appended to ``history.csv``, and the finished model is exported as ``model.keras`` in float32
without optimizer state, beside ``classes.json`` and ``config.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight

from fer_core.batches import ShuffledBatches
from fer_core.catalog import resolve_model_path
from fer_core.data import FerDataset, default_cache_dir, load_dataset, to_arrays
from fer_core.errors import FerCoreError
from fer_core.labels import CLASSES
from fer_core.lowres import (
    COMPRESSION_QUALITIES,
    TRAINING_SIZES,
    LowResBatches,
    ViewBatches,
    degrade,
    degraded_views,
)
from fer_core.mixup import MixupBatches
from fer_core.models import RECIPES, build_model
from fer_core.preprocessing import preprocess
from fer_core.storage import load_model

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
BEST_FILE = "best.keras"
BACKUP_DIR = "backup"
HISTORY_FILE = "history.csv"
CONFIG_FILE = "config.json"
PLAN_FILE = "plan.json"


class RunDirectoryError(FerCoreError):
    """The output folder holds a run that this call would overwrite, or nothing to resume."""


class TrainSettingError(FerCoreError, ValueError):
    """A training setting is out of range or contradicts another."""


class InitWeightsError(FerCoreError):
    """The weights to start from (``init_from``) are missing, unreadable or do not fit."""


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved as ``config.json`` beside the model."""

    data: str
    out: str
    arch: str = "vgg"
    epochs: int | None = None  # None: the recipe's default
    batch_size: int | None = None
    val_fraction: float = 0.1
    seed: int = 1337  # weights, shuffling and augmentation
    # The validation split's own seed, fixed across runs so that models trained with
    # different seeds are compared, ensembled and calibrated on the same held-out images.
    split_seed: int = 1337
    patience: int | None = None  # None: off for cosine schedules (they set the length), else 20
    init_from: str | None = None  # start from these weights (fine-tuning / annealing)
    init_member: int | None = None  # which network of an ensemble init_from names
    learning_rate: float | None = None  # None: the recipe's
    weight_decay: float | None = None  # None: the recipe's
    warmup_epochs: int | None = None  # None: the recipe's
    mixed_precision: bool | None = None  # bfloat16 compute; None: the recipe's
    class_weight: bool = False
    time_budget_s: float | None = None  # plan the epochs to end within this (see EpochBudget)
    teachers: list[str] = field(default_factory=list)  # distil from these (see soft_targets)
    teacher_weight: float = 0.5
    # >0: the teachers label this many degraded copies of each face (fixed views, see
    # fer_core.lowres.ViewBatches) instead of the raw face only; needs lowres and teachers.
    teacher_views: int = 0
    mixup: float = 0.0  # Beta(alpha, alpha) of mixup blends; 0 trains on single faces
    lowres: float = 0.0  # share of training faces degraded to a small face (see fer_core.lowres)
    lowres_sizes: tuple[int, ...] = TRAINING_SIZES  # the sizes (px) a degraded face is drawn from
    # Share of training faces JPEG-compressed at a random quality (after any lowres), as a
    # camera's codec leaves them (see fer_core.lowres.compress).
    compression: float = 0.0
    # Validate on faces shown at this size (px): the best epoch of a small-face network is
    # the best on small faces. None: the faces as they are.
    val_face_size: int | None = None
    resume: bool = False
    cache_dir: str | None = None
    recipe: dict = field(default_factory=dict)

    def resolved(self) -> TrainConfig:
        """Fill the recipe's defaults in, so the saved config says what actually ran."""
        if self.arch not in RECIPES:
            raise TrainSettingError(
                f"unknown architecture {self.arch!r}; choose one of {sorted(RECIPES)}"
            )
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise TrainSettingError(f"the time budget must be positive, got {self.time_budget_s} s")
        if self.mixup < 0:
            raise TrainSettingError(f"mixup alpha must be positive (or 0: off), got {self.mixup}")
        if not 0.0 <= self.lowres <= 1.0:
            raise TrainSettingError(
                f"the low-resolution share must be in [0, 1] (0: off), got {self.lowres}"
            )
        if not 0.0 <= self.compression <= 1.0:
            raise TrainSettingError(
                f"the compressed share must be in [0, 1] (0: off), got {self.compression}"
            )
        if self.teacher_views and self.compression:
            raise TrainSettingError(
                "teacher views are fixed degraded faces; compression does not combine with them"
            )
        if not self.lowres_sizes or any(
            isinstance(size, bool) or not isinstance(size, int) or not 1 <= size < 48
            for size in self.lowres_sizes
        ):
            raise TrainSettingError(
                f"low-resolution sizes are whole pixels in 1-47, got {list(self.lowres_sizes)}"
            )
        if self.val_face_size is not None and (
            isinstance(self.val_face_size, bool)
            or not isinstance(self.val_face_size, int)
            or not 1 <= self.val_face_size < 48
        ):
            raise TrainSettingError(
                f"the validation face size is whole pixels in 1-47, got {self.val_face_size}"
            )
        if self.teacher_views < 0:
            raise TrainSettingError(
                f"teacher views must be 0 (off) or more, got {self.teacher_views}"
            )
        if self.teacher_views and not (self.teachers and self.lowres):
            raise TrainSettingError(
                "teacher views are degraded faces a teacher labels: name --teacher and --lowres"
            )
        if self.teacher_views and self.mixup:
            raise TrainSettingError("teacher views and mixup do not combine (a blend has no view)")
        if self.init_member is not None and not self.init_from:
            raise TrainSettingError("init_member picks a network of init_from; name init_from")
        recipe = RECIPES[self.arch]
        settings = {k: v for k, v in asdict(recipe).items() if k != "build"}
        if self.learning_rate is not None:
            settings["learning_rate"] = self.learning_rate
        if self.weight_decay is not None:
            settings["weight_decay"] = self.weight_decay
        if self.warmup_epochs is not None:
            settings["warmup_epochs"] = self.warmup_epochs
        if self.mixed_precision is not None:
            settings["mixed_precision"] = self.mixed_precision
        patience = self.patience
        if patience is None:
            # Early stopping cuts a cosine schedule before its low-rate end, where most of the
            # accuracy is gained, so it is only on by default for constant rates.
            patience = 0 if recipe.cosine else 20
        return replace(
            self,
            epochs=self.epochs or recipe.epochs,
            batch_size=self.batch_size or recipe.batch_size,
            patience=patience,
            recipe=settings,
        )


@dataclass
class TrainResult:
    model_path: Path
    history: pd.DataFrame
    best_val_accuracy: float


def split_train_val(
    images: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stratified validation split of the training data (never the test split)."""
    return train_test_split(
        images, labels, test_size=fraction, stratify=labels, random_state=seed, shuffle=True
    )


def validation_settings(metadata: dict) -> tuple[float, int]:
    """(fraction, split seed) of the validation split a saved model's ``config.json`` names;
    runs from before ``split_seed`` existed split with their ``seed``."""
    trained = metadata.get("config", {})
    seed = trained.get("split_seed", trained.get("seed", 1337))
    return float(trained.get("val_fraction", 0.1)), int(seed)


def soft_targets(
    teachers: Sequence[str | os.PathLike[str] | None],
    images: np.ndarray,
    labels: np.ndarray,
    weight: float,
    cache_dir: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """Knowledge-distillation targets: ``weight`` of the teachers' mean probabilities, the
    rest the one-hot label. A teacher is anything ``EmotionClassifier.load`` takes.

    Each teacher sees each raw training image once, with its own test-time augmentation
    (flip at least), and the student learns from those soft targets under its own
    augmentation. A small student taught by a larger model or an ensemble learns which
    expressions look alike (fear and surprise, sad and neutral) and beats the same network
    trained on hard labels alone.

    With ``cache_dir``, each teacher's probabilities are kept there, keyed by the teacher's
    files and the images, so fine-tuning several students from one teacher labels once.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"teacher_weight must be in [0, 1], got {weight}")
    if not teachers:
        raise ValueError("soft targets need at least one teacher")
    probs = np.zeros((len(images), len(CLASSES)), np.float32)
    for teacher in teachers:
        probs += _teacher_probs(teacher, images, cache_dir) / len(teachers)
    onehot = keras.utils.to_categorical(labels, len(CLASSES))
    return ((1.0 - weight) * onehot + weight * probs).astype(np.float32)


def _teacher_probs(
    teacher: str | os.PathLike[str] | None,
    images: np.ndarray,
    cache_dir: str | os.PathLike[str] | None,
) -> np.ndarray:
    """One teacher's probabilities for ``images`` in ``CLASSES`` order, from the cache when
    the same teacher files already labelled the same images."""
    from fer_core.classifier import EmotionClassifier

    cached = None
    if cache_dir is not None:
        digest = hashlib.sha256(repr((images.shape, images.dtype.str)).encode())
        digest.update(np.ascontiguousarray(images).tobytes())
        model_file = resolve_model_path(teacher)
        folder = model_file.parent
        read_by_load = [model_file, folder / "config.json", folder / "classes.json"]
        for file in [*read_by_load, *sorted(folder.glob("*.tflite"))]:
            if file.is_file():
                digest.update(file.name.encode() + file.read_bytes())
        cached = Path(cache_dir) / f"teacher-{digest.hexdigest()[:24]}.npy"
        if cached.is_file():
            log.info("teacher %s: labels for %d images from %s", teacher, len(images), cached)
            return np.load(cached)
    model = EmotionClassifier.load(teacher)
    missing = sorted(set(CLASSES) - set(model.classes))
    if missing:
        raise FerCoreError(f"teacher {teacher} does not predict {missing}")
    tta = model.default_tta or "flip"
    log.info("teacher %s labels %d images (%s TTA)", teacher, len(images), tta)
    mine = model.predict_proba(images, tta=tta, calibrated=False)
    probs = mine[:, [model.classes.index(name) for name in CLASSES]].astype(np.float32)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{cached.stem}.{os.getpid()}.partial.npy")
        np.save(partial, probs)
        partial.replace(cached)  # whole or absent, never half-written
    return probs


def _optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    recipe = config.recipe
    rate: float | keras.optimizers.schedules.LearningRateSchedule = recipe["learning_rate"]
    if recipe["cosine"] and not config.time_budget_s:  # else EpochBudget sets the rate
        warmup = recipe["warmup_epochs"] * steps_per_epoch
        rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else rate,
            decay_steps=max(1, config.epochs * steps_per_epoch - warmup),
            warmup_target=rate if warmup else None,
            warmup_steps=warmup,
        )
    if recipe["optimizer"] == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=recipe["weight_decay"])
    return keras.optimizers.get(
        {"class_name": recipe["optimizer"], "config": {"learning_rate": rate}}
    )


class EpochLog(keras.callbacks.Callback):
    """One log line per epoch with validation accuracy, learning rate and time."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        rate = self.model.optimizer.learning_rate
        log.info(
            "epoch %d/%d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  lr %.2e  %.0fs",
            epoch + 1,
            self.epochs,
            logs.get("loss", math.nan),
            logs.get("accuracy", math.nan),
            logs.get("val_loss", math.nan),
            logs.get("val_accuracy", math.nan),
            float(keras.ops.convert_to_numpy(rate)),
            time.monotonic() - self._start,
        )


class EpochBudget(keras.callbacks.Callback):
    """Warm-up then cosine decay, per epoch, over as many epochs as fit in a time budget.

    A cosine schedule gains most of its accuracy at its low-rate end, so a run cut off by the
    end of a session loses most of its value. This one measures how long an epoch takes
    (the median of the last five, never the first, which also compiles, so that a few epochs
    slowed by other work early on do not shorten the whole run), plans the number of epochs
    that finish within ``budget_s`` of ``start`` (never more than ``max_epochs``) and shapes
    the learning rate to end there. The plan only ever shrinks, is saved to ``plan_file``,
    and a resumed run continues it within its new budget.
    """

    def __init__(
        self,
        peak: float,
        warmup_epochs: int,
        max_epochs: int,
        budget_s: float,
        start: float,
        plan_file: Path,
    ) -> None:
        super().__init__()
        self.peak = peak
        self.warmup = warmup_epochs
        self.budget_s = budget_s
        self.start = start
        self.plan_file = plan_file
        self.planned = max_epochs
        if plan_file.is_file():
            self.planned = min(max_epochs, int(json.loads(plan_file.read_text())["epochs"]))
        self._durations: list[float] = []
        self._epoch_start = 0.0

    def rate(self, epoch: int) -> float:
        if epoch < self.warmup:
            return self.peak * (epoch + 1) / (self.warmup + 1)
        progress = (epoch - self.warmup) / max(1, self.planned - self.warmup)
        return 0.5 * self.peak * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.model.optimizer.learning_rate = self.rate(epoch)
        self._epoch_start = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = time.monotonic()
        self._durations.append(now - self._epoch_start)
        if len(self._durations) >= 2:
            epoch_s = max(float(np.median(self._durations[1:][-5:])), 1e-3)
            remaining = self.budget_s - (now - self.start)
            affordable = epoch + 1 + max(0, math.floor(remaining / epoch_s))
            if affordable < self.planned:
                self.planned = affordable
                log.info("time budget: planning %d epochs (%.1f s each)", affordable, epoch_s)
        partial = self.plan_file.with_suffix(".partial")
        partial.write_text(json.dumps({"epochs": self.planned}))
        partial.replace(self.plan_file)  # atomic: a crash never leaves a plan half-written
        if epoch + 1 >= self.planned:
            self.model.stop_training = True


#: Settings a resumed run must share with the run it continues.
_RUN_IDENTITY = (
    "arch",
    "epochs",
    "batch_size",
    "val_fraction",
    "seed",
    "split_seed",
    "class_weight",
    "recipe",
    "init_from",
    "init_member",
    "teachers",
    "teacher_weight",
    "teacher_views",
    "mixup",
    "lowres",
    "lowres_sizes",
    "compression",
    "val_face_size",
)


def _prepare_run_dir(out: Path, config: TrainConfig) -> None:
    backup = out / BACKUP_DIR
    if config.resume:
        if not backup.exists():
            done = " (it already finished)" if (out / MODEL_FILE).exists() else ""
            raise RunDirectoryError(f"nothing to resume in {out}{done}; run without --resume")
        saved = json.loads((out / CONFIG_FILE).read_text())["config"]
        saved.setdefault("split_seed", saved.get("seed"))  # runs from before split_seed
        saved.setdefault("mixup", 0.0)  # runs from before mixup
        saved.setdefault("lowres", 0.0)  # runs from before low-resolution training
        saved.setdefault("lowres_sizes", list(TRAINING_SIZES))
        saved.setdefault("compression", 0.0)
        saved.setdefault("val_face_size", None)
        saved.setdefault("init_member", None)
        saved.setdefault("teacher_views", 0)
        if saved.get("time_budget_s") and not config.time_budget_s:
            raise RunDirectoryError(
                f"{out} was planned by a time budget; resume it with --time-budget MINUTES "
                "(the time this session can give it)"
            )
        current = json.loads(json.dumps(asdict(config)))  # as saved: tuples become lists
        changed = [k for k in _RUN_IDENTITY if saved.get(k) != current[k]]
        if changed:
            detail = ", ".join(f"{k}: {saved.get(k)!r} -> {current[k]!r}" for k in changed)
            raise RunDirectoryError(f"cannot resume {out} with different settings ({detail})")
        return
    if backup.exists() or (out / MODEL_FILE).exists():
        raise RunDirectoryError(
            f"{out} already holds a training run; pass --resume to continue it "
            "or choose another --out"
        )
    out.mkdir(parents=True, exist_ok=True)


def _best_so_far(history_path: Path) -> float | None:
    """Best validation accuracy logged before an interruption, if any epoch was logged."""
    try:
        history = pd.read_csv(history_path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return None
    return float(history["val_accuracy"].max()) if len(history) else None


def load_initial_weights(model: keras.Model, config: TrainConfig) -> str:
    """Copy the weights of ``config.init_from`` into ``model`` (built for ``config.arch``), to
    fine-tune a trained network; returns what was loaded, for the log.

    ``init_from`` is a saved model (a ``.keras`` file, a model folder or a shipped name) or a
    ``.weights.h5`` file. An ensemble's networks are chosen by ``config.init_member``, counted
    in its ``config.json``'s ``"members"`` order. A saved model must have been trained without
    the same validation split as this run, or the run would validate on faces it has learnt.
    """
    from fer_core.ensemble import _networks  # the networks an ensemble averages

    source = str(config.init_from)
    if source.endswith(".weights.h5"):
        if config.init_member is not None:
            raise InitWeightsError(f"{source} holds one network's weights; drop init_member")
        try:
            model.load_weights(source)
        except (OSError, ValueError) as error:
            raise InitWeightsError(
                f"cannot start a {config.arch} from {source}: {error}"
            ) from error
        return source
    try:
        model_file = resolve_model_path(source)
        loaded = load_model(model_file)
        config_file = model_file.parent / CONFIG_FILE
        saved = json.loads(config_file.read_text()) if config_file.is_file() else {}
    except (FerCoreError, OSError, ValueError) as error:
        raise InitWeightsError(f"cannot start from {source}: {error}") from error
    networks = _networks(loaded)
    if len(networks) > 1:
        members = saved.get("members", [])
        if len(members) != len(networks):  # no config.json beside it says what they are
            members = [{"model": "unrecorded", "arch": "unrecorded"}] * len(networks)
        names = [f"member {i} ({m['model']}, {m['arch']})" for i, m in enumerate(members)]
        if config.init_member is None or not 0 <= config.init_member < len(networks):
            given = "" if config.init_member is None else f" (not {config.init_member})"
            raise InitWeightsError(
                f"{model_file} is an ensemble of {len(networks)} networks ({', '.join(names)}); "
                f"choose one with init_member (--init-member N){given}"
            )
        network, name = networks[config.init_member], names[config.init_member]
    elif config.init_member is not None:
        raise InitWeightsError(f"{model_file} is a single network; drop init_member")
    else:
        network = networks[0]
        name = f"{model_file.parent.name} ({saved.get('config', {}).get('arch', 'unknown arch')})"
    expected = [tuple(w.shape) for w in model.weights]
    given = [tuple(w.shape) for w in network.weights]
    if given != expected:
        raise InitWeightsError(
            f"the weights of {name} from {model_file} do not fit a {config.arch} network "
            f"({len(given)} arrays vs {len(expected)}, or of other shapes); "
            "pass the --arch it was trained as"
        )
    if "val_fraction" in saved.get("config", {}):
        fraction, seed = validation_settings(saved)
        if (fraction, seed) != (config.val_fraction, config.split_seed):
            raise InitWeightsError(
                f"{model_file} was trained without the validation split of fraction {fraction} "
                f"and seed {seed}; fine-tuned on another split it would be validated on faces "
                f"it has learnt: pass --val-fraction {fraction} --split-seed {seed}"
            )
    model.set_weights(network.get_weights())
    return f"{name} of {model_file}"


def export_inference_model(arch: str, weights_path: Path, out_path: Path) -> keras.Model:
    """Rebuild ``arch`` in float32, load trained weights, save without optimizer state."""
    with _dtype_policy("float32"):
        model = build_model(arch)
        model.load_weights(weights_path)
    model.save(out_path)
    return model


@contextmanager
def _dtype_policy(name: str) -> Iterator[None]:
    """Set Keras' global dtype policy for a block, restoring the previous one after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _metadata(
    config: TrainConfig, dataset: FerDataset, n_train: int, n_val: int, params: int
) -> dict:
    return {
        "config": asdict(config),
        "classes": list(CLASSES),
        "dataset": {
            "layout": dataset.layout,
            "train_images": n_train,
            "val_images": n_val,
            "skipped": len(dataset.skipped),
        },
        "params": params,
        **({"lowres_sizes_px": list(config.lowres_sizes)} if config.lowres else {}),
        **({"compression_qualities": list(COMPRESSION_QUALITIES)} if config.compression else {}),
        "preprocessing": {"size": 48, "grayscale": True, "scale": "0-1", "standardize": False},
        "versions": {
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
            "python": platform.python_version(),
        },
    }


def training_input(config: TrainConfig, faces: np.ndarray, targets: np.ndarray) -> dict:
    """``fit``'s training data: the faces as they are, or in batches blended by mixup and then
    degraded to small faces (``config.lowres``), the last steps before the model's own
    augmentation layers. Validation data never passes through here."""
    if config.teacher_views:  # (V, N, ...) views, each with its teacher's targets
        return {"x": ViewBatches(faces, targets, config.batch_size, config.lowres, config.seed)}
    if not (config.mixup or config.lowres or config.compression):
        return {"x": faces, "y": targets, "batch_size": config.batch_size}
    if config.mixup:
        batches = MixupBatches(faces, targets, config.batch_size, config.mixup, config.seed)
    else:
        batches = ShuffledBatches(faces, targets, config.batch_size, config.seed)
    if config.lowres or config.compression:
        batches = LowResBatches(
            batches, config.lowres, config.lowres_sizes, config.seed, config.compression
        )
    return {"x": batches}


def _callbacks(out: Path, config: TrainConfig, start: float) -> list[keras.callbacks.Callback]:
    history_path = out / HISTORY_FILE
    budget = []
    if config.time_budget_s:
        recipe = config.recipe
        budget = [
            EpochBudget(
                peak=recipe["learning_rate"],
                warmup_epochs=recipe["warmup_epochs"],
                max_epochs=config.epochs,
                budget_s=config.time_budget_s,
                start=start,
                plan_file=out / PLAN_FILE,
            )
        ]
    stopping = []
    if config.patience:
        # Patience counts from the start of each (resumed) fit call.
        stopping = [
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", mode="max", patience=config.patience
            )
        ]
    return [
        keras.callbacks.BackupAndRestore(str(out / BACKUP_DIR)),
        keras.callbacks.ModelCheckpoint(
            str(out / BEST_FILE),
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            initial_value_threshold=_best_so_far(history_path) if config.resume else None,
        ),
        *stopping,
        *budget,
        keras.callbacks.CSVLogger(str(history_path), append=config.resume),
        EpochLog(config.epochs),
    ]


def train(config: TrainConfig) -> TrainResult:
    """Run (or resume) one training run; see the module docstring for what it writes."""
    start = time.monotonic()
    config = config.resolved()
    out = Path(config.out)
    _prepare_run_dir(out, config)
    keras.utils.set_random_seed(config.seed)

    dataset = load_dataset(config.data, cache_dir=config.cache_dir)
    images, labels = to_arrays(dataset.train)
    x_train, x_val, y_train, y_val = split_train_val(
        images, labels, config.val_fraction, config.split_seed
    )
    if config.val_face_size:
        x_val = degrade(x_val, config.val_face_size)
    num_classes = len(CLASSES)
    n_train = len(y_train)
    teacher_cache = config.cache_dir or default_cache_dir()  # labels once per teacher and images
    if config.teacher_views:
        views = degraded_views(x_train, config.teacher_views, config.lowres_sizes, config.seed)
        flat = views.reshape(-1, *x_train.shape[1:])
        y_targets = soft_targets(
            config.teachers,
            flat,
            np.tile(y_train, len(views)),
            config.teacher_weight,
            teacher_cache,
        ).reshape(len(views), n_train, -1)
        shown = preprocess(flat)
        x_train = shown.reshape(len(views), n_train, *shown.shape[1:])
    else:
        if config.teachers:
            y_targets = soft_targets(
                config.teachers, x_train, y_train, config.teacher_weight, teacher_cache
            )
        else:
            y_targets = keras.utils.to_categorical(y_train, num_classes)
        x_train = preprocess(x_train)
    x_val = preprocess(x_val)
    class_weight = None
    if config.class_weight:
        present = np.unique(y_train)
        weights = compute_class_weight("balanced", classes=present, y=y_train)
        class_weight = dict(zip(present.tolist(), weights.tolist(), strict=True))

    with _dtype_policy("mixed_bfloat16" if config.recipe["mixed_precision"] else "float32"):
        model = build_model(config.arch, num_classes)
        if config.init_from and not config.resume:
            log.info("starting from %s", load_initial_weights(model, config))
        steps_per_epoch = math.ceil(n_train / config.batch_size)
        model.compile(
            optimizer=_optimizer(config, steps_per_epoch),
            loss=keras.losses.CategoricalCrossentropy(
                label_smoothing=config.recipe["label_smoothing"]
            ),
            metrics=["accuracy"],
        )
        metadata = _metadata(config, dataset, n_train, len(x_val), model.count_params())
        (out / CONFIG_FILE).write_text(json.dumps(metadata, indent=2))
        (out / "classes.json").write_text(json.dumps(list(CLASSES)))
        log.info(
            "training %s (%d params) on %d images, validating on %d, %d epochs",
            config.arch,
            model.count_params(),
            n_train,
            len(x_val),
            config.epochs,
        )
        model.fit(
            **training_input(config, x_train, y_targets),
            validation_data=(x_val, keras.utils.to_categorical(y_val, num_classes)),
            epochs=config.epochs,
            class_weight=class_weight,
            callbacks=_callbacks(out, config, start),
            verbose=1 if sys.stdout.isatty() else 2,
        )

    history = pd.read_csv(out / HISTORY_FILE)
    model_path = out / MODEL_FILE
    export_inference_model(config.arch, out / BEST_FILE, model_path)
    shutil.rmtree(out / BACKUP_DIR, ignore_errors=True)
    best = float(history["val_accuracy"].max())
    log.info("best validation accuracy %.4f; saved %s", best, model_path)
    return TrainResult(model_path, history, best)


def configure_logging() -> None:
    """Log lines with timestamps to stderr, for scripts and long nohup runs."""
    logging.basicConfig(
        level=os.environ.get("FER_CORE_LOG", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
