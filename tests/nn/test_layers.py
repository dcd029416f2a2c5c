"""Every layer's forward and gradients equal torch.nn's after loading the same weights.

Each test builds the torch layer, randomises its parameters, loads its state dict (as NumPy arrays) into the
chainrule layer with the same constructor arguments, and compares outputs, input gradients and parameter
gradients for the same seeded upstream gradient.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from nn_helpers import assert_close, assert_state_equal, compare_with_torch, randomize

import chainrule as cr
from chainrule import nn
from chainrule.errors import ShapeError

F = nn.functional


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def both(name, *args, **kwargs):
    """The chainrule and torch layers of the same class name and arguments (torch's randomised)."""
    return getattr(nn, name)(*args, **kwargs), randomize(getattr(torch.nn, name)(*args, **kwargs))


# ----- Linear, Identity, Flatten, Unflatten --------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
def test_linear(bias, shape):
    compare_with_torch(*both("Linear", 4, 3, bias=bias), [rand(*shape)])


def test_linear_float64():
    layer = nn.Linear(4, 3, dtype=cr.float64)
    tlayer = randomize(torch.nn.Linear(4, 3, dtype=torch.float64))
    compare_with_torch(layer, tlayer, [rand(5, 4, dtype=np.float64)])


def test_identity_flatten_unflatten():
    x = rand(2, 3, 4, 5)
    compare_with_torch(nn.Identity(54, unused=True), torch.nn.Identity(54, unused=True), [x])
    compare_with_torch(nn.Flatten(), torch.nn.Flatten(), [x])
    compare_with_torch(nn.Flatten(0, 2), torch.nn.Flatten(0, 2), [x])
    compare_with_torch(nn.Flatten(-3, -2), torch.nn.Flatten(-3, -2), [x])
    compare_with_torch(nn.Unflatten(1, (3, 20)), torch.nn.Unflatten(1, (3, 20)), [rand(2, 60)])
    compare_with_torch(nn.Unflatten(-1, (2, -1)), torch.nn.Unflatten(-1, (2, -1)), [rand(2, 3, 8)])


# ----- convolution ---------------------------------------------------------------------------------------

CONV2D = [
    # input shape, out_channels, kernel_size, kwargs
    ((2, 3, 9, 9), 4, 3, {}),
    ((2, 4, 10, 8), 6, (3, 2), {"stride": (2, 1), "padding": (1, 2), "groups": 2, "bias": False}),
    ((1, 2, 11, 11), 4, 3, {"stride": 2, "padding": 2, "dilation": 2}),
    ((2, 3, 8, 8), 3, 3, {"padding": "same", "groups": 3}),
    ((2, 3, 8, 7), 4, 4, {"padding": "same", "dilation": 2}),
    ((2, 3, 7, 7), 2, 3, {"padding": "valid"}),
    ((2, 3, 7, 6), 2, 3, {"padding": (1, 2), "padding_mode": "reflect"}),
    ((2, 3, 7, 6), 2, 3, {"padding": 1, "padding_mode": "replicate", "stride": 2}),
    ((2, 3, 7, 6), 2, 3, {"padding": (2, 1), "padding_mode": "circular"}),
    ((3, 7, 7), 2, 3, {"padding": 1}),  # unbatched (C, H, W)
]


@pytest.mark.parametrize("shape,out_channels,kernel_size,kwargs", CONV2D)
def test_conv2d(shape, out_channels, kernel_size, kwargs):
    layer, tlayer = both("Conv2d", shape[-3], out_channels, kernel_size, **kwargs)
    assert [tuple(p.shape) for p in layer.parameters()] == [tuple(p.shape) for p in tlayer.parameters()]
    compare_with_torch(layer, tlayer, [rand(*shape)])


def test_conv2d_float64():
    layer = nn.Conv2d(2, 3, 3, padding=1, dtype=cr.float64)
    tlayer = randomize(torch.nn.Conv2d(2, 3, 3, padding=1, dtype=torch.float64))
    compare_with_torch(layer, tlayer, [rand(2, 2, 5, 5, dtype=np.float64)])


class _TorchUntiedConv(torch.nn.Module):
    """The reference for an untied bias: a bias-free torch conv plus a (C_out, H_out, W_out) bias."""

    def __init__(self, *args, untied_bias, **kwargs):
        super().__init__()
        self.conv = torch.nn.Conv2d(*args, bias=False, **kwargs)
        self.bias = torch.nn.Parameter(torch.randn(self.conv.out_channels, *untied_bias))

    def forward(self, x):
        return self.conv(x) + self.bias


@pytest.mark.parametrize("kwargs,size", [({}, (6, 5)), ({"stride": 2, "padding": 1}, (4, 4))])
def test_conv2d_untied_bias(kwargs, size):
    layer = nn.Conv2d(3, 4, 3, untied_bias=size, **kwargs)
    assert layer.bias.shape == (4, *size)
    ref = randomize(_TorchUntiedConv(3, 4, 3, untied_bias=size, **kwargs))
    layer.load_state_dict({"weight": ref.conv.weight.detach().numpy(), "bias": ref.bias.detach().numpy()})
    x = rand(2, 3, 8, 7)
    xt = torch.tensor(x, requires_grad=True)
    xc = cr.Tensor(x, requires_grad=True)
    y, yt = layer(xc), ref(xt)
    assert_close(y.numpy(), yt.detach().numpy())
    g = rand(*y.shape, seed=1)
    y.backward(cr.Tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xc.grad.numpy(), xt.grad.numpy())
    assert_close(layer.weight.grad.numpy(), ref.conv.weight.grad.numpy())
    assert_close(layer.bias.grad.numpy(), ref.bias.grad.numpy())
    assert "untied_bias=" in repr(layer)


def test_conv2d_untied_bias_arguments():
    with pytest.raises(ValueError, match="bias=True"):
        nn.Conv2d(1, 1, 3, bias=False, untied_bias=(2, 2))
    with pytest.raises(ValueError, match="pair"):
        nn.Conv2d(1, 1, 3, untied_bias=(2, 0))
    assert nn.Conv2d.__doc__ and "untied" in nn.Conv2d.__doc__.lower()


def test_conv_arguments_are_checked():
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError):
        nn.Conv2d(4, 4, 3, padding="same", stride=2)
    with pytest.raises(ValueError):
        nn.Conv2d(4, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError):
        nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect")


