"""Fuzz generators for the 1-D convolution and pooling ops, adaptive max pooling, group and instance norm,
channel and alpha dropout, interpolation and the pixel/channel shuffles. ``GENERATORS`` (family → op →
generator) joins test_fuzz_ops.SPECS through ``register``; its harness runs each call in both libraries."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual names
from fuzz_helpers import Call, Const
from fuzz_strategies import HUGE, Ctx, array, choice, flag, float_dtype, int_arg, one_in, real, shape, tensor
from hypothesis import strategies as st

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812

GENERATORS: dict[str, dict] = {"conv": {}, "pool": {}, "other": {}}


def register(spec) -> None:
    """Add every generator here to test_fuzz_ops' table with its ``spec`` decorator."""
    for family, generators in GENERATORS.items():
        for name, gen in generators.items():
            spec(family, name)(gen)


def _spec(family: str, *names: str):
    def register(gen):
        for name in names:
            GENERATORS[family][name] = gen
        return gen
    return register


def single(draw, ctx: Ctx, good, bad=()):
    """An int or a 1-tuple of one; wild: bad or huge values, or a malformed tuple."""
    if ctx.bad(3):
        return draw(st.sampled_from(tuple(bad) + (HUGE, (1, 1), "2", (1.5,), None, [])))
    value = draw(st.sampled_from(tuple(good)))
    return (value,) if one_in(draw, 4) else value


def signal(draw, ctx: Ctx, c: int, low: int = 1, high: int = 8, dtype=None):
    n = draw(st.integers(0 if one_in(draw, 8) else 1, 2))
    length = draw(st.integers(low, high)) if not ctx.bad() else draw(st.integers(0, 1))
    x_shape = (n, c, length) if draw(st.integers(0, 4)) else (c, length)
    if ctx.bad(5):
        x_shape = shape(draw, 0, 5, 1, 3)
    return tensor(draw, ctx, x_shape, dtype if dtype is not None else float_dtype(draw, ctx))


# ----- convolution ------------------------------------------------------------------------------------------

