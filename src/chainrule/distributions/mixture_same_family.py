"""``MixtureSameFamily(mixture_distribution, component_distribution)``: a mixture of K components of one family
(PyTorch's ``torch.distributions.MixtureSameFamily``).

With a Categorical over K and K Normals (or ``Independent`` Normals for vector outputs) this is the output unit of a
**mixture density network** (Bishop 1994): the network emits the mixing logits, the means and the scales.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.distributions.categorical import Categorical
from chainrule.distributions.distribution import Distribution
from chainrule.errors import ArgumentTypeError, ShapeError
from chainrule.ops import log_softmax, logsumexp
from chainrule.ops import sum as sum_
from chainrule.ops.operands import describe
from chainrule.tensor import Tensor

__all__ = ["MixtureSameFamily"]


class MixtureSameFamily(Distribution):
    """p(x) = Σₖ πₖ·pₖ(x): π from ``mixture_distribution`` (a Categorical of batch_shape B over K), the pₖ from
    ``component_distribution`` (any distribution of batch_shape B + (K,)). batch_shape is B, event_shape the
    components' event_shape."""

    def __init__(self, mixture_distribution: Categorical, component_distribution: Distribution,
                 validate_args: bool | None = None) -> None:
        op = "MixtureSameFamily"
        if not isinstance(mixture_distribution, Categorical):
            raise ArgumentTypeError(f"{op}: 'mixture_distribution' must be a Categorical, got "
                                    f"{describe(mixture_distribution)}; hint: Categorical(logits=mixing_logits)")
        if not isinstance(component_distribution, Distribution):
            raise ArgumentTypeError(f"{op}: 'component_distribution' must be a Distribution, got "
                                    f"{describe(component_distribution)}; hint: e.g. Normal(means, scales)")
        mix_batch, comp_batch = mixture_distribution.batch_shape, component_distribution.batch_shape
        k = mixture_distribution._num_events
        if comp_batch[:-1] != mix_batch or not comp_batch or comp_batch[-1] != k:
            raise ShapeError(
                f"{op}: component_distribution.batch_shape must be mixture_distribution.batch_shape + (K,) = "
                f"{mix_batch + (k,)} (K = {k} mixing weights), got {comp_batch}; hint: put the components in the "
                f"last batch dim of the component parameters"
            )
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        self._num_component = k
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(mix_batch, component_distribution.event_shape, validate_args)

    @property
    def mixture_distribution(self) -> Categorical:
        return self._mixture_distribution

    @property
    def component_distribution(self) -> Distribution:
        return self._component_distribution

    def _pad_mixture(self, t: Tensor) -> Tensor:
        """Mixing weights (…, K) → (…, K, 1, …, 1) so that they line up with per-component event values."""
        for _ in range(self._event_ndims):
            t = t.unsqueeze(-1)
        return t

    @property
    def mean(self) -> Tensor:
        """E[x] = Σₖ πₖ·μₖ."""
        probs = self._pad_mixture(self._mixture_distribution.probs)
        return sum_(probs * self._component_distribution.mean, -1 - self._event_ndims)

    @property
    def variance(self) -> Tensor:
        """The law of total variance: Var[x] = Σₖ πₖ·σₖ² + Σₖ πₖ·(μₖ − E[x])²."""
        probs = self._pad_mixture(self._mixture_distribution.probs)
        dim = -1 - self._event_ndims
        comp = self._component_distribution
        mean_cond_var = sum_(probs * comp.variance, dim)
        d = comp.mean - self.mean.unsqueeze(dim)
        return mean_cond_var + sum_(probs * d * d, dim)

    def log_prob(self, value: Any) -> Tensor:
        """log p(x) = logsumexpₖ(log πₖ + log pₖ(x)), with log π = log_softmax(mixing logits): no density is
        exponentiated, so nothing underflows when every component is far from x. Gradients: ∂/∂ log pₖ(x) = γₖ
        (the posterior responsibility softmaxₖ(log πₖ + log pₖ(x))), ∂/∂(mixing logits) = γ − π."""
        x = self._validate_sample(value)
        x = x.unsqueeze(-1 - self._event_ndims)  # (…, 1, *event): one copy per component
        log_prob_x = self._component_distribution.log_prob(x)  # (…, K)
        log_mix = log_softmax(self._mixture_distribution.logits, -1)
        return logsumexp(log_prob_x + log_mix, -1)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """Ancestral sampling: k ~ Categorical(π), then x ~ pₖ (every component drawn, the chosen one kept);
        shape sample_shape + batch_shape + event_shape, no graph."""
        with no_grad():
            k = self._mixture_distribution.sample(sample_shape).numpy()  # S + B
            xs = self._component_distribution.sample(sample_shape).numpy()  # S + B + (K,) + E
            index = k.reshape(k.shape + (1,) * (1 + self._event_ndims))
            index = np.broadcast_to(index, k.shape + (1,) + xs.shape[len(k.shape) + 1:])
            return Tensor(np.take_along_axis(xs, index, axis=len(k.shape)).squeeze(len(k.shape)))

    def _repr_params(self) -> dict[str, Any]:
        return {"mixture_distribution": self._mixture_distribution,
                "component_distribution": self._component_distribution}
