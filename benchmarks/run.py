#!/usr/bin/env python3
"""chainrule against PyTorch (CPU) on the same work: one command, a table of ratios, Markdown and JSON.

    python benchmarks/run.py                  # the full suite (about 6–9 minutes on 2 cores)
    python benchmarks/run.py --quick          # fewer rounds, a LeNet epoch on a 5120-image subset
    python benchmarks/run.py --smoke          # every row once on tiny sizes, checked against PyTorch (~10 s)
    python benchmarks/run.py --only conv3,lstm --rounds 7 --out /tmp/bench
    python benchmarks/run.py --profile        # also cProfile the chainrule side of rows that miss their target

How it measures (see benchmarks/README.md):
- chainrule and PyTorch run in two separate worker processes, each started with OPENBLAS_NUM_THREADS,
  OMP_NUM_THREADS and MKL_NUM_THREADS set (``--threads``, default 2) before NumPy or torch is imported;
  torch.set_num_threads and threadpoolctl's limits are applied as well. Only one worker runs at a time.
- every row is warmed up on both sides, then timed in interleaved rounds: a block of chainrule steps, a
  pause (``--pause``, default 0.2 s: OpenBLAS's and OpenMP's worker threads spin for a while after a call
  and would otherwise steal the cores from the other process), a block of PyTorch steps, a pause; the order
  alternates every round. A block repeats the step until it lasts about ``--block`` seconds.
- the ratio of a row is the median over rounds of (chainrule time per step ÷ PyTorch time per step) in the
  same round, so a slow spell on the shared machine hits both sides of one ratio.
- the peak resident memory of the LeNet epoch is measured in a fresh process per framework with
  resource.getrusage(RUSAGE_SELF).ru_maxrss: the increase over the baseline taken after imports, data loading,
  model building, a two-image training step and glibc's malloc_trim(0) (the high-water mark is reset to the
  current RSS there through /proc/self/clear_refs), and the absolute peak of the whole process.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import gc
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS")
FLAGS_OF_INTEREST = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl",
                     "avx512_vnni", "avx512_bf16", "amx_tile", "hypervisor")
SEED = 0
SMOKE_RTOL, SMOKE_ATOL = 2e-3, 2e-4  # loose: float32, different summation orders


def _paths() -> None:
    for p in (str(HERE), str(ROOT)):
        if p not in sys.path:
            sys.path.insert(0, p)


def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


# ----- what the machine and the libraries are ------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "logical_cpus": os.cpu_count()}
    try:
        info["affinity_cpus"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        text = Path("/proc/cpuinfo").read_text()
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        info["cpu_model"] = fields.get("model name", platform.processor())
        info["cpu_mhz"] = fields.get("cpu MHz")
        flags = set(fields.get("flags", "").split())
        info["flags"] = [f for f in FLAGS_OF_INTEREST if f in flags]
    except OSError:
        info["cpu_model"] = platform.processor()
    caches = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level, kind = (index / "level").read_text().strip(), (index / "type").read_text().strip()
            caches[f"L{level}{'d' if kind == 'Data' else 'i' if kind == 'Instruction' else ''}"] = (
                (index / "size").read_text().strip())
        except OSError:
            pass
    info["caches_per_core"] = caches
    try:
        mem = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        info["memory_gib"] = round(int(mem["MemTotal"].split()[0]) / 2**20, 1)
    except (OSError, KeyError, ValueError):
        pass
    return info


def library_info(framework: str) -> dict[str, Any]:
    """Versions, BLAS and thread settings as the worker process sees them."""
    import numpy as np

    info: dict[str, Any] = {
        "python": platform.python_version(), "numpy": np.__version__,
        "env": {v: os.environ.get(v) for v in THREAD_VARS},
    }
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["numpy_blas"] = {k: blas.get(k) for k in ("name", "version", "openblas configuration")}
    except Exception:  # noqa: BLE001 - older NumPy: no dicts mode
        info["numpy_blas"] = None
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "version", "num_threads", "architecture")}
            | {"library": Path(p.get("filepath", "")).name}
            for p in threadpool_info()
        ]
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed"
    if framework == "torch":
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["torch_interop_threads"] = torch.get_num_interop_threads()
        info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        info["torch_mkldnn"] = torch.backends.mkldnn.is_available()
        info["torch_mkl"] = torch.backends.mkl.is_available()
        info["torch_parallel"] = [line.strip() for line in torch.__config__.parallel_info().splitlines()
                                  if line.strip().startswith(("ATen parallel backend", "at::get_num_threads",
                                                              "Intel(R) MKL", "MKL-DNN", "std::thread"))]
    else:
        import chainrule

        info["chainrule"] = chainrule.__version__
        package = Path(chainrule.__file__).resolve().parent
        info["chainrule_path"] = str(package)
        digest = hashlib.sha256()
        for f in sorted(package.rglob("*.py")):
            digest.update(f.relative_to(package).as_posix().encode() + b"\0" + f.read_bytes())
        info["chainrule_source_sha256"] = digest.hexdigest()[:16]  # which kernels were measured (tree may be dirty)
        from chainrule import compiled

        if compiled.enabled():
            import numba

            info["chainrule_kernels"] = f"compiled kernels on (Numba {numba.__version__})"
        else:
            info["chainrule_kernels"] = "compiled kernels off (NumPy only)"
        try:
            info["chainrule_git"] = subprocess.run(
                ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True,
                timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return info


_LIMITS: Any = None  # threadpoolctl's limits, kept alive for the worker's lifetime


def apply_threads(framework: str, threads: int) -> None:
    global _LIMITS
    try:
        from threadpoolctl import threadpool_limits

        _LIMITS = threadpool_limits(limits=threads)
    except ImportError:
        pass
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)


# ----- the worker processes --------------------------------------------------------------------------------------


class WorkerState:
    def __init__(self, framework: str) -> None:
        import cases

        self.cases = cases
        self.fw = cases.Framework(framework)
        self.framework = framework
        self.runner: Any = None

    def op_info(self, msg: dict[str, Any]) -> dict[str, Any]:
        return library_info(self.framework)

    def op_gemm(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The machine's reachable limit for this library: a large float32 GEMM, best of a few."""
        import numpy as np

        n = msg.get("n", 1024)
        rng = np.random.default_rng(0)
        a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
        if self.framework == "torch":
            import torch

            ta, tb = torch.from_numpy(a), torch.from_numpy(b)

            def mm() -> None:
                torch.mm(ta, tb)
        else:

            def mm() -> None:
                np.matmul(a, b)

        mm()
        best = min(_timed(mm) for _ in range(msg.get("reps", 7)))
        return {"n": n, "gflops": 2 * n**3 / best / 1e9}

    def op_prepare(self, msg: dict[str, Any]) -> dict[str, Any]:
        """(PyTorch side) the initial weights of the model rows, written for the chainrule side to load."""
        import numpy as np

        written = []
        for key in msg["rows"]:
            r = self.cases.row(key)
            if r.torch_state is None:
                continue
            state = r.torch_state(r.sizes[msg["scale"]], msg["seed"])
            np.savez(Path(msg["dir"]) / f"{key}.npz", **state)
            written.append(key)
        return {"written": written}

    def _build(self, msg: dict[str, Any], size_override: dict[str, Any] | None = None) -> Any:
        r = self.cases.row(msg["row"])
        size = {**r.sizes[msg["scale"]], **(size_override or {})}
        state = load_npz(Path(msg["dir"]) / f"{msg['row']}.npz") if msg.get("dir") else None
        return r.build(self.fw, size, state, msg["seed"])

    def op_setup(self, msg: dict[str, Any]) -> dict[str, Any]:
        self.runner = None
        gc.collect()
        t0 = time.perf_counter()
        self.runner = self._build(msg)
        built = time.perf_counter() - t0
        self.runner.warmup()
        reply: dict[str, Any] = {"build_s": built, "source": getattr(self.runner, "source", None)}
        if msg.get("estimate", True):
            times = [_timed(self.runner.step)]
            deadline = time.perf_counter() + msg.get("warmup_s", 0.5)
            while len(times) < 3 or (time.perf_counter() < deadline and len(times) < 200):
                times.append(_timed(self.runner.step))
            reply["estimate"] = statistics.median(times[1:])
        return reply

    def op_time(self, msg: dict[str, Any]) -> dict[str, Any]:
        step = self.runner.step
        t0 = time.perf_counter()
        for _ in range(msg["reps"]):
            step()
        return {"seconds": time.perf_counter() - t0}

    def op_teardown(self, msg: dict[str, Any]) -> dict[str, Any]:
        self.runner = None
        gc.collect()
        return {}

    def op_profile(self, msg: dict[str, Any]) -> dict[str, Any]:
        """cProfile of ``reps`` steps after a warm-up; the top functions by own time."""
        import cProfile
        import pstats

        self.runner = None
        gc.collect()
        runner = self._build(msg, msg.get("size_override"))
        runner.warmup()
        runner.step()
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        for _ in range(msg["reps"]):
            runner.step()
        prof.disable()
        wall = time.perf_counter() - t0
        stats = pstats.Stats(prof)
        entries = []
        total = sum(v[2] for v in stats.stats.values()) or 1.0  # type: ignore[attr-defined]
        for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            entries.append({"function": _func_name(file, line, func), "ncalls": nc, "tottime": tt, "cumtime": ct,
                            "share": tt / total})
        entries.sort(key=lambda e: -e["tottime"])
        by_cum = sorted(entries, key=lambda e: -e["cumtime"])
        Path(msg["out"]).parent.mkdir(parents=True, exist_ok=True)
        with open(msg["out"], "w") as f:
            f.write(f"# cProfile of the chainrule side of {msg['row']}: {msg['reps']} step(s), "
                    f"{wall:.3f} s wall under the profiler\n\n")
            stats.stream = f  # type: ignore[attr-defined]
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(40)
            stats.sort_stats("tottime").print_callers(12)
        return {"reps": msg["reps"], "wall_s": wall, "profiled_s": total, "top": entries[:15],
                "top_cumulative": by_cum[:15], "file": msg["out"]}


