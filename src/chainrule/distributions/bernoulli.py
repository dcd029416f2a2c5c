"""``Bernoulli(probs=None, logits=None)``: a coin with P(x = 1) = p (PyTorch's ``torch.distributions.Bernoulli``).

The distribution of a **sigmoid** output unit: p = σ(z) for logits z, and −log_prob is the binary cross-entropy,
computed from the logits without ever forming log σ(z) (stable for any z).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.creation import rand
from chainrule.distributions.distribution import Distribution, check_values
from chainrule.distributions.utils import broadcast_all, logits_to_probs, probs_to_logits
from chainrule.errors import ArgumentError
from chainrule.ops import broadcast_to
from chainrule.ops.loss import BinaryCrossEntropyWithLogits
from chainrule.ops.operands import broadcast_shape
from chainrule.tensor import Tensor

__all__ = ["Bernoulli"]


class Bernoulli(Distribution):
    """P(x = 1) = p, P(x = 0) = 1 − p, given by exactly one of ``probs`` (p ∈ [0, 1]) or ``logits``
    (z = log p − log(1 − p), p = σ(z)); the other is computed when first asked for. event_shape is ()."""

    has_enumerate_support = True

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ArgumentError("Bernoulli: pass exactly one of 'probs' or 'logits', got "
                                f"{'both' if probs is not None else 'neither'}; hint: Bernoulli(logits=z) for a "
                                f"network's raw output, Bernoulli(probs=p) for probabilities")
        self._is_logits = probs is None
        param = broadcast_all("Bernoulli", **({"logits": logits} if self._is_logits else {"probs": probs}))
        self._param = next(iter(param.values()))
        self._probs: Tensor | None = None if self._is_logits else self._param
        self._logits: Tensor | None = self._param if self._is_logits else None
        super().__init__(self._param.shape, (), validate_args)
        if self._validate_args:
            v = self._param._data
            if self._is_logits:
                check_values("Bernoulli", "logits", v, v != v, "the real numbers (it is NaN)",
                             "look for the NaN upstream, e.g. with cr.detect_anomaly()")
            else:
                check_values("Bernoulli", "probs", v, ~((v >= 0) & (v <= 1)), "[0, 1]",
                             "pass probabilities, or the raw scores as logits=")

    @property
    def probs(self) -> Tensor:
        """p (given, or σ(logits))."""
        if self._probs is None:
            self._probs = logits_to_probs(self._param, is_binary=True)
        return self._probs

    @property
    def logits(self) -> Tensor:
        """z = log p − log(1 − p) (given, or from probs clamped to [ε, 1 − ε])."""
        if self._logits is None:
            self._logits = probs_to_logits(self._param, is_binary=True)
        return self._logits

    @property
    def param_shape(self) -> tuple[int, ...]:
        return self._param.shape

    @property
    def mean(self) -> Tensor:
        """E[x] = p."""
        return self.probs

    @property
    def mode(self) -> Tensor:
        """1 where p > ½, 0 where p < ½, NaN where p = ½ (two modes), as PyTorch."""
        p = self.probs._data
        mode = (p >= 0.5).astype(p.dtype)
        mode[p == 0.5] = np.nan
        return Tensor(mode)

    @property
    def variance(self) -> Tensor:
        """Var[x] = p(1 − p)."""
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """x = [u < p] with u ~ U[0, 1) from chainrule's generator; floats 0/1 of shape sample_shape + batch_shape,
        no graph."""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            p = self.probs._data
            u = rand(shape, dtype=p.dtype, device=self._param.device)._data
            return Tensor((u < p).astype(p.dtype))

    def log_prob(self, value: Any) -> Tensor:
        """log P(x) = x·log p + (1 − x)·log(1 − p) = −BCE-with-logits(z, x) = −((1 − x)·z + softplus(−z)), from the
        logits z for stability. Gradient ∂/∂z = x − σ(z); value broadcasts with batch_shape."""
        x = self._float_value(self._validate_sample(value), self._param.dtype)
        z = self.logits
        shape = broadcast_shape("Bernoulli.log_prob", z.shape, x.shape)
        z = z if z.shape == shape else broadcast_to(z, shape)
        x = x if x.shape == shape else broadcast_to(x, shape)
        return -BinaryCrossEntropyWithLogits()(z, x)

    def entropy(self) -> Tensor:
        """H = −p·log p − (1 − p)·log(1 − p) = BCE-with-logits(z, p): the cross-entropy of p with itself."""
        return BinaryCrossEntropyWithLogits()(self.logits, self.probs)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """The values 0 and 1 along a new leading dim: shape (2,) + batch_shape (or (2, 1, ..., 1) unexpanded)."""
        dtype = self._param.dtype
        values = np.arange(2, dtype=dtype).reshape((2,) + (1,) * len(self._batch_shape))
        return Tensor(np.broadcast_to(values, (2,) + self._batch_shape).copy() if expand else values)

    def _check_support(self, value: Tensor) -> None:
        v = value._data
        check_values("Bernoulli.log_prob", "value", v, ~((v == 0) | (v == 1)), "{0, 1}",
                     "a Bernoulli variable is 0 or 1; binarise the data first, e.g. (x > 0.5).float()")

    def _repr_params(self) -> dict[str, Any]:
        return {"logits" if self._is_logits else "probs": self._param}
