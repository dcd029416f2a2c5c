"""``kl_divergence(p, q)`` and ``register_kl`` (PyTorch's ``torch.distributions.kl``).

KL(p ‖ q) = E_p[log p(x) − log q(x)], in closed form for the pairs registered here; each rule is built from
differentiable ops, so the gradients with respect to both distributions' parameters come from the engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.distributions.bernoulli import Bernoulli
from chainrule.distributions.categorical import Categorical
from chainrule.distributions.distribution import Distribution, UnsupportedError
from chainrule.distributions.independent import Independent
from chainrule.distributions.normal import Normal
from chainrule.errors import ArgumentTypeError, ShapeError
from chainrule.ops import log, softplus, where
from chainrule.ops import sum as sum_
from chainrule.ops.operands import describe
from chainrule.tensor import Tensor

__all__ = ["kl_divergence", "register_kl"]

KLRule = Callable[[Any, Any], Tensor]
_KL_REGISTRY: dict[tuple[type, type], KLRule] = {}


def register_kl(type_p: type, type_q: type) -> Callable[[KLRule], KLRule]:
    """Decorator registering ``fn(p, q)`` as KL(p ‖ q) for p of ``type_p`` and q of ``type_q`` (and their
    subclasses; the most specific registered pair wins, as in PyTorch)."""
    for name, t in (("type_p", type_p), ("type_q", type_q)):
        if not (isinstance(t, type) and issubclass(t, Distribution)):
            raise ArgumentTypeError(f"register_kl: '{name}' must be a subclass of Distribution, got {describe(t)}")

    def decorator(fn: KLRule) -> KLRule:
        _KL_REGISTRY[type_p, type_q] = fn
        return fn

    return decorator


def _dispatch(type_p: type, type_q: type) -> KLRule | None:
    """The rule of the registered pair nearest to (type_p, type_q) along their MROs, or None."""
    matches = [(type_p.__mro__.index(p), type_q.__mro__.index(q), fn) for (p, q), fn in _KL_REGISTRY.items()
               if issubclass(type_p, p) and issubclass(type_q, q)]
    return min(matches, key=lambda m: (m[0] + m[1], m[0]))[2] if matches else None


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p ‖ q) = E_p[log p − log q] ≥ 0, of shape the two batch shapes broadcast."""
    for name, d in (("p", p), ("q", q)):
        if not isinstance(d, Distribution):
            raise ArgumentTypeError(f"kl_divergence: argument '{name}' must be a Distribution, got {describe(d)}")
    fn = _dispatch(type(p), type(q))
    if fn is None:
        pairs = ", ".join(f"{a.__name__}–{b.__name__}" for a, b in _KL_REGISTRY)
        raise UnsupportedError(
            f"kl_divergence: no KL(p ‖ q) rule for p a {type(p).__name__} and q a {type(q).__name__}; rules exist "
            f"for {pairs}; hint: add one with @register_kl({type(p).__name__}, {type(q).__name__}), or estimate it "
            f"by Monte Carlo as (p.log_prob(x) − q.log_prob(x)).mean(0) with x = p.sample((n,))"
        )
    return fn(p, q)


def _infinite_where(mask: Any, t: Tensor, value: float) -> Tensor:
    """t with ``value`` (a constant, no gradient) where the boolean array ``mask`` holds."""
    if not bool(np.any(mask)):
        return t
    return where(Tensor(np.broadcast_to(mask, t.shape)), Tensor(np.asarray(value, dtype=t.dtype)), t)


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    """KL = log(σ_q/σ_p) + (σ_p² + (μ_p − μ_q)²)/(2σ_q²) − ½ = ½(r + t − 1 − log r), r = (σ_p/σ_q)², t =
    ((μ_p − μ_q)/σ_q)². Gradients: ∂/∂μ_p = (μ_p − μ_q)/σ_q², ∂/∂σ_p = σ_p/σ_q² − 1/σ_p."""
    ratio = p.scale / q.scale
    var_ratio = ratio * ratio
    d = (p.loc - q.loc) / q.scale
    return 0.5 * (var_ratio + d * d - 1 - log(var_ratio))


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    """KL = p·(log p − log q) + (1 − p)·(log(1 − p) − log(1 − q)), from logits z: log p = −softplus(−z), log(1 − p)
    = −softplus(z). Terms with p = 0 (or 1 − p = 0) are 0; KL = ∞ where q puts zero mass where p does not."""
    pp, qp = p.probs, q.probs
    t1 = pp * (softplus(-q.logits) - softplus(-p.logits))
    t1 = _infinite_where(qp.numpy() == 0, t1, math.inf)
    t1 = _infinite_where(pp.numpy() == 0, t1, 0.0)
    t2 = (1 - pp) * (softplus(q.logits) - softplus(p.logits))
    t2 = _infinite_where(qp.numpy() == 1, t2, math.inf)
    t2 = _infinite_where(pp.numpy() == 1, t2, 0.0)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    """KL = Σₖ pₖ·(log pₖ − log qₖ) over the last dim; a class with pₖ = 0 adds 0, one with qₖ = 0 < pₖ adds ∞.
    Gradient ∂/∂(p's logits)ₖ = pₖ(log pₖ − log qₖ − KL)."""
    if p._num_events != q._num_events:
        raise ShapeError(f"kl_divergence: the Categoricals have {p._num_events} and {q._num_events} classes; KL "
                         f"compares distributions over the same classes")
    t = p.probs * (p.logits - q.logits)
    t = _infinite_where(np.broadcast_to(q.probs.numpy() == 0, t.shape), t, math.inf)
    t = _infinite_where(np.broadcast_to(p.probs.numpy() == 0, t.shape), t, 0.0)
    return sum_(t, -1)


@register_kl(Independent, Independent)
def _kl_independent_independent(p: Independent, q: Independent) -> Tensor:
    """KL of independent coordinates adds: Σ over the reinterpreted dims of the bases' KL."""
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise UnsupportedError(f"kl_divergence: Independent distributions with {p.reinterpreted_batch_ndims} and "
                               f"{q.reinterpreted_batch_ndims} reinterpreted dims have no KL rule")
    return p._sum_rightmost(kl_divergence(p.base_dist, q.base_dist))
