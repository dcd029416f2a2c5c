"""``unfold`` (im2col) and ``fold`` (col2im) as differentiable ops, PyTorch's ``F.unfold`` / ``F.fold``.

Notation: X (N, C, H, W), kernel KH×KW, stride s, dilation d, padding p, OH×OW output positions, L = OH·OW;
X̃ is X padded with p zeros on each side.

    unfold:  U[n, (c, u, v), (i, j)] = X̃[n, c, s·i + d·u, s·j + d·v]        U (N, C·KH·KW, L)
    fold:    Y[n, c, y, x] = Σ_{(u, v, i, j): s·i + d·u − p = y, s·j + d·v − p = x} U[n, (c, u, v), (i, j)]

Each is linear and the other's adjoint, ⟨unfold(X), U⟩ = ⟨X, fold(U)⟩, so gX = fold(gU) and gU = unfold(gY): the
backward of each is the other, and gradients of any order follow. A convolution is unfold, then one GEMM with the
kernel (F, C·KH·KW), which is how ``chainrule.ops.conv`` computes it (with its own, cache-blocked copies).
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.errors import ShapeError
from chainrule.ops.conv_layout import ConvGeometry, strided_view
from chainrule.ops.operands import as_tensor, float_only, int_pair
from chainrule.tensor import Tensor

__all__ = ["fold", "unfold"]


def _unfold_array(x: Any, g: ConvGeometry) -> Any:
    """U (N, C·KH·KW, L) from X (N, C, H, W): the strided view of X̃'s windows, copied once."""
    xp = backend.get_array_module(x)
    top, _, left, _ = g.padding
    padded = xp.zeros((g.n, g.c) + g.padded_size, dtype=x.dtype)
    padded[:, :, top:top + g.h, left:left + g.w] = x
    (sh, sw), (dh, dw) = g.stride, g.dilation
    sn, sc, sy, sx = padded.strides
    windows = strided_view(padded, (g.n, g.c, g.kh, g.kw, g.oh, g.ow), (sn, sc, dh * sy, dw * sx, sh * sy, sw * sx))
    return windows.reshape(g.n, g.c * g.kh * g.kw, g.oh * g.ow)  # reshape of a non-contiguous view: one copy


def _fold_array(u: Any, g: ConvGeometry) -> Any:
    """Y (N, C, H, W) from U (N, C·KH·KW, L): a K×K loop of strided-slice additions into X̃, then the crop."""
    xp = backend.get_array_module(u)
    top, _, left, _ = g.padding
    cols = u.reshape(g.n, g.c, g.kh, g.kw, g.oh, g.ow)
    padded = xp.zeros((g.n, g.c) + g.padded_size, dtype=u.dtype)
    for ku, kv, rows, columns in g.offsets():
        padded[:, :, rows, columns] += cols[:, :, ku, kv]
    return padded[:, :, top:top + g.h, left:left + g.w].copy()


class Unfold(Function):
    uses_inputs = False  # backward needs only the geometry

    def __init__(self, geometry: ConvGeometry) -> None:
        self.g = geometry

    def forward(self, x):
        return _unfold_array(x, self.g)

    def backward(self, gu: Tensor) -> Tensor:
        """U = unfold(X) is linear with adjoint fold: gX = fold(gU), (N, C·KH·KW, L) → (N, C, H, W)."""
        return Fold(self.g)(gu)


class Fold(Function):
    uses_inputs = False  # backward needs only the geometry

    def __init__(self, geometry: ConvGeometry) -> None:
        self.g = geometry

    def forward(self, u):
        return _fold_array(u, self.g)

    def backward(self, gy: Tensor) -> Tensor:
        """Y = fold(U) is linear with adjoint unfold: gU = unfold(gY), (N, C, H, W) → (N, C·KH·KW, L)."""
        return Unfold(self.g)(gy)


def _geometry(op: str, n: int, c: int, size: tuple[int, int], kernel_size: Any, dilation: Any, padding: Any,
              stride: Any) -> ConvGeometry:
    kh, kw = int_pair(op, "kernel_size", kernel_size, 1, single=False)
    dilation = int_pair(op, "dilation", dilation, 1, single=False)
    ph, pw = int_pair(op, "padding", padding, 0, single=False)
    stride = int_pair(op, "stride", stride, 1, single=False)
    g = ConvGeometry(n, c, size[0], size[1], 1, kh, kw, stride, dilation, (ph, ph, pw, pw), 1)
    if g.oh < 1 or g.ow < 1:
        raise ShapeError(f"{op}: the kernel ({kh}×{kw} with dilation {dilation}) does not fit the padded input "
                         f"{g.padded_size}; use a smaller kernel or more padding")
    return g


def unfold(input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,  # noqa: A002 - PyTorch's name
           stride: Any = 1) -> Tensor:
    """The sliding windows of a 4-D (N, C, H, W) or 3-D (C, H, W) input as columns: (N, C·KH·KW, L)."""
    op = "unfold"
    x = as_tensor(op, input, "input")
    float_only(op, x)
    if x.ndim not in (3, 4):
        raise ShapeError(f"{op}: input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape {x.shape}")
    batched = x if x.ndim == 4 else x.unsqueeze(0)
    n, c, h, w = batched.shape
    out = Unfold(_geometry(op, n, c, (h, w), kernel_size, dilation, padding, stride))(batched)
    return out if x.ndim == 4 else out.squeeze(0)


def fold(input: Any, output_size: Any, kernel_size: Any, dilation: Any = 1,  # noqa: A002 - PyTorch's name
         padding: Any = 0, stride: Any = 1) -> Tensor:
    """Columns (N, C·KH·KW, L) (or unbatched (C·KH·KW, L)) summed back into images (N, C, *output_size)."""
    op = "fold"
    u = as_tensor(op, input, "input")
    float_only(op, u)
    if u.ndim not in (2, 3):
        raise ShapeError(f"{op}: input must be 3-D (N, C·KH·KW, L) or 2-D (C·KH·KW, L), got shape {u.shape}")
    batched = u if u.ndim == 3 else u.unsqueeze(0)
    kh, kw = int_pair(op, "kernel_size", kernel_size, 1, single=False)
    size = int_pair(op, "output_size", output_size, 1, single=False)
    n, rows, length = batched.shape
    if rows % (kh * kw):
        raise ShapeError(f"{op}: the input's dim 1 ({rows}) must be a multiple of the kernel's size {kh}·{kw} = "
                         f"{kh * kw} (it is C·KH·KW)")
    g = _geometry(op, n, rows // (kh * kw), size, (kh, kw), dilation, padding, stride)
    if length != g.oh * g.ow:
        raise ShapeError(f"{op}: the input has {length} columns but output_size {size} with this kernel, stride, "
                         f"padding and dilation has {g.oh}·{g.ow} = {g.oh * g.ow} window positions")
    out = Fold(g)(batched)
    return out if u.ndim == 3 else out.squeeze(0)
