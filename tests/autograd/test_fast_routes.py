"""Fast routes: every Function that declares ``fast_backward`` gives what its ``backward`` gives.

``backward`` (on Tensors, differentiable) is the definition of an op's gradient; ``fast_backward`` (on arrays) is
what the engine runs when no graph of the backward pass is recorded. The classes with a fast route are found by
introspection, so a new one cannot be left out: ``FAST_ROUTE_CASES`` must hold cases for each of them, and each
case runs the op once, then calls both rules on the same node with the same upstream gradients.

To add cases: ``FAST_ROUTE_CASES[SomeFunction] = {"case name": builder}``, where ``builder(dtype)`` runs the op
on leaves that require grad and returns an output whose graph holds a ``SomeFunction`` node.
"""

from __future__ import annotations

import importlib
import operator
import pkgutil
from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
import chainrule.autograd.broadcast as broadcast
import chainrule.ops
import chainrule.ops.activation as activation
import chainrule.ops.conv as conv
import chainrule.ops.elementwise as elementwise
import chainrule.ops.linalg as linalg
import chainrule.ops.loss as loss
import chainrule.ops.normalization as normalization
import chainrule.ops.pool as pool
import chainrule.ops.products as products
import chainrule.ops.recurrent as recurrent
import chainrule.ops.select_along as select_along
from chainrule.autograd.function import Function
from chainrule.errors import BackwardError
from chainrule.nn import functional as F

DTYPES = (np.float32, np.float64)
Builder = Callable[[type], cr.Tensor]


def _leaf(shape: tuple[int, ...], dtype: type, seed: int, scale: float = 1.0, grad: bool = True) -> cr.Tensor:
    values = np.random.default_rng(seed).standard_normal(shape) * scale
    return cr.tensor(values.astype(dtype), requires_grad=grad)


def _probabilities(shape: tuple[int, ...], dtype: type, seed: int, grad: bool = True) -> cr.Tensor:
    """Soft targets: positive along the class dim 1, summing to 1."""
    e = np.exp(np.random.default_rng(seed).standard_normal(shape))
    return cr.tensor((e / e.sum(axis=1, keepdims=True)).astype(dtype), requires_grad=grad)


def _classes(shape: tuple[int, ...], n_classes: int, seed: int, ignore: int | None = None) -> cr.Tensor:
    t = np.random.default_rng(seed).integers(0, n_classes, size=shape)
    if ignore is not None:
        t.reshape(-1)[::3] = ignore  # every third target ignored
    return cr.tensor(t)


def _conv(x_shape, w_shape, bias=True, grads=(True, True, True), **kwargs) -> Builder:
    def build(dtype):
        x = _leaf(x_shape, dtype, 1, grad=grads[0])
        w = _leaf(w_shape, dtype, 2, 0.3, grad=grads[1])
        b = _leaf((w_shape[0],), dtype, 3, grad=grads[2]) if bias is True else bias(dtype) if bias else None
        return F.conv2d(x, w, b, **kwargs)
    return build


def _transpose(x_shape, w_shape, **kwargs) -> Builder:
    return lambda dtype: F.conv_transpose2d(_leaf(x_shape, dtype, 1), _leaf(w_shape, dtype, 2, 0.3), **kwargs)


def _weight_grad(x_shape, w_shape, **kwargs) -> Builder:
    """A WeightGrad node: the weight gradient of conv2d, recorded with create_graph."""
    def build(dtype):
        x, w = _leaf(x_shape, dtype, 1), _leaf(w_shape, dtype, 2, 0.3)
        out = F.conv2d(x, w, **kwargs)
        (gw,) = cr.grad(out, [w], _leaf(out.shape, dtype, 4), create_graph=True)
        return gw
    return build


def _pool(fn, *args, shape=(2, 3, 9, 8), **kwargs) -> Builder:
    return lambda dtype: fn(_leaf(shape, dtype, 1), *args, **kwargs)


