"""``import chainrule`` changes nothing in the process: no malloc tuning, no optional library loaded until used."""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import subprocess
import sys

OPTIONAL = ("scipy", "matplotlib", "numba", "tqdm", "sklearn", "torch", "cupy", "safetensors")

IMPORT_ONLY = """
import json, sys
import chainrule
print(json.dumps({"modules": sorted(sys.modules), "malloc_tuned": chainrule.workspace.malloc_tuned}))
"""

FIRST_GELU = """
import json, sys
import chainrule as cr
before = "scipy" in sys.modules
y = cr.nn.functional.gelu(cr.tensor([0.0, 1.0], dtype=cr.float64))
print(json.dumps({"before": before, "after": "scipy" in sys.modules, "values": y.tolist()}))
"""


def run_python(code: str, **env: str) -> dict:
    environment = {**os.environ, "CHAINRULE_MALLOC": "", **env}
    run = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    except OSError:
        return False


def test_import_loads_no_optional_library_and_tunes_no_allocator():
    report = run_python(IMPORT_ONLY)
    loaded = sorted({name.split(".")[0] for name in report["modules"]} & set(OPTIONAL))
    assert loaded == []
    assert report["malloc_tuned"] is False


def test_the_environment_can_ask_for_the_allocator_setting_at_import():
    assert run_python(IMPORT_ONLY, CHAINRULE_MALLOC="keep")["malloc_tuned"] is glibc()
    assert run_python(IMPORT_ONLY, CHAINRULE_MALLOC="default")["malloc_tuned"] is False


def test_scipy_is_loaded_by_the_first_gelu_not_before():
    report = run_python(FIRST_GELU)
    assert report["before"] is False
    assert report["after"] is (importlib.util.find_spec("scipy") is not None)
    assert report["values"][0] == 0.0
    assert abs(report["values"][1] - 0.8413447460685429) < 1e-15  # 1 · Φ(1)
