"""What several commands share: the parser, the exit on a library error, and the longer
options defined the same way in more than one command, so each is written and worded once.

Light on purpose: the commands import it at their top, before they know whether they will
load the library (``fer_core.errors`` imports nothing).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from fer_core.errors import FerCoreError


def command_parser(prog: str | None, doc: str | None) -> argparse.ArgumentParser:
    """A command's parser, its module docstring (usage lines, exit codes) shown as written."""
    return argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


@contextmanager
def exits_on_error(
    parser: argparse.ArgumentParser,
    errors: type[Exception] | tuple[type[Exception], ...] = FerCoreError,
    code: int = 2,
) -> Iterator[None]:
    """Turn ``errors`` raised inside into ``error: MESSAGE`` and exit ``code``: 2, a usage
    error, unless the command documents another (1: the work itself failed)."""
    try:
        yield
    except errors as error:
        parser.exit(code, f"error: {error}\n")


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """``--db PATH_OR_URL``, the session database."""
    parser.add_argument(
        "--db",
        metavar="PATH_OR_URL",
        help="session database: SQLite path or SQLAlchemy URL (default: $FER_CORE_DB, then "
        "the default database)",
    )


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
