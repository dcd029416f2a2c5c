"""The ``chainrule`` command's entry point, outside the package so that it runs before the library loads.

Loading chainrule (NumPy, the ops, the layers) takes a moment; Ctrl-C during it would otherwise end in a
traceback from whatever module was being imported. Here it ends like any other interruption of the command:
one line and exit status 130.
"""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from chainrule.cli import main as run_command
    except KeyboardInterrupt:
        print("chainrule: stopped while loading", file=sys.stderr)
        return 130
    return run_command()
