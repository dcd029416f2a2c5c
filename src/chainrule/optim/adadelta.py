"""``Adadelta``: PyTorch's algorithm (Zeiler, 2012)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chainrule import backend
from chainrule.errors import ArgumentError
from chainrule.optim.optimizer import _MEANING, Optimizer, _scalar, check_nonnegative, implementation_hints
from chainrule.tensor import Tensor

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta, exactly PyTorch's ``torch.optim.Adadelta``.

    Each step, for every parameter p with gradient ∇C (γ = lr, ρ = rho, λ = weight_decay)::

        g   = ∇C  (−∇C if maximize)
        g   = g + λ·p                               if λ ≠ 0
        v_t = ρ·v_{t−1} + (1 − ρ)·g²                 (state 'square_avg', v_0 = 0)
        Δ   = √(u_{t−1} + eps) / √(v_t + eps) · g    (the step in the units of p: the RMS of past steps over
                                                     the RMS of gradients)
        u_t = ρ·u_{t−1} + (1 − ρ)·Δ²                 (state 'acc_delta', u_0 = 0)
        p   = p − γ·Δ
    """

    _state_names = ("step", "square_avg", "acc_delta")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        implementation_hints("Adadelta", foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                                  "maximize": maximize})

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        check_nonnegative(where, options, "lr", "eps", "weight_decay", "rho")
        if options["rho"] > 1:
            raise ArgumentError(f"{where}: rho must be in [0, 1], got {options['rho']}; hint: {_MEANING['rho']}")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        x = p._data
        xp = backend.get_array_module(x)
        lr, rho, eps, weight_decay = group["lr"], group["rho"], group["eps"], group["weight_decay"]
        if "step" not in state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(x)
            state["acc_delta"] = xp.zeros_like(x)
        state["step"] += 1
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + _scalar(weight_decay, x) * x
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= _scalar(rho, x)
        square_avg += _scalar(1 - rho, x) * g * g
        delta = xp.sqrt(acc_delta + _scalar(eps, x))
        delta /= xp.sqrt(square_avg + _scalar(eps, x))
        delta *= g
        acc_delta *= _scalar(rho, x)
        acc_delta += _scalar(1 - rho, x) * delta * delta
        delta *= _scalar(-lr, x)
        x += delta
