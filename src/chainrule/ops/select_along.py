"""Selecting positions along one dim with a fixed index, and its adjoint: the gathers of ``interpolate`` and of
adaptive max pooling. Derivation: docs/shape.md ("pixel_shuffle, …; interpolate").

y = IndexSelect(x) takes y[…, o, …] = x[…, idx[o], …] along ``dim`` (idx fixed: m positions into a dim of size
n). Its adjoint is ScatterAdd: gx[…, i, …] = Σ_{o: idx[o] = i} gy[…, o, …], which is gx = gy·S along that dim
with S (m, n) the one-hot matrix S[o, i] = [idx[o] = i]. Each is the other's backward, so derivatives of any
order follow.

Why a Function of its own: indexing's backward scatters with ``np.add.at``, which along an inner dim runs
element by element (≈ 40 ms for the gradient of a ×2 upsampling of 8×64×32×32 floats); the same sums as one
GEMM against S take ≈ 2 ms. The GEMM is used where S is small (n ≤ 256: every spatial size met in practice) and
gy is finite (a non-finite gy would spread 0·inf = NaN over S's zeros); otherwise the scatter adds in index
order, as ``np.add.at`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.tensor import Tensor

__all__: list[str] = []

GEMM_MAX_SIZE = 256  # the largest target dim for which the one-hot GEMM beats the scatter


def _scatter(g: Any, dim: int, index: np.ndarray, size: int) -> Any:
    """zeros with ``size`` at ``dim``, gy's slices added at ``index`` along ``dim``."""
    xp = backend.get_array_module(g)
    if size <= GEMM_MAX_SIZE and bool(xp.isfinite(g).all()):
        onehot = np.zeros((len(index), size), dtype=g.dtype)
        onehot[np.arange(len(index)), index] = 1
        moved = xp.moveaxis(g, dim, -1)
        return xp.ascontiguousarray(xp.moveaxis(moved @ xp.asarray(onehot), -1, dim))
    shape = g.shape[:dim] + (size,) + g.shape[dim + 1:]
    out = xp.zeros(shape, dtype=g.dtype)
    xp.add.at(out, (slice(None),) * dim + (xp.asarray(index),), g)
    return out


class IndexSelect(Function):
    """y = x[…, idx, …] along ``dim``: y[…, o, …] = x[…, idx[o], …], idx a fixed 1-D int64 array."""
    uses_inputs = False  # backward needs only shapes or what forward saved

    def __init__(self, dim: int, index: np.ndarray, size: int) -> None:
        self.dim, self.index, self.size = dim, index, size

    def forward(self, x):
        xp = backend.get_array_module(x)
        return xp.take(x, xp.asarray(self.index), axis=self.dim)

    def backward(self, gy: Tensor) -> Tensor:
        """y[o] = x[idx[o]] (along ``dim``): ∂y[o]/∂x[i] = [idx[o] = i], so gx[i] = Σ_{o: idx[o] = i} gy[o] —
        gy scattered back and summed where positions repeat, gx = gy·S with S[o, i] = [idx[o] = i].

        Shapes: gy has m = len(idx) at ``dim``, gx has x's size n there; the other dims are shared. The scatter
        is linear in gy, and its own backward is this selection again, so second derivatives are exact.
        """
        return ScatterAdd(self.dim, self.index, self.size)(gy)

    def fast_backward(self, gy: Any) -> Any:
        """The same scatter on the array (no node for a graph nobody records)."""
        return _scatter(gy, self.dim, self.index, self.size)


class ScatterAdd(Function):
    """out = zeros (size n at ``dim``) with g[…, o, …] added at out[…, idx[o], …]: IndexSelect's adjoint."""
    uses_inputs = False  # backward needs only shapes or what forward saved

    def __init__(self, dim: int, index: np.ndarray, size: int) -> None:
        self.dim, self.index, self.size = dim, index, size

    def forward(self, g):
        return _scatter(g, self.dim, self.index, self.size)

    def backward(self, gout: Tensor) -> Tensor:
        """out[i] = Σ_{o: idx[o] = i} g[o] is linear in g with ∂out[i]/∂g[o] = [idx[o] = i]: gg[o] = gout[idx[o]],
        the selection again. Shapes: gout has n at ``dim``, gg has m = len(idx)."""
        return IndexSelect(self.dim, self.index, self.size)(gout)

    def fast_backward(self, gout: Any) -> Any:
        xp = backend.get_array_module(gout)
        return xp.take(gout, xp.asarray(self.index), axis=self.dim)


def select_along(x: Tensor, dim: int, index: np.ndarray) -> Tensor:
    """x's positions ``index`` (any shape of int64, all in range) along ``dim``; the index's dims replace dim."""
    index = np.asarray(index, dtype=np.int64)
    y = IndexSelect(dim, index.reshape(-1), x.shape[dim])(x)
    if index.ndim == 1:
        return y
    return y.reshape(x.shape[:dim] + index.shape + x.shape[dim + 1:])
