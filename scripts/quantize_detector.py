"""``fer-core quantize-detector``, as a script: the same options, output and exit codes.

python scripts/quantize_detector.py --help
"""

import sys

from fer_core.cli.quantize_detector import main
from fer_core.cli.quiet import entry

if __name__ == "__main__":
    sys.exit(entry(main))
