"""The local-derivative table agrees with every op's own backward: downstream = upstream × local, op by op."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.viz import backward_steps
from chainrule.viz.local import RULES, op_info

RNG = np.random.default_rng(0)


def t(*shape, low=-2.0, high=2.0, name=None):
    return cr.Tensor(RNG.uniform(low, high, shape), requires_grad=True, name=name)


CASES = {
    "add broadcast": lambda: t(3, 1) + t(4),
    "sub": lambda: t(3) - t(3),
    "mul broadcast": lambda: t(2, 3) * t(3),
    "div": lambda: t(3) / t(3, low=0.5, high=2),
    "neg": lambda: -t(3),
    "pow scalar": lambda: t(3) ** 3,
    "pow tensor": lambda: t(3, low=0.5, high=2) ** t(3),
    "exp": lambda: cr.exp(t(3)),
    "log": lambda: cr.log(t(3, low=0.5, high=2)),
    "sqrt": lambda: cr.sqrt(t(3, low=0.5, high=2)),
    "abs": lambda: cr.abs(t(3)),
    "sin": lambda: cr.sin(t(3)),
    "cos": lambda: cr.cos(t(3)),
    "tanh": lambda: cr.tanh(t(3)),
    "sigmoid": lambda: cr.sigmoid(t(3)),
    "relu": lambda: cr.relu(t(4)),
    "leaky_relu": lambda: cr.leaky_relu(t(4), 0.1),
    "elu": lambda: cr.elu(t(4)),
    "maximum": lambda: cr.maximum(t(4), t(4)),
    "minimum": lambda: cr.minimum(t(4), t(1)),
    "clip": lambda: cr.clip(t(5), -0.5, 0.5),
    "where": lambda: cr.where(np.array([True, False, True]), t(3), t(3)),
    "sum dim": lambda: cr.sum(t(2, 3), 1),
    "mean keepdim": lambda: cr.mean(t(2, 3), 0, keepdim=True),
    "amax": lambda: cr.amax(t(2, 3), 1),
    "min all": lambda: cr.min(t(2, 3)),
    "var": lambda: cr.var(t(2, 4), 1),
    "logsumexp": lambda: cr.logsumexp(t(2, 3), 1),
    "softmax": lambda: cr.softmax(t(2, 3), 1),
    "log_softmax": lambda: cr.log_softmax(t(2, 3), 0),
    "matmul": lambda: t(2, 3) @ t(3, 4),
    "matrix·vector": lambda: t(2, 3) @ t(3),
    "vector·matrix": lambda: t(3) @ t(3, 2),
    "dot": lambda: t(3) @ t(3),
    "batched matmul": lambda: t(2, 2, 3) @ t(3, 2),
    "reshape": lambda: t(2, 3).reshape(3, 2),
    "permute": lambda: t(2, 3, 4).permute(2, 0, 1),
    "getitem": lambda: t(4, 3)[np.array([0, 2, 0])],
    "broadcast_to": lambda: cr.broadcast_to(t(1, 3), (2, 3)),
    "sum_to": lambda: cr.sum_to(t(2, 3), (1, 3)),
    "linear": lambda: cr.nn.functional.linear(t(4, 3), t(2, 3), t(2)),
    "dropout": lambda: cr.nn.functional.dropout(t(50), 0.5, training=True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_local_rule_reproduces_the_backward(name):
    out = CASES[name]()
    g = RNG.normal(size=out.shape)
    steps = list(backward_steps(out, grad=g))
    assert steps, name
    step = steps[0]
    info = op_info(step.function)
    assert info.rule is not None, f"{type(step.function).__name__} has no rule"
    checked = 0
    for inp in step.inputs:
        if inp.downstream is None:
            continue
        assert inp.rule.apply is not None, name
        expected = inp.rule.apply(np.asarray(step.upstream))
        np.testing.assert_allclose(expected, inp.downstream, rtol=1e-12, atol=1e-12, err_msg=name)
        assert inp.formula or inp.rule.product
        checked += 1
    assert checked


def test_patterns_named_as_learners_know_them():
    assert op_info(cr.tensor(1.0, requires_grad=True).__add__(1).creator).pattern == "distributes"
    patterns = {info.name: info.pattern for info in RULES.values()}
    assert patterns["add"] == "distributes" and patterns["sum"] == "distributes"
    assert patterns["mul"] == "swaps" and patterns["matmul"] == "swaps"
    assert patterns["max"] == "routes" and patterns["relu"] == "routes"


def test_unknown_op_gets_a_generic_row():
    class Square(cr.Function):
        def forward(self, x):
            return x * x

        def backward(self, gy):
            return gy * 2 * self.inputs[0]

    x = cr.Tensor(np.array(3.0), requires_grad=True, name="x")
    (step,) = backward_steps(Square()(x))
    assert (step.op, step.pattern) == ("square", "")
    assert step.inputs[0].formula == "—" and step.local == (None,)
    assert step.downstream == (6.0,)


def test_conv_and_pool_rows_describe_their_rules():
    x = t(1, 1, 6, 6, name="X")
    w = t(2, 1, 3, 3, name="W")
    out = cr.nn.functional.max_pool2d(cr.nn.functional.conv2d(x, w), 2).sum()
    ops = {s.op: s for s in backward_steps(out)}
    assert ops["max_pool2d"].pattern == "routes"
    conv = ops["conv2d"]
    assert "rotated kernel" in conv.inputs[0].rule.product
    assert "correlation" in conv.inputs[1].rule.product
