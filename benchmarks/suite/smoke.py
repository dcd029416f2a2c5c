"""``--smoke``: every row once on tiny sizes, on chainrule and on PyTorch, outputs and gradients compared.

No timing: it proves that each row runs and does the same work on both sides. The PyTorch side and the layer
rows run in this process (torch is imported here already: a second torch process would double the time); the
chainrule side of the memory row runs in its own process, as in the timed suite.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.suite.machine import apply_threads
from benchmarks.suite.memory import finish_memory, measure_memory, start_memory
from benchmarks.suite.report import fmt_mib, write_whole

SMOKE_RTOL, SMOKE_ATOL = 2e-3, 2e-4  # loose: float32, different summation orders


def compare(actual: dict[str, Any], expected: dict[str, Any]) -> tuple[bool, float, str]:
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


def _check_row(r: Any, fws: dict[str, Any], seed: int) -> tuple[bool, float, str]:
    """One step of ``r`` on each framework from the same weights, compared."""
    size = r.sizes["smoke"]
    try:
        state = r.torch_state(size, seed) if r.torch_state else None
        results = {}
        for name, fw in fws.items():
            runner = r.build(fw, size, state, seed)
            runner.step()
            results[name] = runner.results()
        return compare(results["chainrule"], results["torch"])
    except Exception:  # noqa: BLE001 - a failing row is reported, the others still run
        return False, float("inf"), traceback.format_exc()


def _check_memory(name: str, proc: Any, torch_fw: Any) -> tuple[bool, str]:
    """The memory probe ran through an epoch and saw a non-negative increase."""
    try:
        res = finish_memory(proc) if name == "chainrule" else measure_memory(torch_fw, "smoke", None)
        ok = res["increase_kib"] >= 0 and res["steps"] > 0 and res["final_loss"] is not None
        return ok, f"peak RSS increase {fmt_mib(res['increase_kib'])}, {res['steps']} steps"
    except Exception as e:  # noqa: BLE001 - reported as a failed row
        return False, f"{type(e).__name__}: {e}"


def smoke(args: argparse.Namespace, rows: list[Any]) -> int:
    started = time.perf_counter()
    mem_rows = [r for r in rows if r.kind == "memory"]
    mem_proc = start_memory("chainrule", args.threads, "smoke", None) if mem_rows else None
    from benchmarks import cases

    apply_threads("torch", args.threads)
    fws = {name: cases.Framework(name) for name in ("torch", "chainrule")}
    print(f"imports {time.perf_counter() - started:.1f} s", flush=True)
    failures, report_rows = 0, []
    w = max(14, *(len(r.key) for r in rows))  # the key column, wide enough for the scaling points' keys
    print(f"{'row':<{w}} {'ok':<4} {'worst err/tol':>13} {'time':>7}  quantity", flush=True)
    for r in rows:
        if r.kind in ("memory", "distributed"):  # distributed: no PyTorch side to compare (timed runs only)
            continue
        t0 = time.perf_counter()
        ok, worst, which = _check_row(r, fws, cases.SEED)
        failures += not ok
        report_rows.append({"key": r.key, "ok": ok, "worst_err_over_tol": worst, "quantity": which})
        print(f"{r.key:<{w}} {'ok' if ok else 'FAIL':<4} {worst:13.3g} {time.perf_counter() - t0:6.2f}s  {which}",
              flush=True)
    for name in ("torch", "chainrule") if mem_rows else ():
        ok, detail = _check_memory(name, mem_proc, fws["torch"])
        failures += not ok
        report_rows.append({"key": f"lenet_memory[{name}]", "ok": ok, "detail": detail})
        print(f"{'memory/' + name[:7]:<{w}} {'ok' if ok else 'FAIL':<4} {'':>13} {'':>7}  {detail}", flush=True)
    elapsed = time.perf_counter() - started
    verdict = "all rows ok" if not failures else f"{failures} row(s) FAILED"
    print(f"smoke: {verdict} in {elapsed:.1f} s (tolerance {SMOKE_ATOL} + {SMOKE_RTOL}·max|torch|)")
    if args.out_given:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_whole(out / "smoke.json", json.dumps({"rows": report_rows, "seconds": elapsed}, indent=1) + "\n")
    return 1 if failures else 0
