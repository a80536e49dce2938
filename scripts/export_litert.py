"""Add a LiteRT copy of a model: python scripts/export_litert.py --model DIR.

Writes ``model.tflite`` beside ``model.keras``; ``EmotionClassifier.load`` then runs the
network on LiteRT (faster on a CPU, same outputs). Needs TensorFlow, once.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from fer_core.catalog import resolve_model_path
from fer_core.classifier import EmotionClassifier
from fer_core.errors import FerCoreError
from fer_core.litert import export_model_litert


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="model name, folder or .keras file")
    args = parser.parse_args(argv)
    try:
        keras_clf = EmotionClassifier.load(args.model, precision="float32", runtime="keras")
        path = export_model_litert(resolve_model_path(args.model))
        litert_clf = EmotionClassifier.load(args.model, runtime="litert")
    except FerCoreError as error:
        parser.exit(2, f"error: {error}\n")
    faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    gap = np.abs(
        keras_clf.predict_proba(faces, tta=None) - litert_clf.predict_proba(faces, tta=None)
    ).max()
    size = path.stat().st_size / 1e6
    print(f"wrote {path} ({size:.1f} MB); largest difference from Keras {gap:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
