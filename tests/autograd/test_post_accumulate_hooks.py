"""Tensor.register_post_accumulate_grad_hook: called once per backward per leaf reached, after its last piece of
gradient has been added, in the order the leaves' gradients become final (as PyTorch 2.x)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autograd import engine
from chainrule.errors import BackwardError


def _recorder(log: list, name: str):
    def hook(t):
        log.append((name, t.grad.numpy().copy()))
    return hook


def test_fires_once_after_the_last_accumulation_of_a_twice_used_leaf():
    w = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    log: list = []
    w.register_post_accumulate_grad_hook(_recorder(log, "w"))
    y = (w * 3.0).exp().sum() + (w * w).sum()  # w reaches the loss along two paths of different depth
    y.backward()
    assert [name for name, _ in log] == ["w"]
    np.testing.assert_allclose(log[0][1], 3 * np.exp([3.0, 6.0]) + 2 * np.array([1.0, 2.0]), rtol=1e-12)


def test_order_in_which_gradients_become_final_matches_torch():
    def run(lib, make):
        a, b, c = (make(v) for v in (1.0, 2.0, 3.0))
        order: list = []
        for name, t in zip("abc", (a, b, c)):
            t.register_post_accumulate_grad_hook(lambda t, name=name: order.append(name))
        h = a * 2.0          # a's only sender is the first op: final last
        h = (h * b).tanh()   # b's only sender runs second to last
        (h * c).sum().backward()  # c is final first
        return order

    mine = run(cr, lambda v: cr.tensor([v], requires_grad=True))
    theirs = run(torch, lambda v: torch.tensor([v], requires_grad=True, dtype=torch.float64))
    assert mine == theirs == ["c", "b", "a"]


def test_not_called_for_leaves_not_reached_and_removable():
    a = cr.tensor([1.0], requires_grad=True)
    unused = cr.tensor([1.0], requires_grad=True)
    calls: list = []
    handle = a.register_post_accumulate_grad_hook(lambda t: calls.append("a"))
    unused.register_post_accumulate_grad_hook(lambda t: calls.append("unused"))
    (a * 2.0).sum().backward()
    assert calls == ["a"] and unused.grad is None
    handle.remove()
    (a * 2.0).sum().backward()
    assert calls == ["a"]


def test_once_per_backward_with_retain_graph_and_after_accumulation_across_passes():
    w = cr.tensor([1.0, -1.0], requires_grad=True)
    seen: list = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    y = (w * w).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[0], [2.0, -2.0])
    np.testing.assert_array_equal(seen[1], [4.0, -4.0])  # .grad accumulates across passes, as in PyTorch


def test_root_leaf_and_autograd_grad():
    w = cr.tensor([2.0], requires_grad=True)
    calls: list = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.item()))
    w.backward(cr.tensor([5.0]))
    assert calls == [5.0]
    cr.autograd.grad((w * w).sum(), w)  # grad() accumulates nothing: no hook
    assert calls == [5.0]


def test_refuses_non_leaf_and_tensor_without_grad():
    a = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(BackwardError, match="non-leaf"):
        (a * 2.0).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(BackwardError, match="doesn't require gradient"):
        cr.tensor([1.0]).register_post_accumulate_grad_hook(lambda t: None)


def test_queue_callback_runs_after_every_hook():
    a = cr.tensor([1.0], requires_grad=True)
    b = cr.tensor([2.0], requires_grad=True)
    log: list = []

    def hook(t):
        log.append("hook")
        if len(log) == 1:
            engine.queue_callback(lambda: log.append(("end", a.grad.item(), b.grad.item())))

    a.register_post_accumulate_grad_hook(hook)
    b.register_post_accumulate_grad_hook(hook)
    (a * b).sum().backward()
    assert log == ["hook", "hook", ("end", 2.0, 1.0)]
    with pytest.raises(BackwardError, match="no backward is running"):
        engine.queue_callback(lambda: None)


def test_deepcopy_and_copy_leave_the_hooks_behind_as_torch():
    import copy

    w = cr.nn.Parameter(cr.tensor([1.0, 2.0]))
    calls: list = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append("w"))
    for twin in (copy.deepcopy(w), copy.copy(w)):
        assert isinstance(twin, cr.nn.Parameter) and twin.requires_grad
        np.testing.assert_array_equal(twin.numpy(), [1.0, 2.0])
        (twin * 2.0).sum().backward()
        np.testing.assert_array_equal(twin.grad.numpy(), [2.0, 2.0])
    assert calls == []
    (w * 2.0).sum().backward()
    assert calls == ["w"]
