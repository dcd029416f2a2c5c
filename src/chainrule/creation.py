"""Making tensors: from data, filled with constants, ranges, and random numbers.

Every factory takes ``device`` (PyTorch's keyword): None or "cpu" (or ``cr.device("cpu")``) for a NumPy array,
"cuda" or "cuda:N" for an array of the device module (CuPy) on that GPU; "cuda" raises ``DeviceError`` where no
CUDA device is available. The ``*_like`` factories default to their argument's device.

Every random function takes ``generator``, a ``chainrule.Generator`` (or any ``numpy.random.Generator``);
without one it draws from chainrule's default generator, which ``cr.manual_seed(seed)`` seeds. The same seed
gives the same numbers, on every device: the numbers are drawn on the host and copied to the device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend, dtypes, random
from chainrule.devices import CPU, check_available, move
from chainrule.devices import device as _device_type
from chainrule.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from chainrule.ops.operands import _is_int, as_dtype, as_tensor, check_int, check_number, check_size, describe
from chainrule.tensor import Tensor, as_array


def default_generator() -> np.random.Generator:
    """The generator that draws when no ``generator`` is given (``cr.manual_seed`` seeds it)."""
    return random.default()


def _size(op: str, size: tuple[Any, ...]) -> tuple[int, ...]:
    """The shape asked of a factory, given as ints (``zeros(2, 3)``) or as one sequence (``zeros((2, 3))``):
    every size an int ≥ 0, as PyTorch requires."""
    if len(size) == 1 and not _is_int(size[0]):
        if not isinstance(size[0], (Sequence, np.ndarray)) or isinstance(size[0], (str, bytes)):
            raise ArgumentTypeError(
                f"{op}: argument 'size' must be ints or a sequence of ints, got {describe(size[0])}; hint: e.g. "
                f"{op}(2, 3) or {op}((2, 3))"
            )
        size = tuple(size[0])
    for n in size:
        if not _is_int(n):
            raise ArgumentTypeError(
                f"{op}: argument 'size' must hold ints, got {describe(n)} in {tuple(size)!r}; hint: sizes count "
                f"elements, write them as ints (int(n))"
            )
    shape = tuple(int(n) for n in size)
    if any(n < 0 for n in shape):
        raise ArgumentError(f"{op}: argument 'size' must hold sizes ≥ 0, got {shape}; hint: a negative size is "
                            f"usually a wrong subtraction")
    return shape


def _allocatable(op: str, shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, ...]:
    """Refuse (ResourceError naming the size) a tensor larger than this machine's memory, before allocating."""
    check_size(op, "the tensor", shape, dtype, hint="; hint: ask for a smaller size")
    return shape


def _generator(op: str, generator: Any) -> np.random.Generator:
    if generator is None:
        return random.default()
    if not isinstance(generator, np.random.Generator):
        raise ArgumentTypeError(
            f"{op}: argument 'generator' must be a chainrule.Generator or a numpy.random.Generator, got "
            f"{describe(generator)}; hint: cr.Generator().manual_seed(seed)"
        )
    return generator


