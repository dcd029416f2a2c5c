"""One walk of the graph: backward, grad and the step-by-step views run the nodes in the same order, and the
upstream and downstream gradients the walk yields are the gradients backward produces."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng

import chainrule as cr
from chainrule.autograd import engine
from chainrule.autograd.function import Function
from chainrule.ops import recurrent as rc


def leaf(values):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def fan_out():
    x = leaf([0.5, -1.5])
    return [x], (x * x * x).sum()


def diamond():
    x = leaf([0.3, 0.7, -0.2])
    a, b = 2 * x, cr.exp(x)
    return [x], (a * b + cr.tanh(a) - b).sum()


def multiple_outputs():
    """Nodes with several outputs (split, the fused LSTM cell), one output used twice, one not at all."""
    r = rng(1)
    xw, h, c = leaf(r.standard_normal((2, 8))), leaf(r.standard_normal((2, 2))), leaf(r.standard_normal((2, 2)))
    w = leaf(r.standard_normal((8, 2)))
    h1, c1 = rc.lstm_cell(xw, h, c, w, None)
    first, second = cr.split(h1 * c1, 1, dim=-1)
    return [xw, h, c, w], (first * first).sum() + (first * c1[:, :1]).sum() + 0 * second.sum()


def deep_fan_in():
    x = leaf([1.2])
    y, terms = x, []
    for k in range(6):
        y = cr.sin(y) * (k + 1)
        terms.append(y)
    return [x], sum(terms[1:], terms[0]).sum()


GRAPHS = {"fan_out": fan_out, "diamond": diamond, "multiple_outputs": multiple_outputs, "deep_fan_in": deep_fan_in}


def record_backward_order(monkeypatch):
    """Record every Function whose rule runs, in the order it runs."""
    ran = []
    real = Function.run_backward

    def recording(self, grad_outputs):
        ran.append(self)
        return real(self, grad_outputs)

    monkeypatch.setattr(Function, "run_backward", recording)
    return ran


@pytest.mark.parametrize("graph", GRAPHS)
def test_the_views_show_the_order_backward_runs(graph, monkeypatch):
    leaves, loss = GRAPHS[graph]()
    shown = [step.function for step in cr.viz.backward_steps(loss)]
    explained = [step.function for step in cr.viz.BackwardWalk(loss, op="explain").run().steps]
    ran = record_backward_order(monkeypatch)
    loss.backward()
    assert len(ran) > 2
    assert ran == shown == explained


@pytest.mark.parametrize("graph", GRAPHS)
def test_walk_yields_the_gradients_backward_produces(graph):
    """Every edge's downstream gradient, summed per leaf, is that leaf's .grad; every node's upstream gradient
    is grad(loss, that output), computed independently."""
    leaves, loss = GRAPHS[graph]()
    root = [cr.tensor(np.ones((), dtype=np.float64))]
    arrived: dict[int, np.ndarray] = {}

    def deliver(x, g):
        arrived[id(x)] = arrived.get(id(x), 0) + g.numpy()

    visits = []
    for visit in engine.walk([loss], root, deliver, retain_graph=True):
        fn = visit.function
        assert len(visit.upstream) == len(fn.outputs) and len(visit.downstream) == len(fn.inputs)
        outputs = [out if out is not None else ref() for out, ref in zip(visit.outputs, fn.outputs)]
        visits.append((outputs, [None if g is None else g.numpy() for g in visit.upstream]))
    loss.backward(retain_graph=True)
    for x in leaves:
        np.testing.assert_allclose(arrived[id(x)], x.grad.numpy(), rtol=1e-14, atol=1e-15)
    for outputs, upstream in visits:
        for out, g in zip(outputs, upstream):
            if g is not None:  # the gradient that reached this output, recomputed by grad() on its own
                (expected,) = cr.grad([loss], [out], retain_graph=True)
                np.testing.assert_allclose(g, expected.numpy(), rtol=1e-13, atol=1e-15)


def test_walk_yields_each_node_once_highest_generation_first():
    _, loss = diamond()
    functions = [v.function for v in engine.walk([loss], [cr.ones_like(loss)], lambda x, g: None)]
    generations = [fn.generation for fn in functions]
    assert generations == sorted(generations, reverse=True)
    assert len(set(functions)) == len(functions) == 7  # 2·x, exp(x), a·b, tanh(a), +, −, sum


def test_grad_runs_only_the_needed_nodes_in_the_walks_order(monkeypatch):
    """grad(y, x) prunes to the nodes between y and x: an unused branch is neither run nor freed."""
    x, w = leaf([0.4, -0.9]), leaf([1.1, 2.0])
    branch = cr.exp(w) * 3  # needed for y, not for ∂y/∂x
    y = (cr.tanh(x) * x + branch).sum()
    expected = [v.function for v in engine.walk([y], [cr.ones_like(y)], lambda t, g: None, retain_graph=True,
                                                capture=[x])]
    ran = record_backward_order(monkeypatch)
    (gx,) = cr.grad([y], [x])
    assert ran == expected
    assert branch.creator not in ran and not branch.creator.released
    assert {type(fn).__name__ for fn in ran} == {"Sum", "Add", "Mul", "Tanh"}
    t = np.tanh(x.numpy())
    np.testing.assert_allclose(gx.numpy(), (1 - t * t) * x.numpy() + t, rtol=1e-14)


def test_two_roots_walk_as_one_pass():
    x = leaf([0.2, 0.5])
    shared = cr.exp(x)
    a, b = (shared * 2).sum(), (shared * shared).sum()
    got = {}
    steps = list(engine.walk([a, b], [cr.ones_like(a), cr.ones_like(b)], lambda t, g: got.setdefault(id(t), g)))
    assert [v.function for v in steps].count(shared.creator) == 1  # both gradients summed before exp runs once
    (visit,) = [v for v in steps if v.function is shared.creator]
    np.testing.assert_allclose(visit.upstream[0].numpy(), 2 + 2 * np.exp(x.numpy()), rtol=1e-14)
    np.testing.assert_allclose(got[id(x)].numpy(), (2 + 2 * np.exp(x.numpy())) * np.exp(x.numpy()), rtol=1e-14)


def test_walk_frees_each_node_after_its_visit_unless_retained():
    x = leaf([1.0, 2.0])
    y = cr.exp(x * 3).sum()
    walk = engine.walk([y], [cr.ones_like(y)], lambda t, g: None)
    first = next(walk)
    assert not first.function.released  # a viewer can still read the node it was handed
    second = next(walk)
    assert first.function.released and not second.function.released
    list(walk)
    assert second.function.released


def test_walk_refuses_a_freed_graph_with_the_callers_error():
    x = leaf([1.0])
    y = (x * 2).sum()
    y.backward()
    with pytest.raises(cr.BackwardError, match="second time"):
        list(engine.walk([y], [cr.ones_like(y)], lambda t, g: None))
    with pytest.raises(cr.BackwardError, match="backward_steps: the graph was freed"):
        list(cr.viz.backward_steps(y))
