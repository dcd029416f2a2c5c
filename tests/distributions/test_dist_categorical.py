"""Categorical against torch.distributions.Categorical: log_prob (a log-softmax gathered at the classes), entropy,
probs/logits, from logits and from unnormalised probs, with broadcasting; gradchecks; sampling."""

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
    logits = (r.standard_normal((3, 5)) * 3).astype(dtype)
    x = r.integers(0, 5, (4, 3))  # sample dims in front of the batch dim
    check_torch(lambda z: D.Categorical(logits=z).log_prob(cr.tensor(x)),
                lambda z: TD.Categorical(logits=z).log_prob(torch.tensor(x)), [logits])
    x1 = r.integers(0, 5, (2, 1))  # broadcasting against the batch
    check_torch(lambda z: D.Categorical(logits=z).log_prob(cr.tensor(x1)),
                lambda z: TD.Categorical(logits=z).log_prob(torch.tensor(x1)), [logits])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_prob_from_unnormalised_probs_matches_torch(dtype):
    r = rng(1)
    probs = r.uniform(0.1, 3.0, (2, 4)).astype(dtype)
    x = r.integers(0, 4, (2,))
    check_torch(lambda p: D.Categorical(probs=p).log_prob(cr.tensor(x)),
                lambda p: TD.Categorical(probs=p).log_prob(torch.tensor(x)), [probs])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("use_logits", [True, False])
def test_entropy_probs_and_logits_match_torch(dtype, use_logits):
    r = rng(2)
    a = (r.standard_normal((2, 6)) if use_logits else r.uniform(0.1, 2.0, (2, 6))).astype(dtype)

    def make(lib, v):
        return lib.Categorical(logits=v) if use_logits else lib.Categorical(probs=v)

    check_torch(lambda v: make(D, v).entropy(), lambda v: make(TD, v).entropy(), [a])
    for name in ("probs", "logits"):
        check_torch(lambda v, name=name: getattr(make(D, v), name),
                    lambda v, name=name: getattr(make(TD, v), name), [a])


def test_entropy_with_a_zero_probability_is_finite_as_torch():
    p = np.array([0.0, 0.25, 0.75])
    out = D.Categorical(probs=cr.tensor(p)).entropy()
    np.testing.assert_allclose(out.numpy(), TD.Categorical(probs=torch.tensor(p)).entropy().numpy(), rtol=1e-12)
    assert np.isfinite(out.numpy())


def test_shapes_mode_moments_and_support_match_torch():
    z = rng(3).standard_normal((2, 3, 4)).astype(np.float32)
    d, t = D.Categorical(logits=cr.tensor(z)), TD.Categorical(logits=torch.tensor(z))
    assert d.batch_shape == tuple(t.batch_shape) == (2, 3) and d.event_shape == tuple(t.event_shape) == ()
    np.testing.assert_array_equal(d.mode.numpy(), t.mode.numpy())
    assert np.isnan(d.mean.numpy()).all() and d.mean.shape == tuple(t.mean.shape)
    for expand in (True, False):
        np.testing.assert_array_equal(d.enumerate_support(expand).numpy(), t.enumerate_support(expand).numpy())


def test_log_prob_and_entropy_pass_gradcheck():
    r = rng(4)
    x = r.integers(0, 5, (3, 2))
    check_grads(lambda z: D.Categorical(logits=z).log_prob(cr.tensor(x)), [r.standard_normal((2, 5))])
    check_grads(lambda p: D.Categorical(probs=p).log_prob(cr.tensor(x)), [r.uniform(0.2, 1.0, (2, 5))])
    check_grads(lambda z: D.Categorical(logits=z).entropy(), [r.standard_normal((2, 5))])


def test_samples_are_int64_classes_with_the_right_frequencies():
    cr.manual_seed(2)
    p = np.array([[0.1, 0.6, 0.3], [0.0, 0.0, 1.0]], dtype=np.float32)
    x = D.Categorical(probs=cr.tensor(p)).sample((20000,))
    assert x.shape == (20000, 2) and x.dtype == np.int64
    freq = np.stack([(x.numpy()[:, 0] == k).mean() for k in range(3)])
    assert np.all(np.abs(freq - p[0]) < 4 * np.sqrt(p[0] * (1 - p[0]) / 20000))
    assert (x.numpy()[:, 1] == 2).all()  # a zero-probability class is never drawn
