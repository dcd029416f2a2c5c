"""explain_conv: the element-by-element sums are chainrule's conv2d forward and backward."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.conv import conv2d
from chainrule.viz import explain_conv


def reference(X, W, b, G, stride, padding):
    x = cr.Tensor(np.asarray(X, dtype=np.float64)[None, None], requires_grad=True)
    w = cr.Tensor(np.asarray(W, dtype=np.float64)[None, None], requires_grad=True)
    bt = cr.Tensor(np.array([b], dtype=np.float64), requires_grad=True)
    out = conv2d(x, w, bt, stride=stride, padding=padding)
    out.backward(cr.Tensor(np.asarray(G, dtype=np.float64)[None, None]))
    return out.numpy()[0, 0], x.grad.numpy()[0, 0], w.grad.numpy()[0, 0], bt.grad.item()


def test_default_example_is_5x5_3x3_stride_2():
    e = explain_conv()
    assert e.input.shape == (5, 5) and e.weight.shape == (3, 3) and e.stride == 2
    assert e.output.shape == (2, 2)
    O, dX, dW, db = reference(e.input, e.weight, e.bias, e.grad_output, 2, 0)
    np.testing.assert_array_equal(e.output, O)
    np.testing.assert_array_equal(e.grad_input, dX)
    np.testing.assert_array_equal(e.grad_weight, dW)
    assert e.grad_bias == db
    assert all(v <= 1e-12 for v in e.errors.values())


def test_terms_are_the_textbook_sums():
    X = np.arange(25.0).reshape(5, 5)
    W = np.arange(9.0).reshape(3, 3) - 4
    G = np.array([[1.0, 2.0], [3.0, 4.0]])
    e = explain_conv(X, W, 0.5, stride=2, grad_output=G)
    # o_11 collects the top-left 3×3 window: nine x·w terms and the bias
    assert e.outputs[(0, 0)] == [((u, v), (u, v)) for u in range(3) for v in range(3)]
    assert e.output[0, 0] == pytest.approx(float((X[:3, :3] * W).sum()) + 0.5)
    # x_33 (0-based (2, 2)) sits in all four windows: g_11·w_33 + g_12·w_31 + g_21·w_13 + g_22·w_11
    assert e.input_grads[(2, 2)] == [((0, 0), (2, 2)), ((0, 1), (2, 0)), ((1, 0), (0, 2)), ((1, 1), (0, 0))]
    assert e.grad_input[2, 2] == 1 * W[2, 2] + 2 * W[2, 0] + 3 * W[0, 2] + 4 * W[0, 0]
    # x_11 only in the first window, under w_11
    assert e.input_grads[(0, 0)] == [((0, 0), (0, 0))]
    # w_uv collects g_ij · x at the stride-2 positions it visited: a correlation of X with G
    assert e.grad_weight[1, 2] == sum(G[i, j] * X[2 * i + 1, 2 * j + 2] for i in range(2) for j in range(2))
    assert e.grad_bias == 10.0
    # the whole-matrix form: stride-dilated G, kernel rotated by 180°
    np.testing.assert_array_equal(e.dilated_grad, [[1, 0, 2], [0, 0, 0], [3, 0, 4]])
    np.testing.assert_array_equal(e.rotated_weight, W[::-1, ::-1])


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding"), [
    ((5, 5), (3, 3), 1, 0), ((6, 7), (3, 2), 2, 1), ((4, 4), (2, 2), 3, 1), ((7, 5), (3, 3), 2, 2),
])
def test_other_geometries_match_conv2d(shape, kernel, stride, padding):
    rng = np.random.default_rng(1)
    X, W = rng.normal(size=shape), rng.normal(size=kernel)
    e = explain_conv(X, W, -0.25, stride=stride, padding=padding)
    O, dX, dW, db = reference(X, W, -0.25, e.grad_output, stride, padding)
    np.testing.assert_allclose(e.output, O, atol=1e-12)
    np.testing.assert_allclose(e.grad_input, dX, atol=1e-12)
    np.testing.assert_allclose(e.grad_weight, dW, atol=1e-12)
    assert e.grad_bias == pytest.approx(db)


def test_printed_explanation():
    text = str(explain_conv())
    assert "o11 = x11·w11 + x12·w12 + x13·w13 + x21·w21" in text
    assert "∂L/∂x33 = g11·w33 + g12·w31 + g21·w13 + g22·w11" in text
    assert "∂L/∂w11 = g11·x11 + g12·x13 + g21·x31 + g22·x33" in text
    assert "rotated by 180°" in text and "correlation of X with dilated G" in text
    assert "0·(-1)" in text  # negative factors in brackets
    assert explain_conv().to_dict()["dX"] == explain_conv().grad_input.tolist()


def test_bad_arguments():
    with pytest.raises(cr.ShapeError, match="larger than the padded input"):
        explain_conv(np.ones((2, 2)), np.ones((3, 3)))
    with pytest.raises(cr.ShapeError, match="matrix"):
        explain_conv(np.ones(5))
    with pytest.raises(ValueError, match="stride"):
        explain_conv(stride=0)
    with pytest.raises(cr.ShapeError):
        explain_conv(np.ones((40, 40)))
