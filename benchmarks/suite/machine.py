"""What the machine and the libraries are, and the thread settings both worker processes start with.

The facts go into results.json and the "Machine and settings" section of results.md, so that a table can be
read against the conditions that produced it.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent
ROOT = BENCH_DIR.parent
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS")
FLAGS_OF_INTEREST = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl",
                     "avx512_vnni", "avx512_bf16", "amx_tile", "hypervisor")


def thread_env(threads: int) -> dict[str, str]:
    """The environment of a worker process: the BLAS/OpenMP thread counts must be set before NumPy or torch is
    imported (the pools are sized at load), and the repository root must be importable (``benchmarks``)."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


_LIMITS: Any = None  # threadpoolctl's limits, kept alive for the worker's lifetime


def apply_threads(framework: str, threads: int) -> None:
    """threadpoolctl's limits and torch.set_num_threads, on top of the environment (``thread_env``)."""
    global _LIMITS
    try:
        from threadpoolctl import threadpool_limits

        _LIMITS = threadpool_limits(limits=threads)
    except ImportError:
        pass
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)


# ----- the machine ------------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """CPU model, logical and usable CPUs, SIMD flags, caches per core and memory (Linux files where present)."""
    info: dict[str, Any] = {"platform": platform.platform(), "logical_cpus": os.cpu_count()}
    try:
        info["affinity_cpus"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    info.update(_cpuinfo())
    info["caches_per_core"] = _caches()
    try:
        mem = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        info["memory_gib"] = round(int(mem["MemTotal"].split()[0]) / 2**20, 1)
    except (OSError, KeyError, ValueError):
        pass
    return info


def _cpuinfo() -> dict[str, Any]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"cpu_model": platform.processor()}
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    return {"cpu_model": fields.get("model name", platform.processor()), "cpu_mhz": fields.get("cpu MHz"),
            "flags": [f for f in FLAGS_OF_INTEREST if f in flags]}


def _caches() -> dict[str, str]:
    caches = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level, kind = (index / "level").read_text().strip(), (index / "type").read_text().strip()
            caches[f"L{level}{'d' if kind == 'Data' else 'i' if kind == 'Instruction' else ''}"] = (
                (index / "size").read_text().strip())
        except OSError:
            pass
    return caches


# ----- the libraries, as a worker process sees them ------------------------------------------------------------


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
    info["threadpools"] = _threadpools()
    info.update(_torch_info() if framework == "torch" else _chainrule_info())
    return info


def _threadpools() -> list[dict[str, Any]] | str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return [{k: p.get(k) for k in ("user_api", "internal_api", "version", "num_threads", "architecture")}
            | {"library": Path(p.get("filepath", "")).name} for p in threadpool_info()]


def _torch_info() -> dict[str, Any]:
    import torch

    return {
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_mkldnn": torch.backends.mkldnn.is_available(), "torch_mkl": torch.backends.mkl.is_available(),
        "torch_parallel": [line.strip() for line in torch.__config__.parallel_info().splitlines()
                           if line.strip().startswith(("ATen parallel backend", "at::get_num_threads",
                                                       "Intel(R) MKL", "MKL-DNN", "std::thread"))],
    }


def _chainrule_info() -> dict[str, Any]:
    import chainrule
    from chainrule import compiled

    package = Path(chainrule.__file__).resolve().parent
    info: dict[str, Any] = {"chainrule": chainrule.__version__, "chainrule_path": str(package),
                            "chainrule_source_sha256": source_digest(package)}
    if compiled.enabled():
        import numba

        info["chainrule_kernels"] = f"compiled kernels on (Numba {numba.__version__})"
    else:
        info["chainrule_kernels"] = "compiled kernels off (NumPy only)"
    git = git_describe()
    if git is not None:
        info["chainrule_git"] = git
    return info


def source_digest(package: Path) -> str:
    """A short SHA-256 of the package's sources: which kernels were measured, even in a dirty tree."""
    digest = hashlib.sha256()
    for f in sorted(package.rglob("*.py")):
        digest.update(f.relative_to(package).as_posix().encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:16]


def git_describe() -> str | None:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
