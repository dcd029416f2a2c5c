"""Checking analytic gradients against central finite differences, in float64.

Two ways to compare (``mode``):

- ``"full"``: the whole Jacobian. Column j of the numeric Jacobian is (f(x + ε·eⱼ) − f(x − ε·eⱼ)) / 2ε; row k of
  the analytic one is a backward pass with the one-hot gradient e_k. Cost: 2·(input elements) forward passes
  and (output elements) backward passes, so only for small tensors.
- ``"fast"``: one random direction per input (Chainer's check): with random u (input-shaped) and v
  (output-shaped), compare vᵀJu from backward (v-weighted gradient · u) with (v·f(x + εu) − v·f(x − εu)) / 2ε.
  Cost: 1 backward pass, and 2 forward passes per input, whatever the size. A wrong backward rule almost
  surely changes vᵀJu. On failure, the element is located from the numeric vᵀJ when the input is small enough.

``"auto"`` takes "full" when inputs and outputs have at most ``full_limit`` elements in all, else "fast".

Kinks. Finite differences straddle a non-differentiable point (relu at 0, |x| at 0, ties in max) when an input
lies within ε of it, and then no analytic value can match. Choose inputs at distance > ε from every kink:
draw them from a seeded generator and push them away, e.g. ``x = rng.uniform(0.1, 1, n) * rng.choice([-1, 1], n)``
for relu/abs, or ``rng.permutation(n)`` scaled for max (distinct values, no ties). The failure report says
when the two one-sided differences disagree, the signature of a kink, so such a case is easy to recognise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.engine import grad
from chainrule.errors import DTypeError, GradcheckError
from chainrule.tensor import Tensor

Fn = Callable[..., Tensor | Sequence[Tensor]]


def gradcheck(
    fn: Fn,
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    mode: str = "auto",
    full_limit: int = 512,
    locate_limit: int = 4096,
    generator: np.random.Generator | None = None,
    raise_exception: bool = True,
) -> bool:
    """True when the gradients of ``fn`` at ``inputs`` match finite differences; otherwise raise (or False).

    Every input with ``requires_grad`` is checked and must be float64. A pair (numeric n, analytic a) passes
    when |a − n| ≤ atol + rtol·|n|. The error names the input, the worst element, both values, the absolute
    and relative errors, the tolerances and the number of failing elements.
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; give the inputs to check requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise DTypeError(
                f"gradcheck: input {i} has dtype {inputs[i].dtype}; finite differences need float64 "
                f"(hint: cr.tensor(values, dtype=cr.float64, requires_grad=True))"
            )
    checker = _Checker(fn, inputs, checked, eps)
    if mode == "auto":
        mode = "full" if checker.n_inputs + checker.n_outputs <= full_limit else "fast"
    if mode == "full":
        failure = checker.full(atol, rtol)
    elif mode == "fast":
        failure = checker.fast(atol, rtol, generator or np.random.default_rng(0), locate_limit)
    else:
        raise ValueError(f"gradcheck: mode must be 'auto', 'full' or 'fast', got {mode!r}")
    if failure is None:
        return True
    if raise_exception:
        raise GradcheckError(failure)
    return False


