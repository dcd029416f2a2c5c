"""Bad parameters and values: one clear line each, chainrule's error types, and validate_args to turn the checks
off; shapes of batch, event and samples as torch.distributions has them."""

import numpy as np
import pytest
import torch
import torch.distributions as TD

import chainrule as cr
import chainrule.distributions as D
from chainrule.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError


@pytest.mark.parametrize("make, error, message", [
    (lambda: D.Normal(cr.tensor([0.0, 0.0]), cr.tensor([1.0, -1.0])), ArgumentError,
     r"Normal: scale\[1\] = -1.0 is outside \(0, ∞\) .*hint: make it positive"),
    (lambda: D.Normal(0.0, 0.0), ArgumentError, r"Normal: scale = 0.0 is outside \(0, ∞\)"),
    (lambda: D.Normal(cr.tensor([np.nan]), 1.0), ArgumentError, r"Normal: loc\[0\] = nan is outside"),
    (lambda: D.Normal(cr.tensor([0.0]), cr.tensor([1.0], dtype=cr.float64)), DTypeError,
     "Normal: the parameters must share one dtype, got loc is float32, scale is float64"),
    (lambda: D.Normal(cr.tensor([0, 1]), 1.0), DTypeError, "Normal: argument 'loc' must be a floating-point"),
    (lambda: D.Normal(cr.zeros(2), cr.ones(3)), ShapeError, "Normal: shapes"),
    (lambda: D.Bernoulli(), ArgumentError, "Bernoulli: pass exactly one of 'probs' or 'logits', got neither"),
    (lambda: D.Bernoulli(probs=cr.tensor(0.5), logits=cr.tensor(0.0)), ArgumentError, "got both"),
    (lambda: D.Bernoulli(probs=cr.tensor([0.5, 1.5])), ArgumentError,
     r"Bernoulli: probs\[1\] = 1.5 is outside \[0, 1\]"),
    (lambda: D.Categorical(probs=cr.tensor([0.5, -0.5])), ArgumentError, r"Categorical: probs\[1\] = -0.5"),
    (lambda: D.Categorical(logits=cr.tensor(1.0)), ShapeError, "Categorical: 'logits' must have at least one dim"),
    (lambda: D.MixtureSameFamily(D.Normal(0.0, 1.0), D.Normal(cr.zeros(2), cr.ones(2))), ArgumentTypeError,
     "MixtureSameFamily: 'mixture_distribution' must be a Categorical"),
    (lambda: D.MixtureSameFamily(D.Categorical(logits=cr.zeros(3)), D.Normal(cr.zeros(2), cr.ones(2))), ShapeError,
     r"component_distribution.batch_shape must be mixture_distribution.batch_shape \+ \(K,\) = \(3,\)"),
    (lambda: D.Independent(D.Normal(cr.zeros(2), cr.ones(2)), 2), ArgumentError,
     r"Independent: 'reinterpreted_batch_ndims' must be an int in \[0, 1\]"),
    (lambda: D.Normal(0.0, 1.0).sample(5), ArgumentTypeError, "Normal: argument 'sample_shape' must be a tuple"),
])
def test_bad_parameters_are_refused_in_one_clear_line(make, error, message):
    with pytest.raises(error, match=message) as info:
        make()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("call, error, message", [
    (lambda: D.Normal(cr.zeros(2), cr.ones(2)).log_prob(cr.zeros(3)), ShapeError,
     r"Normal.log_prob: value of shape \(3,\) does not broadcast with batch_shape \+ event_shape = \(2,\)"),
    (lambda: D.Normal(0.0, 1.0).log_prob(0.5), ArgumentTypeError, "Normal.log_prob: argument 'value' must be a Tensor"),
    (lambda: D.Normal(0.0, 1.0).log_prob(cr.tensor([0.5], dtype=cr.float64)), DTypeError,
     "Normal.log_prob: value has dtype float64 but the parameters are float32"),
    (lambda: D.Bernoulli(probs=cr.tensor([0.3])).log_prob(cr.tensor([0.5])), ArgumentError,
     r"Bernoulli.log_prob: value\[0\] = 0.5 is outside \{0, 1\}; hint: .*binarise"),
    (lambda: D.Categorical(logits=cr.zeros(3)).log_prob(cr.tensor([3])), ArgumentError,
     r"Categorical.log_prob: value\[0\] = 3 is outside the class indices \{0, ..., 2\}"),
    (lambda: D.Independent(D.Normal(cr.zeros(2, 3), cr.ones(2, 3)), 1).log_prob(cr.zeros(2, 2)), ShapeError,
     r"Normal.log_prob: value of shape \(2, 2\) does not broadcast"),
])
def test_bad_values_are_refused_in_one_clear_line(call, error, message):
    with pytest.raises(error, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_validate_args_false_skips_the_checks_as_torch():
    d = D.Normal(0.0, -1.0, validate_args=False)
    t = TD.Normal(0.0, -1.0, validate_args=False)
    np.testing.assert_allclose(d.variance.numpy(), t.variance.numpy())
    out = D.Bernoulli(logits=cr.tensor([0.0]), validate_args=False).log_prob(cr.tensor([0.5]))
    expected = TD.Bernoulli(logits=torch.tensor([0.0]), validate_args=False).log_prob(torch.tensor([0.5]))
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)


def test_set_default_validate_args():
    D.Distribution.set_default_validate_args(False)
    try:
        assert D.Normal(0.0, -1.0).scale.item() == -1.0
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ArgumentError):
        D.Normal(0.0, -1.0)


@pytest.mark.parametrize("make", [
    lambda lib, t: lib.Normal(t.zeros(2, 1), t.ones(3)),
    lambda lib, t: lib.Bernoulli(logits=t.zeros(4)),
    lambda lib, t: lib.Categorical(logits=t.zeros(2, 3, 5)),
    lambda lib, t: lib.Independent(lib.Normal(t.zeros(2, 3), t.ones(2, 3)), 1),
    lambda lib, t: lib.MixtureSameFamily(lib.Categorical(logits=t.zeros(2, 3)),
                                         lib.Independent(lib.Normal(t.zeros(2, 3, 4), t.ones(2, 3, 4)), 1)),
])
def test_batch_event_and_sample_shapes_match_torch(make):
    d, t = make(D, cr), make(TD, torch)
    assert d.batch_shape == tuple(t.batch_shape) and d.event_shape == tuple(t.event_shape)
    for shape in ((), (3,), (2, 4)):
        assert d.sample(shape).shape == tuple(t.sample(shape).shape)
    assert d.has_rsample == t.has_rsample


def test_repr_names_the_parameters():
    assert repr(D.Normal(0.0, 1.0)) == "Normal(loc: 0.0, scale: 1.0)"
    assert repr(D.Categorical(logits=cr.zeros(2, 3))) == "Categorical(logits: shape (2, 3))"


def test_the_package_is_an_attribute_of_chainrule():
    assert cr.distributions is D
    assert D.kl_divergence is D.kl.kl_divergence
