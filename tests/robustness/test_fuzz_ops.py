"""Hypothesis fuzzing of every public op in ``chainrule`` (cr.*) and ``chainrule.nn.functional`` (F.*).

Each generated call throws random shapes (0-d, empty dims, mismatched and broadcastable shapes), dtypes
(float32, float64, int64, bool, mixed) and argument values (dims out of range, zero/negative/huge sizes,
strides 0, negative or oversized padding, labels out of range, probabilities outside [0, 1], mismatched batch
sizes, NaN, strings/None/lists where tensors are expected) at one op, and ``run_case`` (fuzz_helpers.py)
asserts that chainrule either returns PyTorch's result (values, dtype, shape and gradients) or raises a
``ChainruleError`` naming the op. About two calls in three are tame (valid arguments: results are compared),
one in three wild (bad values mixed in: refusals are judged). ``conftest.py`` prints how many cases ran.

Where PyTorch refuses a call and chainrule answers, the call carries an ``alt`` reference and a reason; each
such case is sensible and documented:

- array-likes (lists, NumPy arrays, Python numbers) where PyTorch wants a Tensor: chainrule converts them as
  ``cr.tensor`` does (generic, in fuzz_helpers.run_case);
- ``pad`` in 'reflect', 'replicate' and 'circular' modes on any number of trailing dims (PyTorch supports only
  some ranks): the result is NumPy's ``np.pad`` with the same mode;
- ``getitem`` with a negative slice step (PyTorch refuses, NumPy reverses): the result is NumPy's indexing;
- ``argmax``/``argmin`` of a bool tensor (PyTorch refuses): the first True/False, as over 0/1 integers;
- ``matmul``/``linear`` with one integer and one float operand: the integer one is promoted, as in binary ops;
- ``cast`` to a NumPy dtype name ('float32'), as ``np.dtype`` reads it;
- ``squeeze(x, None)``: chainrule's default, every size-1 dim;
- ``layer_norm`` with an int ``normalized_shape``, as ``nn.LayerNorm`` takes it;
- ``adaptive_avg_pool2d(x, None)``: both sizes kept, as ``(None, None)``;
- ``gaussian_nll_loss`` with an int ``var`` (PyTorch's own check crashes on Python ints; floats work);
- ``batch_norm`` in evaluation of an empty input with no channels (PyTorch fails inside ``select``): empty.

Everything else PyTorch refuses, chainrule refuses too. Where PyTorch answers and chainrule refuses (int
inputs to float-only ops, mixed float32/float64, negative padding, ...), the refusal is a ChainruleError by
design (docs/errors.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from fuzz_conv1d_norm_resample import register as register_conv1d_norm_resample_specs
from fuzz_helpers import Call, Const, Raw, run_case
from fuzz_math_specs import register as register_math_specs
from fuzz_strategies import (
    BOOL,
    DTYPES,
    F32,
    F64,
    HUGE,
    I64,
    WRONG_TENSORS,
    Ctx,
    array,
    choice,
    dim,
    dims,
    flag,
    float_dtype,
    int_arg,
    one_in,
    pair_arg,
    real,
    scalar,
    shape,
    tensor,
    torch_dtype,
    two_shapes,
)
from fuzz_torch_layers_specs import register as register_torch_layer_specs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import chainrule as cr
import chainrule.nn.functional as F

pytestmark = pytest.mark.filterwarnings("ignore")  # NumPy's and PyTorch's warnings on NaN, broadcasting, ...

Generator = Callable[..., Call]
SPECS: dict[str, dict[str, Generator]] = {}


def spec(family: str, *names: str) -> Callable[[Generator], Generator]:
    """Register a generator of calls for the ops ``names`` in ``family``; it is called as gen(draw, name)."""

    def register(gen: Generator) -> Generator:
        for name in names:
            SPECS.setdefault(family, {})[name] = gen
        return gen

    return register


def ndim_of(x, default: int = 1) -> int:
    return x.ndim if isinstance(x, np.ndarray) else default


def shape_of(x, default: tuple = (3,)) -> tuple:
    return x.shape if isinstance(x, np.ndarray) else default


# ===== elementwise ========================================================================================

BINARY = {
    "add": (cr.add, torch.add), "sub": (cr.sub, torch.sub), "mul": (cr.mul, torch.mul), "div": (cr.div, torch.div),
    "pow": (cr.pow, torch.pow), "maximum": (cr.maximum, torch.maximum), "minimum": (cr.minimum, torch.minimum),
    "eq": (cr.eq, torch.eq), "ne": (cr.ne, torch.ne), "lt": (cr.lt, torch.lt), "le": (cr.le, torch.le),
    "gt": (cr.gt, torch.gt), "ge": (cr.ge, torch.ge),
}


def operand(draw, ctx: Ctx, shape_: tuple[int, ...]):
    """A tensor of any dtype (mostly), a Python number, or (wild) a wrong value."""
    if ctx.bad(4):
        return draw(st.sampled_from(WRONG_TENSORS))
    if one_in(draw, 4):
        return Raw(scalar(draw))
    return tensor(draw, ctx, shape_, wrong=0)


@spec("elementwise", *BINARY)
def gen_binary(draw, name):
    ctx = Ctx(draw)
    sa, sb = two_shapes(draw, ctx)
    a, b = operand(draw, ctx, sa), operand(draw, ctx, sb)
    fn, tfn = BINARY[name]
    return Call(name, fn, tfn, (a, b), grad=not ctx.special)


@spec("elementwise", "where")
def gen_where(draw, name):
    ctx = Ctx(draw)
    shapes = draw(mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3)).input_shapes
    if ctx.bad():
        shapes = (shape(draw, 0, 3, 0, 3),) + shapes[1:]
    cond = tensor(draw, ctx, shapes[0], BOOL if not ctx.bad() else draw(st.sampled_from((I64, F32))))
    if isinstance(cond, np.ndarray):
        cond = Const(cond)
    a, b = operand(draw, ctx, shapes[1]), operand(draw, ctx, shapes[2])
    return Call("where", cr.where, torch.where, (cond, a, b), grad=not ctx.special)


UNARY = {
    "neg": (cr.neg, torch.neg), "abs": (cr.abs, torch.abs), "exp": (cr.exp, torch.exp), "log": (cr.log, torch.log),
    "sqrt": (cr.sqrt, torch.sqrt), "sin": (cr.sin, torch.sin), "cos": (cr.cos, torch.cos),
    "tanh": (cr.tanh, torch.tanh), "sigmoid": (cr.sigmoid, torch.sigmoid), "relu": (cr.relu, torch.relu),
}


@spec("elementwise", *UNARY)
def gen_unary(draw, name):
    ctx = Ctx(draw)
    dt = draw(st.sampled_from(DTYPES)) if name in ("neg", "abs") else float_dtype(draw, ctx)
    x = tensor(draw, ctx, shape(draw), dt)
    fn, tfn = UNARY[name]
    return Call(name, fn, tfn, (x,), grad=not ctx.special)


@spec("elementwise", "leaky_relu", "elu", "gelu", "softplus")
def gen_activation(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw), float_dtype(draw, ctx))
    kwargs = {}
    if name == "leaky_relu" and draw(st.booleans()):
        kwargs["negative_slope"] = real(draw, ctx, (0.01, 0.2, 0.0, -0.5, 3.0, 2), (1e30,))
    if name == "elu" and draw(st.booleans()):
        kwargs["alpha"] = real(draw, ctx, (1.0, 0.5, 0.0, -1.0, 2))
    if name == "gelu" and draw(st.booleans()):
        kwargs["approximate"] = choice(draw, ctx, ("none", "tanh"), ("erf", None, 1))
    if name == "softplus":
        if draw(st.booleans()):
            kwargs["beta"] = real(draw, ctx, (1.0, 0.5, 2, 10.0), (0.0, -1.0))
        if draw(st.booleans()):
            kwargs["threshold"] = real(draw, ctx, (20.0, 1.0, 0.0, -1.0, 5))
    fn, tfn = getattr(F, name), getattr(TF, name)
    return Call(name, fn, tfn, (x,), kwargs, grad=not ctx.special,
                check=_where_input_finite if name == "gelu" and ctx.special else None)


def _where_input_finite(out, expected, cr_args, cr_kwargs):
    """gelu(inf) = inf·Φ(inf) = inf, which chainrule returns; PyTorch's exact (erf) gelu returns NaN there (its
    tanh form returns inf). Compare shape, dtype and every value but those at +inf, which must be inf."""
    got, want = out.numpy(), expected.detach().numpy()
    assert got.shape == want.shape and got.dtype == want.dtype, f"{got.shape} {got.dtype} vs {want.shape} {want.dtype}"
    x = cr_args[0].numpy()
    rest = x != np.inf
    np.testing.assert_allclose(got[rest], want[rest], rtol=2e-4, atol=1e-5, equal_nan=True)
    assert np.all(got[~rest] == np.inf), "gelu(inf) must be inf"


@spec("elementwise", "clip", "clamp")
def gen_clip(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw))
    good = (None, None, -0.5, 0.5, 1, -1, 0, 2.5, float("inf"))
    bad = ("1", [0.5], float("nan"))
    low = real(draw, ctx, good, bad)
    high = real(draw, ctx, good, bad)
    if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high and not ctx.wild:
        low, high = high, low
    kwargs = {}
    if low is not None or draw(st.booleans()):
        kwargs["min"] = low
    if high is not None or draw(st.booleans()):
        kwargs["max"] = high
    special = ctx.special or any(isinstance(v, float) and not math.isfinite(v) for v in kwargs.values())
    return Call(("clamp", "clip") if name == "clamp" else "clip", getattr(cr, name), torch.clamp, (x,), kwargs,
                grad=not special)


def _torch_cast(x, dtype):
    if isinstance(dtype, np.dtype):
        return x.to(torch_dtype(dtype))
    raise TypeError(f"not a dtype: {dtype!r}")


def _torch_cast_alt(x, dtype):
    return x.to(torch_dtype(np.dtype(dtype)))


def _check_cast(out, expected, cr_args, cr_kwargs):
    """float → int of NaN, ±inf or out-of-range values is undefined in C (NumPy and PyTorch differ): compare
    the shape and dtype, and the values only where the input is finite and in range."""
    got, want = out.numpy(), expected.detach().numpy()
    assert got.shape == want.shape and got.dtype == want.dtype, f"{got.shape} {got.dtype} vs {want.shape} {want.dtype}"
    src = cr_args[0].numpy()
    ok = np.isfinite(src) & (np.abs(src) < 2**31)
    np.testing.assert_array_equal(got[ok], want[ok])


@spec("elementwise", "cast")
def gen_cast(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw))
    target = choice(draw, ctx, (cr.float32, cr.float64, cr.int64, cr.bool_, cr.int32, "float32"),
                    (None, 5, "abc", np.dtype("U3"), np.dtype(np.complex64)))
    to_int = isinstance(x, np.ndarray) and x.dtype.kind == "f" and target in (cr.int64, cr.int32)
    return Call("cast", cr.cast, _torch_cast, (x, target), grad=not ctx.special,
                alt=_torch_cast_alt if target == "float32" else None,
                alt_reason="cast accepts NumPy dtype names ('float32'), as np.dtype does",
                check=_check_cast if to_int else None)


# ===== reductions =========================================================================================


def _all_dims(x, dim):
    return tuple(range(x.ndim)) if dim is None else dim


REDUCTIONS = {
    "sum": (cr.sum, lambda x, dim=None, keepdim=False: torch.sum(x, dim=dim, keepdim=keepdim)),
    "mean": (cr.mean, lambda x, dim=None, keepdim=False: torch.mean(x, dim=dim, keepdim=keepdim)),
    "amax": (cr.amax, lambda x, dim=None, keepdim=False: torch.amax(x, dim=_all_dims(x, dim), keepdim=keepdim)),
    "amin": (cr.amin, lambda x, dim=None, keepdim=False: torch.amin(x, dim=_all_dims(x, dim), keepdim=keepdim)),
    # dim=() is "every dim" for PyTorch's sum, mean, var and amax, and for all of chainrule's reductions; PyTorch's
    # logsumexp alone refuses it, so its reference reads () as every dim too
    "logsumexp": (cr.logsumexp, lambda x, dim=None, keepdim=False: torch.logsumexp(
        x, dim=tuple(range(x.ndim)) if dim is None or dim == () else dim, keepdim=keepdim)),
    # (and PyTorch's var computes the gradient of dim=() as if no dim were reduced: inf where x differs from its
    # mean; its reference reads () as every dim, whose forward value is the same)
    "var": (cr.var, lambda x, dim=None, keepdim=False, correction=1: torch.var(
        x, dim=tuple(range(x.ndim)) if dim == () else dim, keepdim=keepdim, correction=correction)),
    "argmax": (cr.argmax, lambda x, dim=None, keepdim=False: torch.argmax(x, dim=dim, keepdim=keepdim)),
    "argmin": (cr.argmin, lambda x, dim=None, keepdim=False: torch.argmin(x, dim=dim, keepdim=keepdim)),
}


def _arg_bool(which):
    """argmax/argmin of a bool tensor, which PyTorch refuses: the first True (False), as over 0/1 integers."""
    def ref(x, dim=None, keepdim=False):
        if x.dtype != torch.bool:
            raise TypeError("only bool tensors are a documented extension")
        return getattr(torch, which)(x.long(), dim=dim, keepdim=keepdim)
    return ref


@spec("reductions", *REDUCTIONS)
def gen_reduction(draw, name):
    ctx = Ctx(draw)
    float_only = name in ("mean", "var", "logsumexp")
    x = tensor(draw, ctx, shape(draw), float_dtype(draw, ctx) if float_only else None)
    ndim = ndim_of(x)
    kwargs = {}
    if name in ("argmax", "argmin"):
        if draw(st.booleans()):
            kwargs["dim"] = draw(st.sampled_from((None, dim(draw, ctx, ndim))))
    elif draw(st.integers(0, 4)):
        kwargs["dim"] = dims(draw, ctx, ndim)
    if draw(st.booleans()):
        kwargs["keepdim"] = flag(draw, ctx)
    if name == "var" and draw(st.booleans()):
        kwargs["correction"] = real(draw, ctx, (0, 1, 2, 5, -1, 1.5), ("1", None, True))
    fn, tfn = REDUCTIONS[name]
    arg = name in ("argmax", "argmin")
    return Call(name if name not in ("amax", "amin") else (name, name[1:]), fn, tfn, (x,), kwargs,
                grad=not ctx.special, alt=_arg_bool(name) if arg else None,
                alt_reason=f"{name} of a bool tensor: the first True/False, as NumPy")


# ===== shape ops and indexing =============================================================================


def target_shape(draw, ctx: Ctx, numel: int) -> tuple:
    """A shape for reshape: one that fits (with a −1 sometimes); wild: one that does not, or a wrong one."""
    if ctx.bad(2):
        if one_in(draw, 3):
            return draw(st.sampled_from(((2.5,), ("2", 3), (None,), (-1, -1), (HUGE, HUGE), (1, [2]))))
        return tuple(draw(st.lists(st.integers(-2, 5), min_size=0, max_size=4)))
    sides = []
    rest = numel
    for _ in range(draw(st.integers(0, 3))):
        d = draw(st.sampled_from([d for d in range(1, 5) if rest % d == 0] if rest else [0, 1, 2]))
        sides.append(d)
        rest = rest // d if d else rest
    sides.append(rest if numel or not sides or 0 in sides else 0)
    if numel and draw(st.booleans()):
        sides[draw(st.integers(0, len(sides) - 1))] = -1
    if numel == 1 and one_in(draw, 3):
        return ()
    return tuple(sides)


@spec("shape", "reshape")
def gen_reshape(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw))
    target = target_shape(draw, ctx, x.size if isinstance(x, np.ndarray) else 3)
    if len(target) >= 1 and draw(st.booleans()):  # reshape(x, 2, 3) as well as reshape(x, (2, 3))
        return Call("reshape", cr.reshape, lambda x, *s: torch.reshape(x, s), (x, *target), grad=not ctx.special)
    return Call("reshape", cr.reshape, torch.reshape, (x, target), grad=not ctx.special)


@spec("shape", "permute")
def gen_permute(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw))
    ndim = ndim_of(x)
    if ctx.bad(2):
        order = tuple(draw(st.lists(st.integers(-ndim - 1, ndim + 1), max_size=ndim + 1)))
    else:
        order = tuple(d - ndim if draw(st.booleans()) else d for d in draw(st.permutations(range(ndim))))
    return Call("permute", cr.permute, torch.permute, (x, order), grad=not ctx.special)


@spec("shape", "transpose")
def gen_transpose(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw))
    ndim = ndim_of(x)
    return Call("transpose", cr.transpose, torch.transpose, (x, dim(draw, ctx, ndim), dim(draw, ctx, ndim)),
                grad=not ctx.special)


def broadcast_target(draw, ctx: Ctx, x_shape: tuple[int, ...], minus_one: bool) -> tuple:
    if ctx.bad(2):
        if one_in(draw, 3):
            return draw(st.sampled_from(((2.5,), ("2",), (HUGE, HUGE, HUGE), None, (-2,))))
        return tuple(draw(st.lists(st.integers(-2, 4), max_size=4)))
    lead = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    body = []
    for n in x_shape:
        options = [n, n] + ([0, 2, 3] if n == 1 else []) + ([-1] if minus_one else [])
        body.append(draw(st.sampled_from(options)))
    return lead + tuple(body)


@spec("shape", "expand", "broadcast_to")
def gen_expand(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, max_dims=3))
    target = broadcast_target(draw, ctx, shape_of(x, (2,)), minus_one=name == "expand")
    if name == "expand":
        return Call("expand", cr.expand, lambda x, s: x.expand(s), (x, target), grad=not ctx.special)
    return Call("broadcast_to", cr.broadcast_to, torch.broadcast_to, (x, target), grad=not ctx.special)


@spec("shape", "sum_to")
def gen_sum_to(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, max_dims=3), draw(st.sampled_from((F32, F32, F64, I64))) if not ctx.bad()
               else BOOL)
    x_shape = shape_of(x, (2,))
    if ctx.bad(2):
        target = tuple(draw(st.lists(st.integers(-1, 4), max_size=4)))
    else:  # a shape that broadcasts to x's
        k = draw(st.integers(0, len(x_shape)))
        target = tuple(draw(st.sampled_from((n, 1))) for n in x_shape[len(x_shape) - k:])
    return Call("sum_to", cr.sum_to, lambda x, s: x.sum_to_size(s), (x, target), grad=not ctx.special)


@spec("shape", "squeeze")
def gen_squeeze(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, max_side=2))
    ndim = ndim_of(x)
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return Call("squeeze", cr.squeeze, torch.squeeze, (x,), grad=not ctx.special)
    if kind <= 2:
        d = dim(draw, ctx, ndim)
    elif kind == 3:
        d = tuple(draw(st.lists(st.integers(-ndim, max(ndim - 1, 0)), max_size=2, unique=not ctx.wild)))
    else:
        d = None
    return Call("squeeze", cr.squeeze, torch.squeeze, (x, d), grad=not ctx.special,
                alt=(lambda x, d: torch.squeeze(x)) if d is None else None,
                alt_reason="squeeze(x, None) squeezes every size-1 dim, as squeeze(x) (its default)")


@spec("shape", "unsqueeze")
def gen_unsqueeze(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw))
    return Call("unsqueeze", cr.unsqueeze, torch.unsqueeze, (x, dim(draw, ctx, ndim_of(x) + 1)),
                grad=not ctx.special)


@spec("shape", "flatten")
def gen_flatten(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw))
    ndim = ndim_of(x)
    kwargs = {}
    start, end = dim(draw, ctx, ndim), dim(draw, ctx, ndim)
    if not ctx.wild and isinstance(start, int) and start % max(ndim, 1) > end % max(ndim, 1):
        start, end = end, start
    if draw(st.booleans()):
        kwargs["start_dim"] = start
    if draw(st.booleans()):
        kwargs["end_dim"] = end
    return Call("flatten", cr.flatten, torch.flatten, (x,), kwargs, grad=not ctx.special)


@spec("shape", "cat", "concatenate", "stack")
def gen_join(draw, name):
    ctx = Ctx(draw)
    base = shape(draw, 0 if name == "stack" or ctx.wild else 1, 3, 0, 3)
    ndim = len(base)
    d = dim(draw, ctx, ndim + (name == "stack"))
    axis = d % max(ndim, 1) if isinstance(d, int) and not isinstance(d, bool) and ndim else 0
    dtype0 = draw(st.sampled_from(DTYPES))
    parts = []
    for _ in range(draw(st.integers(1 if not ctx.wild else 0, 3))):
        s = list(base)
        if name != "stack" and ndim and draw(st.booleans()):
            s[axis] = draw(st.integers(0, 3))
        if ctx.bad():
            s = list(shape(draw, 0, 3, 0, 3))
        dt = dtype0 if draw(st.integers(0, 3)) else draw(st.sampled_from(DTYPES))  # mixed dtypes are promoted
        parts.append(tensor(draw, ctx, tuple(s), dt))
    tensors = parts if draw(st.booleans()) else tuple(parts)
    if ctx.bad(5):
        tensors = draw(st.sampled_from((array(draw, ctx, base, F32), Raw("abc"), Raw(None))))  # not a sequence
    tfn = torch.stack if name == "stack" else torch.cat
    return Call(name if name != "concatenate" else ("concatenate", "cat"), getattr(cr, name), tfn, (tensors, d),
                grad=not ctx.special)


@spec("shape", "split")
def gen_split(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, 0 if ctx.wild else 1))
    ndim = ndim_of(x)
    d = dim(draw, ctx, ndim)
    n = x.shape[d] if isinstance(x, np.ndarray) and isinstance(d, int) and -ndim <= d < ndim else 3
    if draw(st.booleans()):
        size = int_arg(draw, ctx, (1, 2, 3, 5), (0, -1))
    else:
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        size = [b - a for a, b in zip([0, *cuts], [*cuts, n])]
        if ctx.bad(2):
            size[0] += draw(st.sampled_from((1, -1)))
        if ctx.bad(3):
            size = draw(st.sampled_from(("2", [1.5, 1], [])))
    return Call("split", cr.split, torch.split, (x, size, d), grad=not ctx.special)


@spec("shape", "unbind")
def gen_unbind(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, 0 if ctx.wild else 1))
    return Call("unbind", cr.unbind, torch.unbind, (x, dim(draw, ctx, ndim_of(x))), grad=not ctx.special)


def index_part(draw, ctx: Ctx, n: int):
    """One part of an index into a dim of size n; wild: out of range, step 0, floats, strings."""
    if ctx.bad(3):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            return draw(st.sampled_from((n, -n - 1, HUGE)))
        if kind == 1:
            return slice(None, None, 0)
        if kind == 2:
            return Const(array(draw, ctx, (draw(st.sampled_from((n + 1, max(n - 1, 0)))),), BOOL))
        return Raw(draw(st.sampled_from((0.5, "a", [0.5], np.float32(1.0)))))
    kind = draw(st.integers(0, 11))
    if kind <= 3 and n:
        return draw(st.integers(-n, n - 1))
    if kind <= 7:
        step = draw(st.sampled_from((None, None, 1, 2, 3, -1, -2)))
        return slice(draw(st.sampled_from((None, 0, 1, -1, -n - 2, n + 2))),
                     draw(st.sampled_from((None, 0, 1, -1, n, n + 2))), step)
    if kind == 8:
        return None
    if kind == 9:
        return Const(array(draw, ctx, shape(draw, 1, 2, 0, 3), I64, low=-n, high=n - 1)) if n else None
    if kind == 10:
        return Raw(draw(st.lists(st.integers(-n, n - 1), max_size=3))) if n else Ellipsis
    return Const(array(draw, ctx, (n,), BOOL))


def _np_getitem(x, index):
    """NumPy's indexing, for the negative slice steps PyTorch refuses (forward values only)."""
    def plain(p):
        return p.numpy() if isinstance(p, torch.Tensor) else p
    index = tuple(plain(p) for p in index) if isinstance(index, tuple) else plain(index)
    return torch.from_numpy(np.array(x.detach().numpy()[index], copy=True))


