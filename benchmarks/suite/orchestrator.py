"""One timed run, start to end: the workers up, the machine and libraries recorded, the GEMM reference, every
timed row (the scaling points among them), the memory row, the scaling table's groups, the profiles if asked,
the report written."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.suite import compile_time
from benchmarks.suite.distributed_row import distributed_row
from benchmarks.suite.machine import machine_info
from benchmarks.suite.memory import memory_row
from benchmarks.suite.profiling import profile_rows
from benchmarks.suite.report import command_line, fmt_load_average, markdown, write_report
from benchmarks.suite.scaling import read_notes, summarize_groups
from benchmarks.suite.timing import ForeignLoad, apply_gemm, time_row, wait_quiet
from benchmarks.suite.workers import Worker, WorkerError


def _settings(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    return {"threads": args.threads, "pause_s": args.pause, "block_s": args.block, "warmup_s": args.warmup,
            "rounds": args.rounds or "per row", "seed": seed, "quiet_cores": args.quiet,
            "max_wait_s": args.max_wait, "wait_budget_s": args.wait_budget}


def _failed(r: Any, error: Exception) -> dict[str, Any]:
    res = {"key": r.key, "title": r.title, "kind": r.kind, "target": r.target, "error": str(error)}
    if r.min_gemm_share is not None:
        res["min_gemm_share"] = r.min_gemm_share
    return res


def _time_rows(rows: list[Any], args: argparse.Namespace, workers: dict[str, Worker], tmp: Path, seed: int,
               started: float) -> list[dict[str, Any]]:
    """Every row but the memory row, in order; a failing row is recorded and the workers cleared for the next."""
    results = []
    for r in rows:
        if r.kind in ("memory", "distributed"):
            continue
        print(f"[{time.perf_counter() - started:6.0f} s] {r.key}: {r.title}", file=sys.stderr, flush=True)
        try:
            results.append(time_row(r, args, workers, tmp, seed))
        except (WorkerError, RuntimeError) as e:
            print(f"    FAILED: {e}", file=sys.stderr)
            results.append(_failed(r, e))
            for w in workers.values():
                try:
                    w.call("teardown")
                except (WorkerError, RuntimeError):
                    pass
    return results


def _memory_rows(rows: list[Any], args: argparse.Namespace, tmp: Path, started: float) -> list[dict[str, Any]]:
    results = []
    for r in rows:
        if r.kind == "memory":
            print(f"[{time.perf_counter() - started:6.0f} s] {r.key}: {r.title}", file=sys.stderr, flush=True)
            try:
                results.append(memory_row(r, args, tmp))
            except RuntimeError as e:
                results.append(_failed(r, e))
    return results


def _distributed_rows(rows: list[Any], args: argparse.Namespace, started: float) -> list[dict[str, Any]]:
    results = []
    for r in rows:
        if r.kind == "distributed":
            print(f"[{time.perf_counter() - started:6.0f} s] {r.key}: {r.title}", file=sys.stderr, flush=True)
            try:
                results.append(distributed_row(r, args))
            except RuntimeError as e:
                print(f"    FAILED: {e}", file=sys.stderr)
                results.append(_failed(r, e))
    return results


GEMM_ROUNDS = 3  # at the start of the run, and again at its end


def _gemm_tries(workers: dict[str, Worker], args: argparse.Namespace, tries: dict[str, list[dict[str, Any]]]) -> None:
    """``GEMM_ROUNDS`` tries of each library's 1024³ float32 GEMM, each on a quiet moment when one comes, the
    sides alternating; each try with the other processes' load during it."""
    pids = [w.proc.pid for w in workers.values()]
    for i in range(GEMM_ROUNDS):
        wait_quiet(args, pids)
        for name in sorted(workers, reverse=i % 2 == 1):
            load = ForeignLoad(pids)
            res = workers[name].call("gemm", n=1024)
            tries.setdefault(name, []).append({**res, "other_load": load.cores()})
            time.sleep(args.pause)


