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
"""16-bit floating point (``torch.float16``, ``cr.half``): a NumPy dtype."""
float32 = np.dtype(np.float32)
"""32-bit floating point, the default (``torch.float32``, ``cr.float``): a NumPy dtype."""
float64 = np.dtype(np.float64)
"""64-bit floating point (``torch.float64``, ``cr.double``): gradient checks run in it."""
int32 = np.dtype(np.int32)
"""32-bit signed integer (``torch.int32``, ``cr.int``)."""
int64 = np.dtype(np.int64)
"""64-bit signed integer (``torch.int64``, ``cr.long``): class labels and indices."""
bool_ = np.dtype(np.bool_)
"""Boolean (``torch.bool``, ``cr.bool``): masks and comparison results."""
int16 = np.dtype(np.int16)
"""16-bit signed integer (``torch.int16``, ``cr.short``)."""
int8 = np.dtype(np.int8)
"""8-bit signed integer (``torch.int8``)."""
uint8 = np.dtype(np.uint8)
"""8-bit unsigned integer (``torch.uint8``): image pixels."""

default_float = float32

# The legacy tensor type names of ``Tensor.type()`` (PyTorch's 'torch.FloatTensor', with chainrule's prefix).
TYPE_NAMES = {
    float32: "chainrule.FloatTensor", float64: "chainrule.DoubleTensor", float16: "chainrule.HalfTensor",
    int64: "chainrule.LongTensor", int32: "chainrule.IntTensor", int16: "chainrule.ShortTensor",
    int8: "chainrule.CharTensor", uint8: "chainrule.ByteTensor", bool_: "chainrule.BoolTensor",
}


def from_type_name(name: str) -> np.dtype | None:
    """The dtype of a legacy type name ('chainrule.FloatTensor', or PyTorch's 'torch.FloatTensor'); None if unknown."""
    short = name.rpartition(".")[2]
    for dtype, full in TYPE_NAMES.items():
        if full.rpartition(".")[2] == short and name.partition(".")[0] in ("chainrule", "torch"):
            return dtype
    return None


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


# PyTorch's short names for the same dtypes (``cr.float is cr.float32``). They shadow Python's builtins in this
# module, so they come last, and no function above uses those builtins.
float = float32  # noqa: A001 - PyTorch's alias
double = float64
half = float16
long = int64
int = int32  # noqa: A001 - PyTorch's alias
short = int16
bool = bool_  # noqa: A001 - PyTorch's alias
