"""``Function``: one node of the graph. Subclasses write the math; this class does the bookkeeping.

A subclass writes two methods (DeZero's split):

- ``forward(*arrays) -> array | tuple[array, ...]`` on raw arrays, and may save what backward needs on
  ``self``;
- ``backward(*grad_outputs: Tensor) -> Tensor | None | tuple`` on Tensors, returning dL/d(input) for each
  input. Because it is written in differentiable ops, running it with ``create_graph=True`` records a graph
  of the backward pass itself, so gradients of gradients come for free.

It may also write a fast route (PyTorch's ``once_differentiable``): ``fast_backward(*grad_outputs: array)``,
the same result as ``backward`` computed on raw arrays, with no Tensors and no graph. ``run_backward`` alone
decides which one runs: the fast route when no graph of the backward pass is being recorded (grad mode off,
which the engine sets unless ``create_graph``) and anomaly mode is off; ``backward`` otherwise. ``backward``
stays the definition of the result; tests/autograd/test_fast_routes.py holds every fast route equal to it.

The base class owns everything an op author should not repeat (MyGrad's lesson):

- graph recording only when grad mode is on and some input requires grad;
- ``needs_input_grad`` so backward can skip gradients nobody asked for (return None for those);
- zero gradients for outputs nobody used;
- reducing broadcast gradients back to each input's shape, in one place: an op that broadcasts its inputs sets
  ``broadcasts = True`` and returns gradients of the broadcast shape; they are summed back here (``sum_to``);
- checking every returned gradient's shape and dtype against its input, naming the op if they differ.
"""

from __future__ import annotations

import weakref
from typing import Any

from chainrule import backend
from chainrule.autograd import saved
from chainrule.autograd.anomaly import (
    backward_rule,
    check_backward,
    check_forward,
    checks_forward,
    is_anomaly_enabled,
    user_frame,
)
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.devices import check_same_device
from chainrule.errors import BackwardError
from chainrule.tensor import Tensor


