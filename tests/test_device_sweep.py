"""Every public op, run on the "cuda" device of the NumPy-backed CuPy stand-in (tests/fakecupy), equals the same
op on NumPy: forward values, dtypes and devices, the gradient of every float input, and second derivatives
through the differentiable backward rules, in float32 and float64.

The stand-in refuses to hand its arrays to NumPy (``np.asarray`` raises, NumPy ufuncs refuse them, host arrays
are refused as operands), so an op that reaches for ``np.`` on device values fails here instead of on a GPU.
``test_every_public_op_is_swept`` keeps the table complete: a new public op must join ``CASES`` (or
``NOT_SWEPT``, with the reason).
"""

from __future__ import annotations

import inspect
import math
import os
import zlib
from collections.abc import Callable
from typing import Any

import fakecupy
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import backend

# An input: ("f", shape) normal floats, ("p", shape) positive floats, ("u", shape) floats in (0.05, 0.95),
# ("i", shape, high) int64 in [0, high), ("b", shape) a bool mask. Float inputs require grad.
Spec = tuple[Any, ...]


def _gen() -> np.random.Generator:
    return np.random.default_rng(7)


def _make(spec: Spec, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    kind, shape = spec[0], spec[1]
    if kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if kind == "p":
        return rng.uniform(0.5, 2.0, shape).astype(dtype)
    if kind == "u":
        return rng.uniform(0.05, 0.95, shape).astype(dtype)
    if kind == "i":
        return rng.integers(0, spec[2], shape).astype(np.int64)
    return rng.random(shape) < 0.5


def f(*shape: int) -> Spec:
    return ("f", shape)


def p(*shape: int) -> Spec:
    return ("p", shape)


def u(*shape: int) -> Spec:
    return ("u", shape)


def i(high: int, *shape: int) -> Spec:
    return ("i", shape, high)


def b(*shape: int) -> Spec:
    return ("b", shape)


def _lstm(x: cr.Tensor) -> Any:
    cr.manual_seed(3)
    m = cr.nn.LSTM(4, 3, num_layers=2, batch_first=True, bidirectional=True).to(x.device, x.dtype)
    out, (h, c) = m(x)
    return out, h, c, *[q.grad for q in _backward_of(out, m)]


def _gru(x: cr.Tensor) -> Any:
    cr.manual_seed(3)
    m = cr.nn.GRU(4, 3).to(x.device, x.dtype)
    out, h = m(x)
    return out, h, *[q.grad for q in _backward_of(out, m)]


def _rnn(x: cr.Tensor) -> Any:
    cr.manual_seed(3)
    m = cr.nn.RNN(4, 3, nonlinearity="relu").to(x.device, x.dtype)
    out, h = m(x)
    return out, h, *[q.grad for q in _backward_of(out, m)]


def _mha(x: cr.Tensor) -> Any:
    cr.manual_seed(3)
    m = cr.nn.MultiheadAttention(4, 2, batch_first=True).to(x.device, x.dtype)
    out, weights = m(x, x, x)
    return out, weights, *[q.grad for q in _backward_of(out, m)]


def _encoder(x: cr.Tensor) -> Any:
    cr.manual_seed(3)
    m = cr.nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0, batch_first=True).to(x.device, x.dtype)
    out = m(x)
    return out, *[q.grad for q in _backward_of(out, m)]


def _batch_norm_module(x: cr.Tensor) -> Any:
    m = cr.nn.BatchNorm2d(3).to(x.device, x.dtype)
    out = m(x)
    return out, m.running_mean, m.running_var, *[q.grad for q in _backward_of(out, m)]


def _backward_of(out: cr.Tensor, m: cr.nn.Module) -> list[cr.Tensor]:
    """The module's parameters after a backward of a fixed weighting of ``out`` (their grads are compared)."""
    weights = cr.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape).astype(out.dtype), device=out.device)
    (out * weights).sum().backward(retain_graph=True)
    return list(m.parameters())


