"""Run a classifier on LiteRT (TensorFlow Lite's runtime) instead of Keras.

For a small CNN, Keras' per-call overhead is a large share of the time; LiteRT's XNNPACK
kernels run the same float32 graph with almost none, about 1.3x to 2x faster on a 2-core CPU
at batch 64 and more at batch 1. ``export_litert`` converts a trained Keras model
(TensorFlow needed, once); ``LiteRTRunner`` runs the file with only the ``ai-edge-litert``
wheel. In float32 the outputs match Keras' to round-off, so a model's figures carry over.

``quantize="int8"`` stores weights and computes activations in 8-bit integers (ranges
measured on a few hundred real faces; input and output stay float32), another 1.4-1.6x on
CPUs with VNNI. It changes the answers slightly, so an int8 model is evaluated as what it is.

A routed model (``fer_core.routing``) is exported as its two networks, ``model.tflite`` the
general one and ``small.tflite`` the small-face one, so that each runs only on the faces it
reads; the gate between them is a few array operations.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Literal

import numpy as np

#: Name of the LiteRT file beside a model's ``model.keras``.
LITERT_FILE = "model.tflite"
#: A routed model's small-face network, beside its general one in ``LITERT_FILE``.
SMALL_LITERT_FILE = "small.tflite"
_MAX_BUCKET = 256
#: Padded batch sizes, each 1.5x or 2x the one before: at most a third of a call is padding
#: (a routed model's networks each run on a part of a batch), with 16 interpreters at most.
_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, _MAX_BUCKET)


Quantize = Literal["float32", "int8"]


def export_model_litert(
    model_file: str | os.PathLike[str],
    quantize: Quantize = "float32",
    representative: np.ndarray | None = None,
) -> Path:
    """Write ``model.tflite`` beside a saved ``model.keras`` and record, in the folder's
    ``config.json``, which Keras file it was made from (see ``stale_reason``) and how."""
    from fer_core.routing import routed_parts
    from fer_core.storage import load_model

    model_file = Path(model_file)
    folder = model_file.parent
    model = load_model(model_file)
    parts = routed_parts(model)
    general = model if parts is None else parts[0]
    path = export_litert(general, folder / LITERT_FILE, quantize, representative)
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    config["litert"] = {
        "file": LITERT_FILE,
        "quantize": quantize,
        "keras_sha256": _sha256(model_file),
    }
    (folder / SMALL_LITERT_FILE).unlink(missing_ok=True)
    if parts is not None:
        export_litert(parts[1], folder / SMALL_LITERT_FILE, quantize, representative)
        config["litert"]["small_file"] = SMALL_LITERT_FILE
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    return path


def stale_reason(model_file: Path, metadata: dict) -> str | None:
    """Why the ``model.tflite`` beside ``model_file`` must not stand in for it (made from
    another ``model.keras``, or not recorded at all), or None when it is the same network."""
    recorded = metadata.get("litert", {}).get("keras_sha256")
    if recorded is None:
        return f"{model_file.parent / LITERT_FILE} was not exported by export_model_litert"
    if recorded != _sha256(model_file):
        return f"{model_file.parent / LITERT_FILE} was made from an older {model_file.name}"
    return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_litert(
    model,
    path: str | os.PathLike[str],
    quantize: Quantize = "float32",
    representative: np.ndarray | None = None,
) -> Path:
    """Convert a Keras model's inference graph (augmentation and dropout off) to LiteRT.

    ``quantize="int8"`` needs ``representative``: preprocessed faces, (N, 48, 48, 1) float32
    (a few hundred from the training data), to measure each activation's range.
    """
    import tensorflow as tf

    if quantize not in ("float32", "int8"):
        raise ValueError(f"quantize must be 'float32' or 'int8', got {quantize!r}")
    shape = (None, *model.input_shape[1:])
    signature = [tf.TensorSpec(shape, tf.float32, name="faces")]
    forward = tf.function(lambda faces: model(faces, training=False), input_signature=signature)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [forward.get_concrete_function()], model
    )
    if quantize == "int8":
        if representative is None or len(representative) == 0:
            raise ValueError("int8 quantization needs representative faces")
        faces = np.asarray(representative, np.float32)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([faces[i : i + 1]] for i in range(len(faces)))
    path = Path(path)
    path.write_bytes(converter.convert())
    return path


class LiteRTRunner:
    """A LiteRT model as a batch function: (N, H, W, C) float32 -> (N, outputs) float32.

    Batches are padded up to the next of ``_BUCKETS`` (at most 256 a call) and each padded
    size keeps its own interpreter, so a live stream whose face count changes every frame
    never pays for re-planning the graph. Calls are serialized: an interpreter is not thread-safe.
    """

    def __init__(self, path: str | os.PathLike[str], num_threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._content = Path(path).read_bytes()
        self._threads = num_threads or len(os.sched_getaffinity(0)) or 1
        self._make = Interpreter
        self._interpreters: dict[int, tuple[object, int, int]] = {}
        self._lock = threading.Lock()
        self.outputs = int(self._interpreter(1)[0].get_output_details()[0]["shape"][-1])

    def _interpreter(self, size: int) -> tuple[object, int, int]:
        """The interpreter planned for batches of ``size``, with its input and output index."""
        entry = self._interpreters.get(size)
        if entry is None:
            interpreter = self._make(model_content=self._content, num_threads=self._threads)
            (given,) = interpreter.get_input_details()
            interpreter.resize_tensor_input(given["index"], [size, *given["shape"][1:]])
            interpreter.allocate_tensors()
            output = interpreter.get_output_details()[0]["index"]
            entry = self._interpreters[size] = (interpreter, given["index"], output)
        return entry

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        chunks = [self._run(batch[i : i + _MAX_BUCKET]) for i in range(0, len(batch), _MAX_BUCKET)]
        return np.concatenate(chunks) if chunks else np.empty((0, self.outputs), np.float32)

    def _run(self, chunk: np.ndarray) -> np.ndarray:
        n = len(chunk)
        size = next(bucket for bucket in _BUCKETS if bucket >= n)
        if size != n:
            chunk = np.concatenate([chunk, np.zeros((size - n, *chunk.shape[1:]), np.float32)])
        with self._lock:
            interpreter, given, output = self._interpreter(size)
            interpreter.set_tensor(given, chunk)
            interpreter.invoke()
            out = interpreter.get_tensor(output)
        return out[:n].astype(np.float32, copy=True)