CONV_TRANSPOSE2D = [
    ((2, 3, 5, 5), 4, 3, {}),
    ((2, 4, 4, 5), 6, (3, 2), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
    ((1, 2, 5, 4), 3, 3, {"stride": (2, 3), "dilation": 2, "bias": False, "output_padding": (1, 0)}),
]


@pytest.mark.parametrize("shape,out_channels,kernel_size,kwargs", CONV_TRANSPOSE2D)
def test_conv_transpose2d(shape, out_channels, kernel_size, kwargs):
    layer, tlayer = both("ConvTranspose2d", shape[1], out_channels, kernel_size, **kwargs)
    assert layer.weight.shape == tuple(tlayer.weight.shape) == (shape[1], out_channels // kwargs.get("groups", 1),
                                                                 *layer.kernel_size)
    compare_with_torch(layer, tlayer, [rand(*shape)])


def test_conv_transpose2d_output_size():
    layer, tlayer = both("ConvTranspose2d", 2, 3, 3, stride=2, padding=1)
    x = rand(1, 2, 4, 4)
    layer.load_state_dict({k: v.detach().numpy() for k, v in tlayer.state_dict().items()})
    for size in [(7, 7), (8, 8), (1, 3, 8, 7)]:
        y = layer(cr.Tensor(x), output_size=size)
        yt = tlayer(torch.tensor(x), output_size=size)
        assert y.shape == tuple(yt.shape)
        assert_close(y.numpy(), yt.detach().numpy())
    with pytest.raises(ValueError):
        layer(cr.Tensor(x), output_size=(9, 9))


# ----- pooling -------------------------------------------------------------------------------------------

POOLS = [
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1}),
    ("MaxPool2d", ((3, 2),), {"stride": (2, 1), "dilation": (1, 2), "ceil_mode": True}),
    ("AvgPool2d", (2,), {}),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}),
    ("AvgPool2d", ((2, 3),), {"divisor_override": 4}),
    ("AdaptiveAvgPool2d", ((3, 4),), {}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("AdaptiveAvgPool2d", ((None, 2),), {}),
]


@pytest.mark.parametrize("name,args,kwargs", POOLS)
def test_pooling(name, args, kwargs):
    compare_with_torch(*both(name, *args, **kwargs), [rand(2, 3, 9, 8)])


@pytest.mark.parametrize("norm_type,kwargs", [(2, {}), (3, {"stride": 1}), (1.5, {"ceil_mode": True, "stride": 2})])
def test_lp_pool2d(norm_type, kwargs):
    x = np.abs(rand(2, 3, 9, 8)) + 0.1  # positive: fractional powers of negative sums are undefined
    compare_with_torch(*both("LPPool2d", norm_type, 3, **kwargs), [x])


