"""``Distribution``: the interface every distribution shares (PyTorch's ``torch.distributions.Distribution``).

A distribution has a ``batch_shape`` (independent, differently parameterised copies) and an ``event_shape`` (the
shape of one draw). ``log_prob(value)`` and ``entropy()`` are built from differentiable chainrule ops, so their
gradients with respect to the parameters come from the engine. ``sample`` draws without a graph; ``rsample``
(only where ``has_rsample``) draws as a differentiable function of the parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.errors import ArgumentTypeError, ChainruleError, DTypeError, ShapeError
from chainrule.ops.operands import _is_int, broadcast_shape, describe, first_outside
from chainrule.tensor import Tensor

__all__ = ["Distribution", "UnsupportedError"]


class UnsupportedError(ChainruleError, NotImplementedError):
    """A distribution has no such operation (``rsample`` of a discrete distribution, the entropy of a mixture), or
    ``kl_divergence`` has no rule for the pair of types. A ``NotImplementedError``, as PyTorch raises."""


class Distribution:
    """Base class. A subclass calls ``super().__init__(batch_shape, event_shape, validate_args)`` and defines what it
    supports; what it leaves out raises ``UnsupportedError``."""

    has_rsample = False
    has_enumerate_support = False
    _validate_args = True  # PyTorch validates by default (``__debug__``); set_default_validate_args(False) stops it
    _batch_shape: tuple[int, ...] = ()
    _event_shape: tuple[int, ...] = ()

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Whether distributions made without ``validate_args`` check their parameters and log_prob's values."""
        if not isinstance(value, bool):
            raise ArgumentTypeError(f"Distribution.set_default_validate_args: expected a bool, got {describe(value)}")
        Distribution._validate_args = value

    def __init__(self, batch_shape: tuple[int, ...] = (), event_shape: tuple[int, ...] = (),
                 validate_args: bool | None = None) -> None:
        """PyTorch's signature: a subclass calls ``super().__init__(batch_shape, event_shape, validate_args)``."""
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        if validate_args is not None:
            if not isinstance(validate_args, bool):
                raise ArgumentTypeError(f"{type(self).__name__}: argument 'validate_args' must be a bool or None, "
                                        f"got {describe(validate_args)}")
            self._validate_args = bool(validate_args)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._event_shape

    # ----- what a subclass may define ------------------------------------------------------------------------
    @property
    def mean(self) -> Tensor:
        raise UnsupportedError(f"{type(self).__name__} has no mean")

    @property
    def mode(self) -> Tensor:
        raise UnsupportedError(f"{type(self).__name__} has no mode")

    @property
    def variance(self) -> Tensor:
        raise UnsupportedError(f"{type(self).__name__} has no variance")

    @property
    def stddev(self) -> Tensor:
        """√variance."""
        return self.variance.sqrt()

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        raise UnsupportedError(f"{type(self).__name__}.sample is not implemented")

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        raise UnsupportedError(
            f"{type(self).__name__}.rsample: this distribution has no reparameterised sampler (has_rsample is "
            f"False), so no gradient can flow through its samples; hint: use sample() and a score-function "
            f"estimator (log_prob(x)·f(x)), or a relaxed distribution"
        )

    def log_prob(self, value: Any) -> Tensor:
        raise UnsupportedError(f"{type(self).__name__}.log_prob is not implemented")

    def entropy(self) -> Tensor:
        raise UnsupportedError(f"{type(self).__name__}.entropy is not implemented (PyTorch has none either)")

    def enumerate_support(self, expand: bool = True) -> Tensor:
        raise UnsupportedError(f"{type(self).__name__} has no finite support to enumerate")

    def perplexity(self) -> Tensor:
        """exp(H): the entropy's exponential."""
        return self.entropy().exp()

    # ----- shared helpers -----------------------------------------------------------------------------------
    def _extended_shape(self, sample_shape: Any = ()) -> tuple[int, ...]:
        """sample_shape + batch_shape + event_shape: the shape of ``sample(sample_shape)``."""
        return _sample_shape(type(self).__name__, sample_shape) + self._batch_shape + self._event_shape

    def _validate_sample(self, value: Any) -> Tensor:
        """``value`` as a Tensor whose shape fits the event and batch shapes, and (when validating) whose values
        lie in the support; otherwise one clear error."""
        name = type(self).__name__
        if not isinstance(value, Tensor):
            raise ArgumentTypeError(f"{name}.log_prob: argument 'value' must be a Tensor, got {describe(value)}; "
                                    f"hint: wrap it with cr.tensor(...)")
        if not self._validate_args:
            return value
        event = self._event_shape
        if event and value.shape[len(value.shape) - len(event):] != event:
            raise ShapeError(f"{name}.log_prob: the right-most dims of value must equal event_shape {event}, got "
                             f"value of shape {value.shape}")
        try:
            broadcast_shape(f"{name}.log_prob", value.shape, self._batch_shape + event)
        except ShapeError as e:
            raise ShapeError(f"{name}.log_prob: value of shape {value.shape} does not broadcast with batch_shape + "
                             f"event_shape = {self._batch_shape + event}") from e
        self._check_support(value)
        return value

    def _float_value(self, value: Tensor, dtype: Any) -> Tensor:
        """A float ``value`` of the parameters' dtype (bool and int values are converted; another float dtype is
        refused rather than silently cast)."""
        if value.dtype == dtype:
            return value
        if value.dtype.kind == "f":
            raise DTypeError(f"{type(self).__name__}.log_prob: value has dtype {value.dtype} but the parameters "
                             f"are {dtype}; hint: cast one of them, e.g. value.to({dtype})")
        return Tensor(value._data.astype(dtype))

    def _check_support(self, value: Tensor) -> None:
        """Subclasses with a restricted support refuse values outside it (when validating)."""

    def __repr__(self) -> str:
        params = ", ".join(f"{k}: {_short(v)}" for k, v in self._repr_params().items())
        return f"{type(self).__name__}({params})"

    def _repr_params(self) -> dict[str, Any]:
        return {}


def _short(value: Any) -> str:
    if isinstance(value, Tensor):
        return repr(value.numpy().item()) if not value.shape or np.prod(value.shape) == 1 else f"shape {value.shape}"
    return repr(value)


def _sample_shape(op: str, sample_shape: Any) -> tuple[int, ...]:
    """``sample_shape`` as a tuple of ints ≥ 0 (PyTorch takes a torch.Size or a tuple)."""
    if _is_int(sample_shape) or not isinstance(sample_shape, (tuple, list)) or \
            not all(_is_int(n) and n >= 0 for n in sample_shape):
        raise ArgumentTypeError(f"{op}: argument 'sample_shape' must be a tuple of ints ≥ 0, got "
                                f"{describe(sample_shape)}; hint: sample((n,)) draws n samples")
    return tuple(int(n) for n in sample_shape)


def check_values(op: str, name: str, values: Any, bad: Any, expected: str, hint: str) -> None:
    """Refuse a parameter or a value with elements outside what is allowed, naming the first (ArgumentError)."""
    first_outside(op, name, values, bad, expected, f"; hint: {hint} (or validate_args=False skips this check)")
