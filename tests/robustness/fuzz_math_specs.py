"""Fuzz generators for the math ops beyond the core families: rounding and sign, the predicates, log1p ... tan,
atan2, lerp, fmod, remainder, prod, cumprod, std, norm, dist, the contractions (dot ... einsum), flip, roll, tile,
repeat_interleave, multinomial and normal. ``register(spec)`` adds them to test_fuzz_ops.SPECS.

Array-likes where PyTorch wants a Tensor are converted as ``cr.tensor`` does (judged generically by run_case).
Random ops (multinomial, normal) are compared by shape, dtype and the support of the values, not value by value.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from fuzz_helpers import Call, Const, Raw
from fuzz_strategies import (
    BOOL,
    DTYPES,
    F32,
    F64,
    I64,
    Ctx,
    dim,
    flag,
    float_dtype,
    int_arg,
    one_in,
    real,
    scalar,
    shape,
    tensor,
    two_shapes,
)
from hypothesis import strategies as st

import chainrule as cr

FLOAT_UNARY = ("log1p", "expm1", "log2", "log10", "exp2", "erf", "rsqrt", "reciprocal", "tan", "square")
STEPS = ("sign", "floor", "ceil", "round", "trunc", "nan_to_num")


def _ndim(x, default: int = 1) -> int:
    return x.ndim if isinstance(x, np.ndarray) else default


def _shape(x, default: tuple = (3,)) -> tuple:
    return x.shape if isinstance(x, np.ndarray) else default


def _operand(draw, ctx: Ctx, shape_):
    if one_in(draw, 5):
        return Raw(scalar(draw))
    return tensor(draw, ctx, shape_)


def _reduce_dims(draw, ctx: Ctx, ndim: int):
    """None, an int, or a non-empty tuple of distinct dims (PyTorch reads an empty tuple differently per op)."""
    kind = draw(st.integers(0, 5))
    if kind <= 1:
        return None
    if kind <= 3:
        return dim(draw, ctx, ndim)
    n = max(ndim, 1)
    picked = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    return tuple(d - n if draw(st.booleans()) else d for d in picked)


def _as_tensor_result(fn, lib):
    """A Python bool result (allclose, equal) as a 0-d bool tensor of ``lib`` (cr or torch)."""
    def wrapped(*args, **kwargs):
        out = fn(*args, **kwargs)
        return lib.tensor(out) if isinstance(out, bool) else out
    return wrapped


def register(spec) -> None:  # noqa: C901 - one generator per op family, registered together
    @spec("elementwise", *FLOAT_UNARY)
    def gen_float_unary(draw, name):
        ctx = Ctx(draw)
        x = tensor(draw, ctx, shape(draw), draw(st.sampled_from(DTYPES)))
        return Call(name, getattr(cr, name), getattr(torch, name), (x,), grad=not ctx.special)

    @spec("elementwise", *STEPS)
    def gen_step(draw, name):
        ctx = Ctx(draw)
        x = tensor(draw, ctx, shape(draw), draw(st.sampled_from(DTYPES)))
        kwargs = {}
        # (PyTorch's round refuses integer tensors when decimals is passed at all, even 0: floats only here)
        if name == "round" and one_in(draw, 3) and isinstance(x, np.ndarray) and x.dtype.kind == "f":
            kwargs["decimals"] = int_arg(draw, ctx, (0, 1, 2, -1), ())
        if name == "nan_to_num":
            for key in ("nan", "posinf", "neginf"):
                if one_in(draw, 2):
                    kwargs[key] = real(draw, ctx, (0.0, 1.5, -2.0, 100.0), ("x",))
        return Call(name, getattr(cr, name), getattr(torch, name), (x,), kwargs, grad=not ctx.special)

    @spec("elementwise", "isnan", "isinf", "isfinite", "logical_not")
    def gen_test(draw, name):
        ctx = Ctx(draw)
        x = tensor(draw, ctx, shape(draw))
        return Call(name, getattr(cr, name), getattr(torch, name), (x,), grad=False)

    @spec("elementwise", "logical_and", "logical_or", "logical_xor", "atan2", "fmod", "remainder")
    def gen_binary_more(draw, name):
        ctx = Ctx(draw)
        sa, sb = two_shapes(draw, ctx)
        a = tensor(draw, ctx, sa)
        b = _operand(draw, ctx, sb)
        # PyTorch's atan2 backward squares an integer operand in its own dtype: 2**40 squared overflows int64 there
        huge = isinstance(b, Raw) and isinstance(b.value, (int, np.integer)) and abs(int(b.value)) > 2**31
        return Call(name, getattr(cr, name), getattr(torch, name), (a, b), grad=not ctx.special and not huge)

    @spec("elementwise", "isclose", "allclose", "equal")
    def gen_close(draw, name):
        ctx = Ctx(draw)
        sa, sb = two_shapes(draw, ctx)
        if name == "equal" and one_in(draw, 2):
            sb = sa
        dt = draw(st.sampled_from(DTYPES))
        a = tensor(draw, ctx, sa, dt)
        b = tensor(draw, ctx, sb, dt if not ctx.bad(3) else draw(st.sampled_from(DTYPES)))
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and one_in(draw, 2):
            b = a.copy()  # equal values: the interesting case for equal and allclose
        kwargs = {}
        if name != "equal":
            if one_in(draw, 2):
                kwargs["rtol"] = real(draw, ctx, (1e-5, 0.0, 0.1), (-1.0,))
            if one_in(draw, 2):
                kwargs["atol"] = real(draw, ctx, (1e-8, 0.0, 0.5), (-1.0,))
            if one_in(draw, 2):
                kwargs["equal_nan"] = flag(draw, ctx)
        return Call(name, _as_tensor_result(getattr(cr, name), cr), _as_tensor_result(getattr(torch, name), torch),
                    (a, b), kwargs, grad=False)

    @spec("reductions", "any", "all", "count_nonzero")
    def gen_any_all(draw, name):
        ctx = Ctx(draw)
        x = tensor(draw, ctx, shape(draw))
        kwargs = {}
        if draw(st.integers(0, 3)):
            kwargs["dim"] = _reduce_dims(draw, ctx, _ndim(x))
        if name != "count_nonzero" and one_in(draw, 2):
            kwargs["keepdim"] = flag(draw, ctx)
        if name != "count_nonzero" and kwargs.get("dim") is None and "keepdim" in kwargs:
            kwargs.pop("dim", None)
            kwargs.pop("keepdim")  # PyTorch's any(x, keepdim=...) needs a dim
        return Call(name, getattr(cr, name), getattr(torch, name), (x,), kwargs, grad=False)

    @spec("indexing", "nonzero")
    def gen_nonzero(draw, name):
        ctx = Ctx(draw)
        x = tensor(draw, ctx, shape(draw))
        kwargs = {"as_tuple": flag(draw, ctx)} if one_in(draw, 2) else {}
        return Call(name, cr.nonzero, torch.nonzero, (x,), kwargs, grad=False)

    @spec("indexing", "masked_select")
    def gen_masked_select(draw, name):
        ctx = Ctx(draw)
        sa, sb = two_shapes(draw, ctx)
        x = tensor(draw, ctx, sa)
        mask = tensor(draw, ctx, sb, BOOL if not ctx.bad(3) else I64)
        mask = Const(mask) if isinstance(mask, np.ndarray) else mask
        return Call(name, cr.masked_select, torch.masked_select, (x, mask), grad=not ctx.special)

    @spec("elementwise", "lerp")
    def gen_lerp(draw, name):
        ctx = Ctx(draw)
        sa, sb = two_shapes(draw, ctx)
        dt = float_dtype(draw, ctx)
        s, e = tensor(draw, ctx, sa, dt), tensor(draw, ctx, sb, dt)
        if one_in(draw, 2):
            w = real(draw, ctx, (0.0, 0.25, 0.5, 0.75, 1.0, 2, -0.5), ("a",))
        else:
            w = tensor(draw, ctx, _shape(s, ()), dt)
        return Call(name, cr.lerp, torch.lerp, (s, e, w), grad=not ctx.special)

    @spec("reductions", "prod")
    def gen_prod(draw, name):
        ctx = Ctx(draw)
        x = tensor(draw, ctx, shape(draw, 0, 3))
        if isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.size and one_in(draw, 2):
            x.reshape(-1)[draw(st.integers(0, x.size - 1))] = 0.0  # the gradient's hard case
        args, kwargs = (x,), {}
        if draw(st.integers(0, 2)):
            args = (x, dim(draw, ctx, _ndim(x)))
            if one_in(draw, 2):
                kwargs["keepdim"] = flag(draw, ctx)
        if one_in(draw, 5):
            kwargs["dtype"] = draw(st.sampled_from((cr.float64, cr.int64))) if not ctx.bad(2) else "bogus"

        def ref(x, *a, dtype=None, **k):
            return torch.prod(x, *a, dtype=None if dtype is None else _torch_dtype(dtype), **k)
        def every_element(x, d, *a, dtype=None, **k):  # prod(x, None): chainrule's "all", as sum(x, None)
            if d is not None:
                raise TypeError("only dim=None is a documented extension")
            return torch.prod(x, dtype=None if dtype is None else _torch_dtype(dtype))
        grad = not ctx.special and kwargs.get("dtype") != cr.int64
        return Call(name, cr.prod, ref, args, kwargs, grad=grad, tol=4.0, alt=every_element,
                    alt_reason="prod(x, None) multiplies every element, as sum(x, None) sums them")

    @spec("indexing", "cumprod")
    def gen_cumprod(draw, name):
        ctx = Ctx(draw)
        x = tensor(draw, ctx, shape(draw, 0, 3))
        if isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.size and one_in(draw, 2):
            x.reshape(-1)[draw(st.integers(0, x.size - 1))] = 0.0
        return Call(name, cr.cumprod, torch.cumprod, (x, dim(draw, ctx, _ndim(x))), grad=not ctx.special, tol=4.0)

    @spec("reductions", "std")
    def gen_std(draw, name):
        ctx = Ctx(draw)
        x = tensor(draw, ctx, shape(draw), float_dtype(draw, ctx))
        kwargs = {}
        if draw(st.integers(0, 3)):
            kwargs["dim"] = _reduce_dims(draw, ctx, _ndim(x))
            if isinstance(kwargs["dim"], bool):  # std(x, True) is PyTorch's positional unbiased, never dim=True
                kwargs["dim"] = 10
        if one_in(draw, 2):
            kwargs["keepdim"] = flag(draw, ctx)
        if one_in(draw, 2):
            kwargs["correction"] = real(draw, ctx, (0, 1, 2), ("1",))
        return Call(name, cr.std, torch.std, (x,), kwargs, grad=not ctx.special)

    @spec("reductions", "norm")
    def gen_norm(draw, name):
        ctx = Ctx(draw)
        x = tensor(draw, ctx, shape(draw), float_dtype(draw, ctx))
        kwargs = {}
        p = draw(st.sampled_from((2, 1, 3, 0.5, math.inf, -math.inf, 0, "fro"))) if not ctx.bad(4) else \
            draw(st.sampled_from(("nuc", "max", None, [2])))
        kwargs["p"] = p
        if draw(st.integers(0, 3)):
            kwargs["dim"] = _reduce_dims(draw, ctx, _ndim(x))
            if p == "fro" and isinstance(kwargs["dim"], tuple) and len(kwargs["dim"]) > 2:
                kwargs["dim"] = kwargs["dim"][:2]
        if one_in(draw, 2):
            kwargs["keepdim"] = flag(draw, ctx)
        # the 0-"norm" counts: PyTorch's own backward of it fails, so gradients are compared for the others
        return Call(name, cr.norm, torch.norm, (x,), kwargs, grad=not ctx.special and p != 0)

    @spec("reductions", "dist")
    def gen_dist(draw, name):
        ctx = Ctx(draw)
        sa, sb = two_shapes(draw, ctx)
        dt = float_dtype(draw, ctx)
        a, b = tensor(draw, ctx, sa, dt), tensor(draw, ctx, sb, dt)
        p = draw(st.sampled_from((2, 1, 3, math.inf, -math.inf, 0))) if not ctx.bad(4) else "fro"
        return Call(name, cr.dist, torch.dist, (a, b, p), grad=not ctx.special and p != 0)

    @spec("linalg", "dot", "outer", "mv")
    def gen_vector_products(draw, name):
        ctx = Ctx(draw)
        n, m = draw(st.integers(0, 4)), draw(st.integers(0, 4))
        dt = draw(st.sampled_from((F32, F32, F64, I64)))
        sa, sb = {"dot": ((n,), (n,)), "outer": ((n,), (m,)), "mv": ((m, n), (n,))}[name]
        if ctx.bad(2):
            sb = shape(draw, 0, 2, 0, 4)
        a = tensor(draw, ctx, sa, dt)
        b = tensor(draw, ctx, sb, dt if not ctx.bad(3) else draw(st.sampled_from(DTYPES)))
        return Call(name, getattr(cr, name), getattr(torch, name), (a, b), grad=not ctx.special)

    @spec("linalg", "tensordot")
    def gen_tensordot(draw, name):
        ctx = Ctx(draw)
        k = draw(st.integers(0, 2))
        contracted = tuple(draw(st.integers(1, 3)) for _ in range(k))
        free_a = shape(draw, 0, 2, 1, 3)
        free_b = shape(draw, 0, 2, 1, 3)
        sa, sb = free_a + contracted, contracted + free_b
        if ctx.bad(2):
            sb = shape(draw, 0, 3, 0, 3)
        dt = draw(st.sampled_from((F32, F64)))
        a, b = tensor(draw, ctx, sa, dt), tensor(draw, ctx, sb, dt)
        dims = k if not ctx.bad(3) else draw(st.sampled_from((-1, 5, "2", ([0], [0, 1]))))
        return Call(name, cr.tensordot, torch.tensordot, (a, b, dims), grad=not ctx.special,
                    check=_finite_agree if ctx.special else None)

    @spec("linalg", "trace", "diag")
    def gen_diagonals(draw, name):
        ctx = Ctx(draw)
        nd = 2 if name == "trace" else draw(st.integers(1, 2))
        x = tensor(draw, ctx, shape(draw, nd, nd, 0, 4) if not ctx.bad(2) else shape(draw, 0, 3))
        if name == "trace":
            return Call(name, cr.trace, torch.trace, (x,), grad=not ctx.special)
        k = int_arg(draw, ctx, (0, 1, -1, 2, -3), (1.5,))
        return Call(name, cr.diag, torch.diag, (x, k), grad=not ctx.special)

    @spec("linalg", "einsum")
    def gen_einsum(draw, name):
        ctx = Ctx(draw)
        n, m, k, b = (draw(st.integers(1, 3)) for _ in range(4))
        cases = {
            "ij,jk->ik": [(n, m), (m, k)], "ij->ji": [(n, m)], "ii->i": [(n, n)], "ii": [(n, n)],
            "i,i->": [(n,), (n,)], "i,j->ij": [(n,), (m,)], "bij,bjk->bik": [(b, n, m), (b, m, k)],
            "...ij,...jk": [(b, n, m), (1, m, k)], "ij,jk,kl->il": [(n, m), (m, k), (k, 2)], "ij": [(n, m)],
            "bn,anm,bm->ba": [(b, n), (k, n, m), (b, m)],
        }
        equation = draw(st.sampled_from(sorted(cases)))
        shapes = cases[equation]
        if ctx.bad(2):
            shapes = [shape(draw, 0, 3, 0, 3) for _ in shapes]
        if ctx.bad(4):
            equation = draw(st.sampled_from(("ij->ik", "i1", "ij,jk->ii", "ij,,k")))
        dt = draw(st.sampled_from((F32, F32, F64)))
        xs = tuple(tensor(draw, ctx, s, dt) for s in shapes)
        return Call(name, cr.einsum, torch.einsum, (equation,) + xs, grad=not ctx.special,
                    check=_finite_agree if ctx.special else None)

    @spec("shape", "flip", "roll", "tile", "repeat_interleave")
    def gen_rearrange(draw, name):
        ctx = Ctx(draw)
        x = tensor(draw, ctx, shape(draw, 0, 3))
        nd = _ndim(x)
        if name == "flip":
            n = max(nd, 1)
            dims = tuple(draw(st.lists(st.integers(-n, n - 1), max_size=nd, unique_by=lambda d: d % n)))
            return Call(name, cr.flip, torch.flip, (x, dims if not ctx.bad(3) else (0, 0)), grad=not ctx.special)
        if name == "roll":
            if one_in(draw, 2):
                return Call(name, cr.roll, torch.roll, (x, int_arg(draw, ctx, (0, 1, -2, 5), ())),
                            grad=not ctx.special)
            d = dim(draw, ctx, nd)
            return Call(name, cr.roll, torch.roll, (x, int_arg(draw, ctx, (0, 1, -2, 5), ()), d),
                        grad=not ctx.special)
        if name == "tile":
            reps = tuple(draw(st.lists(st.integers(0 if ctx.wild else 1, 3), max_size=4)))
            return Call(name, cr.tile, torch.tile, (x, reps), grad=not ctx.special)
        d = dim(draw, ctx, nd) if one_in(draw, 2) else None
        if one_in(draw, 2):
            reps = int_arg(draw, ctx, (0, 1, 2, 3), (-1,))
            reps = "2" if reps is None else reps  # repeats=None is the one-argument form (input holds the counts)
        else:
            count = _shape(x)[d % max(nd, 1)] if d is not None and isinstance(d, int) and nd and -nd <= d < nd \
                else int(np.prod(_shape(x)))
            reps = Const(np.asarray(draw(st.lists(st.integers(0 if not ctx.wild else -1, 3), min_size=count,
                                                  max_size=count)), dtype=np.int64))
        return Call(name, cr.repeat_interleave, torch.repeat_interleave, (x, reps, d), grad=not ctx.special)

    @spec("other", "multinomial")
    def gen_multinomial(draw, name):
        ctx = Ctx(draw)
        w = tensor(draw, ctx, shape(draw, 1, 2, 1, 4), float_dtype(draw, ctx), positive=True)
        n = _shape(w)[-1] if isinstance(w, np.ndarray) and w.ndim else 3
        k = int_arg(draw, ctx, tuple(range(1, n + 1)), (0, -1))
        replacement = flag(draw, ctx) if one_in(draw, 2) else False
        if replacement is True and isinstance(k, int):
            k = k + 2
        return Call(name, cr.multinomial, torch.multinomial, (w, k, replacement), grad=False,
                    check=_check_categories)

    @spec("other", "normal")
    def gen_normal(draw, name):
        ctx = Ctx(draw)
        form = draw(st.integers(0, 2))
        if form == 0:
            size = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
            mean, std = real(draw, ctx, (0.0, 1.5, -2.0), ()), real(draw, ctx, (1.0, 0.5, 0.0), (-1.0,))
            return Call(name, cr.normal, torch.normal, (mean, std, size), grad=False, check=_check_normal)
        sa, sb = two_shapes(draw, ctx)
        dt = float_dtype(draw, ctx)
        mean = tensor(draw, ctx, sa, dt)
        std = tensor(draw, ctx, sb, dt, positive=True) if form == 1 else real(draw, ctx, (1.0, 0.5), (-1.0,))
        return Call(name, cr.normal, torch.normal, (mean, std), grad=False, check=_check_normal)


def _torch_dtype(dtype):
    from fuzz_strategies import torch_dtype

    return torch_dtype(np.dtype(dtype))


def _finite_agree(out, expected, cr_args, cr_kwargs):
    """A contraction of operands holding NaN or ±inf: which of inf − inf, 0·inf or inf each output meets depends on
    the order of the sums (PyTorch's and NumPy's differ). Shape and dtype must match, and the values wherever both
    are finite."""
    got, want = out.numpy(), expected.detach().numpy()
    assert got.shape == want.shape and got.dtype == want.dtype, f"{got.shape} {got.dtype} vs {want.shape} {want.dtype}"
    both = np.isfinite(got) & np.isfinite(want)
    np.testing.assert_allclose(got[both], want[both], rtol=2e-4, atol=2e-5 * max(1.0, float(np.abs(want[both]).max(
        initial=0.0))))


def _check_categories(out, expected, cr_args, cr_kwargs):
    """multinomial draws at random: PyTorch's shape and dtype, every index a category of positive weight, and
    distinct indices per row without replacement."""
    got, want = out.numpy(), expected.detach().numpy()
    assert got.shape == want.shape and got.dtype == want.dtype, f"{got.shape} {got.dtype} vs {want.shape} {want.dtype}"
    w = cr_args[0].numpy().reshape(-1, cr_args[0].shape[-1])
    rows = got.reshape(w.shape[0], -1)
    assert np.all(np.take_along_axis(w, rows, 1) > 0), "a category of zero weight was drawn"
    if not (cr_args[2] if len(cr_args) > 2 else False):
        assert all(len(set(r)) == len(r) for r in rows), "a category was drawn twice without replacement"


def _check_normal(out, expected, cr_args, cr_kwargs):
    """normal draws at random: PyTorch's shape and dtype, and finite values where the parameters are finite."""
    got, want = out.numpy(), expected.detach().numpy()
    assert got.shape == want.shape and got.dtype == want.dtype, f"{got.shape} {got.dtype} vs {want.shape} {want.dtype}"
    params = [a.numpy() for a in cr_args[:2] if isinstance(a, cr.Tensor)]
    if all(np.isfinite(p).all() for p in params):
        assert np.isfinite(got).all()

