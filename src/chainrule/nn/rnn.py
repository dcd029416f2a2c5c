"""Recurrent layers: RNN (tanh or relu), LSTM and GRU, and their single-step cells, with PyTorch's arguments,
parameter names and layouts, and return values. Derivation of backpropagation through time: docs/rnn.md.

BPTT is backpropagation over the unrolled steps: W_hh is used at every step, so its gradient collects a
contribution from every step (fan-out), and the gradient reaching h_t is a product of Jacobians ∂h_j/∂h_{j−1},
which is where it vanishes or explodes.

The input projection W_ih·x_t + b_ih of every step is one GEMM over the whole sequence, outside the time loop;
only h_{t−1}·W_hhᵀ runs per step. There is no loop over the batch. A layer runs each time loop as one Function
(``chainrule.ops.recurrent.lstm_sequence`` and its kin), whose backward collects ∂L/∂W_hh from all steps in one
GEMM; with ``record_hidden_states`` it runs one fused cell per step instead, so that every h_t is a node of the
graph (the two are tested equal). The equations of each cell, as a readable composition of ops, are
``chainrule.ops.recurrent.lstm_cell_reference`` and its kin, beside the fused versions they define.

Gates, in PyTorch's order (rows of weight_ih / weight_hh):
    RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh)
    LSTM: i, f, g, o = σ, σ, tanh, σ of (W_ih x + b_ih + W_hh h + b_hh) in 4 blocks
          c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c')
    GRU:  r, z = σ(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z})
          n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),   h' = (1 − z) ⊙ n + z ⊙ h
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.creation import zeros
from chainrule.errors import ArgumentError, ArgumentTypeError, ShapeError
from chainrule.nn import init
from chainrule.nn.arguments import check_count
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops.dropout import dropout
from chainrule.ops.linalg import linear
from chainrule.ops.operands import as_dtype, as_tensor, check_number, check_size, describe
from chainrule.ops.recurrent import gru_cell, gru_sequence, lstm_cell, lstm_sequence, rnn_cell, rnn_sequence
from chainrule.ops.shape import cat, stack, unbind
from chainrule.tensor import Tensor

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ----- cells -------------------------------------------------------------------------------------------


class _CellBase(Module):
    def __init__(
        self, input_size: int, hidden_size: int, bias: bool, gates: int, dtype: Any, generator: Any
    ) -> None:
        super().__init__()
        name = type(self).__name__
        input_size = check_count(name, "input_size", input_size)  # PyTorch builds cells of size 0, not layers
        hidden_size = check_count(name, "hidden_size", hidden_size)
        for shape in ((gates * hidden_size, input_size), (gates * hidden_size, hidden_size)):
            check_size(name, "a weight", shape, as_dtype(name, dtype))
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(np.empty((gates * hidden_size, input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((gates * hidden_size, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(np.empty(gates * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(np.empty(gates * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        _reset(self.parameters(), hidden_size, generator)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _input(self, x: Any) -> tuple[Tensor, bool]:
        x = as_tensor(type(self).__name__, x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{type(self).__name__}: input must be (batch, {self.input_size}) or ({self.input_size},), "
                f"got {x.shape}"
            )
        return (x.unsqueeze(0), True) if x.ndim == 1 else (x, False)

    def _state(self, h: Tensor | None, batch: int, like: Tensor, name: str = "hx") -> Tensor:
        if h is None:
            return zeros(batch, self.hidden_size, dtype=like.dtype, device=like.device)
        h = as_tensor(type(self).__name__, h, name)
        h = h.unsqueeze(0) if h.ndim == 1 else h
        if h.shape != (batch, self.hidden_size):
            raise ShapeError(
                f"{type(self).__name__}: {name} must have shape ({batch}, {self.hidden_size}), got {h.shape}"
            )
        return h


class RNNCell(_CellBase):
    """One step of an Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu)."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
        device: Any = None, dtype: Any = dtypes.float32, generator: np.random.Generator | None = None,
    ) -> None:
        _check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, 1, dtype, generator)
        self.nonlinearity = nonlinearity
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002 - PyTorch's name
        x, single = self._input(input)
        h = self._state(hx, x.shape[0], x)
        h = rnn_cell(linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh, self.nonlinearity)
        return h.squeeze(0) if single else h


