"""2-D convolution and transposed convolution on NCHW tensors, by im2col and one GEMM. Derivations: docs/conv.md.

Notation: X (N, C, H, W) input, W (F, C/G, KH, KW) kernel in PyTorch's layout, b (F,) bias (or (F, OH, OW)
untied: one bias per output unit), O (N, F, OH, OW) output, G groups, s stride, d dilation, p padding, and
gO = ∂L/∂O. The forward is a correlation, O[n,f,i,j] = Σ_{c,u,v} X[n,c, s·i + d·u − p, s·j + d·v − p]·W[f,c,u,v] + b[f].

The three rules learners derive are the three faces of one bilinear form B(X, W, gO) = ⟨conv(X, W), gO⟩:
    ∂L/∂X = ∂B/∂X = the full convolution of the stride-dilated gO with the rotated kernel        (conv_transpose)
    ∂L/∂W = ∂B/∂W = the correlation of X with gO                                                    (weight_grad)
    ∂L/∂b = Σ_{n,i,j} gO
("Convolution" as deep learning says it: exactly, ∂L/∂X is the full correlation of the stride-dilated gO with
the 180°-rotated kernel, which is the true full convolution with W.) Each of conv, conv_transpose and
weight_grad is a Function whose backward is written with the other two, so gradients of any order follow.

Products. The forward is ``_correlate`` (im2col, one GEMM per group); the two adjoint products, gX as
col2im(Wᵀ @ gO) and gW as col @ gOᵀ, are ``_adjoint_products``, which ConvTranspose2d's forward (gX),
WeightGrad's forward (gW) and Conv2d's fast route (both, in one pass over the batch) share. Where the arrays sit
(geometry, im2col/col2im, chunks, scratch buffers) is ``chainrule.ops.conv_layout``.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.broadcast import array_sum
from chainrule.autograd.function import Function
from chainrule.errors import ArgumentError, ArgumentTypeError, ChainruleError, ShapeError
from chainrule.ops.conv_layout import (
    ConvGeometry,
    batch_chunks,
    col2im,
    from_matrix,
    full_correlation_geometry,
    grouped_matmul,
    im2col,
    kernel_columns,
    kernel_rows,
    rotated_transpose,
    to_matrix,
    weight_layout,
    weight_product,
)
from chainrule.ops.operands import as_tensor, check_size, describe, float_only, int_pair, same_dtype
from chainrule.ops.shape import pad as pad_op
from chainrule.tensor import Tensor

__all__ = ["conv2d", "conv_transpose2d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class Conv2d(Function):
    def __init__(self, geometry: ConvGeometry) -> None:
        self.g = geometry

    def forward(self, x, w, b=None):
        return _correlate(x, w, b, self.g)

    def backward(self, go: Tensor) -> tuple[Tensor | None, ...]:
        """O = conv(X, W) + b, gO (N, F, OH, OW):

        gX = conv_transpose(gO, W)   (N, C, H, W)   the full convolution of the stride-dilated gO with the
                                                     rotated kernel (exactly: the full correlation with
                                                     rot180(W)), computed as col2im(Wᵀ @ gO)
        gW = weight_grad(X, gO)      (F, C/G, KH, KW)   gW[f,c,u,v] = Σ_{n,i,j} X[n,c,s·i+d·u−p,s·j+d·v−p]·gO[n,f,i,j]
        gb = Σ_{n,i,j} gO            (F,), or Σ_n gO (F, OH, OW) for an untied bias
        """
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        gx = ConvTranspose2d(self.g)(go, w) if need[0] else None
        gw = WeightGrad(self.g)(x, go) if need[1] else None
        if len(self.inputs) == 2:
            return gx, gw
        gb = (go.sum((0, 2, 3)) if self.inputs[2].ndim == 1 else go.sum(0)) if need[2] else None
        return gx, gw, gb

    def fast_backward(self, go: Any) -> tuple[Any, ...]:
        """The same three gradients on arrays, gX and gW in one pass over the batch (``_adjoint_products``).

        With stride 1 and no more filters than channels, gX is computed as the full correlation of gO with the
        rotated kernel, the forward op run on gO (``full_correlation_geometry``): an im2col of gO and one GEMM
        instead of a GEMM and col2im's read-modify-write passes (docs/conv.md, "Input")."""
        g, need = self.g, self.needs_input_grad
        x, w = self.inputs[0]._data, self.inputs[1]._data
        full = full_correlation_geometry(g) if need[0] and g.f <= g.c else None
        gx = _correlate(go, rotated_transpose(w, g), None, full) if full else None
        scatter, gw = _adjoint_products(go, w, x, g, need[0] and full is None, need[1])
        gx = scatter if gx is None else gx
        if len(self.inputs) == 2:
            return gx, gw
        gb = array_sum(go, (0, 2, 3) if self.inputs[2].ndim == 1 else (0,), False) if need[2] else None
        return gx, gw, gb


