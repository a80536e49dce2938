"""``fer-core evaluate``, as a script: the same options, output and exit codes.

python scripts/evaluate.py --help
"""

import sys

from fer_core.cli.evaluate import main
from fer_core.cli.quiet import entry

if __name__ == "__main__":
    sys.exit(entry(main))