# name -> (function of the tensors, input specs). Names are the public names each case covers.
CASES: dict[str, tuple[Callable[..., Any], list[Spec]]] = {
    # elementwise
    "abs": (cr.abs, [f(3, 4)]),
    "add": (cr.add, [f(3, 4), f(4)]),
    "add_scalar": (lambda x: x + 0.5, [f(3, 4)]),
    "cast": (lambda x: cr.cast(x, cr.float64 if x.dtype == cr.float32 else cr.float32), [f(3, 4)]),
    "clamp": (lambda x: cr.clamp(x, -0.5, 0.5), [f(3, 4)]),
    "clip": (lambda x: cr.clip(x, min=-0.5), [f(3, 4)]),
    "cos": (cr.cos, [f(3, 4)]),
    "div": (cr.div, [f(3, 4), p(3, 4)]),
    "eq": (lambda x, y: cr.eq(x, y), [i(3, 3, 4), i(3, 3, 4)]),
    "exp": (cr.exp, [f(3, 4)]),
    "ge": (cr.ge, [f(3, 4), f(3, 4)]),
    "gt": (cr.gt, [f(3, 4), f(4)]),
    "le": (cr.le, [f(3, 4), f(3, 4)]),
    "log": (cr.log, [p(3, 4)]),
    "lt": (lambda x: cr.lt(x, 0.1), [f(3, 4)]),
    "maximum": (cr.maximum, [f(3, 4), f(3, 4)]),
    "minimum": (cr.minimum, [f(3, 4), f(1, 4)]),
    "mul": (cr.mul, [f(3, 4), f(3, 1)]),
    "ne": (cr.ne, [i(3, 3, 4), i(3, 3, 4)]),
    "neg": (cr.neg, [f(3, 4)]),
    "pow": (cr.pow, [p(3, 4), f(3, 4)]),
    "pow_scalar": (lambda x: x ** 3, [f(3, 4)]),
    "sin": (cr.sin, [f(3, 4)]),
    "sqrt": (cr.sqrt, [p(3, 4)]),
    "sub": (cr.sub, [f(3, 4), f(3, 4)]),
    "where": (cr.where, [b(3, 4), f(3, 4), f(3, 4)]),
    # activations
    "elu": (cr.elu, [f(3, 4)]),
    "gelu": (cr.gelu, [f(3, 4)]),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), [f(3, 4)]),
    "leaky_relu": (cr.leaky_relu, [f(3, 4)]),
    "log_softmax": (lambda x: cr.log_softmax(x, dim=1), [f(3, 4)]),
    "relu": (cr.relu, [f(3, 4)]),
    "sigmoid": (cr.sigmoid, [f(3, 4)]),
    "softmax": (lambda x: cr.softmax(x, dim=0), [f(3, 4)]),
    "softplus": (cr.softplus, [f(3, 4)]),
    "tanh": (cr.tanh, [f(3, 4)]),
    # indexing
    "argsort": (lambda x: cr.argsort(x, dim=1), [f(3, 5)]),
    "gather": (lambda x, idx: cr.gather(x, 1, idx), [f(3, 5), i(5, 3, 2)]),
    "index_select": (lambda x, idx: cr.index_select(x, 0, idx), [f(4, 3), i(4, 5)]),
    "masked_fill": (lambda x, m: cr.masked_fill(x, m, -1.0), [f(3, 4), b(3, 4)]),
    "scatter": (lambda x, idx, s: cr.scatter(x, 1, idx, s), [f(3, 5), i(5, 3, 2), f(3, 2)]),
    "scatter_add": (lambda x, idx, s: cr.scatter_add(x, 1, idx, s), [f(3, 5), i(5, 3, 4), f(3, 4)]),
    "sort": (lambda x: cr.sort(x, dim=1, descending=True), [f(3, 5)]),
    "topk": (lambda x: cr.topk(x, 2, dim=1), [f(3, 5)]),
    # linear algebra
    "bmm": (cr.bmm, [f(2, 3, 4), f(2, 4, 5)]),
    "matmul": (cr.matmul, [f(2, 3, 4), f(4, 5)]),
    "mm": (cr.mm, [f(3, 4), f(4, 2)]),
    "linear": (F.linear, [f(3, 4), f(2, 4), f(2)]),
    # reductions
    "amax": (lambda x: cr.amax(x, dim=1), [f(3, 4)]),
    "amin": (lambda x: cr.amin(x, dim=(0, 1)), [f(3, 4)]),
    "argmax": (lambda x: cr.argmax(x, dim=1), [f(3, 4)]),
    "argmin": (lambda x: cr.argmin(x), [f(3, 4)]),
    "cumsum": (lambda x: cr.cumsum(x, dim=1), [f(3, 4)]),
    "logsumexp": (lambda x: cr.logsumexp(x, dim=1), [f(3, 4)]),
    "max": (lambda x: cr.max(x, dim=1), [f(3, 4)]),
    "max_all": (cr.max, [f(3, 4)]),
    "mean": (lambda x: cr.mean(x, dim=0, keepdim=True), [f(3, 4)]),
    "median": (lambda x: cr.median(x, dim=1), [f(3, 5)]),
    "min": (lambda x: cr.min(x, dim=0), [f(3, 4)]),
    "sum": (cr.sum, [f(3, 4)]),
    "var": (lambda x: cr.var(x, dim=1), [f(3, 4)]),
    # shapes
    "broadcast_to": (lambda x: cr.broadcast_to(x, (2, 3, 4)), [f(3, 1)]),
    "cat": (lambda x, y: cr.cat([x, y], dim=1), [f(3, 2), f(3, 4)]),
    "chunk": (lambda x: cr.chunk(x, 2, dim=1), [f(3, 4)]),
    "concatenate": (lambda x, y: cr.concatenate([x, y]), [f(3, 2), f(1, 2)]),
    "expand": (lambda x: cr.expand(x, 2, 3, 4), [f(3, 4)]),
    "flatten": (lambda x: cr.flatten(x, 1), [f(2, 3, 4)]),
    "getitem": (lambda x: cr.getitem(x, (slice(None), [0, 2, 2])), [f(3, 4)]),
    "getitem_mask": (lambda x, m: x[m], [f(3, 4), b(3, 4)]),
    "narrow": (lambda x: cr.narrow(x, 1, 1, 2), [f(3, 4)]),
    "pad": (lambda x: cr.pad(x, (1, 2)), [f(3, 4)]),
    "pad_reflect": (lambda x: cr.pad(x, (1, 1, 1, 1), mode="reflect"), [f(1, 2, 3, 4)]),
    "permute": (lambda x: cr.permute(x, (2, 0, 1)), [f(2, 3, 4)]),
    "reshape": (lambda x: cr.reshape(x, (4, 3)), [f(3, 4)]),
    "split": (lambda x: cr.split(x, [1, 3], dim=1), [f(3, 4)]),
    "squeeze": (lambda x: cr.squeeze(x, 1), [f(3, 1, 4)]),
    "stack": (lambda x, y: cr.stack([x, y], dim=1), [f(3, 4), f(3, 4)]),
    "sum_to": (lambda x: cr.sum_to(x, (1, 4)), [f(3, 4)]),
    "t": (cr.t, [f(3, 4)]),
    "transpose": (lambda x: cr.transpose(x, 0, 2), [f(2, 3, 4)]),
    "tril": (lambda x: cr.tril(x, -1), [f(4, 4)]),
    "triu": (cr.triu, [f(3, 4)]),
    "unbind": (lambda x: cr.unbind(x, 1), [f(3, 4)]),
    "unsqueeze": (lambda x: cr.unsqueeze(x, 0), [f(3, 4)]),
    # convolution, pooling, unfolding
    "conv2d": (lambda x, w, bias: F.conv2d(x, w, bias, stride=1, padding=1), [f(2, 3, 6, 6), f(4, 3, 3, 3), f(4)]),
    "conv2d_strided": (lambda x, w: F.conv2d(x, w, stride=2, dilation=2, groups=3), [f(1, 3, 7, 7), f(6, 1, 2, 2)]),
    "conv_transpose2d": (lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1), [f(2, 3, 4, 4), f(3, 2, 3, 3)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, (2, 3), stride=1, padding=1), [f(2, 3, 5, 6)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, (3, 2), stride=(2, 1)), [f(2, 3, 6, 5)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [f(2, 3, 5, 7)]),
    "lp_pool2d": (lambda x: F.lp_pool2d(x, 2.0, 2), [f(1, 2, 4, 4)]),
    "unfold": (lambda x: F.unfold(x, 2, padding=1), [f(2, 3, 4, 4)]),
    "fold": (lambda x: F.fold(x, (3, 3), 2), [f(2, 8, 4)]),
    # normalization, dropout, embeddings, attention
    "batch_norm": (lambda x, w, bias: F.batch_norm(x, None, None, w, bias, training=True), [f(4, 3, 2, 2), p(3), f(3)]),
    "batch_norm_module": (_batch_norm_module, [f(4, 3, 2, 2)]),
    "layer_norm": (lambda x, w, bias: F.layer_norm(x, 4, w, bias), [f(3, 4), p(4), f(4)]),
    "dropout": (lambda x: F.dropout(x, 0.4, generator=_gen()), [f(3, 4)]),
    "embedding": (lambda idx, w: F.embedding(idx, w, padding_idx=0), [i(5, 2, 3), f(5, 4)]),
    "one_hot": (lambda idx: F.one_hot(idx, 5), [i(5, 2, 3)]),
    "scaled_dot_product_attention": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                                     [f(2, 3, 4), f(2, 3, 4), f(2, 3, 5)]),
    "multihead_attention": (_mha, [f(2, 3, 4)]),
    "transformer_encoder_layer": (_encoder, [f(2, 3, 4)]),
    # recurrent layers
    "lstm": (_lstm, [f(2, 3, 4)]),
    "gru": (_gru, [f(3, 2, 4)]),
    "rnn": (_rnn, [f(3, 2, 4)]),
    # losses
    "binary_cross_entropy": (F.binary_cross_entropy, [u(3, 4), u(3, 4)]),
    "binary_cross_entropy_with_logits": (F.binary_cross_entropy_with_logits, [f(3, 4), u(3, 4)]),
    "cross_entropy": (lambda x, y: F.cross_entropy(x, y, label_smoothing=0.1), [f(4, 5), i(5, 4)]),
    "cross_entropy_2d": (lambda x, y, w: F.cross_entropy(x, y, weight=w.detach(), ignore_index=1),
                         [f(2, 3, 2, 2), i(3, 2, 2, 2), p(3)]),
    "gaussian_nll_loss": (F.gaussian_nll_loss, [f(3, 4), f(3, 4), p(3, 4)]),
    "l1_loss": (F.l1_loss, [f(3, 4), f(3, 4)]),
    "mixture_density_nll": (F.mixture_density_nll, [f(4, 3), f(4, 3), f(4, 3), f(4)]),
    "mse_loss": (lambda x, y: F.mse_loss(x, y, reduction="sum"), [f(3, 4), f(3, 4)]),
    "nll_loss": (F.nll_loss, [f(4, 5), i(5, 4)]),
    "smooth_l1_loss": (F.smooth_l1_loss, [f(3, 4), f(3, 4)]),
}

