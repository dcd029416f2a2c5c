"""``NAdam``: Adam with Nesterov momentum (Dozat, 2016), PyTorch's algorithm with its momentum schedule."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.ops.operands import check_number
from chainrule.optim.adam import _check_betas
from chainrule.optim.optimizer import Optimizer, _lerp_, _scalar, check_nonnegative, implementation_hints
from chainrule.tensor import Tensor

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam, exactly PyTorch's ``torch.optim.NAdam``.

    Each step t for every parameter p with gradient ∇C (γ = lr, β₁, β₂ = betas, λ = weight_decay,
    ψ = momentum_decay)::

        g    = ∇C  (−∇C if maximize);  g = g + λ·p if λ ≠ 0 (p = p·(1 − γλ) with decoupled_weight_decay)
        μ_t  = β₁·(1 − ½·0.96^(tψ)),  μ_{t+1} = β₁·(1 − ½·0.96^((t+1)ψ))
        Π_t  = Π_{t−1}·μ_t                        (state 'mu_product', Π_0 = 1, kept in float32 as PyTorch)
        m_t  = β₁·m_{t−1} + (1 − β₁)·g,  v_t = β₂·v_{t−1} + (1 − β₂)·g²
        d    = √(v_t/(1 − β₂ᵗ)) + eps
        p    = p − γ(1 − μ_t)/(1 − Π_t) · g/d − γμ_{t+1}/(1 − Π_t·μ_{t+1}) · m_t/d
    """

    _state_names = ("step", "mu_product", "exp_avg", "exp_avg_sq")
    _scalar_state = ("step", "mu_product")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        implementation_hints("NAdam", foreach=foreach, capturable=capturable, differentiable=differentiable)
        betas = tuple(betas) if isinstance(betas, list) else betas
        defaults = {
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        check_nonnegative(where, options, "lr", "eps", "weight_decay")
        _check_betas(where, options["betas"])
        check_number(where, "momentum_decay", options["momentum_decay"], 0.0, finite=True,
                     hint="; hint: momentum_decay sets the momentum schedule, e.g. 4e-3")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        x = p._data
        xp = backend.get_array_module(x)
        lr, weight_decay, psi = group["lr"], group["weight_decay"], group["momentum_decay"]
        beta1, beta2 = group["betas"]
        if "step" not in state:
            state["step"] = 0
            state["mu_product"] = 1.0
            state["exp_avg"] = xp.zeros_like(x)
            state["exp_avg_sq"] = xp.zeros_like(x)
        state["step"] += 1
        step = state["step"]
        g = -grad if group["maximize"] else grad
        bias_correction2 = 1 - beta2**step
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                x *= _scalar(1 - lr * weight_decay, x)
            else:
                g = g + _scalar(weight_decay, x) * x
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
        # PyTorch keeps the product in a float32 scalar tensor: the same rounding keeps the steps equal
        mu_product = float(np.float32(state["mu_product"]) * np.float32(mu))
        state["mu_product"] = mu_product
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        _lerp_(exp_avg, g, 1 - beta1)
        exp_avg_sq *= _scalar(beta2, x)
        exp_avg_sq += _scalar(1 - beta2, x) * g * g
        denom = xp.sqrt(exp_avg_sq / _scalar(bias_correction2, x))
        denom += _scalar(group["eps"], x)
        mu_product_next = mu_product * mu_next
        update = _scalar(-lr * (1.0 - mu) / (1.0 - mu_product), x) * g
        update /= denom
        x += update
        update = _scalar((-lr * mu_next) / (1.0 - mu_product_next), x) * exp_avg
        update /= denom
        x += update