def _activation(fn, shape=(3, 5)) -> Builder:
    return lambda dtype: fn(_leaf(shape, dtype, 1, 2.0))


def _binary(op, a_shape, b_shape, grads=(True, True)) -> Builder:
    """op(a, b), broadcasting b against a where their shapes differ; ``grads``: which inputs require grad."""
    def build(dtype):
        a = _leaf(a_shape, dtype, 1, grad=grads[0])
        b = cr.tensor(np.abs(_leaf(b_shape, dtype, 2).numpy()) + 0.5, requires_grad=grads[1])  # away from 0: division
        return op(a, b)
    return build


def _binary_cases(op) -> dict[str, Builder]:
    return {
        "same shape": _binary(op, (3, 5), (3, 5)),
        "broadcast row": _binary(op, (4, 3, 5), (5,)),
        "broadcast both": _binary(op, (4, 1, 5), (3, 1)),
        "only a": _binary(op, (3, 5), (3, 5), grads=(True, False)),
        "only b": _binary(op, (2, 5), (5,), grads=(False, True)),
        "0-d": _binary(op, (), ()),
    }


def _cross_entropy(x_shape, target, **kwargs) -> Builder:
    def build(dtype):
        extra = {k: (v(dtype) if callable(v) else v) for k, v in kwargs.items()}
        return F.cross_entropy(_leaf(x_shape, dtype, 1, 2.0), target(dtype), **extra)
    return build


def _linear(x_shape, out_features, bias=True, grads=(True, True, True)) -> Builder:
    def build(dtype):
        x = _leaf(x_shape, dtype, 1, grad=grads[0])
        w = _leaf((out_features, x_shape[-1]), dtype, 2, grad=grads[1])
        return F.linear(x, w, _leaf((out_features,), dtype, 3, grad=grads[2]) if bias else None)
    return build


def _batch_norm(shape, weight=True, bias=True, param_grads=True) -> Builder:
    def build(dtype):
        c = shape[1]
        rm, rv = cr.tensor(np.zeros(c, dtype)), cr.tensor(np.ones(c, dtype))
        w = _leaf((c,), dtype, 2, grad=param_grads) if weight else None
        b = _leaf((c,), dtype, 3, grad=param_grads) if bias else None
        return F.batch_norm(_leaf(shape, dtype, 1, 3.0), rm, rv, w, b, training=True)
    return build


def _layer_norm(shape, normalized) -> Builder:
    return lambda dtype: F.layer_norm(_leaf(shape, dtype, 1, 3.0), normalized, _leaf(normalized, dtype, 2))


def _recurrent(op, gates, states=1, length=None, bias=True, grads=None, **kwargs) -> Builder:
    """A recurrent cell (``length`` None: xw (N, G·H)) or time loop (xw (L, N, G·H)), batch 2, hidden size 3;
    ``grads``: which of (xw, states…, W_hh, b_hh) require grad."""
    def build(dtype):
        hidden, rows = 3, (2,) if length is None else (length, 2)
        need = grads or (True,) * (3 + states)
        xw = _leaf(rows + (gates * hidden,), dtype, 1, grad=need[0])
        state = [_leaf((2, hidden), dtype, 2 + k, grad=need[1 + k]) for k in range(states)]
        w = _leaf((gates * hidden, hidden), dtype, 4, 0.5, grad=need[1 + states])
        b = _leaf((gates * hidden,), dtype, 5, grad=need[2 + states]) if bias else None
        out = op(xw, *state, w, b, **kwargs)
        return out[0] if isinstance(out, tuple) else out
    return build


