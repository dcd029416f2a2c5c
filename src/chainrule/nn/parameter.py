"""``Parameter``: a Tensor that a Module registers as one of its learnable weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default and that a ``Module`` registers when assigned to it.

    ``Parameter(t)`` shares memory with ``t`` (a Tensor or an array), as ``torch.nn.Parameter`` does;
    ``Parameter()`` is an empty float32 parameter. Ops on a Parameter return plain Tensors.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=dtypes.float32)
        elif isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