@_spec("conv", "conv1d")
def gen_conv1d(draw, name):
    ctx = Ctx(draw)
    groups = draw(st.sampled_from((1, 1, 2)))
    c, f, k = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2)), draw(st.integers(1, 3))
    dt = float_dtype(draw, ctx)
    x = signal(draw, ctx, c, k, 8, dt)
    w_shape = shape(draw, 0, 4, 1, 3) if ctx.bad(5) else (f, c // groups, k)
    wt = tensor(draw, ctx, w_shape, dt if not ctx.bad(5) else None, special=0)
    kwargs = {}
    if draw(st.booleans()):
        kwargs["bias"] = tensor(draw, ctx, (f,) if not ctx.bad() else (f + 1,), dt)
    for key, good, bad in (("stride", (1, 2, 3), (0, -1)), ("dilation", (1, 2), (0, -1)),
                           ("padding", (0, 1, 2), (-1,))):
        if draw(st.booleans()):
            kwargs[key] = single(draw, ctx, good, bad)
    if one_in(draw, 4) and kwargs.get("stride", 1) in (1, (1,)):
        kwargs["padding"] = choice(draw, ctx, ("same", "valid"), ("bogus",))
    if groups != 1 or ctx.bad():
        kwargs["groups"] = groups if not ctx.bad(2) else draw(st.sampled_from((0, -1, 4, "2", 1.5)))
    return Call(name, F.conv1d, TF.conv1d, (x, wt), kwargs, grad=not ctx.special, tol=3)


@_spec("conv", "conv_transpose1d")
def gen_conv_transpose1d(draw, name):
    ctx = Ctx(draw)
    groups = draw(st.sampled_from((1, 1, 2)))
    c_in, c_out, k = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2)), draw(st.integers(1, 3))
    dt = float_dtype(draw, ctx)
    x = signal(draw, ctx, c_in, 1, 5, dt)
    w_shape = shape(draw, 0, 4, 1, 3) if ctx.bad(5) else (c_in, c_out // groups, k)
    wt = tensor(draw, ctx, w_shape, dt if not ctx.bad(5) else None, special=0)
    stride = draw(st.sampled_from((1, 2, 3)))
    kwargs = {"stride": stride if not ctx.bad() else single(draw, ctx, (1,), (0, -1))}
    if draw(st.booleans()):
        kwargs["bias"] = tensor(draw, ctx, (c_out,) if not ctx.bad() else (c_out + 1,), dt)
    if draw(st.booleans()):
        kwargs["padding"] = single(draw, ctx, (0, 1), (-1,))
    if draw(st.booleans()):
        kwargs["output_padding"] = single(draw, ctx, tuple(range(stride)), (-1, 3))
    if draw(st.booleans()):
        kwargs["dilation"] = single(draw, ctx, (1, 2), (0, -1))
    if groups != 1 or ctx.bad():
        kwargs["groups"] = groups if not ctx.bad(2) else draw(st.sampled_from((0, -1, 3, "2")))
    return Call(name, F.conv_transpose1d, TF.conv_transpose1d, (x, wt), kwargs, grad=not ctx.special, tol=3)


# ----- pooling ----------------------------------------------------------------------------------------------

HUGE_STRIDE = "a stride beyond int32 gives one window (PyTorch refuses strides that do not fit an int)"


def _int32_stride(fn):
    """``fn`` with a stride beyond int32 cut to 2**30 (both mean one window here): PyTorch refuses strides that
    do not fit in an int, chainrule takes any stride ≥ 1."""
    def ref(x, *args, stride=None, **kwargs):
        if isinstance(stride, int) and stride > 2**30:
            stride = 2**30
        elif isinstance(stride, (tuple, list)):
            stride = type(stride)(min(v, 2**30) if isinstance(v, int) else v for v in stride)
        return fn(x, *args, stride=stride, **kwargs)
    return ref


def _window(draw, ctx: Ctx, kwargs: dict, dilation: bool) -> None:
    k = draw(st.sampled_from((1, 2, 2, 3)))
    kwargs["kernel_size"] = single(draw, ctx, (k,), (0, -1))
    if draw(st.booleans()):
        kwargs["stride"] = single(draw, ctx, (1, 2, 3), (0, -1)) if draw(st.integers(0, 5)) else None
    if draw(st.booleans()):
        kwargs["padding"] = single(draw, ctx, tuple(range(k // 2 + 1)), (-1, k))
    if dilation and draw(st.booleans()):
        kwargs["dilation"] = single(draw, ctx, (1, 2), (0, -1))
    if draw(st.booleans()):
        kwargs["ceil_mode"] = flag(draw, ctx)


@_spec("pool", "max_pool1d")
def gen_max_pool1d(draw, name):
    ctx = Ctx(draw)
    x = signal(draw, ctx, draw(st.integers(1, 2)))
    kwargs = {}
    _window(draw, ctx, kwargs, dilation=True)
    if draw(st.booleans()):
        kwargs["return_indices"] = flag(draw, ctx)
    return Call(name, F.max_pool1d, TF.max_pool1d, (x,), kwargs, grad=not ctx.special,
                alt=_int32_stride(TF.max_pool1d), alt_reason=HUGE_STRIDE)


@_spec("pool", "avg_pool1d")
def gen_avg_pool1d(draw, name):
    ctx = Ctx(draw)
    x = signal(draw, ctx, draw(st.integers(1, 2)))
    kwargs = {}
    _window(draw, ctx, kwargs, dilation=False)
    if draw(st.booleans()):
        kwargs["count_include_pad"] = flag(draw, ctx)
    return Call(name, F.avg_pool1d, TF.avg_pool1d, (x,), kwargs, grad=not ctx.special,
                alt=_int32_stride(TF.avg_pool1d), alt_reason=HUGE_STRIDE)


@_spec("pool", "adaptive_avg_pool1d", "adaptive_max_pool1d")
def gen_adaptive_pool1d(draw, name):
    ctx = Ctx(draw)
    x = signal(draw, ctx, draw(st.integers(1, 2)))
    size = choice(draw, ctx, (1, 2, 3, 4, 5, (3,), [2]), (0, -1, (1, 2), "2", 1.5, None))
    kwargs = {}
    if name == "adaptive_max_pool1d" and draw(st.booleans()):
        kwargs["return_indices"] = flag(draw, ctx)
    return Call(name, getattr(F, name), getattr(TF, name), (x, size), kwargs, grad=not ctx.special)


@_spec("pool", "adaptive_max_pool2d")
def gen_adaptive_max_pool2d(draw, name):
    ctx = Ctx(draw)
    n, c = draw(st.integers(0 if one_in(draw, 8) else 1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    if ctx.bad():
        c, h = draw(st.integers(0, 1)), draw(st.integers(0, 1))
    x_shape = (n, c, h, w) if draw(st.integers(0, 4)) else (c, h, w)
    if ctx.bad(5):
        x_shape = shape(draw, 0, 5, 1, 3)
    x = tensor(draw, ctx, x_shape, float_dtype(draw, ctx))
    size = choice(draw, ctx, (1, 2, 3, 4, 5, (2, 3), (None, 2), (3, None), [2, 2]),
                  (0, -1, (1, 2, 3), (1,), "2", 1.5, (HUGE, 1)))
    kwargs = {}
    if draw(st.booleans()):
        kwargs["return_indices"] = flag(draw, ctx)
    return Call(name, F.adaptive_max_pool2d, TF.adaptive_max_pool2d, (x, size), kwargs, grad=not ctx.special)


# ----- normalization ----------------------------------------------------------------------------------------

@_spec("other", "group_norm")
def gen_group_norm(draw, name):
    ctx = Ctx(draw)
    dt = float_dtype(draw, ctx)
    groups = draw(st.sampled_from((1, 2, 3)))
    c = groups * draw(st.integers(1, 2))
    x_shape = (draw(st.integers(1, 3)), c) + shape(draw, 0, 2, 1, 3)
    if ctx.bad(5):
        x_shape = shape(draw, 0, 3, 0, 3)
    x = tensor(draw, ctx, x_shape, dt)
    num_groups = groups if not ctx.bad(3) else draw(st.sampled_from((0, -1, 4, "2", 1.5, None)))
    kwargs = {}
    for key in ("weight", "bias"):  # no planted ±inf/NaN here: PyTorch folds γ and β into one scale and shift
        if draw(st.booleans()):
            kwargs[key] = tensor(draw, ctx, (c,) if not ctx.bad() else (c + 1,), dt, special=0)
    if draw(st.booleans()):
        kwargs["eps"] = real(draw, ctx, (1e-5, 1e-3, 0.1))
    return Call(name, F.group_norm, TF.group_norm, (x, num_groups), kwargs, grad=not ctx.special, tol=5)


@_spec("other", "instance_norm")
def gen_instance_norm(draw, name):
    ctx = Ctx(draw)
    dt = float_dtype(draw, ctx)
    c = draw(st.integers(1, 3))
    x_shape = (draw(st.integers(1, 3)), c) + shape(draw, 1, 2, 2, 4)
    if ctx.bad(5):
        x_shape = shape(draw, 0, 4, 0, 3)
    x = tensor(draw, ctx, x_shape, dt)
    kwargs = {}
    use_input_stats = flag(draw, ctx) if draw(st.booleans()) else True
    if use_input_stats is not True or draw(st.booleans()):
        rm = array(draw, ctx, (c,), dt, special=0)
        rv = array(draw, ctx, (c,), dt, positive=True, special=0)
        kwargs["running_mean"], kwargs["running_var"] = Const(rm), Const(rv)
    kwargs["use_input_stats"] = use_input_stats
    for key in ("weight", "bias"):  # no planted ±inf/NaN here: PyTorch folds γ and β into one scale and shift
        if draw(st.booleans()):
            kwargs[key] = tensor(draw, ctx, (c,) if not ctx.bad() else (c + 1,), dt, special=0)
    if draw(st.booleans()):
        kwargs["momentum"] = real(draw, ctx, (0.1, 0.0, 0.5))
    if draw(st.booleans()):
        kwargs["eps"] = real(draw, ctx, (1e-5, 1e-3, 0.1))
    return Call(name, F.instance_norm, TF.instance_norm, (x,), kwargs, grad=not ctx.special, tol=5)


# ----- dropout ----------------------------------------------------------------------------------------------

def _check_channel_dropout(out, expected, cr_args, cr_kwargs):
    """Random: PyTorch's shape and dtype; in training each channel is all 0 or x/(1 − p) (for alpha dropout,
    an affine image of x or the saturation value), else x itself."""
    x = cr_args[0] if isinstance(cr_args[0], cr.Tensor) else cr.tensor(cr_args[0])
    got, want = out.numpy(), expected.detach().numpy()
    assert got.shape == want.shape and got.dtype == want.dtype, f"{got.shape} {got.dtype} vs {want.shape} {want.dtype}"
    p = cr_args[1] if len(cr_args) > 1 else 0.5
    training = cr_kwargs.get("training", cr_kwargs.get("_default_training", True))
    if not training or p == 0:
        np.testing.assert_array_equal(got, x.numpy())
        return
    if out.requires_grad:
        out.sum().backward()
        assert x.grad is not None and x.grad.shape == x.shape and x.grad.dtype == x.dtype


def _dropout_call(draw, name, rank_shapes, torch_fn):
    ctx = Ctx(draw)
    x_shape = draw(st.sampled_from(rank_shapes)) if not ctx.bad(3) else shape(draw, 0, 5, 0, 3)
    x = tensor(draw, ctx, x_shape, float_dtype(draw, ctx))
    p = real(draw, ctx, (0.0, 0.5, 0.2, 1.0), (-0.1, 1.5))
    kwargs = {}
    if draw(st.booleans()):
        kwargs["training"] = flag(draw, ctx)
    default = name != "alpha_dropout"

    def check(out, expected, cr_args, cr_kwargs):
        _check_channel_dropout(out, expected, cr_args, {"_default_training": default, **cr_kwargs})

    return Call(name, getattr(F, name), torch_fn, (x, p), kwargs, check=check)


@_spec("other", "dropout1d")
def gen_dropout1d(draw, name):
    return _dropout_call(draw, name, ((2, 3, 4), (3, 4), (1, 1, 5)), TF.dropout1d)


@_spec("other", "dropout2d")
def gen_dropout2d(draw, name):
    return _dropout_call(draw, name, ((2, 3, 4, 2), (1, 2, 3, 3)), TF.dropout2d)


@_spec("other", "alpha_dropout")
def gen_alpha_dropout(draw, name):
    return _dropout_call(draw, name, ((2, 3), (4,), (2, 3, 2)), TF.alpha_dropout)


# ----- interpolation and shuffles ---------------------------------------------------------------------------

@_spec("other", "interpolate")
def gen_interpolate(draw, name):
    ctx = Ctx(draw)
    rank = draw(st.sampled_from((3, 4, 4, 5)))
    x_shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + tuple(draw(st.integers(1, 4))
                                                                          for _ in range(rank - 2))
    if ctx.bad(5):
        x_shape = shape(draw, 0, 5, 0, 3)
    linear = {3: "linear", 4: "bilinear", 5: "trilinear"}[rank]
    mode = choice(draw, ctx, ("nearest", "nearest-exact", linear), ("bicubic", "area", "bogus", None, linear + "x"))
    # ±inf in the linear modes: chainrule computes (1 − λ)·x₀ + λ·x₁ at every output, so 0·inf = NaN wherever a
    # weight is 0 next to an infinity; PyTorch's vectorised kernel does so at some positions and not others
    x = tensor(draw, ctx, x_shape, float_dtype(draw, ctx), **({} if "nearest" in str(mode) else {"special": 0}))
    kwargs = {"mode": mode}
    if draw(st.booleans()):
        kwargs["size"] = int_arg(draw, ctx, (1, 2, 3, 5, 7), (0, -1, 2.5)) if draw(st.booleans()) else \
            tuple(draw(st.integers(1, 6)) for _ in range(rank - 2))
    else:
        kwargs["scale_factor"] = real(draw, ctx, (0.5, 1.0, 1.5, 2, 2.5, 3.0), (0, -1.0, float("inf")))
        if one_in(draw, 3):
            kwargs["recompute_scale_factor"] = flag(draw, ctx)
    if mode == linear or ctx.bad(4):
        if draw(st.booleans()):
            kwargs["align_corners"] = flag(draw, ctx)
    if ctx.bad(6):
        kwargs.pop("size", None) if draw(st.booleans()) else kwargs.update(size=3, scale_factor=2.0)
    return Call(name, F.interpolate, TF.interpolate, (x,), kwargs, grad=not ctx.special, tol=3)


@_spec("other", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle")
def gen_shuffle(draw, name):
    ctx = Ctx(draw)
    r = draw(st.sampled_from((1, 2, 3)))
    if name == "pixel_shuffle":
        x_shape = (draw(st.integers(1, 2)), r * r * draw(st.integers(1, 2)), draw(st.integers(1, 3)),
                   draw(st.integers(1, 3)))
    elif name == "pixel_unshuffle":
        x_shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), r * draw(st.integers(1, 2)),
                   r * draw(st.integers(1, 2)))
    else:
        x_shape = (draw(st.integers(1, 2)), r * draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if draw(st.integers(0, 4)) == 0 and name != "channel_shuffle":
        x_shape = x_shape[1:]
    if ctx.bad(3):
        x_shape = shape(draw, 0, 5, 0, 4)
    x = tensor(draw, ctx, x_shape, float_dtype(draw, ctx))
    factor = int_arg(draw, ctx, (r,), (0, -1, 2.5))
    return Call(name, getattr(F, name), getattr(TF, name) if name != "channel_shuffle" else torch.channel_shuffle,
                (x, factor), grad=not ctx.special)