@spec("shape", "getitem")
def gen_getitem(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, 0, 3, 0, 4))
    sizes = list(shape_of(x)) + [2, 2, 2]
    count = draw(st.integers(1, 3 if ctx.wild else max(ndim_of(x), 1)))
    parts = tuple(index_part(draw, ctx, sizes[i]) for i in range(count))
    if one_in(draw, 6):
        parts = (Ellipsis,) + parts[1:]
    index = parts if len(parts) > 1 or draw(st.booleans()) else parts[0]
    negative_step = any(isinstance(p, slice) and p.step is not None and p.step < 0 for p in parts)
    if any(isinstance(p, int) for p in parts) and any(isinstance(p, (Const, Raw)) for p in parts):
        # NUMPY_LAYOUT: an int next to an index array is an advanced index in NumPy, which puts the array dims
        # first when a slice or None separates them (x[0, :, idx]); PyTorch applies the int first. chainrule
        # documents NumPy's rule (tests/ops/test_shape.py), so NumPy is the reference here (values only).
        return Call("getitem", cr.getitem, _np_getitem, (x, index), grad=False)
    return Call("getitem", cr.getitem, lambda x, i: x[i], (x, index), grad=not ctx.special,
                alt=_np_getitem if negative_step else None, alt_grad=False,
                alt_reason="getitem with a negative slice step reverses, as NumPy (PyTorch refuses)")


