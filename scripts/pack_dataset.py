"""``fer-core pack-dataset``, as a script: the same options, output and exit codes.

python scripts/pack_dataset.py --help
"""

import sys

from fer_core.cli.pack_dataset import main
from fer_core.cli.quiet import entry

if __name__ == "__main__":
    sys.exit(entry(main))
