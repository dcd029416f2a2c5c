"""``RAdam``: Adam with the variance of its adaptive lr rectified (Liu et al., 2020), PyTorch's algorithm."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chainrule import backend
from chainrule.optim.adam import _check_betas
from chainrule.optim.optimizer import Optimizer, _lerp_, _scalar, check_nonnegative, implementation_hints
from chainrule.tensor import Tensor

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""RAdam, exactly PyTorch's ``torch.optim.RAdam``.

    Each step t for every parameter p with gradient ∇C (γ = lr, β₁, β₂ = betas, λ = weight_decay)::

        g   = ∇C  (−∇C if maximize);  g = g + λ·p if λ ≠ 0 (p = p·(1 − γλ) with decoupled_weight_decay)
        m_t = β₁·m_{t−1} + (1 − β₁)·g,  v_t = β₂·v_{t−1} + (1 − β₂)·g²
        ρ_∞ = 2/(1 − β₂) − 1,  ρ_t = ρ_∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)      (length of the approximated moving average)
        if ρ_t > 5:  r = √((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t))
                     p = p − γ · m_t/(1 − β₁ᵗ) · √(1 − β₂ᵗ)/(√v_t + eps) · r
        else:        p = p − γ · m_t/(1 − β₁ᵗ)         (momentum SGD while the variance is not yet tractable)
    """

    _state_names = ("step", "exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        implementation_hints("RAdam", foreach=foreach, capturable=capturable, differentiable=differentiable)
        betas = tuple(betas) if isinstance(betas, list) else betas
        defaults = {
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
            "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        check_nonnegative(where, options, "lr", "eps", "weight_decay")
        _check_betas(where, options["betas"])

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        x = p._data
        xp = backend.get_array_module(x)
        lr, weight_decay = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(x)
            state["exp_avg_sq"] = xp.zeros_like(x)
        state["step"] += 1
        step = state["step"]
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                x *= _scalar(1 - lr * weight_decay, x)
            else:
                g = g + _scalar(weight_decay, x) * x
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        _lerp_(exp_avg, g, 1 - beta1)
        exp_avg_sq *= _scalar(beta2, x)
        exp_avg_sq += _scalar(1 - beta2, x) * g * g
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        update = exp_avg / _scalar(bias_correction1, x)
        update *= _scalar(lr, x)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = xp.sqrt(exp_avg_sq)
            adaptive += _scalar(group["eps"], x)
            update *= _scalar(bias_correction2**0.5, x) / adaptive
            update *= _scalar(rect, x)
        x -= update
