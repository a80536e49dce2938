"""Fit a model's calibration temperature on its validation split and save it in config.json.

python scripts/calibrate.py --model models/vgg-small --data DIR

Uses the training split's held-out part (the fraction and seed the model was trained with),
never the test split. Accuracy does not change; confidence does.
"""

from __future__ import annotations

import argparse
import sys

from fer_core.errors import FerCoreError
from fer_core.evaluation import calibrate_saved_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model name, folder or .keras file (default: shipped)")
    parser.add_argument("--data", required=True, help="the dataset the model was trained on")
    parser.add_argument("--cache-dir", help="where decoded datasets are cached")
    args = parser.parse_args(argv)
    try:
        result = calibrate_saved_model(args.model, args.data, args.cache_dir)
    except FerCoreError as error:
        parser.exit(2, f"error: {error}\n")
    print(
        f"temperature {result['temperature']:.3f} on {result['n_images']} validation images: "
        f"ECE {result['ece_before']:.4f} -> {result['ece_after']:.4f}, "
        f"NLL {result['nll_before']:.4f} -> {result['nll_after']:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
