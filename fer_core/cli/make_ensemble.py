"""Average trained models into one model folder.

fer-core make-ensemble M1 M2 ... --out DIR

Writes a model folder that every command, ``EmotionClassifier`` and the dashboard use like
any other model; ``--tta`` sets the test-time augmentation ``predict_proba`` applies by
default. A member that is an ensemble joins as its networks, each weighing the same as the
others. Then calibrate and evaluate it as usual (``fer-core calibrate``, ``fer-core evaluate``).
"""

from __future__ import annotations

import argparse
import json

from fer_core.cli import quiet
from fer_core.cli.options import add_weights_option, command_parser, exits_on_error


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = command_parser(prog, __doc__)
    parser.add_argument("members", nargs="+", help="model names, folders or .keras files")
    parser.add_argument("--out", required=True, help="model folder to write")
    parser.add_argument("--tta", choices=["flip", "tencrop"], help="default test-time views")
    add_weights_option(parser)
    quiet.add_option(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from fer_core.ensemble import save_ensemble

    with exits_on_error(parser):
        path = save_ensemble(args.members, args.out, args.tta, args.weights)
    members = json.loads((path.parent / "config.json").read_text())["members"]
    print(f"saved {path}: {', '.join(m['model'] for m in members)}")
    return 0
