"""Optional: model weights as a ``.safetensors`` file (needs ``pip install 'chainrule[safetensors]'``).

Only a flat dict name → array (a model's ``state_dict()``) fits this format; for optimizer state, schedulers,
RNG streams and configs use ``save_checkpoint``. The file is written atomically, like every chainrule file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from chainrule import backend
from chainrule.io.archive import CheckpointError, atomic_write
from chainrule.ops import operands
from chainrule.tensor import Tensor

__all__ = ["load_safetensors", "save_safetensors"]


def _safetensors_numpy() -> Any:
    try:
        import safetensors.numpy as st_numpy
    except ImportError as e:
        raise ImportError(
            "chainrule.io's safetensors functions need the optional 'safetensors' package: "
            "pip install 'chainrule[safetensors]'"
        ) from e
    return st_numpy


def save_safetensors(
    path: str | os.PathLike[str], state_dict: Mapping[str, Any], metadata: Mapping[str, str] | None = None
) -> None:
    """Write ``state_dict`` (name → Tensor or array) to ``path`` in the safetensors format, atomically.

    ``metadata`` is an optional dict of strings stored in the file's header.
    """
    st_numpy = _safetensors_numpy()
    arrays = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"save_safetensors: keys must be strings, got {key!r}")
        array = backend.to_numpy(value._data if isinstance(value, Tensor) else value)
        arrays[key] = np.ascontiguousarray(array)
    data = st_numpy.save(arrays, metadata=dict(metadata) if metadata is not None else None)

    def write(f: IO[bytes]) -> None:
        f.write(data)

    atomic_write(path, write)


#: The most bytes a safetensors JSON header may have (the format's own limit).
MAX_HEADER_BYTES = 100_000_000


def _check_layout(path: str, f: IO[bytes]) -> None:
    """Refuse, before reading the file, one larger than memory or whose header length does not fit in it."""
    size = os.fstat(f.fileno()).st_size
    if size > operands.MEMORY_BYTES:
        raise CheckpointError(f"cannot load {path!r}: the file has {size} bytes, more than this machine's memory "
                              f"({operands.MEMORY_BYTES / 2**30:.3g} GiB)", path)
    head = f.read(8)
    if len(head) < 8:
        raise CheckpointError(f"cannot load {path!r}: it is not a valid safetensors file ({size} bytes, too short "
                              f"for the 8-byte header length)", path)
    length = int.from_bytes(head, "little")
    if length > min(size - 8, MAX_HEADER_BYTES):
        raise CheckpointError(f"cannot load {path!r}: it is not a valid safetensors file (it declares a header of "
                              f"{length} bytes; the file has {size - 8} after the length, and a header at most "
                              f"{MAX_HEADER_BYTES})", path)
    f.seek(0)


def load_safetensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a safetensors file into a dict name → NumPy array (``model.load_state_dict`` accepts it).

    A file that is not a valid safetensors file raises ``CheckpointError`` naming it; one larger than this
    machine's memory, or whose header length does not fit in it, is refused before it is read.
    """
    st_numpy = _safetensors_numpy()
    path = os.fspath(path)
    with open(path, "rb") as f:
        _check_layout(path, f)
        data = f.read()
    try:
        return dict(st_numpy.load(data))
    except Exception as e:  # the parser's own error types live in a compiled module
        raise CheckpointError(f"cannot load {path!r}: it is not a valid safetensors file ({e})", path) from e
