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

One walk. ``walk`` is the loop, as a generator of one ``Visit`` per Function (its upstream and downstream
gradients); ``backward``, ``grad`` and the step-by-step views of ``chainrule.viz`` all consume it and differ only
in where the gradients that reach the leaves go.

Post-accumulate hooks. ``backward`` calls a leaf's ``register_post_accumulate_grad_hook`` hooks as soon as its
``.grad`` is final: before the walk it counts, for each hooked leaf, the edges into it from the Functions the
walk can run; each visited Function uncounts its edges, and at zero no Function left can send the leaf more, so
the hooks fire (a leaf whose senders never ran, or a root, fires when the walk ends). ``queue_callback`` runs a
callable once the current ``backward`` has finished (after every hook).

No recursion anywhere: a chain of 100,000 operations backpropagates in a loop.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from chainrule import backend
from chainrule import tensor as tensor_module
from chainrule.autograd.anomaly import check_sum, is_anomaly_enabled
from chainrule.autograd.broadcast import add
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import set_grad_enabled
from chainrule.errors import ArgumentError, BackwardError, DTypeError, ShapeError
from chainrule.tensor import Tensor, as_array

TensorOrTensors = Tensor | Sequence[Tensor]

# The callbacks queued during the backward running on this thread (a stack: a hook may run a nested backward).
_callbacks = threading.local()

# Held while a gradient is added into a leaf's .grad: threads that backpropagate into one shared leaf at the
# same time would otherwise each read the old .grad and keep only their own sum (PyTorch locks here too).
_accumulation_lock = threading.Lock()


def backward(
    tensors: TensorOrTensors,
    grad_tensors: Sequence[Any] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: TensorOrTensors | None = None,
) -> None:
    """Accumulate the gradients of ``tensors`` (weighted by ``grad_tensors``) into the leaves' ``.grad``; with
    ``inputs`` (leaves that require grad), into theirs only, as PyTorch's ``inputs=``."""
    roots = _as_list(tensors)
    grads = _root_grads("backward", roots, grad_tensors)
    deliver = _accumulate_into_leaves(grads, create_graph)
    hooked = _hooked_leaves(roots) if tensor_module.post_accumulate_hooks_in_use else None
    if inputs is not None:
        wanted = _wanted_leaves(inputs)
        everyone = deliver

        def deliver(x: Tensor, g: Tensor) -> None:
            if id(x) in wanted:
                everyone(x, g)

        hooked = None if hooked is None else {k: v for k, v in hooked.items() if k in wanted}
    stack = _callbacks.__dict__.setdefault("stack", [])
    stack.append([])
    try:
        if not hooked:
            for _ in walk(roots, grads, deliver, retain_graph=_retain(retain_graph, create_graph),
                          create_graph=create_graph):
                pass
        else:
            _walk_firing_hooks(roots, grads, deliver, hooked, _retain(retain_graph, create_graph), create_graph)
        queued = stack[-1]
        while queued:  # a callback may queue another
            queued.pop(0)()
    finally:
        stack.pop()


def _wanted_leaves(inputs: TensorOrTensors) -> set[int]:
    chosen = _as_list(inputs)
    if not chosen:
        raise ArgumentError("backward: argument 'inputs' must not be empty; leave it out to fill every leaf's .grad")
    for i, t in enumerate(chosen):
        if not isinstance(t, Tensor) or t.creator is not None or not t.requires_grad:
            raise ArgumentError(
                f"backward: inputs[{i}] must be a leaf tensor that requires grad, got "
                f"{'a non-leaf tensor' if isinstance(t, Tensor) and t.creator is not None else repr(t)[:60]}; "
                f"hint: cr.autograd.grad(outputs, inputs) gives the gradient of any tensor"
            )
    return {id(t) for t in chosen}


def queue_callback(callback: Callable[[], None]) -> None:
    """Run ``callback()`` when the ``backward`` now running on this thread has finished (PyTorch's
    ``Variable._execution_engine.queue_callback``): called from a hook, it sees every ``.grad`` of the pass."""
    stack = getattr(_callbacks, "stack", None)
    if not stack:
        raise BackwardError("queue_callback: no backward is running on this thread; call it from a hook that "
                            "backward runs, such as a post-accumulate-grad hook")
    stack[-1].append(callback)