def test_max_pool2d_return_indices():
    layer, tlayer = both("MaxPool2d", 2, return_indices=True)
    x = rand(2, 3, 6, 6)
    (y, idx), (yt, idxt) = layer(cr.Tensor(x)), tlayer(torch.tensor(x))
    assert_close(y.numpy(), yt.numpy())
    np.testing.assert_array_equal(idx.numpy(), idxt.numpy())


def test_pooling_defaults_stride_to_kernel():
    assert nn.MaxPool2d(3).stride == torch.nn.MaxPool2d(3).stride == 3
    assert nn.AvgPool2d((2, 3)).stride == torch.nn.AvgPool2d((2, 3)).stride


# ----- dropout -------------------------------------------------------------------------------------------


def test_dropout_eval_and_p0_are_identity():
    x = cr.Tensor(rand(4, 5))
    drop = nn.Dropout(0.5).eval()
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())
    assert not np.any(nn.Dropout(1.0)(x).numpy())


def test_dropout_training_mask_scale_and_gradient():
    x = cr.Tensor(rand(200, 50), requires_grad=True)
    drop = nn.Dropout(0.3, generator=np.random.default_rng(0))
    y = drop(x)
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y.numpy()[kept], x.numpy()[kept] / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / np.float32(0.7), rtol=1e-6)


def test_dropout_generator_reproduces():
    x = cr.Tensor(rand(10, 10))
    a = nn.Dropout(generator=np.random.default_rng(5))(x).numpy()
    b = nn.Dropout(generator=np.random.default_rng(5))(x).numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


# ----- normalisation -------------------------------------------------------------------------------------

BATCHNORM = [
    ("BatchNorm1d", (8, 5), {}),
    ("BatchNorm1d", (6, 5, 4), {"momentum": None}),
    ("BatchNorm2d", (4, 5, 3, 3), {}),
    ("BatchNorm2d", (4, 5, 3, 3), {"affine": False, "momentum": 0.3}),
    ("BatchNorm2d", (4, 5, 3, 3), {"bias": False}),
    ("BatchNorm2d", (4, 5, 3, 3), {"track_running_stats": False}),
]


@pytest.mark.parametrize("name,shape,kwargs", BATCHNORM)
def test_batch_norm_train_then_eval(name, shape, kwargs):
    layer, tlayer = both(name, shape[1], **kwargs)
    compare_with_torch(layer, tlayer, [rand(*shape, seed=1)], atol=1e-4)
    for step in range(2, 4):  # the running statistics follow torch's over several steps
        compare_with_torch(layer, tlayer, [rand(*shape, seed=step) * step], load=False, atol=1e-4)
    assert_state_equal(layer, tlayer)
    layer.eval()
    tlayer.eval()
    compare_with_torch(layer, tlayer, [rand(*shape, seed=9)], load=False, atol=1e-4)
    assert_state_equal(layer, tlayer)


def test_batch_norm_checks_input_dims():
    with pytest.raises(ShapeError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(3)(cr.zeros(2, 3, 4, 5))
    with pytest.raises(ShapeError, match="expected 4D input"):
        nn.BatchNorm2d(3)(cr.zeros(2, 3))


def test_batch_norm_eval_does_not_update_stats():
    layer = nn.BatchNorm1d(3).eval()
    layer(cr.Tensor(rand(4, 3)))
    assert layer.num_batches_tracked.item() == 0
    np.testing.assert_array_equal(layer.running_mean.numpy(), 0)


@pytest.mark.parametrize("shape,normalized_shape,kwargs", [
    ((4, 6), 6, {}),
    ((2, 3, 4, 5), (4, 5), {}),
    ((2, 3, 4), [3, 4], {"elementwise_affine": False}),
    ((2, 3, 4), 4, {"bias": False, "eps": 1e-3}),
])
def test_layer_norm(shape, normalized_shape, kwargs):
    compare_with_torch(*both("LayerNorm", normalized_shape, **kwargs), [rand(*shape)], atol=1e-4)


# ----- embedding ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("padding_idx", [None, 0, -2])
def test_embedding(padding_idx):
    layer, tlayer = both("Embedding", 10, 4, padding_idx=padding_idx)
    if padding_idx is not None:
        with torch.no_grad():
            tlayer.weight[padding_idx] = 0
    idx = np.array([[1, 2, 0, 8], [8, 8, 3, 0]], dtype=np.int64)
    compare_with_torch(layer, tlayer, [idx])
    if padding_idx is not None:
        assert not np.any(layer.weight.grad.numpy()[padding_idx])


def test_embedding_from_pretrained():
    table = rand(5, 3)
    emb = nn.Embedding.from_pretrained(table)
    temb = torch.nn.Embedding.from_pretrained(torch.tensor(table))
    np.testing.assert_array_equal(emb.weight.numpy(), table)
    assert not emb.weight.requires_grad and emb.weight.requires_grad == temb.weight.requires_grad
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


# ----- activations ---------------------------------------------------------------------------------------

ACTIVATIONS = [
    ("ReLU", (), {}), ("LeakyReLU", (), {}), ("LeakyReLU", (0.2,), {}), ("ELU", (), {}), ("ELU", (0.5,), {}),
    ("GELU", (), {}), ("GELU", (), {"approximate": "tanh"}), ("Sigmoid", (), {}), ("Tanh", (), {}),
    ("Softplus", (), {}), ("Softplus", (), {"beta": 2.0, "threshold": 1.0}), ("Softmax", (), {"dim": 1}),
    ("Softmax", (), {"dim": -1}), ("LogSoftmax", (), {"dim": 1}), ("LogSoftmax", (), {"dim": 0}),
]


@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS)
def test_activation(name, args, kwargs):
    x = rand(4, 5, 3) * 3
    x[np.abs(x) < 1e-3] = 0.5  # away from the kinks at 0
    compare_with_torch(*both(name, *args, **kwargs), [x])