def _func_name(file: str, line: int, func: str) -> str:
    if file == "~":
        return func
    p = Path(file)
    for base in (ROOT, Path(sys.prefix)):
        try:
            return f"{p.resolve().relative_to(base)}:{line}({func})"
        except ValueError:
            continue
    return f"{p.name}:{line}({func})"


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def load_npz(path: Path) -> dict[str, Any] | None:
    import numpy as np

    if not path.is_file():
        return None
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def worker_main(framework: str, threads: int) -> int:
    """Answer JSON requests, one a line on stdin, with one JSON line each on the original stdout."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr, never into the protocol
    _paths()
    apply_threads(framework, threads)
    state = WorkerState(framework)
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["op"] == "quit":
            break
        try:
            reply = getattr(state, "op_" + msg["op"])(msg)
        except Exception:  # noqa: BLE001 - reported to the parent, which records the row as failed
            reply = {"error": traceback.format_exc()}
        proto.write(json.dumps(reply, default=str) + "\n")
    return 0


class Worker:
    def __init__(self, framework: str, threads: int) -> None:
        self.name = framework
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--_worker", framework, "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=thread_env(threads), cwd=str(ROOT),
        )

    def call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **kwargs}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker died (exit status {self.proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise WorkerError(f"{self.name} worker, {op}: {reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


class WorkerError(RuntimeError):
    pass


# ----- peak memory (one fresh process per framework) ------------------------------------------------------------


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


def measure_memory(fw: Any, scale: str, state: dict[str, Any] | None) -> dict[str, Any]:
    """Build the LeNet epoch, reset the high-water mark, run the epoch: ru_maxrss before and after (KiB)."""
    import resource

    import cases

    def maxrss() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    r = cases.row("lenet_memory")
    runner = r.build(fw, r.sizes[scale], state, SEED)
    runner.load_lazily_loaded()
    gc.collect()
    trimmed = _malloc_trim()
    setup_peak = maxrss()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the high-water mark to the current RSS: the baseline excludes setup peaks
        reset = True
    except OSError:
        reset = False
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


def memory_main(framework: str, threads: int, scale: str, state_path: str | None) -> int:
    _paths()
    apply_threads(framework, threads)
    import cases

    state = load_npz(Path(state_path)) if state_path else None
    print(json.dumps(measure_memory(cases.Framework(framework), scale, state)))
    return 0


def start_memory(framework: str, threads: int, scale: str, state_path: Path | None) -> subprocess.Popen:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_memory", framework, "--threads", str(threads),
           "--scale", scale]
    if state_path is not None and state_path.is_file():
        cmd += ["--state", str(state_path)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=thread_env(threads), cwd=str(ROOT))


def finish_memory(proc: subprocess.Popen) -> dict[str, Any]:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"memory worker failed (exit {proc.returncode}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


# ----- the suite -------------------------------------------------------------------------------------------------


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


def _quantiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 4:
        return min(values), max(values)
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


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


def time_row(r: Any, args: argparse.Namespace, workers: dict[str, Worker], tmp: Path) -> dict[str, Any]:
    scale = args.scale
    size = r.sizes[scale]
    epoch = r.key == "lenet_epoch"
    pids = [w.proc.pid for w in workers.values()]
    common = {"row": r.key, "scale": scale, "dir": str(tmp), "seed": SEED, "warmup_s": args.warmup,
              "estimate": not epoch}
    row_load = ForeignLoad(pids)
    wait_quiet(args, pids)
    setup = {}
    for name in ("torch", "chainrule"):
        setup[name] = workers[name].call("setup", **common)
        time.sleep(args.pause)
    reps = {name: 1 if epoch else max(1, round(args.block / max(setup[name]["estimate"], 1e-9)))
            for name in workers}
    rounds = args.rounds or (r.rounds if scale == "full" else max(3, min(5, r.rounds)))
    max_attempts = rounds if args.quiet <= 0 else rounds + (2 if epoch else rounds)
    samples: list[dict[str, Any]] = []
    while sum(s["quiet"] for s in samples) < rounds and len(samples) < max_attempts:
        i = len(samples)
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
        samples.append(sample)
        if sample["quiet"] and not epoch:  # re-aim the blocks at --block s (a warm-up on a busy machine misjudges)
            reps = {name: max(1, round(args.block / max(sample[name], 1e-9))) for name in reps}
        print(f"    round {i + 1}: chainrule {_fmt_time(sample['chainrule'])}, torch {_fmt_time(sample['torch'])}, "
              f"ratio {sample['chainrule'] / sample['torch']:.2f}, other load {_fmt_load(sample['other_load'])}"
              f"{'' if sample['quiet'] else ' (busy: not counted)'}", file=sys.stderr, flush=True)
    for w in workers.values():
        w.call("teardown")
    used = [s for s in samples if s["quiet"]]
    noisy = len(used) < min(3, rounds)
    if noisy:  # the machine never got quiet enough: use every round, and say so
        used = samples
    ratios = [s["chainrule"] / s["torch"] for s in used]
    t_cr = statistics.median(s["chainrule"] for s in used)
    t_pt = statistics.median(s["torch"] for s in used)
    flops = r.flops(size) if r.flops else None
    q1, q3 = _quantiles(ratios)
    res = {
        "key": r.key, "title": r.title, "kind": r.kind, "target": r.target, "size": size,
        "rounds": len(used), "rounds_discarded": len(samples) - len(used), "noisy": noisy, "reps": reps,
        "ratio": statistics.median(ratios), "ratio_q1": q1, "ratio_q3": q3,
        "ratio_min": min(ratios), "ratio_max": max(ratios), "ratios": ratios,
        "chainrule_s": t_cr, "torch_s": t_pt, "samples": samples, "flops": flops, "flops_note": r.flops_note,
        "gflops_chainrule": flops / t_cr / 1e9 if flops else None,
        "gflops_torch": flops / t_pt / 1e9 if flops else None,
        "data_source": setup["chainrule"].get("source") or setup["torch"].get("source"),
        "foreign_load_cores": statistics.median(s["other_load"] for s in used if s["other_load"] is not None)
        if any(s["other_load"] is not None for s in used) else row_load.cores(),
    }
    res["met"] = None if r.target is None else res["ratio"] <= r.target
    return res


def memory_row(r: Any, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    results = {}
    for name in ("torch", "chainrule"):  # one after the other: each alone on the machine
        results[name] = finish_memory(start_memory(name, args.threads, args.scale, tmp / "lenet_memory.npz"))
        time.sleep(args.pause)
    inc = {k: v["increase_kib"] for k, v in results.items()}
    ratio = inc["chainrule"] / inc["torch"] if inc["torch"] > 0 else float("inf")
    abs_ratio = results["chainrule"]["absolute_peak_kib"] / results["torch"]["absolute_peak_kib"]
    return {"key": r.key, "title": r.title, "kind": "memory", "target": r.target, "size": r.sizes[args.scale],
            "ratio": ratio, "absolute_ratio": abs_ratio, "met": ratio <= r.target, "chainrule": results["chainrule"],
            "torch": results["torch"]}


def profile_rows(keys: list[str], args: argparse.Namespace, worker: Worker, tmp: Path, out: Path,
                 timed: dict[str, float]) -> dict[str, Any]:
    """cProfile the chainrule side of ``keys`` (not the memory row: cProfile measures time), each on a quiet
    machine if one comes (up to 3 tries, the quietest kept): a profile taken while another process holds a core
    inflates every BLAS call and misleads."""
    profiles = {}
    for stale in (out / "profiles").glob("*.txt"):  # listings of an earlier run would pass for this one's
        stale.unlink()
    for key in keys:
        if key == "lenet_memory":
            continue
        override = None
        if key == "lenet_epoch":
            batches = 60
            reps, override = 1, {"epoch_images": batches * 128}
            n_full = -(-60000 // 128) if args.scale == "full" else 40
            per_step = timed.get(key, 0.0) * batches / n_full
        else:
            per_step = timed.get(key, 0.1)
            reps = max(3, min(50, round(1.0 / max(per_step, 1e-6))))
        best = None
        for attempt in range(3):
            print(f"  profiling {key} (chainrule, {reps} step(s)){' again: it was busy' if attempt else ''}",
                  file=sys.stderr, flush=True)
            wait_quiet(args, [worker.proc.pid])
            load = ForeignLoad([worker.proc.pid])
            try:
                res = worker.call("profile", row=key, scale=args.scale,
                                  dir=str(tmp), seed=SEED, reps=reps, size_override=override,
                                  out=str(out / "profiles" / f"{key}.txt"))
            except WorkerError as e:
                best = {"error": str(e)}
                break
            res["other_load"] = load.cores()
            res["timed_s_per_profiled_step"] = per_step
            if override:
                res["note"] = f"{override['epoch_images'] // 128} batches of the epoch"
            if best is None or (res["other_load"] or 0) < (best.get("other_load") or 0):
                best = res
                if (res["other_load"] or 0) <= max(args.quiet, 0.25):
                    break
            time.sleep(args.pause)
        profiles[key] = best
        time.sleep(args.pause)
    return profiles


def suite(args: argparse.Namespace, rows: list[Any]) -> int:
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="chainrule-bench-"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "command": command_line(), "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "scale": args.scale, "machine": machine_info(), "load_average_start": os.getloadavg(),
        "settings": {"threads": args.threads, "pause_s": args.pause, "block_s": args.block, "warmup_s": args.warmup,
                     "rounds": args.rounds or "per row", "seed": SEED, "quiet_cores": args.quiet,
                     "max_wait_s": args.max_wait, "wait_budget_s": args.wait_budget},
        "rows": [],
    }
    if report["load_average_start"][0] > 0.5:
        print(f"warning: the machine is busy (load average {_load(report['load_average_start'])}): with other "
              "processes on the cores the timings are noisy, the small-GEMM rows most", file=sys.stderr)
    workers = {"torch": Worker("torch", args.threads), "chainrule": Worker("chainrule", args.threads)}
    try:
        report["libraries"] = {name: w.call("info") for name, w in workers.items()}
        report["gemm_reference"] = {}
        for name, w in workers.items():
            report["gemm_reference"][name] = w.call("gemm", n=1024)
            time.sleep(args.pause)
        keys = [r.key for r in rows]
        workers["torch"].call("prepare", rows=keys, scale=args.scale, dir=str(tmp), seed=SEED)
        for r in rows:
            if r.kind == "memory":
                continue
            print(f"[{time.perf_counter() - started:6.0f} s] {r.key}: {r.title}", file=sys.stderr, flush=True)
            try:
                report["rows"].append(time_row(r, args, workers, tmp))
            except (WorkerError, RuntimeError) as e:
                print(f"    FAILED: {e}", file=sys.stderr)
                report["rows"].append({"key": r.key, "title": r.title, "kind": r.kind, "target": r.target,
                                       "error": str(e)})
                for w in workers.values():
                    try:
                        w.call("teardown")
                    except (WorkerError, RuntimeError):
                        pass
        for r in rows:
            if r.kind == "memory":
                print(f"[{time.perf_counter() - started:6.0f} s] {r.key}: {r.title}", file=sys.stderr, flush=True)
                try:
                    report["rows"].append(memory_row(r, args, tmp))
                except RuntimeError as e:
                    report["rows"].append({"key": r.key, "title": r.title, "kind": r.kind, "target": r.target,
                                           "error": str(e)})
        if args.profile:
            missed = [row["key"] for row in report["rows"]
                      if args.profile == "all" or row.get("met") is False or "error" in row]
            timed = {row["key"]: row["chainrule_s"] for row in report["rows"] if "chainrule_s" in row}
            report["profiles"] = profile_rows(missed, args, workers["chainrule"], tmp, out, timed)
    finally:
        for w in workers.values():
            w.close()
    report["load_average_end"] = os.getloadavg()
    report["waited_for_quiet_s"] = args.wait_used
    report["duration_s"] = time.perf_counter() - started
    md = markdown(report)
    print(md)
    (out / "results.md").write_text(md)
    (out / "results.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"wrote {out / 'results.md'} and {out / 'results.json'} ({report['duration_s']:.0f} s)", file=sys.stderr)
    return 0


def command_line() -> str:
    script = Path(sys.argv[0]).resolve()
    try:
        script_s = str(script.relative_to(ROOT))
    except ValueError:
        script_s = str(script)
    return shlex.join(["python", script_s, *sys.argv[1:]])


# ----- Markdown ---------------------------------------------------------------------------------------------------


def _fmt_time(s: float | None) -> str:
    if s is None:
        return "–"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.0f} µs"


def _fmt_load(x: float | None) -> str:
    return "?" if x is None else f"{x:.2f}"


def _fmt_gf(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def markdown(rep: dict[str, Any]) -> str:
    m, libs = rep["machine"], rep.get("libraries", {})
    lines = [
        "# chainrule vs PyTorch (CPU): benchmark results", "",
        "Produced by:", "", "```bash", rep["command"], "```", "",
        f"{rep['date']}, scale `{rep['scale']}`, {rep.get('duration_s', 0):.0f} s.",
        "Ratio = chainrule time ÷ PyTorch time for the same work (lower is better; < 1 means chainrule is faster), "
        "the median over rounds of the per-round ratio, with the interquartile range (the range for fewer than 4 "
        "rounds). Times are the per-step medians; each step is forward + backward in float32 (end-to-end rows: "
        "the training step / epoch including the SGD update).", "",
        "| Row | chainrule | PyTorch | Ratio | IQR / range | Target | Met | GFLOP/s chainrule | GFLOP/s PyTorch "
        "| Other load |",
        "|---|---:|---:|---:|---:|---:|:-:|---:|---:|---:|",
    ]
    for r in rep["rows"]:
        target = "–" if r.get("target") is None else f"≤ {r['target']:.1f}×"
        if "error" in r:
            lines.append(f"| {r['title']} | failed | | | | {target} | ✗ | | | |")
            continue
        met = "–" if r.get("met") is None else ("✓" if r["met"] else "✗")
        if r["kind"] == "memory":
            c, t = r["chainrule"], r["torch"]
            lines.append(f"| {r['title']} | {_mib(c['increase_kib'])} | {_mib(t['increase_kib'])} | "
                         f"{r['ratio']:.2f}× | 1 run | {target} | {met} | | | |")
            continue
        lines.append(
            f"| {r['title']} | {_fmt_time(r['chainrule_s'])} | {_fmt_time(r['torch_s'])} | {r['ratio']:.2f}× | "
            f"{r['ratio_q1']:.2f}–{r['ratio_q3']:.2f} | {target} | {met} | {_fmt_gf(r['gflops_chainrule'])} | "
            f"{_fmt_gf(r['gflops_torch'])} | {_fmt_load(r.get('foreign_load_cores'))} |")
    lines += ["", "*Other load* = the cores that other processes on the machine kept busy during the row (from "
              "/proc/stat, less this suite's own CPU time): 0 on an idle machine; rows with a high value are the "
              "least reliable.", "",
              "Rounds counted × steps per block (chainrule / PyTorch), and rounds not counted because other processes "
              f"used more than {rep['settings']['quiet_cores']} cores during them: " + "; ".join(
        f"{r['key']} {r['rounds']} × {r['reps']['chainrule']}/{r['reps']['torch']}"
        + (f" (+{r['rounds_discarded']} busy)" if r.get("rounds_discarded") else "")
        + (" **(never quiet: all rounds used)**" if r.get("noisy") else "")
        for r in rep["rows"] if "rounds" in r) + "."]
    mem = [r for r in rep["rows"] if r["kind"] == "memory" and "error" not in r]
    for r in mem:
        c, t = r["chainrule"], r["torch"]
        lines += [
            "", f"**Peak resident memory of the LeNet-5 epoch** ({c['steps']} steps of batch "
            f"{r['size']['batch']}; each framework in a fresh process, `resource.getrusage(RUSAGE_SELF).ru_maxrss`). "
            "*Increase* = peak during the epoch − baseline taken after imports, loading the data (float32, "
            "60000×1×28×28 = 179 MiB in both), building the model and optimizer, and one training step on two "
            "images (which loads what each framework loads on first use: chainrule's compiled kernels, PyTorch's "
            "oneDNN primitives), then glibc's `malloc_trim(0)` (free memory back to the system, "
            f"{'done' if c.get('trimmed') and t.get('trimmed') else 'NOT done'}), with the high-water mark reset "
            f"to the current RSS at the baseline (reset {'done' if c['hwm_reset'] and t['hwm_reset'] else 'FAILED'}). "
            "*Absolute* = the process's whole peak, interpreter and libraries included.", "",
            "| | chainrule | PyTorch | Ratio |", "|---|---:|---:|---:|",
            f"| increase over baseline (the target's measure) | {_mib(c['increase_kib'])} | {_mib(t['increase_kib'])} "
            f"| {r['ratio']:.2f}× |",
            f"| absolute peak | {_mib(c['absolute_peak_kib'])} | {_mib(t['absolute_peak_kib'])} | "
            f"{r['absolute_ratio']:.2f}× |",
            f"| baseline | {_mib(c['baseline_kib'])} | {_mib(t['baseline_kib'])} | |",
        ]
    lines += ["", "FLOPs are counted analytically: " + "; ".join(
        f"{r['key']}: {r['flops_note']} = {r['flops'] / 1e9:.3g} GFLOP per timed step"
        for r in rep["rows"] if r.get("flops"))+ "."]
    gemm = rep.get("gemm_reference", {})
    if gemm:
        lines.append("Reference (the machine's reachable limit for each library): a 1024³ float32 GEMM reaches "
                     + ", ".join(f"{v['gflops']:.0f} GFLOP/s in {k}" for k, v in gemm.items()) + ".")
    lines += ["", "## Machine and settings", "",
              f"- CPU: {m.get('cpu_model')}, {m.get('logical_cpus')} logical CPUs "
              f"({m.get('affinity_cpus')} usable), caches per core {m.get('caches_per_core')}, "
              f"{m.get('memory_gib')} GiB RAM; flags: {', '.join(m.get('flags', []))}",
              f"- OS: {m.get('platform')}; load average at start {_load(rep.get('load_average_start'))}, "
              f"at end {_load(rep.get('load_average_end'))}"]
    c, t = libs.get("chainrule", {}), libs.get("torch", {})
    if c:
        blas = c.get("numpy_blas") or {}
        pools = c.get("threadpools")
        pools_s = (", ".join(f"{p['internal_api']} {p['version']} ({p['library']}, {p['architecture']}, "
                             f"{p['num_threads']} threads)" for p in pools) if isinstance(pools, list) else pools)
        lines.append(f"- chainrule {c.get('chainrule')} (git {c.get('chainrule_git', '?')}, sources sha256 "
                     f"{c.get('chainrule_source_sha256')}), Python {c.get('python')}, "
                     f"NumPy {c.get('numpy')} with {blas.get('name')} {blas.get('version')}; "
                     f"{c.get('chainrule_kernels', 'compiled kernels: unknown')}; thread pools: {pools_s}")
    if t:
        pools = t.get("threadpools")
        pools_s = (", ".join(f"{p['internal_api']} ({p['library']}, {p['num_threads']} threads)" for p in pools)
                   if isinstance(pools, list) else pools)
        lines.append(f"- PyTorch {t.get('torch')} CPU (capability {t.get('torch_cpu_capability')}, MKL "
                     f"{t.get('torch_mkl')}, oneDNN {t.get('torch_mkldnn')}), torch.get_num_threads() = "
                     f"{t.get('torch_threads')}, interop threads {t.get('torch_interop_threads')}; "
                     f"{'; '.join(t.get('torch_parallel', []))}; thread pools: {pools_s}")
    s = rep["settings"]
    env = c.get("env") or t.get("env") or {}
    lines.append(f"- Threads: {s['threads']} on both sides ({', '.join(f'{k}={v}' for k, v in env.items() if v)}, "
                 f"set before import; threadpoolctl limits; torch.set_num_threads); separate worker processes, "
                 f"{s['pause_s']} s pause after every block, blocks of ≈{s['block_s']} s, warm-up ≥ {s['warmup_s']} s "
                 f"per side; rounds alternate which framework goes first; a round counts only if other processes "
                 f"used ≤ {s['quiet_cores']} cores during it (waited {rep.get('waited_for_quiet_s', 0):.0f} s in all "
                 f"for quiet moments).")
    src = next((r.get("data_source") for r in rep["rows"] if r.get("data_source")), None)
    if src:
        lines.append(f"- Data: {src}; batches are the same seeded permutation, fancy-indexed from the same "
                     f"normalised float32 array on both sides; the last partial batch is included.")
    profiles = rep.get("profiles")
    if profiles:
        lines += ["", "## Profiles (cProfile, chainrule side)", "",
                  "Own time (`tottime`) of the top functions, as a share of all profiled time. NumPy work done by "
                  "operators and slicing (`a @ b`, `col[...] = x[...]`) has no frame of its own and is counted in "
                  "the Python function that does it. Full listings: `profiles/<row>.txt` next to this file.", ""]
        for key, p in profiles.items():
            if "error" in p:
                lines.append(f"- **{key}**: profiling failed")
                continue
            top = ", ".join(f"`{e['function']}` {e['share'] * 100:.0f}%" for e in p["top"][:8])
            note = f", {p['note']}" if p.get("note") else ""
            slow = p["wall_s"] / p["reps"] / p["timed_s_per_profiled_step"] if p.get("timed_s_per_profiled_step") else 0
            lines.append(f"- **{key}** ({p['reps']} step(s){note}, {p['wall_s']:.2f} s under the profiler, "
                         f"{slow:.2f}× the timed step; other load {_fmt_load(p.get('other_load'))}): {top}")
    return "\n".join(lines) + "\n"


def _load(x: Any) -> str:
    return "?" if not x else "/".join(f"{v:.2f}" for v in x)


# ----- smoke: every row once, tiny, checked against PyTorch --------------------------------------------------------


def compare(name: str, actual: dict[str, Any], expected: dict[str, Any]) -> tuple[bool, float, str]:
    """(ok, worst error relative to the tolerance, which quantity) over every output and gradient."""
    import numpy as np

    worst, which, ok = 0.0, "", True
    if set(actual) != set(expected):
        return False, float("inf"), f"keys differ: {sorted(set(actual) ^ set(expected))}"
    for k, b in expected.items():
        a = actual[k]
        if a is None or b is None:
            if a is not b:
                return False, float("inf"), f"{k}: a gradient is missing on one side"
            continue
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            return False, float("inf"), f"{k}: shape {a.shape} vs {b.shape}"
        tol = SMOKE_ATOL + SMOKE_RTOL * float(np.max(np.abs(b))) if b.size else 1.0
        err = float(np.max(np.abs(a - b))) / tol if b.size else 0.0
        if not np.isfinite(err) or err > 1:
            ok = False
        if err > worst or not np.isfinite(err):
            worst, which = err, k
    return ok, worst, which


def smoke(args: argparse.Namespace, rows: list[Any]) -> int:
    started = time.perf_counter()
    mem_rows = [r for r in rows if r.kind == "memory"]
    # the chainrule side in its own process, as in the suite; the PyTorch side in this one (it has torch
    # imported already: a second torch process would double the smoke test's time)
    mem_proc = start_memory("chainrule", args.threads, "smoke", None) if mem_rows else None
    _paths()
    import cases

    apply_threads("torch", args.threads)
    fws = {name: cases.Framework(name) for name in ("torch", "chainrule")}
    print(f"imports {time.perf_counter() - started:.1f} s", flush=True)
    failures, report_rows = 0, []
    print(f"{'row':<14} {'ok':<4} {'worst err/tol':>13} {'time':>7}  quantity", flush=True)
    for r in rows:
        if r.kind == "memory":
            continue
        t0 = time.perf_counter()
        size = r.sizes["smoke"]
        try:
            state = r.torch_state(size, SEED) if r.torch_state else None
            results = {}
            for name, fw in fws.items():
                runner = r.build(fw, size, state, SEED)
                runner.step()
                results[name] = runner.results()
            ok, worst, which = compare(r.key, results["chainrule"], results["torch"])
        except Exception:  # noqa: BLE001 - a failing row is reported, the others still run
            ok, worst, which = False, float("inf"), traceback.format_exc()
        failures += not ok
        report_rows.append({"key": r.key, "ok": ok, "worst_err_over_tol": worst, "quantity": which})
        print(f"{r.key:<14} {'ok' if ok else 'FAIL':<4} {worst:13.3g} {time.perf_counter() - t0:6.2f}s  {which}",
              flush=True)
    for name in ("torch", "chainrule") if mem_rows else ():
        try:
            res = finish_memory(mem_proc) if name == "chainrule" else measure_memory(fws["torch"], "smoke", None)
            ok = res["increase_kib"] >= 0 and res["steps"] > 0 and res["final_loss"] is not None
            detail = f"peak RSS increase {_mib(res['increase_kib'])}, {res['steps']} steps"
        except Exception as e:  # noqa: BLE001 - reported as a failed row
            ok, detail = False, f"{type(e).__name__}: {e}"
        failures += not ok
        report_rows.append({"key": f"lenet_memory[{name}]", "ok": ok, "detail": detail})
        print(f"{'memory/' + name[:7]:<14} {'ok' if ok else 'FAIL':<4} {'':>13} {'':>7}  {detail}", flush=True)
    elapsed = time.perf_counter() - started
    verdict = "all rows ok" if not failures else f"{failures} row(s) FAILED"
    print(f"smoke: {verdict} in {elapsed:.1f} s (tolerance {SMOKE_ATOL} + {SMOKE_RTOL}·max|torch|)")
    if args.out_given:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "smoke.json").write_text(json.dumps({"rows": report_rows, "seconds": elapsed}, indent=1) + "\n")
    return 1 if failures else 0


# ----- command line ---------------------------------------------------------------------------------------------------


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer rounds, a LeNet epoch on 40 batches (~2 min)")
    mode.add_argument("--smoke", action="store_true", help="every row once on tiny sizes, checked against PyTorch")
    p.add_argument("--only", default="", help="comma-separated rows (default: all): " + ", ".join(_row_keys()))
    p.add_argument("--rounds", type=int, default=0, help="timing rounds per row (default: per row, 3–15)")
    p.add_argument("--out", default=None, help="folder for results.md and results.json (default: benchmarks/)")
    p.add_argument("--threads", type=int, default=2, help="threads for both frameworks (default 2)")
    p.add_argument("--pause", type=float, default=0.2, help="seconds of pause after every timed block (0.2)")
    p.add_argument("--block", type=float, default=None, help="seconds per timed block (0.3; --quick 0.15)")
    p.add_argument("--warmup", type=float, default=0.5, help="seconds of warm-up per row and side (0.5)")
    p.add_argument("--quiet", type=float, default=0.25,
                   help="count a round only if other processes used at most this many cores during it, and wait\n"
                        "for such a moment before each round (0: off; default 0.25)")
    p.add_argument("--max-wait", type=float, default=10.0, help="longest wait for a quiet moment, seconds (10)")
    p.add_argument("--wait-budget", type=float, default=150.0,
                   help="total seconds the run may spend waiting for quiet moments (150)")
    p.add_argument("--profile", nargs="?", const="missed", choices=("missed", "all"), default=None,
                   help="cProfile the chainrule side of the rows that miss their target (or all rows)")
    p.add_argument("--_worker", choices=("chainrule", "torch"), help=argparse.SUPPRESS)
    p.add_argument("--_memory", choices=("chainrule", "torch"), help=argparse.SUPPRESS)
    p.add_argument("--scale", choices=("full", "quick", "smoke"), default=None, help=argparse.SUPPRESS)
    p.add_argument("--state", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.out_given = args.out is not None
    args.out = args.out or str(HERE)
    args.scale = args.scale or ("smoke" if args.smoke else "quick" if args.quick else "full")
    args.block = args.block or (0.15 if args.quick else 0.3)
    args.wait_used = 0.0
    return args


def _row_keys() -> list[str]:
    _paths()
    import cases

    return cases.ROW_KEYS


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args._worker:
        return worker_main(args._worker, args.threads)
    if args._memory:
        return memory_main(args._memory, args.threads, args.scale, args.state)
    _paths()
    import cases

    keys = [k.strip() for k in args.only.split(",") if k.strip()] or cases.ROW_KEYS
    try:
        rows = [cases.row(k) for k in keys]
    except KeyError as e:
        print(e.args[0], file=sys.stderr)
        return 2
    if args.smoke:
        return smoke(args, rows)
    return suite(args, rows)


if __name__ == "__main__":
    sys.exit(main())
