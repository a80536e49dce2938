"""``fer-core train``, as a script: the same options, output and exit codes.

python scripts/train.py --help
"""

import sys

from fer_core.cli.quiet import entry
from fer_core.cli.train import main

if __name__ == "__main__":
    sys.exit(entry(main))
