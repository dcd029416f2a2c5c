"""``p.data`` with PyTorch's in-place methods, changing the parameter without autograd, and the ``nn.init``
functions with PyTorch's names and signatures."""

import inspect
import math

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.nn import init


def test_data_is_a_tensor_sharing_memory_and_version_with_in_place_methods():
    p = nn.Parameter(cr.zeros(2, 3))
    data = p.data
    assert type(data) is cr.Tensor and not data.requires_grad and data.creator is None
    assert np.shares_memory(data.numpy(), p.numpy()) and data.size() == (2, 3) and data.shape == p.shape
    version = p.version
    assert data.fill_(2.0) is data and p.numpy().tolist() == [[2.0] * 3] * 2
    data.add_(cr.ones(2, 3), alpha=-0.5)
    data.mul_(4).sub_(np.ones((2, 3), np.float32), alpha=2)
    assert p.numpy().tolist() == [[4.0] * 3] * 2
    data.div_(2).clamp_(max=1.5)
    assert p.numpy().tolist() == [[1.5] * 3] * 2
    data.copy_(cr.arange(6.0).reshape(2, 3))
    assert p.numpy().tolist() == [[0, 1, 2], [3, 4, 5]]
    data.zero_()
    assert not p.numpy().any() and p.version == version + 8 and data.version == p.version and p.dtype == np.float32
    assert p.data.dim() == 2 and p.data.numel() == 6 and p.grad is None and p.is_leaf
    copy = p.data.clone()
    copy.add_(1)
    assert not p.numpy().any() and copy.numpy().tolist() == [[1.0] * 3] * 2
    assert p.data.cpu().numpy() is p.numpy()


def test_every_tensor_has_data_as_pytorch_and_its_grad_too():
    x = cr.ones(3, requires_grad=True)
    (x * x).sum().backward()
    x.grad.data.zero_()  # the old PyTorch idiom for zeroing a gradient
    assert x.grad.numpy().tolist() == [0.0] * 3
    values, indices = (x * cr.tensor([1.0, 3.0, 2.0])).data.max(0)  # (values, indices), as PyTorch
    assert values.item() == 3.0 and indices.item() == 1
    assert f"{x.data.sum():.1f}" == "3.0" and x.data.numpy() is x.numpy()


def test_data_writes_need_no_no_grad_and_build_no_graph():
    p = nn.Parameter(cr.ones(3))
    p.data.normal_(0.0, 0.02)
    p.data.uniform_(-0.1, 0.1)
    assert p.creator is None and p.requires_grad and np.abs(p.numpy()).max() <= 0.1


def test_a_graph_that_saved_the_parameter_refuses_backward_after_a_data_write():
    p = nn.Parameter(cr.ones(3))
    y = (p * p).sum()
    p.data.mul_(2)
    with pytest.raises(cr.BackwardError, match=r"modified by an inplace operation"):
        y.backward()


def test_arithmetic_on_data_gives_tensors_outside_the_graph_and_numpy_sees_the_values():
    p = nn.Parameter(cr.ones(2, 2))
    out = p.data * 2 + 1
    assert type(out) is cr.Tensor and not out.requires_grad and out.numpy().tolist() == [[3.0] * 2] * 2
    assert np.asarray(p.data) is p.numpy() and np.asarray(p, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(p.data, np.ones((2, 2)))  # NumPy takes tensors where it takes arrays


def test_assigning_data_replaces_the_values_and_bumps_the_version():
    p = nn.Parameter(cr.ones(2))
    version = p.version
    p.data -= 1  # p.data = p.data - 1: the parameter holds the result
    assert p.numpy().tolist() == [0.0, 0.0] and p.version == version + 1 and p.requires_grad
    p.data = np.full(3, 7.0, dtype=np.float32)  # an array, or a tensor
    assert p.shape == (3,) and p.numpy().tolist() == [7.0] * 3 and type(p.data) is cr.Tensor
    p.data = cr.zeros(3)
    assert p.numpy().tolist() == [0.0] * 3 and type(p) is nn.Parameter and p.version == version + 3


def test_the_sgd_by_hand_idiom_equals_sgd():
    cr.manual_seed(1)
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    x = cr.randn(4, 3)
    for model in (a, b):
        model(x).pow(2).sum().backward()
    for p in a.parameters():
        p.data.add_(p.grad, alpha=-0.1)  # word_language_model's update
    cr.optim.SGD(b.parameters(), lr=0.1).step()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-6)


