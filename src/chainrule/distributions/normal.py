"""``Normal(loc, scale)``: the Gaussian N(μ, σ²), elementwise (PyTorch's ``torch.distributions.Normal``).

The distribution of a **linear** output unit with a Gaussian cost: −log_prob is the squared error scaled by 1/2σ²,
plus log σ and a constant. ``rsample`` is the reparameterisation x = μ + σ·ε with ε ~ N(0, 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from chainrule.autograd import no_grad
from chainrule.creation import randn
from chainrule.distributions.distribution import Distribution, check_values
from chainrule.distributions.utils import broadcast_all
from chainrule.ops import log
from chainrule.ops.activation import NormalCDF
from chainrule.tensor import Tensor

__all__ = ["Normal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class Normal(Distribution):
    """N(loc, scale²) with loc = μ and scale = σ > 0, broadcast together; batch_shape is their broadcast shape,
    event_shape is ()."""

    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        params = broadcast_all("Normal", loc=loc, scale=scale)
        self.loc, self.scale = params["loc"], params["scale"]
        super().__init__(self.loc.shape, (), validate_args)
        if self._validate_args:
            s, m = self.scale._data, self.loc._data
            check_values("Normal", "scale", s, ~(s > 0), "(0, ∞) (scale is a standard deviation, > 0)",
                         "make it positive by construction, e.g. exp(log_scale) or softplus(raw) + 1e-6")
            check_values("Normal", "loc", m, m != m, "the real numbers (it is NaN)",
                         "look for the NaN upstream, e.g. with cr.detect_anomaly()")

    @property
    def mean(self) -> Tensor:
        """E[x] = μ."""
        return self.loc

    @property
    def mode(self) -> Tensor:
        """The density's peak: μ."""
        return self.loc

    @property
    def stddev(self) -> Tensor:
        """σ."""
        return self.scale

    @property
    def variance(self) -> Tensor:
        """Var[x] = σ²."""
        return self.scale * self.scale

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """x = μ + σ·ε, ε ~ N(0, 1) from chainrule's generator (``cr.manual_seed``); no graph.
        Shape sample_shape + batch_shape."""
        with no_grad():
            return self.rsample(sample_shape).detach()

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """x = μ + σ·ε with ε ~ N(0, 1) drawn from chainrule's generator: a differentiable function of μ and σ,
        ∂x/∂μ = 1 and ∂x/∂σ = ε = (x − μ)/σ (the reparameterisation gradient; summed over sample_shape).
        Shape sample_shape + batch_shape."""
        shape = self._extended_shape(sample_shape)
        eps = randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value: Any) -> Tensor:
        """log N(x | μ, σ²) = −(x − μ)²/(2σ²) − log σ − ½·log 2π; value broadcasts with batch_shape.
        Gradients: ∂/∂μ = (x − μ)/σ², ∂/∂σ = ((x − μ)² − σ²)/σ³, ∂/∂x = −(x − μ)/σ²."""
        x = self._float_value(self._validate_sample(value), self.loc.dtype)
        d = x - self.loc
        return -(d * d) / (2 * self.variance) - log(self.scale) - _HALF_LOG_2PI

    def cdf(self, value: Any) -> Tensor:
        """P(X ≤ x) = Φ((x − μ)/σ) = ½(1 + erf((x − μ)/(σ√2))); ∂/∂x is the density."""
        x = self._float_value(self._validate_sample(value), self.loc.dtype)
        return NormalCDF()((x - self.loc) / self.scale)

    def entropy(self) -> Tensor:
        """H = ½ + ½·log 2π + log σ (in nats); ∂H/∂σ = 1/σ, independent of μ."""
        return log(self.scale) + (0.5 + _HALF_LOG_2PI)

    def _repr_params(self) -> dict[str, Any]:
        return {"loc": self.loc, "scale": self.scale}
