"""Small faces go to the network trained for them: one model that routes each face by how much
detail it holds.

A face a few pixels wide, scaled up to 48 px, holds no fine detail. Networks trained on faces
of every size read such a face worse than one trained on small faces only, and that one reads
sharp faces worse. ``route_small_faces`` joins the two in one Keras graph: a gate measures the
detail the face keeps in four frequency bands (what successive blurs take away, against the
face's contrast) and gives the general network ``sigmoid(w . bands + b)`` of the answer, the
small-face network the rest. The five numbers are fitted (``fit_gate``) to make that mix right
most often on the validation split shown at several face sizes, so no size threshold is set by
hand: a blurred large face goes where blurred faces are read best. The gate reads the image,
not the box, so the model saves, exports to LiteRT and runs like any other, for any caller.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Literal

import cv2
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
#: move no probability by more). On the validation split at 0.2, ``fast`` with two small-face
#: networks read within 0.2 points of the mix with both always run, at 48/32/24/16/12 px,
#: while the small-face part ran for 21% of the full-size faces and the general network for
#: 10% of the 12 px ones.
SKIP_SHARE = 0.2
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


def _detail_bands_numpy(faces: np.ndarray) -> np.ndarray:
    """``detail_bands`` in NumPy and OpenCV (the same numbers to float32 round-off). The faces
    are the channels of one image: OpenCV blurs all of them in one call, 512 at a time."""
    faces = np.asarray(faces, np.float32).reshape(len(faces), *np.shape(faces)[1:3])
    image = np.ascontiguousarray(faces.transpose(1, 2, 0))
    contrast = image.var(axis=(0, 1)) + _EPS
    levels = [image] + [_box_mean(image, size) for size in BAND_POOLS]
    bands = [
        np.log(np.square(fine - coarse).mean(axis=(0, 1)) + _EPS) - np.log(contrast)
        for fine, coarse in pairwise(levels)
    ]
    return np.stack(bands, axis=1)


def _box_mean(image: np.ndarray, size: int) -> np.ndarray:
    """An (H, W, N) image's mean over ``size`` x ``size`` windows, the border's missing cells
    left out of the count: what ``average_pool(..., strides=1, padding="same")`` gives."""
    window = {"ksize": (size, size), "anchor": ((size - 1) // 2,) * 2, "normalize": False}
    ones = np.ones(image.shape[:2], np.float32)
    counts = cv2.boxFilter(ones, -1, borderType=cv2.BORDER_CONSTANT, **window)
    sums = [
        cv2.boxFilter(image[..., start : start + 512], -1, borderType=cv2.BORDER_CONSTANT, **window)
        for start in range(0, image.shape[2], 512)
    ]
    return (
        np.concatenate([part.reshape(*image.shape[:2], -1) for part in sums], axis=2)
        / (counts[..., None])
    )


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

    def shares(self, faces: np.ndarray) -> np.ndarray:
        """``general_share`` computed in NumPy, for (N, 48, 48, 1) float faces: the
        classifier's path, without a framework's per-operation cost (on TensorFlow the gate
        took 3.5 ms a call, more than the int8 network it routes)."""
        logits = _detail_bands_numpy(faces) @ np.asarray(self.gate_weights, np.float32)
        return 1.0 / (1.0 + np.exp(-(logits + self.bias)))

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


#: How soft ``fit_gate``'s count of right answers is: a face counts
#: ``sigmoid(margin / GATE_SOFTNESS)``, its margin being the true class's mixed probability
#: less the best other class's.
GATE_SOFTNESS = 0.05


def fit_gate(
    bands: np.ndarray, general: np.ndarray, small: np.ndarray, labels: np.ndarray
) -> tuple[list[float], float]:
    """The gate's weights and bias that make the mix right most often: ``bands`` from
    ``detail_bands``, (N, 4); ``general`` and ``small`` the networks' (N, C) probabilities;
    ``labels`` (N,) class codes.

    First the lowest log loss (smooth, one optimum), then from there the most right answers,
    counted softly (``GATE_SOFTNESS``). Log loss alone leans to the general network for small
    faces: the bands tell a 16 px face from a 24 px one only roughly, and log loss pays more
    for the small-face network's rare confident mistakes than for the general network's many
    hesitant ones. On the validation split, counting right answers read 16 px faces 1.3
    points better (two small-face networks with ``fast``), with the same full-size figure.
    A tiny L2 term keeps both finite when the bands separate the faces perfectly.
    """
    bands = np.asarray(bands, np.float64)
    mean, scale = bands.mean(axis=0), bands.std(axis=0) + 1e-9
    z = np.column_stack([(bands - mean) / scale, np.ones(len(bands))])
    general, small = np.asarray(general, np.float64), np.asarray(small, np.float64)
    truth = np.eye(general.shape[1], dtype=bool)[labels]

    def mix(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        share = 1.0 / (1.0 + np.exp(-(z @ theta)))
        return share, share[:, None] * general + (1.0 - share[:, None]) * small

    def log_loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        share, p = mix(theta)
        p_true = p[truth] + 1e-12
        d_share = (general[truth] - small[truth]) / p_true  # d log p / d share
        grad = -z.T @ (d_share * share * (1.0 - share)) / len(p)
        return float(-np.log(p_true).mean() + 1e-4 * theta @ theta), grad + 2e-4 * theta

    def soft_errors(theta: np.ndarray) -> tuple[float, np.ndarray]:
        share, p = mix(theta)
        rival = np.where(truth, -np.inf, p).argmax(axis=1)
        rows = np.arange(len(p))
        counted = 1.0 / (1.0 + np.exp(-(p[truth] - p[rows, rival]) / GATE_SOFTNESS))
        d_margin = (general[truth] - small[truth]) - (general[rows, rival] - small[rows, rival])
        d_logit = counted * (1.0 - counted) / GATE_SOFTNESS * d_margin * share * (1.0 - share)
        grad = -z.T @ d_logit / len(p)
        return float(-counted.mean() + 1e-4 * theta @ theta), grad + 2e-4 * theta

    theta = minimize(log_loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    theta = minimize(soft_errors, theta, jac=True, method="L-BFGS-B").x
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
    if len(faces) == 0:
        raise ValueError("mix_by_share needs at least one face: no network ran to give the classes")
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
