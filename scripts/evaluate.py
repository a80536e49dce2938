"""Evaluate a saved model on a dataset split and write metrics.json, a PNG and an HTML report.

python scripts/evaluate.py --model models/vgg-small --data DIR [--tta flip tencrop]
"""

from __future__ import annotations

import argparse
import sys

from fer_core.errors import FerCoreError
from fer_core.evaluation import evaluate_saved_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", help="model name, folder or .keras file (default: shipped model)"
    )
    parser.add_argument("--data", required=True, help="dataset root (any supported layout)")
    parser.add_argument(
        "--split",
        default="test",
        help="which split to score (default: test; "
        "'val': the validation part of train/ the model was trained without)",
    )
    parser.add_argument(
        "--tta",
        nargs="*",
        default=[],
        choices=["flip", "tencrop"],
        help="also report these test-time augmentations beside the plain figure",
    )
    parser.add_argument("--out", help="report folder (default: the model's folder)")
    parser.add_argument("--cache-dir", help="where decoded datasets are cached")
    parser.add_argument(
        "--offline-html",
        action="store_true",
        help="embed plotly.js in the HTML report instead of loading it from a CDN",
    )
    args = parser.parse_args(argv)

    try:
        metrics, paths = evaluate_saved_model(
            args.model, args.data, args.split, args.tta, args.out, args.cache_dir, args.offline_html
        )
    except FerCoreError as error:
        parser.exit(2, f"error: {error}\n")
    default = f" (the model's {metrics['default_tta']} TTA)" if metrics["default_tta"] else ""
    print(
        f"accuracy {metrics['accuracy']:.4f}  macro F1 {metrics['macro_f1']:.4f}  "
        f"on {metrics['n_images']} images{default}, {metrics['faces_per_second']:.0f} faces/s"
    )
    for mode, scores in metrics["tta"].items():
        view = "single view" if mode == "none" else f"with {mode} TTA"
        print(f"  {view}: accuracy {scores['accuracy']:.4f}  macro F1 {scores['macro_f1']:.4f}")
    for path in paths.values():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