def _gemm_reference(tries: dict[str, list[dict[str, Any]]], quiet: float) -> dict[str, Any]:
    """Each library's reference: its best try. It is the yardstick of every GFLOP/s share (and of a target), and
    a neighbour's burst only ever lowers a try (which would raise every share), so the best of tries taken at both
    ends of the run is the robust estimate of the limit; ``quiet`` says whether that try was on a quiet moment."""
    ref = {}
    for name, ts in tries.items():
        best = max(ts, key=lambda t: t["gflops"])
        load = best.get("other_load")
        ref[name] = {"n": best["n"], "gflops": best["gflops"], "tries_gflops": [t["gflops"] for t in ts],
                     "quiet": quiet <= 0 or load is None or load <= quiet}
    return ref


def _compile_time(args: argparse.Namespace) -> dict[str, Any]:
    """The compiled kernels' first-call cost against the steady state (benchmarks/suite/compile_time.py)."""
    try:
        return compile_time.measure(args.threads)
    except (RuntimeError, OSError, ValueError) as e:
        return {"error": str(e)}


def _scaling(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The scaling table's groups (with their drift) and the hand-written notes, when any point was timed."""
    from benchmarks import cases  # here, not at import: cases imports NumPy

    groups = summarize_groups(results, cases.SCALING_GROUPS)
    return {"groups": groups, "notes": read_notes()} if groups else None


def _profiles(report: dict[str, Any], args: argparse.Namespace, worker: Worker, tmp: Path, out: Path,
              seed: int) -> dict[str, Any]:
    """--profile: the rows that missed their target or failed (or every row with ``all``)."""
    chosen = [row["key"] for row in report["rows"] if row["kind"] != "distributed"
              and (args.profile == "all" or row.get("met") is False or "error" in row)]
    timed = {row["key"]: row.get("chainrule_step_s", row["chainrule_s"]) for row in report["rows"]
             if "chainrule_s" in row}
    return profile_rows(chosen, args, worker, tmp, out, timed, seed)


def run_suite(args: argparse.Namespace, rows: list[Any], seed: int) -> int:
    """Time ``rows``, print the Markdown report and write results.md and results.json to ``args.out``."""
    with tempfile.TemporaryDirectory(prefix="chainrule-bench-") as tmp:  # the initial weights both sides load
        report = _measure(args, rows, seed, Path(tmp))
    md = markdown(report)
    print(md)
    write_report(report, md, Path(args.out))
    print(f"wrote {Path(args.out) / 'results.md'} and {Path(args.out) / 'results.json'} "
          f"({report['duration_s']:.0f} s)", file=sys.stderr)
    return 0


def _measure(args: argparse.Namespace, rows: list[Any], seed: int, tmp: Path) -> dict[str, Any]:
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "command": command_line(), "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "scale": args.scale, "machine": machine_info(), "load_average_start": os.getloadavg(),
        "settings": _settings(args, seed), "rows": [],
    }
    if report["load_average_start"][0] > 0.5:
        print(f"warning: the machine is busy (load average {fmt_load_average(report['load_average_start'])}): with "
              "other processes on the cores the timings are noisy, the small-GEMM rows most", file=sys.stderr)
    workers = {"torch": Worker("torch", args.threads), "chainrule": Worker("chainrule", args.threads)}
    try:
        report["libraries"] = {name: w.call("info") for name, w in workers.items()}
        tries: dict[str, list[dict[str, Any]]] = {}
        _gemm_tries(workers, args, tries)
        workers["torch"].call("prepare", rows=[r.key for r in rows], scale=args.scale, dir=str(tmp), seed=seed)
        report["rows"] += _time_rows(rows, args, workers, tmp, seed, started)
        report["rows"] += _memory_rows(rows, args, tmp, started)
        report["rows"] += _distributed_rows(rows, args, started)
        if args.scale != "smoke" and any(r.key == "lenet_epoch" for r in rows):
            report["compile_time"] = _compile_time(args)
        _gemm_tries(workers, args, tries)
        report["gemm_reference"] = _gemm_reference(tries, args.quiet)
        for res in report["rows"]:
            if "ratio" in res and res["kind"] not in ("memory", "distributed"):
                apply_gemm(res, report["gemm_reference"])
        scaling = _scaling(report["rows"])
        if scaling:
            report["scaling"] = scaling
        if args.profile:
            report["profiles"] = _profiles(report, args, workers["chainrule"], tmp, out, seed)
    finally:
        for w in workers.values():
            w.close()
    report["load_average_end"] = os.getloadavg()
    report["waited_for_quiet_s"] = args.wait_used
    report["duration_s"] = time.perf_counter() - started
    return report
