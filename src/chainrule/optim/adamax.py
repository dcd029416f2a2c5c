"""``Adamax``: Adam with the infinity norm (Kingma & Ba, 2015, §7.1), PyTorch's algorithm."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chainrule import backend
from chainrule.optim.adam import _check_betas
from chainrule.optim.optimizer import Optimizer, _lerp_, _scalar, check_nonnegative, implementation_hints
from chainrule.tensor import Tensor

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax, exactly PyTorch's ``torch.optim.Adamax``.

    Each step t for every parameter p with gradient ∇C (γ = lr, β₁, β₂ = betas, λ = weight_decay)::

        g   = ∇C  (−∇C if maximize);  g = g + λ·p if λ ≠ 0
        m_t = β₁·m_{t−1} + (1 − β₁)·g          (state 'exp_avg', m_0 = 0)
        u_t = max(β₂·u_{t−1}, |g| + eps)        (state 'exp_inf', u_0 = 0: an exponentially weighted ∞-norm)
        p   = p − γ/(1 − β₁ᵗ) · m_t / u_t
    """

    _state_names = ("step", "exp_avg", "exp_inf")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        implementation_hints("Adamax", foreach=foreach, capturable=capturable, differentiable=differentiable)
        betas = tuple(betas) if isinstance(betas, list) else betas
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        check_nonnegative(where, options, "lr", "eps", "weight_decay")
        _check_betas(where, options["betas"])

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        x = p._data
        xp = backend.get_array_module(x)
        beta1, beta2 = group["betas"]
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(x)
            state["exp_inf"] = xp.zeros_like(x)
        state["step"] += 1
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + _scalar(group["weight_decay"], x) * x
        _lerp_(exp_avg, g, 1 - beta1)
        exp_inf *= _scalar(beta2, x)
        bound = xp.abs(g)
        bound += _scalar(group["eps"], x)
        xp.maximum(exp_inf, bound, out=exp_inf)
        clr = group["lr"] / (1 - beta1 ** state["step"])
        update = _scalar(-clr, x) * exp_avg
        update /= exp_inf
        x += update
