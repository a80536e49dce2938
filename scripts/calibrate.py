"""``fer-core calibrate``, as a script: the same options, output and exit codes.

python scripts/calibrate.py --help
"""

import sys

from fer_core.cli.calibrate import main
from fer_core.cli.quiet import entry

if __name__ == "__main__":
    sys.exit(entry(main))
