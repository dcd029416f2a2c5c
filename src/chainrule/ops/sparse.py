"""Integer-indexed ops: embedding lookups and one-hot encoding.

``embedding`` selects rows of a weight matrix: y[i…] = W[idx[i…]]. Its backward scatter-adds the gradient rows
back (a row looked up k times receives the sum of k gradients); the scatter is itself a Function whose
backward is the lookup again, so double backward works.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.autograd.saved import unlocked
from chainrule.errors import ArgumentError, DTypeError, ShapeError
from chainrule.ops.operands import as_tensor, check_index_range, check_int, check_number, check_size
from chainrule.tensor import Tensor

__all__ = ["embedding", "one_hot"]


def _xp(x: Any):
    return backend.get_array_module(x)


class Embedding(Function):
    """y = W[idx]: rows of the weight W (V, D) selected by integer indices idx of any shape S; y has shape S + (D,)."""
    uses_inputs = False  # backward needs only shapes or what forward saved
    holds = ("indices",)  # the caller's index array: backward scatters by it, so it stays read-only until then

    def __init__(self, indices: Any, padding_idx: int | None, scale_grad_by_freq: bool = False) -> None:
        self.indices, self.padding_idx, self.scale_grad_by_freq = indices, padding_idx, scale_grad_by_freq

    def forward(self, weight):
        self.num_rows = weight.shape[0]
        return weight[self.indices]

    def backward(self, gy: Tensor) -> Tensor:
        """y[s] = W[idx[s]] for every position s: ∂y[s]/∂W[v] = [idx[s] = v]·I, so gW[v] = Σ_{s: idx[s]=v} gy[s].

        gW = scatter-add of gy's rows (S + (D,)) into zeros (V, D); the padding_idx row gets no gradient. With
        ``scale_grad_by_freq`` each row's sum is divided by the number of times the batch looked it up (not a
        gradient of y: a rescaling PyTorch offers, so that frequent words do not dominate).
        """
        return EmbeddingScatter(self.indices, self.num_rows, self.padding_idx, self.scale_grad_by_freq)(gy)


class EmbeddingScatter(Function):
    """out = zeros(V, D) with g[s] added to row idx[s] for every s (except rows equal to padding_idx)."""
    uses_inputs = False  # backward needs only shapes or what forward saved

    def __init__(self, indices: Any, num_rows: int, padding_idx: int | None, scale_by_freq: bool = False) -> None:
        self.indices, self.num_rows, self.padding_idx = indices, num_rows, padding_idx
        self.scale_by_freq = scale_by_freq

    def _counts(self, xp: Any, dtype: Any) -> Any:
        """(V, 1): how many times each row was looked up (1 for rows never looked up: their sums are 0 anyway)."""
        counts = xp.bincount(self.indices.reshape(-1), minlength=self.num_rows).astype(dtype)
        return xp.maximum(counts, 1)[:, None]

    def forward(self, g):
        xp = _xp(g)
        out = xp.zeros((self.num_rows, g.shape[-1]), dtype=g.dtype)
        xp.add.at(out, self.indices.reshape(-1), g.reshape(self.indices.size, g.shape[-1]))
        if self.scale_by_freq:
            out /= self._counts(xp, g.dtype)
        if self.padding_idx is not None:
            out[self.padding_idx] = 0
        return out

    def backward(self, gout: Tensor) -> Tensor:
        """out[v] = Σ_{s: idx[s]=v, v≠pad} g[s] (/ count(v)) is linear in g: gg[s] = gout[idx[s]] (/ count(idx[s])),
        or 0 where idx[s] = pad.

        Shapes: gout (V, D) → gg S + (D,): the lookup again, masked at the padding positions.
        """
        if self.scale_by_freq:
            gout = gout / Tensor(self._counts(_xp(gout._data), gout.dtype))
        gg = Embedding(self.indices, None)(gout)
        if self.padding_idx is None:
            return gg
        keep = (self.indices != self.padding_idx)[..., None].astype(gout.dtype)
        return gg * Tensor(keep)


def _index_tensor(op: str, x: Any, name: str) -> Tensor:
    x = as_tensor(op, x, name)
    if x.dtype.kind not in "iu":
        raise DTypeError(f"{op}: argument '{name}' must hold integer indices, got dtype {x.dtype}; hint: .long()")
    return x


def embedding(
    input: Any,  # noqa: A002 - PyTorch's name
    weight: Any,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` (V, D) at the integer indices ``input`` (any shape S): output S + (D,).

    ``padding_idx`` (negative counts from the end): that row receives no gradient, so it stays as it is
    during training (typically zeros, for padding tokens). ``max_norm``: first, each row the input looks up whose
    ``norm_type``-norm exceeds max_norm is rescaled in place to norm max_norm (PyTorch's ``embedding_renorm_``:
    W[v] ← W[v]·max_norm/(‖W[v]‖ + 1e-7), outside autograd). ``scale_grad_by_freq``: each row's gradient is divided by
    how often the batch looked it up. ``sparse=True`` (sparse gradients) is refused: chainrule's gradients are dense.
    """
    op = "embedding"
    idx = _index_tensor(op, input, "input")
    w = as_tensor(op, weight, "weight")
    if w.ndim != 2:
        raise ShapeError(f"{op}: argument 'weight' must be a matrix (num_embeddings, embedding_dim), got {w.shape}")
    rows = w.shape[0]
    if padding_idx is not None:
        padding_idx = check_int(op, "padding_idx", padding_idx)
        if not -rows <= padding_idx < rows:
            raise ArgumentError(f"embedding: padding_idx {padding_idx} must lie in [{-rows}, {rows}) for {rows} rows")
        padding_idx = padding_idx % rows
    check_index_range(op, "input", idx._data, 0, rows, f"; the weight has {rows} rows (num_embeddings)")
    if sparse:
        raise ArgumentError(f"{op}: sparse=True (sparse gradients) is not supported: chainrule's gradients are dense "
                            f"arrays; pass sparse=False (the optimizers give the same updates)")
    if max_norm is not None:
        _renorm_rows(op, w, idx._data, max_norm, norm_type)
    return Embedding(idx._data, padding_idx, bool(scale_grad_by_freq))(w)


