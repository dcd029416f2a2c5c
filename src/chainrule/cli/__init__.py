"""The ``chainrule`` command line (also ``python -m chainrule``): one subcommand per module of this package.

A subcommand is a module ``chainrule.cli.<name>`` with two functions:

- ``add_parser(subparsers) -> argparse.ArgumentParser``: add its parser with ``subparsers.add_parser(...)``
  and return it;
- ``run(args: argparse.Namespace) -> int``: do the work and return the exit status (0 on success); refuse by
  raising ``UsageError`` (exit 2) or ``CommandError`` (exit 1) from ``chainrule.cli.common``, which ``main``
  prints as one line. Anything else raised is printed as one line too (exit 1), never as a traceback.

Adding a subcommand is adding its module name to ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from chainrule import __version__
from chainrule.cli.common import USAGE, CommandError, Parser, describe, detach_stdout, error_line

# modules of chainrule.cli, in the order ``chainrule --help`` lists them
SUBCOMMANDS: list[str] = ["train", "evaluate", "predict", "explain", "export"]

EPILOG = """\
Each command has its own --help. Errors are one line: "chainrule COMMAND: error: what — how to fix"; exit status
2 for a usage error, 1 for a failure at run time. CHAINRULE_DEBUG=1 shows the traceback of an unexpected one.

examples:
  chainrule train --model mlp --dataset digits --epochs 3 --out runs/digits
  chainrule evaluate runs/digits
  chainrule explain "(x + y) * z" x=-2 y=5 z=-4
"""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="chainrule",
        description="chainrule: a deep-learning library whose backward pass you can see and trust.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"chainrule.cli.{name}")
        sub = module.add_parser(subparsers)
        sub.set_defaults(_run=module.run, _parser=sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand and return its exit status.

    Whatever goes wrong ends in one line on stderr and an exit status (see ``chainrule.cli.common``), never a
    traceback; with ``CHAINRULE_DEBUG=1`` in the environment an unexpected error is raised again instead.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((word for word in argv if word in SUBCOMMANDS), None)
    with _terminate_as_interrupt():
        return _main(argv, command)


def _main(argv: list[str], command: str | None) -> int:
    try:
        args = _parse(argv)
        command = args.command
        status = int(args._run(args))
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except CommandError as e:
        _say(error_line(e.command or command, e.what, e.fix))
        return e.status
    except BrokenPipeError:  # the reader went away (``| head``): nothing left to say to it
        detach_stdout()
        return 0
    except KeyboardInterrupt as e:
        _say(f"chainrule {command}: stopped" if command else "chainrule: stopped")
        return 128 + int(getattr(e, "signum", signal.SIGINT))
    except Exception as e:  # the last resort: one line, never a traceback
        if os.environ.get("CHAINRULE_DEBUG") == "1":
            raise
        what, fix, status = describe(command, e)
        _say(error_line(command, what, fix))
        return status


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, so that it ends like a Ctrl-C: one line, exit 128 + 15."""

    signum = int(signal.SIGTERM)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While the command runs, SIGTERM raises ``Terminated`` (the training loop installs its own handlers for the
    time it trains and puts this one back); the previous handler returns afterwards."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    sub = getattr(args, "_parser", None)
    if sub is None:
        raise CommandError("no command given", f"choose one of {', '.join(SUBCOMMANDS)} (see chainrule --help)",
                           USAGE)
    if extras:  # reported by the subcommand's parser, so the line names the command
        sub.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr)
    except (OSError, ValueError):  # stderr closed as well: the exit status is all that is left
        pass


__all__ = ["SUBCOMMANDS", "build_parser", "main"]
