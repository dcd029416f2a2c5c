"""``ASGD``: averaged stochastic gradient descent (Polyak & Juditsky, 1992), PyTorch's algorithm."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.ops.operands import check_number
from chainrule.optim.optimizer import Optimizer, _scalar, check_nonnegative, implementation_hints
from chainrule.tensor import Tensor

__all__ = ["ASGD"]


def _f32(value: float) -> float:
    """PyTorch keeps eta and mu in float32 scalar tensors; the same rounding keeps the steps equal."""
    return float(np.float32(value))


class ASGD(Optimizer):
    r"""ASGD, exactly PyTorch's ``torch.optim.ASGD``.

    Each step t for every parameter p with gradient g (−g if maximize; g + λ_w·p with weight_decay λ_w),
    γ = lr, λ = lambd, α = alpha::

        p   = p·(1 − λη_t) − η_t·g              (state 'eta', η_1 = γ)
        ax  = ax + μ_t·(p − ax)                   (state 'ax', the running average; ax = p while μ_t = 1)
        η_{t+1} = γ / (1 + λγt)^α,  μ_{t+1} = 1 / max(1, t − t0)    (states 'eta' and 'mu', in float32)

    The averaged weights are ``optimizer.state[p]['ax']``; averaging starts after step t0.
    """

    _state_names = ("step", "eta", "mu", "ax")
    _scalar_state = ("step", "eta", "mu")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        implementation_hints("ASGD", foreach=foreach, capturable=capturable, differentiable=differentiable)
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0, "weight_decay": weight_decay,
                    "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        check_nonnegative(where, options, "lr", "weight_decay")
        check_number(where, "lambd", options["lambd"], 0.0, finite=True, hint="; hint: the decay term, e.g. 1e-4")
        check_number(where, "alpha", options["alpha"], finite=True, hint="; hint: the power for eta, e.g. 0.75")
        check_number(where, "t0", options["t0"], finite=True, hint="; hint: the step averaging starts at, e.g. 1e6")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        x = p._data
        xp = backend.get_array_module(x)
        lr, lambd = group["lr"], group["lambd"]
        if "step" not in state:
            state["step"] = 0
            state["eta"] = _f32(lr)
            state["mu"] = 1.0
            state["ax"] = xp.zeros_like(x)
        state["step"] += 1
        step = state["step"]
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + _scalar(group["weight_decay"], x) * x
        eta = state["eta"]
        x *= _scalar(1 - lambd * eta, x)
        x -= _scalar(eta, x) * g
        ax = state["ax"]
        if state["mu"] != 1:
            ax += (x - ax) * _scalar(state["mu"], x)
        else:
            ax[...] = x
        state["eta"] = _f32(lr / ((1 + lambd * lr * step) ** group["alpha"]))
        state["mu"] = _f32(1 / max(1, step - group["t0"]))
