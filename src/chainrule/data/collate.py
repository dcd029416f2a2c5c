"""How samples become a batch: ``default_collate`` (stack) and ``default_convert`` (no batching), as PyTorch's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.data.idx import DataError
from chainrule.errors import ShapeError
from chainrule.tensor import Tensor, as_array

__all__ = ["default_collate", "default_convert"]


def _stack(arrays: list[Any]) -> Tensor:
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) > 1:
        listed = ", ".join(str(s) for s in sorted(shapes)[:4])
        raise ShapeError(
            f"default_collate: cannot stack samples of different shapes ({listed}); make them equal "
            f"(for example with transforms.RandomCrop) or pass a collate_fn"
        )
    xp = backend.get_array_module(*arrays)
    return Tensor(xp.stack(arrays))


def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of samples into a batch, keeping the samples' structure.

    - arrays and Tensors are stacked along a new first axis into a Tensor (dtype kept);
    - Python ints become an int64 Tensor, Python floats a float32 Tensor, bools a bool Tensor, NumPy
      scalars a Tensor of their dtype;
    - tuples (named tuples too), lists and dicts are merged field by field: a list of ``(image, label)``
      tuples becomes the tuple ``(images, labels)`` of Tensors;
    - strings and bytes are gathered into a list.

    As PyTorch's ``default_collate``, except that Python floats give float32 (chainrule's default float, where
    PyTorch gives float64) and tuples stay tuples (PyTorch returns a list for a plain tuple).
    """
    if len(batch) == 0:
        raise DataError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([as_array(b) for b in batch])
    if backend.is_array(elem):
        return _stack(list(batch))
    if isinstance(elem, (bool, np.bool_)):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, np.generic):
        return Tensor(np.array(batch, dtype=elem.dtype))
    if isinstance(elem, int):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float32))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, Sequence):
        sizes = {len(sample) for sample in batch}
        if len(sizes) > 1:
            raise DataError(f"default_collate: samples have different numbers of fields: {sorted(sizes)}")
        fields = [default_collate(list(column)) for column in zip(*batch)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple
            return type(elem)(*fields)
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise DataError(
        f"default_collate: cannot batch samples of type {type(elem).__name__}; return arrays, numbers, "
        f"tuples, lists or dicts from the data set, or pass a collate_fn"
    )


def default_convert(data: Any) -> Any:
    """One sample, unbatched: arrays and NumPy scalars become Tensors, inside tuples, lists and dicts too; other
    values (Python numbers, strings) are kept. The ``collate_fn`` of a loader made with ``batch_size=None``."""
    if isinstance(data, Tensor):
        return data
    if backend.is_array(data):
        return data if data.dtype.kind in "SUO" else Tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return Tensor(np.asarray(data))
    if isinstance(data, Mapping):
        converted = {k: default_convert(v) for k, v in data.items()}
        try:
            return converted if type(data) is dict else type(data)(converted)
        except TypeError:  # a mapping type that cannot be built from a dict (defaultdict): a plain dict, as PyTorch
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, tuple):
        return tuple(default_convert(v) for v in data)
    if isinstance(data, list):
        return [default_convert(v) for v in data]
    return data
