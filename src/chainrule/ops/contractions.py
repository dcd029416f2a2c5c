"""Products that contract dims: dot, outer, mv, tensordot, trace, diag and einsum. Derivations: docs/linalg.md
("Contractions").

Notation (docs/notation.md): gy = ∂L/∂y has y's shape. dot, mv and tensordot are matrix products (``MatMul``,
whose backward is G·Bᵀ and Aᵀ·G), outer a broadcast product; trace and diag move diagonals. einsum's backward
is itself an einsum: the gradient of one operand is the contraction of gy with all the *other* operands, written
to that operand's subscripts.
"""

from __future__ import annotations

import builtins
import math
import string
from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from chainrule.ops.elementwise import mul
from chainrule.ops.linalg import MatMul, _common_dtype
from chainrule.ops.operands import (
    _is_int,
    as_tensor,
    check_int,
    check_size,
    describe,
    normalize_dim,
    same_dtype,
)
from chainrule.ops.reduce import sum as _sum
from chainrule.ops.shape import broadcast_to, permute
from chainrule.tensor import Tensor

__all__ = ["diag", "dot", "einsum", "mv", "outer", "tensordot", "trace"]


def _xp(x: Any):
    return backend.get_array_module(x)


def _no_bool(op: str, *xs: Tensor) -> None:
    for x in xs:
        if x.dtype.kind == "b":
            raise DTypeError(f"{op}: not defined for bool tensors; hint: cast with .float() or .long()")


def _vector(op: str, x: Any, name: str) -> Tensor:
    t = as_tensor(op, x, name)
    if t.ndim != 1:
        raise ShapeError(f"{op}: argument '{name}' must be 1-D, got shape {t.shape}")
    return t


def dot(input: Any, tensor: Any) -> Tensor:  # noqa: A002 - PyTorch's names
    """The inner product Σᵢ aᵢbᵢ of two 1-D tensors of one size and one dtype (as PyTorch): a 0-d tensor."""
    a, b = _vector("dot", input, "input"), _vector("dot", tensor, "tensor")
    same_dtype("dot", a, b, "tensor")
    _no_bool("dot", a)
    if a.shape != b.shape:
        raise ShapeError(f"dot: both vectors must have one size, got {a.shape[0]} and {b.shape[0]} elements")
    return MatMul()(a, b)


def outer(input: Any, vec2: Any) -> Tensor:  # noqa: A002 - PyTorch's names
    """The outer product yᵢⱼ = aᵢ·bⱼ of two 1-D tensors: a[:, None] * b[None, :] (its gradients are the row
    and column sums of gy weighted by the other vector)."""
    a, b = _common_dtype("outer", _vector("outer", input, "input"), _vector("outer", vec2, "vec2"))
    return mul(a.unsqueeze(1), b.unsqueeze(0))


def mv(input: Any, vec: Any) -> Tensor:  # noqa: A002 - PyTorch's names
    """The product of a matrix (n, m) and a vector (m,): a vector (n,). One dtype, as PyTorch."""
    a, v = as_tensor("mv", input, "input"), _vector("mv", vec, "vec")
    if a.ndim != 2:
        raise ShapeError(f"mv: argument 'input' must be a 2-D matrix, got shape {a.shape}; hint: cr.matmul "
                         f"broadcasts batches")
    if a.shape[1] != v.shape[0]:
        raise ShapeError(f"mv: input {a.shape} and vec {v.shape} do not chain: input's columns ({a.shape[1]}) must "
                         f"equal vec's size ({v.shape[0]})")
    same_dtype("mv", a, v, "vec")
    _no_bool("mv", a)
    return MatMul()(a, v)


