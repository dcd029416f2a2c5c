"""What the compiled kernels cost before the steady state: compiling them, and loading them from the cache.

Two fresh processes run the same few LeNet-5 and CompactCNN training steps on chainrule (which between them call
every compiled kernel of a CNN: 2×2 max pooling, batch norm): the first with an empty kernel cache
(``CHAINRULE_CACHE`` pointing at a new folder), so the first step compiles; the second with that cache filled, so
the first step only loads the machine code. Each reports its first step and the median of the steps after it.
The probe runs as ``python -m benchmarks.suite.compile_time --threads N`` and prints one JSON line.
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
from typing import Any

from benchmarks.suite.machine import ROOT, apply_threads, thread_env

STEPS = 6


def _steps() -> dict[str, Any]:
    """The first and the later training steps of LeNet-5 and of CompactCNN on 32 random images, in seconds."""
    import numpy as np

    import chainrule as cr
    from chainrule import models

    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((32, 1, 28, 28)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 10, 32))
    out: dict[str, Any] = {"compiled": cr.compiled.enabled()}
    for name, model in (("lenet5", models.LeNet5()), ("compact_cnn", models.CompactCNN())):
        opt = cr.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        times = []
        for _ in range(STEPS):
            start = time.perf_counter()
            opt.zero_grad()
            cr.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            times.append(time.perf_counter() - start)
        out[name] = {"first_s": times[0], "steady_s": statistics.median(times[1:])}
    return out


def measure(threads: int) -> dict[str, Any]:
    """Cold (empty cache) and warm (filled cache) processes: each model's first step and steady step."""
    with tempfile.TemporaryDirectory(prefix="chainrule-kernel-cache-") as cache:
        env = {**os.environ, **thread_env(threads), "CHAINRULE_CACHE": cache}
        env.pop("NUMBA_CACHE_DIR", None)
        runs = {}
        for label in ("cold", "warm"):
            done = subprocess.run([sys.executable, "-m", "benchmarks.suite.compile_time", "--probe",
                                   "--threads", str(threads)], cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=900)
            if done.returncode != 0:
                raise RuntimeError(f"compile-time probe ({label}) failed: {done.stderr.strip()[-500:]}")
            runs[label] = json.loads(done.stdout.strip().splitlines()[-1])
    return runs


def markdown(runs: dict[str, Any]) -> list[str]:
    """The results.md section: one row per model, the cold and warm first steps beside the steady step."""
    if not runs["cold"].get("compiled"):
        return ["", "**Compiled kernels**: off in this run (Numba not installed or CHAINRULE_COMPILED=0): nothing to "
                "compile.", ""]
    lines = [
        "",
        "**Compiled kernels: first step against the steady state** (chainrule, batch 32, a fresh process each; "
        "*cold*: empty kernel cache, the first step compiles the kernels it calls; *warm*: the cache filled by the "
        "cold run, the first step loads them):",
        "",
        "| model | first step, cold | first step, warm | steady step | compile cost (cold − steady) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("lenet5", "compact_cnn"):
        cold, warm = runs["cold"][name], runs["warm"][name]
        steady = statistics.median([cold["steady_s"], warm["steady_s"]])
        lines.append(f"| {name} | {cold['first_s']:.2f} s | {warm['first_s'] * 1e3:.0f} ms | "
                     f"{steady * 1e3:.0f} ms | {cold['first_s'] - steady:.2f} s |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--probe", action="store_true", help="run the steps in this process (internal)")
    args = parser.parse_args()
    if args.probe:
        apply_threads("chainrule", args.threads)
        print(json.dumps(_steps()))
    else:
        print(json.dumps(measure(args.threads)))


if __name__ == "__main__":
    main()
