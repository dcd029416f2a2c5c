"""The backward engine: ordering, accumulation, freeing, retain_graph, grad(), higher order, errors."""

import gc
import weakref

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autograd.function import Function


def test_fan_out_accumulates_x_times_x():
    x = cr.tensor(3.0, requires_grad=True)
    (x * x).backward()
    assert x.grad.item() == 6.0


def test_diamond_accumulates_both_paths():
    # y = a·b + exp(a) with a = 2x, b = 3x:  dy/dx = 2·3x + 3·2x + 2·exp(2x) = 12x + 2e^(2x)
    x = cr.tensor(0.7, dtype=cr.float64, requires_grad=True)
    a, b = 2 * x, 3 * x
    y = a * b + cr.exp(a)
    y.backward()
    assert x.grad.item() == pytest.approx(12 * 0.7 + 2 * np.exp(1.4), rel=1e-12)


def test_textbook_graph_gradients():
    # f = (x + y)·z at x = −2, y = 5, z = −4: df/dx = df/dy = z = −4, df/dz = x + y = 3
    x, y, z = (cr.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    f = (x + y) * z
    f.backward()
    assert (x.grad.item(), y.grad.item(), z.grad.item(), f.item()) == (-4.0, -4.0, 3.0, -12.0)


def test_gradients_accumulate_across_backward_calls_until_cleared():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    x.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    x.zero_grad()
    assert x.grad is None


def test_leaf_grad_owns_its_memory():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    g = np.array([1.0, 1.0], dtype=np.float32)
    (a + b).backward(g)
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    assert not np.shares_memory(a.grad.numpy(), g)


def test_leaf_grad_takes_a_fresh_gradient_without_copying_and_copies_shared_ones():
    """A gradient array made by a backward rule becomes the leaf's .grad as it is (no copy of a large gradient);
    one that is also the caller's gradient, another leaf's, a view of another array, or a Tensor's data is
    copied, so changing any .grad in place changes nothing else."""
    made = []

    class Scale(Function):  # y = 2x, and remembers the gradient array it makes
        uses_inputs = False

        def forward(self, x):
            return 2 * x

        def backward(self, gy):
            gx = cr.Tensor(2 * gy.numpy())
            made.append(gx.numpy())
            return gx

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    Scale()(x).sum().backward()
    assert x.grad.numpy() is made[0]
    a = cr.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = cr.tensor(np.ones(6, np.float32), requires_grad=True)
    c = cr.tensor(np.ones(6, np.float32), requires_grad=True)
    g = cr.tensor(np.arange(6, dtype=np.float32))
    (a.reshape(6) + b + c).backward(g)  # b and c receive g itself, a a view of it
    grads = [a.grad.numpy(), b.grad.numpy(), c.grad.numpy(), g.numpy()]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.shares_memory(grads[i], grads[j])
    b.grad.numpy()[...] += 1
    np.testing.assert_array_equal(g.numpy(), np.arange(6))
    np.testing.assert_array_equal(c.grad.numpy(), np.arange(6))
    np.testing.assert_array_equal(a.grad.numpy(), np.arange(6).reshape(2, 3))


def test_long_chain_is_iterative_not_recursive():
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_long_chain_with_retained_graph_frees_without_recursion():
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 0.0
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 2.0
    del y  # deallocating the 100,000-deep graph must not overflow the C stack


def test_second_backward_through_freed_graph_raises():
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.exp(x)
    z = y * 3
    z.backward()
    with pytest.raises(cr.BackwardError, match=r"backward through the graph a second time.*retain_graph=True"):
        z.backward()


def test_retain_graph_allows_second_backward():
    x = cr.tensor(2.0, requires_grad=True)
    z = cr.exp(x) * 3
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad.item() == pytest.approx(2 * 3 * np.exp(2.0), rel=1e-6)


def test_graph_is_freed_after_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.exp(x)
    fn = weakref.ref(y.creator)
    y.sum().backward()
    assert y.creator.released and not hasattr(y.creator, "inputs")
    del y
    gc.collect()
    assert fn() is None


def test_graph_without_cycles_is_freed_by_reference_counting():
    gc.disable()
    try:
        x = cr.tensor([1.0, 2.0], requires_grad=True)
        y = cr.tanh(x * 2).sum()
        fn = weakref.ref(y.creator)
        del y
        assert fn() is None  # no cycle: freed at once, without the garbage collector
    finally:
        gc.enable()


def test_backward_on_non_scalar_without_grad_raises():
    x = cr.ones(2, 3, requires_grad=True)
    with pytest.raises(cr.BackwardError, match=r"one-element outputs.*shape \(2, 3\).*ones_like"):
        (x * 2).backward()


def test_backward_on_non_scalar_with_grad():
    x = cr.ones(2, 3, requires_grad=True)
    (x * 2).backward(cr.full((2, 3), 0.5))
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))


