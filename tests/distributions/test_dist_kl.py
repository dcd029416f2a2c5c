"""kl_divergence against torch.distributions.kl_divergence: Normal–Normal, Bernoulli–Bernoulli,
Categorical–Categorical, Independent–Independent; values, gradients in both arguments, edge cases with zero
probabilities; gradchecks; register_kl dispatch; the error for a pair without a rule."""

import numpy as np
import pytest
import torch
import torch.distributions as TD
from helpers import check_grads, check_torch, rng

import chainrule as cr
import chainrule.distributions as D


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_normal_normal_matches_torch_with_broadcasting(dtype):
    r = rng(0)
    a = [r.standard_normal((3, 1)), r.uniform(0.5, 2, (3, 1)), r.standard_normal((4,)), r.uniform(0.5, 2, (4,))]
    check_torch(lambda m1, s1, m2, s2: D.kl_divergence(D.Normal(m1, s1), D.Normal(m2, s2)),
                lambda m1, s1, m2, s2: TD.kl_divergence(TD.Normal(m1, s1), TD.Normal(m2, s2)),
                [x.astype(dtype) for x in a])


def test_normal_kl_to_the_standard_normal_is_the_vae_formula():
    mu, logvar = cr.tensor([0.5, -1.0]), cr.tensor([0.2, -0.7])
    kl = D.kl_divergence(D.Normal(mu, (0.5 * logvar).exp()), D.Normal(0.0, 1.0))
    closed = -0.5 * (1 + logvar - mu * mu - logvar.exp())
    np.testing.assert_allclose(kl.numpy(), closed.numpy(), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("use_logits", [True, False])
def test_bernoulli_bernoulli_matches_torch(dtype, use_logits):
    r = rng(1)
    a = [r.standard_normal((2, 3)), r.standard_normal((3,))] if use_logits else \
        [r.uniform(0.05, 0.95, (2, 3)), r.uniform(0.05, 0.95, (3,))]

    def make(lib, v):
        return lib.Bernoulli(logits=v) if use_logits else lib.Bernoulli(probs=v)

    # torch's Bernoulli rule does not broadcast its masks, so its q is expanded by hand; chainrule's broadcasts
    check_torch(lambda p, q: D.kl_divergence(make(D, p), make(D, q)),
                lambda p, q: TD.kl_divergence(make(TD, p), make(TD, q.expand(p.shape))), [x.astype(dtype) for x in a])


def test_bernoulli_edge_probabilities_give_zero_and_infinity_as_torch():
    p = np.array([0.0, 1.0, 0.3, 0.3, 0.0])
    q = np.array([0.5, 0.5, 0.0, 1.0, 0.0])
    out = D.kl_divergence(D.Bernoulli(probs=cr.tensor(p)), D.Bernoulli(probs=cr.tensor(q))).numpy()
    expected = TD.kl_divergence(TD.Bernoulli(probs=torch.tensor(p)), TD.Bernoulli(probs=torch.tensor(q))).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert np.isinf(out[2]) and np.isinf(out[3]) and out[4] == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_categorical_categorical_matches_torch(dtype):
    r = rng(2)
    a = [r.standard_normal((2, 5)), r.standard_normal((5,))]
    check_torch(lambda p, q: D.kl_divergence(D.Categorical(logits=p), D.Categorical(logits=q)),
                lambda p, q: TD.kl_divergence(TD.Categorical(logits=p), TD.Categorical(logits=q)),
                [x.astype(dtype) for x in a])
    pr = [r.uniform(0.1, 2, (2, 5)), r.uniform(0.1, 2, (2, 5))]
    check_torch(lambda p, q: D.kl_divergence(D.Categorical(probs=p), D.Categorical(probs=q)),
                lambda p, q: TD.kl_divergence(TD.Categorical(probs=p), TD.Categorical(probs=q)),
                [x.astype(dtype) for x in pr])


def test_categorical_zero_probabilities_as_torch():
    p = np.array([[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]])
    q = np.array([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]])
    out = D.kl_divergence(D.Categorical(probs=cr.tensor(p)), D.Categorical(probs=cr.tensor(q))).numpy()
    expected = TD.kl_divergence(TD.Categorical(probs=torch.tensor(p)), TD.Categorical(probs=torch.tensor(q)))
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-12)
    assert np.isfinite(out[0]) and np.isinf(out[1])


def test_independent_independent_sums_as_torch():
    r = rng(3)
    a = [r.standard_normal((2, 3)), r.uniform(0.5, 2, (2, 3)), r.standard_normal((2, 3)), r.uniform(0.5, 2, (2, 3))]
    check_torch(
        lambda m1, s1, m2, s2: D.kl_divergence(D.Independent(D.Normal(m1, s1), 1), D.Independent(D.Normal(m2, s2), 1)),
        lambda m1, s1, m2, s2: TD.kl_divergence(TD.Independent(TD.Normal(m1, s1), 1),
                                                TD.Independent(TD.Normal(m2, s2), 1)), a)


def test_kl_rules_pass_gradcheck():
    r = rng(4)
    check_grads(lambda m1, s1, m2, s2: D.kl_divergence(D.Normal(m1, s1), D.Normal(m2, s2)),
                [r.standard_normal(3), r.uniform(0.5, 2, 3), r.standard_normal(3), r.uniform(0.5, 2, 3)])
    check_grads(lambda p, q: D.kl_divergence(D.Bernoulli(logits=p), D.Bernoulli(logits=q)),
                [r.standard_normal(3), r.standard_normal(3)])
    check_grads(lambda p, q: D.kl_divergence(D.Categorical(logits=p), D.Categorical(logits=q)),
                [r.standard_normal((2, 4)), r.standard_normal((2, 4))])


def test_kl_of_a_distribution_with_itself_is_zero_and_a_monte_carlo_estimate_agrees():
    cr.manual_seed(0)
    p, q = D.Normal(cr.tensor([0.3]), cr.tensor([0.8])), D.Normal(cr.tensor([-0.5]), cr.tensor([1.3]))
    np.testing.assert_allclose(D.kl_divergence(p, p).numpy(), [0.0], atol=1e-7)
    x = p.sample((20000,))
    estimate = (p.log_prob(x) - q.log_prob(x)).numpy()
    assert abs(estimate.mean() - D.kl_divergence(p, q).item()) < 4 * estimate.std() / np.sqrt(20000)


def test_register_kl_dispatches_to_the_most_specific_rule():
    class Wide(D.Normal):
        pass

    @D.register_kl(Wide, D.Normal)
    def _kl_wide(p, q):
        return cr.tensor(42.0)

    try:
        assert D.kl_divergence(Wide(0.0, 1.0), D.Normal(0.0, 2.0)).item() == 42.0
        assert D.kl_divergence(D.Normal(0.0, 1.0), Wide(0.0, 1.0)).item() == 0.0  # Normal–Normal still applies
    finally:
        from chainrule.distributions import kl
        del kl._KL_REGISTRY[Wide, D.Normal]


def test_a_pair_without_a_rule_is_refused_naming_both_types():
    with pytest.raises(NotImplementedError, match=r"no KL\(p ‖ q\) rule for p a Normal and q a Bernoulli"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(probs=cr.tensor(0.5)))
    with pytest.raises(cr.ChainruleError, match="register_kl: 'type_q' must be a subclass of Distribution"):
        D.register_kl(D.Normal, int)
