"""The worker processes: one per framework, so each runs alone with its own thread pools.

The parent (``Worker``) sends one JSON request a line on the worker's stdin and reads one JSON reply a line;
the worker (``serve``, run as ``python -m benchmarks.suite.workers chainrule|torch --threads N``) answers each
request with the ``op_<name>`` method of ``WorkerState``. The chainrule worker never imports torch.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.suite.machine import ROOT, apply_threads, library_info, thread_env

FRAMEWORKS = ("chainrule", "torch")


class WorkerError(RuntimeError):
    """A request failed inside a worker; the message carries the worker's traceback."""


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def load_npz(path: Path) -> dict[str, Any] | None:
    """The arrays of an ``.npz`` written by ``op_prepare`` (never pickled objects), or None when absent."""
    import numpy as np

    if not path.is_file():
        return None
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


class WorkerState:
    """What one worker holds between requests: its framework's adapter and the row being timed."""

    def __init__(self, framework: str) -> None:
        from benchmarks import cases

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
        best = min(timed(mm) for _ in range(msg.get("reps", 7)))
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

    def build(self, msg: dict[str, Any], size_override: dict[str, Any] | None = None) -> Any:
        """The runner of ``msg["row"]`` at ``msg["scale"]``, with PyTorch's initial weights when there are any."""
        r = self.cases.row(msg["row"])
        size = {**r.sizes[msg["scale"]], **(size_override or {})}
        state = load_npz(Path(msg["dir"]) / f"{msg['row']}.npz") if msg.get("dir") else None
        return r.build(self.fw, size, state, msg["seed"])

    def op_setup(self, msg: dict[str, Any]) -> dict[str, Any]:
        self.runner = None
        gc.collect()
        t0 = time.perf_counter()
        self.runner = self.build(msg)
        built = time.perf_counter() - t0
        self.runner.warmup()
        reply: dict[str, Any] = {"build_s": built, "source": getattr(self.runner, "source", None)}
        if msg.get("estimate", True):
            times = [timed(self.runner.step)]
            deadline = time.perf_counter() + msg.get("warmup_s", 0.5)
            while len(times) < 3 or (time.perf_counter() < deadline and len(times) < 200):
                times.append(timed(self.runner.step))
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
        """cProfile of ``reps`` steps of a freshly built runner, after a warm-up (see ``profiling``).

        cProfile sees only the thread that runs it: an op that splits its batch across chainrule's threads would
        show as one wait on a lock. So the profiled steps run with chainrule's splitting off (its ops on the
        calling thread, BLAS keeping its own threads), and the result says so."""
        from benchmarks.suite.profiling import profile_steps

        self.runner = None
        gc.collect()
        threads = self._threads_module()
        split = threads.get_num_threads() if threads else 1
        if split > 1:
            threads.set_num_threads(1)
        try:
            runner = self.build(msg, msg.get("size_override"))
            runner.warmup()
            runner.step()
            res = profile_steps(runner.step, msg["reps"], msg["row"], Path(msg["out"]))
        finally:
            if split > 1:
                threads.set_num_threads(split)
        if split > 1:
            res["note"] = f"chainrule's batch splitting off (timed with up to {split} threads)"
        return res

    def _threads_module(self) -> Any:
        """chainrule.threads on the chainrule side when it can split ops across threads, else None."""
        if self.framework != "chainrule":
            return None
        try:
            import chainrule.threads as threads
        except ImportError:
            return None
        return threads if hasattr(threads, "set_num_threads") and hasattr(threads, "get_num_threads") else None


def serve(framework: str, threads: int) -> int:
    """Answer JSON requests, one a line on stdin, with one JSON line each on the original stdout."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr, never into the protocol
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
    """The parent's handle on one worker process."""

    def __init__(self, framework: str, threads: int) -> None:
        self.name = framework
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.suite.workers", framework, "--threads", str(threads)],
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="a benchmark worker process (started by the suite, not by hand)")
    p.add_argument("framework", choices=FRAMEWORKS)
    p.add_argument("--threads", type=int, required=True)
    args = p.parse_args(argv)
    return serve(args.framework, args.threads)


if __name__ == "__main__":
    sys.exit(main())
