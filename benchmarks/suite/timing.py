"""Timed rounds: a row is warmed up on both sides, then timed in interleaved rounds, on quiet moments.

A round times a block of chainrule steps and a block of PyTorch steps (each about ``--block`` seconds, or one
epoch), each followed by a ``--pause`` (OpenBLAS's and OpenMP's worker threads spin for a while after a call
and would otherwise take the cores from the other process); the order alternates every round. The row's ratio
is the median over rounds of the per-round ratio, so a slow spell on a shared machine hits both sides of one
ratio. A round counts only if other processes kept at most ``--quiet`` cores busy during it (``ForeignLoad``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.suite.report import fmt_load, fmt_time
from benchmarks.suite.workers import Worker


class ForeignLoad:
    """How many cores *other* processes kept busy while a row ran: Δ(busy CPU time of the machine, /proc/stat)
    minus Δ(CPU time of this process and its workers), over the wall time. 0 on an idle machine; near 1 when
    another process keeps one of the two cores busy. Linux only (None elsewhere)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.start = self._snapshot()

    def _snapshot(self) -> tuple[float, int, int] | None:
        try:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
            values = [int(v) for v in fields]
            busy = sum(values[:8]) - values[3] - values[4]  # all but idle and iowait (guest is inside user)
            ours = 0
            for pid in [os.getpid(), *self.pids]:
                stat = Path(f"/proc/{pid}/stat").read_text()
                rest = stat[stat.rindex(")") + 2 :].split()
                ours += int(rest[11]) + int(rest[12])  # utime, stime (all threads)
            return time.perf_counter(), busy, ours
        except (OSError, ValueError, IndexError):
            return None

    def cores(self) -> float | None:
        end = self._snapshot()
        if self.start is None or end is None or end[0] - self.start[0] <= 0:
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        other = (end[1] - self.start[1]) - (end[2] - self.start[2])
        return max(0.0, other / ticks / (end[0] - self.start[0]))


def wait_quiet(args: argparse.Namespace, pids: list[int]) -> float | None:
    """Wait (up to --max-wait s, and while the run's --wait-budget lasts) until other processes use fewer than
    --quiet cores over a 0.5 s window; the last window's load."""
    if args.quiet <= 0:
        return None
    start = time.perf_counter()
    while True:
        probe = ForeignLoad(pids)
        time.sleep(0.5)
        cores = probe.cores()
        waited = time.perf_counter() - start
        out_of_time = waited >= args.max_wait or args.wait_used + waited >= args.wait_budget
        if cores is None or cores <= args.quiet or out_of_time:
            args.wait_used += waited
            return cores


def quartiles(values: list[float]) -> tuple[float, float]:
    """The first and third quartiles; the range for fewer than 4 values."""
    if len(values) < 4:
        return min(values), max(values)
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def _steps_per_block(block_s: float, step_s: float) -> int:
    return max(1, round(block_s / max(step_s, 1e-9)))


def _rounds(r: Any, args: argparse.Namespace) -> int:
    """--rounds, else the row's own count at full scale and 3–5 of it otherwise."""
    return args.rounds or (r.rounds if args.scale == "full" else max(3, min(5, r.rounds)))


def _time_round(i: int, workers: dict[str, Worker], reps: dict[str, int], args: argparse.Namespace,
                pids: list[int]) -> dict[str, Any]:
    """One round: a block on each side, in an order that alternates with ``i``, after a quiet moment."""
    wait_quiet(args, pids)
    load = ForeignLoad(pids)
    order = ("chainrule", "torch") if i % 2 == 0 else ("torch", "chainrule")
    sample: dict[str, Any] = {}
    for name in order:
        sample[name] = workers[name].call("time", reps=reps[name])["seconds"] / reps[name]
        time.sleep(args.pause)
    sample["other_load"] = load.cores()
    sample["quiet"] = args.quiet <= 0 or sample["other_load"] is None or sample["other_load"] <= args.quiet
    sample["reps"] = dict(reps)
    print(f"    round {i + 1}: chainrule {fmt_time(sample['chainrule'])}, torch {fmt_time(sample['torch'])}, "
          f"ratio {sample['chainrule'] / sample['torch']:.2f}, other load {fmt_load(sample['other_load'])}"
          f"{'' if sample['quiet'] else ' (busy: not counted)'}", file=sys.stderr, flush=True)
    return sample


