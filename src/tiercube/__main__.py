"""``python -m tiercube``: the same command as ``tiercube``."""

import sys

from tiercube._cli import main

sys.exit(main())