def test_the_weights_init_idiom_with_apply_is_seeded():
    def weights_init(m):
        if isinstance(m, nn.Linear):
            m.weight.data.normal_(0.0, 0.02)
            m.bias.data.fill_(0)

    def build():
        cr.manual_seed(7)
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)).apply(weights_init)

    one, two = build(), build()
    assert np.array_equal(one[0].weight.numpy(), two[0].weight.numpy()) and not one[2].bias.numpy().any()
    assert 0.005 < one[0].weight.numpy().std() < 0.04


# ----- nn.init ----------------------------------------------------------------------------------------------


NAMES = ["calculate_gain", "constant_", "eye_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_",
         "orthogonal_", "trunc_normal_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_"]


@pytest.mark.parametrize("name", NAMES)
def test_init_signatures_are_torchs(name):
    ours = inspect.signature(getattr(init, name)).parameters
    theirs = inspect.signature(getattr(torch.nn.init, name)).parameters
    assert list(ours) == list(theirs)
    for key in theirs:
        if key not in ("tensor", "generator"):
            assert ours[key].default == theirs[key].default, key


def test_eye_and_orthogonal_as_torch():
    w = nn.Parameter(cr.zeros(3, 5))
    assert init.eye_(w) is w and np.array_equal(w.numpy(), np.eye(3, 5))
    for shape in [(3, 5), (5, 3), (4, 2, 3)]:
        w = init.orthogonal_(cr.zeros(*shape, dtype=cr.float64), gain=2.0)
        flat = w.numpy().reshape(shape[0], -1)
        small = flat @ flat.T if shape[0] <= flat.shape[1] else flat.T @ flat
        np.testing.assert_allclose(small, 4.0 * np.eye(len(small)), atol=1e-12)
    with pytest.raises(ValueError, match=r"^eye_: only 2-d tensors are supported"):
        init.eye_(cr.zeros(2, 2, 2))
    with pytest.raises(ValueError, match=r"^orthogonal_: only tensors with 2 or more dimensions"):
        init.orthogonal_(cr.zeros(3))


def test_trunc_normal_stays_in_bounds_and_is_seeded():
    cr.manual_seed(5)
    a = init.trunc_normal_(cr.zeros(20000), mean=0.5, std=1.0, a=-0.5, b=2.0)
    cr.manual_seed(5)
    b = init.trunc_normal_(cr.zeros(20000), mean=0.5, std=1.0, a=-0.5, b=2.0)
    assert np.array_equal(a.numpy(), b.numpy()) and a.numpy().min() >= -0.5 and a.numpy().max() <= 2.0
    t = torch.nn.init.trunc_normal_(torch.zeros(20000), mean=0.5, std=1.0, a=-0.5, b=2.0)
    assert abs(float(a.numpy().mean()) - float(t.mean())) < 0.03  # the same truncated distribution
    assert abs(float(a.numpy().std()) - float(t.std())) < 0.03


@pytest.mark.parametrize(("nonlinearity", "param"), [("relu", None), ("tanh", None), ("leaky_relu", 0.2),
                                                      ("selu", None), ("conv2d", None)])
def test_calculate_gain_is_torchs(nonlinearity, param):
    assert math.isclose(init.calculate_gain(nonlinearity, param), torch.nn.init.calculate_gain(nonlinearity, param))