def test_softmax_without_dim_uses_torchs_implicit_choice():
    x = rand(3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.Softmax()(cr.Tensor(x))
    with pytest.warns(UserWarning):
        yt = torch.nn.Softmax()(torch.tensor(x))
    assert_close(y.numpy(), yt.numpy())


def test_inplace_writes_into_the_input_outside_the_graph_and_stays_exact_inside_it():
    x = cr.tensor([-1.0, 2.0, -3.0])
    out = nn.ReLU(inplace=True)(x)
    assert out is x and x.tolist() == [0.0, 2.0, 0.0] and "inplace=True" in repr(nn.ReLU(inplace=True))
    pairs = ((nn.LeakyReLU(0.1, inplace=True), torch.nn.LeakyReLU(0.1)), (nn.ELU(inplace=True), torch.nn.ELU()))
    for layer, ref in pairs:
        y = cr.tensor([-1.0, 2.0])
        assert layer(y) is y
        np.testing.assert_allclose(y.numpy(), ref(torch.tensor([-1.0, 2.0])).numpy(), rtol=1e-6)
    w = cr.tensor([-1.0, 2.0], requires_grad=True)
    h = w * 2
    r = F.relu(h, inplace=True)  # h requires grad: the same values out of place, so backward stays exact
    r.sum().backward()
    assert r.tolist() == [0.0, 4.0] and w.grad.tolist() == [0.0, 2.0]
    d = cr.ones(1000)
    kept = nn.Dropout(0.5, inplace=True)(d)
    assert kept is d and set(np.unique(d.numpy())) <= {0.0, 2.0}
    z = cr.ones(3)
    seen = z * cr.tensor([1.0, 2.0, 3.0], requires_grad=True)  # z is saved by this graph
    F.relu(z * -1, inplace=True)  # a new tensor: z itself is untouched
    nn.ReLU(inplace=True)(z)  # z is written (same values), and its version moves
    with pytest.raises(cr.BackwardError, match="modified by an inplace operation"):
        seen.sum().backward()


# ----- losses -------------------------------------------------------------------------------------------

_N, _C = 6, 4


def _targets(seed=0, ignore=False):
    t = np.random.default_rng(seed).integers(0, _C, _N).astype(np.int64)
    if ignore:
        t[1] = -100
    return t


def _probs(*shape, seed=0):
    return (1 / (1 + np.exp(-rand(*shape, seed=seed)))).astype(np.float32)


LOSSES = [
    ("CrossEntropyLoss", {}, lambda: [rand(_N, _C), _targets()]),
    ("CrossEntropyLoss", {"reduction": "sum", "label_smoothing": 0.1}, lambda: [rand(_N, _C), _targets()]),
    ("CrossEntropyLoss", {"weight": np.arange(1, _C + 1, dtype=np.float32)},
     lambda: [rand(_N, _C), _targets(ignore=True)]),
    ("CrossEntropyLoss", {"reduction": "none"},
     lambda: [rand(_N, _C, 3), np.random.default_rng(4).integers(0, _C, (_N, 3))]),
    ("CrossEntropyLoss", {}, lambda: [rand(_N, _C), np.exp(rand(_N, _C, seed=2)) / np.exp(
        rand(_N, _C, seed=2)).sum(1, keepdims=True)]),  # class probabilities as targets
    ("NLLLoss", {}, lambda: [np.log(_probs(_N, _C)), _targets()]),
    ("NLLLoss", {"weight": np.array([0.5, 1, 2, 1], np.float32), "reduction": "sum"},
     lambda: [np.log(_probs(_N, _C)), _targets(ignore=True)]),
    ("BCELoss", {}, lambda: [_probs(_N, 3), _probs(_N, 3, seed=1)]),
    ("BCELoss", {"weight": np.array([1, 2, 3], np.float32), "reduction": "none"},
     lambda: [_probs(_N, 3), (_probs(_N, 3, seed=1) > 0.5).astype(np.float32)]),
    ("BCEWithLogitsLoss", {}, lambda: [rand(_N, 3) * 4, _probs(_N, 3, seed=1)]),
    ("BCEWithLogitsLoss", {"pos_weight": np.array([1, 2, 0.5], np.float32), "weight": np.array([2, 1, 1], np.float32)},
     lambda: [rand(_N, 3) * 4, _probs(_N, 3, seed=1)]),
    ("MSELoss", {}, lambda: [rand(_N, 3), rand(_N, 3, seed=1)]),
    ("MSELoss", {"reduction": "sum"}, lambda: [rand(_N, 3), rand(_N, 3, seed=1)]),
    ("L1Loss", {}, lambda: [rand(_N, 3), rand(_N, 3, seed=1)]),
    ("L1Loss", {"reduction": "none"}, lambda: [rand(_N, 3), rand(_N, 3, seed=1)]),
    ("SmoothL1Loss", {}, lambda: [rand(_N, 3), rand(_N, 3, seed=1)]),
    ("SmoothL1Loss", {"beta": 0.5, "reduction": "sum"}, lambda: [rand(_N, 3), rand(_N, 3, seed=1)]),
]


def _loss_kwargs(kwargs, lib):
    """Array weights become each library's tensors."""
    to = cr.Tensor if lib == "cr" else torch.tensor
    return {k: to(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


@pytest.mark.parametrize("name,kwargs,inputs", LOSSES)
def test_loss(name, kwargs, inputs):
    arrays = inputs()
    loss = getattr(nn, name)(**_loss_kwargs(kwargs, "cr"))
    tloss = getattr(torch.nn, name)(**_loss_kwargs(kwargs, "torch"))
    assert list(loss.state_dict()) == list(tloss.state_dict())  # class weights are buffers, as in torch
    compare_with_torch(loss, tloss, arrays, requires_grad=[True] + [False] * (len(arrays) - 1))


@pytest.mark.parametrize("kwargs,var_shape", [({}, (_N, 3)), ({"full": True, "reduction": "sum"}, (_N, 1)),
                                              ({"eps": 0.5, "reduction": "none"}, (_N, 3))])
def test_gaussian_nll_loss(kwargs, var_shape):
    arrays = [rand(_N, 3), rand(_N, 3, seed=1), np.exp(rand(*var_shape, seed=2))]
    compare_with_torch(nn.GaussianNLLLoss(**kwargs), torch.nn.GaussianNLLLoss(**kwargs), arrays,
                       requires_grad=[True, False, True])


def test_loss_reduction_arguments():
    with pytest.raises(ValueError):
        nn.MSELoss(reduction="avg")
    with pytest.warns(UserWarning):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning):
        assert nn.L1Loss(reduce=False).reduction == "none"


class _TorchMixtureNLL(torch.nn.Module):
    """−log Σ_k softmax(pi_logits)_k · N(t | μ_k, diag σ_k²), written directly in torch."""

    def forward(self, pi_logits, mu, log_sigma, target):
        if mu.ndim == 2:
            mu, log_sigma, target = mu[..., None], log_sigma[..., None], target[..., None]
        comp = torch.distributions.Normal(mu, log_sigma.exp()).log_prob(target[:, None, :]).sum(-1)
        return -torch.logsumexp(torch.log_softmax(pi_logits, 1) + comp, 1).mean()


@pytest.mark.parametrize("d", [None, 2])
def test_mixture_density_nll_loss(d):
    n, k = 5, 3
    extra = () if d is None else (d,)
    arrays = [rand(n, k), rand(n, k, *extra, seed=1), 0.3 * rand(n, k, *extra, seed=2), rand(n, *extra, seed=3)]
    compare_with_torch(nn.MixtureDensityNLLLoss(), _TorchMixtureNLL(), arrays, requires_grad=[True, True, True, False])
    assert nn.MixtureDensityNLLLoss(reduction="none")(*[cr.Tensor(a) for a in arrays]).shape == (n,)
    assert math.isfinite(nn.MixtureDensityNLLLoss(reduction="sum")(*[cr.Tensor(a) for a in arrays]).item())
