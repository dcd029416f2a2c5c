"""``RMSprop``: PyTorch's algorithm, with momentum and the centered variant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chainrule import backend
from chainrule.optim.optimizer import Optimizer, _lerp_, _scalar, check_nonnegative, implementation_hints
from chainrule.tensor import Tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), exactly PyTorch's ``torch.optim.RMSprop``.

    Each step, for every parameter p with gradient ∇C (γ = lr, α = alpha, μ = momentum, λ = weight_decay)::

        g   = ∇C  (−∇C if maximize)
        g   = g + λ·p                       if λ ≠ 0
        v_t = α·v_{t−1} + (1 − α)·g²         (state 'square_avg', v_0 = 0)
        ḡ_t = α·ḡ_{t−1} + (1 − α)·g          if centered  (state 'grad_avg')
        d   = √(v_t − ḡ_t²) + eps  if centered,  else  √v_t + eps
        b_t = μ·b_{t−1} + g/d,  p = p − γ·b_t   if μ > 0 (state 'momentum_buffer', b_0 = 0)
        p   = p − γ·g/d                       otherwise

    The centered form divides by an estimate of the gradient's standard deviation instead of its RMS.
    """

    _state_names = ("step", "square_avg", "momentum_buffer", "grad_avg")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
    ) -> None:
        implementation_hints("RMSprop", capturable=capturable, foreach=foreach, differentiable=differentiable)
        defaults = {
            "lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay, "momentum": momentum,
            "centered": centered, "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        check_nonnegative(where, options, "lr", "eps", "momentum", "weight_decay", "alpha")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        x = p._data
        xp = backend.get_array_module(x)
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        if "step" not in state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(x)
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = xp.zeros_like(x)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = xp.zeros_like(x)
        state["step"] += 1

        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + _scalar(weight_decay, x) * x
        square_avg = state["square_avg"]
        square_avg *= _scalar(alpha, x)
        square_avg += _scalar(1 - alpha, x) * g * g
        if group["centered"]:
            grad_avg = state["grad_avg"]
            _lerp_(grad_avg, g, 1 - alpha)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += _scalar(eps, x)
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= _scalar(momentum, x)
            buf += g / avg
            x -= _scalar(lr, x) * buf
        else:
            update = _scalar(-lr, x) * g
            update /= avg
            x += update