FAST_ROUTE_CASES: dict[type[Function], dict[str, Builder]] = {
    broadcast.Add: _binary_cases(operator.add),
    elementwise.Sub: _binary_cases(operator.sub),
    elementwise.Mul: _binary_cases(operator.mul),
    elementwise.Div: _binary_cases(operator.truediv),
    activation.Tanh: {
        "2-D": _activation(F.tanh), "0-d": _activation(F.tanh, ()), "4-D": _activation(F.tanh, (2, 3, 4, 5)),
    },
    activation.Sigmoid: {"2-D": _activation(F.sigmoid), "0-d": _activation(F.sigmoid, ())},
    activation.ReLU: {
        "2-D": _activation(F.relu), "0-d": _activation(F.relu, ()), "3-D": _activation(F.relu, (2, 3, 7)),
    },
    normalization.BatchNorm: {
        "(N, C)": _batch_norm((8, 5)),
        "(N, C, H, W)": _batch_norm((4, 3, 5, 6)),
        "(N, C, L), no weight": _batch_norm((4, 3, 5), weight=False),
        "(N, C, H, W), no bias": _batch_norm((4, 3, 2, 3), bias=False),
        "(N, C, H, W), input grad only": _batch_norm((3, 2, 4, 4), param_grads=False),
    },
    normalization.Standardize: {
        "layer_norm last dim": _layer_norm((4, 7), (7,)),
        "layer_norm last two dims": _layer_norm((3, 4, 5), (4, 5)),
    },
    linalg.Linear: {
        "bias": _linear((6, 5), 4),
        "no bias": _linear((6, 5), 4, bias=False),
        "3-D input": _linear((2, 3, 5), 4),
        "input grad only": _linear((6, 5), 4, grads=(True, False, False)),
        "weight grad only": _linear((2, 3, 5), 4, grads=(False, True, True)),
    },
    loss.CrossEntropyIndex: {
        "mean": _cross_entropy((6, 4), lambda d: _classes((6,), 4, 5)),
        "sum": _cross_entropy((6, 4), lambda d: _classes((6,), 4, 5), reduction="sum"),
        "none, K-dim": _cross_entropy((3, 4, 5), lambda d: _classes((3, 5), 4, 5), reduction="none"),
        "weights, ignore_index": _cross_entropy(
            (9, 4), lambda d: _classes((9,), 4, 5, ignore=-100), weight=lambda d: cr.tensor(np.arange(1, 5, dtype=d))),
        "smoothing, weights, K-dim": _cross_entropy(
            (3, 4, 2, 2), lambda d: _classes((3, 2, 2), 4, 5), label_smoothing=0.2,
            weight=lambda d: cr.tensor(np.arange(1, 5, dtype=d))),
        "unbatched": _cross_entropy((4,), lambda d: _classes((), 4, 5)),
    },
    loss.CrossEntropyProb: {
        "mean": _cross_entropy((6, 4), lambda d: _probabilities((6, 4), d, 5)),
        "sum, smoothing": _cross_entropy((6, 4), lambda d: _probabilities((6, 4), d, 5), reduction="sum",
                                         label_smoothing=0.1),
        "none, K-dim, weights": _cross_entropy(
            (3, 4, 5), lambda d: _probabilities((3, 4, 5), d, 5), reduction="none",
            weight=lambda d: cr.tensor(np.arange(1, 5, dtype=d))),
        "constant target": _cross_entropy((6, 4), lambda d: _probabilities((6, 4), d, 5, grad=False)),
    },
    conv.Conv2d: {
        "stride 1, F > C": _conv((2, 3, 7, 6), (5, 3, 3, 3), padding=1),
        "stride 1, F ≤ C (full correlation)": _conv((2, 6, 7, 6), (4, 6, 3, 3), padding=1),
        "stride 1, F ≤ C, no padding, 5×5": _conv((2, 4, 9, 8), (4, 4, 5, 5)),
        "stride 1, F ≤ C, padding beyond the kernel": _conv((2, 4, 5, 5), (2, 4, 3, 3), padding=3),
        "stride 2, padding": _conv((2, 3, 9, 8), (4, 3, 3, 3), stride=2, padding=1),
        "stride (2, 1), F ≤ C": _conv((2, 6, 8, 7), (3, 6, 3, 2), stride=(2, 1)),
        "groups, F ≤ C": _conv((2, 6, 7, 7), (6, 3, 3, 3), padding=1, groups=2),
        "groups, F > C, stride 2": _conv((2, 4, 8, 8), (8, 2, 3, 3), stride=2, groups=2),
        "dilation, F ≤ C": _conv((2, 4, 9, 9), (2, 4, 3, 3), dilation=2, padding=2),
        "dilation, F > C": _conv((2, 2, 9, 9), (4, 2, 3, 3), dilation=(2, 1)),
        "no bias": _conv((2, 3, 6, 6), (4, 3, 3, 3), bias=None),
        "untied bias": _conv((2, 3, 6, 6), (4, 3, 3, 3), bias=lambda d: _leaf((4, 4, 4), d, 3)),
        "weight grad only (no dX)": _conv((3, 1, 8, 8), (6, 1, 5, 5), padding=2, grads=(False, True, True)),
        "input grad only": _conv((2, 6, 6, 6), (3, 6, 3, 3), grads=(True, False, False)),
        "one image": _conv((1, 5, 6, 6), (3, 5, 3, 3), padding=1),
    },
    conv.ConvTranspose2d: {
        "stride 1": _transpose((2, 4, 5, 5), (4, 3, 3, 3)),
        "stride 2, padding, output_padding": _transpose((2, 4, 4, 5), (4, 2, 3, 3), stride=2, padding=1,
                                                        output_padding=1),
        "groups, dilation": _transpose((2, 4, 5, 5), (4, 3, 3, 3), groups=2, dilation=2),
    },
    conv.WeightGrad: {
        "stride 1, padding": _weight_grad((2, 3, 6, 6), (4, 3, 3, 3), padding=1),
        "stride 2, groups": _weight_grad((2, 4, 7, 7), (4, 2, 3, 3), stride=2, groups=2),
    },
    pool.MaxPool2d: {
        "2×2 stride 2": _pool(F.max_pool2d, 2, shape=(2, 3, 8, 8)),
        "2×2 stride 2, odd size": _pool(F.max_pool2d, 2),
        "3×3 stride 2 padding 1 (overlapping)": _pool(F.max_pool2d, 3, 2, 1),
        "2×2 stride 1 (overlapping)": _pool(F.max_pool2d, 2, 1),
        "dilation 2": _pool(F.max_pool2d, 2, 2, 0, 2),
        "ceil_mode, 3×2": _pool(F.max_pool2d, (3, 2), (2, 2), ceil_mode=True),
        "5×5 disjoint (large windows)": _pool(F.max_pool2d, 5, shape=(2, 2, 10, 10)),
        "return_indices": lambda dtype: F.max_pool2d(_leaf((2, 3, 8, 8), dtype, 1), 2, return_indices=True)[0],
    },
    pool.AvgPool2d: {
        "2×2": _pool(F.avg_pool2d, 2),
        "3×2 stride 1": _pool(F.avg_pool2d, (3, 2), 1),
        "padding, count_include_pad=False": _pool(F.avg_pool2d, 3, 2, 1, count_include_pad=False),
        "ceil_mode": _pool(F.avg_pool2d, 2, ceil_mode=True),
        "divisor_override": _pool(F.avg_pool2d, 2, divisor_override=3),
    },
    pool.AdaptiveAvgPool2d: {
        "9×8 → 4×3": _pool(F.adaptive_avg_pool2d, (4, 3)),
        "9×8 → 2×5": _pool(F.adaptive_avg_pool2d, (2, 5)),
    },
    recurrent.RNNCell: {
        "tanh": _recurrent(recurrent.rnn_cell, 1),
        "relu": _recurrent(recurrent.rnn_cell, 1, nonlinearity="relu"),
        "no bias": _recurrent(recurrent.rnn_cell, 1, bias=False),
        "weights only": _recurrent(recurrent.rnn_cell, 1, grads=(False, False, True, True)),
    },
    recurrent.LSTMCell: {
        "bias": _recurrent(recurrent.lstm_cell, 4, states=2),
        "no bias": _recurrent(recurrent.lstm_cell, 4, states=2, bias=False),
        "states only": _recurrent(recurrent.lstm_cell, 4, states=2, grads=(False, True, True, False, False)),
    },
    recurrent.GRUCell: {
        "bias": _recurrent(recurrent.gru_cell, 3),
        "no bias": _recurrent(recurrent.gru_cell, 3, bias=False),
    },
    recurrent.RNNSequence: {
        "tanh": _recurrent(recurrent.rnn_sequence, 1, length=4),
        "relu, reverse": _recurrent(recurrent.rnn_sequence, 1, length=4, nonlinearity="relu", reverse=True),
        "no bias, one step": _recurrent(recurrent.rnn_sequence, 1, length=1, bias=False),
    },
    recurrent.LSTMSequence: {
        "forward": _recurrent(recurrent.lstm_sequence, 4, states=2, length=4),
        "reverse, no bias": _recurrent(recurrent.lstm_sequence, 4, states=2, length=3, bias=False, reverse=True),
        "input only": _recurrent(recurrent.lstm_sequence, 4, states=2, length=3,
                                 grads=(True, False, False, False, False)),
    },
    recurrent.GRUSequence: {
        "forward": _recurrent(recurrent.gru_sequence, 3, length=4),
        "reverse": _recurrent(recurrent.gru_sequence, 3, length=4, reverse=True),
        "no bias, weights only": _recurrent(recurrent.gru_sequence, 3, length=3, bias=False,
                                            grads=(False, False, True)),
    },
}


