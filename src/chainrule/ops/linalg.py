"""Matrix multiplication, batched, with NumPy's 1-D rules. Derivation: docs/linalg.md.

For matrices, Y = A·B with A (n, k), B (k, m), Y (n, m) and upstream G = ∂L/∂Y (n, m):
    ∂L/∂A = G·Bᵀ  (n, k)        ∂L/∂B = Aᵀ·G  (k, m)
Leading (batch) dims broadcast; their gradients are summed back by the Function base class. A 1-D A is a
row (1, k) and a 1-D B a column (k, 1) whose added dim is removed from the result, as in NumPy.
"""

from __future__ import annotations

import math
from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.dtypes import result_dtype
from chainrule.errors import DTypeError, ShapeError
from chainrule.ops.operands import as_tensor, broadcast_shape
from chainrule.tensor import Tensor

__all__ = ["bmm", "linear", "matmul", "mm"]


class MatMul(Function):
    broadcasts = True

    def forward(self, a, b):
        return backend.get_array_module(a).matmul(a, b)

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """Y = A·B: gA = G·Bᵀ, gB = Aᵀ·G, after promoting 1-D operands to a row / column.

        Shapes (batch dims ... broadcast): A (..., n, k), B (..., k, m), G (..., n, m);
        gA (..., n, k), gB (..., k, m), then the promoted dim is squeezed away again.
        """
        a, b = self.inputs
        a2 = a.unsqueeze(0) if a.ndim == 1 else a  # (k,) → (1, k)
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b  # (k,) → (k, 1)
        g = gy  # restore the promoted dims: column first, so a 0-d G (vector·vector) becomes (1, 1)
        if b.ndim == 1:
            g = g.unsqueeze(-1)
        if a.ndim == 1:
            g = g.unsqueeze(-2)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = matmul(g, b2.mT)
            ga = ga.squeeze(-2) if a.ndim == 1 else ga
        if self.needs_input_grad[1]:
            gb = matmul(a2.mT, g)
            gb = gb.squeeze(-1) if b.ndim == 1 else gb
        return ga, gb


