"""Average trained models into one: python scripts/make_ensemble.py M1 M2 ... --out DIR.

Writes a model folder that every script, ``EmotionClassifier`` and the dashboard use like any
other model; ``--tta`` sets the test-time augmentation ``predict_proba`` applies by default.
A member that is an ensemble joins as its networks, each weighing the same as the others.
Then calibrate and evaluate it as usual (``scripts/calibrate.py``, ``scripts/evaluate.py``).
"""

from __future__ import annotations

import argparse
import json
import sys

from fer_core.ensemble import save_ensemble
from fer_core.errors import FerCoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("members", nargs="+", help="model names, folders or .keras files")
    parser.add_argument("--out", required=True, help="model folder to write")
    parser.add_argument("--tta", choices=["flip", "tencrop"], help="default test-time views")
    parser.add_argument(
        "--weights",
        choices=["float32", "float16"],
        default="float32",
        help="how the weights are stored: float16 halves the file, answers barely move",
    )
    args = parser.parse_args(argv)
    try:
        path = save_ensemble(args.members, args.out, args.tta, args.weights)
    except FerCoreError as error:
        parser.exit(2, f"error: {error}\n")
    members = json.loads((path.parent / "config.json").read_text())["members"]
    print(f"saved {path}: {', '.join(m['model'] for m in members)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