def _hooked_leaves(roots: list[Tensor]) -> dict[int, list[Any]]:
    """``{id(leaf): [leaf, edges]}`` for each leaf with post-accumulate hooks that this backward can reach, where
    ``edges`` counts the inputs slots, over the Functions the walk can run, that hold the leaf."""
    hooked: dict[int, list[Any]] = {}
    for r in roots:
        if r.creator is None and getattr(r, "_post_accumulate_grad_hooks", None):
            hooked.setdefault(id(r), [r, 0])
    seen: set[int] = set()
    stack = [r.creator for r in roots if r.creator is not None]
    while stack:
        fn = stack.pop()
        if id(fn) in seen or fn.released:
            continue
        seen.add(id(fn))
        for x in fn.inputs:
            if x.creator is not None:
                stack.append(x.creator)
            elif getattr(x, "_post_accumulate_grad_hooks", None):
                hooked.setdefault(id(x), [x, 0])[1] += 1
    return hooked


def _walk_firing_hooks(roots: list[Tensor], grads: list[Tensor], deliver: Callable[[Tensor, Tensor], None],
                       hooked: dict[int, list[Any]], retain_graph: bool, create_graph: bool) -> None:
    """``backward``'s walk, firing each hooked leaf's hooks once no Function left to run can send it more."""
    received: set[int] = set()
    fired: set[int] = set()

    def recording(x: Tensor, g: Tensor) -> None:
        deliver(x, g)
        received.add(id(x))

    def fire(x: Tensor) -> None:
        fired.add(id(x))
        for hook in list(x._post_accumulate_grad_hooks.values()):
            hook(x)

    for visit in walk(roots, grads, recording, retain_graph=retain_graph, create_graph=create_graph):
        for x in visit.function.inputs:
            entry = hooked.get(id(x))
            if entry is not None:
                entry[1] -= 1
                if entry[1] == 0 and id(x) in received:
                    fire(x)
    for key, (x, _) in hooked.items():  # a root leaf, or a leaf some of whose senders received nothing
        if key in received and key not in fired:
            fire(x)


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
    captured: dict[int, Tensor] = {}
    anomaly = is_anomaly_enabled()

    def deliver(x: Tensor, g: Tensor) -> None:
        captured[id(x)] = accumulate(captured.get(id(x)), g, x, create_graph, anomaly)

    for _ in walk(roots, grads, deliver, retain_graph=_retain(retain_graph, create_graph), create_graph=create_graph,
                  capture=wrt):
        pass
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


def _retain(retain_graph: bool | None, create_graph: bool) -> bool:
    """retain_graph defaults to create_graph (PyTorch's rule): a graph of the gradients still needs the graph."""
    return create_graph if retain_graph is None else retain_graph


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
            if root._data.size != 1:
                raise BackwardError(
                    f"{op}: a gradient can be created implicitly only for one-element outputs, but output {i} "
                    f"has shape {root.shape}; pass one of that shape, for example cr.ones_like(y), or reduce "
                    f"the output first with .sum() or .mean()"
                )
            g = Tensor(backend.get_array_module(root._data).ones_like(root._data))
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


class Visit:
    """One node of the backward pass as ``walk`` yields it, after its rule has run.

    ``upstream[i]``: the gradient output i received, summed over its consumers (None: nothing reached it);
    ``downstream[j]``: what the rule returned for input j (None: not needed); ``outputs[i]``: output i while the
    node is visited, if it received a gradient (the engine holds those alive for the rule), else None.
    """

    __slots__ = ("function", "upstream", "downstream", "outputs")

    def __init__(self, function: Function, upstream: list[Tensor | None], downstream: list[Tensor | None],
                 outputs: list[Tensor | None]) -> None:
        self.function, self.upstream, self.downstream, self.outputs = function, upstream, downstream, outputs


