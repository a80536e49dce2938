"""The ``fer-core`` command: ``fer-core COMMAND [OPTION ...]``, one command per job.

Each command is a module here with ``build_parser(prog)`` and ``main(argv, prog)``, and
``scripts/<name>.py`` calls the same ``main``. The modules import the library inside their
functions, so the filtering parent of a quiet start (``quiet``) and ``fer-core --help`` load
none of it.
"""

from __future__ import annotations

import argparse
from importlib import import_module
from importlib.metadata import version

from fer_core.cli import quiet

#: Command name -> its module, in the order ``fer-core --help`` lists them.
COMMANDS = {
    "predict": "fer_core.cli.predict",
    "analyze": "fer_core.cli.analyze",
    "report": "fer_core.cli.report",
    "dashboard": "fer_core.cli.dashboard",
    "train": "fer_core.cli.train",
    "evaluate": "fer_core.cli.evaluate",
    "calibrate": "fer_core.cli.calibrate",
    "make-ensemble": "fer_core.cli.make_ensemble",
    "route-small-faces": "fer_core.cli.route_small_faces",
    "export-litert": "fer_core.cli.export_litert",
    "quantize-detector": "fer_core.cli.quantize_detector",
    "pack-dataset": "fer_core.cli.pack_dataset",
    "benchmark": "fer_core.cli.benchmark",
    "soak": "fer_core.cli.soak",
    "watch": "fer_core.cli.watch",
}


def build_parser() -> argparse.ArgumentParser:
    """``fer-core [--version] COMMAND ...``; ``--help`` lists the commands with one line each."""
    listing = "\n".join(
        f"  {name:<14} {import_module(module).__doc__.splitlines()[0]}"
        for name, module in COMMANDS.items()
    )
    parser = argparse.ArgumentParser(
        prog="fer-core",
        usage="%(prog)s [-h] [--version] COMMAND [OPTION ...]",
        description="Facial-emotion recognition for audience mood analytics, on a plain CPU.",
        epilog=f"commands:\n{listing}\n\n'fer-core COMMAND --help' gives a command's options; "
        f"every command takes {quiet.OPTION}.\nExit codes: 0 done, 1 some input failed, "
        "2 a usage error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('fer-core')}")
    parser.add_argument("command", choices=COMMANDS, metavar="COMMAND", help="one of those below")
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``fer-core`` with ``argv`` in this process; its exit code."""
    args = build_parser().parse_args(argv)
    command = import_module(COMMANDS[args.command])
    return command.main(args.args, prog=f"fer-core {args.command}")


def run() -> int:
    """The ``fer-core`` console script: ``main`` on the command line, with a quiet start."""
    return quiet.entry(main)
