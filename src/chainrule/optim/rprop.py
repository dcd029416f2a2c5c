"""``Rprop``: resilient backpropagation (Riedmiller & Braun, 1993), PyTorch's algorithm."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chainrule import backend
from chainrule.errors import ArgumentError, ArgumentTypeError
from chainrule.ops.operands import check_number, describe
from chainrule.optim.optimizer import Optimizer, _scalar, check_nonnegative, implementation_hints
from chainrule.tensor import Tensor

__all__ = ["Rprop"]


def _pair(where: str, name: str, value: Any, example: str) -> None:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ArgumentTypeError(f"{where}: argument '{name}' must be a pair, got {describe(value)}; hint: e.g. "
                                f"{name}={example}")
    for i, v in enumerate(value):
        check_number(where, f"{name}[{i}]", v, 0.0, finite=True, hint=f"; hint: e.g. {name}={example}")


class Rprop(Optimizer):
    r"""Rprop, exactly PyTorch's ``torch.optim.Rprop``: only the sign of the gradient is used, and each weight
    has its own step size.

    Each step for every parameter p with gradient g (−g if maximize), η₋, η₊ = etas, [s_min, s_max] =
    step_sizes::

        s = g·g_prev:   s > 0 → Δ = min(Δ·η₊, s_max);  s < 0 → Δ = max(Δ·η₋, s_min), g = 0;  s = 0 → Δ kept
        p = p − sign(g)·Δ,  g_prev = g       (state 'step_size' Δ, starting at lr, and 'prev', starting at 0)
    """

    _state_names = ("step", "prev", "step_size")

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        implementation_hints("Rprop", foreach=foreach, capturable=capturable, differentiable=differentiable)
        etas = tuple(etas) if isinstance(etas, list) else etas
        step_sizes = tuple(step_sizes) if isinstance(step_sizes, list) else step_sizes
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any], where: str) -> None:
        check_nonnegative(where, options, "lr")
        _pair(where, "etas", options["etas"], "(0.5, 1.2)")
        _pair(where, "step_sizes", options["step_sizes"], "(1e-6, 50)")
        etaminus, etaplus = options["etas"]
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ArgumentError(
                f"{where}: Invalid eta values: {etaminus}, {etaplus}; expected 0 < etaminus < 1 < etaplus, e.g. "
                f"etas=(0.5, 1.2)"
            )

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        x = p._data
        xp = backend.get_array_module(x)
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        if "step" not in state:
            state["step"] = 0
            state["prev"] = xp.zeros_like(x)
            state["step_size"] = xp.full_like(x, group["lr"])
        state["step"] += 1
        prev, step_size = state["prev"], state["step_size"]
        g = -grad if group["maximize"] else grad.copy()
        product = xp.sign(g * prev)
        factor = xp.where(product > 0, _scalar(etaplus, x), xp.where(product < 0, _scalar(etaminus, x),
                                                                     _scalar(1, x)))
        step_size *= factor
        xp.clip(step_size, _scalar(step_size_min, x), _scalar(step_size_max, x), out=step_size)
        g[product < 0] = 0  # after a sign change the weight rests one step and the next product is 0
        x -= xp.sign(g) * step_size
        prev[...] = g
