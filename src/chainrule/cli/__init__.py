"""The ``chainrule`` command line (also ``python -m chainrule``): one subcommand per module of this package.

A subcommand is a module ``chainrule.cli.<name>`` with two functions:

- ``add_parser(subparsers) -> argparse.ArgumentParser``: add its parser with ``subparsers.add_parser(...)``
  and return it;
- ``run(args: argparse.Namespace) -> int``: do the work and return the exit status (0 on success; print a
  one-line error on stderr and return non-zero otherwise).

Adding a subcommand is adding its module name to ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# modules of chainrule.cli, in the order ``chainrule --help`` lists them
SUBCOMMANDS: list[str] = ["train", "evaluate", "predict", "explain"]


def build_parser() -> argparse.ArgumentParser:
    from chainrule import __version__

    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="chainrule: a deep-learning library whose backward pass you can see and trust.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"chainrule.cli.{name}")
        sub = module.add_parser(subparsers)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(run(args))
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130


__all__ = ["SUBCOMMANDS", "build_parser", "main"]
