"""tril and triu against PyTorch, with gradients, batches and every diagonal offset; gradcheck."""

import numpy as np
import pytest
import torch
from helpers import check_grads, check_torch, rng

import chainrule as cr
from chainrule.errors import ShapeError


@pytest.mark.parametrize("name", ["tril", "triu"])
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (2, 5, 3)])
@pytest.mark.parametrize("diagonal", [0, 1, -2, 7])
def test_matches_torch(name, shape, diagonal):
    check_torch(lambda x: getattr(cr, name)(x, diagonal), lambda x: getattr(torch, name)(x, diagonal),
                [rng(1).standard_normal(shape).astype(np.float32)])
    x = cr.tensor(rng(2).standard_normal(shape))
    np.testing.assert_array_equal(getattr(x, name)(diagonal).numpy(), getattr(cr, name)(x, diagonal).numpy())


def test_gradcheck_and_errors():
    check_grads(lambda x: cr.tril(x, -1) * x, [rng(3).standard_normal((3, 4))])
    check_grads(lambda x: cr.triu(x, 1) * x, [rng(4).standard_normal((2, 3, 3))])
    with pytest.raises(ShapeError, match="tril: input must have at least 2 dims"):
        cr.tril(cr.zeros(3))
