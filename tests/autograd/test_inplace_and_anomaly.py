"""Silent failures refused: in-place modification of saved values, and NaN/Inf under detect_anomaly."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.anomaly import AnomalyError


def test_modifying_a_saved_input_in_place_makes_backward_raise():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = cr.tensor([0.5, 0.5, 0.5])
    y = (x * w).sum()  # Mul saves w
    w.data = w.numpy() * 2  # assignment to .data is an in-place modification
    with pytest.raises(cr.BackwardError) as info:
        y.backward()
    message = str(info.value)
    assert "modified by an inplace operation" in message
    assert "input 1 of Mul" in message and "shape (3,)" in message
    assert "is at version 1; expected version 0" in message


def test_augmented_assignment_on_data_counts_too():
    x = cr.tensor([0.5, 1.0], requires_grad=True)
    h = x * 3
    y = cr.exp(h).sum()  # Exp saves its output
    out = y.creator.inputs[0]  # exp(h)
    with pytest.raises(ValueError, match="read-only"):  # += writes into the saved array: refused at the write
        out.numpy()[...] += 1
    out.data = out.numpy() + 1
    with pytest.raises(cr.BackwardError, match=r"output 0 of Exp .* is at version 1; expected version 0"):
        y.backward()


def test_setitem_and_inplace_methods_bump_the_version():
    t = cr.zeros(3)
    assert t.version == 0
    t[0] = 5.0
    t.add_(1.0).mul_(2.0)
    t.zero_()
    assert t.version == 4
    d = t.detach()
    d.fill_(1.0)
    assert t.version == 5 and t.numpy().tolist() == [1.0, 1.0, 1.0]  # detach shares values and version


def test_inplace_on_a_tensor_requiring_grad_needs_no_grad():
    w = cr.ones(3, requires_grad=True)
    with pytest.raises(cr.BackwardError, match="cannot be modified in place while gradients are recorded"):
        w.mul_(2)
    with cr.no_grad():
        w.mul_(2)
    np.testing.assert_array_equal(w.numpy(), [2.0, 2.0, 2.0])


def test_ops_that_do_not_read_values_allow_changes():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = cr.tensor([3.0, 4.0])
    y = (x + c).sum()  # add never reads its inputs' values
    c.data = c.numpy() * 0
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_optimizer_updates_stay_legal_and_are_caught_before_backward():
    w = cr.nn.Parameter(cr.tensor([1.0, 2.0]))
    opt = cr.optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward()
    opt.step()  # after backward: legal
    loss = (w * w).sum()
    w.grad = cr.ones(2)
    opt.step()  # before this graph's backward: the graph now holds stale values
    with pytest.raises(cr.BackwardError, match="modified by an inplace operation"):
        loss.backward()


def test_anomaly_mode_names_the_op_inputs_and_user_line_in_forward():
    x = cr.tensor([1.0, -1.0, 4.0])
    with cr.detect_anomaly():
        with pytest.raises(AnomalyError) as info:
            cr.log(x)  # the line the report must name
    message = str(info.value)
    assert "Log produced 1 NaN and 0 Inf in output 0" in message
    assert "#0 shape (3,) float32, min -1, max 4" in message
    assert "test_inplace_and_anomaly.py" in message and "cr.log(x)" in message


def test_anomaly_mode_catches_nan_in_backward():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with cr.detect_anomaly():
        y = cr.sqrt(x)  # finite forward, infinite derivative at 0
        with pytest.raises(AnomalyError) as info:
            y.sum().backward()
    message = str(info.value)
    assert "backward of Sqrt returned 0 NaN and 1 Inf in the gradient for input 0" in message
    assert "y = cr.sqrt(x)" in message


def test_without_anomaly_mode_nothing_is_checked():
    x = cr.tensor([1.0, -1.0])
    assert np.isnan(cr.log(x).numpy()[1])
