"""Data-parallel training on this machine: 2 ranks × 1 thread against 1 rank × 2 threads, and the allreduce's cost.

    python benchmarks/distributed.py [--steps 120] [--out benchmarks/distributed_results.md]

Both sides train LeNet-5 on the same global batches of 128 Fashion-MNIST images (synthetic images of that shape
when the data set is not installed) with SGD and momentum, the same cores in both cases, so the measure is the
overhead of splitting the batch over processes, not a speed-up: throughput (images/s, the median step after a
warm-up), the share of each step spent waiting for DistributedDataParallel's gradient allreduces to finish
(after backward), and the overlap (how much of the allreduce time was hidden behind the rest of backward).
Then two ranks run ``all_reduce`` on 8 bytes (latency, median of 2000) and on 1–64 MiB (bandwidth, as the
algorithm bandwidth size/time). Each measurement runs in fresh processes started by this script; the
``--probe`` options are how it starts them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH = 128


def _threads_env(threads: int) -> dict[str, str]:
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "CHAINRULE_NUM_THREADS")
    return {**os.environ, **{name: str(threads) for name in names}}


def _batches(steps: int):
    import numpy as np

    from chainrule.data import FashionMNIST

    try:
        data = FashionMNIST(train=True)
        images = (np.asarray(data.data[: steps * BATCH], np.float32) / 255 - 0.2860) / 0.3530
        labels = np.asarray(data.targets[: steps * BATCH], np.int64)
        source = "Fashion-MNIST"
    except Exception:  # noqa: BLE001 - any failure to find the data: synthetic images of the same shape
        rng = np.random.default_rng(0)
        images = rng.standard_normal((steps * BATCH, 28, 28)).astype(np.float32)
        labels = rng.integers(0, 10, steps * BATCH)
        source = "synthetic"
    return images.reshape(-1, 1, 28, 28), labels, source


def probe_train(steps: int, distributed: bool) -> dict:
    """One process of the training measurement: the median step, the time waiting for the allreduces."""
    import chainrule as cr
    from chainrule import models
    from chainrule.workspace import keep_freed_memory

    keep_freed_memory()
    rank, world = 0, 1
    if distributed:
        import chainrule.distributed as dist
        from chainrule.nn import parallel

        dist.init_process_group("mpi")
        rank, world = dist.get_rank(), dist.get_world_size()
        waited = [0.0]
        original = parallel._Bucket.wait

        def timed_wait(bucket) -> None:  # the time backward's end spends waiting for a bucket's allreduce
            start = time.perf_counter()
            original(bucket)
            waited[0] += time.perf_counter() - start

        parallel._Bucket.wait = timed_wait
    cr.manual_seed(0)
    model = models.LeNet5()
    if distributed:
        model = parallel.DistributedDataParallel(model)
    opt = cr.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images, labels, source = _batches(steps)
    share = BATCH // world
    times, waits = [], []
    for step in range(steps):
        lo = step * BATCH + rank * share
        x, y = cr.tensor(images[lo:lo + share]), cr.tensor(labels[lo:lo + share])
        if distributed:
            waited[0] = 0.0
        start = time.perf_counter()
        opt.zero_grad()
        cr.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - start)
        waits.append(waited[0] if distributed else 0.0)
    warm = steps // 5
    result = {"rank": rank, "world": world, "step_s": statistics.median(times[warm:]),
              "wait_s": statistics.median(waits[warm:]), "source": source}
    if distributed:
        import chainrule.distributed as dist

        dist.destroy_process_group()
    return result


def probe_allreduce() -> dict:
    """Two ranks: all_reduce latency on 8 bytes and algorithm bandwidth on 1–64 MiB."""
    import numpy as np

    import chainrule as cr
    import chainrule.distributed as dist

    dist.init_process_group("mpi")
    small = cr.tensor(np.zeros(2, np.float32))
    for _ in range(200):
        dist.all_reduce(small)
    lat = []
    for _ in range(2000):
        start = time.perf_counter()
        dist.all_reduce(small)
        lat.append(time.perf_counter() - start)
    bandwidth = {}
    for mib in (1, 4, 16, 64):
        t = cr.tensor(np.ones(mib * (1 << 20) // 4, np.float32))
        dist.all_reduce(t)
        runs = []
        for _ in range(7):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(t)
            runs.append(time.perf_counter() - start)
        bandwidth[mib] = mib * (1 << 20) / statistics.median(runs)
    rank = dist.get_rank()
    dist.destroy_process_group()
    return {"rank": rank, "latency_s": statistics.median(lat), "bandwidth_Bps": bandwidth}


def _run(cmd: list[str], threads: int) -> list[dict]:
    """Run a probe; each of its processes writes its result to a file of its own (two ranks printing at once
    can interleave their lines on the shared stdout), read back in rank order."""
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([*cmd, "--results", folder], cwd=ROOT, env=_threads_env(threads), capture_output=True,
                              text=True, timeout=900)
        if done.returncode != 0:
            raise SystemExit(f"distributed benchmark: {' '.join(cmd[:4])}... failed: {done.stderr.strip()[-800:]}")
        files = sorted(Path(folder).glob("rank-*.json"), key=lambda f: int(f.stem.split("-")[1]))
        return [json.loads(f.read_text()) for f in files]


def _report(folder: str, result: dict) -> None:
    rank = int(result.get("rank", 0))
    Path(folder, f"rank-{rank}.json").write_text(json.dumps(result))


def measure(steps: int) -> dict:
    from chainrule.distributed import mpiexec_path

    mpiexec = mpiexec_path()
    me = [sys.executable, str(Path(__file__).resolve())]
    one = _run([*me, "--probe", "train", "--steps", str(steps)], threads=2)[0]
    two = _run([mpiexec, "-n", "2", *me, "--probe", "train", "--steps", str(steps), "--distributed"], threads=1)
    reduce_ = _run([mpiexec, "-n", "2", *me, "--probe", "allreduce"], threads=1)
    return {"one_rank": one, "two_ranks": two, "allreduce": reduce_[0], "steps": steps}


def markdown(r: dict) -> str:
    one, two = r["one_rank"], r["two_ranks"]
    step2 = max(p["step_s"] for p in two)  # the slower rank sets the pace
    wait2 = max(p["wait_s"] for p in two)
    through1, through2 = BATCH / one["step_s"], BATCH / step2
    ar = r["allreduce"]
    lines = [
        "# Data-parallel training: 2 ranks × 1 thread against 1 rank × 2 threads",
        "",
        f"Produced by `python benchmarks/distributed.py --steps {r['steps']}` (LeNet-5, global batch {BATCH} of "
        f"{one['source']} images, SGD with momentum; median step after the first fifth; the same 2 cores).",
        "",
        "| | step | images/s | waiting for the allreduce after backward |",
        "|---|---:|---:|---:|",
        f"| 1 rank × 2 threads | {one['step_s'] * 1e3:.1f} ms | {through1:.0f} | – |",
        f"| 2 ranks × 1 thread (DistributedDataParallel, MPI) | {step2 * 1e3:.1f} ms | {through2:.0f} | "
        f"{wait2 * 1e3:.2f} ms ({wait2 / step2 * 100:.1f} % of a step) |",
        "",
        f"2-rank throughput ÷ 1-rank throughput: **{through2 / through1:.2f}** (target ≥ 0.9); time waiting on "
        f"communication: **{wait2 / step2 * 100:.1f} %** of a step (target ≤ 10 %).",
        "",
        f"all_reduce between the two local ranks: latency {ar['latency_s'] * 1e6:.1f} µs (8 bytes, median of 2000); "
        "algorithm bandwidth " + ", ".join(f"{b / 1e9:.2f} GB/s at {mib} MiB" for mib, b in ar["bandwidth_Bps"].items())
        + ".",
        "",
        "## Past this machine: the α–β model of a ring allreduce",
        "",
        "Predicted scaling efficiency, compute ÷ (compute + allreduce), each cell with the allreduce's time, for "
        "weak scaling (each rank keeps its batch), without overlap (a lower bound: DistributedDataParallel hides "
        "the allreduce behind backward up to backward's length). LeNet-5's gradient is "
        f"{LENET5_PARAMS * 4 / 1e3:.0f} kB and its step the 1-rank step above; ResNet-50's is "
        f"{RESNET50_PARAMS * 4 / 1e6:.0f} MB with {RESNET50_STEP_S * 1e3:.0f} ms of compute per step (assumed).",
        "",
        cost_model(r),
        "",
    ]
    return "\n".join(lines)


# Gradient sizes (float32 parameters) and a step's compute time on one worker, for the cost model below: LeNet-5
# as measured here (its 1-rank step at batch 128), ResNet-50 at 25.6 M parameters and 100 ms of compute per step
# (a typical figure for one accelerator at batch 64; an assumption of the model, not a measurement).
RESNET50_PARAMS, RESNET50_STEP_S = 25_557_032, 0.100
LENET5_PARAMS = 61_706
LINKS = {"100 Gb/s, α 2 µs": (2e-6, 100e9 / 8), "400 Gb/s, α 2 µs": (2e-6, 400e9 / 8)}
RANKS = (8, 32, 128, 1024)


def ring_allreduce_s(ranks: int, nbytes: float, alpha: float, bandwidth: float) -> float:
    """The α–β time of a ring allreduce: 2(p − 1) messages, each rank sending 2(p − 1)/p of the data."""
    return 2 * (ranks - 1) * alpha + 2 * (ranks - 1) / ranks * nbytes / bandwidth


def cost_model(r: dict) -> str:
    """Predicted scaling efficiency compute / (compute + allreduce) at 8–1024 ranks, without overlap."""
    ar = r["allreduce"]
    local = (ar["latency_s"] / 2, max(ar["bandwidth_Bps"].values()))  # 2 messages per 2-rank allreduce
    links = {f"this machine's ranks (α {local[0] * 1e6:.1f} µs, {local[1] / 1e9:.1f} GB/s)": local, **LINKS}
    models = {"LeNet-5": (LENET5_PARAMS * 4, r["one_rank"]["step_s"]),
              "ResNet-50": (RESNET50_PARAMS * 4, RESNET50_STEP_S)}
    lines = ["| model | link | " + " | ".join(f"{p} ranks" for p in RANKS) + " |",
             "|---|---|" + "---:|" * len(RANKS)]
    for name, (nbytes, step) in models.items():
        for link, (alpha, bandwidth) in links.items():
            cells = []
            for p in RANKS:
                t = ring_allreduce_s(p, nbytes, alpha, bandwidth)
                cells.append(f"{step / (step + t) * 100:.0f} % ({t * 1e3:.2f} ms)")
            lines.append(f"| {name} | {link} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "distributed_results.md"))
    parser.add_argument("--probe", choices=("train", "allreduce"), help=argparse.SUPPRESS)
    parser.add_argument("--distributed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)  # a probe's folder for its result files
    args = parser.parse_args()
    if args.probe == "train":
        _report(args.results, probe_train(args.steps, args.distributed))
        return
    if args.probe == "allreduce":
        result = probe_allreduce()
        if result["rank"] == 0:
            _report(args.results, result)
        return
    result = measure(args.steps)
    text = markdown(result)
    print(text)
    out = Path(args.out)
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_text(text)
    tmp.replace(out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
