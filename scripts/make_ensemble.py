"""``fer-core make-ensemble``, as a script: the same options, output and exit codes.

python scripts/make_ensemble.py --help
"""

import sys

from fer_core.cli.make_ensemble import main
from fer_core.cli.quiet import entry

if __name__ == "__main__":
    sys.exit(entry(main))