def _common_dtype(op: str, *xs: Tensor) -> list[Tensor]:
    """The operands in one dtype: an integer operand takes the float operand's dtype (as in binary ops; PyTorch
    would refuse), two float dtypes may not mix, and bool is refused (a product of booleans is no boolean)."""
    kinds = {x.dtype for x in xs}
    if any(d.kind == "b" for d in kinds):
        raise DTypeError(f"{op}: not defined for bool tensors (dtypes {', '.join(sorted(map(str, kinds)))}); hint: "
                         f"cast with .float() or .long()")
    if len(kinds) == 1:
        return list(xs)
    dtype = result_dtype(op, *kinds)
    return [x if x.dtype == dtype else x.to(dtype) for x in xs]


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules: batched over leading dims, 1-D operands as vectors."""
    a, b = as_tensor("matmul", a, "a"), as_tensor("matmul", b, "b")
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"matmul: both arguments need at least 1 dim, got shapes {a.shape} and {b.shape}; use * for scalars"
        )
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ShapeError(
            f"matmul: shapes {a.shape} and {b.shape} do not chain: a's last dim ({k_a}) must equal b's "
            f"{'only' if b.ndim == 1 else 'second-to-last'} dim ({k_b})"
        )
    if a.ndim > 2 and b.ndim > 2:
        try:
            broadcast_shape("matmul", a.shape[:-2], b.shape[:-2])
        except ShapeError:
            raise ShapeError(
                f"matmul: shapes {a.shape} and {b.shape} do not broadcast in their batch dims {a.shape[:-2]} and "
                f"{b.shape[:-2]}; batch dims align from the right and each pair of sizes must be equal or one of "
                f"them 1"
            ) from None
    a, b = _common_dtype("matmul", a, b)
    return MatMul()(a, b)


def mm(input: Any, mat2: Any) -> Tensor:  # noqa: A002 - PyTorch's names
    """The product of two matrices, (n, k) @ (k, m) → (n, m); no broadcasting (``matmul`` broadcasts)."""
    a, b = as_tensor("mm", input, "input"), as_tensor("mm", mat2, "mat2")
    if a.ndim != 2 or b.ndim != 2:
        raise ShapeError(f"mm: both arguments must be 2-d matrices, got shapes {a.shape} and {b.shape}; hint: "
                         f"cr.matmul handles vectors and batches")
    if a.shape[1] != b.shape[0]:
        raise ShapeError(f"mm: shapes {a.shape} and {b.shape} cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                         f"{b.shape[0]}x{b.shape[1]}): input's columns must equal mat2's rows")
    return MatMul()(*_common_dtype("mm", a, b))


def bmm(input: Any, mat2: Any) -> Tensor:  # noqa: A002 - PyTorch's names
    """A batch of matrix products, (B, n, k) @ (B, k, m) → (B, n, m); no broadcasting (``matmul`` broadcasts)."""
    a, b = as_tensor("bmm", input, "input"), as_tensor("bmm", mat2, "mat2")
    if a.ndim != 3 or b.ndim != 3:
        raise ShapeError(f"bmm: both arguments must be 3-d batches of matrices, got shapes {a.shape} and {b.shape}; "
                         f"hint: cr.matmul broadcasts other shapes")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ShapeError(f"bmm: shapes {a.shape} and {b.shape} do not match: the batch sizes must be equal and "
                         f"input's last dim ({a.shape[2]}) must equal mat2's middle dim ({b.shape[1]})")
    return MatMul()(*_common_dtype("bmm", a, b))


class Linear(Function):
    """The affine layer q = x·Wᵀ + b over the last dim of x (PyTorch's layout: W is (out, in))."""

    def forward(self, x, w, b=None):
        # the leading dims flattened into rows: one 2-D GEMM (a 3-D @ 2-D matmul runs one small GEMM per slice)
        y = x.reshape(math.prod(x.shape[:-1]), x.shape[-1]) @ w.T
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, gq: Tensor) -> tuple[Tensor | None, ...]:
        """See ``_linear_grads``."""
        grads = _linear_grads(gq, self.inputs[0], self.inputs[1], self._needs())
        return grads if len(self.inputs) == 3 else grads[:2]

    def fast_backward(self, gq: Any) -> tuple[Any, ...]:
        """``_linear_grads`` on the arrays: it skips the Tensor ops' checks and graph bookkeeping, which cost as
        much as the three small GEMMs themselves."""
        grads = _linear_grads(gq, self.inputs[0]._data, self.inputs[1]._data, self._needs())
        return grads if len(self.inputs) == 3 else grads[:2]

    def _needs(self) -> tuple[bool, bool, bool]:
        """needs_input_grad for (x, W, b), False for an absent bias."""
        need = self.needs_input_grad + (False,) * (3 - len(self.inputs))
        return need[0], need[1], need[2]


def _linear_grads(gq: Any, x: Any, w: Any, need: tuple[bool, ...]) -> tuple[Any, Any, Any]:
    """q = x·Wᵀ + b with x (..., in), W (out, in), b (out,), G = ∂L/∂q (..., out):

    ∂L/∂x = G·W           (..., in)
    ∂L/∂W = Gᵀ·x          (out, in), over the batch rows flattened to (N, ·)
    ∂L/∂b = Σ_rows G      (out,)
    Each is one matrix product (or sum): the Jacobian ∂q/∂x is never formed. Written once for Tensors (a
    differentiable backward) and arrays.
    """
    rows = math.prod(gq.shape[:-1])  # not −1: a batch of no rows (or rows of no features) is legal
    g2 = gq.reshape(rows, gq.shape[-1])
    gx = g2 @ w if need[0] else None
    if gx is not None and gx.ndim != x.ndim:
        gx = gx.reshape(x.shape)  # only when needed: a reshaped view of a leaf's gradient would be copied
    gw = g2.T @ x.reshape(rows, x.shape[-1]) if need[1] else None
    gb = g2.sum(0) if need[2] else None
    return gx, gw, gb


def linear(input: Any, weight: Any, bias: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """x·Wᵀ + b over the last dim of ``input``: input (..., in), weight (out, in), bias (out,) or None."""
    x, w = as_tensor("linear", input, "input"), as_tensor("linear", weight, "weight")
    if w.ndim != 2:
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features), got shape {w.shape}")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ShapeError(
            f"linear: input's last dim must equal weight's in_features: input {x.shape}, weight {w.shape} "
            f"(expected input (..., {w.shape[1]}))"
        )
    if bias is None:
        return Linear()(*_common_dtype("linear", x, w))
    b = as_tensor("linear", bias, "bias")
    if b.shape != (w.shape[0],):
        raise ShapeError(f"linear: bias must have shape ({w.shape[0]},) to match weight {w.shape}, got {b.shape}")
    return Linear()(*_common_dtype("linear", x, w, b))
