"""Join a model with a small-face network: faces that hold little detail go to the latter.

fer-core route-small-faces GENERAL SMALL --data D --out DIR [--tta tencrop] [--weights float16]
    [--small-tta none] [--small-part-tta flip]

GENERAL is a model or ensemble trained on faces of every size, SMALL a network trained on
small faces (``fer-core train --lowres 1.0 --val-face-size 16``), both validated on the same
split of D's ``train/``. A gate that reads each face's detail mixes their answers; it is fitted
on that split shown at 48 to 12 px (``fer_core.routing``). The small-face part reads each face
and its mirror image unless ``--small-tta none`` (for a model whose own views mirror already).
The folder is a model like any other: calibrate, export and evaluate it as usual.
"""

from __future__ import annotations

import argparse
import json

from fer_core.cli import quiet
from fer_core.cli.options import add_weights_option, command_parser, exits_on_error


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = command_parser(prog, __doc__)
    parser.add_argument("general", help="model name, folder or .keras file for every face")
    parser.add_argument("small", help="the small-face network (name, folder or .keras file)")
    parser.add_argument("--data", required=True, help="the training dataset (fits the gate)")
    parser.add_argument("--out", required=True, help="model folder to write")
    parser.add_argument("--tta", choices=["flip", "tencrop"], help="default test-time views")
    parser.add_argument(
        "--small-tta",
        choices=["flip", "none"],
        default="flip",
        help="views of the small-face part: each face and its mirror image (default), or one",
    )
    parser.add_argument(
        "--small-part-tta",
        choices=["flip"],
        help="with --tta tencrop: the small-face part reads only each face and its mirror "
        "image (a crop's 4 px shift is much of a small face)",
    )
    add_weights_option(parser)
    quiet.add_option(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from fer_core.ensemble import save_routed

    with exits_on_error(parser):
        path = save_routed(
            args.general,
            args.small,
            args.out,
            args.data,
            args.tta,
            args.weights,
            small_tta=None if args.small_tta == "none" else args.small_tta,
            small_part_tta=args.small_part_tta,
        )
    routing = json.loads((path.parent / "config.json").read_text())["routing"]
    losses = ", ".join(f"{name} {value:.3f}" for name, value in routing["log_loss"].items())
    print(f"saved {path}; log loss on the fitting faces: {losses}")
    return 0
