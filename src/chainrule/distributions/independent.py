"""``Independent(base_distribution, reinterpreted_batch_ndims)``: treat the last batch dims of a distribution as
one event (PyTorch's ``torch.distributions.Independent``), e.g. a diagonal Gaussian over a D-vector from D
Normals, whose log_prob sums over the D coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.distributions.distribution import Distribution
from chainrule.errors import ArgumentError, ArgumentTypeError
from chainrule.ops import sum as sum_
from chainrule.ops.operands import _is_int, describe
from chainrule.tensor import Tensor

__all__ = ["Independent"]


class Independent(Distribution):
    """The base distribution with its last ``reinterpreted_batch_ndims`` batch dims moved into the event:
    batch_shape = base.batch_shape[:−n], event_shape = base.batch_shape[−n:] + base.event_shape."""

    def __init__(self, base_distribution: Distribution, reinterpreted_batch_ndims: int,
                 validate_args: bool | None = None) -> None:
        if not isinstance(base_distribution, Distribution):
            raise ArgumentTypeError(f"Independent: 'base_distribution' must be a Distribution, got "
                                    f"{describe(base_distribution)}")
        n = reinterpreted_batch_ndims
        batch = base_distribution.batch_shape
        if not _is_int(n) or not 0 <= n <= len(batch):
            raise ArgumentError(f"Independent: 'reinterpreted_batch_ndims' must be an int in [0, {len(batch)}] "
                                f"(the base's batch_shape {batch} has {len(batch)} dims), got {n!r}")
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = int(n)
        cut = len(batch) - int(n)
        self.has_rsample = base_distribution.has_rsample
        self.has_enumerate_support = False
        super().__init__(batch[:cut], batch[cut:] + base_distribution.event_shape,
                   base_distribution._validate_args if validate_args is None else validate_args)

    def _sum_rightmost(self, t: Tensor) -> Tensor:
        n = self.reinterpreted_batch_ndims
        return sum_(t, tuple(range(-n, 0))) if n else t

    @property
    def mean(self) -> Tensor:
        """The base's mean, coordinate by coordinate."""
        return self.base_dist.mean

    @property
    def mode(self) -> Tensor:
        """The base's mode (independent coordinates peak independently)."""
        return self.base_dist.mode

    @property
    def variance(self) -> Tensor:
        """The base's variance, coordinate by coordinate (the covariance is diagonal)."""
        return self.base_dist.variance

    @property
    def stddev(self) -> Tensor:
        """The base's standard deviation."""
        return self.base_dist.stddev

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """The base's sample: the same numbers, seen as events."""
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """The base's reparameterised sample (only where the base has one)."""
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value: Any) -> Tensor:
        """log p(x) = Σ over the reinterpreted dims of the base's log_prob (the coordinates are independent)."""
        return self._sum_rightmost(self.base_dist.log_prob(value))

    def entropy(self) -> Tensor:
        """H = Σ over the reinterpreted dims of the base's entropies."""
        return self._sum_rightmost(self.base_dist.entropy())

    def _repr_params(self) -> dict[str, Any]:
        return {"base_distribution": self.base_dist, "reinterpreted_batch_ndims": self.reinterpreted_batch_ndims}
