"""Soak benchmark of live recording: memory, database size and session opening over a long,
many-face stream.

fer-core soak [--minutes M] [--faces N] [--fps F] [--sample-s S] [--folder DIR]

Synthetic faces at a fake clock, the detector and model bypassed (see ``fer_core.soak``);
prints the samples and figures as JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fer_core.cli import quiet
from fer_core.cli.options import command_parser


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = command_parser(prog, __doc__)
    parser.add_argument("--minutes", type=float, default=60.0, help="stream time (default 60)")
    parser.add_argument("--faces", type=int, default=50, help="people in view (default 50)")
    parser.add_argument("--fps", type=float, default=15.0, help="analyzed frames a second")
    parser.add_argument("--sample-s", type=float, default=60.0, help="stream seconds a sample")
    parser.add_argument("--folder", type=Path, help="where the temporary database goes")
    quiet.add_option(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    import json

    from fer_core.soak import soak

    result = soak(args.minutes, args.faces, args.fps, sample_s=args.sample_s, folder=args.folder)
    print(json.dumps(result, indent=2))
    return 0
