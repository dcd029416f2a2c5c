"""The compiled kernels' cache lives in the user's cache folder, never inside the installed package."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule
from chainrule import compiled

KERNELS = Path(chainrule.__file__).resolve().parent / "compiled"
RUN_A_KERNEL = (
    "import numpy as np; from chainrule.ops import normalization as N; "
    "N._compiled_forward(np.ones((2, 3, 2), np.float32), None, None, 1e-5)"
)


def _run(env_changes: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "CHAINRULE_CACHE", "XDG_CACHE_HOME")}
    env.update(env_changes)
    subprocess.run([sys.executable, "-c", RUN_A_KERNEL], env=env, check=True, timeout=300)


def _index_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("normalization.batch_norm_forward-*.nbi"))


@pytest.mark.skipif(not compiled.enabled(), reason="the compiled kernels are off (Numba not installed, or off)")
def test_kernels_cache_into_the_user_cache_not_the_package(tmp_path):
    before = _index_files(KERNELS)
    _run({"CHAINRULE_CACHE": str(tmp_path / "mine")})
    assert _index_files(tmp_path / "mine" / "numba"), "no kernel cached in $CHAINRULE_CACHE/numba"
    assert _index_files(KERNELS) == before, "a kernel was cached inside the package"
    _run({"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert _index_files(tmp_path / "xdg" / "chainrule" / "numba")


@pytest.mark.skipif(not compiled.enabled(), reason="the compiled kernels are off (Numba not installed, or off)")
def test_numba_cache_dir_set_by_the_user_wins(tmp_path):
    _run({"NUMBA_CACHE_DIR": str(tmp_path / "numba"), "CHAINRULE_CACHE": str(tmp_path / "mine")})
    assert _index_files(tmp_path / "numba")
    assert not _index_files(tmp_path / "mine")