class Function:
    """A differentiable operation: ``forward`` on arrays, ``backward`` on Tensors."""

    broadcasts = False  # True: gradients may come back in the broadcast shape and are summed to the input's
    uses_inputs = True  # backward reads the inputs' values: modifying them in place before backward is refused
    uses_outputs = False  # backward reads the outputs' values (via output()): likewise for them
    returns_views = False  # forward may return views of input 0's memory: they share its version counter
    holds: tuple[str, ...] = ()  # attributes whose arrays forward saved from the caller: read-only like inputs
    generation = 0  # 1 + the largest generation among the inputs' creators; backward runs highest first
    released = False  # True once a backward without retain_graph has freed what this node saved
    fast_route = False  # True for a class that defines ``fast_backward`` (set when the subclass is created)

    inputs: tuple[Tensor, ...]
    outputs: tuple[weakref.ref[Tensor], ...]
    needs_input_grad: tuple[bool, ...]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.fast_route = cls.fast_backward is not Function.fast_backward

    @property
    def name(self) -> str:
        return type(self).__name__

    @classmethod
    def has_fast_backward(cls) -> bool:
        """True when the class declares a fast route (``fast_backward``)."""
        return cls.fast_route

    @staticmethod
    def records(inputs: tuple[Tensor, ...] | list[Tensor]) -> bool:
        """True when calling a Function on ``inputs`` now records a node of the graph (grad mode is on and some
        input requires grad): what a forward may ask to decide what to keep for backward."""
        return is_grad_enabled() and any(x.requires_grad for x in inputs)

    def __call__(self, *inputs: Tensor) -> Any:
        arrays = [x._data for x in inputs]
        if backend.devices_in_use and len(arrays) > 1:  # one flag read when only NumPy runs
            check_same_device(self.name, arrays)
        ys = self.forward(*arrays)
        multiple = isinstance(ys, tuple)
        outputs = tuple(Tensor(y) for y in ys) if multiple else (Tensor(ys),)
        if self.returns_views:
            _share_versions(inputs[0], outputs)
        if checks_forward():
            self.created_at = user_frame()
            check_forward(self.name, arrays, [out._data for out in outputs], self.created_at)
        if is_grad_enabled() and any(x.requires_grad for x in inputs):  # records(inputs), inlined: every op passes here
            self.inputs = inputs
            # lists, not generators: every recorded node passes here, and a generator costs a frame per item
            self.saved_versions = tuple([x._version[0] for x in inputs])
            self.needs_input_grad = tuple([x.requires_grad for x in inputs])
            self.generation = max([x.generation for x in inputs])
            for i, out in enumerate(outputs):
                if out._data.dtype.kind == "f":
                    out.requires_grad = True
                    out.creator = self
                    out.generation = self.generation + 1
                    out.output_index = i
            # Weak references: an output holding its creator and the creator holding the output would be a
            # cycle that only the garbage collector frees. The engine keeps outputs alive while it needs them.
            self.outputs = tuple(weakref.ref(out) for out in outputs)
            self.output_specs = tuple((out.shape, out.dtype) for out in outputs)
            if self.uses_outputs:
                self.saved_output_versions = tuple(out._version[0] for out in outputs)
            # The arrays backward will read are read-only until it has run (``saved``): a write into them would
            # otherwise change the gradient silently.
            if self.uses_inputs:
                self._held = saved.hold(arrays if not (self.uses_outputs or self.holds) else self._saved_arrays())
            elif self.uses_outputs or self.holds:
                self._held = saved.hold(self._saved_arrays())
        return outputs if multiple else outputs[0]

    def _saved_arrays(self) -> list[Any]:
        """Every array backward reads: the inputs' (``uses_inputs``), the outputs' (``uses_outputs``) and the
        caller's arrays that forward kept (``holds``)."""
        arrays = [x._data for x in self.inputs] if self.uses_inputs else []
        if self.uses_outputs:
            arrays += [ref()._data for ref in self.outputs]
        return arrays + [getattr(self, name) for name in self.holds]

    def forward(self, *xs: Any) -> Any:
        raise NotImplementedError(f"{self.name}.forward is not implemented")

    def backward(self, *gys: Tensor) -> Any:
        raise NotImplementedError(f"{self.name} has no backward rule")

    def fast_backward(self, *gys: Any) -> Any:
        """Optional: ``backward``'s result on arrays (an array or None per input), for when no graph of the
        backward pass is recorded. A subclass that defines it gets ``fast_route = True``."""
        raise NotImplementedError(f"{self.name} has no fast backward route")

    def output(self, index: int = 0) -> Tensor:
        """Output ``index`` as a Tensor in the graph (for rules such as d exp(x) = exp(x) dx)."""
        out = self.outputs[index]()
        if out is None:  # the engine holds outputs during backward, so this means misuse outside it
            raise BackwardError(f"{self.name}: output {index} is no longer alive")
        return out

    def check_versions(self) -> None:
        """Refuse to backpropagate through values that were modified in place after this node saved them."""
        if self.uses_inputs:
            for i, (x, expected) in enumerate(zip(self.inputs, self.saved_versions)):
                if x._version[0] != expected:
                    raise _modified(self, f"input {i}", x, expected)
        if self.uses_outputs:
            for i, (ref, saved_version) in enumerate(zip(self.outputs, self.saved_output_versions)):
                out = ref()
                if out is not None and out._version[0] != saved_version:
                    raise _modified(self, f"output {i}", out, saved_version)

    def run_backward(self, grad_outputs: list[Tensor | None]) -> list[Tensor | None]:
        """Run this node's backward rule and return one checked gradient (or None) per input, each of its input's
        shape: ``fast_backward`` on arrays when the class has one and no graph of the backward pass is being
        recorded (not ``create_graph``) and anomaly mode is off, else the differentiable ``backward``."""
        self.check_versions()
        anomaly = is_anomaly_enabled()
        if self.fast_route and not anomaly and not is_grad_enabled():
            rule = "fast_backward"
            arrays = [self._zeros(i) if g is None else g._data for i, g in enumerate(grad_outputs)]
            gxs = self._wrap(self.fast_backward(*arrays))
        else:
            rule = "backward"
            gys = [Tensor(self._zeros(i)) if g is None else g for i, g in enumerate(grad_outputs)]
            if anomaly:
                with backward_rule():
                    gxs = self.backward(*gys)
            else:
                gxs = self.backward(*gys)
        if not isinstance(gxs, tuple):
            gxs = (gxs,)
        if len(gxs) != len(self.inputs):
            raise BackwardError(
                f"{self.name}.{rule} returned {len(gxs)} gradients for {len(self.inputs)} inputs"
            )
        result: list[Tensor | None] = []
        for i, (x, gx, needed) in enumerate(zip(self.inputs, gxs, self.needs_input_grad)):
            if gx is None or not needed:
                result.append(None)
                continue
            if not isinstance(gx, Tensor):
                raise BackwardError(
                    f"{self.name}.backward returned a {type(gx).__name__} for input {i}; expected a Tensor"
                )
            if gx._data.shape != x._data.shape:  # the arrays' own attributes: cheaper than the properties
                if self.broadcasts and is_broadcast_of(gx.shape, x.shape):
                    # Deferred: SumTo is itself a Function, so broadcast.py imports this module, not the reverse.
                    from chainrule.autograd.broadcast import sum_to

                    gx = sum_to(gx, x.shape)
                else:
                    raise BackwardError(
                        f"{self.name}.{rule} returned a gradient of shape {gx.shape} for input {i} "
                        f"of shape {x.shape}; a gradient must have its input's shape"
                    )
            if gx._data.dtype != x._data.dtype:
                raise BackwardError(
                    f"{self.name}.{rule} returned a {gx.dtype} gradient for input {i} of dtype {x.dtype}; "
                    f"a gradient must have its input's dtype"
                )
            result.append(gx)
        if anomaly:
            check_backward(self.name, [x._data for x in self.inputs], [None if g is None else g._data for g in result],
                           getattr(self, "created_at", None))
        return result

    def _zeros(self, index: int) -> Any:
        """The gradient of an output nobody used: zeros of its shape and dtype."""
        shape, dtype = self.output_specs[index]
        return backend.get_array_module(self.inputs[0]._data).zeros(shape, dtype=dtype)

    def _wrap(self, gxs: Any) -> Any:
        """``fast_backward``'s arrays as Tensors, so that they meet the same checks as ``backward``'s."""
        multiple = isinstance(gxs, tuple)
        wrapped = []
        for i, g in enumerate(gxs if multiple else (gxs,)):
            if isinstance(g, Tensor):
                raise BackwardError(
                    f"{self.name}.fast_backward returned a Tensor for input {i}; expected an array (a fast route "
                    f"works on raw arrays: return the array itself)"
                )
            wrapped.append(None if g is None else Tensor(g))
        return tuple(wrapped) if multiple else wrapped[0]

    def release(self) -> None:
        """Drop the inputs and everything saved for backward, so that the memory can be reclaimed (and written
        to again)."""
        held = self.__dict__.get("_held")
        if held is not None:
            held.release()
        generation = self.generation
        self.__dict__.clear()
        self.generation = generation
        self.released = True

    def __repr__(self) -> str:
        return f"<{self.name}>"


def _share_versions(x: Tensor, outputs: tuple[Tensor, ...]) -> None:
    """Outputs that view ``x``'s memory share its version counter (as PyTorch's views do), so an in-place write
    through either is seen by every graph that saved the other. An output that had to be copied (a reshape of a
    non-contiguous tensor, advanced indexing) keeps its own."""
    xp = backend.get_array_module(x._data)
    for out in outputs:
        if xp.may_share_memory(out._data, x._data):
            out._version = x._version
            saved.adopt(out._data)


def _modified(fn: Function, which: str, t: Tensor, expected: int) -> BackwardError:
    return BackwardError(
        f"one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"{which} of {fn.name} (a {t.dtype} tensor of shape {t.shape}) is at version {t._version[0]}; expected "
        f"version {expected}. Hint: modify a copy (x = x.detach().clone()), or change it only after backward()"
    )


def is_broadcast_of(big: tuple[int, ...], small: tuple[int, ...]) -> bool:
    """True when ``small`` broadcasts to exactly ``big``."""
    if len(small) > len(big):
        return False
    tail = big[len(big) - len(small):]
    return all(s == b or s == 1 for s, b in zip(small, tail))