# 1-D convolution and pooling, adaptive max pooling, group/instance norm, channel dropout, resampling
CASES.update({
    "conv1d": (lambda x, w, bias: F.conv1d(x, w, bias, stride=2, padding=1), [f(2, 3, 9), f(4, 3, 3), f(4)]),
    "conv_transpose1d": (lambda x, w: F.conv_transpose1d(x, w, stride=2, padding=1), [f(2, 3, 5), f(3, 2, 3)]),
    "max_pool1d": (lambda x: F.max_pool1d(x, 3, stride=2, padding=1), [f(2, 3, 9)]),
    "avg_pool1d": (lambda x: F.avg_pool1d(x, 3, stride=2, padding=1, count_include_pad=False), [f(2, 3, 9)]),
    "adaptive_avg_pool1d": (lambda x: F.adaptive_avg_pool1d(x, 4), [f(2, 3, 9)]),
    "adaptive_max_pool1d": (lambda x: F.adaptive_max_pool1d(x, 4, return_indices=True), [f(2, 3, 9)]),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, (3, 4), return_indices=True), [f(2, 3, 7, 9)]),
    "group_norm": (lambda x, w, bias: F.group_norm(x, 2, w, bias), [f(3, 4, 2, 3), p(4), f(4)]),
    "instance_norm": (lambda x, w, bias: F.instance_norm(x, weight=w, bias=bias), [f(3, 4, 5), p(4), f(4)]),
    "dropout1d": (lambda x: F.dropout1d(x, 0.4, generator=_gen()), [f(3, 4, 5)]),
    "dropout2d": (lambda x: F.dropout2d(x, 0.4, generator=_gen()), [f(3, 4, 2, 2)]),
    "alpha_dropout": (lambda x: F.alpha_dropout(x, 0.3, True, generator=_gen()), [f(3, 4)]),
    "interpolate": (lambda x: F.interpolate(x, size=(5, 7), mode="bilinear"), [f(2, 3, 3, 4)]),
    "interpolate_nearest": (lambda x: F.interpolate(x, scale_factor=1.5), [f(2, 3, 3, 4)]),
    "pixel_shuffle": (lambda x: F.pixel_shuffle(x, 2), [f(2, 8, 3, 3)]),
    "pixel_unshuffle": (lambda x: F.pixel_unshuffle(x, 2), [f(2, 2, 4, 6)]),
    "channel_shuffle": (lambda x: F.channel_shuffle(x, 2), [f(2, 4, 3)]),
})

