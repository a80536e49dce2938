"""Add a LiteRT copy of a model, beside its model.keras.

fer-core export-litert --model DIR [--int8 --data D]

Writes ``model.tflite`` beside ``model.keras``; ``EmotionClassifier.load`` then runs the
network on LiteRT (faster on a CPU; in float32 the same outputs). ``--int8`` quantizes it,
measuring activation ranges on 500 faces of the model's validation split of ``--data``, half
of them shown as small faces (12-32 px), as a room camera shows them; evaluate the result
again, since its answers change slightly. Needs TensorFlow, once.
"""

from __future__ import annotations

import argparse

from fer_core.cli import quiet
from fer_core.cli.options import command_parser, exits_on_error


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = command_parser(prog, __doc__)
    parser.add_argument("--model", required=True, help="model name, folder or .keras file")
    parser.add_argument("--int8", action="store_true", help="quantize to 8-bit integers")
    parser.add_argument("--data", help="the training dataset (for --int8)")
    quiet.add_option(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.int8 and not args.data:
        parser.error("--int8 needs --data, to measure activation ranges on real faces")
    import numpy as np

    from fer_core.catalog import resolve_model_path
    from fer_core.classifier import EmotionClassifier
    from fer_core.data import load_dataset
    from fer_core.evaluation import validation_split
    from fer_core.litert import export_model_litert
    from fer_core.lowres import degrade_at_random
    from fer_core.preprocessing import preprocess

    with exits_on_error(parser):
        keras_clf = EmotionClassifier.load(args.model, precision="float32", runtime="keras")
        representative = None
        if args.int8:
            faces, _ = validation_split(keras_clf, load_dataset(args.data))
            small, _ = degrade_at_random(faces[:500], 0.5, np.random.default_rng(0))
            representative = preprocess(small)
        path = export_model_litert(
            resolve_model_path(args.model), "int8" if args.int8 else "float32", representative
        )
        litert_clf = EmotionClassifier.load(args.model, runtime="litert")
    if representative is None:
        representative = preprocess(
            np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
        )
    theirs = keras_clf.predict_proba(representative, tta=None)
    ours = litert_clf.predict_proba(representative, tta=None)
    gap = np.abs(theirs - ours).max()
    same = np.mean(theirs.argmax(1) == ours.argmax(1))
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); against Keras on "
        f"{len(ours)} faces: largest probability difference {gap:.2e}, same label {same:.1%}"
    )
    return 0
