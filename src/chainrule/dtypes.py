"""dtype rules: float32 by default, and no silent upcasts.

- Python numbers and NumPy scalars are *weak*: in ``x * 0.5`` the scalar takes ``x``'s dtype, so a float32
  graph stays float32 whatever literal a user writes.
- A float tensor and an integer tensor combine in the float tensor's dtype (masks, counts).
- float32 and float64 tensors never mix implicitly: that upcast doubles memory and time without a word, so it
  raises ``DTypeError`` with the cast to write (``x.double()`` or ``y.float()``).
"""

from __future__ import annotations

import numpy as np

from chainrule.errors import DTypeError

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

default_float = float32


def result_dtype(op: str, *dtypes: np.dtype) -> np.dtype:
    """The dtype of an op over tensors of ``dtypes``; raises if two different float dtypes meet."""
    floats = {d for d in dtypes if d.kind == "f"}
    if len(floats) > 1:
        names = ", ".join(sorted(str(d) for d in floats))
        raise DTypeError(
            f"{op}: cannot mix floating dtypes {names} implicitly; cast one side first, "
            f"for example x.float() for float32 or x.double() for float64"
        )
    if floats:
        return floats.pop()
    return np.result_type(*dtypes)
