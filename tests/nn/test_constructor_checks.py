"""Layer constructors and recurrent layers refuse what PyTorch refuses, with chainrule's error naming the argument.

Each row of the tables is a ``refusals.Case``: the same call in chainrule and in PyTorch, and the expected
outcome (both refuse, both accept, or chainrule stricter for the reason given).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from refusals import ACCEPT, REFUSE, STRICTER, Case, check

import chainrule as cr
from chainrule import nn
from chainrule.errors import ArgumentError, ArgumentTypeError, ResourceError, ShapeError
from chainrule.ops.recurrent import gru_sequence, lstm_sequence, rnn_sequence

tnn = torch.nn
X = torch.ones(1, 1, 5, 5)


def _both(name: str, *args, use=None, **kwargs) -> tuple:
    """(chainrule call, PyTorch call) building layer ``name``; ``use``, if given, also runs PyTorch's layer on it
    (PyTorch refuses some arguments only at the first forward)."""
    ours = lambda: getattr(nn, name)(*args, **kwargs)  # noqa: E731 - a table of small calls
    theirs = (lambda: getattr(tnn, name)(*args, **kwargs)) if use is None else \
        (lambda: getattr(tnn, name)(*args, **kwargs)(use))
    return ours, theirs


def _case(label: str, name: str, args: tuple, kwargs: dict, expect: str, arg: str = "", use=None, why: str = "",
          error=None) -> Case:
    ours, theirs = _both(name, *args, use=use, **kwargs)
    extra = {"error": error} if error is not None else {}
    return Case(label, ours, theirs, expect, (name, arg) if arg else (), why, **extra)


LAYERS = [
    # ----- Conv2d / ConvTranspose2d
    _case("conv kernel 0", "Conv2d", (1, 1, 0), {}, REFUSE, "kernel_size", use=X),
    _case("conv kernel (3, 0)", "Conv2d", (1, 1, (3, 0)), {}, REFUSE, "kernel_size", use=X),
    _case("conv kernel -1", "Conv2d", (1, 1, -1), {}, REFUSE, "kernel_size"),
    _case("conv kernel 3.0", "Conv2d", (1, 1, 3.0), {}, REFUSE, "kernel_size", error=ArgumentTypeError),
    _case("conv kernel of 3 dims", "Conv2d", (1, 1, (1, 2, 3)), {}, REFUSE, "kernel_size", use=X),
    _case("conv kernel of 1 dim", "Conv2d", (1, 1, (3,)), {}, REFUSE, "kernel_size", use=X),
    _case("conv in_channels 2.0", "Conv2d", (2.0, 1, 3), {}, REFUSE, "in_channels", error=ArgumentTypeError),
    _case("conv out_channels 0", "Conv2d", (1, 0, 3), {}, REFUSE, "out_channels", use=X),
    _case("conv out_channels -1", "Conv2d", (1, -1, 3), {}, REFUSE, "out_channels"),
    _case("conv in_channels 0", "Conv2d", (0, 1, 3), {}, STRICTER, "in_channels", use=torch.ones(1, 0, 5, 5),
          why="a convolution of no input channels outputs its bias alone: a mistyped size, not a model"),
    _case("conv groups not dividing in_channels", "Conv2d", (3, 4, 3), {"groups": 2}, REFUSE, "in_channels"),
    _case("conv groups not dividing out_channels", "Conv2d", (4, 3, 3), {"groups": 2}, REFUSE, "out_channels"),
    _case("conv groups 0", "Conv2d", (1, 1, 3), {"groups": 0}, REFUSE, "groups"),
    _case("conv padding -1", "Conv2d", (1, 1, 3), {"padding": -1}, REFUSE, "padding", use=X),
    _case("conv padding (1, -1)", "Conv2d", (1, 1, 3), {"padding": (1, -1)}, REFUSE, "padding", use=X),
    _case("conv stride 0", "Conv2d", (1, 1, 3), {"stride": 0}, REFUSE, "stride", use=X),
    _case("conv stride -1", "Conv2d", (1, 1, 3), {"stride": -1}, REFUSE, "stride", use=X),
    _case("conv dilation 0", "Conv2d", (1, 1, 3), {"dilation": 0}, REFUSE, "dilation", use=X),
    _case("conv padding 'full'", "Conv2d", (1, 1, 3), {"padding": "full"}, REFUSE, "padding"),
    _case("conv padding 'same' strided", "Conv2d", (1, 1, 3), {"padding": "same", "stride": 2}, REFUSE, "padding"),
    _case("conv padding_mode 'mirror'", "Conv2d", (1, 1, 3), {"padding_mode": "mirror"}, REFUSE, "padding_mode"),
    _case("conv sizes beyond memory", "Conv2d", (10**6, 10**6, 1000), {}, REFUSE, "(1000000, 1000000, 1000, 1000)",
          error=ResourceError),
    _case("conv transpose kernel 0", "ConvTranspose2d", (1, 1, 0), {}, REFUSE, "kernel_size", use=X),
    _case("conv transpose output_padding ≥ stride", "ConvTranspose2d", (1, 1, 3), {"output_padding": 1}, REFUSE,
          "output_padding", use=X),
    _case("conv transpose padding -1", "ConvTranspose2d", (1, 1, 3), {"padding": -1}, REFUSE, "padding", use=X),
    _case("conv transpose padding_mode", "ConvTranspose2d", (1, 1, 3), {"padding_mode": "reflect"}, REFUSE,
          "padding_mode"),
    _case("conv valid", "Conv2d", (1, 1, 3), {"padding": "valid"}, ACCEPT, use=X),
    _case("conv same", "Conv2d", (1, 1, 3), {"padding": "same"}, ACCEPT, use=X),
    _case("conv groups", "Conv2d", (2, 4, 3), {"groups": 2}, ACCEPT),
    _case("conv pairs", "Conv2d", (1, 1, (1, 3)), {"stride": (2, 1), "padding": (0, 1), "dilation": (1, 2)}, ACCEPT,
          use=X),
    _case("conv transpose output_padding < stride", "ConvTranspose2d", (1, 1, 3),
          {"stride": 2, "output_padding": 1}, ACCEPT, use=X),
    _case("conv transpose output_padding < dilation", "ConvTranspose2d", (1, 1, 3),
          {"dilation": 2, "output_padding": 1}, ACCEPT, use=X),
    # ----- BatchNorm / LayerNorm
    _case("batchnorm eps 0", "BatchNorm2d", (1,), {"eps": 0}, REFUSE, "eps", use=torch.ones(2, 1, 2, 2)),
    _case("batchnorm eps -1", "BatchNorm2d", (1,), {"eps": -1}, REFUSE, "eps", use=torch.ones(2, 1, 2, 2)),
    _case("batchnorm eps nan", "BatchNorm2d", (1,), {"eps": float("nan")}, STRICTER, "eps",
          use=torch.ones(2, 1, 2, 2), why="a NaN eps makes every output NaN, silently"),
    _case("batchnorm1d eps 0", "BatchNorm1d", (3,), {"eps": 0.0}, REFUSE, "eps", use=torch.ones(2, 3)),
    _case("batchnorm num_features 0", "BatchNorm2d", (0,), {}, REFUSE, "num_features", use=torch.ones(2, 0, 2, 2)),
    _case("batchnorm num_features -1", "BatchNorm2d", (-1,), {}, REFUSE, "num_features"),
    _case("batchnorm num_features 2.0", "BatchNorm2d", (2.0,), {}, REFUSE, "num_features", error=ArgumentTypeError),
    _case("batchnorm momentum 2", "BatchNorm2d", (1,), {"momentum": 2}, STRICTER, "momentum",
          use=torch.randn(2, 1, 2, 2), why="momentum > 1 extrapolates the running statistics past the batch's"),
    _case("batchnorm momentum -0.1", "BatchNorm2d", (1,), {"momentum": -0.1}, STRICTER, "momentum",
          use=torch.randn(2, 1, 2, 2), why="a negative momentum moves the running statistics away from the batch's"),
    _case("batchnorm momentum None", "BatchNorm2d", (1,), {"momentum": None}, ACCEPT, use=torch.randn(2, 1, 2, 2)),
    _case("batchnorm momentum 0 and 1", "BatchNorm1d", (3,), {"momentum": 1}, ACCEPT, use=torch.randn(2, 3)),
    _case("batchnorm eps small", "BatchNorm1d", (3,), {"eps": 1e-12}, ACCEPT, use=torch.randn(2, 3)),
    _case("layernorm shape -1", "LayerNorm", (-1,), {}, REFUSE, "normalized_shape"),
    _case("layernorm shape 0", "LayerNorm", (0,), {}, ACCEPT),
    _case("layernorm eps 0", "LayerNorm", (3,), {"eps": 0}, ACCEPT),
    _case("layernorm eps -1", "LayerNorm", (3,), {"eps": -1.0}, STRICTER, "eps", use=torch.zeros(2, 3),
          why="var + eps < 0 makes the square root NaN, silently"),
    # ----- Linear, Embedding, Dropout
    _case("linear in -1", "Linear", (-1, 3), {}, REFUSE, "in_features"),
    _case("linear out -1", "Linear", (3, -1), {}, REFUSE, "out_features"),
    _case("linear in 2.5", "Linear", (2.5, 3), {}, REFUSE, "in_features", error=ArgumentTypeError),
    _case("linear beyond memory", "Linear", (10**9, 10**9), {}, REFUSE, "(1000000000, 1000000000)",
          error=ResourceError),
    _case("linear 0 features", "Linear", (0, 3), {}, ACCEPT, use=torch.ones(2, 0)),
    _case("embedding -1 rows", "Embedding", (-1, 3), {}, REFUSE, "num_embeddings"),
    _case("embedding dim -1", "Embedding", (3, -1), {}, REFUSE, "embedding_dim"),
    _case("embedding padding_idx 5", "Embedding", (3, 2), {"padding_idx": 5}, REFUSE, "padding_idx"),
    _case("embedding padding_idx -1", "Embedding", (3, 2), {"padding_idx": -1}, ACCEPT),
    _case("embedding 0 rows", "Embedding", (0, 3), {}, ACCEPT),
    _case("dropout 1.5", "Dropout", (1.5,), {}, REFUSE, "'p'"),
    _case("dropout -0.1", "Dropout", (-0.1,), {}, REFUSE, "'p'"),
    _case("dropout '0.5'", "Dropout", ("0.5",), {}, REFUSE, "'p'", error=ArgumentTypeError),
    _case("dropout nan", "Dropout", (float("nan"),), {}, REFUSE, "'p'", use=torch.ones(3)),
    _case("dropout 0 and 1", "Dropout", (1,), {}, ACCEPT, use=torch.ones(3)),
]

# ----- recurrent layers and cells: construction
RECURRENT = []
for _name in ("RNN", "LSTM", "GRU"):
    RECURRENT += [
        _case(f"{_name} hidden_size 0", _name, (3, 0), {}, REFUSE, "hidden_size"),
        _case(f"{_name} hidden_size -1", _name, (3, -1), {}, REFUSE, "hidden_size"),
        _case(f"{_name} hidden_size 2.0", _name, (3, 2.0), {}, REFUSE, "hidden_size", error=ArgumentTypeError),
        _case(f"{_name} input_size 0", _name, (0, 2), {}, REFUSE, "input_size"),
        _case(f"{_name} num_layers 0", _name, (3, 2), {"num_layers": 0}, REFUSE, "num_layers"),
        _case(f"{_name} num_layers 2.0", _name, (3, 2), {"num_layers": 2.0}, REFUSE, "num_layers",
              error=ArgumentTypeError),
        _case(f"{_name} dropout 1.5", _name, (3, 2), {"dropout": 1.5}, REFUSE, "dropout"),
        _case(f"{_name} dropout -0.1", _name, (3, 2), {"dropout": -0.1}, REFUSE, "dropout"),
        _case(f"{_name} dropout True", _name, (3, 2), {"dropout": True}, REFUSE, "dropout"),
        _case(f"{_name} dropout 1", _name, (3, 2), {"num_layers": 2, "dropout": 1.0}, ACCEPT,
              use=torch.ones(4, 2, 3)),
        _case(f"{_name} beyond memory", _name, (10**9, 10**9), {}, REFUSE, "(", error=ResourceError),
        _case(f"{_name}Cell hidden_size -1", f"{_name}Cell", (3, -1), {}, REFUSE, "hidden_size"),
        _case(f"{_name}Cell input_size -1", f"{_name}Cell", (-1, 2), {}, REFUSE, "input_size"),
        _case(f"{_name}Cell hidden_size 0", f"{_name}Cell", (3, 0), {}, ACCEPT, use=torch.ones(2, 3)),
        _case(f"{_name}Cell input_size 0", f"{_name}Cell", (0, 2), {}, ACCEPT, use=torch.ones(2, 0)),
    ]
RECURRENT += [
    _case("RNN nonlinearity", "RNN", (3, 2), {"nonlinearity": "sigmoid"}, REFUSE, "nonlinearity"),
    _case("RNNCell nonlinearity", "RNNCell", (3, 2), {"nonlinearity": "sigmoid"}, REFUSE, "nonlinearity",
          use=torch.ones(2, 3)),
]


def _forward(name: str, shape: tuple, states=None, batch_first: bool = False, error=ShapeError, arg: str = "input",
             expect: str = REFUSE) -> Case:
    """A case that runs layer ``name`` (3 → 2 features) on ``shape``, with ``states`` (shapes) if given."""
    def make(lib, module):
        def call():
            layer = getattr(module, name)(3, 2, batch_first=batch_first) if "Cell" not in name else \
                getattr(module, name)(3, 2)
            x = lib.zeros(*shape)
            if states is None:
                return layer(x)
            hx = tuple(lib.zeros(*s) for s in states)
            return layer(x, hx if len(hx) == 2 else hx[0])
        return call
    label = f"{name} on {shape}" + (f" with states {states}" if states else "")
    label += " batch_first" if batch_first else ""
    return Case(label, make(cr, nn), make(torch, tnn), expect, (name, arg) if expect != ACCEPT else (), "", error)


FORWARD = []
for _name in ("RNN", "LSTM", "GRU"):
    FORWARD += [
        _forward(_name, (0, 2, 3)),  # a sequence of length 0
        _forward(_name, (2, 0, 3), batch_first=True),
        _forward(_name, (0, 3)),  # unbatched
        _forward(_name, (1, 2, 3, 3)),
        _forward(_name, (3,)),
        _forward(_name, (4, 2, 5)),
        _forward(_name, (4, 0, 3), expect=ACCEPT),  # an empty batch
        _forward(_name, (4, 2, 3), expect=ACCEPT),
        _forward(f"{_name}Cell", (1, 2, 3)),
        _forward(f"{_name}Cell", (2, 4)),
        _forward(f"{_name}Cell", (0, 3), expect=ACCEPT),
    ]
FORWARD += [
    _forward("RNN", (4, 2, 3), [(1, 3, 2)], arg="h_0"),
    _forward("GRU", (4, 2, 3), [(2, 2, 2)], arg="h_0"),
    _forward("LSTM", (4, 2, 3), [(1, 3, 2), (1, 2, 2)], arg="h_0"),
    _forward("LSTM", (4, 2, 3), [(1, 2, 2), (1, 2, 3)], arg="c_0"),
    _forward("LSTM", (4, 2, 3), [(1, 2, 2)], arg="hx", error=ArgumentTypeError),
    _forward("LSTM", (4, 2, 3), [(1, 2, 2), (1, 2, 2)], expect=ACCEPT),
    _forward("GRUCell", (2, 3), [(3, 2)], arg="hx"),
    _forward("LSTMCell", (2, 3), [(2, 2), (2, 3)], arg="cx"),
]


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")  # PyTorch's warning, which chainrule keeps
@pytest.mark.parametrize("case", LAYERS + RECURRENT + FORWARD, ids=lambda c: c.label)
def test_layers_refuse_what_torch_refuses(case):
    check(case)


def test_the_tables_cover_every_outcome():
    outcomes = {c.expect for c in LAYERS + RECURRENT + FORWARD}
    assert outcomes == {REFUSE, ACCEPT, STRICTER}
    assert sum(c.expect == REFUSE for c in LAYERS + RECURRENT + FORWARD) > 80


def test_messages_say_what_came_and_how_to_fix():
    with pytest.raises(ArgumentError) as info:
        nn.Conv2d(1, 0, 3)
    assert str(info.value) == "Conv2d: argument 'out_channels' must be ≥ 1, got 0; hint: out_channels is a count, " \
        "pass an int ≥ 1"
    with pytest.raises(ArgumentError, match=r"BatchNorm2d: argument 'eps' must be > 0, got 0; hint: eps keeps"):
        nn.BatchNorm2d(3, eps=0)
    with pytest.raises(ShapeError, match=r"LSTM: argument 'input' holds a sequence of length 0 \(shape \(0, 2, 3\)\)"):
        nn.LSTM(3, 2)(cr.zeros(0, 2, 3))


@pytest.mark.parametrize("sequence,gates,states", [(rnn_sequence, 1, 1), (lstm_sequence, 4, 2), (gru_sequence, 3, 1)])
def test_sequence_functions_refuse_a_zero_length_sequence(sequence, gates, states):
    hidden, batch = 2, 3
    w_hh = cr.zeros(gates * hidden, hidden)
    h = [cr.zeros(batch, hidden)] * states
    with pytest.raises(ShapeError, match=rf"{sequence.__name__}: argument 'xw' holds a sequence of length 0"):
        sequence(cr.zeros(0, batch, gates * hidden), *h, w_hh, None)
    with pytest.raises(ShapeError, match=rf"{sequence.__name__}: argument 'h0' must have shape \(3, 2\)"):
        sequence(cr.zeros(4, batch, gates * hidden), cr.zeros(batch + 1, hidden), *h[1:], w_hh, None)
    with pytest.raises(ShapeError, match=rf"{sequence.__name__}: argument 'w_hh' must have shape"):
        sequence(cr.zeros(4, batch, gates * hidden), *h, cr.zeros(hidden, hidden + 1), None)
    out = sequence(cr.zeros(4, batch, gates * hidden), *h, w_hh, cr.zeros(gates * hidden))
    assert out[0].shape == (4, batch, hidden)


def test_zero_size_cells_run_as_torch():
    """PyTorch builds cells with no hidden units or no inputs; chainrule computes the same (empty or bias-only)."""
    cell, theirs = nn.LSTMCell(0, 2), tnn.LSTMCell(0, 2)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in cell.state_dict().items()})
    h, c = cell(cr.zeros(3, 0))  # no input: the gates see the biases and the state alone
    h_t, c_t = theirs(torch.zeros(3, 0))
    np.testing.assert_allclose(h.numpy(), h_t.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(c.numpy(), c_t.detach().numpy(), rtol=1e-6)
    assert np.abs(c.numpy()).min() > 0  # not a zero by accident
    assert nn.GRUCell(3, 0)(cr.ones(2, 3)).shape == (2, 0)
