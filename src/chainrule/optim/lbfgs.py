"""``LBFGS``: limited-memory BFGS with PyTorch's algorithm, options and state, driven by a closure.

All parameters are treated as one flat vector x (in parameter order). Each iteration picks a direction d from the
last ``history_size`` pairs (s, y) of steps and gradient changes by the two-loop recursion (Nocedal & Wright,
Numerical Optimization, Algorithm 7.4), which applies the inverse-Hessian estimate H to −∇f without forming it:

    q = −∇f;  for i newest → oldest:  α_i = ρ_i·s_iᵀq,  q = q − α_i·y_i          (ρ_i = 1/(y_iᵀs_i))
    r = H₀·q (H₀ = γ·I, γ = yᵀs/yᵀy of the newest pair);  for i oldest → newest:  β = ρ_i·y_iᵀr,  r = r + (α_i − β)·s_i
    d = r

then steps x ← x + t·d, with t = lr (the first iteration: lr·min(1, 1/‖∇f‖₁)), or with t from a line search that
satisfies the strong Wolfe conditions (``line_search_fn='strong_wolfe'``: bracketing, then zooming with cubic
interpolation; Algorithms 3.5 and 3.6). A pair enters the history only when yᵀs > 1e-10 (curvature condition), so
H stays positive definite. One ``step(closure)`` runs up to ``max_iter`` iterations and ``max_eval`` evaluations.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.grad_mode import enable_grad
from chainrule.autograd.saved import unlocked
from chainrule.errors import ArgumentError
from chainrule.optim.optimizer import Optimizer
from chainrule.tensor import Tensor

__all__ = ["LBFGS"]

Closure = Callable[[], Any]


class LBFGS(Optimizer):
    """L-BFGS, PyTorch's ``torch.optim.LBFGS``: one parameter group; ``step`` needs a closure that clears the
    gradients, computes the loss, calls ``backward`` and returns the loss."""

    _scalar_state = ("func_evals", "n_iter", "t", "H_diag", "prev_loss")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ArgumentError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        super().__init__(params, {
            "lr": lr, "max_iter": max_iter, "max_eval": max_eval, "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change, "history_size": history_size, "line_search_fn": line_search_fn,
        })
        if len(self.param_groups) != 1:
            raise ArgumentError("LBFGS: doesn't support per-parameter options (parameter groups); pass one list")
        self._params = self.param_groups[0]["params"]

    def _check_options(self, options: Any, where: str) -> None:
        for name in ("lr", "tolerance_grad", "tolerance_change"):
            value = options[name]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                raise ArgumentError(f"{where}: {name} must be a finite number ≥ 0, got {value!r}")
        for name in ("max_iter", "max_eval", "history_size"):
            value = options[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ArgumentError(f"{where}: {name} must be a positive int, got {value!r}")

    # ----- the flat vector -------------------------------------------------------------------------------
    def _flat_grad(self) -> Any:
        parts = []
        for p in self._params:
            g = p.grad._data if p.grad is not None else backend.get_array_module(p._data).zeros_like(p._data)
            parts.append(g.reshape(-1))
        return backend.get_array_module(*parts).concatenate(parts) if parts else np.zeros(0)

    def _add(self, t: float, d: Any) -> None:
        """x ← x + t·d, parameter by parameter, in place."""
        offset = 0
        for p in self._params:
            n = p._data.size
            with unlocked("LBFGS.step", p._data):  # a graph may still hold p read-only: its version will tell it
                p._data += p._data.dtype.type(t) * d[offset:offset + n].reshape(p._data.shape)
            p.bump_version()
            offset += n

    def _values(self) -> list[Any]:
        return [p._data.copy() for p in self._params]

    def _set(self, values: list[Any]) -> None:
        for p, v in zip(self._params, values):
            with unlocked("LBFGS.step", p._data):
                p._data[...] = v
            p.bump_version()

    def _evaluate(self, closure: Closure, x: list[Any], t: float, *, d: Any) -> tuple[float, Any]:
        """f and ∇f at x + t·d (the parameters are left at x)."""
        self._add(t, d)
        loss = float(_value(closure()))
        grad = self._flat_grad()
        self._set(x)
        return loss, grad

    # ----- one step --------------------------------------------------------------------------------------
    def step(self, closure: Closure | None = None) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` iterations; returns the loss of the first evaluation (as PyTorch)."""
        if closure is None:
            raise ArgumentError("LBFGS.step: a closure is required (it must clear the gradients, compute the "
                                "loss, call backward and return the loss)")
        closure = enable_grad()(closure)
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        state = self.state[self._params[0]]
        if backend.devices_in_use:  # a history loaded, or made before the model moved, follows the parameters
            _follow_device(state, self._params[0]._data)
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(_value(orig_loss))
        evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if _abs_max(flat_grad) <= tol_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs", []), state.get("old_stps", []), state.get("ro", [])
        h_diag, prev_loss = state.get("H_diag", 1.0), state.get("prev_loss")
        prev_flat_grad = state.get("prev_flat_grad")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, old_dirs, old_stps, ro, h_diag = -flat_grad, [], [], [], 1.0
            else:
                y, s = flat_grad - prev_flat_grad, d * t
                ys = float(y @ s)
                if ys > 1e-10:  # the curvature condition: keep H positive definite
                    if len(old_dirs) == group["history_size"]:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y), old_stps.append(s), ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                d = _two_loop(-flat_grad, old_dirs, old_stps, ro, h_diag)
            prev_flat_grad, prev_loss = flat_grad.copy(), loss
            t = (min(1.0, 1.0 / float(abs(flat_grad).sum())) * lr) if state["n_iter"] == 1 else lr
            gtd = float(flat_grad @ d)
            if gtd > -tol_change:  # not a descent direction (to within the tolerance)
                break
            if group["line_search_fn"] == "strong_wolfe":
                along = functools.partial(self._evaluate, closure, self._values(), d=d)
                loss, flat_grad, t, used = _strong_wolfe(  # at most the evaluations left in this step
                    along, t, d, loss, flat_grad, gtd, max_ls=max_eval - evals)
                self._add(t, d)
                done = _abs_max(flat_grad) <= tol_grad
            else:
                self._add(t, d)
                used, done = 0, False
                if n_iter != max_iter:  # the last iteration's loss is not needed
                    with enable_grad():
                        loss = float(_value(closure()))
                    flat_grad = self._flat_grad()
                    done = _abs_max(flat_grad) <= tol_grad
                    used = 1
            evals += used
            state["func_evals"] += used
            if n_iter == max_iter or evals >= max_eval or done:
                break
            if _abs_max(d * t) <= tol_change or abs(loss - prev_loss) < tol_change:
                break  # the step or the change of the loss is below the tolerance

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    def state_dict(self) -> dict[str, Any]:
        """PyTorch's layout: the state lives under parameter 0; its history lists hold flat arrays."""
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group["params"] = list(range(len(self._params)))
        state = {}
        if self._params and self.state.get(self._params[0]):
            state[0] = {k: ([_copy(a) for a in v] if isinstance(v, list) else _copy(v))
                        for k, v in self.state[self._params[0]].items()}
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: Any) -> None:
        groups = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        if not isinstance(groups, list) or len(groups) != 1 or len(groups[0].get("params", ())) != len(self._params):
            raise ArgumentError(
                f"LBFGS.load_state_dict: expected one parameter group of {len(self._params)} parameters (a state "
                f"dict from LBFGS.state_dict() of the same model)")
        self.param_groups[0].update({k: v for k, v in groups[0].items() if k != "params"})
        saved = state_dict.get("state", {}).get(0)
        self.state.clear()
        if saved:
            self.state[self._params[0]] = {
                k: ([_copy(a) for a in v] if isinstance(v, list) else _copy(v)) for k, v in saved.items()}


