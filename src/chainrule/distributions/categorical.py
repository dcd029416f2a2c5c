"""``Categorical(probs=None, logits=None)``: one of K classes (PyTorch's ``torch.distributions.Categorical``).

The distribution of a **softmax** output unit: p = softmax(z), and −log_prob is the cross-entropy, computed from
the normalised logits z − logsumexp(z) (a log-softmax: no probability is formed, none underflows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.creation import rand
from chainrule.distributions.distribution import Distribution, check_values
from chainrule.distributions.utils import broadcast_all, logits_to_probs, probs_to_logits
from chainrule.errors import ArgumentError, ShapeError
from chainrule.ops import broadcast_to, clamp, gather, logsumexp
from chainrule.ops import sum as sum_
from chainrule.ops.operands import broadcast_shape
from chainrule.tensor import Tensor

__all__ = ["Categorical"]


class Categorical(Distribution):
    """P(x = k) = pₖ for k in 0..K−1, over the last dim of exactly one of ``probs`` (non-negative, normalised here
    to sum to 1) or ``logits`` (unnormalised log-probabilities, normalised here by subtracting their logsumexp).
    batch_shape is the parameter's shape without its last dim; event_shape is (); samples are int64 indices."""

    has_enumerate_support = True

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ArgumentError("Categorical: pass exactly one of 'probs' or 'logits', got "
                                f"{'both' if probs is not None else 'neither'}; hint: Categorical(logits=z) for a "
                                f"network's raw scores, Categorical(probs=p) for probabilities")
        self._is_logits = probs is None
        name = "logits" if self._is_logits else "probs"
        param = broadcast_all("Categorical", **{name: logits if self._is_logits else probs})[name]
        if param.ndim < 1:
            raise ShapeError(f"Categorical: '{name}' must have at least one dim (the K classes, last), got a "
                             f"0-dim tensor; hint: e.g. Categorical({name}=cr.tensor([0.2, 0.8]))")
        if param.shape[-1] < 1:
            raise ShapeError(f"Categorical: '{name}' must have at least one class in its last dim, got shape "
                             f"{param.shape}")
        v = param._data
        validate = Distribution._validate_args if validate_args is None else validate_args
        if validate and not self._is_logits:  # checked before normalising, which would hide a negative entry
            check_values("Categorical", "probs", v, ~((v >= 0) & (v < np.inf)), "[0, ∞) (finite, non-negative)",
                         "pass non-negative weights, or the raw scores as logits=")
            totals = v.sum(-1)
            check_values("Categorical", "probs.sum(-1)", totals, ~(totals > 0), "(0, ∞)",
                         "each row of probs needs some positive weight")
        if validate and self._is_logits:
            check_values("Categorical", "logits", v, v != v, "the real numbers or −∞ (it is NaN)",
                         "look for the NaN upstream, e.g. with cr.detect_anomaly()")
        if self._is_logits:  # normalised: log pₖ = zₖ − log Σⱼ e^zⱼ
            self._logits: Tensor | None = param - logsumexp(param, -1, keepdim=True)
            self._probs: Tensor | None = None
        else:
            self._probs = param / sum_(param, -1, keepdim=True)
            self._logits = None
        self._param = self._logits if self._is_logits else self._probs
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], (), validate_args)

    @property
    def probs(self) -> Tensor:
        """p (normalised), or softmax(logits)."""
        if self._probs is None:
            self._probs = logits_to_probs(self._param)
        return self._probs

    @property
    def logits(self) -> Tensor:
        """log p: the normalised logits, or log of the probabilities clamped to [ε, 1 − ε]."""
        if self._logits is None:
            self._logits = probs_to_logits(self._param)
        return self._logits

    @property
    def param_shape(self) -> tuple[int, ...]:
        return self._param.shape

    @property
    def mean(self) -> Tensor:
        """NaN: class indices have no meaningful mean (as PyTorch)."""
        return Tensor(np.full(self._batch_shape, np.nan, dtype=self._param.dtype))

    @property
    def variance(self) -> Tensor:
        """NaN, as the mean."""
        return self.mean

    @property
    def mode(self) -> Tensor:
        """argmaxₖ pₖ (int64)."""
        return Tensor(np.asarray(self.probs.numpy().argmax(-1)))

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """Inverse-CDF sampling: x = #{k : p₀ + … + pₖ ≤ u} with u ~ U[0, 1) from chainrule's generator, all draws
        at once; int64 of shape sample_shape + batch_shape, no graph."""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            p = self.probs.numpy()
            cdf = np.cumsum(p, -1)
            u = rand(shape + (1,), dtype=p.dtype).numpy() * cdf[..., -1:]  # scaled: rounding leaves cdf[-1] ≠ 1
            k = (cdf <= u).sum(-1)
            return Tensor(np.minimum(k, self._num_events - 1).astype(np.int64))

    def log_prob(self, value: Any) -> Tensor:
        """log P(x = k) = log pₖ = zₖ − logsumexp(z): the normalised logits gathered at the class indices x (value
        broadcasts with batch_shape). Gradient ∂/∂z = onehot(x) − softmax(z), the cross-entropy's, negated."""
        x = self._validate_sample(value)
        logits = self.logits
        batch = broadcast_shape("Categorical.log_prob", x.shape, self._batch_shape)
        full = batch + (self._num_events,)
        logits = logits if logits.shape == full else broadcast_to(logits, full)
        index = np.broadcast_to(x.numpy().astype(np.int64), batch)[..., None]
        return gather(logits, -1, Tensor(np.ascontiguousarray(index))).squeeze(-1)

    def entropy(self) -> Tensor:
        """H = −Σₖ pₖ·log pₖ, with −∞ logits clamped to the dtype's lowest finite value (so 0·log 0 = 0).
        Gradient ∂H/∂zₖ = −pₖ(log pₖ + H)."""
        logits = clamp(self.logits, min=float(np.finfo(self._param.dtype).min))
        return -sum_(logits * self.probs, -1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """The classes 0..K−1 along a new leading dim: shape (K,) + batch_shape (or (K, 1, ..., 1) unexpanded)."""
        values = np.arange(self._num_events, dtype=np.int64).reshape((-1,) + (1,) * len(self._batch_shape))
        return Tensor(np.broadcast_to(values, values.shape[:1] + self._batch_shape).copy() if expand else values)

    def _check_support(self, value: Tensor) -> None:
        v = value._data
        k = self._num_events
        check_values("Categorical.log_prob", "value", v, ~((v >= 0) & (v < k) & (v == np.floor(v))),
                     f"the class indices {{0, ..., {k - 1}}}", f"values are class indices below K = {k}")

    def _repr_params(self) -> dict[str, Any]:
        return {"logits" if self._is_logits else "probs": self._param}
