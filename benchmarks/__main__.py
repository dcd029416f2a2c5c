"""``python -m benchmarks [options]``: the same command as ``python benchmarks/run.py``."""

import sys

from benchmarks.suite.cli import main

sys.exit(main())
