"""Bernoulli against torch.distributions.Bernoulli: log_prob (= −BCE with logits), entropy and moments, from
logits and from probs, with broadcasting, in float64 and float32; gradchecks; sampling."""

import numpy as np
import pytest
import torch
import torch.distributions as TD
from helpers import check_grads, check_torch, rng

import chainrule as cr
import chainrule.distributions as D


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_prob_from_logits_matches_torch_with_broadcasting(dtype):
    r = rng(0)
    logits = (r.standard_normal((3, 4)) * 4).astype(dtype)
    logits[0, 0], logits[0, 1] = 60.0, -60.0  # far in the tails: still finite, as BCE with logits
    x = r.integers(0, 2, (2, 3, 4)).astype(dtype)
    check_torch(lambda z: D.Bernoulli(logits=z).log_prob(cr.tensor(x)),
                lambda z: TD.Bernoulli(logits=z).log_prob(torch.tensor(x)), [logits])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_prob_from_probs_matches_torch(dtype):
    r = rng(1)
    p = r.uniform(0.05, 0.95, (5,)).astype(dtype)
    x = r.integers(0, 2, (3, 5)).astype(dtype)
    check_torch(lambda q: D.Bernoulli(probs=q).log_prob(cr.tensor(x)),
                lambda q: TD.Bernoulli(probs=q).log_prob(torch.tensor(x)), [p])


def test_log_prob_is_minus_binary_cross_entropy_with_logits():
    z = cr.tensor([-3.0, 0.5, 8.0])
    x = cr.tensor([1.0, 0.0, 1.0])
    expected = -cr.nn.functional.binary_cross_entropy_with_logits(z, x, reduction="none")
    np.testing.assert_allclose(D.Bernoulli(logits=z).log_prob(x).numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("use_logits", [True, False])
def test_entropy_and_moments_match_torch(dtype, use_logits):
    r = rng(2)
    a = (r.standard_normal((2, 3)) if use_logits else r.uniform(0.05, 0.95, (2, 3))).astype(dtype)

    def make(lib, v):
        return lib.Bernoulli(logits=v) if use_logits else lib.Bernoulli(probs=v)

    check_torch(lambda v: make(D, v).entropy(), lambda v: make(TD, v).entropy(), [a])
    for name in ("mean", "variance", "stddev", "probs", "logits"):
        check_torch(lambda v, name=name: getattr(make(D, v), name),
                    lambda v, name=name: getattr(make(TD, v), name), [a])


def test_mode_and_enumerate_support_match_torch():
    p = np.array([0.2, 0.5, 0.9], dtype=np.float32)
    np.testing.assert_array_equal(D.Bernoulli(probs=cr.tensor(p)).mode.numpy(),
                                  TD.Bernoulli(probs=torch.tensor(p)).mode.numpy())
    for expand in (True, False):
        np.testing.assert_array_equal(D.Bernoulli(probs=cr.tensor(p)).enumerate_support(expand).numpy(),
                                      TD.Bernoulli(probs=torch.tensor(p)).enumerate_support(expand).numpy())


def test_log_prob_and_entropy_pass_gradcheck():
    r = rng(3)
    x = r.integers(0, 2, (2, 4)).astype(np.float64)
    check_grads(lambda z: D.Bernoulli(logits=z).log_prob(cr.tensor(x)), [r.standard_normal((2, 4))])
    check_grads(lambda p: D.Bernoulli(probs=p).log_prob(cr.tensor(x)), [r.uniform(0.1, 0.9, (2, 4))])
    check_grads(lambda z: D.Bernoulli(logits=z).entropy(), [r.standard_normal((2, 4))])


def test_samples_are_zeros_and_ones_with_the_right_frequency():
    cr.manual_seed(1)
    p = np.array([0.1, 0.5, 0.8], dtype=np.float32)
    x = D.Bernoulli(probs=cr.tensor(p, requires_grad=True)).sample((20000,))
    assert x.shape == (20000, 3) and x.dtype == np.float32 and not x.requires_grad
    assert set(np.unique(x.numpy())) <= {0.0, 1.0}
    se = np.sqrt(p * (1 - p) / 20000)
    assert np.all(np.abs(x.numpy().mean(0) - p) < 4 * se)


def test_rsample_is_refused_as_torch_does():
    assert D.Bernoulli.has_rsample is TD.Bernoulli.has_rsample is False
    with pytest.raises(NotImplementedError, match=r"Bernoulli.rsample: .*has_rsample is False"):
        D.Bernoulli(probs=cr.tensor([0.3])).rsample()