def _copy(value: Any) -> Any:
    """An array copied to the host (state_dict hands out and takes in values that share nothing); numbers as they
    are."""
    return np.array(backend.to_numpy(value)) if backend.is_array(value) else value


def _follow_device(state: dict[str, Any], like: Any) -> None:
    """The history's arrays (and lists of them) moved, in place, to the device of ``like``."""
    index = like.device.id if backend.is_device_array(like) else None

    def moved(value: Any) -> Any:
        return backend.to_device(value, index) if backend.is_array(value) else value

    for name, value in state.items():
        state[name] = [moved(v) for v in value] if isinstance(value, list) else moved(value)


def _abs_max(a: Any) -> float:
    """max |aᵢ| (0 for an empty array), with the array's own methods: NumPy's or the device module's."""
    return float(abs(a).max()) if a.size else 0.0


def _value(loss: Any) -> Any:
    return loss.item() if isinstance(loss, Tensor) else loss


def _two_loop(q: Any, dirs: list[Any], steps: list[Any], ro: list[float], h_diag: float) -> Any:
    """H·q by the two-loop recursion over the history (y = ``dirs``, s = ``steps``)."""
    alphas = [0.0] * len(dirs)
    for i in range(len(dirs) - 1, -1, -1):
        alphas[i] = float(steps[i] @ q) * ro[i]
        q = q - alphas[i] * dirs[i]
    r = q * h_diag
    for i in range(len(dirs)):
        beta = float(dirs[i] @ r) * ro[i]
        r = r + (alphas[i] - beta) * steps[i]
    return r


