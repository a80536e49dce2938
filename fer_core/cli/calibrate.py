"""Fit a model's confidence temperature on its validation split, into config.json.

fer-core calibrate --model runs/vgg-small --data DIR

Uses the training split's held-out part (the fraction and seed the model was trained with),
never the test split. Accuracy does not change; confidence does.
"""

from __future__ import annotations

import argparse

from fer_core.cli import quiet
from fer_core.cli.options import command_parser, exits_on_error


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = command_parser(prog, __doc__)
    parser.add_argument("--model", help="model name, folder or .keras file (default: shipped)")
    parser.add_argument("--data", required=True, help="the dataset the model was trained on")
    parser.add_argument("--cache-dir", help="where decoded datasets are cached")
    quiet.add_option(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from fer_core.evaluation import calibrate_saved_model

    with exits_on_error(parser):
        result = calibrate_saved_model(args.model, args.data, args.cache_dir)
    print(
        f"temperature {result['temperature']:.3f} on {result['n_images']} validation images: "
        f"ECE {result['ece_before']:.4f} -> {result['ece_after']:.4f}, "
        f"NLL {result['nll_before']:.4f} -> {result['nll_after']:.4f}"
    )
    return 0
