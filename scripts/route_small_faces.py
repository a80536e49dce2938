"""``fer-core route-small-faces``, as a script: the same options, output and exit codes.

python scripts/route_small_faces.py --help
"""

import sys

from fer_core.cli.quiet import entry
from fer_core.cli.route_small_faces import main

if __name__ == "__main__":
    sys.exit(entry(main))
