"""Inference precision: run a float32-trained model in bfloat16 where the CPU does it natively.

CPUs with AVX-512 BF16 or AMX (recent AMD EPYC / Ryzen, Intel Xeon since Cooper Lake) run
bfloat16 convolutions at up to twice the float32 rate, and a classifier's answers barely
move (the shipped models' test accuracy changes by under 0.3 points). Elsewhere bfloat16 is
emulated and slower, so ``"auto"`` only picks it where the instructions exist.
"""

from __future__ import annotations

import os
import platform
from functools import cache
from pathlib import Path
from typing import Literal

import keras

Precision = Literal["auto", "float32", "bfloat16"]
PRECISIONS: tuple[str, ...] = ("auto", "float32", "bfloat16")
#: Overrides ``"auto"`` for every classifier, e.g. to compare precisions or pin float32.
PRECISION_ENV = "FER_CORE_PRECISION"
_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@cache
def native_bfloat16() -> bool:
    """Whether this CPU has bfloat16 arithmetic instructions (read from /proc/cpuinfo)."""
    if platform.system() != "Linux":
        return False
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(_BF16_FLAGS & set(line.split(":", 1)[1].split()))
    return False


def resolve_precision(precision: Precision = "auto") -> Literal["float32", "bfloat16"]:
    """``"auto"`` (or ``$FER_CORE_PRECISION``) -> the precision to run in on this machine."""
    if precision == "auto":
        precision = os.environ.get(PRECISION_ENV, "auto")  # type: ignore[assignment]
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        native = native_bfloat16() and keras.backend.backend() == "tensorflow"
        return "bfloat16" if native else "float32"
    return precision


def with_precision(model: keras.Model, precision: Literal["float32", "bfloat16"]) -> keras.Model:
    """The same network and weights computing in ``precision``.

    Weights stay float32 (Keras' ``mixed_bfloat16`` policy) and the layers that make
    probabilities (the output layer, every softmax, an ensemble's mean) keep float32, so
    probabilities are summed and calibrated at full precision. Nested models (ensemble
    members) are converted layer by layer too.
    """
    if precision == "float32":
        return model
    output = model.layers[-1]

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if layer is not output and not _makes_probabilities(layer):
            config["dtype"] = "mixed_bfloat16"
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


def _makes_probabilities(layer: keras.layers.Layer) -> bool:
    softmax = getattr(layer, "activation", None) is keras.activations.softmax
    return softmax or isinstance(layer, keras.layers.Average)