# activations, distances and losses with PyTorch's names (piecewise ones away from their kinks)
CASES.update({
    "relu6": (lambda x: F.relu6(x * 4), [f(3, 4)]),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 0.7), [f(3, 4)]),
    "hardswish": (lambda x: F.hardswish(x * 4), [f(3, 4)]),
    "hardsigmoid": (lambda x: F.hardsigmoid(x * 4), [f(3, 4)]),
    "threshold": (lambda x: F.threshold(x, 0.1, -1.0), [f(3, 4)]),
    "prelu": (F.prelu, [f(2, 3, 4), f(3)]),
    "selu": (F.selu, [f(3, 4)]),
    "silu": (F.silu, [f(3, 4)]),
    "mish": (F.mish, [f(3, 4)]),
    "logsigmoid": (F.logsigmoid, [f(3, 4)]),
    "softmin": (lambda x: F.softmin(x, 1), [f(3, 4)]),
    "glu": (F.glu, [f(3, 4)]),
    "cosine_similarity": (F.cosine_similarity, [f(3, 4), f(3, 4)]),
    "pairwise_distance": (lambda x, y: F.pairwise_distance(x, y, 3.0), [f(3, 4), f(3, 4)]),
    "normalize": (F.normalize, [f(3, 4)]),
    "bilinear": (F.bilinear, [f(5, 3), f(5, 4), f(2, 3, 4), f(2)]),
    "huber_loss": (lambda x, y: F.huber_loss(x, y, delta=0.5), [f(3, 4), f(3, 4)]),
    "kl_div": (lambda x, t: F.kl_div(x, t, reduction="batchmean"), [f(3, 4), u(3, 4)]),
    "margin_ranking_loss": (lambda x, y, t: F.margin_ranking_loss(x, y, t, 0.2), [f(6), f(6), f(6)]),
    "cosine_embedding_loss": (lambda x, y: F.cosine_embedding_loss(x, y, cr.tensor([1.0, -1.0, 1.0],
                                                                                   device=x.device, dtype=x.dtype)),
                              [f(3, 4), f(3, 4)]),
    "triplet_margin_loss": (lambda a, p_, n: F.triplet_margin_loss(a, p_, n, swap=True), [f(3, 4), f(3, 4), f(3, 4)]),
})

