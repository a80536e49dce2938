"""``fer-core report``, as a script: the same options, output and exit codes.

python scripts/report.py 12 13 --out reports/open-day
"""

import sys

from fer_core.cli.quiet import entry
from fer_core.cli.report import main

if __name__ == "__main__":
    sys.exit(entry(main))
