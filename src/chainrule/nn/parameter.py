"""``Parameter``: a Tensor that a Module registers as one of its learnable weights.

``p.data`` is the parameter's array, as for every Tensor, seen through ``ParameterData``: a NumPy view of the
same memory that also has PyTorch's in-place methods (``p.data.normal_(0, 0.02)``, ``p.data.zero_()``,
``p.data.add_(g, alpha=-lr)``, ``p.data.copy_(w)``, ...). They change the parameter without recording a graph
and bump its version, as a write through ``torch.Tensor.data`` does, so a graph that saved the old values still
refuses to backpropagate through them. Arithmetic on the view gives plain NumPy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend, dtypes
from chainrule.autograd.saved import unlocked
from chainrule.creation import default_generator
from chainrule.errors import DTypeError
from chainrule.tensor import Tensor, as_array


def _plain(value: Any) -> Any:
    """A value to compute with: the array of a Tensor, a plain ndarray for a ParameterData."""
    if isinstance(value, Tensor):
        return value._data
    return value.view(np.ndarray) if isinstance(value, ParameterData) else value


class ParameterData(np.ndarray):
    """A view of a parameter's array with PyTorch's in-place methods; each writes into the parameter's memory
    and bumps its version. Results of arithmetic are plain ``numpy.ndarray``s."""

    _version_box: list[int] | None = None

    def __array_finalize__(self, obj: Any) -> None:
        # a slice or reshape of the view writes into the same parameter: it shares the version box
        self._version_box = getattr(obj, "_version_box", None)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        inputs = tuple(_plain(x) for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(x) for x in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __array_wrap__(self, array: Any, context: Any = None, return_scalar: bool = False) -> Any:
        return array[()] if return_scalar else array.view(np.ndarray)

    # ----- PyTorch's in-place methods --------------------------------------------------------------------
    def _write(self, op: str, values: Any) -> ParameterData:
        plain = self.view(np.ndarray)
        with unlocked(op, plain):  # a graph may hold the values read-only: the version bump tells it
            plain[...] = _plain(values) if backend.is_array(values) else np.asarray(_plain(values), dtype=self.dtype)
        if self._version_box is not None:
            self._version_box[0] += 1
        return self

    def copy_(self, src: Any, non_blocking: bool = False) -> ParameterData:
        return self._write("copy_", src)

    def fill_(self, value: Any) -> ParameterData:
        return self._write("fill_", _plain(value))

    def zero_(self) -> ParameterData:
        return self._write("zero_", 0)

    def add_(self, other: Any, *, alpha: float = 1) -> ParameterData:
        return self._write("add_", self.view(np.ndarray) + self.dtype.type(alpha) * _plain(other))

    def sub_(self, other: Any, *, alpha: float = 1) -> ParameterData:
        return self._write("sub_", self.view(np.ndarray) - self.dtype.type(alpha) * _plain(other))

    def mul_(self, other: Any) -> ParameterData:
        return self._write("mul_", self.view(np.ndarray) * _plain(other))

    def div_(self, other: Any) -> ParameterData:
        return self._write("div_", self.view(np.ndarray) / _plain(other))

    def clamp_(self, min: Any = None, max: Any = None) -> ParameterData:  # noqa: A002 - PyTorch's names
        return self._write("clamp_", np.clip(self.view(np.ndarray), _plain(min), _plain(max)))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> ParameterData:
        """Fill with samples of N(mean, std²) from chainrule's default generator (``cr.manual_seed``)."""
        self._float_only("normal_")
        rng = default_generator() if generator is None else generator
        return self._write("normal_", rng.normal(mean, std, self.shape))

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> ParameterData:
        """Fill with samples of U(a, b) from chainrule's default generator (``cr.manual_seed``)."""
        self._float_only("uniform_")
        rng = default_generator() if generator is None else generator
        return self._write("uniform_", rng.uniform(a, b, self.shape))

    def _float_only(self, op: str) -> None:
        if self.dtype.kind != "f":
            raise DTypeError(f"{op}: expected a floating-point tensor, got dtype {self.dtype}")

    # ----- what PyTorch's ``data`` tensor also answers ---------------------------------------------------
    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(np.ndarray.__getattribute__(self, "size"))

    def numpy(self) -> np.ndarray:
        return self.view(np.ndarray)

    def cpu(self) -> ParameterData:
        """The values on the CPU: this view, where they already are."""
        return self

    def clone(self) -> np.ndarray:
        """A copy of the values in new memory (a plain array: writing to it leaves the parameter alone)."""
        return self.view(np.ndarray).copy()

    def item(self, *args: Any) -> Any:
        return self.view(np.ndarray).item(*args)


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default and that a ``Module`` registers when assigned to it.

    ``Parameter(t)`` shares memory with ``t`` (a Tensor or an array), as ``torch.nn.Parameter`` does;
    ``Parameter()`` is an empty float32 parameter. Ops on a Parameter return plain Tensors.
    """

    __slots__ = ("_view",)  # the ParameterData view of the current array, made once: p.data is p.data

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=dtypes.float32)
        elif isinstance(data, Tensor):
            data = data._data
        super().__init__(data, requires_grad=requires_grad)
        self._view = None

    @property
    def data(self) -> Any:
        """The parameter's array, as a ``ParameterData`` view with PyTorch's in-place methods (see the module)."""
        array = self._data
        if type(array) is not np.ndarray:  # a CuPy array: no view class of its own
            return array
        view = getattr(self, "_view", None)
        # the view is reused while it still views this array (a copied Parameter's copied view does not)
        if view is None or view.base is not (array if array.base is None else array.base) or view.shape != array.shape \
                or view.strides != array.strides or view.dtype != array.dtype:
            view = array.view(ParameterData)
            view._version_box = self._version
            self._view = view
        elif view.flags.writeable != array.flags.writeable:  # a graph locked (or released) the values since
            view.setflags(write=array.flags.writeable)
        return view

    @data.setter
    def data(self, value: Any) -> None:
        array = as_array(value)
        old = self._data
        if not (array.shape == old.shape and array.dtype == old.dtype and array.strides == old.strides
                and type(old) is np.ndarray and type(array) is np.ndarray
                and array.__array_interface__["data"][0] == old.__array_interface__["data"][0]):
            self._data = array  # not the same memory (``p.data -= g`` writes in place and hands back a view of it)
        self._version[0] += 1

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