def _product(fn, zeros=()) -> Builder:
    """prod or cumprod along the last dim of a (3, 5) leaf with zeros planted at the flat positions ``zeros`` (both
    rules take another algorithm where x has zeros)."""
    def build(dtype):
        a = np.random.default_rng(3).standard_normal((3, 5)).astype(dtype)
        a.reshape(-1)[list(zeros)] = 0
        return fn(cr.tensor(a, requires_grad=True))
    return build


FAST_ROUTE_CASES[products.Prod] = {
    "no zeros": _product(lambda x: cr.prod(x, 1)), "one zero": _product(lambda x: cr.prod(x, 1), (2,)),
    "two zeros in a row": _product(lambda x: cr.prod(x, 1), (1, 3)), "all, dim 0": _product(lambda x: cr.prod(x, 0)),
}
FAST_ROUTE_CASES[products.Cumprod] = {
    "no zeros": _product(lambda x: cr.cumprod(x, 1)), "one zero": _product(lambda x: cr.cumprod(x, 1), (2,)),
    "zeros": _product(lambda x: cr.cumprod(x, 1), (0, 3, 7)), "dim 0": _product(lambda x: cr.cumprod(x, 0), (4,)),
}



def _along(cls, dim, index, size):
    """IndexSelect (positions ``index`` of a dim of ``size``) or its adjoint ScatterAdd (``index`` into a dim of
    ``size`` from a dim of len(index)), on a (2, m, 3) leaf with the chosen dim in the middle or last."""
    def build(dtype):
        n = size if cls is select_along.IndexSelect else len(index)
        shape = (2, n, 3) if dim == 1 else (2, 3, n)
        return cls(dim, np.asarray(index, dtype=np.int64), size)(_leaf(shape, dtype, 11))
    return build


