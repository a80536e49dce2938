"""``fer-core benchmark``, as a script: the same options, output and exit codes.

python scripts/benchmark.py --help
"""

import sys

from fer_core.cli.benchmark import main
from fer_core.cli.quiet import entry

if __name__ == "__main__":
    sys.exit(entry(main))