def _zeroed(x: cr.Tensor) -> cr.Tensor:
    """``x`` with a zero planted at [0, 1] (and [1, 1]): the hard case of prod's and cumprod's gradients."""
    mask = cr.tensor(np.array([[0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]], dtype=bool), device=x.device)
    return cr.where(mask, x * 0, x)


def _as_bool_tensor(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A Python-bool result (allclose, equal) as a 0-d tensor on the operands' device."""
    return lambda x, y: cr.tensor(fn(x, y), device=x.device)


# more math: rounding, predicates, log1p ... tan, atan2 ... remainder, products, norms, contractions, rearranging
CASES.update({
    "sign": (cr.sign, [f(3, 4)]), "floor": (cr.floor, [f(3, 4)]), "ceil": (cr.ceil, [f(3, 4)]),
    "round": (lambda x: cr.round(x * 10, decimals=1), [f(3, 4)]), "trunc": (cr.trunc, [f(3, 4)]),
    "nan_to_num": (lambda x: cr.nan_to_num(x.masked_fill(x > 0.5, float("nan")).masked_fill(x < -0.5, -math.inf),
                                           neginf=-5.0), [f(3, 4)]),
    "isnan": (lambda x: cr.isnan(x.masked_fill(x > 0.5, float("nan"))), [f(3, 4)]),
    "isinf": (lambda x: cr.isinf(x.masked_fill(x > 0.5, math.inf)), [f(3, 4)]),
    "isfinite": (lambda x: cr.isfinite(x.masked_fill(x > 0.5, -math.inf)), [f(3, 4)]),
    "logical_and": (cr.logical_and, [b(3, 4), b(4)]), "logical_or": (cr.logical_or, [b(3, 4), f(4)]),
    "logical_xor": (cr.logical_xor, [i(2, 3, 4), b(3, 4)]), "logical_not": (cr.logical_not, [f(3, 4)]),
    "any": (lambda x: cr.any(x, 1), [b(3, 4)]), "all": (lambda x: cr.all(x, (0, 1), keepdim=True), [b(3, 4)]),
    "allclose": (_as_bool_tensor(cr.allclose), [f(3, 4), f(3, 4)]),
    "isclose": (lambda x, y: cr.isclose(x, x + y * 1e-6, atol=1e-5), [f(3, 4), f(3, 4)]),
    "equal": (_as_bool_tensor(cr.equal), [f(3, 4), f(3, 4)]),
    "count_nonzero": (lambda x: cr.count_nonzero(x, 0), [i(3, 3, 4)]),
    "nonzero": (lambda x: (cr.nonzero(x), cr.nonzero(x, as_tuple=True)), [b(3, 4)]),
    "masked_select": (cr.masked_select, [f(3, 4), b(4)]),
    "log1p": (cr.log1p, [p(3, 4)]), "expm1": (cr.expm1, [f(3, 4)]), "log2": (cr.log2, [p(3, 4)]),
    "log10": (cr.log10, [p(3, 4)]), "exp2": (cr.exp2, [f(3, 4)]), "erf": (cr.erf, [f(3, 4)]),
    "rsqrt": (cr.rsqrt, [p(3, 4)]), "reciprocal": (cr.reciprocal, [p(3, 4)]), "square": (cr.square, [f(3, 4)]),
    "tan": (cr.tan, [u(3, 4)]), "atan2": (cr.atan2, [f(3, 4), p(4)]),
    "lerp": (cr.lerp, [f(3, 4), f(4), u(3, 1)]), "fmod": (cr.fmod, [f(3, 4), p(4)]),
    "remainder": (cr.remainder, [f(3, 4), p(4)]),
    "prod": (lambda x: (cr.prod(_zeroed(x), 1), cr.prod(x)), [f(3, 4)]),
    "cumprod": (lambda x: cr.cumprod(_zeroed(x), 1), [f(3, 4)]),
    "std": (lambda x: cr.std(x, 1, correction=0), [f(3, 4)]),
    "norm": (lambda x: (cr.norm(x), cr.norm(x, 1, 1), cr.norm(x, 3, 0), cr.norm(x, float("inf"), 1)), [f(3, 4)]),
    "dist": (cr.dist, [f(3, 4), f(4)]),
    "dot": (cr.dot, [f(5), f(5)]), "outer": (cr.outer, [f(3), f(4)]), "mv": (cr.mv, [f(3, 4), f(4)]),
    "tensordot": (lambda x, y: cr.tensordot(x, y, ([0, 2], [1, 0])), [f(2, 3, 4), f(4, 2, 5)]),
    "trace": (cr.trace, [f(3, 4)]), "diag": (lambda x, v: (cr.diag(x, 1), cr.diag(v, -1)), [f(3, 4), f(3)]),
    "einsum": (lambda x, y: (cr.einsum("bij,bjk->bik", x, y), cr.einsum("ii->i", x[0, :, :3])),
               [f(2, 3, 4), f(2, 4, 5)]),
    "flip": (lambda x: cr.flip(x, (0, 2)), [f(2, 3, 4)]), "roll": (lambda x: cr.roll(x, (1, -2), (0, 1)), [f(3, 4)]),
    "tile": (lambda x: cr.tile(x, (2, 1, 2)), [f(3, 4)]),
    "repeat_interleave": (lambda x, r: cr.repeat_interleave(x, r, 1), [f(3, 4), i(3, 4)]),
    "multinomial": (lambda x: cr.multinomial(x, 3, generator=_gen()), [p(2, 5)]),
    "normal": (lambda m, s: cr.normal(m, s, generator=_gen()), [f(3, 4), p(4)]),
})

# Public functions of chainrule.ops or nn.functional left out of CASES, each with the reason (none today).
NOT_SWEPT: dict[str, str] = {}


def _public_ops() -> set[str]:
    names = set(cr.ops.__all__)
    names |= {n for n, v in vars(F).items() if inspect.isfunction(v) and not n.startswith("_")
              and v.__module__.startswith("chainrule")}
    return names


def test_every_public_op_is_swept():
    missing = sorted(n for n in _public_ops() if n not in CASES and n not in NOT_SWEPT)
    assert not missing, f"public ops with no device sweep case: {missing}"


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [v for item in value for v in _flat(item)]
    return [value]


def _run(name: str, dtype: np.dtype, device: str) -> tuple[list[Any], list[Any]]:
    """The case's outputs and input gradients, as (device, dtype, host array) triples."""
    fn, specs = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [_make(spec, rng, dtype) for spec in specs]
    xs = [cr.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in arrays]
    outs = [o for o in _flat(fn(*xs)) if isinstance(o, cr.Tensor)]
    weighted = [o for o in outs if o.requires_grad]
    if weighted:
        loss = sum((o * cr.tensor(rng.standard_normal(o.shape).astype(o.dtype), device=device)).sum()
                   for o in weighted)
        loss.backward()
    results = [(o.device, o.dtype, o.detach().cpu().numpy()) for o in outs]
    grads = [None if x.grad is None else (x.grad.device, x.grad.dtype, x.grad.cpu().numpy()) for x in xs]
    return results, grads


# CHAINRULE_TEST_DEVICE=cupy runs the sweep on real CuPy and a GPU instead of the stand-in (whose arithmetic is
# NumPy's: there the tolerances only absorb the compiled kernels that the CPU side uses).
REAL_GPU = os.environ.get("CHAINRULE_TEST_DEVICE", "fakecupy") == "cupy"
TOLERANCES = {np.dtype(np.float32): (1e-4, 1e-5) if REAL_GPU else (1e-5, 1e-6),
              np.dtype(np.float64): (1e-10, 1e-12) if REAL_GPU else (1e-12, 1e-13)}


@pytest.fixture(scope="module")
def cuda():
    if REAL_GPU:
        cupy = pytest.importorskip("cupy")
        previous = backend.use_device_module(cupy)
        yield
        backend.use_device_module(previous)
        return
    with fakecupy.installed():
        yield


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_op_on_the_device_equals_numpy(cuda, name, dtype):
    dtype = np.dtype(dtype)
    host_outs, host_grads = _run(name, dtype, "cpu")
    dev_outs, dev_grads = _run(name, dtype, "cuda")
    rtol, atol = TOLERANCES[dtype]
    assert len(dev_outs) == len(host_outs)
    for k, ((hd, ht, hv), (dd, dt, dv)) in enumerate(zip(host_outs, dev_outs)):
        assert hd == cr.device("cpu")
        assert dd == cr.device("cuda:0"), f"output {k} left the device: {dd}"
        assert dt == ht, f"output {k}: dtype {dt} on the device, {ht} on the CPU"
        np.testing.assert_allclose(dv, hv, rtol=rtol, atol=atol, err_msg=f"output {k}")
    for k, (hg, dg) in enumerate(zip(host_grads, dev_grads)):
        assert (hg is None) == (dg is None), f"input {k}: a gradient on one device only"
        if hg is not None:
            assert dg[0] == cr.device("cuda:0") and dg[1] == hg[1] == dtype
            np.testing.assert_allclose(dg[2], hg[2], rtol=rtol, atol=atol, err_msg=f"gradient of input {k}")


# Cases that run their own backward (layers with parameters): swept to first order only.
FIRST_ORDER_ONLY = {"lstm", "gru", "rnn", "multihead_attention", "transformer_encoder_layer", "batch_norm_module"}


def _run_second_order(name: str, dtype: np.dtype, device: str) -> list[Any]:
    """Second derivatives through the differentiable backward rules (``create_graph=True``): with v the upstream
    gradient (itself a leaf), g = vᵀ∂f/∂x, and the gradient of Σ g² with respect to the inputs and to v. Even an
    op whose g does not depend on x (a linear op) runs its backward rule on a graph here, through v."""
    fn, specs = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [_make(spec, rng, dtype) for spec in specs]
    xs = [cr.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in arrays]
    outs = [o for o in _flat(fn(*xs)) if isinstance(o, cr.Tensor) and o.requires_grad]
    wrt = [x for x in xs if x.requires_grad]
    if not outs or not wrt:
        pytest.skip("no differentiable output")
    vs = [cr.tensor(rng.standard_normal(o.shape).astype(o.dtype), device=device, requires_grad=True) for o in outs]
    firsts = [g for g in cr.autograd.grad(outs, wrt, vs, create_graph=True, allow_unused=True) if g is not None]
    seconds = cr.autograd.grad(sum((g * g).sum() for g in firsts), wrt + vs, allow_unused=True)
    return [None if g is None else (g.device, g.cpu().numpy()) for g in seconds]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(set(CASES) - FIRST_ORDER_ONLY))
def test_double_backward_on_the_device_equals_numpy(cuda, name, dtype):
    dtype = np.dtype(dtype)
    try:
        host = _run_second_order(name, dtype, "cpu")
    except cr.ChainruleError as e:  # no second derivative on any device: nothing to compare
        pytest.skip(f"no double backward: {e}")
    device = _run_second_order(name, dtype, "cuda")
    rtol, atol = TOLERANCES[dtype]
    for k, (h, d) in enumerate(zip(host, device)):
        assert (h is None) == (d is None), f"input {k}: a second derivative on one device only"
        if h is not None:
            assert d[0] == cr.device("cuda:0")
            np.testing.assert_allclose(d[1], h[1], rtol=rtol * 10, atol=atol * 10, err_msg=f"input {k}")


def test_the_stand_in_is_the_device_module_only_inside_its_block():
    before = backend.device_module()
    with fakecupy.installed() as module:
        assert backend.device_module() is module
        assert backend.get_array_module(np.zeros(2), module.zeros(2)) is module
        assert backend.get_array_module(np.zeros(2)) is np
    assert backend.device_module() is before
