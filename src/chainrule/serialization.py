"""``cr.save`` / ``cr.load``: PyTorch's ``torch.save`` and ``torch.load`` for state dicts, on chainrule's archive.

What is saved is what ``chainrule.io.save`` stores: nested dicts, lists and tuples of Tensors, arrays, numbers,
strings, bools and None (a model's or an optimizer's ``state_dict()``, a dict of both, a training record). The
file is a pickle-free ``.npz`` archive (docs/checkpoints.md), written atomically. ``load`` gives every numeric
array back as a Tensor, as ``torch.load`` gives tensors; it never unpickles, whatever ``weights_only`` says, so a
file from ``torch.save`` is refused with a message saying what it is and how to convert it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from typing import IO, Any

import numpy as np

from chainrule.devices import as_device, check_available, device, move
from chainrule.errors import ArgumentTypeError
from chainrule.io.archive import CheckpointError
from chainrule.io.archive import load as load_archive
from chainrule.io.archive import save as save_archive
from chainrule.tensor import Tensor

__all__ = ["load", "save"]

FileLike = str | os.PathLike[str] | IO[bytes]


def save(obj: Any, f: FileLike, pickle_module: Any = None, pickle_protocol: int | None = None,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Save ``obj`` (a state dict, or nested dicts/lists/tuples of Tensors, numbers and strings) to ``f``, a path
    (written atomically: a crash leaves the previous file) or a binary file object.

    A Module, an optimizer or any other Python object is refused with a TypeError (saving it would need
    pickle): save its ``state_dict()`` instead. ``pickle_module`` must be None; ``pickle_protocol`` is ignored.
    """
    if pickle_module is not None:
        raise ArgumentTypeError("save: chainrule never pickles, so 'pickle_module' must be None; hint: save a "
                                "state_dict(), which needs no pickle")
    if isinstance(f, (str, os.PathLike)):
        _save_path(obj, f)
        return
    if not hasattr(f, "write"):
        raise ArgumentTypeError(f"save: argument 'f' must be a path or a binary file object, got "
                                f"{type(f).__name__}")
    with tempfile.TemporaryDirectory() as folder:  # the archive is built as a file, then copied into f
        path = os.path.join(folder, "obj.npz")
        _save_path(obj, path)
        with open(path, "rb") as src:
            shutil.copyfileobj(src, f)


def _save_path(obj: Any, path: str | os.PathLike[str]) -> None:
    try:
        save_archive(path, obj)
    except TypeError as e:
        raise ArgumentTypeError(
            f"save: {e}; hint: save model.state_dict() and optimizer.state_dict() (chainrule stores values, not "
            f"Python objects, so nothing is ever unpickled)"
        ) from None


def load(f: FileLike, map_location: Any = None, pickle_module: Any = None, *, weights_only: bool | None = True,
         mmap: bool | None = None, **pickle_load_args: Any) -> Any:
    """Load what ``save`` wrote: numeric arrays come back as Tensors, dicts, lists, tuples, numbers and strings
    as themselves. ``save`` stores host copies (a tensor saved from a GPU too), so tensors load onto the CPU
    unless ``map_location`` says otherwise.

    ``map_location`` as PyTorch's: None or "cpu", a device ("cuda", "cuda:1", ...), a dict mapping the saved
    location ("cpu") to a new one, or a callable ``fn(tensor, "cpu")`` returning the tensor to use; a device
    that is not available raises ``DeviceError`` before the file is read. ``weights_only``, ``mmap`` and the
    pickle arguments are accepted; nothing is ever unpickled. A file that is not a chainrule archive (a
    ``torch.save`` file, a plain pickle) raises ``CheckpointError`` saying what it is.
    """
    if pickle_module is not None or pickle_load_args:
        raise ArgumentTypeError("load: chainrule never unpickles, so it takes no 'pickle_module' or pickle "
                                "arguments; hint: load(f) or load(f, map_location='cpu')")
    relocate = _relocation(map_location)
    if isinstance(f, (str, os.PathLike)):
        value = _load_path(os.fspath(f))
    elif hasattr(f, "read"):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "obj.npz")
            with open(path, "wb") as dst:
                shutil.copyfileobj(f, dst)
            value = _load_path(path, shown=getattr(f, "name", None) or "the file object")
    else:
        raise ArgumentTypeError(f"load: argument 'f' must be a path or a binary file object, got {type(f).__name__}")
    return _tensors(value, relocate)


def _load_path(path: str, shown: str | None = None) -> Any:
    try:
        return load_archive(path)
    except CheckpointError as e:
        if _is_torch_zip(path):
            raise CheckpointError(
                f"load: {shown or path!r} is a PyTorch checkpoint (torch.save's zip of pickles), which chainrule "
                f"never unpickles; hint: convert it in PyTorch, e.g. numpy.savez('w.npz', **{{k: v.numpy() for k, v "
                f"in torch.load(f).items()}}), then model.load_state_dict(dict(numpy.load('w.npz')))",
                path,
            ) from None
        if shown is not None:
            raise CheckpointError(str(e).replace(repr(path), shown), path) from None
        raise


def _is_torch_zip(path: str) -> bool:
    """Whether ``path`` is torch.save's format: a ZIP holding ``<name>/data.pkl`` (names are read, nothing else)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("data.pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _relocation(map_location: Any) -> Callable[[Tensor], Tensor]:
    """How each loaded tensor is placed: checked once, before the file is read.

    The archive stores host copies, so every tensor comes out of the file on the CPU, its saved location: a
    dict maps "cpu" (keys naming other devices have nothing to map), a device moves every tensor there."""
    if map_location is None:
        return lambda t: t
    if callable(map_location) and not isinstance(map_location, device):
        def call(t: Tensor) -> Tensor:
            out = map_location(t, "cpu")
            if out is None:  # PyTorch's convention: None keeps the tensor where it was saved
                return t
            if not isinstance(out, Tensor):
                raise ArgumentTypeError(f"load: map_location returned {type(out).__name__}, expected a Tensor or "
                                        f"None")
            return out
        return call
    if isinstance(map_location, Mapping):
        for key in map_location:
            as_device("load", key)
        target = check_available("load", map_location.get("cpu", "cpu"))
    else:
        target = check_available("load", as_device("load", map_location))
    if target.type == "cpu":
        return lambda t: t
    return lambda t: Tensor(move(t._data, target))


def _tensors(value: Any, relocate: Callable[[Tensor], Tensor]) -> Any:
    """Numeric arrays as Tensors, everywhere in the loaded structure (a state dict keeps its key order)."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return relocate(Tensor(value))
    if isinstance(value, dict):
        return {k: _tensors(v, relocate) for k, v in value.items()}
    if isinstance(value, list):
        return [_tensors(v, relocate) for v in value]
    if isinstance(value, tuple):
        return tuple(_tensors(v, relocate) for v in value)
    return value

