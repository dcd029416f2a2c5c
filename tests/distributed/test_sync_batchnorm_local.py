"""SyncBatchNorm in one process: its Function (with the sum over processes of a world of one) against PyTorch's
batch norm, float64 gradcheck and gradgradcheck; the module falls back to BatchNorm without a process group;
convert_sync_batchnorm keeps parameters, statistics and mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual alias
from helpers import check_grads, check_torch, rng

import chainrule as cr
from chainrule import nn
from chainrule.errors import ShapeError
from chainrule.nn.sync_batchnorm import SyncBatchNormFunction


def one_process(array: np.ndarray) -> np.ndarray:
    return array


def sync_bn(x, w=None, b=None, eps=1e-5):
    params = [t for t in (w, b) if t is not None]
    return SyncBatchNormFunction(eps, w is not None, b is not None, one_process)(x, *params)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (2, 3, 4, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_function_matches_torch_batch_norm(shape, dtype):
    r = rng(1)
    x = (r.standard_normal(shape) * 3 + 1).astype(dtype)
    w, b = r.uniform(0.5, 1.5, shape[1]).astype(dtype), r.standard_normal(shape[1]).astype(dtype)
    check_torch(sync_bn, lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), [x, w, b])


def test_function_gradcheck_and_gradgradcheck():
    r = rng(2)
    x = r.standard_normal((3, 2, 4)) * 2 + 0.5
    w, b = r.uniform(0.5, 1.5, 2), r.standard_normal(2)
    check_grads(sync_bn, [x, w, b])
    check_grads(lambda x: sync_bn(x), [x])


def test_float32_stays_float32_and_large_mean_is_exact():
    x = (rng(3).standard_normal((16, 2, 3, 3)) + 1e4).astype(np.float32)
    y = sync_bn(cr.tensor(x))
    assert y.dtype == np.float32
    ref = TF.batch_norm(torch.tensor(x, dtype=torch.float64), None, None, training=True).numpy()
    np.testing.assert_allclose(y.numpy(), ref, atol=2e-3)  # float32 inputs near 1e4 carry ~1e-3 absolute


def test_module_without_process_group_is_batch_norm():
    r = rng(4)
    x = r.standard_normal((4, 3, 5, 5)).astype(np.float32)
    sync, plain = nn.SyncBatchNorm(3), nn.BatchNorm2d(3)
    for _ in range(2):
        np.testing.assert_array_equal(sync(cr.tensor(x)).numpy(), plain(cr.tensor(x)).numpy())
    np.testing.assert_array_equal(sync.running_var.numpy(), plain.running_var.numpy())
    assert list(sync.state_dict()) == list(plain.state_dict())
    with pytest.raises(ShapeError, match="expected at least 2D input"):
        sync(cr.tensor(np.ones(3, dtype=np.float32)))


def test_convert_sync_batchnorm_keeps_parameters_statistics_and_mode():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Sequential(nn.BatchNorm1d(4)))
    bn = model[1]
    bn.running_mean.data[...] = [0.5, -0.5]
    model[3][0].eval()
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model
    assert isinstance(model[1], nn.SyncBatchNorm) and isinstance(model[3][0], nn.SyncBatchNorm)
    assert model[1].weight is bn.weight and model[1].running_mean is bn.running_mean
    assert not model[3][0].training and model[1].training
    np.testing.assert_array_equal(model[1].running_mean.numpy(), [0.5, -0.5])
    torch_model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(
        torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)))
    assert list(torch_model.state_dict()) == list(nn.Sequential(model[0], model[1]).state_dict())
