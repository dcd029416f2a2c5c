"""Weight initialisation, with PyTorch's names, fan computations and defaults.

Every function fills the tensor in place (keeping its dtype; no graph is recorded) and returns the
tensor. Random ones take ``generator``, a ``numpy.random.Generator``; without one they draw from chainrule's
default generator (``cr.manual_seed`` resets it), so a seed reproduces a model's initial weights.

Fans, for a weight of shape (out, in, *kernel): fan_in = in · ∏kernel, fan_out = out · ∏kernel.
- xavier (Glorot):  std = gain · √(2 / (fan_in + fan_out)); uniform bound = √3 · std.
- kaiming (He):     std = gain / √fan, fan = fan_in or fan_out (``mode``); uniform bound = √3 · std,
                    gain = calculate_gain(nonlinearity, a). Linear and Conv use kaiming_uniform_(a=√5),
                    whose bound √(6 / ((1 + 5)·fan_in)) = 1/√fan_in.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd.saved import unlocked
from chainrule.creation import default_generator
from chainrule.errors import ArgumentError, DTypeError, ShapeError
from chainrule.tensor import Tensor

__all__ = [
    "calculate_gain", "constant_", "eye_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_", "orthogonal_",
    "trunc_normal_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for ``nonlinearity`` (PyTorch's table).

    linear/conv*/sigmoid: 1; tanh: 5/3; relu: √2; leaky_relu: √(2 / (1 + slope²)) with slope ``param``
    (default 0.01); selu: 3/4.
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ArgumentError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ArgumentError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped (out, in, *receptive_field); needs at least 2 dims."""
    if tensor.ndim < 2:
        raise ShapeError(
            f"Fan in and fan out can not be computed for tensor with fewer than 2 dimensions (got shape {tensor.shape})"
        )
    receptive_field = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ArgumentError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values: Any) -> Tensor:
    """Write ``values`` (a NumPy array or a scalar) into ``tensor.data`` in place, in its dtype and backend."""
    xp = backend.get_array_module(tensor._data)
    with unlocked("init", tensor._data):  # a live graph may hold it read-only: the version bump tells that graph
        tensor._data[...] = xp.asarray(values, dtype=tensor.dtype)
    tensor.bump_version()
    return tensor


def _rng(generator: np.random.Generator | None) -> np.random.Generator:
    return generator if generator is not None else default_generator()


def _float_only(name: str, tensor: Tensor) -> None:
    if tensor.dtype.kind != "f":
        raise DTypeError(f"{name}: expected a floating-point tensor, got dtype {tensor.dtype}")


def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None
) -> Tensor:
    """Fill with samples of U(a, b)."""
    _float_only("uniform_", tensor)
    return _fill(tensor, _rng(generator).uniform(a, b, tensor.shape))


def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: np.random.Generator | None = None
) -> Tensor:
    """Fill with samples of N(mean, std²)."""
    _float_only("normal_", tensor)
    return _fill(tensor, _rng(generator).normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Glorot uniform: U(−a, a) with a = gain · √(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Glorot normal: N(0, std²) with std = gain · √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Tensor:
    """He uniform: U(−bound, bound), bound = √3 · gain / √fan with gain = calculate_gain(nonlinearity, a)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Tensor:
    """He normal: N(0, std²), std = gain / √fan with gain = calculate_gain(nonlinearity, a)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-d tensor with the identity (ones on the diagonal, zeros elsewhere), as PyTorch's ``eye_``."""
    if tensor.ndim != 2:
        raise ShapeError(f"eye_: only 2-d tensors are supported, got shape {tensor.shape}; hint: eye_ sets a matrix")
    return _fill(tensor, np.eye(*tensor.shape))


def orthogonal_(tensor: Tensor, gain: float = 1, generator: np.random.Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain``, as PyTorch: the Q of a QR decomposition of a standard normal
    (rows, cols) sample (rows = shape[0], cols = the rest), signs fixed by R's diagonal so that it is uniform."""
    if tensor.ndim < 2:
        raise ShapeError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {tensor.shape}")
    _float_only("orthogonal_", tensor)
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _rng(generator).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # QR's signs are arbitrary; this makes the distribution uniform (Mezzadri)
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))


def trunc_normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Fill with samples of N(mean, std²) truncated to [a, b] (absolute bounds, as PyTorch's): each value out of
    range is drawn again, so the samples follow the truncated distribution exactly."""
    _float_only("trunc_normal_", tensor)
    if not a < b:
        raise ArgumentError(f"trunc_normal_: the bounds must satisfy a < b, got a={a}, b={b}")
    rng = _rng(generator)
    values = rng.normal(mean, std, tensor.shape)
    outside = (values < a) | (values > b)
    for _ in range(1000):  # each round redraws only the values still outside: it ends in a few rounds
        if not outside.any():
            break
        values[outside] = rng.normal(mean, std, int(outside.sum()))
        outside = (values < a) | (values > b)
    else:  # [a, b] holds almost no mass of N(mean, std²): what is left goes to the nearer bound, as a clamp would
        values = np.clip(values, a, b)
    return _fill(tensor, values)
