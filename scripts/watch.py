"""``fer-core watch``, as a script: the same options, output and exit codes.

python scripts/watch.py rtsp://user:password@camera/stream --event "Keynote" --duration 3600
"""

import sys

from fer_core.cli.quiet import entry
from fer_core.cli.watch import main

if __name__ == "__main__":
    sys.exit(entry(main))