REPEATS = [0, 2, 2, 1, 0, 3]  # repeated positions: the scatter adds several slices into one
FAST_ROUTE_CASES[select_along.IndexSelect] = {
    "dim 1, repeats": _along(select_along.IndexSelect, 1, REPEATS, 4),
    "last dim, repeats": _along(select_along.IndexSelect, 2, REPEATS, 5),
    "a dim past the GEMM size": _along(select_along.IndexSelect, 2, list(range(0, 600, 2)) + [0, 0], 600),
}
FAST_ROUTE_CASES[select_along.ScatterAdd] = {
    "dim 1": _along(select_along.ScatterAdd, 1, REPEATS, 4),
    "last dim": _along(select_along.ScatterAdd, 2, REPEATS, 5),
}

# Fast routes that do the reference's arithmetic in the same order: held equal bit for bit. The others (a
# different algorithm, or the same products in another order) are held to within a few units of rounding.
EXACT: set[type[Function]] = {
    broadcast.Add, elementwise.Sub, elementwise.Mul, elementwise.Div,
    activation.Tanh, activation.ReLU, linalg.Linear, loss.CrossEntropyIndex, loss.CrossEntropyProb,
    conv.ConvTranspose2d, conv.WeightGrad, pool.MaxPool2d, pool.AvgPool2d, pool.AdaptiveAvgPool2d,
}