def tensordot(a: Any, b: Any, dims: Any = 2) -> Tensor:
    """Σ over the paired dims of ``a`` and ``b``: ``dims`` an int k (a's last k with b's first k) or two lists
    (a's dims, b's dims). The free dims of a, then of b, make the result. It is one matrix product of the two
    operands permuted and reshaped to (free, contracted) and (contracted, free)."""
    a, b = as_tensor("tensordot", a, "a"), as_tensor("tensordot", b, "b")
    if _is_int(dims):
        k = check_int("tensordot", "dims", dims, 0)
        if k > min(a.ndim, b.ndim):
            raise ShapeError(f"tensordot: dims={k} is more than the dims of a {a.shape} or b {b.shape}")
        da, db = list(range(a.ndim - k, a.ndim)), list(range(k))
    elif isinstance(dims, (list, tuple)) and len(dims) == 2:
        da = [_dim("tensordot", d, a.ndim) for d in _ints("tensordot", dims[0])]
        db = [_dim("tensordot", d, b.ndim) for d in _ints("tensordot", dims[1])]
        if len(da) != len(db):
            raise ArgumentError(f"tensordot: both lists of dims must have one length, got {len(da)} and {len(db)}")
    else:
        raise ArgumentTypeError(f"tensordot: argument 'dims' must be an int or a pair of lists of dims, got "
                                f"{describe(dims)}")
    if len(set(da)) != len(da) or len(set(db)) != len(db):
        raise ArgumentError(f"tensordot: a dim is named twice in {dims!r}")
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ShapeError(f"tensordot: contracted dims differ in size: a's dim {i} has {a.shape[i]} and b's dim "
                             f"{j} has {b.shape[j]} (shapes {a.shape} and {b.shape})")
    same_dtype("tensordot", a, b, "b", "a")  # as PyTorch: one dtype
    _no_bool("tensordot", a)
    free_a = [i for i in range(a.ndim) if i not in da]
    free_b = [j for j in range(b.ndim) if j not in db]
    size = math.prod(a.shape[i] for i in da)
    rows, cols = math.prod(a.shape[i] for i in free_a), math.prod(b.shape[j] for j in free_b)
    a2 = (permute(a, tuple(free_a + da)) if a.ndim else a).reshape(rows, size)  # sizes spelled out: one may be 0
    b2 = (permute(b, tuple(db + free_b)) if b.ndim else b).reshape(size, cols)
    y = MatMul()(a2, b2)
    return y.reshape(tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b))


def _ints(op: str, value: Any) -> list[Any]:
    if _is_int(value):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise ArgumentTypeError(f"{op}: argument 'dims' must be an int or a pair of lists of dims, got {describe(value)}")


def _dim(op: str, d: Any, ndim: int) -> int:
    if not _is_int(d):
        raise ArgumentTypeError(f"{op}: argument 'dims' must hold ints, got {describe(d)}")
    return normalize_dim(op, d, ndim)


class Diag(Function):
    """A vector placed on diagonal ``k`` of a square matrix, or diagonal ``k`` of a matrix taken as a vector."""

    uses_inputs = False  # backward needs only shapes

    def __init__(self, k: int, shape: tuple[int, int] | None = None) -> None:
        self.k, self.shape = k, shape  # shape: the matrix to build (backward of taking a diagonal)

    def forward(self, x):
        self.x_shape = x.shape
        xp = _xp(x)
        if x.ndim == 2:
            return xp.diagonal(x, self.k).copy()
        n = x.shape[0] + abs(self.k)
        shape = self.shape or (n, n)
        y = xp.zeros(shape, dtype=x.dtype)
        rows = xp.arange(x.shape[0]) + max(-self.k, 0)
        y[rows, rows + self.k] = x
        return y

    def backward(self, gy: Tensor) -> Tensor:
        """Both directions only move elements: building (vector v → matrix Y with Y[i, i+k] = vᵢ) has
        gv = diagonal k of G; taking (matrix X → vᵢ = X[i, i+k]) has gX = gv placed on diagonal k of zeros of
        X's shape."""
        if len(self.x_shape) == 1:
            return Diag(self.k)(gy)
        return Diag(self.k, self.x_shape)(gy)


def diag(input: Any, diagonal: int = 0) -> Tensor:  # noqa: A002 - PyTorch's names
    """For a 1-D input, the square matrix with it on diagonal ``diagonal`` (0: the main one, > 0 above, < 0
    below); for a 2-D input, that diagonal as a 1-D tensor."""
    x = as_tensor("diag", input)
    k = check_int("diag", "diagonal", diagonal)
    if x.ndim not in (1, 2):
        raise ShapeError(f"diag: argument 'input' must be 1-D or 2-D, got shape {x.shape}; hint: for batches of "
                         f"matrices use cr.einsum('...ii->...i', x)")
    if x.ndim == 1:  # a (n + |k|)² matrix: refused before allocating when it cannot fit
        check_size("diag", "the result", (x.shape[0] + abs(k),) * 2, x.dtype)
    elif abs(k) > builtins.max(x.shape):  # past the corner every diagonal is empty; NumPy's int offset is C's
        k = builtins.max(x.shape) * (1 if k > 0 else -1)
    return Diag(k)(x)


