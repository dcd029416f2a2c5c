"""The recurrent time loops' compiled kernels (chainrule.compiled.recurrent) against their NumPy references.

The kernels do the references' arithmetic in the same order and leave exp and tanh to the same NumPy ufuncs, so
the two routes are held equal bit for bit: outputs, final states and every gradient, in float32 and float64,
with and without bias, in both directions, with an odd hidden size, non-contiguous inputs and pre-activations
far beyond the range where e^−x overflows. One exception: the float32 LSTM forward runs a whole step in one
compiled pass with its own tanh (a rational approximation, σ from tanh), which differs from NumPy's exp and tanh
by a few units in the last place; its values, and the gradients that BPTT takes from them, are held to
``F32_LSTM`` (relative, absolute), about 100 float32 units of rounding after the steps' accumulation.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
import torch
from helpers import noncontiguous, rng

import chainrule as cr
from chainrule import compiled, nn
from chainrule.ops import recurrent as rc

KERNELS_OFF = "the compiled kernels are off (Numba not installed, or CHAINRULE_COMPILED=0)"
SEQUENCES = {"lstm": (rc.lstm_sequence, 4, 2), "gru": (rc.gru_sequence, 3, 1)}  # function, gate blocks, states
F32_LSTM = (1e-5, 2e-6)


def _assert_routes_agree(name, dtype, fast, reference):
    """Bit for bit, except the float32 LSTM's own tanh (see the module's docstring)."""
    for a, e in zip(fast, reference):
        assert a.dtype == dtype
        if name == "lstm" and dtype == np.float32:
            np.testing.assert_allclose(a, e, rtol=F32_LSTM[0], atol=F32_LSTM[1])
        else:
            np.testing.assert_array_equal(a, e)


def _inputs(name, dtype, bias, length=5, batch=3, hidden=7, scale=3.0, layout=np.ascontiguousarray, seed=0):
    """Leaves (xw, state(s), W_hh, [b_hh]) of a sequence function; ``scale`` spreads the pre-activations."""
    _, gates, states = SEQUENCES[name]
    r = rng(seed)

    def leaf(shape, s=1.0):
        return cr.tensor(layout((r.standard_normal(shape) * s).astype(dtype)), requires_grad=True)

    leaves = [leaf((length, batch, gates * hidden), scale)] + [leaf((batch, hidden)) for _ in range(states)]
    leaves.append(leaf((gates * hidden, hidden), 0.5))
    return leaves + ([leaf((gates * hidden,))] if bias else [])


def _run(name, leaves, reverse, use_compiled, upstream="random", compiled_backward=None):
    """Outputs and the gradients of every leaf, with the kernels on or off (``compiled_backward``: switch them
    for the backward pass alone)."""
    fn, _, states = SEQUENCES[name]
    bias = len(leaves) == 3 + states  # xw, the states, W_hh, then b_hh when there is one
    on = contextlib.nullcontext
    with on() if use_compiled else compiled.disabled():
        outs = fn(*leaves[:2 + states], leaves[2 + states] if bias else None, reverse=reverse)
    if upstream == "random":
        r = rng(9)
        weights = [cr.tensor(r.standard_normal(o.shape).astype(o.dtype)) for o in outs]
        loss = sum(((o * w).sum() for o, w in zip(outs, weights)), cr.tensor(np.zeros((), outs[0].dtype)))
    else:  # the output sequence only, summed: its upstream gradient is a broadcast (read-only, zero strides)
        loss = outs[0].sum()
    backward_on = use_compiled if compiled_backward is None else compiled_backward
    with on() if backward_on else compiled.disabled():
        grads = cr.grad([loss], leaves)
    return [o.numpy() for o in outs] + [g.numpy() for g in grads]


@pytest.fixture
def kernels():
    if not compiled.enabled():
        pytest.skip(KERNELS_OFF)


@pytest.mark.parametrize("name", SEQUENCES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
def test_compiled_time_loop_equals_the_numpy_reference(name, dtype, bias, reverse, kernels):
    leaves = _inputs(name, dtype, bias)
    _assert_routes_agree(name, dtype, _run(name, leaves, reverse, True), _run(name, leaves, reverse, False))


@pytest.mark.parametrize("name", SEQUENCES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_time_loop_on_extreme_and_noncontiguous_inputs(name, dtype, kernels):
    """Pre-activations up to ±hundreds (e^−x overflows to inf: σ = 0 exactly, with no warning), non-contiguous
    arrays, a broadcast upstream gradient, a batch of one and a single step: still the reference's results."""
    for shape, scale in (((4, 3, 5), 300.0), ((1, 1, 3), 1.0), ((3, 1, 4), 50.0)):
        length, batch, hidden = shape
        leaves = _inputs(name, dtype, True, length, batch, hidden, scale, noncontiguous, seed=hidden)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fast = _run(name, leaves, False, True, upstream="sum")
        assert all(np.isfinite(a).all() for a in fast)
        _assert_routes_agree(name, dtype, fast, _run(name, leaves, False, False, upstream="sum"))