def gradgradcheck(
    fn: Fn,
    inputs: Tensor | Sequence[Any],
    grad_outputs: Sequence[Tensor] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    mode: str = "auto",
    generator: np.random.Generator | None = None,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: gradcheck of (inputs, v) ↦ vᵀ·∂fn/∂inputs built with ``create_graph=True``.

    ``grad_outputs`` (v) default to random float64 tensors; they are checked as inputs too, since the
    backward pass is linear in them.
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    rng = generator or np.random.default_rng(1)
    outputs = fn(*inputs)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    if grad_outputs is None:
        grad_outputs = [Tensor(_beside(o._data, rng.standard_normal(o.shape)), requires_grad=True) for o in outputs]
    n = len(inputs)
    wrt_index = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_derivative(*args: Tensor) -> tuple[Tensor, ...]:
        xs, vs = list(args[:n]), list(args[n:])
        ys = fn(*xs)
        ys = [ys] if isinstance(ys, Tensor) else list(ys)
        wrt = [xs[i] for i in wrt_index]
        gs = grad(ys, wrt, vs, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(_beside(w._data, np.zeros(w.shape))) for g, w in zip(gs, wrt))

    return gradcheck(
        first_derivative, [*inputs, *grad_outputs], eps, atol, rtol,
        mode=mode, generator=generator, raise_exception=raise_exception,
    )


class _Checker:
    """Evaluates ``fn`` on perturbed copies of the inputs and compares with its backward pass."""

    def __init__(self, fn: Fn, inputs: list[Any], checked: list[int], eps: float) -> None:
        self.fn, self.inputs, self.checked, self.eps = fn, inputs, checked, eps
        outputs = self._call([x._data if isinstance(x, Tensor) else x for x in inputs])
        self.output_shapes = [o.shape for o in outputs]
        self.n_outputs = sum(o.size for o in outputs)
        self.n_inputs = sum(inputs[i]._data.size for i in checked)

    def _call(self, arrays: list[Any], graph: bool = False) -> Any:
        """fn on fresh leaf tensors holding ``arrays``; float64 output arrays (or the Tensors with ``graph``)."""
        xs = [
            Tensor(a.copy(), requires_grad=x.requires_grad) if isinstance(x, Tensor) else x
            for a, x in zip(arrays, self.inputs)
        ]
        ys = self.fn(*xs)
        ys = [ys] if isinstance(ys, Tensor) else list(ys)
        if graph:
            return xs, ys
        return [backend.to_numpy(y._data).astype(np.float64, copy=False) for y in ys]

    def _flat_outputs(self, arrays: list[Any]) -> np.ndarray:
        return np.concatenate([o.ravel() for o in self._call(arrays)])

    def _arrays(self) -> list[Any]:
        return [x._data if isinstance(x, Tensor) else x for x in self.inputs]

    def _perturbed(self, i: int, delta: np.ndarray) -> list[Any]:
        arrays = self._arrays()
        arrays[i] = arrays[i] + _beside(arrays[i], delta)
        return arrays

    def _vjp(self, weights: list[np.ndarray]) -> list[np.ndarray]:
        """Σ_k weights_k · ∂f_k/∂x for every checked input, from one backward pass."""
        xs, ys = self._call(self._arrays(), graph=True)
        wrt = [xs[i] for i in self.checked]
        differentiable = [(y, w) for y, w in zip(ys, weights) if y.requires_grad]
        if not differentiable:
            return [np.zeros(x.shape) for x in wrt]
        gs = grad([y for y, _ in differentiable], wrt, [Tensor(_beside(y._data, w)) for y, w in differentiable],
                  allow_unused=True)
        return [np.zeros(x.shape) if g is None else backend.to_numpy(g._data).astype(np.float64, copy=False)
                for g, x in zip(gs, wrt)]

    def full(self, atol: float, rtol: float) -> str | None:
        eps = self.eps
        analytic_rows = []  # one backward pass per output element
        sizes = [int(np.prod(s)) for s in self.output_shapes]
        for k in range(self.n_outputs):
            onehot = np.zeros(self.n_outputs)
            onehot[k] = 1
            weights = [w.reshape(s) for w, s in zip(np.split(onehot, np.cumsum(sizes)[:-1]), self.output_shapes)]
            analytic_rows.append(np.concatenate([g.ravel() for g in self._vjp(weights)]))
        analytic = np.array(analytic_rows).reshape(self.n_outputs, self.n_inputs)
        offset = 0
        for i in self.checked:
            x = self.inputs[i]._data
            numeric = np.empty((self.n_outputs, x.size))
            for j in range(x.size):
                delta = np.zeros(x.size)
                delta[j] = eps
                delta = delta.reshape(x.shape)
                plus = self._flat_outputs(self._perturbed(i, delta))
                minus = self._flat_outputs(self._perturbed(i, -delta))
                numeric[:, j] = (plus - minus) / (2 * eps)
            block = analytic[:, offset : offset + x.size]
            offset += x.size
            failure = _compare(numeric, block, atol, rtol)
            if failure is not None:
                k, j, n_bad = failure
                return self._report(i, j, k, numeric[k, j], block[k, j], atol, rtol, n_bad, numeric.size)
        return None

    def fast(self, atol: float, rtol: float, rng: np.random.Generator, locate_limit: int) -> str | None:
        eps = self.eps
        v = [rng.standard_normal(s) for s in self.output_shapes]
        v_flat = np.concatenate([w.ravel() for w in v])
        vjp = self._vjp(v)
        for slot, i in enumerate(self.checked):
            x = self.inputs[i]._data
            u = rng.standard_normal(x.shape)
            analytic = float(np.sum(vjp[slot] * u))
            plus = self._flat_outputs(self._perturbed(i, eps * u)) @ v_flat
            minus = self._flat_outputs(self._perturbed(i, -eps * u)) @ v_flat
            numeric = (plus - minus) / (2 * eps)
            if abs(analytic - numeric) <= atol + rtol * abs(numeric):
                continue
            where = f"along a random direction u (vᵀJu, v random over the {self.n_outputs} output elements)"
            if x.size <= locate_limit:  # find the element: numeric vᵀJ one coordinate at a time
                numeric_vjp = np.empty(x.size)
                for j in range(x.size):
                    delta = np.zeros(x.size)
                    delta[j] = eps
                    delta = delta.reshape(x.shape)
                    p = self._flat_outputs(self._perturbed(i, delta)) @ v_flat
                    m = self._flat_outputs(self._perturbed(i, -delta)) @ v_flat
                    numeric_vjp[j] = (p - m) / (2 * eps)
                failure = _compare(numeric_vjp[None], vjp[slot].ravel()[None], atol, rtol)
                if failure is not None:
                    _, j, n_bad = failure
                    return self._report(
                        i, j, None, numeric_vjp[j], vjp[slot].ravel()[j], atol, rtol, n_bad, x.size,
                        note="values are vᵀJ for a random output weighting v",
                    )
            return (
                f"gradcheck failed for input {i} (shape {x.shape}) {where}:\n"
                f"  numeric  {numeric:.10g}\n  analytic {analytic:.10g}\n"
                f"  abs error {abs(analytic - numeric):.3g}, rel error {_rel(analytic, numeric):.3g}, "
                f"tolerance atol={atol:g} + rtol={rtol:g}·|numeric|"
            )
        return None

    def _report(
        self, i: int, j: int, k: int | None, numeric: float, analytic: float, atol: float, rtol: float,
        n_bad: int, n_total: int, note: str = "",
    ) -> str:
        x = self.inputs[i]._data
        element = tuple(int(c) for c in np.unravel_index(j, x.shape)) if x.shape else ()
        out = ""
        if k is not None:
            out_index, offset = 0, k
            while offset >= int(np.prod(self.output_shapes[out_index])):
                offset -= int(np.prod(self.output_shapes[out_index]))
                out_index += 1
            position = tuple(int(c) for c in np.unravel_index(offset, self.output_shapes[out_index]))
            out = f" of output {out_index} at {position}"
        lines = [
            f"gradcheck failed for input {i} (shape {x.shape}): worst element {element}{out}",
            f"  numeric  {numeric:.10g}",
            f"  analytic {analytic:.10g}",
            f"  abs error {abs(analytic - numeric):.3g}, rel error {_rel(analytic, numeric):.3g}; "
            f"tolerance atol={atol:g} + rtol={rtol:g}·|numeric|",
            f"  {n_bad} of {n_total} compared values fail",
        ]
        if note:
            lines.append(f"  ({note})")
        kink = self._kink(i, j, k)
        if kink:
            lines.append(kink)
        return "\n".join(lines)

    def _kink(self, i: int, j: int, k: int | None) -> str:
        """A hint when the one-sided differences disagree: the input sits on a non-differentiable point."""
        if k is None:
            return ""
        x = self.inputs[i]._data
        delta = np.zeros(x.size)
        delta[j] = self.eps
        delta = delta.reshape(x.shape)
        center = self._flat_outputs(self._arrays())[k]
        right = (self._flat_outputs(self._perturbed(i, delta))[k] - center) / self.eps
        left = (center - self._flat_outputs(self._perturbed(i, -delta))[k]) / self.eps
        if abs(right - left) > 1e-3 * max(1.0, abs(right), abs(left)):
            return (
                f"  one-sided differences disagree (left {left:.6g}, right {right:.6g}): the input is within "
                f"eps of a kink (relu/abs at 0, a tie in max); move it away, see the gradcheck docstring"
            )
        return ""


def _rel(analytic: float, numeric: float) -> float:
    return abs(analytic - numeric) / abs(numeric) if numeric else float("inf")


def _compare(numeric: np.ndarray, analytic: np.ndarray, atol: float, rtol: float) -> tuple[int, int, int] | None:
    """(row, column, count) of the worst failing pair, or None when all pass."""
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    excess = np.where(np.isnan(excess), np.inf, excess)
    bad = excess > 0
    if not bad.any():
        return None
    k, j = np.unravel_index(int(np.argmax(excess)), excess.shape)
    return int(k), int(j), int(bad.sum())


def _beside(array: Any, host: np.ndarray) -> Any:
    """``host`` (a perturbation, a weighting drawn on the host) on the device of ``array``: the checks compute on
    the device of the inputs and compare on the host."""
    return backend.to_device(host, array.device.id) if backend.is_device_array(array) else host
