"""``Adam`` and ``AdamW`` (decoupled weight decay), with AMSGrad: PyTorch's algorithms."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chainrule import backend
from chainrule.errors import ArgumentTypeError
from chainrule.ops.operands import check_number, describe
from chainrule.optim.optimizer import Optimizer, _lerp_, _scalar, check_nonnegative, implementation_hints
from chainrule.tensor import Tensor

__all__ = ["Adam", "AdamW"]


def _check_betas(where: str, betas: Any) -> None:
    """betas = (β₁, β₂), each in [0, 1): a β of 1 never forgets (the bias correction divides by 0)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ArgumentTypeError(f"{where}: argument 'betas' must be a pair (beta1, beta2), got {describe(betas)}; "
                                f"hint: e.g. betas=(0.9, 0.999)")
    for i, beta in enumerate(betas):
        check_number(where, f"betas[{i}]", beta, 0.0, 1.0, high_open=True,
                     hint=f"; hint: the beta parameter at index {i} is a decay rate below 1, e.g. betas=(0.9, 0.999)")


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), exactly PyTorch's ``torch.optim.Adam``.

    Each step t = 1, 2, … for every parameter p with gradient ∇C (γ = lr, β₁, β₂ = betas, λ = weight_decay)::

        g   = ∇C  (−∇C if maximize)
        g   = g + λ·p                      if λ ≠ 0 (L2 penalty; with decoupled_weight_decay: p = p·(1 − γλ))
        m_t = β₁·m_{t−1} + (1 − β₁)·g       first moment   (state 'exp_avg', m_0 = 0)
        v_t = β₂·v_{t−1} + (1 − β₂)·g²      second moment  (state 'exp_avg_sq', v_0 = 0)
        v̂   = max(v̂, v_t) if amsgrad, else v_t              (state 'max_exp_avg_sq')
        p   = p − γ/(1 − β₁ᵗ) · m_t / (√v̂ / √(1 − β₂ᵗ) + eps)

    The factors 1/(1 − βᵗ) are the bias corrections: m and v start at 0, so E[m_t] = (1 − β₁ᵗ)·E[g]
    (for a stationary gradient) and dividing undoes that shrinkage; see docs/optim.md. ``'step'`` (t) is
    a Python int in the state.
    """

    _state_names = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        implementation_hints("Adam", foreach=foreach, capturable=capturable, differentiable=differentiable,
                             fused=fused)
        betas = tuple(betas) if isinstance(betas, list) else betas  # checked as a pair with the other options
        defaults = {
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
            "maximize": maximize, "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        check_nonnegative(where, options, "lr", "eps", "weight_decay")
        _check_betas(where, options["betas"])

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        x = p._data
        xp = backend.get_array_module(x)
        lr, weight_decay, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(x)
            state["exp_avg_sq"] = xp.zeros_like(x)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = xp.zeros_like(x)
        state["step"] += 1
        step = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]

        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                x *= _scalar(1 - lr * weight_decay, x)
            else:
                g = g + _scalar(weight_decay, x) * x
        _lerp_(exp_avg, g, 1 - beta1)                         # m = β₁m + (1 − β₁)g
        exp_avg_sq *= _scalar(beta2, x)
        exp_avg_sq += _scalar(1 - beta2, x) * g * g           # v = β₂v + (1 − β₂)g²

        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        if group["amsgrad"]:
            max_exp_avg_sq = state["max_exp_avg_sq"]
            xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            denom = xp.sqrt(max_exp_avg_sq)
        else:
            denom = xp.sqrt(exp_avg_sq)
        denom /= _scalar(bias_correction2_sqrt, x)
        denom += _scalar(eps, x)
        update = _scalar(-step_size, x) * exp_avg
        update /= denom
        x += update


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), exactly PyTorch's ``torch.optim.AdamW``.

    The decay is applied to the weights, not added to the gradient, before the Adam step::

        p = p − γ·λ·p           (written p = p·(1 − γλ), as PyTorch computes it)
        p = p − γ/(1 − β₁ᵗ) · m_t / (√v̂ / √(1 − β₂ᵗ) + eps)     (the Adam step on the raw gradient)

    so the decay is not rescaled by the adaptive denominator. Default weight_decay = 1e-2.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        implementation_hints("AdamW", foreach=foreach, capturable=capturable, differentiable=differentiable,
                             fused=fused)
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, decoupled_weight_decay=True)
