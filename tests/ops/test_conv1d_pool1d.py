"""1-D convolution and pooling, and adaptive max pooling, against PyTorch: forward values and every gradient,
float64 gradcheck and gradgradcheck, indices, and the one-line errors for bad arguments."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual names
from helpers import check_grads, check_torch, distinct, rng

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812
from chainrule.errors import ArgumentError, ArgumentTypeError, ShapeError


def _normal(shape, seed=0, dtype=np.float32):
    return rng(seed).standard_normal(shape).astype(dtype)


# input shape, weight shape, bias?, stride, padding, dilation, groups
CONV_CASES = [
    ((2, 3, 10), (4, 3, 3), True, 1, 0, 1, 1),
    ((2, 4, 11), (6, 2, 3), True, 2, 1, 2, 2),  # stride, padding, dilation, groups
    ((1, 3, 7), (2, 3, 7), False, 1, 0, 1, 1),  # kernel as long as the input: one output
    ((3, 9), (5, 3, 2), True, 3, 2, 1, 1),  # unbatched (C, L)
    ((2, 3, 8), (4, 3, 4), True, 1, "same", 2, 1),
    ((2, 3, 8), (4, 3, 4), False, 1, "valid", 1, 1),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv1d_matches_torch(case):
    xs, ws, has_bias, s, p, d, g = case
    arrays = [_normal(xs, 1), _normal(ws, 2)] + ([_normal(ws[:1], 3)] if has_bias else [])
    check_torch(lambda x, w, *b: F.conv1d(x, w, *b, stride=s, padding=p, dilation=d, groups=g),
                lambda x, w, *b: TF.conv1d(x, w, *b, stride=s, padding=p, dilation=d, groups=g), arrays)


@pytest.mark.parametrize("case", CONV_CASES[:4])
def test_conv1d_gradcheck_and_second_derivatives(case):
    xs, ws, has_bias, s, p, d, g = case
    arrays = [_normal(xs, 1, np.float64), _normal(ws, 2, np.float64)] + (
        [_normal(ws[:1], 3, np.float64)] if has_bias else [])
    check_grads(lambda x, w, *b: F.conv1d(x, w, *b, stride=s, padding=p, dilation=d, groups=g), arrays)


# input shape, weight shape (C_in, C_out/groups, K), bias?, stride, padding, output_padding, groups, dilation
TRANSPOSE_CASES = [
    ((2, 3, 6), (3, 4, 3), True, 1, 0, 0, 1, 1),
    ((2, 4, 5), (4, 3, 3), True, 2, 1, 1, 2, 1),
    ((2, 2, 5), (2, 2, 2), False, 3, 0, 1, 1, 2),
    ((3, 4), (3, 2, 3), True, 2, 0, 0, 1, 1),  # unbatched
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv_transpose1d_matches_torch(case):
    xs, ws, has_bias, s, p, op, g, d = case
    arrays = [_normal(xs, 1), _normal(ws, 2)] + ([_normal((ws[1] * g,), 3)] if has_bias else [])
    check_torch(lambda x, w, *b: F.conv_transpose1d(x, w, *(b or [None]), s, p, op, g, d),
                lambda x, w, *b: TF.conv_transpose1d(x, w, *(b or [None]), s, p, op, g, d), arrays)


@pytest.mark.parametrize("case", TRANSPOSE_CASES[:2])
def test_conv_transpose1d_gradcheck_and_second_derivatives(case):
    xs, ws, has_bias, s, p, op, g, d = case
    arrays = [_normal(xs, 1, np.float64), _normal(ws, 2, np.float64)] + (
        [_normal((ws[1] * g,), 3, np.float64)] if has_bias else [])
    check_grads(lambda x, w, *b: F.conv_transpose1d(x, w, *(b or [None]), s, p, op, g, d), arrays)


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: F.conv1d(cr.zeros(2, 3, 5, 5), cr.zeros(4, 3, 3)), ShapeError, r"conv1d: input must be 3-D \(N, C, L\)"),
    (lambda: F.conv1d(cr.zeros(2, 3, 5), cr.zeros(4, 3, 3, 3)), ShapeError, r"conv1d: weight must be 3-D"),
    (lambda: F.conv1d(cr.zeros(2, 3, 5), cr.zeros(4, 3, 3), stride=0), ArgumentError, r"conv1d: argument 'stride'"),
    (lambda: F.conv1d(cr.zeros(2, 3, 5), cr.zeros(4, 3, 3), stride=(1, 2)), ArgumentTypeError,
     r"conv1d: argument 'stride' must be an int or a 1-tuple"),
    (lambda: F.conv1d(cr.zeros(2, 3, 5), cr.zeros(4, 2, 3)), ShapeError,
     r"^conv1d: input \(2, 3, 5\) has 3 channels but weight \(4, 2, 3\)"),
    (lambda: F.conv1d(cr.zeros(2, 3, 2), cr.zeros(4, 3, 3)), ShapeError,
     r"^conv1d: the kernel \(3, 3 with dilation\) is longer than the padded input \(2\)"),
    (lambda: F.conv_transpose1d(cr.zeros(2, 3, 5), cr.zeros(3, 2, 3), stride=2, output_padding=2), ArgumentError,
     r"conv_transpose1d: output_padding \(2\) must be smaller"),
])
def test_conv1d_bad_arguments_get_one_clear_line(call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call()
    assert "\n" not in str(info.value).split("\nsee docs")[0]


# ----- pooling ----------------------------------------------------------------------------------------------

# input shape, kernel_size, stride, padding, dilation, ceil_mode
MAX_CASES = [
    ((2, 3, 10), 2, None, 0, 1, False),
    ((2, 3, 11), 3, 2, 1, 1, False),
    ((2, 3, 11), 3, 2, 1, 1, True),
    ((1, 2, 12), 3, 1, 1, 2, False),  # dilation
    ((3, 9), 4, 3, 2, 1, True),  # unbatched
]


@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool1d_matches_torch_with_indices(case):
    shape, k, s, p, d, c = case
    check_torch(lambda x: F.max_pool1d(x, k, s, p, d, c), lambda x: TF.max_pool1d(x, k, s, p, d, c),
                [distinct(shape).astype(np.float32)])
    x = distinct(shape, 3).astype(np.float32)
    _, idx = F.max_pool1d(cr.tensor(x), k, s, p, d, c, return_indices=True)
    _, tidx = TF.max_pool1d(torch.tensor(x), k, s, p, d, c, return_indices=True)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_max_pool1d_ties_send_the_gradient_to_the_first_maximum():
    x = np.array([[[1.0, 3.0, 3.0, 0.0, 2.0, 2.0]]], dtype=np.float32)
    check_torch(lambda t: F.max_pool1d(t, 3, 1), lambda t: TF.max_pool1d(t, 3, 1), [x])


# input shape, kernel_size, stride, padding, ceil_mode, count_include_pad
AVG_CASES = [
    ((2, 3, 10), 2, None, 0, False, True),
    ((2, 3, 11), 3, 2, 1, False, True),
    ((2, 3, 11), 3, 2, 1, True, False),
    ((4, 7), 4, 3, 2, True, True),  # unbatched
]


@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool1d_matches_torch(case):
    shape, k, s, p, c, inc = case
    check_torch(lambda x: F.avg_pool1d(x, k, s, p, c, inc), lambda x: TF.avg_pool1d(x, k, s, p, c, inc),
                [_normal(shape, 1)])


def test_pool1d_gradcheck_and_second_derivatives():
    x = distinct((2, 2, 9)).astype(np.float64)
    check_grads(lambda t: F.max_pool1d(t, 3, 2, 1), [x])
    check_grads(lambda t: F.avg_pool1d(t, 3, 2, 1, True, False), [x])
    check_grads(lambda t: F.adaptive_avg_pool1d(t, 4), [x])


@pytest.mark.parametrize("shape, out", [((2, 3, 10), 5), ((2, 3, 7), 3), ((2, 3, 5), 8), ((3, 6), 1),
                                        ((2, 2, 4), (4,))])
def test_adaptive_avg_pool1d_matches_torch(shape, out):
    check_torch(lambda x: F.adaptive_avg_pool1d(x, out), lambda x: TF.adaptive_avg_pool1d(x, out),
                [_normal(shape, 2)])


ADAPTIVE_MAX_2D = [
    ((2, 3, 8, 6), (4, 3)),  # divisible: max pooling with kernel = stride
    ((2, 3, 7, 10), (3, 4)),  # uneven, overlapping windows
    ((2, 3, 5, 5), 7),  # larger than the input: windows of one element, repeated
    ((1, 2, 9, 4), (None, 3)),
    ((3, 5, 6), 1),  # unbatched, global
]


@pytest.mark.parametrize("shape, out", ADAPTIVE_MAX_2D)
def test_adaptive_max_pool2d_matches_torch_with_indices(shape, out):
    check_torch(lambda x: F.adaptive_max_pool2d(x, out), lambda x: TF.adaptive_max_pool2d(x, out),
                [distinct(shape).astype(np.float32)])
    x = distinct(shape, 5).astype(np.float32)
    y, idx = F.adaptive_max_pool2d(cr.tensor(x), out, return_indices=True)
    ty, tidx = TF.adaptive_max_pool2d(torch.tensor(x), out, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_adaptive_max_pool2d_ties_follow_torch():
    x = np.zeros((1, 1, 5, 7), dtype=np.float32)  # every window is all ties
    x[0, 0, 2, 3] = 1.0
    check_torch(lambda t: F.adaptive_max_pool2d(t, (3, 4)), lambda t: TF.adaptive_max_pool2d(t, (3, 4)), [x])
    _, idx = F.adaptive_max_pool2d(cr.tensor(x), (3, 4), True)
    np.testing.assert_array_equal(idx.numpy(), TF.adaptive_max_pool2d(torch.tensor(x), (3, 4), True)[1].numpy())


@pytest.mark.parametrize("shape, out", [((2, 3, 10), 5), ((2, 3, 7), 3), ((3, 5), 8)])
def test_adaptive_max_pool1d_matches_torch_with_indices(shape, out):
    check_torch(lambda x: F.adaptive_max_pool1d(x, out), lambda x: TF.adaptive_max_pool1d(x, out),
                [distinct(shape).astype(np.float32)])
    x = distinct(shape, 4).astype(np.float32)
    _, idx = F.adaptive_max_pool1d(cr.tensor(x), out, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), TF.adaptive_max_pool1d(torch.tensor(x), out, True)[1].numpy())


def test_adaptive_max_pool_gradcheck_and_second_derivatives():
    check_grads(lambda t: F.adaptive_max_pool2d(t, (3, 2)), [distinct((2, 2, 7, 5))])
    check_grads(lambda t: F.adaptive_max_pool2d(t, 2), [distinct((1, 2, 4, 6))])
    check_grads(lambda t: F.adaptive_max_pool1d(t, 4), [distinct((2, 2, 7))])


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: F.max_pool1d(cr.zeros(2, 3, 4, 4), 2), ShapeError, r"max_pool1d: expected a 2-D \(C, L\) or 3-D"),
    (lambda: F.max_pool1d(cr.zeros(2, 3, 4), 0), ArgumentError, r"max_pool1d: argument 'kernel_size' must be ≥ 1"),
    (lambda: F.max_pool1d(cr.zeros(2, 3, 4), 2, padding=2), ArgumentError,
     r"^max_pool1d: padding \(2\) must be at most half of kernel_size \(2\)"),
    (lambda: F.avg_pool1d(cr.zeros(2, 3, 4), (2, 2)), ArgumentTypeError, r"avg_pool1d: argument 'kernel_size'"),
    (lambda: F.avg_pool1d(cr.zeros(2, 3, 2), 3), ShapeError,
     r"^avg_pool1d: kernel_size 3 is longer than the padded input \(2;"),
    (lambda: F.adaptive_avg_pool1d(cr.zeros(2, 3, 4), 0), ArgumentError, r"adaptive_avg_pool1d: output_size must"),
    (lambda: F.adaptive_max_pool2d(cr.zeros(2, 3, 4), (2, 2, 2)), ArgumentTypeError,
     r"adaptive_max_pool2d: output_size must be an int, None or a pair"),
    (lambda: F.adaptive_max_pool2d(cr.zeros(2, 3, 4, 4), (2, -1)), ArgumentError, r"adaptive_max_pool2d: output_size"),
    (lambda: F.adaptive_max_pool1d(cr.zeros(2, 3, 4, 4), 2), ShapeError, r"adaptive_max_pool1d: expected a 2-D"),
    (lambda: F.adaptive_max_pool1d(cr.zeros(2, 3, 4), "2"), ArgumentTypeError, r"adaptive_max_pool1d: output_size"),
])
def test_pool1d_bad_arguments_get_one_clear_line(call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call()
    assert "\n" not in str(info.value).split("\nsee docs")[0]
