"""The peak resident memory of the LeNet epoch, one fresh process per framework.

``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is read at a baseline taken after imports, data loading, model
building, a two-image training step and glibc's ``malloc_trim(0)`` (the kernel's high-water mark is reset to
the current RSS there through /proc/self/clear_refs, so set-up spikes do not hide the epoch's peak), and again
after the epoch: the row's measure is the increase; the absolute peak of the whole process is kept beside it.
The probe runs as ``python -m benchmarks.suite.memory chainrule|torch --threads N --scale S [--state FILE]``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.suite.machine import ROOT, apply_threads, thread_env
from benchmarks.suite.workers import FRAMEWORKS, load_npz


def _status_kb(field_name: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _malloc_trim() -> bool:
    """Hand the C library's free memory back to the system (glibc's malloc_trim), so that the epoch's peak
    counts the memory it needs, not how much freed set-up memory each allocator happened to keep."""
    try:
        ctypes.CDLL(None).malloc_trim(0)  # returns whether memory was released; either way it ran
    except (OSError, AttributeError):  # not glibc
        return False
    return True


def _reset_high_water_mark() -> bool:
    """Reset the kernel's high-water mark to the current RSS: the baseline then excludes set-up peaks."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def measure_memory(fw: Any, scale: str, state: dict[str, Any] | None) -> dict[str, Any]:
    """Build the LeNet epoch, reset the high-water mark, run the epoch: ru_maxrss before and after (KiB)."""
    import resource

    from benchmarks import cases

    def maxrss() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    r = cases.row("lenet_memory")
    runner = r.build(fw, r.sizes[scale], state, cases.SEED)
    runner.load_lazily_loaded()
    gc.collect()
    trimmed = _malloc_trim()
    setup_peak = maxrss()
    reset = _reset_high_water_mark()
    baseline = maxrss()
    baseline_rss = _status_kb("VmRSS")
    t0 = time.perf_counter()
    runner.step()
    seconds = time.perf_counter() - t0
    peak = maxrss()
    return {
        "framework": fw.name, "baseline_kib": baseline, "baseline_rss_kib": baseline_rss, "peak_kib": peak,
        "increase_kib": peak - baseline, "absolute_peak_kib": max(setup_peak, peak), "setup_peak_kib": setup_peak,
        "vm_hwm_kib": _status_kb("VmHWM"), "hwm_reset": reset, "trimmed": trimmed, "steps": len(runner.batches),
        "seconds": seconds,
        "final_loss": runner.losses[-1] if runner.losses else None, "source": getattr(runner, "source", None),
    }


def start_memory(framework: str, threads: int, scale: str, state_path: Path | None) -> subprocess.Popen:
    """Start the probe of ``framework`` in a fresh process; ``finish_memory`` collects its result."""
    cmd = [sys.executable, "-m", "benchmarks.suite.memory", framework, "--threads", str(threads), "--scale", scale]
    if state_path is not None and state_path.is_file():
        cmd += ["--state", str(state_path)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=thread_env(threads), cwd=str(ROOT))


def finish_memory(proc: subprocess.Popen) -> dict[str, Any]:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"memory worker failed (exit {proc.returncode}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def memory_row(r: Any, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """The memory row of the table: both probes, one after the other (each alone on the machine)."""
    results = {}
    for name in ("torch", "chainrule"):
        results[name] = finish_memory(start_memory(name, args.threads, args.scale, tmp / "lenet_memory.npz"))
        time.sleep(args.pause)
    inc = {k: v["increase_kib"] for k, v in results.items()}
    ratio = inc["chainrule"] / inc["torch"] if inc["torch"] > 0 else float("inf")
    abs_ratio = results["chainrule"]["absolute_peak_kib"] / results["torch"]["absolute_peak_kib"]
    return {"key": r.key, "title": r.title, "kind": "memory", "target": r.target, "size": r.sizes[args.scale],
            "ratio": ratio, "absolute_ratio": abs_ratio, "met": ratio <= r.target, "chainrule": results["chainrule"],
            "torch": results["torch"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="the peak-memory probe of one framework (started by the suite)")
    p.add_argument("framework", choices=FRAMEWORKS)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--scale", choices=("full", "quick", "smoke"), required=True)
    p.add_argument("--state", default=None)
    args = p.parse_args(argv)
    apply_threads(args.framework, args.threads)
    from benchmarks import cases

    state = load_npz(Path(args.state)) if args.state else None
    print(json.dumps(measure_memory(cases.Framework(args.framework), args.scale, state)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
