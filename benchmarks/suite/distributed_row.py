"""The data-parallel row: LeNet-5's training step on 2 ranks × 1 thread against 1 rank × 2 threads (the same
cores: the measure is the overhead of splitting the batch over processes, not a speed-up), the share of a step
spent waiting for DistributedDataParallel's gradient allreduce after backward, and ``all_reduce``'s latency and
bandwidth between two local ranks.

The probes are benchmarks/distributed.py's, each run in fresh processes (the ranks under the environment's
``mpiexec``). The row has no PyTorch side: its ratio is 2-rank throughput ÷ 1-rank throughput, met when it is at
least the row's target and the wait at most ``MAX_WAIT_SHARE`` of a step.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

MAX_WAIT_SHARE = 0.10  # of a 2-rank step, waiting for the allreduce after backward


def distributed_row(r: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Measure the row at ``args.scale`` (``r.sizes[scale]["steps"]`` training steps per side)."""
    from benchmarks import distributed
    from chainrule import distributed as dist

    if not dist.is_available() or dist.mpiexec_path() is None:
        raise RuntimeError('needs mpi4py and mpiexec: pip install "chainrule[mpi]"')
    size = r.sizes[args.scale]
    try:
        measured = distributed.measure(size["steps"])
    except SystemExit as e:  # the script's own way of saying a probe failed
        raise RuntimeError(str(e)) from None
    one, two = measured["one_rank"], measured["two_ranks"]
    step2 = max(p["step_s"] for p in two)  # the slower rank sets the pace
    wait2 = max(p["wait_s"] for p in two)
    ratio = one["step_s"] / step2  # throughput ratio: the same global batch on both sides
    share = wait2 / step2
    reduce_ = measured["allreduce"]
    return {
        "key": r.key, "title": r.title, "kind": "distributed", "target": r.target, "size": size,
        "ratio": ratio, "met": ratio >= r.target and share <= MAX_WAIT_SHARE, "max_wait_share": MAX_WAIT_SHARE,
        "one_rank_step_s": one["step_s"], "two_ranks_step_s": step2, "wait_s": wait2, "wait_share": share,
        "batch": distributed.BATCH, "latency_s": reduce_["latency_s"],
        "bandwidth_Bps": {str(mib): b for mib, b in reduce_["bandwidth_Bps"].items()},
        "data_source": one["source"], "python": sys.executable,
    }


def table_row(r: dict[str, Any]) -> str:
    """The row in results.md's main table: 2-rank step, 1-rank step, the throughput ratio, both targets."""
    target = f"≥ {r['target']:.1f}× throughput, ≤ {r['max_wait_share'] * 100:.0f} % waiting"
    if "error" in r:
        return f"| {r['title']} | failed | | | | {target} | ✗ | | | |"
    return (f"| {r['title']} | {r['two_ranks_step_s'] * 1e3:.2f} ms (2 ranks × 1 thread) | "
            f"{r['one_rank_step_s'] * 1e3:.2f} ms (chainrule, 1 rank × 2 threads) | {r['ratio']:.2f}× | 1 run | "
            f"{target} | {'✓' if r['met'] else '✗'} | | | |")


def section(r: dict[str, Any]) -> list[str]:
    """What the row measured, under the table."""
    bandwidth = ", ".join(f"{b / 1e9:.2f} GB/s at {mib} MiB" for mib, b in
                          sorted(r["bandwidth_Bps"].items(), key=lambda item: int(item[0])))
    return [
        "", f"**Data-parallel training** ({r['title']}; {r['size']['steps']} steps of a global batch of "
        f"{r['batch']} {r['data_source']} images a side, SGD with momentum, the median step after the first fifth; "
        "the same cores on both sides). *Ratio* = 2-rank throughput ÷ 1-rank throughput (higher is better: "
        "above 1 the processes use the cores better than BLAS's threads). "
        f"Waiting for the gradient allreduce after backward: {r['wait_s'] * 1e3:.2f} ms, "
        f"**{r['wait_share'] * 100:.1f} %** of a 2-rank step. `all_reduce` between the two local ranks: latency "
        f"{r['latency_s'] * 1e6:.1f} µs (8 bytes, median of 2000); algorithm bandwidth {bandwidth}. "
        "The α–β model of a ring allreduce at 8–1024 ranks: `python benchmarks/distributed.py`.",
    ]
