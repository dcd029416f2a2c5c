"""The report of a timed run: results.md (the table, memory, FLOPs, machine and settings, profiles) and
results.json (everything measured, every round), both written whole or not at all."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from benchmarks.suite import compile_time, distributed_row
from benchmarks.suite.machine import ROOT
from benchmarks.suite.scaling import one_liners

# ----- numbers as the table shows them ----------------------------------------------------------------------------


def fmt_time(s: float | None) -> str:
    if s is None:
        return "–"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_load(x: float | None) -> str:
    return "?" if x is None else f"{x:.2f}"


def fmt_gflops(x: float | None, share: float | None = None) -> str:
    """GFLOP/s, with the share of the library's own GEMM reference in parentheses when it is known."""
    if x is None:
        return "–"
    return f"{x:.1f}" if share is None else f"{x:.1f} ({share * 100:.0f} %)"


def fmt_mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def fmt_load_average(x: Any) -> str:
    return "?" if not x else "/".join(f"{v:.2f}" for v in x)


def command_line(argv: list[str] | None = None) -> str:
    """The command that produced the report, as a user would type it from the repository root."""
    argv = sys.argv if argv is None else argv
    script = Path(argv[0]).resolve()
    if script.name == "__main__.py":  # python -m benchmarks
        return shlex.join(["python", "-m", script.parent.name, *argv[1:]])
    try:
        script_s = str(script.relative_to(ROOT))
    except ValueError:
        script_s = str(script)
    return shlex.join(["python", script_s, *argv[1:]])


# ----- results.md -------------------------------------------------------------------------------------------------


def markdown(rep: dict[str, Any]) -> str:
    main = [r for r in rep["rows"] if r["kind"] != "scaling"]  # the scaling points have a table of their own
    lines = _header(rep) + _table(main) + _targets_note(main) + _rounds_note(rep)
    for r in main:
        if r["kind"] == "memory" and "error" not in r:
            lines += _memory_section(r)
        if r["kind"] == "distributed" and "error" not in r:
            lines += distributed_row.section(r)
    lines += _compile_section(rep.get("compile_time"))
    lines += _flops_section(rep) + _scaling_section(rep) + _machine_section(rep)
    lines += _profiles_section(rep.get("profiles"))
    return "\n".join(lines) + "\n"


def _header(rep: dict[str, Any]) -> list[str]:
    return [
        "# chainrule vs PyTorch (CPU): benchmark results", "",
        "Produced by:", "", "```bash", rep["command"], "```", "",
        f"{rep['date']}, scale `{rep['scale']}`, {rep.get('duration_s', 0):.0f} s.",
        "Ratio = chainrule time ÷ PyTorch time for the same work (lower is better; < 1 means chainrule is faster), "
        "the median over rounds of the per-round ratio, with the interquartile range (the range for fewer than 4 "
        "rounds). Times are the per-step medians; each step is forward + backward in float32 (end-to-end rows: "
        "the training step / epoch including the SGD update).",
    ]


def _target(r: dict[str, Any]) -> str:
    parts = [] if r.get("target") is None else [f"≤ {r['target']:.1f}×"]
    if r.get("min_gemm_share") is not None:
        parts.append(f"≥ {r['min_gemm_share'] * 100:.0f} % of GEMM")
    return ", ".join(parts) or "–"


def _gflops_cells(r: dict[str, Any]) -> str:
    return (f"{fmt_gflops(r['gflops_chainrule'], r.get('gemm_share_chainrule'))} | "
            f"{fmt_gflops(r['gflops_torch'], r.get('gemm_share_torch'))}")


