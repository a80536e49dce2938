"""Small faces go to the network trained for them: one model that routes each face by how much
detail it holds.

A face a few pixels wide, scaled up to 48 px, holds no fine detail. Networks trained on faces
of every size read such a face worse than one trained on small faces only, and that one reads
sharp faces worse. ``route_small_faces`` joins the two in one Keras graph: a gate measures the
detail the face keeps in four frequency bands (what successive blurs take away, against the
face's contrast) and gives the general network ``sigmoid(w . bands + b)`` of the answer, the
small-face network the rest. The five numbers are fitted (``fit_gate``) to the lowest log loss
of that mix on the validation split shown at several face sizes, so no size threshold is set by
hand: a blurred large face goes where blurred faces are read best. The gate reads the image,
not the box, so the model saves, exports to LiteRT and runs like any other, for any caller.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Literal

import keras
import numpy as np
from keras import layers, ops
from scipy.optimize import minimize

from fer_core.models import renamed

#: Box-blur widths (px) whose successive differences are the gate's frequency bands.
BAND_POOLS = (2, 3, 4, 6)
ROUTER_LAYER = "small_face_router"
FLIP_MEAN_LAYER = "flip_mean"
#: A network whose share of a face's answer is below this is not run for that face (it would
#: move no probability by more). On the validation split at 0.1, ``fast`` with a small-face
#: network read the same (within 0.1 point at 48/32/24/16/12 px) as with both always run,
#: and the small-face network ran for 4% of full-size faces instead of 83%.
SKIP_SHARE = 0.1
_EPS = 1e-7


def detail_bands(faces):
    """Per face, the log share of its contrast in each band between successive ``BAND_POOLS``
    blurs: (N, 48, 48, 1) faces in [0, 1] -> (N, 4). A Keras op, so the gate and its fit
    compute exactly the same numbers."""
    faces = ops.cast(faces, "float32")
    contrast = ops.var(faces, axis=(1, 2, 3)) + _EPS
    levels = [faces] + [
        ops.average_pool(faces, size, strides=1, padding="same") for size in BAND_POOLS
    ]
    bands = [
        ops.log(ops.mean(ops.square(fine - coarse), axis=(1, 2, 3)) + _EPS) - ops.log(contrast)
        for fine, coarse in pairwise(levels)
    ]
    return ops.stack(bands, axis=1)


@keras.saving.register_keras_serializable(package="fer_core")
class SmallFaceRouter(layers.Layer):
    """``[faces, general, small]`` -> ``g * general + (1 - g) * small``, with
    ``g = sigmoid(weights . detail_bands(faces) + bias)``: a face that keeps its detail is read
    by the general network. Computes in float32 whatever the model's policy."""

    def __init__(self, weights: list[float], bias: float, **kwargs) -> None:
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        if len(weights) != len(BAND_POOLS):
            raise ValueError(f"the gate takes {len(BAND_POOLS)} weights, got {len(weights)}")
        self.gate_weights = [float(w) for w in weights]
        self.bias = float(bias)

    def general_share(self, faces):
        """The general network's share of each face's answer, (N,)."""
        logits = ops.matmul(detail_bands(faces), ops.convert_to_tensor(self.gate_weights))
        return ops.sigmoid(logits + self.bias)

    def call(self, inputs):
        faces, general, small = inputs
        share = ops.expand_dims(self.general_share(faces), -1)
        return share * ops.cast(general, "float32") + (1.0 - share) * ops.cast(small, "float32")

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self) -> dict:
        return {**super().get_config(), "weights": self.gate_weights, "bias": self.bias}


@keras.saving.register_keras_serializable(package="fer_core")
class HorizontalFlip(layers.Layer):
    """Mirrors faces left to right, always (Keras' ``RandomFlip`` does nothing at inference)."""

    def call(self, faces):
        return ops.flip(faces, axis=2)


def flip_averaged(model: keras.Model, name: str) -> keras.Model:
    """``model``'s answer averaged over each face and its mirror image, as one model named
    ``name``: test-time flipping inside the graph, so a routed model's small-face part (which
    runs on its own, see ``mix_by_share``) carries its views with it into LiteRT."""
    faces = keras.Input(model.input_shape[1:])
    views = [model(faces), model(HorizontalFlip()(faces))]
    return keras.Model(faces, layers.Average(name=FLIP_MEAN_LAYER)(views), name=name)