def _np_pad(x, pad, mode="constant", value=None):
    """np.pad with PyTorch's pad layout and chainrule's mode names (forward values only)."""
    if x.ndim == 0 or not pad:
        return x.detach().clone()
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return torch.from_numpy(np.pad(x.detach().numpy(), widths, mode=np_mode))


@spec("shape", "pad")
def gen_pad(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, 0, 4, 0, 4))
    ndim = ndim_of(x)
    mode = choice(draw, ctx, ("constant", "constant", "reflect", "replicate", "circular"), ("bogus", None, 0))
    if ctx.bad(3):
        pads = draw(st.sampled_from(("1", (1.5, 1), None, [1, None], 3, (1,), (-1, 0), (HUGE, 0), (1, 1) * 5)))
    else:
        k = draw(st.integers(0, min(ndim, 3)))
        shape_ = shape_of(x)
        pads = []
        for i in range(k):
            n = shape_[ndim - 1 - i]
            limit = {"reflect": n - 1, "replicate": n if n else 0, "circular": n}.get(mode, 3)
            pads += [draw(st.integers(0, max(limit, 0))), draw(st.integers(0, max(limit, 0)))]
        pads = tuple(pads)
    kwargs = {}
    if mode != "constant" or draw(st.booleans()):
        kwargs["mode"] = mode
    if mode == "constant" and draw(st.booleans()):
        kwargs["value"] = real(draw, ctx, (0.0, 1.5, -2), (float("nan"),))
    return Call("pad", F.pad, TF.pad, (x, pads), kwargs, grad=not ctx.special,
                alt=_np_pad if mode in ("reflect", "replicate", "circular") else None, alt_grad=False,
                alt_reason=f"pad mode {mode!r} on any trailing dims, as np.pad (PyTorch supports only some ranks)")


# ===== matmul, linear, softmax ============================================================================


def _promoted(fn):
    """``fn`` on its tensor arguments promoted as chainrule's binary ops do: int and float give float (PyTorch's
    matmul and linear require equal dtypes); float32 with float64, or bool, stay refused."""
    def ref(*tensors):
        kinds = {t.dtype for t in tensors if isinstance(t, torch.Tensor)}
        floats = {k for k in kinds if k.is_floating_point}
        if len(floats) != 1 or torch.bool in kinds:
            raise TypeError("no promotion")
        dtype = floats.pop()
        return fn(*(t.to(dtype) if isinstance(t, torch.Tensor) else t for t in tensors))
    return ref


PROMOTED = "matmul/linear promote an int operand to the float operand's dtype, as binary ops do"


@spec("linalg", "matmul")
def gen_matmul(draw, name):
    ctx = Ctx(draw)
    k = draw(st.integers(0, 3))
    da, db = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = shape(draw, 0, 2, 0, 2)
    sa = batch[len(batch) - max(da - 2, 0):] + tuple(draw(st.integers(0, 3)) for _ in range(min(da, 2) - 1)) + (k,)
    sb = (k,) if db == 1 else batch[len(batch) - max(db - 2, 0):] + (k, draw(st.integers(0, 3)))
    if ctx.bad(2):  # an inner dim that does not chain, or a 0-d operand
        sb = shape(draw, 0, 3, 0, 3)
    dt = draw(st.sampled_from((F32, F32, F64, I64)))
    dt_b = dt if not ctx.bad(2) else draw(st.sampled_from(DTYPES))
    a, b = tensor(draw, ctx, sa, dt), tensor(draw, ctx, sb, dt_b)
    return Call("matmul", cr.matmul, torch.matmul, (a, b), grad=not ctx.special, alt=_promoted(torch.matmul),
                alt_reason=PROMOTED)


