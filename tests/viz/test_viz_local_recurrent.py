"""Local derivatives of Lp pooling and of the recurrent cells and time loops in explain: the formula text, the
values against torch.autograd.functional.jacobian of PyTorch's own ops, and upstream × local = the op's backward."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812 - the usual name
from torch.autograd.functional import jacobian

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812
from chainrule.ops.recurrent import gru_cell, gru_sequence, lstm_cell, lstm_sequence, rnn_cell, rnn_sequence
from chainrule.viz import backward_steps, explain

RNG = np.random.default_rng(0)
N, H, L = 2, 3, 4


def leaf(*shape, low=-1.0, high=1.0, name=None):
    return cr.Tensor(RNG.uniform(low, high, shape), requires_grad=True, name=name)


def first_step(out, grad=None):
    """The step of the op that made ``out`` (or its first output), with a random upstream gradient."""
    outs = out if isinstance(out, tuple) else (out,)
    g = tuple(RNG.normal(size=o.shape) for o in outs)
    total = sum((o * cr.Tensor(gi)).sum() for o, gi in zip(outs, g))
    return next(s for s in backward_steps(total) if s.function is outs[0].creator)


def per_sample(j):
    """(N, H, N, K) from torch's jacobian → (N, H, K): samples do not mix in a cell step."""
    return np.stack([j[n, :, n, :] for n in range(j.shape[0])])


def check_rules_reproduce_the_backward(step):
    """upstream × local, computed from the printed rule, equals the downstream the op's own backward sent."""
    checked = 0
    for inp in step.inputs:
        if inp.downstream is None:
            continue
        assert inp.formula and inp.formula != "—"
        np.testing.assert_allclose(inp.rule.apply(step.upstream), inp.downstream, rtol=1e-10, atol=1e-12)
        checked += 1
    assert checked == len(step.inputs)


# ----- Lp pooling -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p, mean, formula", [
    (2, False, "x/lp_pool2d(x)"), (3, False, "x^2/lp_pool2d(x)^2"), (2, True, "x/(4·lp_pool2d(x))"),
    (3, True, "x^2/(4·lp_pool2d(x)^2)"), (1, True, "1/4"),
])
def test_lp_pool2d_local_derivative_formula_and_values_against_torch(p, mean, formula):
    x = leaf(1, 1, 4, 6, low=0.3, high=1.5, name="x")
    step = first_step(F.lp_pool2d(x, p, 2, mean=mean))
    (inp,) = step.inputs
    assert step.op == "lp_pool2d" and inp.formula == formula
    scale = 4 ** (1 / p) if mean else 1.0
    j = jacobian(lambda t: TF.lp_pool2d(t, p, 2) / scale, torch.tensor(x.numpy()))  # (1,1,2,3, 1,1,4,6)
    # disjoint windows: each element's local derivative is ∂(its window's output)/∂(element)
    expected = j.reshape(6, 24).sum(0).reshape(1, 1, 4, 6).numpy()
    np.testing.assert_allclose(inp.local, expected, rtol=1e-12)
    check_rules_reproduce_the_backward(step)


def test_lp_pool2d_overlapping_windows_show_the_formula_and_still_reproduce_the_backward():
    x = leaf(1, 2, 5, 5, low=0.3, high=1.5, name="x")
    step = first_step(F.lp_pool2d(x, 3, 3, stride=1, ceil_mode=True))
    assert step.inputs[0].local is None and step.inputs[0].formula == "x^2/lp_pool2d(x)^2"
    assert "Σ over the windows" in step.inputs[0].rule.product
    check_rules_reproduce_the_backward(step)
    cut = first_step(F.lp_pool2d(leaf(1, 1, 5, 5, low=0.3, high=1.5, name="x"), 2, 2, ceil_mode=True, mean=True))
    assert cut.inputs[0].formula == "x/(|P|·lp_pool2d(x))"  # windows cut by ceil_mode: |P| differs
    check_rules_reproduce_the_backward(cut)


def test_lp_pool2d_row_is_never_a_dash():
    x = leaf(1, 1, 4, 4, low=0.3, high=1.5, name="x")
    text = str(explain(F.lp_pool2d(x, 2, 2).sum()))
    assert "lp_pool2d" in text and "lppool2d" not in text and "—" not in text


# ----- cells ------------------------------------------------------------------------------------------------


def _cell_case(kind):
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    xw, h = leaf(N, gates * H, name="xw"), leaf(N, H, name="h")
    w, b = leaf(gates * H, H, name="W"), leaf(gates * H, name="b")
    eye, zero = torch.eye(gates * H, dtype=torch.float64), torch.zeros(gates * H, dtype=torch.float64)
    tw, tb = torch.tensor(w.numpy()), torch.tensor(b.numpy())
    if kind == "lstm":
        c = leaf(N, H, name="c")
        out = lstm_cell(xw, h, c, w, b)
        # PyTorch's own cell with W_ih = I, b_ih = 0: its input is then exactly xw
        def torch_fn(x_, h_, c_):
            return torch.lstm_cell(x_, (h_, c_), eye, tw, zero, tb)
        return out, (xw, h, c), torch_fn
    out = rnn_cell(xw, h, w, b) if kind == "rnn" else gru_cell(xw, h, w, b)
    cell = torch.rnn_tanh_cell if kind == "rnn" else torch.gru_cell
    return out, (xw, h), lambda x_, h_: (cell(x_, h_, eye, tw, zero, tb),)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cell_local_derivatives_equal_torch_jacobians(kind):
    out, inputs, torch_fn = _cell_case(kind)
    step = first_step(out)
    assert step.op == f"{kind}_cell"
    arrays = [torch.tensor(t.numpy()) for t in inputs]
    for k, inp in enumerate(step.inputs[: len(inputs)]):
        outputs = len(torch_fn(*arrays))
        expected = []
        for o in range(outputs):
            def one(a, k=k, o=o):
                args = list(arrays)
                args[k] = a
                return torch_fn(*args)[o]
            expected.append(per_sample(jacobian(one, arrays[k]).numpy()))
        local = inp.local if isinstance(inp.local, tuple) else (inp.local,)
        if kind == "rnn" and k == 0:  # elementwise: the diagonal, as for tanh itself
            local = (np.stack([np.diag(v) for v in local[0]]),)
        assert len(local) == outputs
        for got, want in zip(local, expected):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    check_rules_reproduce_the_backward(step)


