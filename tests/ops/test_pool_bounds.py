"""Pooling and convolution with absurd sizes: what PyTorch refuses is refused with chainrule's error naming the
argument, what it accepts gives its result, and sizes whose work or memory cannot fit are refused before any
buffer is laid out."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual names
from helpers import rng

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812
from chainrule import nn
from chainrule.errors import ArgumentError, ResourceError
from chainrule.ops import pool
from chainrule.ops.conv import conv2d, conv_transpose2d

BIG = 10**6

# (function, input shape, keyword arguments): each is run through both libraries
TABLE = [
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=3, padding=2)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=3, padding=1, dilation=2)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=3, padding=2, dilation=2)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=6)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=7, padding=1)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=3, stride=0)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=0)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=3, dilation=0)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=BIG)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=2, stride=BIG)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=3, dilation=BIG)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=3, padding=BIG)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=5, stride=3, ceil_mode=True)),
    ("max_pool2d", (2, 3, 7, 6), dict(kernel_size=(3, 2), stride=(BIG, 1), padding=(1, 1))),
    ("avg_pool2d", (1, 1, 5, 5), dict(kernel_size=3, padding=2)),
    ("avg_pool2d", (1, 1, 5, 5), dict(kernel_size=6)),
    ("avg_pool2d", (1, 1, 5, 5), dict(kernel_size=2, stride=BIG)),
    ("avg_pool2d", (1, 1, 5, 5), dict(kernel_size=2, stride=0)),
    ("avg_pool2d", (1, 1, 5, 5), dict(kernel_size=2, padding=-1)),
    ("avg_pool2d", (1, 1, 5, 5), dict(kernel_size=4, padding=BIG)),
    ("avg_pool2d", (1, 1, 5, 5), dict(kernel_size=5, stride=4, padding=2, ceil_mode=True)),
    ("lp_pool2d", (1, 1, 5, 5), dict(norm_type=2, kernel_size=6)),
    ("lp_pool2d", (1, 1, 5, 5), dict(norm_type=2, kernel_size=2, stride=BIG)),
    ("lp_pool2d", (1, 1, 5, 5), dict(norm_type=2, kernel_size=0)),
    ("lp_pool2d", (1, 1, 5, 5), dict(norm_type=2, kernel_size=2, stride=0)),
    ("lp_pool2d", (1, 1, 5, 5), dict(norm_type=2, kernel_size=BIG)),
    ("adaptive_avg_pool2d", (1, 2, 5, 5), dict(output_size=(1, 1))),
    ("adaptive_avg_pool2d", (1, 2, 5, 5), dict(output_size=(7, 3))),
    ("adaptive_avg_pool2d", (1, 2, 5, 5), dict(output_size=(-1, 2))),
]


@pytest.mark.parametrize(("name", "shape", "kwargs"), TABLE, ids=lambda v: repr(v)[:40])
def test_pooling_refuses_what_torch_refuses_and_matches_what_it_accepts(name, shape, kwargs):
    x = rng(3).uniform(0.5, 1.5, shape)  # positive: lp pooling's powers stay real
    try:
        expected = getattr(TF, name)(torch.from_numpy(x), **kwargs).numpy()
    except (RuntimeError, ValueError, TypeError):
        with pytest.raises(cr.ChainruleError, match=name):
            getattr(F, name)(cr.tensor(x), **kwargs)
        return
    y = getattr(F, name)(cr.tensor(x), **kwargs)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
def test_a_million_wide_kernel_with_half_its_padding_is_refused_before_any_work(name):
    """PyTorch clips such windows to the input; pooling here would loop over 10^12 kernel offsets."""
    with pytest.raises(ResourceError, match=rf"{name}: kernel_size 1000000×1000000 gives windows of 1e\+12"):
        getattr(F, name)(cr.tensor(np.ones((1, 1, 5, 5), np.float32)), BIG, padding=BIG // 2)


def test_lp_pool2d_names_itself_for_a_window_too_large():
    with pytest.raises(ResourceError, match=r"lp_pool2d: kernel_size 4096×512 gives windows of 2\.1e\+06"):
        F.lp_pool2d(cr.tensor(np.ones((1, 1, 5, 5), np.float32)), 2, (4096, 512), padding=(2048, 256))
    with pytest.raises(ResourceError, match=r"lp_pool2d: kernel_size 2048×2048"):
        F.lp_pool2d(cr.tensor(np.ones((1, 1, 5, 5), np.float32)), float("inf"), 2048, padding=1024)


def test_total_work_is_capped():
    """66049 outputs of 1024×1024 windows each: 6.9·10^10 window elements, refused before the padded buffer."""
    x = cr.tensor(np.zeros((1, 1, 256, 256), np.float32))
    with pytest.raises(ResourceError, match=r"max_pool2d: 6\.6e\+04 outputs × 1048576 elements per window"):
        F.max_pool2d(x, 1024, stride=1, padding=512)


def test_the_largest_window_allowed_still_pools():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    y = F.avg_pool2d(cr.tensor(x), (1024, 1), padding=(512, 0), stride=(4096, 1))
    expected = TF.avg_pool2d(torch.from_numpy(x), (1024, 1), padding=(512, 0), stride=(4096, 1)).numpy()
    np.testing.assert_allclose(y.numpy(), expected)


@pytest.mark.parametrize(
    ("layer", "error", "pattern"),
    [
        (nn.MaxPool2d(BIG, padding=BIG // 2), ResourceError, r"max_pool2d: kernel_size 1000000×1000000"),
        (nn.AvgPool2d(BIG, padding=BIG // 2), ResourceError, r"avg_pool2d: kernel_size 1000000×1000000"),
        (nn.MaxPool2d(3, padding=BIG), ArgumentError, r"max_pool2d: padding \(1000000, 1000000\) must be at most"),
        (nn.AvgPool2d(2, stride=0), ArgumentError, r"avg_pool2d: stride must be positive"),
        (nn.MaxPool2d(3, dilation=BIG), cr.ShapeError, r"max_pool2d: kernel_size 3×3 \(dilated to 2000001×2000001\)"),
        (nn.LPPool2d(2, BIG), cr.ShapeError, r"lp_pool2d: kernel_size 1000000×1000000 is larger"),
        (nn.LPPool2d(2, 2, stride=0), ArgumentError, r"lp_pool2d: stride must be positive"),
        (nn.AdaptiveAvgPool2d((BIG, BIG)), ResourceError, r"adaptive_avg_pool2d: the output would have shape"),
    ],
)
def test_pooling_layers_refuse_absurd_sizes_naming_the_argument(layer, error, pattern):
    with pytest.raises(error, match=pattern):
        layer(cr.tensor(np.ones((1, 1, 5, 5), np.float32)))


def test_adaptive_pooling_work_is_capped(monkeypatch):
    """A 3.2 GB output fits in a 1 TB memory, but 4·10^11 multiply-adds to fill it are over the limit."""
    monkeypatch.setattr("chainrule.ops.operands.MEMORY_BYTES", 1 << 40)
    x = cr.tensor(np.zeros((1, 2, 1000, 1000), np.float32))
    with pytest.raises(ResourceError, match=r"adaptive_avg_pool2d: pooling 2 planes of 1000×1000 to 20000×20000"):
        F.adaptive_avg_pool2d(x, 20_000)


def test_adaptive_pooling_with_windows_over_the_loop_limit_uses_the_averaging_matrices():
    x = rng(4).standard_normal((1, 2, 2048, 1024))
    y = F.adaptive_avg_pool2d(cr.tensor(x), (1, 1))
    np.testing.assert_allclose(y.numpy(), x.mean(axis=(2, 3), keepdims=True), rtol=1e-10)
    assert 2048 * 1024 > pool.MAX_WINDOW


# ----- convolutions: a huge padding or dilation is refused before it is allocated --------------------------


def test_conv2d_padding_whose_column_buffer_cannot_fit_is_refused(monkeypatch):
    monkeypatch.setattr("chainrule.ops.operands.MEMORY_BYTES", 1 << 30)
    x, w = cr.tensor(np.ones((1, 1, 5, 5), np.float32)), cr.tensor(np.ones((1, 1, 3, 3), np.float32))
    with pytest.raises(ResourceError, match=r"conv2d: the column buffer of one image would have shape \(9, "):
        conv2d(x, w, padding=6000)  # a 576 MB padded input fits, its 5 GB column buffer does not
    assert conv2d(x, w, padding=300).shape == (1, 1, 603, 603)


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda x, w: conv2d(x, w, padding=BIG), r"conv2d: the padded input would have shape \(1, 1, 2000005"),
        (lambda x, w: conv2d(x, w, padding=BIG, dilation=BIG), r"conv2d: the padded input would have shape"),
        (lambda x, w: conv2d(x, w, padding=BIG, padding_mode="reflect"), r"conv2d: the padded input would have"),
        (lambda x, w: conv_transpose2d(x, w, dilation=BIG), r"conv_transpose2d: the output \(with its padding\)"),
        (lambda x, w: conv_transpose2d(x, w, stride=BIG), r"conv_transpose2d: the output \(with its padding\)"),
    ],
)
def test_conv_huge_padding_dilation_or_stride_is_refused_before_allocating(call, pattern):
    x, w = cr.tensor(np.ones((1, 1, 5, 5), np.float32)), cr.tensor(np.ones((1, 1, 3, 3), np.float32))
    with pytest.raises(ResourceError, match=pattern):
        call(x, w)


def test_conv2d_float64_sizes_count_eight_bytes(monkeypatch):
    """The padded input of 10^8 float64 values is 800 MB: over a 512 MB machine, where float32 would pass."""
    monkeypatch.setattr("chainrule.ops.operands.MEMORY_BYTES", 512 << 20)
    x, w = cr.tensor(np.ones((1, 1, 2, 2))), cr.tensor(np.ones((1, 1, 1, 1)))
    with pytest.raises(ResourceError, match=r"conv2d: the padded input would have shape \(1, 1, 10000, 10000\)"):
        conv2d(x, w, padding=4999, stride=10**4)


@pytest.mark.parametrize(
    ("kwargs"),
    [dict(dilation=BIG), dict(padding=3, dilation=4), dict(stride=BIG), dict(padding=2, stride=3, dilation=2)],
)
def test_conv2d_with_large_arguments_torch_accepts_matches_torch(kwargs):
    x, w = rng(5).standard_normal((1, 2, 6, 7)), rng(6).standard_normal((3, 2, 3, 2))
    try:
        expected = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), **kwargs).numpy()
    except RuntimeError:
        with pytest.raises(cr.ChainruleError, match="conv2d"):
            conv2d(cr.tensor(x), cr.tensor(w), **kwargs)
        return
    np.testing.assert_allclose(conv2d(cr.tensor(x), cr.tensor(w), **kwargs).numpy(), expected, rtol=1e-10)


def test_conv_transpose2d_counts_the_wide_rows_of_its_column_buffer(monkeypatch):
    """Stride 1: each of the 1600 column rows is a padded output row long, 100·104 values, not 100·100."""
    monkeypatch.setattr("chainrule.ops.operands.MEMORY_BYTES", 65_000_000)
    x, w = cr.tensor(np.ones((1, 1, 100, 100), np.float32)), cr.tensor(np.ones((1, 64, 5, 5), np.float32))
    with pytest.raises(ResourceError, match=r"conv_transpose2d: the column buffer would have shape \(1600, 10400\)"):
        conv_transpose2d(x, w)