@spec("linalg", "linear")
def gen_linear(draw, name):
    ctx = Ctx(draw)
    n_in, n_out = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    lead = shape(draw, 0, 2, 0, 3)
    dt = float_dtype(draw, ctx)
    x_shape = shape(draw, 0, 3, 0, 3) if ctx.bad() else lead + (n_in,)
    w_shape = shape(draw, 0, 3, 0, 3) if ctx.bad() else (n_out, n_in)
    x = tensor(draw, ctx, x_shape, dt)
    w = tensor(draw, ctx, w_shape, dt if not ctx.bad() else None)
    args = [x, w]
    if draw(st.booleans()):
        b_shape = shape(draw, 0, 2, 0, 3) if ctx.bad() else (n_out,)
        args.append(tensor(draw, ctx, b_shape, dt if not ctx.bad() else None))
    return Call("linear", F.linear, TF.linear, tuple(args), grad=not ctx.special, alt=_promoted(TF.linear),
                alt_reason=PROMOTED)


@spec("linalg", "softmax", "log_softmax")
def gen_softmax(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw), float_dtype(draw, ctx))
    return Call(name, getattr(F, name), getattr(TF, name), (x, dim(draw, ctx, ndim_of(x))), grad=not ctx.special)


def _int32_strides(fn):
    """``fn`` with strides beyond int32 cut to 2**30 (both mean one window per dim here): PyTorch refuses
    strides that do not fit in an int, chainrule takes any stride ≥ 1."""
    def ref(x, *args, stride=None, **kwargs):
        if isinstance(stride, int) and stride > 2**30:
            stride = 2**30
        elif isinstance(stride, (tuple, list)):
            stride = type(stride)(min(v, 2**30) if isinstance(v, int) else v for v in stride)
        return fn(x, *args, stride=stride, **kwargs)
    return ref


HUGE_STRIDE = "a stride beyond int32 gives one window per dim (PyTorch refuses strides that do not fit an int)"


# ===== convolution ========================================================================================

# NONFINITE_WEIGHTS: no NaN or ±inf is planted in conv weights. chainrule's im2col multiplies the zero padding
# by the kernel, so an infinite weight makes 0·inf = NaN at the border (IEEE), where PyTorch's implicit padding
# contributes nothing; that is a convention at non-finite weights, not an argument check. Non-finite inputs are
# planted as everywhere else.


def _torch_conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """F.conv2d, with nn.Conv2d's padding modes done as F.pad first."""
    if padding_mode != "zeros":
        if padding_mode not in ("reflect", "replicate", "circular"):
            raise ValueError(f"unknown padding_mode {padding_mode!r}")
        ph, pw = (padding, padding) if isinstance(padding, int) else padding
        if ph or pw:
            x = TF.pad(x, (pw, pw, ph, ph), mode=padding_mode)
        padding = 0
    return TF.conv2d(x, w, bias, stride, padding, dilation, groups)


def conv_common(draw, ctx: Ctx, kwargs: dict) -> None:
    if draw(st.booleans()):
        kwargs["stride"] = pair_arg(draw, ctx, (1, 1, 2, 3), (0, -1))
    if draw(st.booleans()):
        kwargs["dilation"] = pair_arg(draw, ctx, (1, 1, 2), (0, -1))