def test_rnn_cell_formula_reads_as_the_notes():
    xw, h0, w = leaf(1, 2, name="xw"), leaf(1, 2, name="h0"), leaf(2, 2, name="W_hh")
    h1 = rnn_cell(xw, h0, w, None)
    rows = {i["name"]: i for i in explain(h1.sum())[1]["inputs"]}
    assert rows["h0"]["local_formula"] == "(1 - h1²)·W_hh"
    assert rows["h0"]["product"] == "(G ⊙ (1 - h1²))·W_hh"
    assert rows["xw"]["local_formula"] == "1 - h1²"
    np.testing.assert_allclose(rows["xw"]["local"], 1 - h1.numpy() ** 2)
    np.testing.assert_allclose(rows["h0"]["local"][0], (1 - h1.numpy()[0, :, None] ** 2) * w.numpy())
    assert rows["W_hh"]["local_formula"] == "(1 - h1²)·h0ᵀ"
    h1 = rnn_cell(xw, h0, w, None, "relu")
    relu = {i["name"]: i for i in explain(h1.sum())[1]["inputs"]}
    assert relu["h0"]["local_formula"] == "[h1 > 0]·W_hh"
    np.testing.assert_array_equal(relu["xw"]["local"], (h1.numpy() > 0).astype(float))


def test_lstm_and_gru_formulas_name_their_gates():
    out, _, _ = _cell_case("lstm")
    step = first_step(out)
    formulas = [i.formula for i in step.inputs]
    assert formulas[0].startswith("∂c'/∂xw = [g·σ'(i) | c·σ'(f) | i·tanh'(g) | 0]")
    assert formulas[2] == "∂c'/∂c = f, ∂h'/∂c = o·tanh'(c')·f"
    gru, _, _ = _cell_case("gru")
    assert first_step(gru).inputs[1].formula.startswith("z + [(1 - z)·tanh'(n)·h_n·σ'(r)")


def test_big_cells_show_formulas_without_huge_jacobians():
    xw, h, w = leaf(64, 4 * 32), leaf(64, 32), leaf(4 * 32, 32)
    step = first_step(lstm_cell(xw, h, leaf(64, 32), w, None))
    assert step.inputs[0].local is None and step.inputs[1].local is None  # 64·32·128·2 elements: formula only
    check_rules_reproduce_the_backward(step)


# ----- time loops -------------------------------------------------------------------------------------------


def _torch_step(kind, w, b):
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    eye, zero = torch.eye(gates * H, dtype=torch.float64), torch.zeros(gates * H, dtype=torch.float64)
    if kind == "lstm":
        return lambda x_, h_, c_: torch.lstm_cell(x_, (h_, c_), eye, w, zero, b)
    cell = torch.rnn_tanh_cell if kind == "rnn" else torch.gru_cell
    return lambda x_, h_, c_: (cell(x_, h_, eye, w, zero, b), None)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
def test_sequence_recurrent_jacobians_per_step_equal_torch(kind, reverse):
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    xw, h0, w, b = leaf(L, N, gates * H), leaf(N, H, name="h0"), leaf(gates * H, H), leaf(gates * H)
    c0 = leaf(N, H, name="c0") if kind == "lstm" else None
    if kind == "lstm":
        out = lstm_sequence(xw, h0, c0, w, b, reverse)
    else:
        out = (rnn_sequence(xw, h0, w, b, "tanh", reverse) if kind == "rnn" else gru_sequence(xw, h0, w, b, reverse))
    step = first_step(out)
    assert step.op == f"{kind}_sequence"
    assert step.inputs[1].formula.startswith("∂h_t/∂h_(t-1) = ")
    cell = _torch_step(kind, torch.tensor(w.numpy()), torch.tensor(b.numpy()))
    h = torch.tensor(h0.numpy())
    c = None if c0 is None else torch.tensor(c0.numpy())
    for t in (range(L - 1, -1, -1) if reverse else range(L)):
        x_t = torch.tensor(xw.numpy()[t])
        expected = per_sample(jacobian(lambda a: cell(x_t, a, c)[0], h).numpy())  # noqa: B023 - used at once
        np.testing.assert_allclose(step.inputs[1].local[t], expected, rtol=1e-10, atol=1e-13)
        if kind == "lstm":
            expected_c = per_sample(jacobian(lambda a: cell(x_t, h, a)[1], c).numpy())  # noqa: B023
            np.testing.assert_allclose(step.inputs[2].local[t], expected_c, rtol=1e-10, atol=1e-13)
        h, c = cell(x_t, h, c)
    check_rules_reproduce_the_backward(step)


def test_explain_table_of_an_lstm_layer_has_no_dash():
    lstm = cr.nn.LSTM(2, 3, dtype=cr.float64, generator=np.random.default_rng(0))
    out, _ = lstm(cr.tensor(RNG.normal(size=(5, 1, 2))))
    table = explain(out[-1].sum())
    ops = [row["op"] for row in table]
    assert "lstm_sequence" in ops and "lstmsequence" not in ops
    assert all(i["local_formula"] != "—" for row in table for i in row["inputs"] if row["op"] == "lstm_sequence")