def walk(
    roots: list[Tensor],
    root_grads: list[Tensor],
    deliver: Callable[[Tensor, Tensor], None],
    *,
    retain_graph: bool = False,
    create_graph: bool = False,
    capture: list[Tensor] | None = None,
    freed: Callable[[Function], Exception] | None = None,
) -> Iterator[Visit]:
    """The backward pass as a generator: one ``Visit`` per Function, in the order the engine runs them.

    ``backward``, ``grad`` and the step-by-step views all consume this walk, so they cannot disagree on the order
    or on the gradients. Each Function's rule runs (under grad mode ``create_graph``, never across a yield) when
    it is popped, and its gradients are sent on before the visit is yielded; without ``retain_graph`` the
    Function is released when the consumer asks for the next one.

    ``deliver(x, g)`` receives every gradient that reaches a tensor where the walk stops: a leaf, or, with
    ``capture`` (``grad``'s inputs), a captured tensor; with ``capture`` only the Functions on a path from a root
    to a captured tensor are run. Pieces arrive one at a time, so a tensor used k times gets k calls
    (``accumulate`` sums them the way the walk sums upstream gradients). ``freed(fn)`` makes the error for a
    Function an earlier backward released.
    """
    capture_ids = {id(x) for x in capture} if capture is not None else None
    needed = _needed_functions(roots, capture_ids) if capture_ids is not None else None
    freed = freed or _released_error
    pending: dict[Function, list[Tensor | None]] = {}  # gradients received per output of each waiting Function
    alive: dict[Function, list[Tensor | None]] = {}  # its outputs, kept alive until it has run
    heap: list[tuple[int, int, Function]] = []
    order = itertools.count()
    anomaly = is_anomaly_enabled()

    def send(x: Tensor, g: Tensor) -> None:
        fn = x.creator
        if capture_ids is not None:  # grad(): capture, and go on only towards captured tensors
            if id(x) in capture_ids:
                deliver(x, g)
            if fn is None or fn not in needed:
                return
        elif fn is None:  # backward(): the leaves collect
            deliver(x, g)
            return
        if fn.released:
            raise freed(fn)
        slots = pending.get(fn)
        if slots is None:
            slots = pending[fn] = [None] * len(fn.outputs)
            alive[fn] = [None] * len(fn.outputs)
            heapq.heappush(heap, (-fn.generation, next(order), fn))
        i = x.output_index
        slots[i] = accumulate(slots[i], g, x, create_graph, anomaly)
        alive[fn][i] = x

    with set_grad_enabled(create_graph):
        for root, g in zip(roots, root_grads):
            send(root, g)
    while heap:
        fn = heapq.heappop(heap)[2]
        outputs = alive.pop(fn)  # held so that fn.output() works inside backward
        upstream = pending.pop(fn)
        with set_grad_enabled(create_graph):
            downstream = fn.run_backward(upstream)
            for x, gx in zip(fn.inputs, downstream):
                if gx is not None:
                    send(x, gx)
        yield Visit(fn, upstream, downstream, outputs)
        if not retain_graph:
            fn.release()


def accumulate(total: Tensor | None, g: Tensor, x: Tensor, create_graph: bool, anomaly: bool) -> Tensor:
    """total + g, the gradient pieces that reached ``x``: differentiable with ``create_graph``, checked in anomaly
    mode (finite pieces can overflow when summed; each rule's own result was checked already)."""
    if total is None:
        return g
    result = add(total, g) if create_graph else Tensor(total._data + g._data)
    if anomaly:
        check_sum(x, total._data, g._data, result._data)
    return result


def _accumulate_into_leaves(root_grads: list[Tensor], create_graph: bool) -> Callable[[Tensor, Tensor], None]:
    """``backward``'s sink: each gradient that reaches a leaf is added into its ``.grad``.

    A leaf's .grad must own its memory (an optimizer or the user may change it in place). A gradient array that
    a backward rule made for this pass is handed over as it is; a view, the caller's root gradient, or an array
    already handed to another leaf (add passes one gradient to both inputs) is copied.
    """
    handed = {id(g._data) for g in root_grads}
    anomaly = is_anomaly_enabled()

    def owned(array: Any) -> Any:
        if array.base is not None or id(array) in handed:
            array = array.copy()
        handed.add(id(array))
        return array

    def deliver(x: Tensor, g: Tensor) -> None:
        if not x.requires_grad:
            return
        with _accumulation_lock:
            if x.grad is None:
                x.grad = g if create_graph else Tensor(owned(g._data))
            else:
                x.grad = accumulate(x.grad, g, x, create_graph, anomaly)

    return deliver
