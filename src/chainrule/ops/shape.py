"""Ops that move values without changing them: reshape, permute, expand, squeeze, concatenation, split,
padding and indexing. Derivations: docs/shape.md.

Each backward sends every gradient value back to the place its forward value came from: the inverse
reshape, the inverse permutation, the slice it was cut from. Where the forward copied one value to several
places (expand, repeated fancy indices) the backward adds the gradients from those places.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import backend, dtypes
from chainrule.autograd import broadcast as _broadcast
from chainrule.autograd.function import Function, is_broadcast_of
from chainrule.errors import ArgumentError, ArgumentTypeError, DTypeError, IndexRangeError, ShapeError
from chainrule.ops.operands import (
    _is_int,
    as_tensor,
    check_int,
    check_number,
    check_size,
    describe,
    int_tuple,
    normalize_dim,
)
from chainrule.tensor import Tensor

__all__ = [
    "broadcast_to", "cat", "chunk", "clone", "concatenate", "expand", "flatten", "getitem", "narrow", "pad", "permute",
    "repeat", "reshape", "split", "squeeze", "stack", "sum_to", "t", "transpose", "unbind", "unsqueeze",
]


def _shape_arg(op: str, shape: tuple[Any, ...], name: str = "shape") -> tuple[int, ...]:
    """Accept both f(x, 2, 3) and f(x, (2, 3)); every size must be an int."""
    if len(shape) == 1 and not _is_int(shape[0]):
        return int_tuple(op, name, shape[0])
    return int_tuple(op, name, shape)


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """``x`` repeated along new or size-1 axes to ``shape`` (NumPy's broadcasting rule)."""
    x = as_tensor("broadcast_to", x)
    shape = int_tuple("broadcast_to", "shape", shape)
    if any(n < 0 for n in shape):
        raise ShapeError(f"broadcast_to: sizes must be ≥ 0, got shape {shape}")
    check_size("broadcast_to", "the result", shape, x.dtype)
    return _broadcast.broadcast_to(x, shape)


def sum_to(x: Any, shape: Sequence[int]) -> Tensor:
    """Sum ``x`` over the axes that broadcasting added or stretched, giving ``shape`` (PyTorch's sum_to_size)."""
    x = as_tensor("sum_to", x)
    shape = int_tuple("sum_to", "shape", shape)
    if any(n < 0 for n in shape):
        raise ShapeError(f"sum_to: sizes must be ≥ 0, got shape {shape}")
    if x.dtype.kind == "b":  # PyTorch keeps bool when nothing is summed and counts (int64) otherwise: say which
        raise DTypeError("sum_to: a bool tensor has no sum in its own dtype; hint: count with x.long() first")
    return _broadcast.sum_to(x, shape)


class Reshape(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    returns_views = True  # NumPy gives a view where it can: it shares x's version counter
    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        """Reshaping keeps element order, so gx = gy reshaped to x.shape."""
        return reshape(gy, self.x_shape)


class Clone(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved

    def forward(self, x):
        return x.copy()

    def backward(self, gy: Tensor) -> Tensor:
        """y = x, copied: gx = gy."""
        return gy


def clone(x: Any) -> Tensor:
    """A copy of ``x`` in new memory, with its own version counter; gradients flow back to ``x``."""
    return Clone()(as_tensor("clone", x))


def reshape(x: Any, *shape: int | Sequence[int]) -> Tensor:
    """The same elements in a new shape; one size may be −1 (inferred)."""
    x = as_tensor("reshape", x)
    target = _shape_arg("reshape", shape)
    known = math.prod(n for n in target if n != -1)  # Python ints: no overflow for absurd sizes
    if target.count(-1) > 1 or any(n < -1 for n in target):
        raise ShapeError(f"reshape: invalid shape {target}; sizes must be ≥ 0 with at most one −1")
    if (-1 in target and (known == 0 or x._data.size % known)) or (-1 not in target and known != x._data.size):
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x._data.size} elements) to {target}; "
            f"the number of elements must stay the same"
        )
    if -1 in target:
        target = tuple(x._data.size // known if n == -1 else n for n in target)
    if target == x.shape:
        return x
    return Reshape(target)(x)


class Permute(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    returns_views = True  # NumPy gives a view where it can: it shares x's version counter
    def __init__(self, dims: tuple[int, ...]) -> None:
        self.dims = dims

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, gy: Tensor) -> Tensor:
        """y = x with axes permuted by p (y's axis i is x's axis p[i]): gx = gy permuted by p⁻¹."""
        return permute(gy, tuple(np.argsort(self.dims)))


def permute(x: Any, *dims: int | Sequence[int]) -> Tensor:
    """Reorder the axes: output axis i is input axis dims[i]."""
    x = as_tensor("permute", x)
    dims = _shape_arg("permute", dims, "dims")
    axes = tuple(normalize_dim("permute", d, x.ndim) for d in dims)
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"permute: dims {dims} must be a permutation of the {x.ndim} dims of shape {x.shape}")
    if axes == tuple(range(x.ndim)):
        return x
    return Permute(axes)(x)


