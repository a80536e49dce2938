"""Network architectures, each a short function that reads top to bottom.

All code is backend-neutral Keras 3 (``keras.layers``), with augmentation as layers inside
the model, so the same training script runs on TensorFlow, JAX or torch and the saved
``.keras`` file loads on any of them. Models take (48, 48, 1) inputs in [0, 1] and end in a
float32 softmax over the classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import keras
from keras import layers

from fer_core.labels import CLASSES
from fer_core.preprocessing import IMAGE_SIZE

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
NUM_CLASSES = len(CLASSES)


def baseline(num_classes: int = NUM_CLASSES) -> keras.Model:
    """The seed's Sequential CNN: four Conv/MaxPool/Dropout blocks and two Dense layers."""
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Conv2D(128, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.4),
            layers.Conv2D(256, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.4),
            layers.Conv2D(512, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.4),
            layers.Conv2D(512, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.4),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(num_classes, activation="softmax", dtype="float32"),
        ],
        name="baseline",
    )


def augmentation(crop: int = 4, strong: bool = False) -> keras.Sequential:
    """Train-time jitter; inactive at inference, so it ships inside the model.

    A random translation followed by a fixed ``crop``-pixel border crop is a per-image random
    crop during training and a centre crop at inference, the classic FER recipe (train on
    random 40x40 crops, test on the centre), and the smaller maps make every step cheaper.
    ``strong`` adds photometric jitter (webcams differ in exposure and contrast far more than
    FER2013's photos) and random erasing (hands, glasses and microphones hide parts of faces),
    which long schedules need to keep from over-fitting.
    """
    jitter = [
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(0.05, fill_mode="reflect"),
        layers.RandomZoom(0.1, fill_mode="reflect"),
        layers.RandomTranslation(crop / IMAGE_SIZE, crop / IMAGE_SIZE, fill_mode="reflect"),
    ]
    if strong:
        jitter += [
            layers.RandomBrightness(0.2, value_range=(0.0, 1.0)),
            layers.RandomContrast(0.3),
            layers.RandomErasing(factor=0.5, scale=(0.02, 0.25), value_range=(0.0, 1.0)),
        ]
    return keras.Sequential([*jitter, layers.Cropping2D(crop)], name="augmentation")


def vgg(
    num_classes: int = NUM_CLASSES,
    widths: tuple[int, ...] = (32, 64, 128, 256),
    dropout: float = 0.4,
    crop: int = 4,
    convs: tuple[int, ...] | None = None,
    strong_augmentation: bool = False,
    half_resolution: bool = False,
    name: str = "vgg",
) -> keras.Model:
    """BN-VGG: stages of 3x3 conv + batch-norm + ReLU (``convs`` per stage, two each by
    default), max-pooling between stages, global average pooling and a small dense head.
    ``half_resolution`` averages 2x2 pixels before the first stage: a quarter of the
    multiply-adds, the same weights, for faces that hold no finer detail anyway (a 16 px face
    scaled up to 48)."""
    inputs = keras.Input(INPUT_SHAPE)
    x = augmentation(crop, strong_augmentation)(inputs)
    if half_resolution:
        x = layers.AveragePooling2D(2)(x)
    for stage, width in enumerate(widths):
        if stage:
            x = layers.MaxPooling2D(2)(x)
        for _ in range(convs[stage] if convs else 2):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


@dataclass(frozen=True)
class Recipe:
    """An architecture and the training defaults that suit it."""

    build: Callable[..., keras.Model]
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    warmup_epochs: int = 0
    cosine: bool = False
    epochs: int = 100
    batch_size: int = 128
    mixed_precision: bool = False


#: What the long-schedule recipes share: AdamW with decoupled weight decay, label smoothing,
#: a short warm-up and cosine decay. With ``--time-budget`` the number of epochs is planned
#: from the measured epoch time, so one recipe fits a CPU session or an accelerator's minutes.
_LONG = {
    "optimizer": "adamw",
    "learning_rate": 2e-3,
    "weight_decay": 5e-4,
    "label_smoothing": 0.1,
    "warmup_epochs": 2,
    "cosine": True,
    "epochs": 200,
}

RECIPES: dict[str, Recipe] = {
    # The seed's Sequential CNN (4.2M parameters).
    "baseline": Recipe(baseline),
    # BN-VGG 32-64-128-256 (1.2M parameters), geometric augmentation: the shipped models.
    "vgg": Recipe(
        vgg,
        optimizer="adamw",
        learning_rate=2e-3,
        weight_decay=1e-4,
        label_smoothing=0.1,
        warmup_epochs=1,
        cosine=True,
        epochs=75,
    ),
    # BN-VGG 64-128-256-512 (4.7M parameters), geometric augmentation.
    "vgg-wide": Recipe(
        partial(vgg, widths=(64, 128, 256, 512), name="vgg_wide"),
        optimizer="adamw",
        learning_rate=2e-3,
        weight_decay=1e-4,
        label_smoothing=0.1,
        warmup_epochs=1,
        cosine=True,
        epochs=40,
        mixed_precision=True,
    ),
    # BN-VGG 36-72-144-288 (1.6M parameters), geometric + photometric augmentation and
    # random erasing: against the over-fitting that long vgg runs show.
    "vgg-m": Recipe(
        partial(vgg, widths=(36, 72, 144, 288), strong_augmentation=True, name="vgg_m"),
        **_LONG,
    ),
    # vgg-m on faces averaged down to half resolution first (a quarter of the multiply-adds,
    # vgg-m's weights): a cheap small-face network for ``fer_core.routing``.
    "vgg-m-half": Recipe(
        partial(
            vgg,
            widths=(36, 72, 144, 288),
            strong_augmentation=True,
            half_resolution=True,
            name="vgg_m_half",
        ),
        **_LONG,
    ),
    # vgg-m with geometric augmentation only: the augmentation ablation.
    "vgg-m-basic": Recipe(partial(vgg, widths=(36, 72, 144, 288), name="vgg_m_basic"), **_LONG),
    # BN-VGG 24-48-96-192 with one convolution at full resolution (0.7M parameters, under
    # half of vgg's multiply-adds): a candidate for an even faster live model.
    "vgg-tiny": Recipe(
        partial(vgg, widths=(24, 48, 96, 192), convs=(1, 2, 2, 2), name="vgg_tiny"), **_LONG
    ),
}


def build_model(arch: str, num_classes: int = NUM_CLASSES) -> keras.Model:
    """Build an uncompiled model by recipe name (see ``RECIPES``)."""
    if arch not in RECIPES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[arch].build(num_classes=num_classes)


def renamed(model: keras.Model, name: str) -> keras.Model:
    """A copy of ``model`` (same weights) under ``name``, so that several models can be
    nested in one graph without their layer names clashing."""
    config = model.get_config()
    config["name"] = name
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy
