"""Soak benchmark of live recording: memory, database size and session opening over a long,
many-face stream (synthetic faces, the model bypassed; see ``fer_core.soak``).

python scripts/soak.py --minutes 60 --faces 50 --fps 15
"""

import sys

from fer_core.soak import main

if __name__ == "__main__":
    sys.exit(main())