def _table(rows: list[dict[str, Any]]) -> list[str]:
    """The main table (none when a run timed only scaling points)."""
    if not rows:
        return []
    lines = ["", "| Row | chainrule | PyTorch | Ratio | IQR / range | Target | Met | GFLOP/s chainrule "
             "| GFLOP/s PyTorch | Other load |", "|---|---:|---:|---:|---:|---:|:-:|---:|---:|---:|"]
    for r in rows:
        if r["kind"] == "distributed":  # no PyTorch side: 2 ranks against 1, and a second target
            lines.append(distributed_row.table_row(r))
            continue
        target = _target(r)
        if "error" in r:
            lines.append(f"| {r['title']} | failed | | | | {target} | ✗ | | | |")
            continue
        met = "–" if r.get("met") is None else ("✓" if r["met"] else "✗")
        if r["kind"] == "memory":
            c, t = r["chainrule"], r["torch"]
            lines.append(f"| {r['title']} | {fmt_mib(c['increase_kib'])} | {fmt_mib(t['increase_kib'])} | "
                         f"{r['ratio']:.2f}× | 1 run | {target} | {met} | | | |")
            continue
        if r.get("unit"):  # per-unit times (e.g. per graph node): more digits than fmt_time's whole µs
            times = [f"{r[k] * 1e6:.2f} µs/{r['unit']}" for k in ("chainrule_s", "torch_s")]
        else:
            times = [fmt_time(r["chainrule_s"]), fmt_time(r["torch_s"])]
        lines.append(
            f"| {r['title']} | {times[0]} | {times[1]} | {r['ratio']:.2f}× | "
            f"{r['ratio_q1']:.2f}–{r['ratio_q3']:.2f} | {target} | {met} | {_gflops_cells(r)} | "
            f"{fmt_load(r.get('foreign_load_cores'))} |")
    return lines


def _targets_note(rows: list[dict[str, Any]]) -> list[str]:
    """What "Met" means for a row with a second target (a share of the GEMM limit), and what the shares are."""
    lines = []
    if any("gemm_share_chainrule" in r for r in rows):
        lines += ["", "In parentheses after the GFLOP/s: the share of that library's own 1024³ float32 GEMM (the "
                  "Reference line below), the speed the machine allows that library."]
    both = [r for r in rows if r.get("min_gemm_share") is not None]
    if both:
        lines += ["", "*Met* of " + ", ".join(f"{r['key']} (≥ {r['min_gemm_share'] * 100:.0f} %)" for r in both)
                  + " needs both targets: the ratio, and chainrule's GFLOP/s at least that share of chainrule's "
                  "own GEMM reference (the cores' reachable limit, whatever PyTorch does); PyTorch's share of its "
                  "own GEMM is shown beside it for comparison."]
    return lines


def _rounds_note(rep: dict[str, Any]) -> list[str]:
    counted = "; ".join(
        f"{r['key']} {r['rounds']} × {r['reps']['chainrule']}/{r['reps']['torch']}"
        + (f" (+{r['rounds_discarded']} busy)" if r.get("rounds_discarded") else "")
        + (" **(never quiet: all rounds used)**" if r.get("noisy") else "")
        for r in rep["rows"] if "rounds" in r)
    return ["", "*Other load* = the cores that other processes on the machine kept busy during the row (from "
            "/proc/stat, less this suite's own CPU time): 0 on an idle machine; rows with a high value are the "
            "least reliable.", "",
            "Rounds counted × steps per block (chainrule / PyTorch), and rounds not counted because other processes "
            f"used more than {rep['settings']['quiet_cores']} cores during them: " + counted + "."]


def _memory_section(r: dict[str, Any]) -> list[str]:
    c, t = r["chainrule"], r["torch"]
    return [
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
        f"| increase over baseline (the target's measure) | {fmt_mib(c['increase_kib'])} | "
        f"{fmt_mib(t['increase_kib'])} | {r['ratio']:.2f}× |",
        f"| absolute peak | {fmt_mib(c['absolute_peak_kib'])} | {fmt_mib(t['absolute_peak_kib'])} | "
        f"{r['absolute_ratio']:.2f}× |",
        f"| baseline | {fmt_mib(c['baseline_kib'])} | {fmt_mib(t['baseline_kib'])} | |",
    ]


