"""Pack a dataset into one .npz archive that every --data option reads.

fer-core pack-dataset --data DIR --out FILE.npz

The archive holds the decoded 48x48 images, labels and relative paths of each split, and
``--data FILE.npz`` reads it back in every command, so a training machine needs one file
instead of tens of thousands of small ones.
"""

from __future__ import annotations

import argparse

from fer_core.cli import quiet
from fer_core.cli.options import command_parser, exits_on_error


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = command_parser(prog, __doc__)
    parser.add_argument("--data", required=True, help="dataset root (any supported layout)")
    parser.add_argument("--out", required=True, help="archive to write (.npz)")
    parser.add_argument("--splits", nargs="+", help="splits to keep (default: all)")
    quiet.add_option(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from fer_core.data import load_dataset, save_archive
    from fer_core.errors import FerCoreError

    with exits_on_error(parser, (FerCoreError, ValueError, OSError)):
        dataset = load_dataset(args.data)
        path = save_archive(dataset, args.out, args.splits)
    packed = args.splits or list(dataset.splits)
    sizes = ", ".join(f"{name} {len(dataset.splits[name])}" for name in packed)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB; {sizes})")
    return 0