def transpose(x: Any, dim0: int, dim1: int) -> Tensor:
    """Swap two axes."""
    x = as_tensor("transpose", x)
    axes = list(range(x.ndim))
    a, b = normalize_dim("transpose", dim0, x.ndim), normalize_dim("transpose", dim1, x.ndim)
    if x.ndim == 0:  # dims 0 and −1 of a 0-d tensor: nothing to swap
        return x
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, tuple(axes))


def t(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """The transpose of a matrix; a 0-d or 1-d tensor is returned as it is (PyTorch's ``t``: at most 2 dims)."""
    x = as_tensor("t", input)
    if x.ndim > 2:
        raise ShapeError(f"t: expects a tensor with at most 2 dims, got shape {x.shape}; hint: use "
                         f"x.transpose(dim0, dim1) or x.mT for a batch of matrices")
    return x if x.ndim < 2 else transpose(x, 0, 1)


class Repeat(Function):
    """x tiled ``reps`` times along each dim (x first reshaped to len(reps) dims, with leading 1s)."""

    uses_inputs = False  # backward needs only shapes

    def __init__(self, reps: tuple[int, ...]) -> None:
        self.reps = reps

    def forward(self, x):
        self.x_shape = x.shape
        return backend.get_array_module(x).tile(x, self.reps)

    def backward(self, gy: Tensor) -> Tensor:
        """y = tile(x, r): y[k·n + i] = x[i] along each dim (n x's size, r copies), so every xᵢ receives the sum of
        its r copies' gradients: gx = gy reshaped to (r₀, n₀, r₁, n₁, …) and summed over the r axes."""
        shape = (1,) * (len(self.reps) - len(self.x_shape)) + self.x_shape
        split_shape = tuple(v for r, n in zip(self.reps, shape) for v in (r, n))
        summed = reshape(gy, split_shape).sum(tuple(range(0, 2 * len(shape), 2)))
        return reshape(summed, self.x_shape)


def repeat(input: Any, *sizes: int | Sequence[int]) -> Tensor:  # noqa: A002 - PyTorch's names
    """``input`` repeated ``sizes[d]`` times along each dim d (PyTorch's ``Tensor.repeat``, NumPy's ``tile``);
    there may be more sizes than dims, which adds leading dims."""
    x = as_tensor("repeat", input)
    reps = _shape_arg("repeat", sizes, "sizes")
    if len(reps) < x.ndim:
        raise ShapeError(f"repeat: the number of repeat sizes ({len(reps)}) cannot be smaller than the number of dims "
                         f"of the tensor ({x.ndim}, shape {x.shape}); hint: give one size per dim, 1 to keep it")
    if any(r < 0 for r in reps):
        raise ArgumentError(f"repeat: repeat sizes must be ≥ 0, got {reps}")
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    check_size("repeat", "the result", [r * n for r, n in zip(reps, shape)], x.dtype)
    return Repeat(reps)(x)


def narrow(input: Any, dim: int, start: int, length: int) -> Tensor:  # noqa: A002 - PyTorch's names
    """The slice ``start : start + length`` of ``input`` along ``dim`` (a view; ``start`` may be negative)."""
    x = as_tensor("narrow", input)
    if x.ndim == 0:
        raise ShapeError("narrow: a 0-d tensor has no dim to narrow; hint: reshape it to (1,) first")
    d = normalize_dim("narrow", dim, x.ndim)
    n = x.shape[d]
    start = check_int("narrow", "start", start.item() if isinstance(start, Tensor) else start, -n, n,
                      hint=f"; hint: dim {dim} has size {n}")
    start = start + n if start < 0 else start
    length = check_int("narrow", "length", length, 0, n - start,
                       hint=f"; hint: start ({start}) + length must not exceed dim {dim}'s size {n}")
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


def chunk(input: Any, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002 - PyTorch's names
    """``input`` cut along ``dim`` into at most ``chunks`` pieces of ⌈n / chunks⌉ (the last may be smaller, and
    there may be fewer pieces than asked, as in PyTorch)."""
    x = as_tensor("chunk", input)
    chunks = check_int("chunk", "chunks", chunks, 1, hint="; hint: the number of pieces")
    if x.ndim == 0:
        raise ShapeError("chunk: a 0-d tensor has no dim to cut; hint: reshape it to (1,) first")
    d = normalize_dim("chunk", dim, x.ndim)
    n = x.shape[d]
    if n == 0:  # PyTorch gives ``chunks`` empty pieces
        return split(x, [0] * chunks, d)
    return split(x, -(-n // chunks), d)


def expand(x: Any, *sizes: int | Sequence[int]) -> Tensor:
    """Broadcast to ``sizes``, where −1 keeps a dim's size (PyTorch's expand)."""
    x = as_tensor("expand", x)
    sizes = _shape_arg("expand", sizes, "sizes")
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand: {len(sizes)} sizes given for a tensor of shape {x.shape}")
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    if any(n < 0 for n in shape) or not is_broadcast_of(shape, x.shape):
        raise ShapeError(
            f"expand: cannot expand shape {x.shape} to {sizes}; new dims go in front with sizes ≥ 0, and an "
            f"existing dim keeps its size (or −1) unless it is 1"
        )
    check_size("expand", "the result", shape, x.dtype)
    return _broadcast.broadcast_to(x, shape)


def squeeze(x: Any, dim: int | Sequence[int] | None = None) -> Tensor:
    """Remove size-1 dims: all of them, or the given ones (a named dim of size ≠ 1 is left, as PyTorch)."""
    x = as_tensor("squeeze", x)
    if dim is None:
        dims = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        if not _is_int(dim) and not isinstance(dim, (tuple, list)):
            raise ArgumentTypeError(f"squeeze: dim must be None, an int or a tuple of ints, got {describe(dim)}")
        named = (dim,) if _is_int(dim) else tuple(dim)
        dims = {normalize_dim("squeeze", d, x.ndim) for d in named}  # a 0-d tensor accepts dim 0 and −1
        if len(dims) != len(named):
            raise ArgumentError(f"squeeze: dim {named} names an axis more than once")
        dims = {d for d in dims if d < x.ndim and x.shape[d] == 1}
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in dims))


def unsqueeze(x: Any, dim: int) -> Tensor:
    """Insert a size-1 dim at position ``dim`` (−1 appends)."""
    x = as_tensor("unsqueeze", x)
    d = normalize_dim("unsqueeze", dim, x.ndim + 1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim (inclusive) into one."""
    x = as_tensor("flatten", x)
    s, e = normalize_dim("flatten", start_dim, x.ndim), normalize_dim("flatten", end_dim, x.ndim)
    if x.ndim == 0:
        return reshape(x, (1,))
    if s > e:
        raise ArgumentError(f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
    return reshape(x, x.shape[:s] + (int(np.prod(x.shape[s : e + 1])),) + x.shape[e + 1 :])


# ----- joining and splitting -----------------------------------------------------------------------------


class Concatenate(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, *xs):
        self.sizes = [x.shape[self.dim] for x in xs]
        return backend.get_array_module(*xs).concatenate(xs, axis=self.dim)

    def backward(self, gy: Tensor) -> tuple[Tensor, ...]:
        """y = [x₁ | x₂ | …] along dim: each xₖ gets its own block, gxₖ = gy[…, offsetₖ : offsetₖ + nₖ, …]."""
        return split(gy, self.sizes, self.dim)


class Split(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    returns_views = True  # NumPy gives a view where it can: it shares x's version counter
    def __init__(self, sizes: list[int], dim: int) -> None:
        self.sizes, self.dim = sizes, dim

    def forward(self, x):
        cuts = np.cumsum(self.sizes)[:-1].tolist()  # host numbers: a device module takes lists, not host arrays
        return tuple(backend.get_array_module(x).split(x, cuts, axis=self.dim))

    def backward(self, *gys: Tensor) -> Tensor:
        """yₖ = x's k-th block along dim: gx = [gy₁ | gy₂ | …] (zeros for blocks nobody used)."""
        return cat(gys, self.dim)


def _tensor_list(op: str, tensors: Any) -> list[Tensor]:
    """A non-empty list or tuple of tensors, promoted to one dtype as binary ops are (int and float give float;
    float32 and float64 do not mix)."""
    if not isinstance(tensors, (list, tuple)):
        raise ArgumentTypeError(
            f"{op}: argument 'tensors' must be a list or tuple of tensors, got {describe(tensors)}; hint: "
            f"{op}([a, b])"
        )
    xs = [as_tensor(op, t, f"tensors[{i}]") for i, t in enumerate(tensors)]
    if not xs:
        raise ArgumentError(f"{op}: expected a non-empty sequence of tensors")
    kinds = {x.dtype for x in xs}
    if len(kinds) > 1:
        dtype = dtypes.result_dtype(op, *kinds)
        xs = [x if x.dtype == dtype else x.to(dtype) for x in xs]
    return xs


class Unbind(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    returns_views = True  # NumPy gives a view where it can: it shares x's version counter

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x):
        lead = (slice(None),) * self.dim
        return tuple(x[lead + (i,)] for i in range(x.shape[self.dim]))  # views, no copies

    def backward(self, *gys: Tensor) -> Tensor:
        """yᵢ = x[…, i, …] (the i-th slice along dim): gx = stack(gy₀, gy₁, …) along dim, zeros for unused slices.

        One Function for all slices, so the backward writes each gradient once; indexing x[i] slice by slice
        would scatter each into a zero array of x's full shape (quadratic in the number of slices).
        """
        return stack(gys, self.dim)


def unbind(x: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """All slices of ``x`` along ``dim``, with that dim removed (PyTorch's unbind): e.g. the time steps of a
    sequence."""
    x = as_tensor("unbind", x)
    d = normalize_dim("unbind", dim, x.ndim)
    if x.ndim == 0:
        raise IndexRangeError("unbind: a 0-d tensor has no dim to unbind; hint: reshape it to (1,) first")
    if x.shape[d] == 0:
        return ()
    out = Unbind(d)(x)
    return out if isinstance(out, tuple) else (out,)


def cat(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; all other dims must match."""
    xs = _tensor_list("cat", tensors)
    if xs[0].ndim == 0:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated; use stack to join them along a new dim")
    d = normalize_dim("cat", dim, xs[0].ndim)
    for i, x in enumerate(xs):
        if x.ndim != xs[0].ndim or x.shape[:d] + x.shape[d + 1 :] != xs[0].shape[:d] + xs[0].shape[d + 1 :]:
            raise ShapeError(
                f"cat: tensors[{i}] has shape {x.shape} but tensors[0] has {xs[0].shape}; all dims except "
                f"dim {dim} must match"
            )
    if len(xs) == 1:
        return xs[0]
    return Concatenate(d)(*xs)


concatenate = cat


def stack(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dim."""
    xs = _tensor_list("stack", tensors)
    for i, x in enumerate(xs):
        if x.shape != xs[0].shape:
            raise ShapeError(f"stack: tensors[{i}] has shape {x.shape} but tensors[0] has {xs[0].shape}")
    d = normalize_dim("stack", dim, xs[0].ndim + 1)
    return cat([unsqueeze(x, d) for x in xs], d)


def split(x: Any, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Cut ``x`` along ``dim`` into pieces of one size (the last may be smaller) or of the given sizes."""
    x = as_tensor("split", x)
    d = normalize_dim("split", dim, x.ndim)
    if x.ndim == 0:
        raise ShapeError("split: a 0-d tensor has no dim to split; hint: reshape it to (1,) first")
    n = x.shape[d]
    if _is_int(split_size_or_sections):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ArgumentError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) or [0]  # an empty dim: one empty piece
    else:
        sizes = list(int_tuple("split", "split_size_or_sections", split_size_or_sections))
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ShapeError(f"split: sections {sizes} must be ≥ 0 and sum to dim {dim}'s size {n} (shape {x.shape})")
    if not sizes:  # no sections (of an empty dim): no pieces
        return ()
    if len(sizes) <= 1:
        return (x,)
    return Split(sizes, d)(x)


# ----- padding -------------------------------------------------------------------------------------------


class Pad(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    def __init__(self, widths: tuple[tuple[int, int], ...], value: float) -> None:
        self.widths, self.value = widths, value

    def forward(self, x):
        self.inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(self.widths, x.shape))
        return backend.get_array_module(x).pad(x, self.widths, constant_values=self.value)

    def backward(self, gy: Tensor) -> Tensor:
        """Constant padding puts x inside a frame of constants: gx = gy[inner region] (the frame has no source)."""
        return getitem(gy, self.inner)


def pad(x: Any, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the last len(pad)/2 dims, PyTorch's layout: (left, right) of the last dim, then of the one before, ...

    ``mode``: 'constant' (with ``value``), or, as PyTorch's, 'reflect' (mirror without repeating the edge),
    'replicate' (repeat the edge) and 'circular' (wrap around). The non-constant modes are indexing along each
    padded dim, so their backward is indexing's: the gradients of the copies add up at their source.
    """
    x = as_tensor("pad", x)
    if not isinstance(pad, (tuple, list)):
        raise ArgumentTypeError(f"pad: argument 'pad' must be a tuple of ints (left, right, top, ...), got "
                                f"{describe(pad)}")
    pad = list(int_tuple("pad", "pad", pad))
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ShapeError(f"pad: expected an even number of pads, at most 2 per dim of shape {x.shape}; got {pad}")
    if any(p < 0 for p in pad):
        raise ArgumentError(f"pad: pads must be ≥ 0, got {pad}; hint: crop with indexing, x[..., a:b]")
    if not isinstance(mode, str) or (mode != "constant" and mode not in _PAD_INDEX):
        raise ArgumentError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    check_size("pad", "the result", [n + lo + hi for n, (lo, hi) in zip(x.shape, widths)], x.dtype)
    if not any(pad):
        if mode == "constant" and value is not None:
            check_number("pad", "value", value, nan=True)
        return x
    if mode == "constant":
        value = 0.0 if value is None else check_number("pad", "value", value, nan=True)
        if x.dtype.kind in "biu" and not math.isfinite(value):
            raise ArgumentError(f"pad: value {value} cannot fill a tensor of dtype {x.dtype}; hint: .float() first")
        return Pad(tuple(widths), value)(x)
    for axis, (lo, hi) in enumerate(widths):
        if lo or hi:
            n = x.shape[axis]
            limit = n - 1 if mode == "reflect" else n
            if max(lo, hi) > limit or (mode == "replicate" and n == 0):
                raise ShapeError(
                    f"pad: {mode} padding of ({lo}, {hi}) on dim {axis} needs pads ≤ {limit} for its size {n}"
                )
            source = _PAD_INDEX[mode](np.arange(-lo, n + hi), n)
            x = getitem(x, (slice(None),) * axis + (source,))
    return x


_PAD_INDEX = {  # padded position i ↦ the source position it copies, for a dim of size n
    "reflect": lambda i, n: np.abs((i + (n - 1)) % (2 * (n - 1)) - (n - 1)) if n > 1 else np.zeros_like(i),
    "replicate": lambda i, n: np.clip(i, 0, n - 1),
    "circular": lambda i, n: i % n,
}


# ----- indexing ------------------------------------------------------------------------------------------


def _normalize_index(index: Any) -> Any:
    """Tensors in an index become arrays, lists become integer or boolean arrays."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, Tensor):
            p = p._data
        elif isinstance(p, list):
            p = np.asarray(p)
        out.append(p)
    return tuple(out) if isinstance(index, tuple) else out[0]


def _is_basic(index: Any) -> bool:
    """Basic indexing (ints, slices, None, ...) selects each element at most once."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


class GetItem(Function):
    uses_inputs = False  # backward needs only shapes or what forward saved
    returns_views = True  # NumPy gives a view where it can: it shares x's version counter
    def __init__(self, index: Any) -> None:
        self.index = index

    def forward(self, x):
        self.x_shape = x.shape
        return x[self.index]

    def backward(self, gy: Tensor) -> Tensor:
        """y = x[index]: each selected element's gradient returns to where it came from, summed where an
        index repeats (scatter-add): gx = zeros(x.shape); gx[index] += gy."""
        return ScatterAdd(self.index, self.x_shape)(gy)


class ScatterAdd(Function):
    """zeros(shape) with ``g`` added at ``index``: the backward of indexing."""
    uses_inputs = False  # backward needs only shapes or what forward saved

    def __init__(self, index: Any, shape: tuple[int, ...]) -> None:
        self.index, self.shape = index, shape

    def forward(self, g):
        xp = backend.get_array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        if _is_basic(self.index):
            out[self.index] = g  # basic indexing never repeats an element
        else:
            xp.add.at(out, self.index, g)
        return out

    def backward(self, gout: Tensor) -> Tensor:
        """out = scatter_add(g): ∂out[index]/∂g = 1, so gg = gout[index] (indexing again)."""
        return GetItem(self.index)(gout)


def _check_masks(index: Any, shape: tuple[int, ...]) -> None:
    """Each boolean mask must have the shape of the dims it selects from (NumPy would stretch a mask over a dim
    of size 1, PyTorch refuses; so does chainrule)."""
    parts = index if isinstance(index, tuple) else (index,)
    if not any(backend.is_array(p) and p.dtype == bool and p.ndim for p in parts):
        return

    def width(p: Any) -> int:  # how many of x's dims an index part consumes
        if p is None or p is Ellipsis:
            return 0
        return p.ndim if backend.is_array(p) and p.dtype == bool else 1

    dim = 0
    for i, p in enumerate(parts):
        if p is Ellipsis:
            dim = len(shape) - sum(width(q) for q in parts[i + 1 :])
            continue
        if backend.is_array(p) and p.dtype == bool and p.ndim and dim + p.ndim > len(shape):
            return  # more indices than dims: NumPy's own message says so
        if backend.is_array(p) and p.dtype == bool and p.ndim and p.shape != tuple(shape[dim : dim + p.ndim]):
            raise IndexRangeError(
                f"getitem: index {index!r} is invalid for a tensor of shape {shape}: a boolean mask of shape "
                f"{p.shape} selects from dims {dim}..{dim + p.ndim - 1}, whose sizes are "
                f"{tuple(shape[dim : dim + p.ndim])}; the shapes must match"
            )
        dim += width(p)


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]`` with NumPy's rules: ints, slices, None, ..., integer arrays and boolean masks."""
    x = as_tensor("getitem", x)
    index = _normalize_index(index)
    _check_masks(index, x.shape)
    try:
        return GetItem(index)(x)
    except IndexError as e:
        raise IndexRangeError(f"getitem: index {index!r} is invalid for a tensor of shape {x.shape}: {e}") from None
    except (ValueError, TypeError) as e:  # a zero slice step; an index that is no index at all
        raise IndexRangeError(
            f"getitem: index {index!r} is invalid for a tensor of shape {x.shape}: {e}; hint: index with ints, "
            f"slices (step ≠ 0), None, ..., integer tensors or boolean masks"
        ) from None
