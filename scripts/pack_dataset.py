"""Pack a dataset into one .npz archive: python scripts/pack_dataset.py --data DIR --out FILE.npz.

The archive holds the decoded 48x48 images, labels and relative paths of each split, and
``--data FILE.npz`` reads it back in every script, so a training machine needs one file
instead of tens of thousands of small ones.
"""

from __future__ import annotations

import argparse
import sys

from fer_core.data import load_dataset, save_archive
from fer_core.errors import FerCoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="dataset root (any supported layout)")
    parser.add_argument("--out", required=True, help="archive to write (.npz)")
    parser.add_argument("--splits", nargs="+", help="splits to keep (default: all)")
    args = parser.parse_args(argv)
    try:
        dataset = load_dataset(args.data)
        path = save_archive(dataset, args.out, args.splits)
    except (FerCoreError, ValueError, OSError) as error:
        parser.exit(2, f"error: {error}\n")
    packed = args.splits or list(dataset.splits)
    sizes = ", ".join(f"{name} {len(dataset.splits[name])}" for name in packed)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB; {sizes})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
