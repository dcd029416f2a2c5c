"""The options of ``python benchmarks/run.py`` (and ``python -m benchmarks``), and the entry point."""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from pathlib import Path
from typing import Any

from benchmarks.suite.machine import BENCH_DIR

DESCRIPTION = ("chainrule against PyTorch (CPU) on the same work: one command, a table of ratios and a scaling table "
               "(how the ratio moves with size), Markdown and JSON.")
EPILOG = """examples:
  python benchmarks/run.py                  # the full suite (about 10–13 minutes on 2 cores)
  python benchmarks/run.py --quick          # fewer rounds, a LeNet epoch on a 5120-image subset
  python benchmarks/run.py --smoke          # every row once on tiny sizes, checked against PyTorch (~10 s)
  python benchmarks/run.py --only conv3,lstm --rounds 7 --out /tmp/bench
  python benchmarks/run.py --only scaling --quick --out /tmp/bench   # the scaling table alone (~3 min)
  python benchmarks/run.py --profile        # also cProfile the chainrule side of rows that miss their target
how it measures: benchmarks/README.md"""


def _number(kind: type, low: float, strict: bool = False) -> Any:
    """An argparse type: a finite ``kind`` at least ``low`` (above it when ``strict``), else one clear line."""
    bound = f"{'whole number' if kind is int else 'number'} {'>' if strict else '≥'} {low:g}"

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {bound}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"expected a {bound}, got {text}")
        return value

    return convert


def _only_help() -> str:
    """The keys --only takes, wrapped by hand (the help keeps its own line breaks, for the examples)."""
    from benchmarks import cases

    parts = ["comma-separated rows (default: all, the scaling table's points included): " + ", ".join(cases.MAIN_KEYS),
             "the scaling table: scaling (every point) or a group: " + ", ".join(cases.GROUP_KEYS[1:]),
             "or one point: " + ", ".join(cases.SCALING_KEYS)]
    return "\n".join(textwrap.fill(part, 90) for part in parts)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    module = Path(sys.argv[0]).name == "__main__.py"  # python -m benchmarks: say so in usage and errors
    p = argparse.ArgumentParser(prog="python -m benchmarks" if module else None, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawTextHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer rounds, a LeNet epoch on 40 batches (~6 min)")
    mode.add_argument("--smoke", action="store_true", help="every row once on tiny sizes, checked against PyTorch")
    p.add_argument("--only", default="", help=_only_help())
    p.add_argument("--rounds", type=_number(int, 0), default=0, help="timing rounds per row (default: per row, 3–15)")
    p.add_argument("--out", default=None, help="folder for results.md and results.json (default: benchmarks/)")
    p.add_argument("--threads", type=_number(int, 1), default=2, help="threads for both frameworks (default 2)")
    p.add_argument("--pause", type=_number(float, 0), default=0.2,
                   help="seconds of pause after every timed block (0.2)")
    p.add_argument("--block", type=_number(float, 0, strict=True), default=None,
                   help="seconds per timed block (0.3; --quick 0.15)")
    p.add_argument("--warmup", type=_number(float, 0), default=0.5, help="seconds of warm-up per row and side (0.5)")
    p.add_argument("--quiet", type=_number(float, 0), default=0.25,
                   help="count a round only if other processes used at most this many cores during it, and wait\n"
                        "for such a moment before each round (0: off; default 0.25)")
    p.add_argument("--max-wait", type=_number(float, 0), default=10.0,
                   help="longest wait for a quiet moment, seconds (10)")
    p.add_argument("--wait-budget", type=_number(float, 0), default=150.0,
                   help="total seconds the run may spend waiting for quiet moments (150)")
    p.add_argument("--profile", nargs="?", const="missed", choices=("missed", "all"), default=None,
                   help="cProfile the chainrule side of the rows that miss their target (or all rows)")
    p.add_argument("--scale", choices=("full", "quick", "smoke"), default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.out_given = args.out is not None
    args.out = args.out or str(BENCH_DIR)
    args.scale = args.scale or ("smoke" if args.smoke else "quick" if args.quick else "full")
    args.block = args.block or (0.15 if args.quick else 0.3)
    args.wait_used = 0.0  # seconds spent waiting for quiet moments so far, against --wait-budget
    return args


def select_rows(only: str) -> list[Any]:
    """The rows named by --only (all when empty; a scaling group stands for its points), in the order given, each
    once; KeyError names an unknown one."""
    from benchmarks import cases

    return cases.select([k.strip() for k in only.split(",") if k.strip()])


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        rows = select_rows(args.only)
    except KeyError as e:
        print(f"benchmarks: --only: {e.args[0]}", file=sys.stderr)
        return 2
    if args.smoke:
        from benchmarks.suite.smoke import smoke

        return smoke(args, rows)
    from benchmarks import cases
    from benchmarks.suite.orchestrator import run_suite

    return run_suite(args, rows, cases.SEED)
