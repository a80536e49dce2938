"""``python -m fer_core COMMAND ...``: the ``fer-core`` command, where its script is not on PATH."""

import sys

from fer_core.cli import run

if __name__ == "__main__":  # not when a worker process re-imports this module
    sys.exit(run())
