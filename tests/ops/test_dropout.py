"""dropout: reproducible masks from a seeded Generator, the 1/(1 − p) scale that preserves the expectation,
identity in evaluation, and the gradient (mask times scale)."""

import numpy as np
import pytest
from helpers import check_grads

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - the usual alias


def test_same_seed_same_mask_and_different_seed_different_mask():
    x = cr.ones(50, 40)
    a = F.dropout(x, 0.3, generator=np.random.default_rng(7))
    b = F.dropout(x, 0.3, generator=np.random.default_rng(7))
    c = F.dropout(x, 0.3, generator=np.random.default_rng(8))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())


def test_mask_is_generator_random_at_least_p():
    x = cr.randn(6, 5)
    y = F.dropout(x, 0.4, generator=np.random.default_rng(3))
    keep = np.random.default_rng(3).random((6, 5)) >= 0.4
    np.testing.assert_array_equal(y.numpy(), np.where(keep, x.numpy() * np.float32(1 / 0.6), 0))


def test_default_generator_follows_manual_seed():
    x = cr.ones(20, 20)
    cr.manual_seed(123)
    a = F.dropout(x, 0.5)
    cr.manual_seed(123)
    b = F.dropout(x, 0.5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_scale_preserves_the_expectation(p):
    n = 200_000
    y = F.dropout(cr.ones(n), p, generator=np.random.default_rng(11)).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], np.float32(1 / (1 - p)))  # every survivor is scaled by 1/(1 − p)
    assert abs(1 - kept.mean() - p) < 4 * np.sqrt(p * (1 - p) / n)  # drop rate p, within 4 standard errors
    assert abs(y.mean() - 1) < 4 * np.sqrt(p / (1 - p) / n)  # E[y] = x


def test_evaluation_and_p_zero_are_the_identity():
    x = cr.randn(3, 4, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_p_one_drops_everything():
    x = cr.randn(3, 4, requires_grad=True)
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(y.numpy(), 0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)


def test_gradient_is_mask_times_scale():
    x = cr.Tensor(np.random.default_rng(0).uniform(0.5, 1.5, (8, 8)).astype(np.float32), requires_grad=True)
    y = F.dropout(x, 0.25, generator=np.random.default_rng(1))
    y.sum().backward()
    assert x.grad.dtype == np.float32 and y.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), (y.numpy() != 0) * np.float32(1 / 0.75))


def test_dropout_gradcheck():
    x = np.random.default_rng(2).standard_normal((4, 5))
    check_grads(lambda x: F.dropout(x, 0.3, generator=np.random.default_rng(9)), [x])


def test_dropout_argument_errors():
    with pytest.raises(ValueError, match=r"dropout: argument 'p' is the probability of dropping an element, in \[0,"):
        F.dropout(cr.ones(3), 1.5)
    with pytest.raises(cr.DTypeError, match="dropout: argument 'input' must be a floating-point tensor"):
        F.dropout(cr.tensor([1, 2]), 0.5)
