"""The backward pass: walk the graph from the outputs to the leaves, one Function at a time.

Order. Every Function has a generation, one more than the largest among its inputs' creators, so each
Function's generation is larger than that of every Function that produced its inputs. Popping the highest
generation first (a heap, as Chainer does; no re-sorting per push) therefore handles a Function only after
every consumer of its outputs has sent its gradient: the gradient it receives is complete.

Accumulation. A tensor used k times receives k gradients; they are summed before its creator runs (fan-out:
``x * x``, diamonds). Leaves add theirs into ``.grad``.

Memory. A Function holds its inputs strongly and its outputs weakly. While a Function waits in the heap the
engine holds the output tensors that were sent gradients, so rules such as d exp(x) = exp(x)·dx can use
them. Without ``retain_graph`` each Function is released right after its backward runs.

No recursion anywhere: a chain of 100,000 operations backpropagates in a loop.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Sequence
from typing import Any

from chainrule import backend
from chainrule.autograd.anomaly import check_sum, is_anomaly_enabled
from chainrule.autograd.broadcast import add
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import set_grad_enabled
from chainrule.errors import BackwardError, DTypeError, ShapeError
from chainrule.tensor import Tensor, as_array

TensorOrTensors = Tensor | Sequence[Tensor]

# Held while a gradient is added into a leaf's .grad: threads that backpropagate into one shared leaf at the
# same time would otherwise each read the old .grad and keep only their own sum (PyTorch locks here too).
_accumulation_lock = threading.Lock()


def backward(
    tensors: TensorOrTensors,
    grad_tensors: Sequence[Any] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate the gradients of ``tensors`` (weighted by ``grad_tensors``) into the leaves' ``.grad``."""
    roots = _as_list(tensors)
    grads = _root_grads("backward", roots, grad_tensors)
    _run(roots, grads, retain_graph, create_graph, capture=None)


