"""``fer-core soak``, as a script: the same options, output and exit codes.

python scripts/soak.py --minutes 60 --faces 50 --fps 15
"""

import sys

from fer_core.cli.quiet import entry
from fer_core.cli.soak import main

if __name__ == "__main__":
    sys.exit(entry(main))
