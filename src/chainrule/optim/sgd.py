"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay (PyTorch's)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chainrule import backend
from chainrule.errors import ArgumentError
from chainrule.optim.optimizer import Optimizer, _scalar, check_nonnegative, implementation_hints
from chainrule.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, exactly PyTorch's ``torch.optim.SGD``.

    Each step, for every parameter p with gradient ∇C (ε = lr, μ = momentum, τ = dampening, λ = weight_decay)::

        g   = ∇C  (−∇C if maximize)
        g   = g + λ·p                       if λ ≠ 0
        b_t = μ·b_{t−1} + (1 − τ)·g         if μ ≠ 0   (first step: b_1 = g)
        g   = g + μ·b_t  if nesterov,  else  g = b_t
        p   = p − ε·g

    The momentum buffer ``b`` is the state entry ``'momentum_buffer'`` (absent when μ = 0).

    **This is the textbook momentum update.** Write w_t for the weights before step t and
    Δw_t = w_{t+1} − w_t for the step's increment. With a constant ε, τ = 0 and no Nesterov,
    Δw_t = −ε·b_t and b_t = μ·b_{t−1} + ∂C/∂w + λ·w_t, so

        Δw_t = −ε·b_t = μ·(−ε·b_{t−1}) − ε·(∂C/∂w + λ·w_t)
             = −ε·∂C/∂w + α·Δw_{t−1} − ε·λ·w_t,        α = μ,  Δw_0 = 0,

    the classic form (Rumelhart, Hinton & Williams; with weight decay as in Hinton's lecture notes). The
    first step is consistent with it because b_1 = g means b_0 = 0, i.e. Δw_0 = 0. With τ ≠ 0 the gradient
    term becomes −ε(1 − τ)(∂C/∂w + λw_t) after the first step. If ε changes between steps the two forms
    differ: PyTorch's buffer accumulates gradients and the *current* ε scales the whole buffer, while the
    textbook form accumulates increments. ``tests/optim/test_optimizers.py`` checks the recurrence
    numerically.
    """

    _state_names = ("momentum_buffer",)
    _scalar_state = ()

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        implementation_hints("SGD", foreach=foreach, differentiable=differentiable, fused=fused)
        defaults = {
            "lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
            "nesterov": nesterov, "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        check_nonnegative(where, options, "lr", "momentum", "dampening", "weight_decay")
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ArgumentError(
                f"{where}: Nesterov momentum requires a momentum and zero dampening (argument 'nesterov'), got "
                f"momentum={options['momentum']}, dampening={options['dampening']}; hint: set momentum > 0 and "
                f"dampening=0, or nesterov=False"
            )

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        x = p._data
        weight_decay, momentum, lr = group["weight_decay"], group["momentum"], group["lr"]
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + _scalar(weight_decay, x) * x
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = backend.get_array_module(x).array(g, copy=True)
            else:
                buf *= _scalar(momentum, x)
                buf += _scalar(1 - group["dampening"], x) * g
            g = g + _scalar(momentum, x) * buf if group["nesterov"] else buf
        x -= _scalar(lr, x) * g
