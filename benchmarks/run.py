#!/usr/bin/env python3
"""chainrule against PyTorch (CPU) on the same work: one command, a table of ratios, Markdown and JSON.

    python benchmarks/run.py [options]        # or: python -m benchmarks [options]

The rows are in benchmarks/cases.py; how they are measured and reported, in benchmarks/suite/; the method and
the options, in benchmarks/README.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: the ``benchmarks`` package

from benchmarks.suite.cli import main  # noqa: E402 - importable only once the root is on the path

if __name__ == "__main__":
    sys.exit(main())
