"""MixtureSameFamily (the mixture density network's output unit) and Independent against torch.distributions:
log_prob by logsumexp, mean and variance, with scalar and vector (Independent Normal) components; gradchecks,
agreement with F.mixture_density_nll, sampling."""

import numpy as np
import pytest
import torch
import torch.distributions as TD
from helpers import check_grads, check_torch, rng

import chainrule as cr
import chainrule.distributions as D


def _mdn(lib, logits, loc, scale, event_dims=0):
    comp = lib.Normal(loc, scale)
    if event_dims:
        comp = lib.Independent(comp, event_dims)
    return lib.MixtureSameFamily(lib.Categorical(logits=logits), comp)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("event_dims", [0, 1])
def test_log_prob_mean_and_variance_match_torch(dtype, event_dims):
    r = rng(event_dims)
    tail = (2,) if event_dims else ()
    logits = r.standard_normal((4, 3)).astype(dtype)
    loc = (r.standard_normal((4, 3) + tail) * 2).astype(dtype)
    scale = r.uniform(0.3, 1.5, (4, 3) + tail).astype(dtype)
    x = (r.standard_normal((5, 4) + tail) * 2).astype(dtype)
    x[0, 0] = 40.0  # far from every component: the logsumexp keeps it finite
    check_torch(lambda a, m, s: _mdn(D, a, m, s, event_dims).log_prob(cr.tensor(x)),
                lambda a, m, s: _mdn(TD, a, m, s, event_dims).log_prob(torch.tensor(x)), [logits, loc, scale])
    for name in ("mean", "variance"):
        check_torch(lambda a, m, s, name=name: getattr(_mdn(D, a, m, s, event_dims), name),
                    lambda a, m, s, name=name: getattr(_mdn(TD, a, m, s, event_dims), name), [logits, loc, scale])
    d = _mdn(D, cr.tensor(logits), cr.tensor(loc), cr.tensor(scale), event_dims)
    t = _mdn(TD, torch.tensor(logits), torch.tensor(loc), torch.tensor(scale), event_dims)
    assert d.batch_shape == tuple(t.batch_shape) and d.event_shape == tuple(t.event_shape)


def test_log_prob_passes_gradcheck():
    r = rng(3)
    x = r.standard_normal((2, 4))
    check_grads(lambda a, m, s: _mdn(D, a, m, s).log_prob(cr.tensor(x)),
                [r.standard_normal((4, 3)), r.standard_normal((4, 3)), r.uniform(0.5, 1.5, (4, 3))])


def test_log_prob_equals_minus_the_mixture_density_nll():
    r = rng(4)
    logits, loc, log_sigma = (cr.tensor(r.standard_normal((6, 3)).astype(np.float32)) for _ in range(3))
    target = cr.tensor(r.standard_normal(6).astype(np.float32))
    lp = _mdn(D, logits, loc, log_sigma.exp()).log_prob(target)
    nll = cr.nn.functional.mixture_density_nll(logits, loc, log_sigma, target, reduction="none")
    np.testing.assert_allclose(lp.numpy(), -nll.numpy(), rtol=1e-5, atol=1e-6)


def test_independent_sums_log_prob_and_entropy_as_torch():
    r = rng(5)
    loc, scale = r.standard_normal((3, 4)), r.uniform(0.5, 2.0, (3, 4))
    x = r.standard_normal((2, 3, 4))
    check_torch(lambda m, s: D.Independent(D.Normal(m, s), 1).log_prob(cr.tensor(x)),
                lambda m, s: TD.Independent(TD.Normal(m, s), 1).log_prob(torch.tensor(x)), [loc, scale])
    check_torch(lambda m, s: D.Independent(D.Normal(m, s), 2).entropy(),
                lambda m, s: TD.Independent(TD.Normal(m, s), 2).entropy(), [loc, scale])
    d = D.Independent(D.Normal(cr.tensor(loc), cr.tensor(scale)), 1)
    assert d.batch_shape == (3,) and d.event_shape == (4,) and d.has_rsample


def test_samples_have_the_mixtures_shape_and_moments():
    cr.manual_seed(3)
    logits = cr.tensor([[0.0, np.log(3.0)]])
    d = _mdn(D, logits, cr.tensor([[-2.0, 2.0]]), cr.tensor([[0.5, 1.0]]))
    x = d.sample((20000,))
    assert x.shape == (20000, 1) and x.dtype == np.float32
    mean, var = d.mean.numpy(), d.variance.numpy()  # 1.0 and 0.25·0.25 + 0.75·1 + 3.0
    np.testing.assert_allclose([mean[0], var[0]], [1.0, 0.0625 + 0.75 + 3.0], rtol=1e-6)
    assert abs(x.numpy().mean() - 1.0) < 4 * np.sqrt(var[0] / 20000)
    assert abs(x.numpy().var() - var[0]) < 4 * var[0] * np.sqrt(2 / 20000) * 1.5  # heavier tails than a Normal
    dv = _mdn(D, logits, cr.tensor([[[0.0, 0.0], [5.0, 5.0]]]), cr.ones(1, 2, 2), event_dims=1)
    assert dv.sample((3,)).shape == (3, 1, 2)


def test_rsample_and_entropy_are_refused_as_torch_does():
    d = _mdn(D, cr.zeros(2), cr.zeros(2), cr.ones(2))
    assert d.has_rsample is TD.MixtureSameFamily.has_rsample is False
    with pytest.raises(NotImplementedError, match="MixtureSameFamily.rsample"):
        d.rsample()
    with pytest.raises(NotImplementedError, match="MixtureSameFamily.entropy"):
        d.entropy()
