"""The backward pass one node at a time, recorded instead of only accumulated.

``BackwardWalk`` follows the engine's own walk (``chainrule.autograd.engine.walk``, the one ``backward`` and
``grad`` use) and records, per node, the upstream gradient it received, the local derivative of each input
(from ``chainrule.viz.local``) and the downstream gradient it sent. The graph is
never released and no ``.grad`` is touched: after walking, the computation can still be backpropagated as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.anomaly import is_anomaly_enabled
from chainrule.autograd.engine import accumulate, walk
from chainrule.errors import BackwardError, DTypeError, ShapeError
from chainrule.tensor import Tensor, as_array
from chainrule.viz.local import Context, Local, local_derivatives, op_info
from chainrule.viz.names import Namer, Names
from chainrule.viz.values import plain, to_numpy

__all__ = ["BackwardWalk", "InputStep", "Namer", "Names", "Step", "Trace", "backward_steps", "forward_inputs", "trace"]


# ----- the graph: every Function and Tensor reachable from an output -----------------------------------


@dataclass
class Trace:
    """The graph behind ``root``: Functions and Tensors (by id) in discovery order, producers last."""

    root: Tensor
    functions: list[Any] = field(default_factory=list)
    tensors: dict[int, Tensor] = field(default_factory=dict)


def _freed(fn: Any, op: str) -> BackwardError:
    return BackwardError(
        f"{op}: the graph was freed by an earlier backward ({fn.name}, generation {fn.generation} is released); "
        f"call {op} before backward(), or pass retain_graph=True to backward()"
    )


def trace(root: Tensor, op: str = "explain") -> Trace:
    """Collect the graph of ``root`` without recursion, refusing a graph an earlier backward has freed."""
    if not isinstance(root, Tensor):
        raise DTypeError(f"{op}: expected a Tensor, got {type(root).__name__}")
    result = Trace(root)
    result.tensors[id(root)] = root
    seen: set[int] = set()
    stack = [root.creator] if root.creator is not None else []
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        if fn.released:
            raise _freed(fn, op)
        result.functions.append(fn)
        for ref in fn.outputs:
            out = ref()
            if out is not None:
                result.tensors.setdefault(id(out), out)
        for x in fn.inputs:
            result.tensors.setdefault(id(x), x)
            if x.creator is not None and id(x.creator) not in seen:
                stack.append(x.creator)
    return result


def forward_inputs(graph: Trace) -> list[Tensor]:
    """Every tensor that feeds a Function, in forward order: by generation, then as the inputs are listed."""
    functions = sorted(reversed(graph.functions), key=lambda f: f.generation)
    seen: dict[int, Tensor] = {}
    for fn in functions:
        for x in fn.inputs:
            seen.setdefault(id(x), x)
    return list(seen.values())


# ----- one step of the backward pass ---------------------------------------------------------------------


@dataclass(frozen=True)
class InputStep:
    """One input of a node: its name and value, ∂node/∂input, and the gradient sent to it (None: not needed)."""

    name: str
    value: Any
    local: Any
    formula: str
    downstream: Any
    tensor: Tensor = field(repr=False, compare=False)
    rule: Local = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "value": self.value, "local": self.local, "local_formula": self.formula,
            "product": self.rule.product, "downstream": self.downstream,
        }


@dataclass(frozen=True)
class Step:
    """One Function of the backward pass: downstream = upstream × local, for each of its inputs.

    Unpacks as ``node, upstream, local, downstream`` (the last two one entry per input).
    """

    index: int
    node: str  # the output's name (names joined by ", " for ops with several outputs)
    op: str
    pattern: str
    value: Any  # the forward value of the output (a tuple for several outputs)
    upstream: Any  # ∂(output of the walk)/∂node, what this node received (a tuple for several outputs)
    inputs: tuple[InputStep, ...]
    function: Any = field(repr=False, compare=False)
    outputs: tuple[Tensor | None, ...] = field(repr=False, compare=False)

    @property
    def local(self) -> tuple[Any, ...]:
        """∂node/∂input per input: the value, or None where only a formula is known."""
        return tuple(i.local for i in self.inputs)

    @property
    def local_formulas(self) -> tuple[str, ...]:
        return tuple(i.formula for i in self.inputs)

    @property
    def downstream(self) -> tuple[Any, ...]:
        """∂(output of the walk)/∂input per input (None for constants)."""
        return tuple(i.downstream for i in self.inputs)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.node, self.upstream, self.local, self.downstream))

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.index, "node": self.node, "op": self.op, "pattern": self.pattern, "value": self.value,
            "upstream": self.upstream, "inputs": [i.to_dict() for i in self.inputs],
        }


# ----- the walk ------------------------------------------------------------------------------------------


def _root_grad(op: str, root: Tensor, grad: Any) -> Tensor:
    if not root.requires_grad:
        raise BackwardError(
            f"{op}: the output does not require grad, so there is no backward pass to show; hint: give a leaf "
            f"requires_grad=True and do not compute under cr.no_grad()"
        )
    if grad is None:
        if root._data.size != 1:
            raise BackwardError(
                f"{op}: a gradient can be created implicitly only for one-element outputs, but the output has "
                f"shape {root.shape}; pass grad= of that shape, or reduce the output first with .sum()"
            )
        return Tensor(backend.get_array_module(root._data).ones_like(root._data))
    try:
        g = grad if isinstance(grad, Tensor) else Tensor(as_array(grad, root.dtype))
    except (TypeError, ValueError, OverflowError):
        raise DTypeError(
            f"{op}: grad must be a Tensor or a (nested list of) numbers of the output's shape {root.shape}, got "
            f"{type(grad).__name__}"
        ) from None
    if g.shape != root.shape:
        raise ShapeError(f"{op}: grad has shape {g.shape} but the output has shape {root.shape}")
    return g


class BackwardWalk:
    """Iterate over the backward steps of ``output``; afterwards ``gradient(t)`` is ∂output/∂t for every t reached.

    Iterating twice replays the recorded steps; the graph is never modified.
    """

    def __init__(self, output: Tensor, grad: Any = None, names: Names = None, op: str = "backward_steps") -> None:
        self.graph = trace(output, op)
        self.root = output
        self.root_grad = _root_grad(op, output, grad)
        self.name = Namer(self.graph, names, op)  # the rules: chainrule.viz.names
        self.steps: list[Step] = []
        self.grads: dict[int, tuple[Tensor, Tensor]] = {}  # id(tensor) → (tensor, its total gradient)
        self.done = False
        self._running: Iterator[Step] | None = None  # the walk, advanced one step at a time

    def __iter__(self) -> Iterator[Step]:
        if self._running is None:
            self._running = self._walk()
        i = 0
        while True:
            if i < len(self.steps):
                yield self.steps[i]
                i += 1
            elif self.done or next(self._running, None) is None:
                return

    def run(self) -> BackwardWalk:
        """Walk to the end (if not done yet) and return self."""
        for _ in self:
            pass
        return self

    def gradient(self, tensor: Tensor) -> np.ndarray | None:
        entry = self.grads.get(id(tensor))
        return None if entry is None else to_numpy(entry[1])

    def leaf_gradients(self) -> dict[str, Any]:
        """name → ∂output/∂leaf for the leaves that require grad, in the order the forward pass used them."""
        self.run()
        result: dict[str, Any] = {}
        for t in forward_inputs(self.graph):
            if t.creator is None and t.requires_grad and id(t) in self.grads:
                result.setdefault(self.name(t), plain(self.grads[id(t)][1]))
        if self.root.creator is None and id(self.root) in self.grads:
            result.setdefault(self.name(self.root), plain(self.grads[id(self.root)][1]))
        return result

    def _walk(self) -> Iterator[Step]:
        # The engine's own walk, so the order and every gradient are those backward() uses; the graph is kept
        # (retain_graph) and leaf gradients are recorded here instead of going into .grad.
        anomaly = is_anomaly_enabled()

        def deliver(x: Tensor, g: Tensor) -> None:
            if x.requires_grad:
                previous = self.grads.get(id(x))
                self.grads[id(x)] = (x, accumulate(None if previous is None else previous[1], g, x, False, anomaly))

        visits = walk([self.root], [self.root_grad], deliver, retain_graph=True,
                      freed=lambda fn: _freed(fn, "backward_steps"))
        for visit in visits:
            fn = visit.function
            outputs = tuple(h if h is not None else ref() for h, ref in zip(visit.outputs, fn.outputs))
            for out, g in zip(outputs, visit.upstream):
                if out is not None and g is not None:
                    self.grads[id(out)] = (out, g)
            step = self._step(fn, outputs, visit.upstream, visit.downstream)
            self.steps.append(step)
            yield step
        self.done = True

    def _step(self, fn: Any, outputs: tuple, upstream: list, downstream: list) -> Step:
        info = op_info(fn)
        in_names = [self.name(x) for x in fn.inputs]
        out_names = [self.name(o) for o in outputs]
        xs = [to_numpy(x._data) for x in fn.inputs]
        ys = [None if o is None else to_numpy(o._data) for o in outputs]
        context = Context(fn, xs, ys, in_names, out_names)
        locals_ = local_derivatives(fn, context)
        ups = [
            plain(g) if g is not None else np.zeros(shape) for g, (shape, _) in zip(upstream, fn.output_specs)
        ]
        inputs = tuple(
            InputStep(
                name=name, value=plain(x), local=_plain_local(rule.value),
                formula=rule.formula, downstream=plain(gx), tensor=x, rule=rule,
            )
            for name, x, rule, gx in zip(in_names, fn.inputs, locals_, downstream)
        )
        single = len(outputs) == 1
        return Step(
            index=len(self.steps) + 1,
            node=out_names[0] if single else ", ".join(out_names),
            op=info.name,
            pattern=info.pattern,
            value=plain(ys[0]) if single else tuple(plain(y) for y in ys),
            upstream=ups[0] if single else tuple(ups),
            inputs=inputs,
            function=fn,
            outputs=outputs,
        )


def _plain_local(value: Any) -> Any:
    """A local derivative as a plain value; a tuple (one per output of a node such as an LSTM cell) stays one."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return plain(value)


def backward_steps(output: Tensor, grad: Any = None, names: Names = None) -> Iterator[Step]:
    """Yield the backward pass of ``output`` one node at a time: node, upstream, local and downstream gradients.

    Runs each op's own backward in the engine's order, without releasing the graph or touching ``.grad``.
    """
    yield from BackwardWalk(output, grad, names, op="backward_steps")
