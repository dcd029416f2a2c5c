"""``Parameter``: a Tensor that a Module registers as one of its learnable weights.

``p.data`` is, as for every Tensor, the same values outside the graph: a Tensor sharing the parameter's memory
and version counter, whose in-place methods (``p.data.normal_(0, 0.02)``, ``p.data.zero_()``,
``p.data.add_(g, alpha=-lr)``, ``p.data.copy_(w)``) change the parameter without recording a graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default and that a ``Module`` registers when assigned to it.

    ``Parameter(t)`` shares memory with ``t`` (a Tensor or an array), as ``torch.nn.Parameter`` does;
    ``Parameter()`` is an empty float32 parameter. Ops on a Parameter (and ``p.data``) return plain Tensors.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=dtypes.float32)
        elif isinstance(data, Tensor):
            data = data._data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