@pytest.mark.parametrize("name", SEQUENCES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("compiled_forward", [True, False])
def test_backward_follows_the_forward_route_when_the_kernels_are_switched_in_between(name, dtype, compiled_forward,
                                                                                     kernels):
    """Gates saved by either forward route feed either backward route, which give the same bits."""
    leaves = _inputs(name, dtype, True)
    mixed = _run(name, leaves, True, compiled_forward, compiled_backward=not compiled_forward)
    for a, e in zip(mixed, _run(name, leaves, True, compiled_forward)):
        np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("use_compiled", [True, False])
def test_layer_on_each_route_matches_torch_in_float32(mode, use_compiled):
    """The benchmark's shape of work at a smaller size, float32 in and out, against PyTorch's layer."""
    if use_compiled and not compiled.enabled():
        pytest.skip(KERNELS_OFF)
    torch.manual_seed(0)
    tm = getattr(torch.nn, mode)(6, 9, num_layers=2, bidirectional=True)
    cm = getattr(nn, mode)(6, 9, num_layers=2, bidirectional=True)
    cm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x0 = rng(5).standard_normal((7, 4, 6)).astype(np.float32)
    go = rng(6).standard_normal((7, 4, 18)).astype(np.float32)
    with contextlib.nullcontext() if use_compiled else compiled.disabled():
        x = cr.tensor(x0, requires_grad=True)
        out = cm(x)[0]
        out.backward(cr.tensor(go))
    xt = torch.tensor(x0, requires_grad=True)
    tout = tm(xt)[0]
    tout.backward(torch.tensor(go))
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (n, p), (_, tp) in zip(cm.named_parameters(), tm.named_parameters()):
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=n)


@pytest.mark.parametrize("name", SEQUENCES)
def test_the_kernels_run_when_on_and_the_reference_when_off(name, kernels):
    """The comparisons above compare two different routes: the compiled one saves its gates as whole arrays."""
    leaves = _inputs(name, np.float32, True)
    fn, _, states = SEQUENCES[name]
    for use_compiled in (True, False):
        with contextlib.nullcontext() if use_compiled else compiled.disabled():
            node = fn(*leaves[:2 + states], leaves[2 + states])[0].creator
        assert (node.gate_arrays is not None) == use_compiled


def test_buffers_hand_out_an_array_again_only_once_nothing_refers_to_it():
    buffers = rc._Buffers(limit=3)
    a = buffers.take((3, 4), np.float32)
    ident, view = id(a), a[1:]
    assert buffers.take((3, 4), np.float32) is not a  # still referred to (by a, and by a view)
    del a
    assert id(buffers.take((3, 4), np.float32)) != ident  # the view still refers to it
    view.base.flags.writeable = False  # as a graph leaves the arrays it saved
    del view
    assert id(buffers.take((3, 4), np.float64)) != ident  # another dtype
    again = buffers.take((3, 4), np.float32)
    assert id(again) == ident and again.flags.writeable
    buffers.take((5,), np.float32)
    assert len(buffers.arrays) == 3 and buffers.arrays[-1].shape == (5,)  # the limit: the oldest one dropped


@pytest.mark.parametrize("name", SEQUENCES)
def test_outputs_and_gradients_a_caller_keeps_survive_the_next_training_steps(name):
    """The time loops reuse their large arrays from one call to the next; what a caller still holds (outputs,
    gradients) keeps its values while later steps run."""
    kept, copies = [], []
    for seed in range(3):
        leaves = _inputs(name, np.float32, True, seed=seed)
        outs = SEQUENCES[name][0](*leaves[:-1], leaves[-1])
        (outs[0] * outs[0]).sum().backward()
        kept.append([outs[0].numpy(), leaves[0].grad.numpy()])
        copies.append([a.copy() for a in kept[-1]])
    for arrays, expected in zip(kept, copies):
        for a, e in zip(arrays, expected):
            np.testing.assert_array_equal(a, e)
