"""Normal against torch.distributions.Normal: values and gradients of log_prob, cdf, entropy and the moments,
with broadcasting, in float64 and float32; the reparameterised sample and its gradient; float64 gradchecks."""

import numpy as np
import pytest
import torch
import torch.distributions as TD
from helpers import check_grads, check_torch, rng

import chainrule as cr
import chainrule.distributions as D


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_prob_matches_torch_with_broadcasting(dtype):
    r = rng(0)
    loc = r.standard_normal((3, 1)).astype(dtype)
    scale = r.uniform(0.5, 2.0, (4,)).astype(dtype)
    value = r.standard_normal((2, 3, 4)).astype(dtype)
    check_torch(lambda m, s, x: D.Normal(m, s).log_prob(x), lambda m, s, x: TD.Normal(m, s).log_prob(x),
                [loc, scale, value])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_entropy_cdf_and_moments_match_torch(dtype):
    r = rng(1)
    loc = r.standard_normal((2, 3)).astype(dtype)
    scale = r.uniform(0.5, 2.0, (2, 3)).astype(dtype)
    value = r.standard_normal((2, 3)).astype(dtype)
    check_torch(lambda m, s: D.Normal(m, s).entropy(), lambda m, s: TD.Normal(m, s).entropy(), [loc, scale])
    check_torch(lambda m, s: D.Normal(m, s).cdf(cr.tensor(value)), lambda m, s: TD.Normal(m, s).cdf(
        torch.tensor(value)), [loc, scale])
    for name in ("mean", "mode", "stddev", "variance"):
        check_torch(lambda m, s, name=name: getattr(D.Normal(m, s), name),
                    lambda m, s, name=name: getattr(TD.Normal(m, s), name),
                    [loc, scale])


def test_python_numbers_as_parameters_give_float32_as_torch():
    n, t = D.Normal(0.5, 2.0), TD.Normal(0.5, 2.0)
    x = np.array([0.1, -3.0], dtype=np.float32)
    assert n.batch_shape == tuple(t.batch_shape) == () and n.event_shape == ()
    out = n.log_prob(cr.tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), t.log_prob(torch.tensor(x)).numpy(), rtol=1e-6)


def test_log_prob_entropy_and_cdf_pass_gradcheck():
    r = rng(2)
    loc, scale, value = r.standard_normal((2, 3)), r.uniform(0.5, 2.0, (2, 3)), r.standard_normal((2, 3))
    check_grads(lambda m, s, x: D.Normal(m, s).log_prob(x), [loc, scale, value])
    check_grads(lambda s: D.Normal(0.0, s).entropy(), [scale])
    check_grads(lambda m, s: D.Normal(m, s).cdf(cr.tensor(value)), [loc, scale], second=False)


def test_rsample_is_loc_plus_scale_times_the_generators_noise():
    r = rng(3)
    loc = cr.tensor(r.standard_normal((2, 3)), requires_grad=True)
    scale = cr.tensor(r.uniform(0.5, 2.0, (2, 3)), requires_grad=True)
    cr.manual_seed(7)
    x = D.Normal(loc, scale).rsample((5,))
    cr.manual_seed(7)
    eps = cr.randn((5, 2, 3), dtype=cr.float64).numpy()
    assert x.shape == (5, 2, 3) and x.dtype == np.float64
    np.testing.assert_allclose(x.numpy(), loc.numpy() + scale.numpy() * eps, rtol=1e-12)
    # the same noise through torch's reparameterisation: equal values and gradients
    tl = torch.tensor(loc.numpy(), requires_grad=True)
    ts = torch.tensor(scale.numpy(), requires_grad=True)
    g = r.standard_normal((5, 2, 3))
    tx = TD.Normal(tl, ts).loc + torch.tensor(eps) * TD.Normal(tl, ts).scale
    tx.backward(torch.tensor(g))
    x.backward(cr.tensor(g))
    np.testing.assert_allclose(loc.grad.numpy(), tl.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(scale.grad.numpy(), ts.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(scale.grad.numpy(), (g * eps).sum(0), rtol=1e-12)  # ∂x/∂σ = ε


def test_rsample_gradient_has_torchs_structure():
    """torch's own rsample: (x − μ)/σ recovers its noise ε, and ∂Σx/∂μ = n, ∂Σx/∂σ = Σε; chainrule's likewise."""
    for lib, dist in ((torch, TD), (cr, D)):
        loc = lib.tensor([0.3, -1.0], dtype=lib.float64, requires_grad=True)
        scale = lib.tensor([2.0, 0.5], dtype=lib.float64, requires_grad=True)
        x = dist.Normal(loc, scale).rsample((4,))
        eps = (x.detach().numpy() - loc.detach().numpy()) / scale.detach().numpy()
        x.sum().backward()
        np.testing.assert_allclose(loc.grad.numpy(), [4.0, 4.0])
        np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0), rtol=1e-12)


def test_sample_has_no_graph_and_its_statistics_match():
    cr.manual_seed(0)
    loc = cr.tensor([1.0, -2.0], requires_grad=True)
    scale = cr.tensor([0.5, 3.0], requires_grad=True)
    x = D.Normal(loc, scale).sample((20000,))
    assert x.shape == (20000, 2) and x.dtype == np.float32 and not x.requires_grad
    n = 20000
    se_mean = np.array([0.5, 3.0]) / np.sqrt(n)
    se_var = np.array([0.25, 9.0]) * np.sqrt(2 / (n - 1))
    assert np.all(np.abs(x.numpy().mean(0) - [1.0, -2.0]) < 4 * se_mean)
    assert np.all(np.abs(x.numpy().var(0, ddof=1) - [0.25, 9.0]) < 4 * se_var)


def test_the_same_seed_gives_the_same_samples():
    cr.manual_seed(5)
    a = D.Normal(cr.zeros(3), cr.ones(3)).sample((2,))
    cr.manual_seed(5)
    b = D.Normal(cr.zeros(3), cr.ones(3)).sample((2,))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