def trace(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """The sum of the main diagonal of a 2-D tensor (int64 for integer input, as PyTorch)."""
    x = as_tensor("trace", input)
    if x.ndim != 2:
        raise ShapeError(f"trace: argument 'input' must be a 2-D matrix, got shape {x.shape}")
    _no_bool("trace", x)
    if x.dtype.kind in "iu":
        x = x.long()
    return _sum(Diag(0)(x))


# ----- einsum -----------------------------------------------------------------------------------------------

LETTERS = string.ascii_letters


class Einsum(Function):
    """NumPy's einsum for an explicit equation without ellipsis ('ij,jk->ik'); the public ``einsum`` parses
    implicit outputs and '...' into this form."""

    broadcasts = True  # a letter of size 1 in one operand broadcasts against the others; its gradient is summed

    def __init__(self, inputs: list[str], output: str) -> None:
        self.subscripts, self.out = inputs, output

    def forward(self, *xs):
        xp = _xp(xs[0])
        y = xp.einsum(",".join(self.subscripts) + "->" + self.out, *xs, optimize=True)
        y = xp.asarray(y, dtype=xs[0].dtype)
        return y.copy() if any(xp.may_share_memory(y, x) for x in xs) else y  # 'ii->i' is a view of the input

    def backward(self, gy: Tensor) -> tuple[Tensor | None, ...]:
        """y = einsum(s₁,…,sₙ → o): operand i's gradient is the contraction of gy (subscripts o) with every
        other operand, written to sᵢ: gxᵢ = einsum(o, s₁…(without sᵢ)…sₙ → sᵢ)(gy, x₁…(without xᵢ)…xₙ).

        Two cases need one more constant factor each. A letter repeated in sᵢ ('ii', a diagonal) gets a fresh
        letter for each repeat and an identity matrix joining it to the first: the gradient lands on the
        diagonal only. A letter of sᵢ that appears nowhere else (summed out of xᵢ alone) gets a vector of ones:
        the gradient is gy broadcast along it."""
        sizes: dict[str, int] = {}
        for subs, x in zip(self.subscripts, self.inputs):
            for letter, n in zip(subs, x.shape):
                sizes[letter] = n if sizes.get(letter, 1) == 1 else sizes[letter]  # a size 1 broadcasts (to 0 too)
        grads: list[Tensor | None] = []
        for i, (subs, x) in enumerate(zip(self.subscripts, self.inputs)):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            operands = [gy] + [v for j, v in enumerate(self.inputs) if j != i]
            terms = [self.out] + [s for j, s in enumerate(self.subscripts) if j != i]
            used = set("".join(self.subscripts) + self.out)
            fresh = (c for c in LETTERS if c not in used)
            target, seen = [], set()
            xp = _xp(x._data)
            for letter in subs:
                if letter in seen:  # a repeat: a fresh letter, tied to the first by an identity matrix
                    new = next(fresh)
                    operands.append(Tensor(xp.eye(sizes[letter], dtype=x.dtype)))
                    terms.append(letter + new)
                    target.append(new)
                else:
                    seen.add(letter)
                    target.append(letter)
            present = set("".join(terms))
            for letter in seen - present:  # summed out of xᵢ alone: gy broadcast along it
                operands.append(Tensor(xp.ones(sizes[letter], dtype=x.dtype)))
                terms.append(letter)
            g = Einsum(terms, "".join(target))(*operands)
            # a dim of xᵢ that only size-1 dims of the others meet comes back as 1: xᵢ's elements share it
            wide = tuple(n if m == 1 else m for m, n in zip(g.shape, x.shape))
            grads.append(g if wide == g.shape else broadcast_to(g, wide))
        return tuple(grads)


def _parse(equation: str, ndims: list[int]) -> tuple[list[str], str]:
    """An einsum equation as (input subscripts, output subscripts) in letters only: spaces dropped, '...'
    replaced by letters for the broadcast dims (aligned from the right, as NumPy), an implicit output made
    explicit (the letters used once, in alphabetical order, after the broadcast dims)."""
    eq = equation.replace(" ", "")
    if eq.count("->") > 1:
        raise ArgumentError(f"einsum: equation {equation!r} has more than one '->'")
    lhs, arrow, rhs = eq.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(ndims):
        raise ArgumentError(f"einsum: equation {equation!r} has {len(inputs)} operand(s) but {len(ndims)} tensor(s) "
                            f"were given")
    used = set(c for c in eq if c in LETTERS)
    spare = [c for c in reversed(LETTERS) if c not in used]  # letters for the '...' dims, from Z down
    for part in inputs + ([rhs] if arrow else []):
        rest = part.replace("...", "", 1)
        bad = [c for c in rest if c not in LETTERS]
        if bad or "..." in rest:
            raise ArgumentError(f"einsum: equation {equation!r} has an invalid subscript {bad[0] if bad else '...'!r}; "
                                f"subscripts are letters a-z, A-Z and one '...' per operand")
    ellipsis_dims = 0
    for part, n in zip(inputs, ndims):
        letters = len(part.replace("...", ""))
        if "..." in part:
            if letters > n:
                raise ShapeError(f"einsum: operand subscripts {part!r} name {letters} dims but the tensor has {n}")
            ellipsis_dims = max(ellipsis_dims, n - letters)
        elif letters != n:
            raise ShapeError(f"einsum: operand subscripts {part!r} name {letters} dims but the tensor has {n}; "
                             f"hint: use '...' for the dims you do not name")
    if ellipsis_dims > len(spare):
        raise ArgumentError(f"einsum: equation {equation!r} uses too many letters")
    broadcast = "".join(spare[:ellipsis_dims][::-1])
    parsed = []
    for part, n in zip(inputs, ndims):
        if "..." in part:
            k = n - len(part.replace("...", ""))
            part = part.replace("...", broadcast[len(broadcast) - k:] if k else "")
        parsed.append(part)
    if arrow:
        out = rhs.replace("...", broadcast)  # without '...' in the output, the broadcast dims are summed out
        for c in out:
            if out.count(c) > 1:
                raise ArgumentError(f"einsum: output subscript {c!r} appears more than once in {equation!r}")
            if not any(c in p for p in parsed):
                raise ArgumentError(f"einsum: output subscript {c!r} in {equation!r} does not appear in any operand")
    else:
        counts: dict[str, int] = {}
        for p in parsed:
            for c in p:
                counts[c] = counts.get(c, 0) + 1
        out = broadcast + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in broadcast))
    return parsed, out


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, as PyTorch's: ``einsum('ij,jk->ik', a, b)`` (the operands may also come as one list).
    Supported: an explicit output ('->') or the implicit one (letters used once, in alphabetical order),
    repeated letters in one operand (a diagonal: 'ii->i', a trace: 'ii'), batch letters kept in the output,
    and '...' for broadcast dims. The operands must have one dtype, as PyTorch. The backward of each operand is
    itself an einsum of gy with the other operands."""
    if not isinstance(equation, str):
        raise ArgumentTypeError(f"einsum: argument 'equation' must be a string such as 'ij,jk->ik', got "
                                f"{describe(equation)}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ArgumentError("einsum: at least one operand is needed")
    xs = [as_tensor("einsum", x, f"operands[{i}]") for i, x in enumerate(operands)]
    for i, x in enumerate(xs[1:], 1):
        same_dtype("einsum", xs[0], x, f"operands[{i}]", "operands[0]")
    inputs, out = _parse(equation, [x.ndim for x in xs])
    sizes: dict[str, int] = {}
    for subs, x in zip(inputs, xs):
        for letter, n in zip(subs, x.shape):
            if letter in sizes and n != sizes[letter] and 1 not in (n, sizes[letter]):
                raise ShapeError(f"einsum: subscript {letter!r} has size {sizes[letter]} in one place and {n} in "
                                 f"another (equation {equation!r}, shapes {', '.join(str(x.shape) for x in xs)})")
            sizes[letter] = n if letter not in sizes or sizes[letter] == 1 else sizes[letter]
    for subs, x in zip(inputs, xs):  # a letter repeated within one operand (a diagonal) must have one size
        for letter in set(subs):
            ns = {n for c, n in zip(subs, x.shape) if c == letter}
            if len(ns) > 1:
                raise ShapeError(f"einsum: subscript {letter!r} is repeated in {subs!r} over dims of different "
                                 f"sizes {sorted(ns)} (shape {x.shape}); a diagonal needs equal sizes")
    if xs[0].dtype.kind == "b":
        xs = [x.long() for x in xs]  # NumPy's einsum of bools is a logical one; PyTorch's counts
        return Tensor(Einsum(inputs, out)(*xs)._data != 0)
    return Einsum(inputs, out)(*xs)