def _compile_section(runs: dict[str, Any] | None) -> list[str]:
    if not runs:
        return []
    if "error" in runs:
        return ["", f"**Compiled kernels**: not measured ({runs['error']}).", ""]
    return compile_time.markdown(runs)


def _flops_section(rep: dict[str, Any]) -> list[str]:
    counted = [f"{r['key']}: {r['flops_note']} = {r['flops'] / 1e9:.3g} GFLOP per timed step"
               for r in rep["rows"] if r.get("flops") and r["kind"] != "scaling"]
    lines = ["", "FLOPs are counted analytically: " + "; ".join(counted) + "."] if counted else [""]
    gemm = rep.get("gemm_reference", {})
    if gemm:
        lines.append("Reference (the machine's reachable limit for each library): a 1024³ float32 GEMM reaches "
                     + ", ".join(f"{v['gflops']:.0f} GFLOP/s in {k}" for k, v in gemm.items())
                     + _gemm_tries(gemm) + ".")
    return lines


def _scaling_point(group_title: str, label: str, r: dict[str, Any]) -> str:
    if "error" in r:
        return f"| {group_title} | {label} | failed | | | | | | |"
    return (f"| {group_title} | {label} | {fmt_time(r['chainrule_s'])} | {fmt_time(r['torch_s'])} | "
            f"{r['ratio']:.2f}× | {r['ratio_q1']:.2f}–{r['ratio_q3']:.2f} | {_gflops_cells(r)} | "
            f"{fmt_load(r.get('foreign_load_cores'))} |")


def _drift(g: dict[str, Any], why: str) -> str:
    d = g["drift"]
    if d is None:
        return f"| {g['title']} | {g['fixed']} | – | | {why} |"
    return (f"| {g['title']} | {g['fixed']} | {d['drift']:.2f}× ({d['largest']} ÷ {d['smallest']}) | "
            f"{d['drift_low']:.2f}–{d['drift_high']:.2f} | {why} |")