def time_row(r: Any, args: argparse.Namespace, workers: dict[str, Worker], tmp: Path, seed: int) -> dict[str, Any]:
    """Warm the row up on both sides, time it in rounds until enough quiet ones are counted: the row's result
    (its GEMM shares, and the targets that need them, come once the run's GEMM reference is final:
    ``apply_gemm``)."""
    size = r.sizes[args.scale]
    epoch = r.key == "lenet_epoch"
    pids = [w.proc.pid for w in workers.values()]
    common = {"row": r.key, "scale": args.scale, "dir": str(tmp), "seed": seed, "warmup_s": args.warmup,
              "estimate": not epoch}
    row_load = ForeignLoad(pids)
    wait_quiet(args, pids)
    setup = {}
    for name in ("torch", "chainrule"):
        setup[name] = workers[name].call("setup", **common)
        time.sleep(args.pause)
    reps = {name: 1 if epoch else _steps_per_block(args.block, setup[name]["estimate"]) for name in workers}
    rounds = _rounds(r, args)
    max_attempts = rounds if args.quiet <= 0 else rounds + (2 if epoch else rounds)
    samples: list[dict[str, Any]] = []
    while sum(s["quiet"] for s in samples) < rounds and len(samples) < max_attempts:
        sample = _time_round(len(samples), workers, reps, args, pids)
        samples.append(sample)
        if sample["quiet"] and not epoch:  # re-aim the blocks at --block s (a warm-up on a busy machine misjudges)
            reps = {name: _steps_per_block(args.block, sample[name]) for name in reps}
    for w in workers.values():
        w.call("teardown")
    source = setup["chainrule"].get("source") or setup["torch"].get("source")
    return summarize(r, size, samples, rounds, reps, source, row_load)


def gemm_share(gflops: float | None, gemm: dict[str, Any] | None, framework: str) -> float | None:
    """``gflops`` as a share of ``framework``'s own 1024³ GEMM (the run's reference); None when either is unknown."""
    limit = (gemm or {}).get(framework, {}).get("gflops")
    return gflops / limit if gflops is not None and limit else None


def target_met(ratio: float, target: float | None, share: float | None, min_share: float | None) -> bool | None:
    """Whether a row meets its targets: the ratio at most ``target`` and, for a row with a GEMM-share target,
    chainrule's share of its GEMM limit at least ``min_share`` (an unknown share does not meet it). None when the
    row has no target at all."""
    if target is None and min_share is None:
        return None
    ratio_ok = target is None or ratio <= target
    return ratio_ok and (min_share is None or (share is not None and share >= min_share))


def summarize(r: Any, size: dict[str, Any], samples: list[dict[str, Any]], rounds: int, reps: dict[str, int],
              data_source: str | None, row_load: ForeignLoad, gemm: dict[str, Any] | None = None) -> dict[str, Any]:
    """Medians over the quiet rounds (over all rounds, marked ``noisy``, when fewer than 3 were quiet); the other
    processes' load is the median over those rounds, or over the whole row when no round could measure it; each
    side's GFLOP/s also as a share of its own library's GEMM reference (``gemm``) when there is one."""
    used = [s for s in samples if s["quiet"]]
    noisy = len(used) < min(3, rounds)
    if noisy:  # the machine never got quiet enough: use every round, and say so
        used = samples
    ratios = [s["chainrule"] / s["torch"] for s in used]
    t_cr = statistics.median(s["chainrule"] for s in used)
    t_pt = statistics.median(s["torch"] for s in used)
    flops = r.flops(size) if r.flops else None
    q1, q3 = quartiles(ratios)
    loads = [s["other_load"] for s in used if s["other_load"] is not None]
    res = {
        "key": r.key, "title": r.title, "kind": r.kind, "target": r.target, "size": size,
        "rounds": len(used), "rounds_discarded": len(samples) - len(used), "noisy": noisy, "reps": reps,
        "ratio": statistics.median(ratios), "ratio_q1": q1, "ratio_q3": q3,
        "ratio_min": min(ratios), "ratio_max": max(ratios), "ratios": ratios,
        "chainrule_s": t_cr, "torch_s": t_pt, "samples": samples, "flops": flops, "flops_note": r.flops_note,
        "gflops_chainrule": flops / t_cr / 1e9 if flops else None,
        "gflops_torch": flops / t_pt / 1e9 if flops else None,
        "data_source": data_source,
        "foreign_load_cores": statistics.median(loads) if loads else row_load.cores(),
    }
    if r.units:  # a per-unit row (e.g. per graph node): the times are per unit, the step times kept beside them
        n = r.units(size)
        res.update({"unit": r.unit, "units_per_step": n, "chainrule_step_s": t_cr, "torch_step_s": t_pt,
                    "chainrule_s": t_cr / n, "torch_s": t_pt / n})
    if r.min_gemm_share is not None:
        res["min_gemm_share"] = r.min_gemm_share
    return apply_gemm(res, gemm)


def apply_gemm(res: dict[str, Any], gemm: dict[str, Any] | None) -> dict[str, Any]:
    """A timed row's GFLOP/s as shares of each library's GEMM reference (when there is one), and its "met"
    from its targets: the ratio, and the share where the row has a GEMM-share target."""
    if gemm:
        res["gemm_share_chainrule"] = gemm_share(res["gflops_chainrule"], gemm, "chainrule")
        res["gemm_share_torch"] = gemm_share(res["gflops_torch"], gemm, "torch")
    res["met"] = target_met(res["ratio"], res["target"], res.get("gemm_share_chainrule"), res.get("min_gemm_share"))
    return res
