"""``Adagrad``: PyTorch's algorithm, with learning-rate decay and an initial accumulator value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chainrule import backend
from chainrule.optim.optimizer import Optimizer, _scalar, check_nonnegative, implementation_hints
from chainrule.tensor import Tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, 2011), exactly PyTorch's ``torch.optim.Adagrad``.

    Each step t = 1, 2, … for every parameter p with gradient ∇C (γ = lr, η = lr_decay, λ = weight_decay)::

        g   = ∇C  (−∇C if maximize)
        g   = g + λ·p                        if λ ≠ 0
        γ_t = γ / (1 + (t − 1)·η)
        s_t = s_{t−1} + g²                    (state 'sum', s_0 = initial_accumulator_value)
        p   = p − γ_t · g / (√s_t + eps)

    As in PyTorch the state (``'step'`` = 0 and ``'sum'``) is created for every parameter when it joins the
    optimizer, not at its first step.
    """

    _state_names = ("step", "sum")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        implementation_hints("Adagrad", foreach=foreach, differentiable=differentiable, fused=fused)
        defaults = {
            "lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value, "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        check_nonnegative(where, options, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if "step" not in state:
            state["step"] = 0
            xp = backend.get_array_module(p._data)
            state["sum"] = xp.full_like(p._data, group["initial_accumulator_value"])
        return state

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        x = p._data
        xp = backend.get_array_module(x)
        state = self._init_state(p, group)
        state["step"] += 1
        step = state["step"]
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + _scalar(group["weight_decay"], x) * x
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        state_sum = state["sum"]
        state_sum += g * g
        std = xp.sqrt(state_sum)
        std += _scalar(group["eps"], x)
        update = _scalar(-clr, x) * g
        update /= std
        x += update