def _correlate(x: Any, w: Any, b: Any, g: ConvGeometry) -> Any:
    """O = conv(X, W) + b on arrays: per batch chunk, im2col and one GEMM per group."""
    xp = backend.get_array_module(x)
    out = xp.empty((g.n, g.f, g.oh, g.ow), dtype=x.dtype)
    kernel = kernel_rows(w, g)
    bias = 0 if b is None else b[:, None, None] if b.ndim == 1 else b
    for start, end, chunk in batch_chunks(g, x.dtype.itemsize):
        o = grouped_matmul(kernel, im2col(x[start:end], chunk), "conv.product")  # (G, F/G, n·OH·OWc)
        xp.add(from_matrix(o, chunk), bias, out=out[start:end])  # to NCHW, adding the bias on the way
    return out


def _adjoint_products(go: Any, w: Any, x: Any, g: ConvGeometry, input_grad: bool, weight_grad: bool
                      ) -> tuple[Any, Any]:
    """The two products that take gO back, on arrays, in one pass over the batch:

    gX = conv_transpose(gO, W) = col2im(Wᵀ @ gO)   (N, C, H, W), when ``input_grad`` (W may be None otherwise)
    gW = weight_grad(X, gO)    = (col @ gOᵀ)ᵀ     (F, C/G, KH, KW), when ``weight_grad`` (X may be None otherwise)

    Each chunk of gO is put in the GEMM's layout once for both, and X's col is rebuilt just before the GEMM that
    reads it (cheaper than keeping it from the forward: docs/conv.md)."""
    xp = backend.get_array_module(go)
    gx = xp.empty((g.n, g.c, g.h, g.w), dtype=go.dtype) if input_grad else None
    w_t = kernel_columns(w, g) if input_grad else None  # (G, C/G·KH·KW, F/G)
    gw_t = xp.zeros((g.groups, g.patch, g.f // g.groups), dtype=go.dtype) if weight_grad else None
    for start, end, chunk in batch_chunks(g, go.dtype.itemsize):
        m = to_matrix(go[start:end], chunk)  # (G, F/G, n·OH·OWc)
        if gw_t is not None:
            gw_t += weight_product(im2col(x[start:end], chunk), m)
        if gx is not None:
            gx[start:end] = col2im(grouped_matmul(w_t, m, "conv.columns"), chunk)
    # an empty batch (N = 0) has no chunks: a zero weight gradient
    return gx, None if gw_t is None else weight_layout(gw_t, g)


class ConvTranspose2d(Function):
    """gO (N, F, OH, OW), W → X-shaped (N, C, H, W): the adjoint of X ↦ conv(X, W)."""

    def __init__(self, geometry: ConvGeometry) -> None:
        self.g = geometry

    def forward(self, go, w):
        return _adjoint_products(go, w, None, self.g, True, False)[0]

    def backward(self, gx: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """Z = conv_transpose(gO, W) is linear in each argument with ⟨gZ, Z⟩ = ⟨conv(gZ, W), gO⟩, so

        g(gO) = conv(gZ, W)            (N, F, OH, OW)
        gW    = weight_grad(gZ, gO)    (F, C/G, KH, KW)
        """
        go, w = self.inputs
        need = self.needs_input_grad
        g_go = Conv2d(self.g)(gx, w) if need[0] else None
        gw = WeightGrad(self.g)(gx, go) if need[1] else None
        return g_go, gw

    def fast_backward(self, gx: Any) -> tuple[Any, Any]:
        """The same two products on arrays: Conv2d's and WeightGrad's forwards, without their nodes."""
        go, w = self.inputs[0]._data, self.inputs[1]._data
        need = self.needs_input_grad
        g_go = _correlate(gx, w, None, self.g) if need[0] else None
        gw = _adjoint_products(go, None, gx, self.g, False, True)[1] if need[1] else None
        return g_go, gw


class WeightGrad(Function):
    """X, gO → W-shaped: the correlation of X with gO (the weight gradient of conv)."""

    def __init__(self, geometry: ConvGeometry) -> None:
        self.g = geometry

    def forward(self, x, go):
        return _adjoint_products(go, None, x, self.g, False, True)[1]

    def backward(self, ggw: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """V = weight_grad(X, gO) is linear in each argument with ⟨gV, V⟩ = ⟨conv(X, gV), gO⟩, so

        gX    = conv_transpose(gO, gV)   (N, C, H, W)
        g(gO) = conv(X, gV)              (N, F, OH, OW)
        """
        x, go = self.inputs
        need = self.needs_input_grad
        gx = ConvTranspose2d(self.g)(go, ggw) if need[0] else None
        g_go = Conv2d(self.g)(x, ggw) if need[1] else None
        return gx, g_go

    def fast_backward(self, ggw: Any) -> tuple[Any, Any]:
        """The same two products on arrays: ConvTranspose2d's and Conv2d's forwards, without their nodes."""
        x, go = self.inputs[0]._data, self.inputs[1]._data
        need = self.needs_input_grad
        gx = _adjoint_products(go, ggw, None, self.g, True, False)[0] if need[0] else None
        g_go = _correlate(x, ggw, None, self.g) if need[1] else None
        return gx, g_go


# ----- argument handling -------------------------------------------------------------------------------


def _pair(op: str, name: str, value: Any, minimum: int) -> tuple[int, int]:
    return int_pair(op, name, value, minimum, single=False)


def _check_4d(op: str, x: Tensor, w: Tensor) -> None:
    if x.ndim != 4:
        raise ShapeError(f"{op}: input must be 4-D (N, C, H, W), or 3-D (C, H, W) unbatched; got shape {x.shape}")
    if w.ndim != 4:
        raise ShapeError(f"{op}: weight must be 4-D, got shape {w.shape}")
    float_only(op, x)
    same_dtype(op, x, w, "weight")


def _groups(op: str, groups: Any) -> int:
    if not isinstance(groups, int) or isinstance(groups, bool):
        raise ArgumentTypeError(f"{op}: groups must be a positive int, got {describe(groups)}")
    if groups < 1:
        raise ArgumentError(f"{op}: groups must be a positive int, got {groups}")
    return groups


def _bias(op: str, bias: Any, x: Tensor) -> Tensor:
    b = as_tensor(op, bias, "bias")
    same_dtype(op, x, b, "bias")
    return b


def _check_size(op: str, g: ConvGeometry, dtype: Any) -> None:
    top, bottom, left, right = g.padding
    eff = (g.dilation[0] * (g.kh - 1) + 1, g.dilation[1] * (g.kw - 1) + 1)
    if g.oh < 1 or g.ow < 1:
        raise ShapeError(
            f"{op}: the kernel ({g.kh}×{g.kw}, {eff[0]}×{eff[1]} with dilation) is larger than the padded input "
            f"({g.h + top + bottom}×{g.w + left + right}); use a smaller kernel or more padding"
        )
    check_size(op, "the padded input", (g.n, g.c, g.h + top + bottom, g.w + left + right), dtype)
    check_size(op, "the output", (g.n, g.f, g.oh, g.ow), dtype)
    # im2col's buffer holds at least one image's receptive fields, KH·KW values per input element (with stride
    # 1, per padded element): a large padding or dilation makes it the largest buffer of all
    check_size(op, "the column buffer of one image", (g.c * g.kh * g.kw, g.oh * g.width), dtype)


def conv2d(
    input: Any,  # noqa: A002 - PyTorch's names
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> Tensor:
    """2-D convolution (a correlation, as in every deep-learning library) of NCHW ``input`` with ``weight``.

    weight (F, C/groups, KH, KW); bias (F,) or None, or (F, OH, OW) for an untied bias (one per output unit);
    padding an int, a pair, 'valid' or 'same' (stride 1; extra padding goes right/bottom, as PyTorch);
    padding_mode 'zeros', 'reflect', 'replicate' or 'circular' as ``nn.Conv2d``'s.
    """
    op = "conv2d"
    x, w = as_tensor(op, input, "input"), as_tensor(op, weight, "weight")
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    _check_4d(op, x, w)
    s = _pair(op, "stride", stride, 1)
    d = _pair(op, "dilation", dilation, 1)
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    if h == 0 or wd == 0:
        raise ShapeError(f"{op}: input of shape {x.shape} has an empty spatial dim; height and width must be ≥ 1")
    if _groups(op, groups) and (c % groups or f % groups):
        raise ArgumentError(
            f"{op}: groups must be a positive int dividing in_channels ({c}) and out_channels ({f}), got {groups}"
        )
    if cg * groups != c:
        raise ShapeError(
            f"{op}: input has {c} channels but weight {w.shape} expects {cg}·groups = {cg * groups}; "
            f"weight must be (out_channels, in_channels/groups, kH, kW)"
        )
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            if s != (1, 1):
                raise ArgumentError(f"{op}: padding='same' needs stride 1, got stride {stride}")
            th, tw = d[0] * (kh - 1), d[1] * (kw - 1)
            pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        else:
            raise ArgumentError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    else:
        ph, pw = _pair(op, "padding", padding, 0)
        pads = (ph, ph, pw, pw)
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ArgumentError(f"{op}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    if padding_mode != "zeros" and any(pads):
        top, bottom, left, right = pads
        check_size(op, "the padded input", (n, c, h + top + bottom, wd + left + right), x.dtype)
        try:
            x = pad_op(x, (left, right, top, bottom), mode=padding_mode)
        except ChainruleError as e:
            raise type(e)(f"{op}: padding_mode={padding_mode!r} with padding {padding!r}: {e}") from None
        n, c, h, wd = x.shape
        pads = (0, 0, 0, 0)
    g = ConvGeometry(n, c, h, wd, f, kh, kw, s, d, pads, groups)
    _check_size(op, g, x.dtype)
    args = [x, w]
    if bias is not None:
        b = _bias(op, bias, x)
        if b.shape not in ((f,), (f, g.oh, g.ow)):
            raise ShapeError(
                f"{op}: bias must have shape ({f},) (one per channel) or ({f}, {g.oh}, {g.ow}) (untied: one per "
                f"output unit), got {b.shape}"
            )
        args.append(b)
    out = Conv2d(g)(*args)
    return out.squeeze(0) if unbatched else out


def conv_transpose2d(
    input: Any,  # noqa: A002 - PyTorch's names
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    groups: int = 1,
    dilation: int | tuple[int, int] = 1,
) -> Tensor:
    """Transposed convolution (the gradient of conv2d with respect to its input), PyTorch's argument order.

    input (N, C_in, H, W), weight (C_in, C_out/groups, KH, KW), bias (C_out,). The output has
    H_out = (H − 1)·s − 2p + d·(KH − 1) + output_padding + 1 rows (likewise columns).
    """
    op = "conv_transpose2d"
    x, w = as_tensor(op, input, "input"), as_tensor(op, weight, "weight")
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    _check_4d(op, x, w)
    s = _pair(op, "stride", stride, 1)
    d = _pair(op, "dilation", dilation, 1)
    p = _pair(op, "padding", padding, 0)
    op_pad = _pair(op, "output_padding", output_padding, 0)
    if op_pad[0] >= max(s[0], d[0]) or op_pad[1] >= max(s[1], d[1]):
        raise ArgumentError(f"{op}: output_padding {output_padding} must be smaller than stride or dilation")
    n, c_in, h, wd = x.shape
    if h == 0 or wd == 0:
        raise ShapeError(f"{op}: input of shape {x.shape} has an empty spatial dim; height and width must be ≥ 1")
    if w.shape[0] != c_in:
        raise ShapeError(f"{op}: input has {c_in} channels but weight {w.shape} expects {w.shape[0]} (dim 0)")
    if _groups(op, groups) and c_in % groups:
        raise ArgumentError(f"{op}: groups must be a positive int dividing in_channels ({c_in}), got {groups}")
    _, cg, kh, kw = w.shape
    c_out = cg * groups
    h_out = (h - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + op_pad[0] + 1
    w_out = (wd - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + op_pad[1] + 1
    if h_out < 1 or w_out < 1:
        raise ShapeError(f"{op}: the output would be {h_out}×{w_out}; reduce padding")
    check_size(op, "the output (with its padding)", (n, c_out, h_out + 2 * p[0], w_out + 2 * p[1]), x.dtype)
    # The convolution this one transposes: X (N, C_out, H_out, W_out) → (N, C_in, H, W) with kernel `w`.
    g = ConvGeometry(n, c_out, h_out, w_out, c_in, kh, kw, s, d, (p[0], p[0], p[1], p[1]), groups)
    # the GEMM's columns: one per input position, a padded output row long with stride 1 (wide rows)
    check_size(op, "the column buffer", (c_out * kh * kw, n * g.oh * g.width), x.dtype)
    out = ConvTranspose2d(g)(x, w)
    if bias is not None:
        b = _bias(op, bias, x)
        if b.shape != (c_out,):
            raise ShapeError(f"{op}: bias must have shape ({c_out},), got {b.shape}")
        out = out + b.reshape(1, c_out, 1, 1)
    return out.squeeze(0) if unbatched else out
