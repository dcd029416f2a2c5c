"""nn.LPPool2d(mean=True): the power mean of the notes, equal to PyTorch's power sum over (kh·kw)^(1/p)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


@pytest.mark.parametrize("p, kernel, kwargs", [(2, 2, {}), (3, (2, 3), {"stride": 2, "ceil_mode": True}),
                                               (1.5, 3, {"stride": 1})])
def test_lp_pool2d_layer_mean_matches_torch_power_sum_scaled(p, kernel, kwargs):
    x = np.random.default_rng(0).uniform(0.2, 1.5, (2, 3, 9, 8)).astype(np.float32)
    layer = nn.LPPool2d(p, kernel, mean=True, **kwargs)
    xt, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = layer(xt)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    ty = torch.nn.LPPool2d(p, kernel, **kwargs)(tx) / (kh * kw) ** (1 / p)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=2e-6, atol=1e-7)
    g = np.random.default_rng(1).standard_normal(ty.shape).astype(np.float32)
    y.backward(cr.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=2e-5, atol=1e-6)


def test_lp_pool2d_layer_default_is_torch_and_repr_says_mean():
    assert nn.LPPool2d(2, 3).mean is False
    assert "mean=True" in repr(nn.LPPool2d(2, 3, mean=True)) and "mean" not in repr(nn.LPPool2d(2, 3))
    x = cr.tensor(np.full((1, 1, 2, 2), 3.0, dtype=np.float32))
    assert nn.LPPool2d(2, 2)(x).item() == pytest.approx(6.0)  # √(4·9): the power sum
    assert nn.LPPool2d(2, 2, mean=True)(x).item() == pytest.approx(3.0)  # √(9): the power mean
