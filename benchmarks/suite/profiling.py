"""cProfile of the chainrule side of rows (``--profile``): where a row that misses its target spends its time.

``profile_rows`` (in the parent) asks the chainrule worker for each row, on a quiet moment when one comes;
``profile_steps`` (in the worker) runs the profiler, writes the full listing to ``DIR/profiles/<row>.txt`` and
returns the top functions for results.md.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.suite.machine import ROOT
from benchmarks.suite.timing import ForeignLoad, wait_quiet
from benchmarks.suite.workers import Worker, WorkerError

EPOCH_BATCHES = 60  # the LeNet epoch is profiled on this many batches: a whole epoch under cProfile is minutes


def func_name(file: str, line: int, func: str) -> str:
    """A profiled function as ``path:line(name)``, the path relative to the repository or the environment."""
    if file == "~":
        return func
    p = Path(file)
    for base in (ROOT, Path(sys.prefix)):
        try:
            return f"{p.resolve().relative_to(base)}:{line}({func})"
        except ValueError:
            continue
    return f"{p.name}:{line}({func})"


def profile_steps(step: Callable[[], Any], reps: int, row: str, out: Path) -> dict[str, Any]:
    """cProfile ``reps`` calls of ``step``: the listing written to ``out``, the top functions returned."""
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(reps):
        step()
    prof.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof)
    entries = []
    total = sum(v[2] for v in stats.stats.values()) or 1.0  # type: ignore[attr-defined]
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        entries.append({"function": func_name(file, line, func), "ncalls": nc, "tottime": tt, "cumtime": ct,
                        "share": tt / total})
    entries.sort(key=lambda e: -e["tottime"])
    by_cum = sorted(entries, key=lambda e: -e["cumtime"])
    _write_listing(stats, out, f"# cProfile of the chainrule side of {row}: {reps} step(s), "
                               f"{wall:.3f} s wall under the profiler\n\n")
    return {"reps": reps, "wall_s": wall, "profiled_s": total, "top": entries[:15], "top_cumulative": by_cum[:15],
            "file": str(out)}


def _write_listing(stats: pstats.Stats, out: Path, header: str) -> None:
    """By own time, by cumulative time, and the callers of the top functions; written under a temporary name
    and renamed, so a listing on disk is always whole."""
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    with open(part, "w") as f:
        f.write(header)
        stats.stream = f  # type: ignore[attr-defined]
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_callers(12)
    os.replace(part, out)


def _plan(key: str, args: argparse.Namespace, timed: dict[str, float]) -> tuple[int, dict[str, Any] | None, float]:
    """(steps to profile, size override, the timed seconds of one profiled step, for the slowdown)."""
    if key == "lenet_epoch":
        n_full = -(-60000 // 128) if args.scale == "full" else 40
        per_step = timed.get(key, 0.0) * EPOCH_BATCHES / n_full
        return 1, {"epoch_images": EPOCH_BATCHES * 128}, per_step
    per_step = timed.get(key, 0.1)
    return max(3, min(50, round(1.0 / max(per_step, 1e-6)))), None, per_step


def profile_rows(keys: list[str], args: argparse.Namespace, worker: Worker, tmp: Path, out: Path,
                 timed: dict[str, float], seed: int) -> dict[str, Any]:
    """cProfile the chainrule side of ``keys`` (not the memory row: cProfile measures time), each on a quiet
    machine if one comes (up to 3 tries, the quietest kept): a profile taken while another process holds a core
    inflates every BLAS call and misleads."""
    profiles = {}
    for stale in (out / "profiles").glob("*.txt"):  # listings of an earlier run would pass for this one's
        stale.unlink()
    for key in keys:
        if key == "lenet_memory":
            continue
        profiles[key] = _profile_row(key, args, worker, tmp, out, timed, seed)
        time.sleep(args.pause)
    return profiles


def _profile_row(key: str, args: argparse.Namespace, worker: Worker, tmp: Path, out: Path,
                 timed: dict[str, float], seed: int) -> dict[str, Any]:
    reps, override, per_step = _plan(key, args, timed)
    best: dict[str, Any] | None = None
    for attempt in range(3):
        print(f"  profiling {key} (chainrule, {reps} step(s)){' again: it was busy' if attempt else ''}",
              file=sys.stderr, flush=True)
        wait_quiet(args, [worker.proc.pid])
        load = ForeignLoad([worker.proc.pid])
        try:
            res = worker.call("profile", row=key, scale=args.scale, dir=str(tmp), seed=seed, reps=reps,
                              size_override=override, out=str(out / "profiles" / f"{key}.txt"))
        except WorkerError as e:
            return {"error": str(e)}
        res["other_load"] = load.cores()
        res["timed_s_per_profiled_step"] = per_step
        if override:
            notes = [f"{override['epoch_images'] // 128} batches of the epoch", res.get("note")]
            res["note"] = ", ".join(n for n in notes if n)
        if best is None or (res["other_load"] or 0) < (best.get("other_load") or 0):
            best = res
            if (res["other_load"] or 0) <= max(args.quiet, 0.25):
                break
        time.sleep(args.pause)
    assert best is not None
    return best