def grad(
    outputs: TensorOrTensors,
    inputs: TensorOrTensors,
    grad_outputs: Sequence[Any] | Any | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, returned rather than stored in ``.grad``.

    ``grad_outputs`` weights each output (vector-Jacobian product); it defaults to 1 for one-element outputs.
    With ``create_graph=True`` the returned gradients carry a graph, so they can be differentiated again
    (Hessian-vector products, gradient penalties). Inputs that the outputs do not depend on raise unless
    ``allow_unused=True``, which returns None for them.
    """
    roots = _as_list(outputs)
    wrt = _as_list(inputs)
    for i, x in enumerate(wrt):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise BackwardError(
                f"grad: input {i} does not require grad; hint: create it with requires_grad=True"
            )
    if grad_outputs is not None and not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    grads = _root_grads("grad", roots, grad_outputs)
    captured = _run(roots, grads, retain_graph, create_graph, capture=wrt)
    result = []
    for i, x in enumerate(wrt):
        g = captured.get(id(x))
        if g is None and not allow_unused:
            raise BackwardError(
                f"grad: input {i} (shape {x.shape}) is not reachable from the outputs, so its gradient is "
                f"undefined; pass allow_unused=True to get None for it"
            )
        result.append(g)
    return tuple(result)


def _as_list(tensors: TensorOrTensors) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _root_grads(op: str, roots: list[Tensor], grads: Sequence[Any] | None) -> list[Tensor]:
    if grads is not None and len(grads) != len(roots):
        raise BackwardError(f"{op}: got {len(grads)} gradients for {len(roots)} outputs")
    result = []
    for i, root in enumerate(roots):
        if not isinstance(root, Tensor):
            raise BackwardError(f"{op}: output {i} is a {type(root).__name__}, not a Tensor")
        if not root.requires_grad:
            raise BackwardError(
                f"{op}: output {i} does not require grad and has no creator, so there is nothing to "
                f"differentiate; hint: give a leaf requires_grad=True and do not compute under cr.no_grad()"
            )
        g = None if grads is None else grads[i]
        if g is None:
            if root.data.size != 1:
                raise BackwardError(
                    f"{op}: a gradient can be created implicitly only for one-element outputs, but output {i} "
                    f"has shape {root.shape}; pass one of that shape, for example cr.ones_like(y), or reduce "
                    f"the output first with .sum() or .mean()"
                )
            g = Tensor(backend.get_array_module(root.data).ones_like(root.data))
        elif not isinstance(g, Tensor):
            g = Tensor(as_array(g, root.dtype))
        if g.shape != root.shape:
            raise ShapeError(f"{op}: gradient {i} has shape {g.shape} but output {i} has shape {root.shape}")
        if g.dtype != root.dtype:
            raise DTypeError(f"{op}: gradient {i} has dtype {g.dtype} but output {i} has dtype {root.dtype}")
        result.append(g)
    return result


def _needed_functions(roots: list[Tensor], capture_ids: set[int]) -> set[Function]:
    """The Functions on some path from ``roots`` to a captured tensor: the only ones ``grad`` must run."""
    seen: dict[Function, None] = {}
    stack = [r.creator for r in roots if r.creator is not None]
    while stack:
        fn = stack.pop()
        if fn in seen or fn.released:
            continue
        seen[fn] = None
        stack.extend(x.creator for x in fn.inputs if x.creator is not None)
    needed: set[Function] = set()
    for fn in sorted(seen, key=lambda f: f.generation):  # producers before consumers
        if any(id(x) in capture_ids or x.creator in needed for x in fn.inputs):
            needed.add(fn)
    return needed


def _released_error(fn: Function) -> BackwardError:
    return BackwardError(
        f"Trying to backward through the graph a second time: {fn.name} (generation {fn.generation}) was "
        f"freed by an earlier backward. Pass retain_graph=True to the first backward() or grad() call if you "
        f"need to go through the same graph again."
    )


def _run(
    roots: list[Tensor],
    root_grads: list[Tensor],
    retain_graph: bool | None,
    create_graph: bool,
    capture: list[Tensor] | None,
) -> dict[int, Tensor]:
    if retain_graph is None:
        retain_graph = create_graph
    pending: dict[Function, list[Tensor | None]] = {}  # gradients received per output of each waiting Function
    alive: dict[Function, list[Tensor | None]] = {}  # its outputs, kept alive until it has run
    heap: list[tuple[int, int, Function]] = []
    order = itertools.count()
    captured: dict[int, Tensor] = {}
    capture_ids = {id(x) for x in capture} if capture is not None else set()
    needed = _needed_functions(roots, capture_ids) if capture is not None else None

    # A leaf's .grad must own its memory (an optimizer or the user may change it in place). A gradient array
    # that a backward rule made for this pass is handed over as it is; a view, the caller's root gradient, or
    # an array already handed to another leaf (add passes one gradient to both inputs) is copied.
    handed = {id(g.data) for g in root_grads}

    def owned(array: Any) -> Any:
        if array.base is not None or id(array) in handed:
            array = array.copy()
        handed.add(id(array))
        return array

    anomaly = is_anomaly_enabled()

    def accumulate(total: Tensor | None, g: Tensor, x: Tensor) -> Tensor:
        if total is None:
            return g
        result = add(total, g) if create_graph else Tensor(total.data + g.data)
        if anomaly:  # finite parts can overflow when summed: each rule's own result was checked already
            check_sum(x, total.data, g.data, result.data)
        return result

    def send(x: Tensor, g: Tensor) -> None:
        fn = x.creator
        if needed is not None:  # grad(): capture, and go on only towards captured tensors
            if id(x) in capture_ids:
                captured[id(x)] = accumulate(captured.get(id(x)), g, x)
            if fn is None or fn not in needed:
                return
        elif fn is None:  # backward(): leaves collect into .grad, owning their memory
            if x.requires_grad:
                with _accumulation_lock:
                    if x.grad is None:
                        x.grad = g if create_graph else Tensor(owned(g.data))
                    else:
                        x.grad = accumulate(x.grad, g, x)
            return
        if fn.released:
            raise _released_error(fn)
        slots = pending.get(fn)
        if slots is None:
            slots = pending[fn] = [None] * len(fn.outputs)
            alive[fn] = [None] * len(fn.outputs)
            heapq.heappush(heap, (-fn.generation, next(order), fn))
        i = x.output_index
        slots[i] = accumulate(slots[i], g, x)
        alive[fn][i] = x

    with set_grad_enabled(create_graph):
        for root, g in zip(roots, root_grads):
            send(root, g)
        while heap:
            fn = heapq.heappop(heap)[2]
            outputs = alive.pop(fn)  # noqa: F841 - held so that fn.output() works inside backward
            gxs = fn.run_backward(pending.pop(fn))
            for x, gx in zip(fn.inputs, gxs):
                if gx is not None:
                    send(x, gx)
            if not retain_graph:
                fn.release()
    return captured