def route_small_faces(
    general: keras.Model,
    small: keras.Model,
    weights: list[float],
    bias: float,
    small_tta: Literal["flip"] | None = None,
) -> keras.Model:
    """One model: ``general`` (a network or an ensemble) for faces with detail, ``small`` for
    faces without, mixed by the fitted gate (``fit_gate``). Both take the same input.
    ``small_tta="flip"`` averages the small-face part over each face and its mirror image
    (see ``small_face_part``)."""
    if tuple(general.input_shape[1:]) != tuple(small.input_shape[1:]) or (
        general.output_shape[-1] != small.output_shape[-1]
    ):
        raise ValueError(
            f"the networks differ: general {general.input_shape} -> {general.output_shape}, "
            f"small {small.input_shape} -> {small.output_shape}"
        )
    faces = keras.Input(general.input_shape[1:])
    mixed = SmallFaceRouter(weights, bias, name=ROUTER_LAYER)(
        [faces, renamed(general, "general")(faces), small_face_part(small, small_tta)(faces)]
    )
    return keras.Model(faces, mixed, name="routed")


def small_face_part(small: keras.Model, tta: Literal["flip"] | None = None) -> keras.Model:
    """``small`` as a routed model's small-face part (named ``small``); ``tta="flip"`` averages
    it over each face and its mirror image. Mirroring costs a second pass only on the small
    faces, which the general network reads worst, and on the validation split it took two
    small-face networks from 59.6% to 60.7% at 16 px."""
    if tta is None:
        return renamed(small, "small")
    if tta != "flip":
        raise ValueError(f"a small-face part's tta must be None or 'flip', got {tta!r}")
    return flip_averaged(renamed(small, "small_network"), "small")


def unflipped(model: keras.Model) -> keras.Model:
    """The model inside ``flip_averaged``'s, else ``model`` itself."""
    if model.layers and model.layers[-1].name == FLIP_MEAN_LAYER:
        return next(layer for layer in model.layers if isinstance(layer, keras.Model))
    return model


def routed_parts(model: keras.Model) -> tuple[keras.Model, keras.Model] | None:
    """``(general, small)`` of a model made by ``route_small_faces``, else None."""
    if not model.layers or model.layers[-1].name != ROUTER_LAYER:
        return None
    named = {layer.name: layer for layer in model.layers}
    return named["general"], named["small"]


def fit_gate(
    bands: np.ndarray, general: np.ndarray, small: np.ndarray, labels: np.ndarray
) -> tuple[list[float], float]:
    """The gate's weights and bias that give the mix its lowest log loss: ``bands`` from
    ``detail_bands``, (N, 4); ``general`` and ``small`` the networks' (N, C) probabilities;
    ``labels`` (N,) class codes. A tiny L2 term keeps it finite when the bands separate
    perfectly."""
    bands = np.asarray(bands, np.float64)
    mean, scale = bands.mean(axis=0), bands.std(axis=0) + 1e-9
    z = (bands - mean) / scale
    rows = np.arange(len(labels))
    p_general = np.asarray(general, np.float64)[rows, labels]
    p_small = np.asarray(small, np.float64)[rows, labels]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        share = 1.0 / (1.0 + np.exp(-(z @ theta[:-1] + theta[-1])))
        p = share * p_general + (1.0 - share) * p_small + 1e-12
        d_share = share * (1.0 - share) * (p_general - p_small) / p  # d log p / d logit
        grad = -np.concatenate([z.T @ d_share, [d_share.sum()]]) / len(p)
        return float(-np.log(p).mean() + 1e-4 * theta @ theta), grad + 2e-4 * theta

    theta = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B").x
    weights = theta[:-1] / scale
    return weights.tolist(), float(theta[-1] - weights @ mean)


def mix_by_share(
    faces: np.ndarray,
    share: np.ndarray,
    general: Callable[[np.ndarray], np.ndarray],
    small: Callable[[np.ndarray], np.ndarray],
    skip: float = SKIP_SHARE,
) -> np.ndarray:
    """The routed answer for ``faces`` given the general network's ``share`` of each (from
    ``SmallFaceRouter.general_share``), calling each network (a batch function) only on the
    faces it holds at least ``skip`` of; a face left to one network gets its answer alone."""
    share = np.asarray(share, np.float32)
    share = np.where(share < skip, 0.0, np.where(share > 1.0 - skip, 1.0, share))[:, None]
    mixed = None
    for weight, network in ((share, general), (1.0 - share, small)):
        rows = np.flatnonzero(weight[:, 0] > 0)
        if len(rows) == 0:
            continue
        part = np.asarray(network(faces[rows]), np.float32) * weight[rows]
        if mixed is None:
            mixed = np.zeros((len(faces), part.shape[1]), np.float32)
        mixed[rows] += part
    return mixed
