"""``fer-core export-litert``, as a script: the same options, output and exit codes.

python scripts/export_litert.py --help
"""

import sys

from fer_core.cli.export_litert import main
from fer_core.cli.quiet import entry

if __name__ == "__main__":
    sys.exit(entry(main))
