"""Random number generators with PyTorch's names: ``Generator``, ``manual_seed``, ``seed``, ``initial_seed``,
``get_rng_state`` and ``set_rng_state``.

A ``Generator`` *is* a ``numpy.random.Generator`` (on NumPy's PCG64 bit generator) with PyTorch's methods on top,
so it goes wherever chainrule takes a generator (``randn(..., generator=g)``, ``DataLoader(generator=g)``,
``random_split(..., generator=g)``, ``p.data.normal_(generator=g)``) and a NumPy user can draw from it directly.
The numbers differ from PyTorch's (a different bit generator); the seeding behaviour is the same: equal seeds give
equal draws, ``manual_seed`` returns the generator, and the state can be saved and restored as a uint8 tensor.
"""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np

from chainrule.devices import check_available
from chainrule.errors import ArgumentError, ArgumentTypeError
from chainrule.tensor import Tensor

__all__ = ["Generator", "get_rng_state", "initial_seed", "manual_seed", "seed", "set_rng_state"]

DEFAULT_SEED = 67280421310721  # PyTorch's seed of a new generator
STATE_BYTES = 40  # PCG64: state (16) + increment (16) + has_uint32 (4) + uinteger (4)


def _seed_value(op: str, seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ArgumentTypeError(f"{op}: argument 'seed' must be an int, got {type(seed).__name__}")
    value = int(seed)
    if not -(2**63) <= value < 2**64:
        raise ArgumentError(f"{op}: argument 'seed' must fit in 64 bits, got {value}")
    return value % 2**64  # PyTorch takes a negative seed modulo 2**64 too


class Generator(np.random.Generator):
    """A seedable source of random numbers (PyTorch's ``torch.Generator``); a ``numpy.random.Generator`` too.

    ``Generator()`` starts from PyTorch's default seed; ``Generator().manual_seed(42)`` is the usual way to make
    one. ``device`` is accepted for PyTorch's signature: draws are made on the host and copied to a device.
    """

    def __init__(self, device: Any = "cpu") -> None:
        if isinstance(device, np.random.BitGenerator):  # NumPy's spawn() builds children as type(self)(bits)
            self.device, self._initial_seed = check_available("Generator", "cpu"), None
            super().__init__(device)
            return
        self.device = check_available("Generator", device)
        self._initial_seed = DEFAULT_SEED
        super().__init__(np.random.PCG64(DEFAULT_SEED))

    def manual_seed(self, seed: int) -> Generator:
        """Reset to the stream of ``seed``; returns the generator (``torch.Generator().manual_seed(0)``)."""
        value = _seed_value("manual_seed", seed)
        # a new bit generator, not just its state: its seed sequence is what spawn() (worker seeds) derives from
        np.random.Generator.__init__(self, np.random.PCG64(value))
        self._initial_seed = value
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy and return the new seed."""
        value = secrets.randbits(63)
        self.manual_seed(value)
        return value

    def initial_seed(self) -> int | None:
        """The seed this generator was last seeded with (None for a child made by NumPy's ``spawn``)."""
        return self._initial_seed

    def get_state(self) -> Tensor:
        """The generator's state as a uint8 tensor of 40 bytes (give it to ``set_state`` to replay the draws)."""
        s = self.bit_generator.state
        words = [s["state"]["state"], s["state"]["inc"]]
        raw = b"".join(w.to_bytes(16, "little") for w in words)
        raw += int(s["has_uint32"]).to_bytes(4, "little") + int(s["uinteger"]).to_bytes(4, "little")
        return Tensor(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state: Any) -> Generator:
        """Restore a state made by ``get_state``; returns the generator."""
        array = new_state.numpy() if isinstance(new_state, Tensor) else np.asarray(new_state)
        if array.dtype != np.uint8 or array.shape != (STATE_BYTES,):
            raise ArgumentError(
                f"set_state: argument 'new_state' must be the uint8 tensor of {STATE_BYTES} bytes that get_state "
                f"returns, got dtype {array.dtype} and shape {tuple(array.shape)}"
            )
        raw = array.tobytes()
        self.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": int.from_bytes(raw[:16], "little"), "inc": int.from_bytes(raw[16:32], "little")},
            "has_uint32": int.from_bytes(raw[32:36], "little"),
            "uinteger": int.from_bytes(raw[36:40], "little"),
        }
        return self

    def __repr__(self) -> str:
        return f"<chainrule.Generator device={self.device} initial_seed={self._initial_seed}>"

    __str__ = __repr__


_default = Generator().manual_seed(0)  # draws without a seed repeat from run to run


def default() -> Generator:
    """The generator that draws when no ``generator`` is given."""
    return _default


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (every draw without ``generator=``); returns it, as PyTorch does."""
    return _default.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the operating system's entropy; returns the seed."""
    return _default.seed()


def initial_seed() -> int:
    """The seed the default generator was last seeded with."""
    return _default.initial_seed()


def get_rng_state() -> Tensor:
    """The default generator's state (a uint8 tensor), for ``set_rng_state``."""
    return _default.get_state()


def set_rng_state(new_state: Any) -> None:
    """Restore the default generator's state from ``get_rng_state``."""
    _default.set_state(new_state)