class LSTMCell(_CellBase):
    """One LSTM step: returns (h', c')."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True,
        device: Any = None, dtype: Any = dtypes.float32, generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, dtype, generator)
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        x, single = self._input(input)
        h, c = (None, None) if hx is None else _pair_of_states("LSTMCell", "hx", hx)
        h, c = self._state(h, x.shape[0], x), self._state(c, x.shape[0], x, "cx")
        h, c = lstm_cell(linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if single else (h, c)


class GRUCell(_CellBase):
    """One GRU step."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True,
        device: Any = None, dtype: Any = dtypes.float32, generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype, generator)
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002 - PyTorch's name
        x, single = self._input(input)
        h = self._state(hx, x.shape[0], x)
        h = gru_cell(linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h.squeeze(0) if single else h


# ----- multi-layer, optionally bidirectional sequence modules ---------------------------------------------


class _RNNBase(Module):
    """Shared by RNN, LSTM and GRU: parameters per layer and direction, the time loop, stacking, dropout.

    Set ``record_hidden_states = True`` to keep, after each forward, ``last_hidden_states``: for every layer
    and direction (in ``h_n``'s order) the list of per-step hidden Tensors h_1 … h_L in time order, still in
    the graph, so ``chainrule.nn.bptt`` can measure ∂L/∂h_t. The layer then runs one Function per step instead
    of one per time loop (the same numbers, a little slower).
    """

    def __init__(
        self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
        dtype: Any = dtypes.float32, generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        input_size = check_count(name, "input_size", input_size, 1)
        hidden_size = check_count(name, "hidden_size", hidden_size, 1)
        num_layers = check_count(name, "num_layers", num_layers, 1)
        dropout = check_number(name, "dropout", dropout, 0.0, 1.0,
                               hint="; hint: dropout is the probability of zeroing an element between layers")
        directions = 2 if bidirectional else 1
        widest = max(input_size, hidden_size * directions, hidden_size)
        check_size(name, "a weight", (GATES[mode] * hidden_size, widest), as_dtype(name, dtype))
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.generator = generator
        self.record_hidden_states = False
        self.last_hidden_states: list[list[Tensor]] = []
        gates = GATES[mode]
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                setattr(self, f"weight_ih_l{layer}{suffix}",
                        Parameter(np.empty((gates * hidden_size, layer_input), dtype=dtype)))
                setattr(self, f"weight_hh_l{layer}{suffix}",
                        Parameter(np.empty((gates * hidden_size, hidden_size), dtype=dtype)))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", Parameter(np.empty(gates * hidden_size, dtype=dtype)))
                    setattr(self, f"bias_hh_l{layer}{suffix}", Parameter(np.empty(gates * hidden_size, dtype=dtype)))
        _reset(self.parameters(), hidden_size, generator)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        for flag, default in (("bias", True), ("batch_first", False), ("bidirectional", False)):
            if getattr(self, flag) != default:
                s += f", {flag}={getattr(self, flag)}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s

    def _weights(self, layer: int, suffix: str) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        get = self._parameters.get
        return (get(f"weight_ih_l{layer}{suffix}"), get(f"weight_hh_l{layer}{suffix}"),
                get(f"bias_ih_l{layer}{suffix}"), get(f"bias_hh_l{layer}{suffix}"))

    def _sequence(self, input: Tensor) -> tuple[Tensor, bool]:  # noqa: A002
        """input as (L, N, input_size), and whether it came unbatched."""
        name = type(self).__name__
        input = as_tensor(name, input)  # noqa: A001 - PyTorch's name
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            expected = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
            raise ShapeError(
                f"{name}: input must be {expected} or (L, H_in) with H_in = {self.input_size}, got {input.shape}"
            )
        length = input.shape[1 if self.batch_first and input.ndim == 3 else 0]
        if length == 0:  # PyTorch refuses it too: there is no last step to give h_n
            raise ShapeError(
                f"{name}: argument 'input' holds a sequence of length 0 (shape {input.shape}); expected at least "
                f"one time step; hint: drop empty sequences before the layer"
            )
        if input.ndim == 2:
            return input.unsqueeze(1), True
        return (input.transpose(0, 1), False) if self.batch_first else (input, False)

    def _initial(self, h: Tensor | None, batch: int, like: Tensor, unbatched: bool, name: str) -> list[Tensor]:
        count = self.num_layers * (2 if self.bidirectional else 1)
        if h is None:
            zero = zeros(batch, self.hidden_size, dtype=like.dtype, device=like.device)
            return [zero] * count
        h = as_tensor(type(self).__name__, h, name)
        if unbatched and h.ndim == 2:
            h = h.unsqueeze(1)
        if h.shape != (count, batch, self.hidden_size):
            raise ShapeError(
                f"{type(self).__name__}: {name} must have shape ({count}, {batch}, {self.hidden_size}) "
                f"(num_layers·num_directions, batch, hidden_size), got {h.shape}"
            )
        return [h[k] for k in range(count)]

    def _run(self, input: Tensor, states: list[list[Tensor]]) -> tuple[Tensor, list[list[Tensor]]]:  # noqa: A002
        """The time loops. ``states[k]`` is the initial state tuple (h,) or (h, c) of layer·direction k."""
        x = input
        finals: list[list[Tensor]] = []
        self.last_hidden_states = []
        directions = ("", "_reverse") if self.bidirectional else ("",)
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                x = dropout(x, self.dropout, training=True, generator=self.generator)
            outputs = []
            for d, suffix in enumerate(directions):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, suffix)
                xw = linear(x, w_ih, b_ih)  # the input projection of every step in one GEMM
                state = states[layer * len(directions) + d]
                if not self.record_hidden_states:  # the whole time loop as one Function
                    out, *state = self._scan(xw, state, w_hh, b_hh, reverse=bool(suffix))
                    finals.append(state)
                    outputs.append(out)
                    continue
                # one Function per step, so that every h_t is a node of the graph that bptt can ask about
                xws = unbind(xw)
                steps = range(x.shape[0] - 1, -1, -1) if suffix else range(x.shape[0])
                hs: list[Tensor] = [None] * x.shape[0]  # type: ignore[list-item]
                for t in steps:
                    state = self._step(xws[t], state, w_hh, b_hh)
                    hs[t] = state[0]
                finals.append(state)
                self.last_hidden_states.append(hs if not suffix else hs[::-1])
                outputs.append(stack(hs))
            x = outputs[0] if len(outputs) == 1 else cat(outputs, dim=-1)
        return x, finals

    def _step(self, xw: Tensor, state: list[Tensor], w_hh: Tensor, b_hh: Tensor | None) -> list[Tensor]:
        """One step from the step's input projection xw (N, G·H): the new state [h] or [h, c]."""
        raise NotImplementedError

    def _scan(self, xw: Tensor, state: list[Tensor], w_hh: Tensor, b_hh: Tensor | None,
              reverse: bool) -> tuple[Tensor, ...]:
        """All steps from the input projections xw (L, N, G·H): (h_t for every t, then the final state)."""
        raise NotImplementedError

    def _output(self, out: Tensor, unbatched: bool) -> Tensor:
        if unbatched:
            return out.squeeze(1)
        return out.transpose(0, 1) if self.batch_first else out


class RNN(_RNNBase):
    """Elman RNN over a sequence: h_t = act(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), act = tanh or relu.

    forward(input, h_0=None) → (output, h_n): output (L, N, D·H) (or (N, L, D·H) with batch_first) holds the
    last layer's h_t for every t; h_n (num_layers·D, N, H) the final state of every layer and direction.
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
        bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
        device: Any = None, dtype: Any = dtypes.float32, generator: np.random.Generator | None = None,
    ) -> None:
        _check_nonlinearity("RNN", nonlinearity)
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, dtype, generator)
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def _step(self, xw, state, w_hh, b_hh):
        return [rnn_cell(xw, state[0], w_hh, b_hh, self.nonlinearity)]

    def _scan(self, xw, state, w_hh, b_hh, reverse):
        return rnn_sequence(xw, state[0], w_hh, b_hh, self.nonlinearity, reverse)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        x, unbatched = self._sequence(input)
        h0 = self._initial(hx, x.shape[1], x, unbatched, "h_0")
        out, finals = self._run(x, [[h] for h in h0])
        h_n = stack([s[0] for s in finals])
        return self._output(out, unbatched), h_n.squeeze(1) if unbatched else h_n


class LSTM(_RNNBase):
    """Long short-term memory over a sequence; forward(input, (h_0, c_0)=None) → (output, (h_n, c_n))."""

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
        device: Any = None, dtype: Any = dtypes.float32, generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype, generator)
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def _step(self, xw, state, w_hh, b_hh):
        return list(lstm_cell(xw, state[0], state[1], w_hh, b_hh))

    def _scan(self, xw, state, w_hh, b_hh, reverse):
        return lstm_sequence(xw, state[0], state[1], w_hh, b_hh, reverse)

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None  # noqa: A002
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        x, unbatched = self._sequence(input)
        h_0, c_0 = (None, None) if hx is None else _pair_of_states("LSTM", "hx", hx)
        h0 = self._initial(h_0, x.shape[1], x, unbatched, "h_0")
        c0 = self._initial(c_0, x.shape[1], x, unbatched, "c_0")
        out, finals = self._run(x, [[h, c] for h, c in zip(h0, c0)])
        h_n, c_n = stack([s[0] for s in finals]), stack([s[1] for s in finals])
        if unbatched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return self._output(out, unbatched), (h_n, c_n)


class GRU(_RNNBase):
    """Gated recurrent unit over a sequence; forward(input, h_0=None) → (output, h_n)."""

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
        device: Any = None, dtype: Any = dtypes.float32, generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype, generator)
        if device is not None:  # PyTorch's factory keyword: made on the CPU, then moved
            self.to(device)

    def _step(self, xw, state, w_hh, b_hh):
        return [gru_cell(xw, state[0], w_hh, b_hh)]

    def _scan(self, xw, state, w_hh, b_hh, reverse):
        return gru_sequence(xw, state[0], w_hh, b_hh, reverse)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        x, unbatched = self._sequence(input)
        h0 = self._initial(hx, x.shape[1], x, unbatched, "h_0")
        out, finals = self._run(x, [[h] for h in h0])
        h_n = stack([s[0] for s in finals])
        return self._output(out, unbatched), h_n.squeeze(1) if unbatched else h_n


def _check_nonlinearity(name: str, nonlinearity: Any) -> None:
    if nonlinearity not in ("tanh", "relu"):
        raise ArgumentError(f"{name}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")


def _pair_of_states(name: str, arg: str, hx: Any) -> tuple[Any, Any]:
    """An LSTM's state argument: a pair (h, c), as PyTorch requires."""
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise ArgumentTypeError(
            f"{name}: argument '{arg}' must be a pair (h, c) of Tensors, got {describe(hx)}; hint: an LSTM carries "
            f"two states, pass both, e.g. {arg}=(h_0, c_0)"
        )
    return hx[0], hx[1]


def _reset(parameters: Any, hidden_size: int, generator: np.random.Generator | None) -> None:
    """PyTorch's initialisation of recurrent layers: every weight and bias ~ U(−1/√H, 1/√H)."""
    if hidden_size == 0:  # a cell with no hidden units has empty weights: nothing to draw
        return
    bound = 1.0 / math.sqrt(hidden_size)
    for p in parameters:
        init.uniform_(p, -bound, bound, generator=generator)