def _data_array(data: Any, dtype: np.dtype | None) -> Any:
    """``data`` as an array for ``tensor``: numbers in a rectangular nesting, or a clear refusal."""
    if isinstance(data, (str, bytes)):
        raise DTypeError(f"tensor: argument 'data' must hold numbers, got {describe(data)}; hint: convert the text "
                         f"first, e.g. float(s)")
    try:
        array = as_array(data, dtype)
    except OverflowError as e:
        raise ArgumentError(
            f"tensor: argument 'data' holds a number that does not fit in dtype {dtype}: {e}; hint: pass a wider "
            f"dtype or floats"
        ) from e
    except (TypeError, ValueError) as e:
        if "inhomogeneous" in str(e) or "sequence" in str(e):  # NumPy's wording for a ragged nesting
            raise ShapeError(
                "tensor: argument 'data' is a ragged nested list: its rows differ in length, so it has no shape; "
                "hint: pad the rows to one length, every level of the nesting must be rectangular"
            ) from e
        raise DTypeError(f"tensor: argument 'data' must hold numbers, got {describe(data)} ({e}); hint: convert "
                         f"the values to int, float or bool first") from e
    if array.dtype.kind not in "biuf":
        raise DTypeError(
            f"tensor: argument 'data' must hold numbers (bool, int or float), got {describe(data)}, which NumPy "
            f"reads as dtype {array.dtype}; hint: strings, None, objects and ints beyond int64 have no tensor "
            f"dtype, convert them first"
        )
    return array


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``. Python floats become float32, ints int64; arrays keep their dtype.

    ``data`` is a number, a rectangular nested list of numbers, an array or a Tensor; strings, None, objects
    and ragged lists are refused (DTypeError, ShapeError), as PyTorch refuses them.
    """
    dev = None if device is None else check_available("tensor", device)  # None: where data is (as PyTorch)
    dtype = None if dtype is None else as_dtype("tensor", dtype)
    source = data._data if isinstance(data, Tensor) else data
    array = _data_array(source, dtype)
    if array is source:  # an array of the right dtype came in: copy, so the tensor owns its memory
        array = array.copy()
    return Tensor(array if dev is None else move(array, dev), requires_grad=requires_grad)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A tensor sharing memory with a NumPy array (no copy, dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise ArgumentTypeError(f"from_numpy: argument 'array' must be a numpy.ndarray, got {describe(array)}; "
                                f"hint: use cr.tensor(data) for other data")
    if array.dtype.kind not in "biuf":
        raise DTypeError(f"from_numpy: argument 'array' must hold numbers (bool, int or float), got dtype "
                         f"{array.dtype}; hint: convert it with array.astype(np.float32)")
    return Tensor(array, requires_grad=requires_grad)


def _filled(op: str, shape: tuple[int, ...], fill: Any, dtype: np.dtype, requires_grad: bool,
            dev: _device_type = CPU) -> Tensor:
    if not isinstance(fill, (bool, np.bool_)):  # a bool fills as True/False, as in PyTorch
        value = check_number(op, "fill_value", fill, nan=True)
        if dtype.kind in "iu" and not (math.isfinite(value) and np.iinfo(dtype).min <= value <= np.iinfo(dtype).max):
            # NumPy would cast it to an arbitrary integer without a word
            raise ArgumentError(f"{op}: argument 'fill_value' {fill!r} does not fit in dtype {dtype}; hint: pass a "
                                f"float dtype or a value in [{np.iinfo(dtype).min}, {np.iinfo(dtype).max}]")
    _allocatable(op, shape, dtype)
    if dev.type == "cpu":
        return Tensor(np.full(shape, fill, dtype=dtype), requires_grad=requires_grad)
    xp = backend.device_module()
    with xp.cuda.Device(dev.index):  # filled where it lives: no host buffer, no copy
        return Tensor(xp.full(shape, fill, dtype=dtype), requires_grad=requires_grad)


def _on(dev: _device_type, array: np.ndarray, requires_grad: bool) -> Tensor:
    """A tensor of a host-made ``array`` on ``dev`` (copied there unless it is the CPU)."""
    return Tensor(move(array, dev), requires_grad=requires_grad)


def zeros(*size: int | Sequence[int], dtype: Any = dtypes.float32, requires_grad: bool = False,
          device: Any = None) -> Tensor:
    """A tensor of ``size`` filled with 0 (``torch.zeros``).

    Args:
        *size: the shape, as ints or one sequence: ``zeros(2, 3)`` or ``zeros((2, 3))``.
        dtype: float32 by default.
        requires_grad: whether the result is a leaf that records gradients.
        device: where the tensor lives (the CPU by default; ``"cuda"`` needs the ``gpu`` extra and a GPU).

    Raises:
        ArgumentError: a negative size.
        ArgumentTypeError: a size that is not an int.
        ResourceError: a size larger than this machine's memory.
        DeviceError: a device this machine does not have.
    """
    dev = check_available("zeros", device)
    return _filled("zeros", _size("zeros", size), 0, as_dtype("zeros", dtype), requires_grad, dev)


def empty(*size: int | Sequence[int], dtype: Any = dtypes.float32, requires_grad: bool = False,
          device: Any = None) -> Tensor:
    """A tensor of ``size``; its values are zeros (chainrule never hands out uninitialised memory)."""
    dev = check_available("empty", device)
    return _filled("empty", _size("empty", size), 0, as_dtype("empty", dtype), requires_grad, dev)


def ones(*size: int | Sequence[int], dtype: Any = dtypes.float32, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    """A tensor of ``size`` filled with 1 (``torch.ones``).

    Args:
        *size: the shape, as ints or one sequence: ``ones(2, 3)`` or ``ones((2, 3))``.
        dtype: float32 by default.
        requires_grad: whether the result is a leaf that records gradients.
        device: where the tensor lives (the CPU by default).

    Raises:
        ArgumentError: a negative size.
        ArgumentTypeError: a size that is not an int.
        ResourceError: a size larger than this machine's memory.
        DeviceError: a device this machine does not have.
    """
    dev = check_available("ones", device)
    return _filled("ones", _size("ones", size), 1, as_dtype("ones", dtype), requires_grad, dev)


def full(size: Sequence[int], fill_value: float, dtype: Any = dtypes.float32, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (``torch.full``).

    Args:
        size: the shape, a sequence of ints.
        fill_value: the number every element takes, cast to ``dtype``.
        dtype: float32 by default.
        requires_grad: whether the result is a leaf that records gradients.
        device: where the tensor lives (the CPU by default).

    Raises:
        ArgumentError: a negative size.
        ArgumentTypeError: a fill_value that is not a number.
        ResourceError: a size larger than this machine's memory.
        DeviceError: a device this machine does not have.
    """
    dev = check_available("full", device)
    return _filled("full", _size("full", (size,)), fill_value, as_dtype("full", dtype), requires_grad, dev)