@spec("conv", "conv2d")
def gen_conv2d(draw, name):
    ctx = Ctx(draw)
    groups = draw(st.sampled_from((1, 1, 1, 2, 3)))
    c, f = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n = draw(st.integers(0 if one_in(draw, 8) else 1, 2))
    h, w = draw(st.integers(kh, 7)), draw(st.integers(kw, 7))
    if ctx.bad():
        h, w = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    kind = draw(st.integers(0, 9))
    x_shape = (n, c, h, w) if kind <= 7 else (c, h, w)
    if ctx.bad(5):
        x_shape = shape(draw, 0, 5, 1, 3)
    w_shape = shape(draw, 0, 5, 1, 3) if ctx.bad(5) else (f, c // groups, kh, kw)
    dt = float_dtype(draw, ctx)
    x = tensor(draw, ctx, x_shape, dt)
    wt = tensor(draw, ctx, w_shape, dt if not ctx.bad(5) else None, special=0)  # see NONFINITE_WEIGHTS
    kwargs = {}
    if draw(st.booleans()):
        kwargs["bias"] = tensor(draw, ctx, (f,) if not ctx.bad() else (f + 1,), dt)
    conv_common(draw, ctx, kwargs)
    if draw(st.booleans()):
        kwargs["padding"] = pair_arg(draw, ctx, (0, 0, 1, 2), (-1,))
        if one_in(draw, 4):
            kwargs["padding"] = choice(draw, ctx, ("same", "valid"), ("bogus",))
    if groups != 1 or ctx.bad():
        kwargs["groups"] = groups if not ctx.bad(2) else draw(st.sampled_from((0, -1, 4, "2", 1.5)))
    if one_in(draw, 4) and not isinstance(kwargs.get("padding", 0), str):
        kwargs["padding_mode"] = choice(draw, ctx, ("reflect", "replicate", "circular", "zeros"), ("bogus", None))
    return Call("conv2d", F.conv2d, _torch_conv2d, (x, wt), kwargs, grad=not ctx.special, tol=3)


@spec("conv", "conv_transpose2d")
def gen_conv_transpose2d(draw, name):
    ctx = Ctx(draw)
    groups = draw(st.sampled_from((1, 1, 1, 2)))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n = draw(st.integers(0 if one_in(draw, 8) else 1, 2))
    h, w = draw(st.integers(1 if not ctx.bad() else 0, 4)), draw(st.integers(1 if not ctx.bad() else 0, 4))
    kind = draw(st.integers(0, 9))
    x_shape = (n, c_in, h, w) if kind <= 7 else (c_in, h, w)
    if ctx.bad(5):
        x_shape = shape(draw, 0, 5, 1, 3)
    w_shape = shape(draw, 0, 5, 1, 3) if ctx.bad(5) else (c_in, c_out // groups, kh, kw)
    dt = float_dtype(draw, ctx)
    x = tensor(draw, ctx, x_shape, dt)
    wt = tensor(draw, ctx, w_shape, dt if not ctx.bad(5) else None, special=0)  # see NONFINITE_WEIGHTS
    kwargs = {}
    if draw(st.booleans()):
        kwargs["bias"] = tensor(draw, ctx, (c_out,) if not ctx.bad() else (c_out + 1,), dt)
    conv_common(draw, ctx, kwargs)
    if draw(st.booleans()):
        kwargs["padding"] = pair_arg(draw, ctx, (0, 0, 1), (-1,))
    if draw(st.booleans()):
        stride = kwargs.get("stride", 1)
        small = min(stride) if isinstance(stride, (tuple, list)) and stride and \
            all(isinstance(v, int) for v in stride) else stride if isinstance(stride, int) else 1
        kwargs["output_padding"] = pair_arg(draw, ctx, tuple(range(max(min(small, 3), 1))), (-1, 2, 3))
    if groups != 1 or ctx.bad():
        kwargs["groups"] = groups if not ctx.bad(2) else draw(st.sampled_from((0, -1, 3, "2")))
    return Call("conv_transpose2d", F.conv_transpose2d, TF.conv_transpose2d, (x, wt), kwargs,
                grad=not ctx.special, tol=3, alt=_int32_strides(TF.conv_transpose2d), alt_reason=HUGE_STRIDE)


# ===== pooling ============================================================================================


def pool_input(draw, ctx: Ctx, min_side: int = 1):
    n, c = draw(st.integers(0 if one_in(draw, 8) else 1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(min_side, 7)), draw(st.integers(min_side, 7))
    if ctx.bad():
        c, h = draw(st.integers(0, 1)), draw(st.integers(0, 1))
    x_shape = (n, c, h, w) if draw(st.integers(0, 4)) else (c, h, w)
    if ctx.bad(5):
        x_shape = shape(draw, 0, 5, 1, 3)
    return tensor(draw, ctx, x_shape, float_dtype(draw, ctx))


def pool_window(draw, ctx: Ctx, kwargs: dict, dilation: bool) -> None:
    """kernel_size, stride, padding (≤ kernel // 2 when tame) and dilation."""
    kernel = pair_arg(draw, ctx, (1, 2, 2, 3), (0, -1, HUGE))
    kwargs["kernel_size"] = kernel
    if draw(st.booleans()):
        kwargs["stride"] = pair_arg(draw, ctx, (1, 2, 3), (0, -1)) if draw(st.integers(0, 5)) else \
            draw(st.sampled_from((None, ())))
    if draw(st.booleans()):
        small = min(kernel) if isinstance(kernel, (tuple, list)) and kernel and \
            all(isinstance(v, int) for v in kernel) else kernel if isinstance(kernel, int) else 1
        kwargs["padding"] = pair_arg(draw, ctx, tuple(range(max(min(small, 7) // 2, 0) + 1)), (-1, 2, 3))
    if dilation and draw(st.booleans()):
        kwargs["dilation"] = pair_arg(draw, ctx, (1, 2), (0, -1))
    if draw(st.booleans()):
        kwargs["ceil_mode"] = flag(draw, ctx)


@spec("pool", "max_pool2d")
def gen_max_pool2d(draw, name):
    ctx = Ctx(draw)
    x = pool_input(draw, ctx)
    kwargs = {}
    pool_window(draw, ctx, kwargs, dilation=True)
    if draw(st.booleans()):
        kwargs["return_indices"] = flag(draw, ctx)
    return Call("max_pool2d", F.max_pool2d, TF.max_pool2d, (x,), kwargs, grad=not ctx.special,
                alt=_int32_strides(TF.max_pool2d), alt_reason=HUGE_STRIDE)


@spec("pool", "avg_pool2d")
def gen_avg_pool2d(draw, name):
    ctx = Ctx(draw)
    x = pool_input(draw, ctx)
    kwargs = {}
    pool_window(draw, ctx, kwargs, dilation=False)
    if draw(st.booleans()):
        kwargs["count_include_pad"] = flag(draw, ctx)
    if draw(st.booleans()):
        kwargs["divisor_override"] = int_arg(draw, ctx, (None, 1, 3, -2), (0, 1.5, "2"))
    return Call("avg_pool2d", F.avg_pool2d, TF.avg_pool2d, (x,), kwargs, grad=not ctx.special,
                alt=_int32_strides(TF.avg_pool2d), alt_reason=HUGE_STRIDE)


@spec("pool", "lp_pool2d")
def gen_lp_pool2d(draw, name):
    ctx = Ctx(draw)
    x = pool_input(draw, ctx)
    norm = real(draw, ctx, (1, 2, 2, 3, 1.5, 2.0, float("inf")), (0, -1, "2", None))
    kwargs = {}
    pool_window(draw, ctx, kwargs, dilation=False)
    kwargs.pop("padding", None)  # PyTorch's lp_pool2d has no padding (chainrule's is an extension)
    return Call("lp_pool2d", F.lp_pool2d, TF.lp_pool2d, (x, norm), kwargs, grad=not ctx.special,
                alt=_int32_strides(TF.lp_pool2d), alt_reason=HUGE_STRIDE)


@spec("pool", "adaptive_avg_pool2d")
def gen_adaptive_avg_pool2d(draw, name):
    ctx = Ctx(draw)
    x = pool_input(draw, ctx)
    size = choice(draw, ctx, (1, 2, 3, 4, 5, (2, 3), (None, 2), (3, None), [2, 2], None),
                  (0, -1, (1, 2, 3), (1,), "2", 1.5, HUGE, (HUGE, 1)))
    return Call("adaptive_avg_pool2d", F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, (x, size),
                grad=not ctx.special,
                alt=lambda x, size: TF.adaptive_avg_pool2d(x, (None, None) if size is None else size),
                alt_reason="adaptive_avg_pool2d(x, None) keeps both sizes, as (None, None) does")


# ===== losses =============================================================================================


def reduction(draw, ctx: Ctx, kwargs: dict) -> None:
    if draw(st.booleans()):
        kwargs["reduction"] = choice(draw, ctx, ("mean", "sum", "none"), ("bogus", None, "elementwise_mean"))


def class_input(draw, ctx: Ctx, dt):
    n, c = draw(st.integers(0 if one_in(draw, 6) else 1, 3)), draw(st.integers(1 if not ctx.bad() else 0, 4))
    kind = draw(st.integers(0, 9))
    x_shape = (n, c) if kind <= 5 else (c,) if kind <= 7 else (n, c, draw(st.integers(0, 3)))
    if ctx.bad(6):
        x_shape = ()
    return tensor(draw, ctx, x_shape, dt), x_shape


def class_target(draw, ctx: Ctx, x_shape, soft: bool):
    c = x_shape[1] if len(x_shape) >= 2 else x_shape[0] if x_shape else 2
    t_shape = tuple(s for i, s in enumerate(x_shape) if i != (1 if len(x_shape) >= 2 else 0))
    if ctx.bad():  # a batch size that does not match, or a random shape
        t_shape = ((t_shape[0] + 1,) + t_shape[1:]) if t_shape else shape(draw, 0, 2, 0, 3)
    if soft:
        t = tensor(draw, ctx, x_shape if not ctx.bad() else t_shape, F32 if not ctx.bad() else F64)
        return np.asarray(np.abs(t) / max(float(np.abs(t).sum()), 1.0)) if isinstance(t, np.ndarray) and \
            draw(st.booleans()) else t
    out_of_range = ctx.bad(2)
    t = array(draw, ctx, t_shape, I64 if not ctx.bad() else draw(st.sampled_from((F32, BOOL))),
              low=-1 if out_of_range and one_in(draw, 2) else 0, high=c if out_of_range else max(c - 1, 0))
    if ctx.bad(6):
        return draw(st.sampled_from(WRONG_TENSORS))
    return Const(t) if t.dtype.kind != "f" else t


@spec("loss", "cross_entropy", "nll_loss")
def gen_class_loss(draw, name):
    ctx = Ctx(draw)
    dt = float_dtype(draw, ctx)
    x, x_shape = class_input(draw, ctx, dt)
    soft = name == "cross_entropy" and one_in(draw, 3)
    target = class_target(draw, ctx, x_shape, soft)
    c = x_shape[1] if len(x_shape) >= 2 else x_shape[0] if x_shape else 2
    kwargs = {}
    if draw(st.booleans()):
        kwargs["weight"] = Const(array(draw, ctx, (c,) if not ctx.bad() else (c + 1,), dt, positive=True, special=0))
    if draw(st.booleans()):
        kwargs["ignore_index"] = int_arg(draw, ctx, (-100, 0, 1, -1, 2) if not soft else (-100, -1), ("0", 1.5))
    reduction(draw, ctx, kwargs)
    if name == "cross_entropy" and draw(st.booleans()):
        kwargs["label_smoothing"] = real(draw, ctx, (0.0, 0.1, 0.5, 1.0), (-0.1, 1.5))
    return Call(name, getattr(F, name), getattr(TF, name), (x, target), kwargs, grad=not ctx.special, tol=3)


def _sigmoid(a):
    return np.asarray(1 / (1 + np.exp(-a))).astype(a.dtype)


def weight_shape(draw, ctx: Ctx, s: tuple) -> tuple:
    """A shape that broadcasts to ``s`` (a suffix with some 1s); wild: any shape."""
    if ctx.bad():
        return shape(draw, 0, 3, 0, 3)
    suffix = s[len(s) - draw(st.integers(0, len(s))):]
    return tuple(1 if draw(st.booleans()) else n for n in suffix)


@spec("loss", "binary_cross_entropy")
def gen_bce(draw, name):
    ctx = Ctx(draw)
    dt = float_dtype(draw, ctx)
    s = shape(draw, 0, 3, 0, 3)
    x = tensor(draw, ctx, s, dt)
    if isinstance(x, np.ndarray) and x.dtype.kind == "f" and not ctx.bad(2):
        x = _sigmoid(x)  # probabilities; raw normals (outside [0, 1]) when wild
    t = tensor(draw, ctx, s if not ctx.bad() else shape(draw, 0, 3, 0, 3), dt if not ctx.bad() else None)
    if isinstance(t, np.ndarray) and t.dtype.kind == "f" and not ctx.bad(2):
        t = _sigmoid(t)
    kwargs = {}
    if draw(st.booleans()):
        kwargs["weight"] = Const(array(draw, ctx, weight_shape(draw, ctx, s), dt, special=0))
    reduction(draw, ctx, kwargs)
    return Call(name, F.binary_cross_entropy, TF.binary_cross_entropy, (x, t), kwargs, grad=not ctx.special)


@spec("loss", "binary_cross_entropy_with_logits")
def gen_bce_logits(draw, name):
    ctx = Ctx(draw)
    dt = float_dtype(draw, ctx)
    s = shape(draw, 0, 3, 0, 3)
    x = tensor(draw, ctx, s, dt)
    t = tensor(draw, ctx, s if not ctx.bad() else shape(draw, 0, 3, 0, 3), dt if not ctx.bad() else None)
    if isinstance(t, np.ndarray) and t.dtype.kind == "f":
        t = _sigmoid(t)
    kwargs = {}
    for key in ("weight", "pos_weight"):
        if draw(st.booleans()):  # PyTorch refuses weights that require grad: constants
            kwargs[key] = Const(array(draw, ctx, weight_shape(draw, ctx, s), dt, positive=True, special=0))
    reduction(draw, ctx, kwargs)
    return Call(name, F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, (x, t), kwargs,
                grad=not ctx.special)


@spec("loss", "mse_loss", "l1_loss", "smooth_l1_loss")
def gen_regression_loss(draw, name):
    ctx = Ctx(draw)
    dt = float_dtype(draw, ctx)
    sa, sb = two_shapes(draw, ctx)
    if draw(st.integers(0, 2)):
        sb = sa
    x = tensor(draw, ctx, sa, dt)
    t = tensor(draw, ctx, sb, dt if not ctx.bad() else None)
    kwargs = {}
    reduction(draw, ctx, kwargs)
    if name == "smooth_l1_loss" and draw(st.booleans()):
        kwargs["beta"] = real(draw, ctx, (1.0, 0.5, 0.0, 2), (-1.0,))
    return Call(name, getattr(F, name), getattr(TF, name), (x, t), kwargs, grad=not ctx.special)


@spec("loss", "gaussian_nll_loss")
def gen_gaussian_nll(draw, name):
    ctx = Ctx(draw)
    dt = float_dtype(draw, ctx)
    s = shape(draw, 1, 3, 0, 3)
    x = tensor(draw, ctx, s, dt)
    t = tensor(draw, ctx, s if not ctx.bad() else shape(draw, 0, 3, 0, 3), dt)
    kind = draw(st.integers(0, 6))
    v_shape = s if kind <= 3 else s[:-1] if kind == 4 else s[:-1] + (1,)
    if ctx.bad():
        v_shape = shape(draw, 0, 3, 0, 3)
    var = tensor(draw, ctx, v_shape, dt, positive=not ctx.bad())
    if one_in(draw, 8):
        var = real(draw, ctx, (0.5, 1, 2.0), (-1.0, 0.0))
        var = Raw(var) if isinstance(var, list) else var  # a list is an array-like in a tensor slot
    kwargs = {}
    if draw(st.booleans()):
        kwargs["full"] = flag(draw, ctx)
    if draw(st.booleans()):
        kwargs["eps"] = real(draw, ctx, (1e-6, 0.1, 1.0), (-1.0,))
    reduction(draw, ctx, kwargs)
    return Call(name, F.gaussian_nll_loss, TF.gaussian_nll_loss, (x, t, var), kwargs, grad=not ctx.special,
                alt=_gaussian_nll_alt, alt_reason="gaussian_nll_loss takes an int var as the float it is (PyTorch's "
                "check fails on ints), and a var with size 1 in any one dim (PyTorch: the last only)")


def _gaussian_nll_alt(x, t, v, **kwargs):
    if isinstance(v, int):
        v = float(v)
    elif isinstance(v, torch.Tensor) and v.ndim == x.ndim and v.shape != x.shape:
        v = v.expand_as(x)
    return TF.gaussian_nll_loss(x, t, v, **kwargs)


def _torch_mixture_density_nll(pi_logits, mu, log_sigma, target, reduction="mean"):
    """The same negative log-likelihood in PyTorch ops (PyTorch has no such loss)."""
    if pi_logits.ndim != 2 or mu.ndim not in (2, 3) or log_sigma.shape != mu.shape:
        raise ValueError("shapes do not fit")
    if mu.ndim == 2:
        mu, log_sigma, target = mu[..., None], log_sigma[..., None], target[..., None]
    if mu.shape[:2] != pi_logits.shape or target.shape != (mu.shape[0], mu.shape[2]):
        raise ValueError("shapes do not fit")
    z = (target[:, None] - mu) * torch.exp(-log_sigma)
    log_component = -(log_sigma + 0.5 * z * z + 0.5 * math.log(2 * math.pi)).sum(2)
    loss = -torch.logsumexp(torch.log_softmax(pi_logits, 1) + log_component, 1)
    return {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[reduction]()


@spec("loss", "mixture_density_nll")
def gen_mixture_density_nll(draw, name):
    ctx = Ctx(draw)
    dt = float_dtype(draw, ctx)
    n, k, d = draw(st.integers(0, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    two_d = draw(st.booleans())
    m_shape = (n, k) if two_d else (n, k, d)
    shapes = [(n, k), m_shape, m_shape, (n,) if two_d else (n, d)]
    if ctx.bad():
        shapes[draw(st.integers(0, 3))] = shape(draw, 0, 3, 0, 3)
    args = tuple(tensor(draw, ctx, s, dt) for s in shapes)
    kwargs = {}
    reduction(draw, ctx, kwargs)
    return Call(name, F.mixture_density_nll, _torch_mixture_density_nll, args, kwargs, grad=not ctx.special, tol=3)


# ===== normalization, dropout, embedding, one_hot ==========================================================


@spec("other", "batch_norm")
def gen_batch_norm(draw, name):
    ctx = Ctx(draw)
    dt = float_dtype(draw, ctx)
    n, c = draw(st.integers(1 if not ctx.bad() else 0, 3)), draw(st.integers(1 if not ctx.bad() else 0, 3))
    x_shape = (n, c) + shape(draw, 0, 2, 1, 3)
    if ctx.bad(5):
        x_shape = shape(draw, 0, 3, 0, 3)
    x = tensor(draw, ctx, x_shape, dt)
    training = flag(draw, ctx)

    def per_channel(positive=False, required=False):
        if not required and draw(st.integers(0, 3)) == 0:
            return None
        s = (c,) if not ctx.bad() else (c + 1,)
        return array(draw, ctx, s, dt if not ctx.bad() else draw(st.sampled_from((F32, F64))), positive=positive,
                     special=0)

    eval_mode = training is False and not ctx.wild
    rm, rv = per_channel(required=eval_mode), per_channel(positive=True, required=eval_mode)
    if training is True and x_shape and np.prod(x_shape) // max(c, 1) <= 1 and not ctx.wild:
        training = False
        rm, rv = per_channel(required=True), per_channel(positive=True, required=True)
    kwargs = {"training": training}
    for key in ("weight", "bias"):
        value = per_channel()
        if value is not None:
            kwargs[key] = value
    if draw(st.booleans()):
        kwargs["momentum"] = real(draw, ctx, (0.1, 0.0, 1.0, 0.5))
    if draw(st.booleans()):
        kwargs["eps"] = real(draw, ctx, (1e-5, 1e-3, 0.1))
    args = (x, None if rm is None else Const(rm), None if rv is None else Const(rv))
    return Call(name, F.batch_norm, TF.batch_norm, args, kwargs, grad=not ctx.special, tol=5,
                alt=lambda x, *a, **kw: x.detach().clone() if x.numel() == 0 and kw.get("training") is False else
                TF.batch_norm(x, *a, **kw),
                alt_reason="batch_norm in evaluation of an empty input is empty (PyTorch fails with no channels)")


@spec("other", "layer_norm")
def gen_layer_norm(draw, name):
    ctx = Ctx(draw)
    dt = float_dtype(draw, ctx)
    x_shape = shape(draw, 1, 3, 1 if not ctx.wild else 0, 3)
    x = tensor(draw, ctx, x_shape, dt)
    k = draw(st.integers(1, len(x_shape)))
    normalized = x_shape[len(x_shape) - k:]
    if len(normalized) == 1 and draw(st.booleans()):
        normalized = normalized[0]
    if ctx.bad(2):
        normalized = draw(st.sampled_from(("3", None, 2.5, (2.5,), -1, (), (7,), (0,))))
    kwargs = {}
    norm_shape = (normalized,) if isinstance(normalized, int) else normalized
    for key in ("weight", "bias"):
        if draw(st.booleans()) and isinstance(norm_shape, tuple) and all(isinstance(v, int) and v >= 0
                                                                          for v in norm_shape):
            kwargs[key] = tensor(draw, ctx, norm_shape if not ctx.bad() else shape(draw, 0, 2, 0, 3), dt)
    if draw(st.booleans()):
        kwargs["eps"] = real(draw, ctx, (1e-5, 1e-3, 0.1))
    return Call(name, F.layer_norm, TF.layer_norm, (x, normalized), kwargs, grad=not ctx.special, tol=5,
                alt=lambda x, n, *args, **kw: TF.layer_norm(x, (n,) if isinstance(n, int) else n, *args, **kw),
                alt_reason="layer_norm accepts an int normalized_shape, as nn.LayerNorm does")


def _check_dropout(out, expected, cr_args, cr_kwargs):
    """Dropout is random: the shape and dtype are PyTorch's, and each element is 0 or x/(1 − p) in training,
    x itself otherwise; the gradient has x's shape and dtype."""
    x = cr_args[0] if isinstance(cr_args[0], cr.Tensor) else cr.tensor(cr_args[0])
    got, want = out.numpy(), expected.detach().numpy()
    assert got.shape == want.shape and got.dtype == want.dtype, f"{got.shape} {got.dtype} vs {want.shape} {want.dtype}"
    p = cr_args[1] if len(cr_args) > 1 else 0.5
    xs = x.numpy()
    if not cr_kwargs.get("training", True) or p == 0:
        np.testing.assert_array_equal(got, xs)
        return
    dropped = (got == 0) | (np.isnan(got) & ~np.isfinite(xs))  # ±inf · 0 is NaN, in PyTorch too
    if p == 1:
        assert np.all(dropped), "p = 1 must drop every element"
        return
    kept = np.isclose(got, xs / (1 - p), rtol=1e-5, atol=1e-6, equal_nan=True)
    assert np.all(kept | dropped), "an element is neither dropped nor scaled by 1/(1 − p)"
    if out.requires_grad:
        out.sum().backward()
        assert x.grad is not None and x.grad.shape == x.shape and x.grad.dtype == x.dtype


@spec("other", "dropout")
def gen_dropout(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw), float_dtype(draw, ctx))
    p = real(draw, ctx, (0.0, 0.5, 0.2, 1.0, 1), (-0.1, 1.5))
    kwargs = {}
    if draw(st.booleans()):
        kwargs["training"] = flag(draw, ctx)
    if one_in(draw, 4):  # chainrule's extension: the mask's random generator (built after the draw: fixed labels)
        which = choice(draw, ctx, ("none", "generator"), ("abc", 5, "RandomState"))
        kwargs["generator"] = {"none": None, "generator": np.random.default_rng(0),
                               "RandomState": np.random.RandomState(0)}.get(which, which)
    return Call(name, F.dropout, _torch_dropout, (x, p), kwargs, check=_check_dropout)


def _torch_dropout(x, p=0.5, training=True, generator=None):
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError("generator must be a numpy.random.Generator")
    return TF.dropout(x, p, training)


@spec("other", "embedding")
def gen_embedding(draw, name):
    ctx = Ctx(draw)
    v, d = draw(st.integers(1 if not ctx.bad() else 0, 4)), draw(st.integers(0, 3))
    out_of_range = ctx.bad(2)
    idx = array(draw, ctx, shape(draw, 0, 3, 0, 3), I64 if not ctx.bad() else draw(st.sampled_from((F32, BOOL))),
                low=-1 if out_of_range and one_in(draw, 2) else 0, high=v if out_of_range else max(v - 1, 0))
    idx = Const(idx) if not ctx.bad(5) else draw(st.sampled_from(WRONG_TENSORS))
    weight = tensor(draw, ctx, (v, d) if not ctx.bad(5) else shape(draw, 0, 3, 0, 3), float_dtype(draw, ctx))
    kwargs = {}
    if draw(st.booleans()):
        kwargs["padding_idx"] = int_arg(draw, ctx, (None, 0, -1, v - 1), (v, -v - 1, "0", 1.5))
    return Call(name, F.embedding, TF.embedding, (idx, weight), kwargs, grad=not ctx.special)


@spec("other", "one_hot")
def gen_one_hot(draw, name):
    ctx = Ctx(draw)
    c = draw(st.integers(1, 4))
    out_of_range = ctx.bad(2)
    t = array(draw, ctx, shape(draw, 0, 3, 0 if ctx.wild else 1, 3),
              I64 if not ctx.bad() else draw(st.sampled_from((F32, BOOL))),
              low=-1 if out_of_range and one_in(draw, 2) else 0, high=c if out_of_range else c - 1)
    t = Const(t) if not ctx.bad(5) else draw(st.sampled_from(WRONG_TENSORS))
    args = (t,)
    if draw(st.integers(0, 3)):
        args = (t, int_arg(draw, ctx, (c, c, c + 2, -1), (0, -2, HUGE, "3", 2.5, None)))
    return Call(name, F.one_hot, TF.one_hot, args)


# ===== picking by index, sorting, running sums ===========================================================


def _normalized(d, ndim):
    return d % max(ndim, 1) if isinstance(d, int) and not isinstance(d, bool) else 0


def _same_picks(d, pair):
    """A comparison for inputs with ties, where PyTorch and chainrule may pick different (equal) elements: the
    values must be PyTorch's, and each index must point at an element equal to its value (``pair``: the output
    is (values, indices); else it is the indices of a sort)."""
    def check(out, expected, args, kwargs):
        x = args[0].numpy()
        if pair:
            values, indices = out
            np.testing.assert_array_equal(values.numpy(), expected[0].detach().numpy())
            idx = indices.numpy()
            assert idx.shape == tuple(expected[1].shape) and idx.dtype == np.int64
            if x.ndim:
                if idx.ndim < x.ndim:
                    idx = np.expand_dims(idx, d)
                picked = np.take_along_axis(x, idx, d)
                np.testing.assert_array_equal(picked.reshape(values.shape), values.numpy())
        else:
            idx, theirs = out.numpy(), expected.numpy()
            assert idx.shape == theirs.shape and idx.dtype == np.int64
            if x.ndim:
                np.testing.assert_array_equal(np.take_along_axis(x, idx, d), np.take_along_axis(x, theirs, d))
    return check


def _has_ties(x) -> bool:
    return isinstance(x, np.ndarray) and (x.dtype.kind != "f" or np.unique(x).size < x.size)


@spec("indexing", "max", "min")
def gen_max_min(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw))
    ndim = ndim_of(x)
    kind = draw(st.integers(0, 3))
    fn, tfn = getattr(cr, name), getattr(torch, name)
    if kind == 0:
        return Call(name, fn, tfn, (x,), grad=not ctx.special)
    if kind == 3:  # a tensor second: the elementwise maximum/minimum
        other = tensor(draw, ctx, shape_of(x, (3,)) if not ctx.bad(2) else shape(draw))
        return Call((name, f"{name}imum"), fn, tfn, (x, other), grad=not ctx.special)
    d = dim(draw, ctx, ndim)
    kwargs = {"keepdim": flag(draw, ctx)} if draw(st.booleans()) else {}
    return Call(name, fn, tfn, (x, d), kwargs, grad=not ctx.special,
                check=_same_picks(_normalized(d, ndim), True) if _has_ties(x) else None,
                alt=(lambda x, d, keepdim=False: torch.amax(x, tuple(range(x.ndim)), keepdim=keepdim) if name == "max"
                     else torch.amin(x, tuple(range(x.ndim)), keepdim=keepdim)) if d is None else None,
                alt_reason=f"{name}(x, None) is {name}(x), dim's default (keepdim kept)")


@spec("indexing", "median")
def gen_median(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw), choices=(F32, F64, I64) if not ctx.wild else DTYPES)
    ndim = ndim_of(x)
    if draw(st.booleans()):
        return Call("median", cr.median, torch.median, (x,), grad=not ctx.special and not _has_ties(x))
    d = dim(draw, ctx, ndim)
    if d is None:
        return Call("median", cr.median, torch.median, (x,), grad=not ctx.special and not _has_ties(x))
    kwargs = {"keepdim": flag(draw, ctx)} if draw(st.booleans()) else {}
    return Call("median", cr.median, torch.median, (x, d), kwargs, grad=not ctx.special,
                check=_same_picks(_normalized(d, ndim), True) if _has_ties(x) else None)


@spec("indexing", "sort", "argsort")
def gen_sort(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw))
    ndim = ndim_of(x)
    d = dim(draw, ctx, ndim)
    args, kwargs = (x, d) if draw(st.booleans()) else (x,), {}
    if draw(st.booleans()):
        kwargs["descending"] = flag(draw, ctx)
    if draw(st.booleans()):
        kwargs["stable"] = flag(draw, ctx)
    used = _normalized(d if len(args) == 2 else -1, ndim)
    if "stable" in kwargs and len(args) == 2:  # torch's sort and argsort take dim by keyword there
        args, kwargs = (x,), {**kwargs, "dim": d}
    return Call(name, getattr(cr, name), getattr(torch, name), args, kwargs, grad=not ctx.special,
                check=_same_picks(used, name == "sort") if _has_ties(x) else None)


@spec("indexing", "topk")
def gen_topk(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw), choices=(F32, F64, I64) if not ctx.wild else DTYPES)
    ndim = ndim_of(x)
    d = dim(draw, ctx, ndim)
    n = shape_of(x, (3,))[_normalized(d, ndim)] if ndim else 1
    k = int_arg(draw, ctx, tuple(range(n + 1)), (n + 1, -1))
    kwargs = {"dim": d}
    if draw(st.booleans()):
        kwargs["largest"] = flag(draw, ctx)
    ties = _has_ties(x)
    return Call("topk", cr.topk, torch.topk, (x, k), kwargs, grad=not ctx.special,
                check=_same_picks(_normalized(d, ndim), True) if ties else None)


@spec("indexing", "cumsum")
def gen_cumsum(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw))
    kwargs = {}
    if draw(st.integers(0, 3)) == 0:
        kwargs["dtype"] = draw(st.sampled_from((cr.float64, cr.int64))) if not ctx.bad(2) else "bogus"
    def ref(x, d, dtype=None):
        return torch.cumsum(x, d, dtype=None if dtype is None else torch_dtype(dtype))
    # (an integer result has no gradient: PyTorch refuses the call when the input requires one, so none is asked)
    grad = not ctx.special and kwargs.get("dtype") != cr.int64
    return Call("cumsum", cr.cumsum, ref, (x, dim(draw, ctx, ndim_of(x))), kwargs, grad=grad, tol=4.0)


def _index_for(draw, ctx, x_shape, d, *, same_size=False, distinct=False):
    """An int64 index for gather/scatter along ``d``: x's number of dims, no larger than x off ``d``, values in
    [0, n) (wild: out of range, a float or bool dtype, or a wrong number of dims)."""
    ndim = max(len(x_shape), 1)
    n = x_shape[d] if x_shape else 1
    sizes = [draw(st.integers(0, m)) if not same_size else m for m in (x_shape or (1,))]
    if distinct:
        sizes[d] = min(sizes[d], n)
    else:
        sizes[d] = draw(st.integers(0, 4)) if not same_size else n
    if ctx.bad(3):
        sizes = list(shape(draw, 0, 3, 0, 3))
        ndim = len(sizes)
    if distinct and n and len(sizes) == max(len(x_shape), 1) and sizes[d] <= n:
        draws = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random(
            tuple(n if i == d else m for i, m in enumerate(sizes)))
        index = np.take(np.argsort(draws, axis=d), np.arange(sizes[d]), axis=d).astype(np.int64)
    else:
        index = array(draw, ctx, sizes, I64, low=0, high=max(n - 1, 0))
    if ctx.bad(3) and index.size:
        index.reshape(-1)[0] = draw(st.sampled_from((n, -1, HUGE)))
    if ctx.bad(5):
        index = index.astype(draw(st.sampled_from((F32, BOOL))))
    if not x_shape and index.ndim == 1 and ndim == 1 and not ctx.wild:
        index = index.reshape(()) if index.size == 1 else np.zeros((), np.int64)
    return Const(index)


@spec("indexing", "gather")
def gen_gather(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, 0, 3))
    ndim = ndim_of(x)
    d = dim(draw, ctx, ndim)
    index = _index_for(draw, ctx, shape_of(x), _normalized(d, ndim))
    return Call("gather", cr.gather, torch.gather, (x, d, index), grad=not ctx.special)


@spec("indexing", "scatter", "scatter_add")
def gen_scatter(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, 0, 3))
    ndim = ndim_of(x)
    d = dim(draw, ctx, ndim)
    index = _index_for(draw, ctx, shape_of(x), _normalized(d, ndim), distinct=name == "scatter" and not ctx.wild)
    src_shape = index.array.shape if not ctx.bad(3) else shape(draw, 0, 3)
    dtype = x.dtype if isinstance(x, np.ndarray) and not ctx.bad(3) else draw(st.sampled_from(DTYPES))
    src = tensor(draw, ctx, src_shape, dtype)
    if name == "scatter" and draw(st.integers(0, 2)) == 0 and not (isinstance(x, np.ndarray) and x.dtype.kind == "b"):
        value = real(draw, ctx, (0.5, -2.0, 3.0), ("x",)) if isinstance(x, np.ndarray) and x.dtype.kind == "f" else 2
        return Call("scatter", cr.scatter, torch.scatter, (x, d, index), {"value": value}, grad=not ctx.special)
    return Call(name, getattr(cr, name), getattr(torch, name), (x, d, index, src), grad=not ctx.special, tol=4.0)


@spec("indexing", "index_select")
def gen_index_select(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, 0, 3))
    ndim = ndim_of(x)
    d = dim(draw, ctx, ndim)
    n = shape_of(x, (3,))[_normalized(d, ndim)] if ndim else 1
    index = array(draw, ctx, (draw(st.integers(0, 4)),) if not ctx.bad(3) else shape(draw, 0, 2, 0, 2), I64,
                  low=0 if not ctx.bad(3) else -1, high=max(n - 1, 0) if not ctx.bad(3) else n)
    if n == 0 and index.size and not ctx.wild:
        index = index[:0]
    return Call("index_select", cr.index_select, torch.index_select, (x, d, Const(index)), grad=not ctx.special)


@spec("indexing", "masked_fill")
def gen_masked_fill(draw, name):
    ctx = Ctx(draw)
    x_shape, m_shape = two_shapes(draw, ctx)
    if not ctx.wild:  # the mask broadcasts to x's shape without growing it
        x_shape = tuple(np.broadcast_shapes(x_shape, m_shape))
    x = tensor(draw, ctx, x_shape)
    mask = Const(array(draw, ctx, m_shape, BOOL if not ctx.bad(3) else I64))
    value = draw(st.sampled_from((0.0, -1e9, 2, 0.5))) if not ctx.bad(3) else draw(st.sampled_from(("a", None, [1])))
    if isinstance(x, np.ndarray) and x.dtype.kind != "f" and isinstance(value, float) and not ctx.wild:
        value = 1
    return Call("masked_fill", cr.masked_fill, torch.masked_fill, (x, mask, value), grad=not ctx.special)


@spec("indexing", "mm", "bmm")
def gen_mm(draw, name):
    ctx = Ctx(draw)
    n, k, m = (draw(st.integers(0, 3)) for _ in range(3))
    batch = (draw(st.integers(0, 2)),) if name == "bmm" else ()
    sa, sb = batch + (n, k), batch + (k, m)
    if ctx.bad(2):
        sb = shape(draw, 1, 3, 0, 3)
    dt = draw(st.sampled_from((F32, F32, F64)))
    a, b = tensor(draw, ctx, sa, dt), tensor(draw, ctx, sb, dt if not ctx.bad(2) else draw(st.sampled_from(DTYPES)))
    tfn = getattr(torch, name)
    return Call(name, getattr(cr, name), tfn, (a, b), grad=not ctx.special, alt=_promoted(tfn),
                alt_reason=PROMOTED)


@spec("indexing", "t")
def gen_t(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, 0, 2 if not ctx.wild else 4))
    return Call("t", cr.t, torch.t, (x,), grad=not ctx.special)


