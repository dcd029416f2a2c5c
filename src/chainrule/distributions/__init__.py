"""Probability distributions with PyTorch's names (``torch.distributions``): the output units of the notes'
output-type table, each with ``log_prob``, ``sample``, ``rsample`` (where reparameterisable), ``entropy``,
``mean``/``variance``, and ``kl_divergence`` between them. See docs/distributions.md.

- ``Bernoulli`` (sigmoid unit, binary cross-entropy), ``Categorical`` (softmax unit, cross-entropy),
  ``Normal`` (linear unit, Gaussian likelihood / squared error), ``MixtureSameFamily`` (mixture density
  network), ``Independent`` (a vector of independent coordinates as one event).
"""

from chainrule.distributions.bernoulli import Bernoulli
from chainrule.distributions.categorical import Categorical
from chainrule.distributions.distribution import Distribution, UnsupportedError
from chainrule.distributions.independent import Independent
from chainrule.distributions.kl import kl_divergence, register_kl
from chainrule.distributions.mixture_same_family import MixtureSameFamily
from chainrule.distributions.normal import Normal

__all__ = [
    "Bernoulli", "Categorical", "Distribution", "Independent", "MixtureSameFamily", "Normal", "UnsupportedError",
    "kl_divergence", "register_kl",
]
