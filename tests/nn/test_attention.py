"""Attention against PyTorch: scaled_dot_product_attention, MultiheadAttention, the Transformer layers and the
whole Transformer (outputs, every gradient, state_dict keys), plus gradchecks and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual alias
from helpers import check_grads, check_torch, rng

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - the usual alias
from chainrule.errors import ArgumentError, ShapeError


def _qkv(q_shape, k_shape, v_shape, seed=0, dtype=np.float32):
    r = rng(seed)
    return [r.standard_normal(s).astype(dtype) for s in (q_shape, k_shape, v_shape)]


# ----- scaled_dot_product_attention -------------------------------------------------------------------------

BOOL_MASK = rng(3).random((5, 6)) > 0.4
BOOL_MASK[2] = False  # a query that may attend nothing: zeros, as PyTorch
FLOAT_MASK = rng(4).standard_normal((5, 6)).astype(np.float32)


@pytest.mark.parametrize("kwargs", [
    {}, {"is_causal": True}, {"scale": 0.3}, {"attn_mask": BOOL_MASK}, {"attn_mask": FLOAT_MASK},
], ids=["plain", "causal", "scale", "bool mask", "float mask"])
def test_sdpa_matches_torch(kwargs):
    arrays = _qkv((2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 4))
    cr_kwargs = {k: (cr.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    t_kwargs = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    check_torch(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **cr_kwargs),
                lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **t_kwargs), arrays, atol=1e-5)


def test_sdpa_grouped_query_heads_match_torch():
    arrays = _qkv((2, 4, 5, 8), (2, 2, 6, 8), (2, 2, 6, 3))
    check_torch(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
                lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, enable_gqa=True), arrays, atol=1e-5)


def test_sdpa_gradcheck_and_gradgradcheck():
    arrays = _qkv((2, 3, 4), (2, 5, 4), (2, 5, 2), dtype=np.float64)
    check_grads(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), arrays)
    mask = cr.tensor(BOOL_MASK[:3, :5])
    check_grads(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask), arrays)


def test_sdpa_dropout_drops_weights_and_keeps_the_expectation():
    q, k, v = (cr.tensor(a) for a in _qkv((1, 4, 8), (1, 6, 8), (1, 6, 5), dtype=np.float64))
    plain = F.scaled_dot_product_attention(q, k, v).numpy()
    g = np.random.default_rng(0)
    runs = np.stack([F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=g).numpy()
                     for _ in range(400)])
    assert not np.allclose(runs[0], plain)
    np.testing.assert_allclose(runs.mean(0), plain, atol=0.15)


def test_sdpa_errors():
    q, k, v = (cr.tensor(a) for a in _qkv((2, 5, 8), (2, 6, 8), (2, 6, 4)))
    with pytest.raises(ArgumentError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=cr.tensor(BOOL_MASK), is_causal=True)
    with pytest.raises(ShapeError, match="same last dim"):
        F.scaled_dot_product_attention(q, cr.tensor(np.zeros((2, 6, 7), np.float32)), v)
    with pytest.raises(ShapeError, match="same length"):
        F.scaled_dot_product_attention(q, k, cr.tensor(np.zeros((2, 5, 4), np.float32)))
    with pytest.raises(ArgumentError, match="dropout_p"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)


# ----- MultiheadAttention -----------------------------------------------------------------------------------

def _load(cm, tm):
    cm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})


def _compare_module(cm, tm, inputs, call, atol=2e-5, differentiable=3):
    """Outputs and the gradients of the first ``differentiable`` inputs and of the parameters of cm(*inputs) and
    tm(*inputs) (through ``call``); the other inputs are masks."""
    _load(cm, tm)
    assert list(cm.state_dict()) == list(tm.state_dict())
    xs = [cr.tensor(a, requires_grad=i < differentiable) for i, a in enumerate(inputs)]
    ts = [torch.tensor(a, requires_grad=i < differentiable) for i, a in enumerate(inputs)]
    outs, touts = call(cm, xs), call(tm, ts)
    gs = [rng(9).standard_normal(o.shape).astype(o.dtype) for o in outs]
    cr.autograd.backward(list(outs), [cr.tensor(g) for g in gs])
    torch.autograd.backward(list(touts), [torch.tensor(g) for g in gs])
    for o, t in zip(outs, touts):
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), atol=atol, rtol=1e-4)
    for x, t in zip(xs, ts):
        if x.requires_grad:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=atol, rtol=1e-4)
    cparams, tparams = dict(cm.named_parameters()), dict(tm.named_parameters())
    for name, p in cparams.items():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), atol=atol, rtol=1e-4, err_msg=name)


@pytest.mark.parametrize("options, kwargs", [
    ({}, {}),
    ({"batch_first": True}, {}),
    ({"kdim": 5, "vdim": 3}, {}),
    ({"add_bias_kv": True, "add_zero_attn": True}, {}),
    ({"bias": False}, {"average_attn_weights": False}),
    ({}, {"key_padding_mask": "padding", "attn_mask": "causal"}),
    ({}, {"attn_mask": "per head"}),
], ids=["plain", "batch_first", "kdim vdim", "bias_kv zero_attn", "no bias, per-head weights", "masks",
        "3-D float mask"])
def test_multihead_attention_matches_torch(options, kwargs):
    e, h, length, source, batch = 8, 2, 4, 5, 3
    kd, vd = options.get("kdim", e), options.get("vdim", e)
    first = options.get("batch_first", False)
    shape = (lambda n, d: (batch, n, d)) if first else (lambda n, d: (n, batch, d))
    inputs = _qkv(shape(length, e), shape(source, kd), shape(source, vd), seed=1)
    masks = {}
    if kwargs.get("key_padding_mask") == "padding":
        pad = np.zeros((batch, source), dtype=bool)
        pad[1, -2:] = True
        masks["key_padding_mask"] = pad
    if kwargs.get("attn_mask") == "causal":
        masks["attn_mask"] = np.triu(np.ones((length, source), dtype=bool), 1)
    if kwargs.get("attn_mask") == "per head":
        masks["attn_mask"] = rng(5).standard_normal((batch * h, length, source)).astype(np.float32)
    rest = {k: v for k, v in kwargs.items() if k not in masks}
    names = list(masks)

    def call(m, xs):
        extra = dict(zip(names, xs[3:]))
        return m(*xs[:3], **extra, **rest)

    torch.manual_seed(0)
    _compare_module(cr.nn.MultiheadAttention(e, h, **options), torch.nn.MultiheadAttention(e, h, **options),
                    inputs + [masks[n] for n in names], call)


def test_multihead_attention_unbatched_and_without_weights():
    e = 6
    cm, tm = cr.nn.MultiheadAttention(e, 3), torch.nn.MultiheadAttention(e, 3)
    inputs = _qkv((4, e), (5, e), (5, e), seed=2)
    _compare_module(cm, tm, inputs, lambda m, xs: m(*xs))
    out, weights = cm(*(cr.tensor(a) for a in inputs), need_weights=False)
    assert weights is None and out.shape == (4, e)


def test_multihead_attention_gradcheck():
    cm = cr.nn.MultiheadAttention(4, 2, dtype=np.float64)
    check_grads(lambda q, k: cm(q, k, k)[0], _qkv((3, 2, 4), (5, 2, 4), (1,), seed=3, dtype=np.float64)[:2],
                second=False)


def test_multihead_attention_errors():
    with pytest.raises(ArgumentError, match="divisible by num_heads"):
        cr.nn.MultiheadAttention(6, 4)
    m = cr.nn.MultiheadAttention(4, 2)
    q = cr.tensor(np.zeros((3, 2, 4), np.float32))
    with pytest.raises(ShapeError, match="key_padding_mask must be"):
        m(q, q, q, key_padding_mask=cr.tensor(np.zeros((3, 3), bool)))
    with pytest.raises(ArgumentError, match="is_causal=True is a hint"):
        m(q, q, q, is_causal=True)
    with pytest.raises(ShapeError, match="expected features"):
        m(cr.tensor(np.zeros((3, 2, 5), np.float32)), q, q)


# ----- the Transformer layers -----------------------------------------------------------------------------

@pytest.mark.parametrize("options", [{}, {"norm_first": True, "activation": "gelu"}, {"batch_first": True}])
def test_encoder_layer_matches_torch(options):
    torch.manual_seed(1)
    kw = {"dim_feedforward": 12, "dropout": 0.0, **options}
    x = rng(6).standard_normal((3, 4, 8)).astype(np.float32)
    pad = np.zeros((3 if options.get("batch_first") else 4, 3 if not options.get("batch_first") else 4), bool)
    pad[0, -1] = True
    _compare_module(cr.nn.TransformerEncoderLayer(8, 2, **kw), torch.nn.TransformerEncoderLayer(8, 2, **kw),
                    [x, pad], lambda m, xs: [m(xs[0], src_key_padding_mask=xs[1])], differentiable=1)


@pytest.mark.parametrize("options", [{}, {"norm_first": True}])
def test_decoder_layer_matches_torch(options):
    torch.manual_seed(2)
    kw = {"dim_feedforward": 12, "dropout": 0.0, **options}
    tgt, memory = rng(7).standard_normal((4, 2, 8)).astype(np.float32), rng(8).standard_normal((5, 2, 8))
    causal = np.triu(np.full((4, 4), -np.inf, np.float32), 1)
    _compare_module(cr.nn.TransformerDecoderLayer(8, 2, **kw), torch.nn.TransformerDecoderLayer(8, 2, **kw),
                    [tgt, memory.astype(np.float32), causal],
                    lambda m, xs: [m(xs[0], xs[1], tgt_mask=xs[2], tgt_is_causal=True)], differentiable=2)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_transformer_matches_torch_with_masks():
    torch.manual_seed(3)
    kw = {"d_model": 8, "nhead": 2, "num_encoder_layers": 2, "num_decoder_layers": 2, "dim_feedforward": 16,
          "dropout": 0.0}
    src, tgt = rng(10).standard_normal((6, 2, 8)).astype(np.float32), rng(11).standard_normal((5, 2, 8))
    mask = cr.nn.Transformer.generate_square_subsequent_mask(5)
    np.testing.assert_array_equal(mask.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(5).numpy())
    _compare_module(cr.nn.Transformer(**kw), torch.nn.Transformer(**kw),
                    [src, tgt.astype(np.float32), mask.numpy()], lambda m, xs: [m(xs[0], xs[1], tgt_mask=xs[2])],
                    atol=5e-5, differentiable=2)


def test_transformer_initialisation_is_xavier_for_matrices():
    m = cr.nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32)
    w = m.encoder.layers[0].linear1.weight.numpy()
    bound = np.sqrt(6 / (16 + 32))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert not np.array_equal(m.encoder.layers[0].linear1.weight.numpy(), m.decoder.layers[0].linear1.weight.numpy())