@spec("indexing", "narrow")
def gen_narrow(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, 0 if ctx.wild else 1, 3))
    ndim = ndim_of(x)
    d = dim(draw, ctx, ndim)
    n = shape_of(x, (3,))[_normalized(d, ndim)] if ndim else 1
    start = int_arg(draw, ctx, tuple(range(-n, n + 1)), (n + 1, -n - 1))
    begin = start + n if isinstance(start, int) and not isinstance(start, bool) and start < 0 else start
    room = n - begin if isinstance(begin, int) and not isinstance(begin, bool) and 0 <= begin <= n else 0
    length = int_arg(draw, ctx, tuple(range(room + 1)), (room + 1, -1))
    return Call("narrow", cr.narrow, torch.narrow, (x, d, start, length), grad=not ctx.special)


@spec("indexing", "chunk")
def gen_chunk(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, 0 if ctx.wild else 1, 3))
    chunks = int_arg(draw, ctx, (1, 2, 3, 5), (0, -1))
    return Call("chunk", cr.chunk, torch.chunk, (x, chunks, dim(draw, ctx, ndim_of(x))), grad=not ctx.special)


@spec("other", "tril", "triu")
def gen_triangle(draw, name):
    ctx = Ctx(draw)
    x = tensor(draw, ctx, shape(draw, 2 if not ctx.wild else 0, 4))
    diagonal = int_arg(draw, ctx, (0, 1, -1, 3, -4), (1.5, "1"))
    return Call(name, getattr(cr, name), getattr(torch, name), (x, diagonal), grad=not ctx.special)


