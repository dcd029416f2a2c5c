"""Compiled kernels (Numba) for the loops that NumPy cannot run at the speed of a compiled library.

Optional: ``pip install "chainrule[fast]"`` installs Numba, and then the ops that have a kernel here use it for
NumPy arrays. Every kernel has a NumPy reference in ``src/chainrule/ops`` that stays the definition of the result:
the tests run both on the same inputs and require identical outputs where the arithmetic is the same, and
agreement to the rounding of a sum where a kernel sums in a different order (each kernel's docstring says which).
Set the environment variable ``CHAINRULE_COMPILED=0`` (or use ``with compiled.disabled():``) to run the references
everywhere.

Kernels are compiled on first use and cached on disk in the user's cache (``cache.py``: ``~/.cache/chainrule/numba``,
never inside the installed package); each call runs on one thread and releases the GIL, so an op may run calls
for different channels or images on several threads (``chainrule.threads``).

- ``pool.max_pool2d_2x2``, ``pool.max_pool2d_2x2_scatter``: max pooling with 2×2 windows and stride 2 and its
  backward (``ops/pool.py``), one pass over the input instead of NumPy's passes per kernel offset.
- ``recurrent.lstm_*``, ``recurrent.gru_*``: the gate arithmetic of one LSTM or GRU time step, forward and
  backward (``ops/recurrent.py``, the sequence Functions), in one to three passes instead of a dozen NumPy
  passes and temporaries. Equal bit for bit, except ``lstm_step_float32``: a whole float32 LSTM step in one
  pass with its own tanh, held to a stated tolerance.
- ``normalization.batch_norm_forward``, ``normalization.batch_norm_backward``: batch norm in training
  (``ops/normalization.py``), two passes over each channel each way instead of one per op.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["available", "disabled", "enabled", "module"]

_state = {"enabled": os.environ.get("CHAINRULE_COMPILED", "1") != "0" and
          importlib.util.find_spec("numba") is not None}


def enabled() -> bool:
    """Whether the compiled kernels are in use (Numba installed, not switched off)."""
    return _state["enabled"]


def available(*arrays: Any) -> bool:
    """True when the kernels are in use and can run on ``arrays`` (NumPy arrays; CuPy's run on CuPy)."""
    return _state["enabled"] and all(type(a) is np.ndarray for a in arrays)


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Run the NumPy references inside the block (for comparing the two, or for debugging)."""
    before = _state["enabled"]
    _state["enabled"] = False
    try:
        yield
    finally:
        _state["enabled"] = before


def module(name: str) -> ModuleType:
    """The kernel module ``chainrule.compiled.<name>``, imported (and Numba with it) on first use."""
    importlib.import_module("chainrule.compiled.cache").install()  # before the kernels' first compilation
    return importlib.import_module(f"chainrule.compiled.{name}")