def test_backward_grad_shape_and_dtype_are_checked():
    x = cr.ones(2, 3, requires_grad=True)
    with pytest.raises(cr.ShapeError, match=r"gradient 0 has shape \(3,\) but output 0 has shape \(2, 3\)"):
        (x * 2).backward(cr.ones(3))
    with pytest.raises(cr.DTypeError, match="float64"):
        (x * 2).backward(cr.ones(2, 3, dtype=cr.float64))


def test_backward_without_requires_grad_raises():
    with pytest.raises(cr.BackwardError, match="does not require grad"):
        (cr.ones(2) * 2).sum().backward()


def test_no_grad_builds_no_graph():
    x = cr.ones(2, requires_grad=True)
    with cr.no_grad():
        y = x * 2
        with cr.enable_grad():
            z = x * 2
    assert y.creator is None and not y.requires_grad
    assert z.creator is not None and cr.is_grad_enabled()

    @cr.no_grad()
    def f(t):
        return t * 3

    assert f(x).creator is None


def test_detach_cuts_the_graph():
    x = cr.ones(2, requires_grad=True)
    y = (x * 2).detach()
    assert y.creator is None and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), [2.0, 2.0])


def test_grad_returns_without_touching_dot_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x**3).sum()
    (g,) = cr.grad(y, x)
    np.testing.assert_allclose(g.numpy(), 3 * np.array([1.0, 4.0]))
    assert x.grad is None


def test_grad_of_intermediate_tensor_and_pruning():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    (gh,) = cr.grad(y, h, retain_graph=True)
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy())
    assert not h.creator.released  # the part below h was not needed, so it was not run or freed
    (gx,) = cr.grad(y, x)
    np.testing.assert_allclose(gx.numpy(), 18 * x.numpy())