def _cubic_minimum(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                   bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through (x1, f1, f1') and (x2, f2, f2'), clamped to ``bounds`` (default: the
    interval between x1 and x2); the middle of the bounds when the cubic has no minimum."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    square = d1 * d1 - g1 * g2
    if square >= 0:
        d2 = math.sqrt(square)
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)) if x1 <= x2 else \
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(x, lo), hi)
    return (lo + hi) / 2


def _strong_wolfe(evaluate: Callable[[float], tuple[float, Any]], t: float, d: Any, f: float, g: Any, gtd: float,
                  c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9, max_ls: int = 25
                  ) -> tuple[float, Any, float, int]:
    """A step t along d satisfying the strong Wolfe conditions f(t) ≤ f + c1·t·gᵀd and |∇f(t)ᵀd| ≤ c2·|gᵀd|:
    (f(t), ∇f(t), t, evaluations). Bracket an interval that contains such a t (growing t while f decreases and
    the slope stays negative), then shrink it with cubic interpolation (Nocedal & Wright, Algorithms 3.5, 3.6)."""
    d_norm = _abs_max(d)
    f_new, g_new = evaluate(t)
    evals, gtd_new = 1, float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    bracket: list[float] = []
    found = False
    while evals <= max_ls:  # max_ls evaluations after the first
        if f_new > f + c1 * t * gtd or (evals > 2 and f_new >= f_prev):
            bracket, fs, gs, slopes = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            return f_new, g_new, t, evals
        if gtd_new >= 0:
            bracket, fs, gs, slopes = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # extrapolate: a cubic step between 1.01·t and 10·t
        t_next = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, (t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals, gtd_new = evals + 1, float(g_new @ d)
    else:
        bracket, fs, gs, slopes = [0.0, t], [f, f_new], [g, g_new], [gtd, gtd_new]
    # zoom: shrink the bracket [lo, hi] (lo the end with the lower f) until a point meets both conditions
    insufficient = False
    while not found and evals <= max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], fs[0], slopes[0], bracket[1], fs[1], slopes[1])
        lo_b, hi_b = min(bracket), max(bracket)
        eps = 0.1 * (hi_b - lo_b)
        if min(hi_b - t, t - lo_b) < eps:  # too close to an end: move it inside, unless it was already
            if insufficient or t >= hi_b or t <= lo_b:
                t = hi_b - eps if abs(t - hi_b) < abs(t - lo_b) else lo_b + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals, gtd_new = evals + 1, float(g_new @ d)
        low, high = (0, 1) if fs[0] <= fs[1] else (1, 0)
        if f_new > f + c1 * t * gtd or f_new >= fs[low]:
            bracket[high], fs[high], gs[high], slopes[high] = t, f_new, g_new, gtd_new
        else:
            if abs(gtd_new) <= -c2 * gtd:
                found = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], fs[high], gs[high], slopes[high] = bracket[low], fs[low], gs[low], slopes[low]
            bracket[low], fs[low], gs[low], slopes[low] = t, f_new, g_new, gtd_new
    low = 0 if fs[0] <= fs[1] else 1
    return fs[low], gs[low], bracket[low], evals