@spec("conv", "unfold")
def gen_unfold(draw, name):
    ctx = Ctx(draw)
    n, c, h, w = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(2, 6)), draw(st.integers(2, 6)))
    x = tensor(draw, ctx, (n, c, h, w) if not ctx.bad(3) else shape(draw, 0, 5), choices=(F32, F64))
    kwargs = {"dilation": pair_arg(draw, ctx, (1, 2), (0, -1)), "padding": pair_arg(draw, ctx, (0, 1), (-1,)),
              "stride": pair_arg(draw, ctx, (1, 2), (0, -1))}
    return Call("unfold", F.unfold, TF.unfold, (x, pair_arg(draw, ctx, (1, 2), (0, -1))), kwargs,
                grad=not ctx.special)


@spec("conv", "fold")
def gen_fold(draw, name):
    ctx = Ctx(draw)
    size = (draw(st.integers(2, 5)), draw(st.integers(2, 5)))
    k, stride, padding = draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 2))), draw(st.sampled_from((0, 1)))
    blocks = [(s + 2 * padding - k) // stride + 1 for s in size]
    rows, cols = draw(st.integers(1, 3)) * k * k, blocks[0] * blocks[1]
    u = tensor(draw, ctx, (draw(st.integers(1, 2)), rows, cols) if not ctx.bad(3) else shape(draw, 0, 4),
               choices=(F32, F64))
    out_size = size if not ctx.bad(3) else draw(st.sampled_from(((1, 1), (0, 3), (9, 9), "3")))
    return Call("fold", F.fold, TF.fold, (u, out_size, k), {"padding": padding, "stride": stride},
                grad=not ctx.special)


@spec("other", "scaled_dot_product_attention")
def gen_sdpa(draw, name):
    ctx = Ctx(draw)
    lead = shape(draw, 0, 2, 1, 3)
    length, source, e, ev = (draw(st.integers(1, 4)) for _ in range(4))
    dt = draw(st.sampled_from((F32, F64)))
    q = tensor(draw, ctx, lead + (length, e), dt, choices=(F32, F64))
    k = tensor(draw, ctx, lead + (source, e) if not ctx.bad(3) else shape(draw, 1, 3, 1, 3), dt, choices=(F32, F64))
    v = tensor(draw, ctx, lead + (source, ev), dt, choices=(F32, F64))
    kwargs = {}
    choice_ = draw(st.integers(0, 3))
    if choice_ == 1:
        kwargs["is_causal"] = True
    elif choice_ == 2:
        kwargs["attn_mask"] = Const(array(draw, ctx, (length, source), BOOL))
    elif choice_ == 3:
        kwargs["scale"] = real(draw, ctx, (0.5, 2.0), ())
    if ctx.bad(4):
        kwargs["dropout_p"] = draw(st.sampled_from((-0.5, 1.5, "0.1")))
    return Call(name, F.scaled_dot_product_attention, TF.scaled_dot_product_attention, (q, k, v), kwargs,
                grad=not ctx.special, tol=4.0)


# ===== the tests ==========================================================================================

register_math_specs(spec)  # log1p ... einsum, multinomial: tests/robustness/fuzz_math_specs.py
register_torch_layer_specs(spec)  # relu6 ... triplet_margin_loss: fuzz_torch_layers_specs.py
register_conv1d_norm_resample_specs(spec)  # conv1d ... pixel_shuffle: fuzz_conv1d_norm_resample.py


SETTINGS = {  # family → examples per op: about 4,000 cases in all
    "elementwise": 40, "reductions": 60, "shape": 60, "linalg": 70, "conv": 200, "pool": 110, "loss": 70,
    "other": 70, "indexing": 60,
}
COMMON = dict(deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def _fuzz_test(family: str):
    @pytest.mark.parametrize("op", sorted(SPECS[family]))
    @settings(max_examples=SETTINGS[family], **COMMON)
    @given(data=st.data())
    def test(op, data):
        run_case(SPECS[family][op](data.draw, op))

    test.__name__ = f"test_fuzz_{family}"
    return test


test_fuzz_elementwise = _fuzz_test("elementwise")
test_fuzz_reductions = _fuzz_test("reductions")
test_fuzz_shape = _fuzz_test("shape")
test_fuzz_linalg = _fuzz_test("linalg")
test_fuzz_conv = _fuzz_test("conv")
test_fuzz_pool = _fuzz_test("pool")
test_fuzz_loss = _fuzz_test("loss")
test_fuzz_other = _fuzz_test("other")
test_fuzz_indexing = _fuzz_test("indexing")


def test_zz_the_suite_ran_enough_cases():
    """Last in the module: when every generator above ran (the whole suite, not a -k selection), at least 3,000
    generated cases went through run_case. conftest.py prints the exact count at the end of the session."""
    from fuzz_helpers import CASES

    every_op = {name for family in SPECS.values() for name in family}
    if not every_op <= set(CASES):
        pytest.skip("only part of the fuzz suite was selected")
    assert sum(CASES.values()) >= 3000, f"only {sum(CASES.values())} cases ran"


def test_every_public_op_is_fuzzed():
    """Every function of cr.* that is an op, and every function of F.*, has a generator here."""
    fuzzed = {name for family in SPECS.values() for name in family}
    public = set(cr.ops.__all__) | {n for n in dir(F) if not n.startswith("_") and callable(getattr(F, n))}
    missing = sorted(public - fuzzed)
    assert not missing, f"ops without a fuzz generator: {missing}"
