"""Fuzz generators for the activations, distances and losses that follow PyTorch's names (relu6 ... glu,
cosine_similarity, pairwise_distance, normalize, bilinear, huber_loss, kl_div, margin_ranking_loss,
cosine_embedding_loss, triplet_margin_loss). ``register(spec)`` adds them to test_fuzz_ops.SPECS."""

from __future__ import annotations

import numpy as np
import torch.nn.functional as TF  # noqa: N812 - the usual alias
from fuzz_helpers import Call, Const
from fuzz_strategies import F32, F64, Ctx, dim, flag, float_dtype, real, shape, tensor, two_shapes
from hypothesis import strategies as st

import chainrule.nn.functional as F  # noqa: N812 - the usual alias

ACTIVATIONS = ("relu6", "selu", "silu", "mish", "hardswish", "hardsigmoid", "logsigmoid")


def _reduction(draw, ctx: Ctx, kwargs: dict, extra: tuple = ()) -> None:
    if draw(st.booleans()):
        kwargs["reduction"] = draw(st.sampled_from(("mean", "sum", "none") + extra)) if not ctx.bad(3) else \
            draw(st.sampled_from(("avg", None, 1)))


def register(spec) -> None:  # noqa: C901 - one generator per op group, registered together
    @spec("elementwise", *ACTIVATIONS)
    def gen_activation(draw, name):
        ctx = Ctx(draw)
        x = tensor(draw, ctx, shape(draw), float_dtype(draw, ctx))
        return Call(name, getattr(F, name), getattr(TF, name), (x,), grad=not ctx.special)

    @spec("elementwise", "hardtanh", "threshold")
    def gen_bounded(draw, name):
        ctx = Ctx(draw)
        x = tensor(draw, ctx, shape(draw), float_dtype(draw, ctx))
        if name == "hardtanh":
            low = real(draw, ctx, (-1.0, -2, 0.0, 0.5))
            high = real(draw, ctx, (1.0, 2, 0.5, 3.0))
            if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high and not ctx.wild:
                low, high = high, low
            return Call(name, F.hardtanh, TF.hardtanh, (x, low, high), grad=not ctx.special)
        th = real(draw, ctx, (0.0, 0.5, -1.0, 2))
        value = real(draw, ctx, (0.0, -2.0, 20, 1.5))
        return Call(name, F.threshold, TF.threshold, (x, th, value), grad=not ctx.special)

    @spec("elementwise", "prelu")
    def gen_prelu(draw, name):
        ctx = Ctx(draw)
        dt = float_dtype(draw, ctx)
        s = shape(draw, 0, 4, 1, 4)
        channels = s[1] if len(s) >= 2 else 1
        n = draw(st.sampled_from((1, channels))) if not ctx.bad() else draw(st.integers(0, 5))
        w = tensor(draw, ctx, (n,), dt)
        return Call(name, F.prelu, TF.prelu, (tensor(draw, ctx, s, dt), w), grad=not ctx.special)

    @spec("elementwise", "softmin", "glu")
    def gen_dim_activation(draw, name):
        ctx = Ctx(draw)
        s = shape(draw, 0 if ctx.wild else 1, 3, 0, 4)
        if name == "glu" and not ctx.wild:
            s = tuple(2 * d for d in s)  # every dim even: any dim may be halved
        x = tensor(draw, ctx, s, float_dtype(draw, ctx))
        d = dim(draw, ctx, len(s))
        return Call(name, getattr(F, name), getattr(TF, name), (x, d), grad=not ctx.special)

    @spec("other", "cosine_similarity", "pairwise_distance")
    def gen_distance(draw, name):
        ctx = Ctx(draw)
        dt = float_dtype(draw, ctx)
        sa, sb = two_shapes(draw, ctx)
        if draw(st.integers(0, 2)):
            sb = sa
        if not ctx.wild and (not sa or not sb):  # both libraries need a dim to reduce
            sa, sb = sa + (3,), sb + (3,)
        a, b = tensor(draw, ctx, sa, dt), tensor(draw, ctx, sb, dt if not ctx.bad() else None)
        kwargs = {}
        if name == "cosine_similarity":
            kwargs["dim"] = dim(draw, ctx, max(len(sa), len(sb)))
            if draw(st.booleans()):
                kwargs["eps"] = real(draw, ctx, (1e-8, 0.1), (-1.0,))
        else:
            if draw(st.booleans()):
                kwargs["p"] = real(draw, ctx, (2.0, 1.0, 3.0, 1, float("inf")), (-1.0,))
            if draw(st.booleans()):
                kwargs["eps"] = real(draw, ctx, (1e-6, 0.0, 0.1))
            if draw(st.booleans()):
                kwargs["keepdim"] = flag(draw, ctx)
        return Call(name, getattr(F, name), getattr(TF, name), (a, b), kwargs, grad=not ctx.special, tol=10.0)

    @spec("other", "normalize")
    def gen_normalize(draw, name):
        ctx = Ctx(draw)
        s = shape(draw, 1, 3, 0, 4)
        x = tensor(draw, ctx, s, float_dtype(draw, ctx))
        kwargs = {"dim": dim(draw, ctx, len(s))}
        if draw(st.booleans()):
            kwargs["p"] = real(draw, ctx, (2.0, 1.0, 3.0, float("inf")), (-2.0,))
        if draw(st.booleans()):
            kwargs["eps"] = real(draw, ctx, (1e-12, 0.5))
        return Call(name, F.normalize, TF.normalize, (x,), kwargs, grad=not ctx.special, tol=10.0)

    @spec("other", "bilinear")
    def gen_bilinear(draw, name):
        ctx = Ctx(draw)
        dt = draw(st.sampled_from((F32, F64)))
        lead = shape(draw, 0, 2, 1, 3)
        in1, in2, out = (draw(st.integers(1, 3)) for _ in range(3))
        x1 = tensor(draw, ctx, lead + (in1,), dt)
        x2 = tensor(draw, ctx, (lead if not ctx.bad() else shape(draw, 0, 2, 1, 3)) + (in2,), dt)
        w = tensor(draw, ctx, (out, in1, in2) if not ctx.bad() else (out, in2, in1), dt)
        args = (x1, x2, w) + ((tensor(draw, ctx, (out,), dt),) if draw(st.booleans()) else ())
        return Call(name, F.bilinear, TF.bilinear, args, grad=not ctx.special, tol=10.0)

    @spec("loss", "huber_loss")
    def gen_huber(draw, name):
        ctx = Ctx(draw)
        dt = float_dtype(draw, ctx)
        sa, sb = two_shapes(draw, ctx)
        if draw(st.integers(0, 2)):
            sb = sa
        kwargs = {}
        _reduction(draw, ctx, kwargs)
        if draw(st.booleans()):
            kwargs["delta"] = real(draw, ctx, (1.0, 0.5, 2, 0.01), (0.0, -1.0))
        x, t = tensor(draw, ctx, sa, dt), tensor(draw, ctx, sb, dt)
        return Call(name, F.huber_loss, TF.huber_loss, (x, t), kwargs, grad=not ctx.special)

    @spec("loss", "kl_div")
    def gen_kl_div(draw, name):
        ctx = Ctx(draw)
        dt = float_dtype(draw, ctx)
        s = shape(draw, 0, 3, 0, 4)
        kwargs = {}
        _reduction(draw, ctx, kwargs, ("batchmean",))
        if draw(st.booleans()):
            kwargs["log_target"] = draw(st.booleans())
        x = tensor(draw, ctx, s, dt)
        t = tensor(draw, ctx, s if not ctx.bad() else shape(draw, 0, 3, 0, 3), dt,
                   positive=not kwargs.get("log_target"))
        return Call(name, F.kl_div, TF.kl_div, (x, t), kwargs, grad=not ctx.special)

    @spec("loss", "margin_ranking_loss")
    def gen_margin_ranking(draw, name):
        ctx = Ctx(draw)
        dt = float_dtype(draw, ctx)
        s = shape(draw, 0, 2, 0, 4)
        signs = np.where(np.random.default_rng(draw(st.integers(0, 99))).random(s) < 0.5, 1.0, -1.0)
        y = Const(signs.astype(dt)) if not ctx.bad() else tensor(draw, ctx, s, dt)
        kwargs = {}
        _reduction(draw, ctx, kwargs)
        if draw(st.booleans()):
            kwargs["margin"] = real(draw, ctx, (0.0, 0.5, 1, -0.2))
        a = tensor(draw, ctx, s, dt)
        b = tensor(draw, ctx, s if not ctx.bad() else shape(draw, 0, 2, 0, 3), dt)
        return Call(name, F.margin_ranking_loss, TF.margin_ranking_loss, (a, b, y), kwargs, grad=not ctx.special)

    @spec("loss", "cosine_embedding_loss")
    def gen_cosine_embedding(draw, name):
        ctx = Ctx(draw)
        dt = draw(st.sampled_from((F32, F64)))
        s = shape(draw, 1, 2, 1, 4)
        labels = np.where(np.random.default_rng(draw(st.integers(0, 99))).random(s[:-1]) < 0.5, 1.0, -1.0)
        y = Const(labels.astype(dt)) if not ctx.bad() else tensor(draw, ctx, shape(draw, 0, 2, 0, 3), dt)
        kwargs = {}
        _reduction(draw, ctx, kwargs)
        if draw(st.booleans()):
            kwargs["margin"] = real(draw, ctx, (0.0, 0.5, -0.5))
        a = tensor(draw, ctx, s, dt)
        b = tensor(draw, ctx, s if not ctx.bad() else shape(draw, 0, 2, 0, 3), dt)
        return Call(name, F.cosine_embedding_loss, TF.cosine_embedding_loss, (a, b, y), kwargs,
                    grad=not ctx.special, tol=10.0)

    @spec("loss", "triplet_margin_loss")
    def gen_triplet(draw, name):
        ctx = Ctx(draw)
        dt = draw(st.sampled_from((F32, F64)))
        s = shape(draw, 1, 2, 1, 4)
        kwargs = {}
        _reduction(draw, ctx, kwargs)
        if draw(st.booleans()):
            kwargs["margin"] = real(draw, ctx, (1.0, 0.5, 2))
        if draw(st.booleans()):
            kwargs["p"] = real(draw, ctx, (2.0, 1.0, 3.0), (-1.0,))
        if draw(st.booleans()):
            kwargs["swap"] = draw(st.booleans())
        args = tuple(tensor(draw, ctx, s if not ctx.bad() else shape(draw, 0, 3, 1, 3), dt) for _ in range(3))
        return Call(name, F.triplet_margin_loss, TF.triplet_margin_loss, args, kwargs, grad=not ctx.special,
                    tol=10.0)