def _renorm_rows(op: str, w: Tensor, indices: Any, max_norm: float, norm_type: float) -> None:
    """W[v] ← W[v]·max_norm/(‖W[v]‖_p + 1e-7) for each row v in ``indices`` whose p-norm exceeds max_norm, in place
    and outside autograd (the weight's version changes, as after an optimizer step)."""
    max_norm = check_number(op, "max_norm", max_norm, 0.0, finite=True)
    norm_type = check_number(op, "norm_type", norm_type, 0.0, low_open=True)
    xp = _xp(w._data)
    rows = xp.unique(indices.reshape(-1))
    selected = w._data[rows]
    norms = xp.linalg.norm(selected, ord=norm_type, axis=1) if norm_type != 2 else xp.sqrt((selected * selected).sum(1))
    over = norms > max_norm
    if not over.any():
        return
    scale = (w.dtype.type(max_norm) / (norms[over] + w.dtype.type(1e-7))).astype(w.dtype)
    with unlocked(op, w._data):
        w._data[rows[over]] = selected[over] * scale[:, None]
    w.bump_version()


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape tensor.shape + (num_classes,) with a 1 at each index; ``num_classes=-1`` takes
    max(tensor) + 1. Not differentiable (integer output)."""
    op = "one_hot"
    t = _index_tensor(op, tensor, "tensor")
    xp = _xp(t._data)
    num_classes = check_int(op, "num_classes", num_classes)
    if num_classes == -1:
        if t.numel() == 0:
            raise ArgumentError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
        num_classes = int(t._data.max()) + 1
    elif num_classes <= 0:
        raise ArgumentError(f"one_hot: num_classes must be positive or -1 (infer), got {num_classes}")
    check_index_range(op, "tensor", t._data, 0, num_classes)
    check_size(op, "the result", t.shape + (num_classes,), np.int64)
    out = xp.zeros((t.numel(), num_classes), dtype=np.int64)  # memory for the result only
    out[xp.arange(t.numel()), t._data.reshape(-1)] = 1
    return Tensor(out.reshape(t.shape + (num_classes,)))
