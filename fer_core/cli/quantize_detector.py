"""Rebuild the int8 CenterFace face detector from the float one.

fer-core quantize-detector [--source centerface.onnx] [--out centerface-int8.onnx]

The int8 network finds the same faces about twice as fast; its activation ranges come from
generated crowd frames, so no dataset is needed (see ``fer_core.detectors.quantize``). Check
the result with ``fer-core benchmark --crowd PHOTOS`` against ``--detector centerface-float32``.
"""

from __future__ import annotations

import argparse

from fer_core.cli import quiet
from fer_core.cli.options import command_parser, exits_on_error


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    from fer_core.detectors.centerface import FLOAT_MODEL_PATH, MODEL_PATH

    parser = command_parser(prog, __doc__)
    parser.add_argument("--source", default=str(FLOAT_MODEL_PATH), help="the float ONNX model")
    parser.add_argument("--out", default=str(MODEL_PATH), help="the int8 ONNX file to write")
    quiet.add_option(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from fer_core.detectors.quantize import quantize_centerface

    with exits_on_error(parser):
        path = quantize_centerface(args.out, args.source)
    print(f"saved {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