def _library_functions() -> list[type[Function]]:
    """Every Function subclass defined by chainrule, after importing every module of chainrule.ops."""
    for module in pkgutil.walk_packages(chainrule.ops.__path__, "chainrule.ops."):
        importlib.import_module(module.name)
    found: list[type[Function]] = []
    stack = [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                stack.append(sub)
    return [cls for cls in found if cls.__module__.startswith("chainrule.")]


FAST_ROUTES = sorted((cls for cls in _library_functions() if cls.has_fast_backward()),
                     key=lambda cls: (cls.__module__, cls.__name__))
PARAMS = [
    pytest.param(cls, name, dtype, id=f"{cls.__name__}-{name}-{np.dtype(dtype).name}")
    for cls in FAST_ROUTES for name in FAST_ROUTE_CASES.get(cls, {}) for dtype in DTYPES
]


def test_every_fast_route_has_cases():
    assert len(FAST_ROUTES) >= 12  # the introspection sees the library's fast routes, not an empty list
    missing = [f"{cls.__module__}.{cls.__name__}" for cls in FAST_ROUTES if not FAST_ROUTE_CASES.get(cls)]
    assert not missing, f"fast routes without cases in FAST_ROUTE_CASES: {missing}"
    stale = [cls.__name__ for cls in FAST_ROUTE_CASES if not cls.has_fast_backward()]
    assert not stale, f"FAST_ROUTE_CASES lists classes without a fast route: {stale}"


def _node(root: cr.Tensor, cls: type[Function]) -> Function:
    """The node of type ``cls`` nearest to ``root`` in its graph."""
    queue, seen = [root.creator], set()
    while queue:
        fn = queue.pop(0)
        if fn is None or id(fn) in seen:
            continue
        if type(fn) is cls:
            return fn
        seen.add(id(fn))
        queue.extend(x.creator for x in fn.inputs)
    raise AssertionError(f"the case built no {cls.__name__} node")


def _tolerance(dtype: type) -> float:
    """Relative to the gradient's largest magnitude: a few units of rounding."""
    return 1e-6 if dtype == np.float32 else 1e-14


@pytest.mark.parametrize("cls, name, dtype", PARAMS)
def test_fast_route_equals_backward(cls, name, dtype):
    root = FAST_ROUTE_CASES[cls][name](dtype)
    fn = _node(root, cls)
    rng = np.random.default_rng(7)
    gys = [rng.standard_normal(shape).astype(out_dtype) for shape, out_dtype in fn.output_specs]
    with cr.enable_grad():
        reference = fn.backward(*[cr.Tensor(g) for g in gys])
    with cr.no_grad():
        fast = fn.fast_backward(*[g.copy() for g in gys])
    reference = reference if isinstance(reference, tuple) else (reference,)
    fast = fast if isinstance(fast, tuple) else (fast,)
    assert len(fast) == len(reference) == len(fn.inputs)
    checked = 0
    for i, (x, ref, got, needed) in enumerate(zip(fn.inputs, reference, fast, fn.needs_input_grad)):
        if not needed:
            continue
        assert (ref is None) == (got is None), f"input {i}: one route gives a gradient, the other none"
        if ref is None:
            continue
        assert isinstance(ref, cr.Tensor) and isinstance(got, np.ndarray), f"input {i}: {type(ref)}, {type(got)}"
        if fn.broadcasts:  # both routes give the broadcast shape; run_backward sums them back to the input's
            ref, got = broadcast.sum_to(ref, x.shape), broadcast.sum_to(cr.Tensor(got), x.shape).numpy()
        assert got.shape == ref.shape == x.shape, f"input {i}: shapes {got.shape}, {ref.shape}, input {x.shape}"
        assert got.dtype == ref.dtype == x.dtype, f"input {i}: dtypes {got.dtype}, {ref.dtype}, input {x.dtype}"
        if cls in EXACT:
            np.testing.assert_array_equal(got, ref.numpy(), err_msg=f"{cls.__name__} {name}: input {i}")
            checked += 1
            continue
        scale = max(float(np.abs(ref.numpy()).max(initial=0.0)), 1.0)
        np.testing.assert_allclose(got, ref.numpy(), rtol=_tolerance(dtype), atol=_tolerance(dtype) * scale,
                                   err_msg=f"{cls.__name__} {name}: input {i}")
        checked += 1
    assert checked, "the case asked for no gradient"


# ----- the engine's choice of route ---------------------------------------------------------------------


class _Twice(Function):
    """y = 2x, whose fast route gives a value that differs on purpose, so that the route taken is visible."""
    uses_inputs = False

    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        return gy * 2.0

    def fast_backward(self, gy):
        return gy * gy.dtype.type(3)  # wrong on purpose: marks the fast route


class _FastReturns(Function):
    """A Function whose fast route returns whatever the test puts in ``fast_result``."""

    def __init__(self, fast_result):
        self.fast_result = fast_result

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy

    def fast_backward(self, gy):
        return self.fast_result


def _twice_grad(**kwargs) -> float:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (g,) = cr.grad(_Twice()(x).sum(), [x], **kwargs)
    return float(g.numpy()[0])


def test_engine_takes_the_fast_route_when_no_graph_is_recorded():
    assert _twice_grad() == 3.0


def test_engine_takes_backward_with_create_graph():
    assert _twice_grad(create_graph=True) == 2.0


def test_engine_takes_backward_in_anomaly_mode():
    with cr.detect_anomaly():
        assert _twice_grad() == 2.0


def test_has_fast_backward_tells_the_classes_apart():
    assert _Twice.has_fast_backward() and activation.Tanh.has_fast_backward()
    assert not activation.Softmax.has_fast_backward() and not Function.has_fast_backward()


def test_a_fast_route_returning_a_tensor_is_refused_by_name():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = _FastReturns(cr.tensor([1.0, 1.0]))(x)
    with pytest.raises(BackwardError, match=r"_FastReturns.fast_backward returned a Tensor for input 0; expected"):
        y.sum().backward()


def test_a_fast_route_of_the_wrong_shape_is_refused_by_name():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = _FastReturns(np.ones(3))(x)
    with pytest.raises(BackwardError, match=r"_FastReturns.fast_backward returned a gradient of shape \(3,\)"):
        y.sum().backward()


def test_a_fast_route_receives_zeros_for_an_unused_output():
    class Split(Function):
        uses_inputs = False

        def forward(self, x):
            return x[:1].copy(), x[1:].copy()

        def backward(self, g0, g1):
            raise AssertionError("the fast route should run")

        def fast_backward(self, g0, g1):
            assert isinstance(g1, np.ndarray) and g1.shape == (1,) and g1[0] == 0
            return np.concatenate([g0, g1])

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    first, _ = Split()(x)
    first.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0])


def test_records_says_whether_a_call_adds_a_node():
    x, c = cr.tensor([1.0], requires_grad=True), cr.tensor([1.0])
    assert Function.records((x, c)) and not Function.records((c,))
    with cr.no_grad():
        assert not Function.records((x,))
