"""chainrule.nn.init against PyTorch's formulas (gains, fans, bounds, stds), and the layers' default init."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.errors import DTypeError
from chainrule.nn import init

GAINS = [
    ("linear", None), ("conv2d", None), ("conv_transpose2d", None), ("sigmoid", None), ("tanh", None),
    ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("leaky_relu", 3),
    ("selu", None),
]
SHAPES = [(300, 200), (64, 16, 5, 5), (40, 30, 7), (200, 1, 3, 3)]


def _std_rtol(n: int) -> float:
    """Four standard errors of a sample standard deviation (about 1/√(2n) relative), or 3%."""
    return max(0.03, 4 / math.sqrt(2 * n))


def _torch_bound(shape, a, mode, nonlinearity):
    t = torch.empty(shape)
    gain = torch.nn.init.calculate_gain(nonlinearity, a)
    fan = torch.nn.init._calculate_correct_fan(t, mode)
    return math.sqrt(3.0) * gain / math.sqrt(fan)


@pytest.mark.parametrize("nonlinearity,param", GAINS)
def test_calculate_gain_equals_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


def test_calculate_gain_refuses_unknown():
    with pytest.raises(ValueError):
        init.calculate_gain("swish")
    with pytest.raises(ValueError):
        init.calculate_gain("leaky_relu", "0.1")


@pytest.mark.parametrize("shape", SHAPES + [(5, 3)])
def test_fans_equal_torch(shape):
    assert init._calculate_fan_in_and_fan_out(cr.zeros(shape)) == torch.nn.init._calculate_fan_in_and_fan_out(
        torch.empty(shape)
    )


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(cr.zeros(5))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("a,mode,nonlinearity", [
    (0, "fan_in", "leaky_relu"), (math.sqrt(5), "fan_in", "leaky_relu"), (0, "fan_out", "relu"),
    (0.1, "fan_out", "leaky_relu"), (0, "fan_in", "tanh"),
])
def test_kaiming_uniform_bound_is_torchs(shape, a, mode, nonlinearity):
    bound = _torch_bound(shape, a, mode, nonlinearity)
    t = init.kaiming_uniform_(cr.zeros(shape), a=a, mode=mode, nonlinearity=nonlinearity,
                              generator=np.random.default_rng(0))
    x = t.numpy()
    assert np.abs(x).max() <= bound * (1 + 1e-6)
    assert np.abs(x).max() > 0.99 * bound  # the samples reach the bound: it is not smaller
    assert abs(x.mean()) < 4 * bound / math.sqrt(3 * x.size)  # four standard errors
    np.testing.assert_allclose(x.std(), bound / math.sqrt(3), rtol=_std_rtol(x.size))
    tt = torch.nn.init.kaiming_uniform_(torch.empty(shape), a=a, mode=mode, nonlinearity=nonlinearity)
    np.testing.assert_allclose(np.abs(x).max(), tt.abs().max().item(), rtol=0.02)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("a,mode,nonlinearity", [(0, "fan_in", "leaky_relu"), (0, "fan_out", "relu")])
def test_kaiming_normal_std_is_torchs(shape, a, mode, nonlinearity):
    std = _torch_bound(shape, a, mode, nonlinearity) / math.sqrt(3)
    x = init.kaiming_normal_(cr.zeros(shape), a=a, mode=mode, nonlinearity=nonlinearity,
                             generator=np.random.default_rng(1)).numpy()
    np.testing.assert_allclose(x.std(), std, rtol=_std_rtol(x.size))
    assert abs(x.mean()) < 4 * std / math.sqrt(x.size)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, init.calculate_gain("tanh")])
def test_xavier_bounds_are_torchs(shape, gain):
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    x = init.xavier_uniform_(cr.zeros(shape), gain=gain, generator=np.random.default_rng(2)).numpy()
    assert np.abs(x).max() <= math.sqrt(3) * std * (1 + 1e-6)
    assert np.abs(x).max() > 0.99 * math.sqrt(3) * std
    y = init.xavier_normal_(cr.zeros(shape), gain=gain, generator=np.random.default_rng(3)).numpy()
    np.testing.assert_allclose(y.std(), std, rtol=_std_rtol(y.size))


def test_uniform_normal_constant():
    r = np.random.default_rng(0)
    x = init.uniform_(cr.zeros(100_000), -2.0, 3.0, generator=r).numpy()
    assert x.min() >= -2.0 and x.max() <= 3.0 and abs(x.mean() - 0.5) < 0.02
    y = init.normal_(cr.zeros(100_000), 1.5, 0.5, generator=r).numpy()
    assert abs(y.mean() - 1.5) < 0.01 and abs(y.std() - 0.5) < 0.01
    np.testing.assert_array_equal(init.constant_(cr.zeros(2, 2), 0.25).numpy(), np.full((2, 2), 0.25))
    np.testing.assert_array_equal(init.ones_(cr.zeros(3)).numpy(), np.ones(3))
    np.testing.assert_array_equal(init.zeros_(cr.ones(3)).numpy(), np.zeros(3))
    np.testing.assert_array_equal(init.zeros_(cr.tensor(5)).numpy(), 0)  # 0-d and integer tensors too


@pytest.mark.parametrize("fn", [
    lambda t, g: init.uniform_(t, generator=g), lambda t, g: init.normal_(t, generator=g),
    lambda t, g: init.xavier_uniform_(t, generator=g), lambda t, g: init.xavier_normal_(t, generator=g),
    lambda t, g: init.kaiming_uniform_(t, generator=g), lambda t, g: init.kaiming_normal_(t, generator=g),
    lambda t, g: init.constant_(t, 0.5), lambda t, g: init.ones_(t),
])
@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_in_place_keeps_dtype_and_identity(fn, dtype):
    p = nn.Parameter(cr.zeros(8, 6, dtype=dtype))
    data = p.numpy()
    out = fn(p, np.random.default_rng(0))
    assert out is p and p.numpy() is data and p.dtype == dtype
    assert p.is_leaf and p.requires_grad and p.grad is None


def test_generator_and_default_generator_reproduce():
    a = init.kaiming_uniform_(cr.zeros(4, 5), generator=np.random.default_rng(7)).numpy()
    b = init.kaiming_uniform_(cr.zeros(4, 5), generator=np.random.default_rng(7)).numpy()
    np.testing.assert_array_equal(a, b)
    cr.manual_seed(11)
    c = init.normal_(cr.zeros(10)).numpy()
    cr.manual_seed(11)
    d = init.normal_(cr.zeros(10)).numpy()
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(c, init.normal_(cr.zeros(10)).numpy())


def test_bad_arguments():
    with pytest.raises(ValueError, match="Mode"):
        init.kaiming_uniform_(cr.zeros(2, 2), mode="fan_avg")
    with pytest.raises(DTypeError):
        init.uniform_(cr.tensor([1, 2]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        init.kaiming_uniform_(cr.zeros(0, 3))
    assert any("zero-element" in str(w.message) for w in caught)


# ----- the layers' default initialisation ----------------------------------------------------------------


def _max_abs(t):
    return float(np.abs(t.numpy() if isinstance(t, cr.Tensor) else t.detach().numpy()).max())


@pytest.mark.parametrize("make", [
    lambda nn_: nn_.Linear(400, 300),
    lambda nn_: nn_.Conv2d(32, 64, 5),
    lambda nn_: nn_.Conv2d(32, 64, 3, groups=4),
    lambda nn_: nn_.ConvTranspose2d(64, 32, 3),
    lambda nn_: nn_.ConvTranspose2d(64, 32, 3, groups=2),
])
def test_layer_default_init_matches_torch(make):
    cr.manual_seed(0)
    torch.manual_seed(0)
    layer, tlayer = make(nn), make(torch.nn)
    for (name, p), (tname, tp) in zip(layer.named_parameters(), tlayer.named_parameters()):
        assert name == tname and p.shape == tuple(tp.shape) and p.dtype == np.float32
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(tlayer.weight)
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=√5) and the bias bound coincide
    assert _max_abs(layer.weight) <= bound * (1 + 1e-6) and _max_abs(tlayer.weight) <= bound * (1 + 1e-6)
    assert _max_abs(layer.weight) > 0.98 * bound
    assert _max_abs(layer.bias) <= bound * (1 + 1e-6) and _max_abs(tlayer.bias) <= bound * (1 + 1e-6)
    assert _max_abs(layer.bias) > 0.5 * bound
    np.testing.assert_allclose(layer.weight.numpy().std(), tlayer.weight.detach().numpy().std(), rtol=0.05)


def test_layers_take_dtype_and_generator():
    a = nn.Linear(5, 4, dtype=cr.float64, generator=np.random.default_rng(3))
    b = nn.Linear(5, 4, dtype=cr.float64, generator=np.random.default_rng(3))
    assert a.weight.dtype == np.float64 and a.bias.dtype == np.float64
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())
    cr.manual_seed(5)
    c = nn.Conv2d(2, 3, 3)
    cr.manual_seed(5)
    d = nn.Conv2d(2, 3, 3)
    np.testing.assert_array_equal(c.weight.numpy(), d.weight.numpy())
    for layer in (nn.Conv2d(2, 3, 3, dtype=cr.float64), nn.ConvTranspose2d(2, 3, 3, dtype=cr.float64),
                  nn.BatchNorm2d(3, dtype=cr.float64), nn.LayerNorm(4, dtype=cr.float64),
                  nn.Embedding(4, 2, dtype=cr.float64)):
        assert all(p.dtype == np.float64 for p in layer.parameters())


def test_untied_bias_init():
    conv = nn.Conv2d(4, 6, 3, untied_bias=(8, 8), generator=np.random.default_rng(0))
    assert conv.bias.shape == (6, 8, 8)
    bound = 1 / math.sqrt(4 * 9)
    assert _max_abs(conv.bias) <= bound and _max_abs(conv.bias) > 0.9 * bound


def test_embedding_init():
    emb = nn.Embedding(2000, 50, padding_idx=3, generator=np.random.default_rng(0))
    w = emb.weight.numpy()
    np.testing.assert_array_equal(w[3], 0)
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01
    assert nn.Embedding(10, 2, padding_idx=-1).padding_idx == torch.nn.Embedding(10, 2, padding_idx=-1).padding_idx


def test_norm_init():
    bn, tbn = nn.BatchNorm2d(5), torch.nn.BatchNorm2d(5)
    for k, v in tbn.state_dict().items():
        np.testing.assert_array_equal(bn.state_dict()[k].numpy(), v.numpy())
    ln = nn.LayerNorm((3, 4))
    assert ln.weight.shape == (3, 4) and np.all(ln.weight.numpy() == 1) and np.all(ln.bias.numpy() == 0)
