"""What several commands share: the usage-error exit on a library error, and the longer
options defined the same way in more than one command, so each is written and worded once.

Light on purpose: the commands import it at their top, before they know whether they will
load the library (``fer_core.errors`` imports nothing).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from fer_core.errors import FerCoreError


@contextmanager
def exits_on_error(
    parser: argparse.ArgumentParser,
    errors: type[Exception] | tuple[type[Exception], ...] = FerCoreError,
) -> Iterator[None]:
    """Turn ``errors`` raised inside into a usage error: ``error: MESSAGE`` and exit code 2."""
    try:
        yield
    except errors as error:
        parser.exit(2, f"error: {error}\n")


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """``--model M``, defaulting to the fast model."""
    parser.add_argument(
        "--model", metavar="M", help="model name, folder or .keras file (default: fast)"
    )


def add_output_folder_option(parser: argparse.ArgumentParser) -> None:
    """``--out DIR``, a required output folder."""
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="output folder (created if needed)"
    )


def add_weights_option(parser: argparse.ArgumentParser) -> None:
    """``--weights``, how a written model stores its weights."""
    parser.add_argument(
        "--weights",
        choices=["float32", "float16", "int8"],
        default="float32",
        help="how the weights are stored: float16 halves the file, int8 kernels quarter it; "
        "answers barely move",
    )