def eye(n: int, m: int | None = None, dtype: Any = dtypes.float32, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """The identity matrix: shape (n, m), ones on the diagonal, zeros elsewhere (``torch.eye``).

    Args:
        n: the number of rows.
        m: the number of columns; ``n`` when None.
        dtype: float32 by default.
        requires_grad: whether the result is a leaf that records gradients.
        device: where the tensor lives (the CPU by default).

    Raises:
        ArgumentError: a negative n or m.
        ResourceError: a matrix larger than this machine's memory.
    """
    dev = check_available("eye", device)
    n = check_int("eye", "n", n, 0, hint="; hint: n is the number of rows")
    m = n if m is None else check_int("eye", "m", m, 0, hint="; hint: m is the number of columns")
    dtype = as_dtype("eye", dtype)
    return _on(dev, np.eye(*_allocatable("eye", (n, m), dtype), dtype=dtype), requires_grad)


def arange(
    start: float, end: float | None = None, step: float = 1, dtype: Any = None, requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """Evenly spaced values in [start, end); int64 for integer arguments, float32 otherwise.

    As in PyTorch, ``step`` must be nonzero and point from start towards end, and the bounds finite.
    """
    dev = check_available("arange", device)
    if end is None:
        start, end = 0, start
    for name, value in (("start", start), ("end", end), ("step", step)):
        check_number("arange", name, value, finite=True)
    if step == 0:
        raise ArgumentError("arange: argument 'step' must be nonzero, got 0; hint: step=1 counts up, step=-1 down")
    if (end - start) * step < 0:
        raise ArgumentError(
            f"arange: argument 'step' ({step}) points away from end: start={start}, end={end}; hint: use a "
            f"{'negative' if end < start else 'positive'} step"
        )
    if dtype is None:
        dtype = dtypes.int64 if all(_is_int(v) for v in (start, end, step)) else dtypes.float32
    dtype = as_dtype("arange", dtype)
    _allocatable("arange", (max(math.ceil((end - start) / step), 0),), dtype)
    return _on(dev, np.arange(start, end, step, dtype=dtype), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = dtypes.float32, requires_grad: bool = False,
             device: Any = None) -> Tensor:
    """``steps`` values evenly spaced from ``start`` to ``end``, both included: shape (steps,) (``torch.linspace``).

    Args:
        start: the first value.
        end: the last value.
        steps: how many values (0 gives an empty tensor, 1 gives ``[start]``).
        dtype: float32 by default.
        requires_grad: whether the result is a leaf that records gradients.
        device: where the tensor lives (the CPU by default).

    Raises:
        ArgumentError: a negative steps.
        ArgumentTypeError: a start or end that is not a number, a steps that is not an int.
    """
    dev = check_available("linspace", device)
    check_number("linspace", "start", start, nan=True)
    check_number("linspace", "end", end, nan=True)
    steps = check_int("linspace", "steps", steps, 0, hint="; hint: steps is the number of values")
    dtype = as_dtype("linspace", dtype)
    _allocatable("linspace", (steps,), dtype)
    return _on(dev, np.linspace(start, end, steps, dtype=dtype), requires_grad)


def _like(op: str, x: Any, fill: Any, dtype: Any, requires_grad: bool, device: Any = None) -> Tensor:
    x = as_tensor(op, x)
    dev = check_available(op, x.device if device is None else device)  # x's device unless told, as PyTorch
    dtype = x.dtype if dtype is None else as_dtype(op, dtype)
    return _filled(op, x.shape, fill, dtype, requires_grad, dev)


def zeros_like(x: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of x's shape filled with 0, with x's dtype and device unless given (``torch.zeros_like``).

    Args:
        x: the tensor whose shape (and dtype and device) the result takes.
        dtype: the result's dtype; x's when None.
        requires_grad: whether the result is a leaf that records gradients.
        device: the result's device; x's when None.
    """
    return _like("zeros_like", x, 0, dtype, requires_grad, device)


def ones_like(x: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of x's shape filled with 1, with x's dtype and device unless given (``torch.ones_like``).

    Args:
        x: the tensor whose shape (and dtype and device) the result takes.
        dtype: the result's dtype; x's when None.
        requires_grad: whether the result is a leaf that records gradients.
        device: the result's device; x's when None.
    """
    return _like("ones_like", x, 1, dtype, requires_grad, device)


def full_like(x: Tensor, fill_value: float, dtype: Any = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    """A tensor of x's shape filled with ``fill_value``, with x's dtype and device unless given (``torch.full_like``).

    Args:
        x: the tensor whose shape (and dtype and device) the result takes.
        fill_value: the number every element takes.
        dtype: the result's dtype; x's when None.
        requires_grad: whether the result is a leaf that records gradients.
        device: the result's device; x's when None.
    """
    return _like("full_like", x, fill_value, dtype, requires_grad, device)


def empty_like(x: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of x's shape (and dtype, unless given); zeros, as ``empty``."""
    return _like("empty_like", x, 0, dtype, requires_grad, device)


def _float_dtype(op: str, dtype: Any) -> np.dtype:
    dtype = as_dtype(op, dtype)
    if dtype.kind != "f":
        raise DTypeError(f"{op}: draws floating-point numbers, got dtype={dtype}; hint: use a float dtype, e.g. "
                         f"cr.float32 (or randint for integers)")
    return dtype


def _random(op: str, size: tuple[Any, ...], generator: Any, dtype: Any, requires_grad: bool, normal: bool,
            device: Any = None) -> Tensor:
    dev = check_available(op, device)
    shape = _size(op, size)
    dtype = _float_dtype(op, dtype)
    rng = _generator(op, generator)
    _allocatable(op, shape, dtype)
    draw_dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)  # NumPy draws no float16
    array = rng.standard_normal(shape, dtype=draw_dtype) if normal else rng.random(shape, dtype=draw_dtype)
    return _on(dev, array.astype(dtype, copy=False), requires_grad)


def randn(
    *size: int | Sequence[int],
    generator: np.random.Generator | None = None,
    dtype: Any = dtypes.float32,
    requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """Standard normal samples."""
    return _random("randn", size, generator, dtype, requires_grad, normal=True, device=device)


def rand(
    *size: int | Sequence[int],
    generator: np.random.Generator | None = None,
    dtype: Any = dtypes.float32,
    requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """Uniform samples in [0, 1)."""
    return _random("rand", size, generator, dtype, requires_grad, normal=False, device=device)


def randint(
    low: int, high: int | Sequence[int], size: Sequence[int] | None = None,
    generator: np.random.Generator | None = None, dtype: Any = dtypes.int64, device: Any = None,
) -> Tensor:
    """Integers uniform in [low, high); ``randint(high, size)`` draws from [0, high), as PyTorch's overload."""
    if size is None and isinstance(high, (Sequence, np.ndarray)) and not isinstance(high, (str, bytes)):
        low, high, size = 0, low, high
    elif size is None:
        raise ArgumentTypeError("randint: argument 'size' is missing; hint: randint(low, high, (n,)) or "
                                "randint(high, (n,))")
    dev = check_available("randint", device)
    low = check_int("randint", "low", low)
    high = check_int("randint", "high", high)
    if low >= high:
        raise ArgumentError(f"randint: argument 'low' must be less than 'high', got low={low}, high={high}; hint: "
                            f"the range [low, high) must hold at least one integer")
    shape = _size("randint", (size,))
    dtype = as_dtype("randint", dtype)
    rng = _generator("randint", generator)
    _allocatable("randint", shape, dtype)
    draw_dtype = dtype if dtype.kind in "iu" else np.dtype(np.int64)  # float dtypes: whole numbers, as PyTorch
    try:
        array = rng.integers(low, high, size=shape, dtype=draw_dtype)
    except ValueError as e:  # low or high outside the dtype's range
        raise ArgumentError(f"randint: [low, high) = [{low}, {high}) does not fit in dtype {dtype}: {e}") from e
    return _on(dev, array.astype(dtype, copy=False), False)


def randperm(
    n: int, generator: np.random.Generator | None = None, dtype: Any = dtypes.int64, requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """A random permutation of 0, ..., n − 1 (int64 unless ``dtype`` says otherwise)."""
    dev = check_available("randperm", device)
    n = check_int("randperm", "n", n)
    if n < 0:
        raise ArgumentError(f"randperm: argument 'n' must be ≥ 0, got {n}")
    dtype = as_dtype("randperm", dtype)
    _allocatable("randperm", (n,), dtype)
    array = _generator("randperm", generator).permutation(n).astype(dtype, copy=False)
    return _on(dev, array, requires_grad)


def bernoulli(input: Any, p: float | None = None, *, generator: np.random.Generator | None = None) -> Tensor:  # noqa: A002
    """0/1 draws, 1 with probability ``input`` (elementwise, in [0, 1]) or ``p``, in input's dtype and device.
    Not differentiable: the result does not require grad, as in PyTorch."""
    x = as_tensor("bernoulli", input)
    probs = backend.to_numpy(x._data) if p is None else np.full(x.shape, check_number("bernoulli", "p", p))
    if np.isnan(probs).any() or (probs < 0).any() or (probs > 1).any():
        bad = probs[np.isnan(probs) | (probs < 0) | (probs > 1)].flat[0]
        raise ArgumentError(f"bernoulli: probabilities must be in [0, 1], got {bad}; hint: squash scores with "
                            f"sigmoid first")
    draws = _generator("bernoulli", generator).random(x.shape) < probs
    return _on(x.device, draws.astype(x.dtype), False)


def randn_like(x: Tensor, generator: np.random.Generator | None = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    """Standard-normal samples in x's shape, dtype and device (``torch.randn_like``).

    Args:
        x: the tensor whose shape, dtype and device the result takes (a float dtype).
        generator: where the numbers come from; the default generator (``cr.manual_seed``) when None.
        requires_grad: whether the result is a leaf that records gradients.
        device: the result's device; x's when None.

    Raises:
        DTypeError: x is not a floating-point tensor.
    """
    x = as_tensor("randn_like", x)
    return _random("randn_like", (x.shape,), generator, x.dtype, requires_grad, normal=True,
                   device=x.device if device is None else device)


def rand_like(x: Tensor, generator: np.random.Generator | None = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    """Samples uniform on [0, 1) in x's shape, dtype and device (``torch.rand_like``).

    Args:
        x: the tensor whose shape, dtype and device the result takes (a float dtype).
        generator: where the numbers come from; the default generator (``cr.manual_seed``) when None.
        requires_grad: whether the result is a leaf that records gradients.
        device: the result's device; x's when None.

    Raises:
        DTypeError: x is not a floating-point tensor.
    """
    x = as_tensor("rand_like", x)
    return _random("rand_like", (x.shape,), generator, x.dtype, requires_grad, normal=False,
                   device=x.device if device is None else device)