def _scaling_section(rep: dict[str, Any]) -> list[str]:
    """The scaling points by group, each group's drift with its one-line reason, the notes verbatim."""
    scaling = rep.get("scaling") or {}
    if not scaling.get("groups"):
        return []
    rows = {r["key"]: r for r in rep["rows"]}
    notes = scaling.get("notes") or {}
    why = one_liners(notes.get("text", ""))
    lines = ["", "## Scaling: how cost grows with size", "",
             "Each point is timed like a row of the main table: interleaved rounds, the median of the per-round "
             "ratios with its interquartile range (the range for fewer than 4 rounds), GFLOP/s with the share of "
             "the library's own 1024³ GEMM in parentheses. A point on two axes is timed once and shown in both "
             "groups.", "",
             "| Group | Size | chainrule | PyTorch | Ratio | IQR / range | GFLOP/s chainrule | GFLOP/s PyTorch "
             "| Other load |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for g in scaling["groups"]:
        lines += [_scaling_point(g["title"] if i == 0 else "", p["label"], rows[p["key"]])
                  for i, p in enumerate(g["points"])]
    lines += ["", "*Drift* = the ratio at the largest size ÷ the ratio at the smallest: above 1, chainrule falls "
              "further behind as the work grows; below 1, it catches up. *Range*: the largest point's lower "
              "quartile ÷ the smallest's upper, to the largest's upper ÷ the smallest's lower (a range that holds "
              "1 is no clear drift).", "",
              "| Group | Fixed | Drift | Range | Why (measured in the run the notes below name) |",
              "|---|---|---:|---:|---|"]
    lines += [_drift(g, why.get(g["key"], "–")) for g in scaling["groups"]]
    flops = [f"{g['key']}: {rows[g['points'][0]['key']]['flops_note']}" for g in scaling["groups"]
             if rows[g["points"][0]["key"]].get("flops_note")]
    if flops:
        lines += ["", "FLOPs are counted analytically, as for the main rows: " + "; ".join(flops) + "."]
    if notes.get("text"):
        lines += ["", f"### Why the ratios drift (written by hand after a run: `{notes['file']}`)", "",
                  notes["text"].rstrip("\n")]
    return lines


def _gemm_tries(gemm: dict[str, Any]) -> str:
    tries = [v["tries_gflops"] for v in gemm.values() if v.get("tries_gflops")]
    if not tries:
        return ""
    busy = [k for k, v in gemm.items() if v.get("quiet") is False]
    return (f" (the best of {len(tries[0])} tries, half at the start of the run and half at its end, each on a "
            "quiet moment when one came and the best of 7 calls; all tries: "
            + ", ".join(f"{k} " + "/".join(f"{g:.0f}" for g in v["tries_gflops"]) for k, v in gemm.items()) + ")"
            + (f"; **{' and '.join(busy)}: no try was on a quiet moment, so the limit is underestimated and the "
               "shares overestimated**" if busy else ""))


def _pools(pools: Any, with_version: bool) -> str:
    """The thread pools a worker saw (threadpoolctl), or why they are unknown."""
    if not isinstance(pools, list):
        return pools
    if with_version:
        return ", ".join(f"{p['internal_api']} {p['version']} ({p['library']}, {p['architecture']}, "
                         f"{p['num_threads']} threads)" for p in pools)
    return ", ".join(f"{p['internal_api']} ({p['library']}, {p['num_threads']} threads)" for p in pools)


def _machine_section(rep: dict[str, Any]) -> list[str]:
    m, libs = rep["machine"], rep.get("libraries", {})
    lines = ["", "## Machine and settings", "",
             f"- CPU: {m.get('cpu_model')}, {m.get('logical_cpus')} logical CPUs "
             f"({m.get('affinity_cpus')} usable), caches per core {m.get('caches_per_core')}, "
             f"{m.get('memory_gib')} GiB RAM; flags: {', '.join(m.get('flags', []))}",
             f"- OS: {m.get('platform')}; load average at start {fmt_load_average(rep.get('load_average_start'))}, "
             f"at end {fmt_load_average(rep.get('load_average_end'))}"]
    c, t = libs.get("chainrule", {}), libs.get("torch", {})
    if c:
        blas = c.get("numpy_blas") or {}
        lines.append(f"- chainrule {c.get('chainrule')} (git {c.get('chainrule_git', '?')}, sources sha256 "
                     f"{c.get('chainrule_source_sha256')}), Python {c.get('python')}, "
                     f"NumPy {c.get('numpy')} with {blas.get('name')} {blas.get('version')}; "
                     f"{c.get('chainrule_kernels', 'compiled kernels: unknown')}; thread pools: "
                     f"{_pools(c.get('threadpools'), with_version=True)}")
    if t:
        lines.append(f"- PyTorch {t.get('torch')} CPU (capability {t.get('torch_cpu_capability')}, MKL "
                     f"{t.get('torch_mkl')}, oneDNN {t.get('torch_mkldnn')}), torch.get_num_threads() = "
                     f"{t.get('torch_threads')}, interop threads {t.get('torch_interop_threads')}; "
                     f"{'; '.join(t.get('torch_parallel', []))}; thread pools: "
                     f"{_pools(t.get('threadpools'), with_version=False)}")
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
    return lines


def _profiles_section(profiles: dict[str, Any] | None) -> list[str]:
    if not profiles:
        return []
    lines = ["", "## Profiles (cProfile, chainrule side)", "",
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
                     f"{slow:.2f}× the timed step; other load {fmt_load(p.get('other_load'))}): {top}")
    return lines


# ----- the files --------------------------------------------------------------------------------------------------


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` under a temporary name beside ``path``, then rename: a reader never sees half a file."""
    part = path.with_name(path.name + ".part")
    part.write_text(text)
    os.replace(part, path)


def write_report(rep: dict[str, Any], md: str, out: Path) -> None:
    """results.md (``md``, from ``markdown(rep)``) and results.json in ``out``."""
    write_whole(out / "results.md", md)
    write_whole(out / "results.json", json.dumps(rep, indent=1, default=str) + "\n")