def test_grad_unused_input():
    x = cr.ones(2, requires_grad=True)
    w = cr.ones(2, requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(cr.BackwardError, match=r"input 1 .* not reachable.*allow_unused=True"):
        cr.grad(y, [x, w], retain_graph=True)
    gx, gw = cr.grad(y, [x, w], allow_unused=True)
    assert gw is None and gx is not None


def test_grad_with_grad_outputs_is_a_vector_jacobian_product():
    r = np.random.default_rng(0)
    a = r.standard_normal((3, 4))
    v = r.standard_normal(3)
    x = cr.tensor(r.standard_normal(4), requires_grad=True)
    (g,) = cr.grad(cr.tensor(a) @ x, x, grad_outputs=cr.tensor(v))
    np.testing.assert_allclose(g.numpy(), a.T @ v)


def test_second_derivative_of_tanh():
    x0 = np.linspace(-2, 2, 7)
    x = cr.tensor(x0, requires_grad=True)
    (g,) = cr.grad(cr.tanh(x).sum(), x, create_graph=True)
    (gg,) = cr.grad(g.sum(), x)
    t = np.tanh(x0)
    np.testing.assert_allclose(g.numpy(), 1 - t**2, rtol=1e-12)
    np.testing.assert_allclose(gg.numpy(), -2 * t * (1 - t**2), rtol=1e-12)


def test_third_derivative_through_backward_create_graph():
    x = cr.tensor(0.5, dtype=cr.float64, requires_grad=True)
    y = x**4
    y.backward(create_graph=True)
    g1 = x.grad
    x.grad = None
    g1.backward(create_graph=True)
    g2 = x.grad
    x.grad = None
    g2.backward()
    assert (g1.item(), g2.item(), x.grad.item()) == pytest.approx((4 * 0.125, 12 * 0.25, 24 * 0.5))


def test_hessian_vector_product_matches_torch():
    r = np.random.default_rng(1)
    a = r.standard_normal((4, 4))
    x0, v0 = r.standard_normal(4), r.standard_normal(4)

    def f(lib, x, A):
        return (lib.tanh(A @ x) ** 2).sum() + (x * x * x).sum()

    x = cr.tensor(x0, requires_grad=True)
    (g,) = cr.grad(f(cr, x, cr.tensor(a)), x, create_graph=True)
    (hv,) = cr.grad((g * cr.tensor(v0)).sum(), x)

    xt = torch.tensor(x0, requires_grad=True)
    (gt,) = torch.autograd.grad(f(torch, xt, torch.tensor(a)), xt, create_graph=True)
    (hvt,) = torch.autograd.grad((gt * torch.tensor(v0)).sum(), xt)
    np.testing.assert_allclose(hv.numpy(), hvt.numpy(), rtol=1e-10, atol=1e-12)


def test_generations_order_a_deep_fan_in():
    # y = x + f(f(f(x))) where the short path must wait for the long one
    x = cr.tensor(0.3, dtype=cr.float64, requires_grad=True)
    h = x
    for _ in range(3):
        h = cr.sin(h)
    y = x + h
    y.backward()
    s1 = np.sin(0.3)
    s2 = np.sin(s1)
    expected = 1 + np.cos(s2) * np.cos(s1) * np.cos(0.3)
    assert x.grad.item() == pytest.approx(expected, rel=1e-12)


class _WrongShape(Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy.sum()


class _WrongDType(Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy.double()


def test_engine_catches_wrong_shape_gradient_naming_the_op():
    x = cr.ones(3, requires_grad=True)
    pattern = r"_WrongShape.backward returned a gradient of shape \(\) for input 0 of shape \(3,\)"
    with pytest.raises(cr.BackwardError, match=pattern):
        _WrongShape()(x).sum().backward()


def test_engine_catches_wrong_dtype_gradient_naming_the_op():
    x = cr.ones(3, requires_grad=True)
    pattern = r"_WrongDType.backward returned a float64 gradient for input 0 of dtype float32"
    with pytest.raises(cr.BackwardError, match=pattern):
        _WrongDType()(x).sum().backward()


def test_broadcast_reduction_happens_in_the_base_class():
    a = cr.ones(2, 1, 3, requires_grad=True)
    b = cr.ones(4, 1, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (2, 1, 3) and b.grad.shape == (4, 1)
    np.testing.assert_array_equal(a.grad.numpy(), np.full((2, 1, 3), 4.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full((4, 1), 6.0))


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(cr.DTypeError, match="only floating-point"):
        cr.tensor([1, 2], requires_grad=True)


def test_output_used_in_backward_survives_when_user_drops_it():
    # exp's backward needs its output; only the engine holds it here
    x = cr.tensor([0.5, 1.0], requires_grad=True)
    loss = (cr.exp(x * 2) * 3).sum()
    gc.collect()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.exp(2 * x.numpy()), rtol=1e-6)


def test_backward_inputs_fills_only_the_chosen_leaves_as_pytorch():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    assert a.grad.tolist() == [3.0, 4.0] and b.grad is None
    (a * b).sum().backward(gradient=cr.tensor(2.0), inputs=b)
    assert a.grad.tolist() == [3.0, 4.0] and b.grad.tolist() == [2.0, 4.0]
    ta, tb = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([3.0, 4.0], requires_grad=True)
    (ta * tb).sum().backward(inputs=[ta])
    assert ta.grad.tolist() == a.grad.tolist() and tb.grad is None
    with pytest.raises(cr.ChainruleError, match=r"backward: inputs\[0\] must be a leaf tensor that requires grad"):
        (a * b).sum().backward(inputs=[a * 2])
