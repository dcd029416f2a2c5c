"""Making tensors: from data, filled with constants, ranges, and random numbers.

Every random function takes ``generator``, a ``numpy.random.Generator``; without one it draws from
chainrule's default generator, which ``cr.manual_seed(seed)`` resets. The same seed gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.backend import get_array_module
from chainrule.tensor import Tensor, as_array

_default_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the default generator used when no ``generator`` is passed; returns it."""
    global _default_generator
    _default_generator = np.random.default_rng(seed)
    return _default_generator


def default_generator() -> np.random.Generator:
    return _default_generator


def _shape(size: tuple[Any, ...]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], Sequence):
        size = tuple(size[0])
    return tuple(int(n) for n in size)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``. Python floats become float32, ints int64; arrays keep their dtype."""
    source = data.data if isinstance(data, Tensor) else data
    array = as_array(source, dtype)
    if array is source:  # an array of the right dtype came in: copy, so the tensor owns its memory
        array = array.copy()
    return Tensor(array, requires_grad=requires_grad)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A tensor sharing memory with a NumPy array (no copy, dtype kept)."""
    return Tensor(array, requires_grad=requires_grad)


def zeros(*size: int | Sequence[int], dtype: Any = dtypes.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(size), dtype=dtype), requires_grad=requires_grad)


def ones(*size: int | Sequence[int], dtype: Any = dtypes.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(size), dtype=dtype), requires_grad=requires_grad)


def full(size: Sequence[int], fill_value: float, dtype: Any = dtypes.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.full(_shape((size,)), fill_value, dtype=dtype), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = dtypes.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


def arange(
    start: float, end: float | None = None, step: float = 1, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """Evenly spaced values in [start, end); int64 for integer arguments, float32 otherwise."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = dtypes.int64 if all(isinstance(v, int) for v in (start, end, step)) else dtypes.float32
    return Tensor(np.arange(start, end, step, dtype=dtype), requires_grad=requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = dtypes.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.linspace(start, end, steps, dtype=dtype), requires_grad=requires_grad)


def _like(x: Tensor, fill: Any, dtype: Any, requires_grad: bool) -> Tensor:
    array = x.data if isinstance(x, Tensor) else np.asarray(x)
    out = get_array_module(array).full(array.shape, fill, dtype=dtype or array.dtype)
    return Tensor(out, requires_grad=requires_grad)


def zeros_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(x, 0, dtype, requires_grad)


def ones_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(x, 1, dtype, requires_grad)


def full_like(x: Tensor, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(x, fill_value, dtype, requires_grad)


def randn(
    *size: int | Sequence[int],
    generator: np.random.Generator | None = None,
    dtype: Any = dtypes.float32,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal samples."""
    rng = generator or _default_generator
    return Tensor(rng.standard_normal(_shape(size), dtype=dtype), requires_grad=requires_grad)


def rand(
    *size: int | Sequence[int],
    generator: np.random.Generator | None = None,
    dtype: Any = dtypes.float32,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples in [0, 1)."""
    rng = generator or _default_generator
    return Tensor(rng.random(_shape(size), dtype=dtype), requires_grad=requires_grad)


def randint(
    low: int, high: int, size: Sequence[int], generator: np.random.Generator | None = None, dtype: Any = dtypes.int64
) -> Tensor:
    """Integers uniform in [low, high)."""
    rng = generator or _default_generator
    return Tensor(rng.integers(low, high, size=tuple(size), dtype=dtype))


def randn_like(x: Tensor, generator: np.random.Generator | None = None, requires_grad: bool = False) -> Tensor:
    return randn(x.shape, generator=generator, dtype=x.dtype, requires_grad=requires_grad)


def rand_like(x: Tensor, generator: np.random.Generator | None = None, requires_grad: bool = False) -> Tensor:
    return rand(x.shape, generator=generator, dtype=x.dtype, requires_grad=requires_grad)
