"""A stand-in for CuPy, backed by NumPy, for testing chainrule's device layer on a machine without a GPU.

It exposes the part of CuPy's API that chainrule uses: ``ndarray``, ``asarray``/``array``/``asnumpy``,
``get_array_module``, the creation functions, the ufuncs (with ``reduce``, ``accumulate``, ``at``), ``linalg``,
``random``, ``lib.stride_tricks`` and ``cuda.Device`` / ``cuda.runtime.getDeviceCount``. Its ``ndarray`` is a
type of its own wrapping a NumPy array, and it keeps CuPy's boundary between host and device:

- ``numpy.asarray(device_array)`` raises TypeError, as CuPy's ``__array__`` does, and NumPy's ufuncs refuse a
  device array (``__array_ufunc__ = None``), so a stray ``np.`` call on device values fails loudly;
- a host (NumPy) array is refused as an operand of a device operation, as CuPy refuses it; only ``asarray``,
  ``array`` and the like copy host data onto the device, and only ``asnumpy`` / ``ndarray.get`` copy it back;
- reductions and scalar indexing give 0-d device arrays, not NumPy scalars, as in CuPy;
- there are two fake devices (``cuda.runtime.getDeviceCount() == 2``); an array remembers the device that was
  current when it was made, so moves between devices can be tested.

The numbers are NumPy's, so a result computed here equals NumPy's bit for bit.
"""

from __future__ import annotations

import contextlib as _contextlib
import types as _types
from collections.abc import Iterator
from typing import Any

import numpy as _np

_DEVICE_COUNT = 2
_current = [0]  # the current device's index (cuda.Device(i) switches it)

_HOST_ERROR = ("Unsupported type <class 'numpy.ndarray'>: a host (NumPy) array cannot be an operand of a device "
               "operation; copy it to the device with asarray first")


class ndarray:  # noqa: N801 - CuPy's name
    """A device array: a NumPy array that NumPy is not allowed to see."""

    __slots__ = ("_a", "_device_id", "__weakref__")
    __array_ufunc__ = None  # NumPy's operators and ufuncs give way (ours run) or refuse
    __array_priority__ = 1000

    def __init__(self, array: _np.ndarray, device_id: int | None = None) -> None:
        if not isinstance(array, _np.ndarray):
            raise TypeError(f"fakecupy.ndarray wraps a numpy.ndarray, got {type(array).__name__}")
        self._a = array
        self._device_id = _current[0] if device_id is None else device_id

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a "
                        "NumPy array explicitly.")

    # ----- what it is ----------------------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: _wrap(self._a.T))
    real = property(lambda self: _wrap(self._a.real))
    imag = property(lambda self: _wrap(self._a.imag))

    @property
    def flags(self) -> Any:
        """CuPy's flags: contiguity and ownership; there is no ``writeable`` flag on a device array."""
        f = self._a.flags
        return _types.SimpleNamespace(c_contiguous=f.c_contiguous, f_contiguous=f.f_contiguous, owndata=f.owndata)

    @property
    def base(self) -> Any:
        return None if self._a.base is None else ndarray(_base_array(self._a), self._device_id)

    @property
    def device(self) -> cuda.Device:
        return cuda.Device(self._device_id)

    def get(self, stream: Any = None, order: str = "C", out: Any = None) -> _np.ndarray:
        """A host (NumPy) copy."""
        return self._a.copy()

    def set(self, arr: _np.ndarray, stream: Any = None) -> None:
        self._a[...] = arr

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        for i in range(len(self._a)):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __index__(self) -> int:
        return self._a.__index__()

    def __complex__(self) -> complex:
        return complex(self._a)

    def __repr__(self) -> str:
        return repr(self._a)

    def __str__(self) -> str:
        return str(self._a)

    def __format__(self, spec: str) -> str:
        return format(self._a, spec) if self._a.ndim == 0 else format(str(self), spec)

    def __copy__(self) -> ndarray:
        return ndarray(self._a.copy(), self._device_id)

    def __deepcopy__(self, memo: dict[int, Any]) -> ndarray:
        return ndarray(self._a.copy(), self._device_id)

    def __reduce__(self) -> Any:
        raise TypeError("a fakecupy.ndarray is not picklable here; copy it to the host with asnumpy first")

    # ----- indexing ------------------------------------------------------------------------------------
    def __getitem__(self, key: Any) -> ndarray:
        return _wrap(self._a[_unwrap_index(key)], self._device_id)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._a[_unwrap_index(key)] = _unwrap(value)

    __hash__ = None  # type: ignore[assignment] - == is elementwise

    def __getattr__(self, name: str) -> Any:
        if name not in _METHODS:
            raise AttributeError(f"'fakecupy.ndarray' object has no attribute {name!r}")
        method = getattr(self._a, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return _wrap(method(*_unwrap(args), **_unwrap(kwargs)), self._device_id)

        return call


# The methods of cupy.ndarray that delegate to NumPy's (anything else is an AttributeError, as in CuPy).
_METHODS = frozenset("""
    all any argmax argmin argpartition argsort astype choose clip compress conj conjugate copy cumprod cumsum
    diagonal dot fill flatten item max mean min nonzero partition prod put ravel repeat reshape round
    searchsorted sort squeeze std sum swapaxes take tolist trace transpose var view
""".split())


def _base_array(a: _np.ndarray) -> _np.ndarray:
    base = a.base
    return base if isinstance(base, _np.ndarray) else a


def _wrap(value: Any, device_id: int | None = None) -> Any:
    """NumPy results as device values: arrays and NumPy scalars become device arrays (0-d for a scalar)."""
    if isinstance(value, _np.ndarray):
        return ndarray(value, device_id)
    if isinstance(value, _np.generic):
        return ndarray(_np.asarray(value), device_id)
    if isinstance(value, tuple):
        return tuple(_wrap(v, device_id) for v in value)
    if isinstance(value, list):
        return [_wrap(v, device_id) for v in value]
    return value


def _unwrap(value: Any) -> Any:
    """Arguments for NumPy: device arrays give their arrays; a host array is refused (CuPy's TypeError)."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, _np.ndarray):
        raise TypeError(_HOST_ERROR)
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _unwrap_index(key: Any) -> Any:
    """An index: device arrays, and host arrays and lists (CuPy copies those to the device first)."""
    if isinstance(key, ndarray):
        return key._a
    if isinstance(key, tuple):
        return tuple(k._a if isinstance(k, ndarray) else k for k in key)
    return key


def _binary(ufunc: Any, reflected: bool = False) -> Any:
    def op(self: ndarray, other: Any) -> Any:
        if not isinstance(other, (ndarray, _np.ndarray, _np.generic, bool, int, float, complex)):
            return NotImplemented
        o = _unwrap(other)
        return _wrap(ufunc(o, self._a) if reflected else ufunc(self._a, o), self._device_id)

    return op


def _inplace(ufunc: Any) -> Any:
    def op(self: ndarray, other: Any) -> ndarray:
        ufunc(self._a, _unwrap(other), out=self._a)
        return self

    return op


for _name, _uf in {"add": _np.add, "sub": _np.subtract, "mul": _np.multiply, "truediv": _np.true_divide,
                   "floordiv": _np.floor_divide, "mod": _np.remainder, "pow": _np.power, "matmul": _np.matmul,
                   "and": _np.bitwise_and, "or": _np.bitwise_or, "xor": _np.bitwise_xor,
                   "lshift": _np.left_shift, "rshift": _np.right_shift}.items():
    setattr(ndarray, f"__{_name}__", _binary(_uf))
    setattr(ndarray, f"__r{_name}__", _binary(_uf, reflected=True))
    setattr(ndarray, f"__i{_name}__", _inplace(_uf))
for _name, _uf in {"eq": _np.equal, "ne": _np.not_equal, "lt": _np.less, "le": _np.less_equal,
                   "gt": _np.greater, "ge": _np.greater_equal}.items():
    setattr(ndarray, f"__{_name}__", _binary(_uf))
ndarray.__neg__ = lambda self: _wrap(-self._a, self._device_id)  # type: ignore[method-assign]
ndarray.__pos__ = lambda self: _wrap(+self._a, self._device_id)  # type: ignore[method-assign]
ndarray.__abs__ = lambda self: _wrap(_np.absolute(self._a), self._device_id)  # type: ignore[method-assign]
ndarray.__invert__ = lambda self: _wrap(~self._a, self._device_id)  # type: ignore[method-assign]


class ufunc:  # noqa: N801 - CuPy's name
    """A NumPy ufunc on device arrays, with ``reduce``, ``accumulate``, ``outer`` and ``at``."""

    def __init__(self, np_ufunc: Any) -> None:
        self._uf = np_ufunc
        self.__name__ = np_ufunc.__name__
        self.nin, self.nout = np_ufunc.nin, np_ufunc.nout

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _wrap(self._uf(*_unwrap(args), **_unwrap(kwargs)))

    def reduce(self, *args: Any, **kwargs: Any) -> Any:
        return _wrap(self._uf.reduce(*_unwrap(args), **_unwrap(kwargs)))

    def accumulate(self, *args: Any, **kwargs: Any) -> Any:
        return _wrap(self._uf.accumulate(*_unwrap(args), **_unwrap(kwargs)))

    def outer(self, *args: Any, **kwargs: Any) -> Any:
        return _wrap(self._uf.outer(*_unwrap(args), **_unwrap(kwargs)))

    def at(self, a: ndarray, indices: Any, b: Any = None) -> None:
        if not isinstance(a, ndarray):
            raise TypeError(_HOST_ERROR)
        if b is None:
            self._uf.at(a._a, _unwrap_index(indices))
        else:
            self._uf.at(a._a, _unwrap_index(indices), _unwrap(b))


def _function(np_function: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return _wrap(np_function(*_unwrap(args), **_unwrap(kwargs)))

    call.__name__ = np_function.__name__
    call.__doc__ = f"numpy.{np_function.__name__} on device arrays."
    return call


# NumPy functions that CuPy also has (a device array in, a device array out).
_FUNCTIONS = """
    abs absolute add all allclose amax amin any arange arccos arccosh arcsin arcsinh arctan arctan2 arctanh argmax
    argmin argpartition argsort argwhere around array_equal atleast_1d atleast_2d atleast_3d bincount bitwise_and
    bitwise_not bitwise_or bitwise_xor broadcast_arrays broadcast_to cbrt ceil clip concatenate copysign cos cosh
    count_nonzero cumprod cumsum deg2rad diag diagonal diff divide dot dsplit dstack einsum empty empty_like equal
    exp exp2 expand_dims expm1 eye fabs fix flatnonzero flip fliplr flipud floor floor_divide fmax fmin fmod
    full full_like greater greater_equal hsplit hstack hypot identity inner invert isclose isfinite isinf isnan
    kron ldexp left_shift less less_equal linspace log log10 log1p log2 logaddexp logaddexp2 logical_and
    logical_not logical_or logical_xor matmul max maximum mean median meshgrid min minimum mod moveaxis multiply
    nan_to_num nanargmax nanargmin nanmax nanmean nanmin nansum negative nextafter nonzero not_equal ones
    ones_like outer pad partition positive power prod put_along_axis rad2deg ravel reciprocal remainder
    repeat reshape right_shift rint roll rollaxis rot90 round searchsorted sign signbit sin sinc sinh sort split
    sqrt square squeeze stack std subtract sum swapaxes take take_along_axis tan tanh tensordot tile trace
    transpose tril triu true_divide trunc unique unravel_index var vsplit vstack where zeros zeros_like
""".split()

# Names that are not about arrays (dtypes, constants, dtype rules): the same objects as NumPy's.
_PASSTHROUGH = """
    bool_ complex64 complex128 dtype e euler_gamma finfo float16 float32 float64 iinfo inf int8 int16 int32 int64
    intp integer floating number issubdtype can_cast nan newaxis pi promote_types uint8 uint16 uint32
    uint64 isscalar ndim shape size
""".split()

_module = globals()
for _name in _FUNCTIONS:
    _f = getattr(_np, _name)
    _module[_name] = ufunc(_f) if isinstance(_f, _np.ufunc) else _function(_f)
for _name in _PASSTHROUGH:
    _module[_name] = getattr(_np, _name)


def result_type(*arrays_and_dtypes: Any) -> _np.dtype:
    """NumPy's rule, on the dtypes of device arrays (and on host scalars and dtypes as given)."""
    return _np.result_type(*[a.dtype if isinstance(a, ndarray) else a for a in arrays_and_dtypes])


def asarray(a: Any, dtype: Any = None, order: Any = None, *, blocking: bool = False) -> ndarray:
    """``a`` on the current device: a device array as it is (or cast), host data copied to the device."""
    if isinstance(a, ndarray):
        if a._device_id != _current[0]:
            return ndarray(_np.array(a._a, dtype=dtype, order=order or "K"))
        return a if dtype is None or a.dtype == dtype else ndarray(a._a.astype(dtype), a._device_id)
    return ndarray(_np.array(_host(a), dtype=dtype, order=order or "K", copy=True))


def array(obj: Any, dtype: Any = None, copy: bool = True, order: str = "K", subok: bool = False,
          ndmin: int = 0, *, blocking: bool = False) -> ndarray:
    """A new device array holding ``obj`` (a copy, unless ``copy=False`` and nothing needs to change)."""
    if isinstance(obj, ndarray):
        if not copy and obj._device_id == _current[0] and (dtype is None or obj.dtype == dtype):
            return obj
        return ndarray(_np.array(obj._a, dtype=dtype, order=order, ndmin=ndmin))
    return ndarray(_np.array(_host(obj), dtype=dtype, order=order, ndmin=ndmin, copy=True))


def ascontiguousarray(a: Any, dtype: Any = None) -> ndarray:
    return ndarray(_np.ascontiguousarray(asarray(a)._a, dtype=dtype), a._device_id if isinstance(a, ndarray)
                   else None)


def asanyarray(a: Any, dtype: Any = None, order: Any = None) -> ndarray:
    return asarray(a, dtype, order)


def _host(obj: Any) -> Any:
    """Host data for a copy to the device: nested lists of device 0-d arrays become numbers."""
    if isinstance(obj, (list, tuple)):
        return [_host(o) for o in obj]
    if isinstance(obj, ndarray):
        return obj._a
    return obj


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None, *, blocking: bool = True) -> _np.ndarray:
    """A host (NumPy) copy of a device array; host data is returned as NumPy would (``numpy.asarray``)."""
    if isinstance(a, ndarray):
        return a._a.copy()
    return _np.asarray(a)


def get_array_module(*args: Any) -> _types.ModuleType:
    """This module when any argument is a device array, else NumPy (CuPy's rule)."""
    for a in args:
        if isinstance(a, ndarray):
            return _module_self
    return _np


def copyto(dst: ndarray, src: Any, casting: str = "same_kind", where: Any = True) -> None:
    if not isinstance(dst, ndarray):
        raise TypeError(_HOST_ERROR)
    _np.copyto(dst._a, _unwrap(src), casting=casting, where=_unwrap(where))


def may_share_memory(a: Any, b: Any, max_work: Any = None) -> bool:
    if not (isinstance(a, ndarray) and isinstance(b, ndarray)):
        return False
    return bool(_np.may_share_memory(a._a, b._a))


def shares_memory(a: Any, b: Any, max_work: Any = None) -> bool:
    if not (isinstance(a, ndarray) and isinstance(b, ndarray)):
        return False
    return bool(_np.shares_memory(a._a, b._a))


def _namespace(name: str, source: Any, names: str) -> _types.SimpleNamespace:
    ns = _types.SimpleNamespace(__name__=f"{__name__}.{name}")
    for n in names.split():
        setattr(ns, n, _function(getattr(source, n)))
    return ns


linalg = _namespace("linalg", _np.linalg, "norm inv solve det slogdet svd qr cholesky eigh eigvalsh pinv lstsq "
                                          "matrix_power matrix_rank tensorsolve tensorinv")
lib = _types.SimpleNamespace(stride_tricks=_namespace("lib.stride_tricks", _np.lib.stride_tricks,
                                                      "as_strided sliding_window_view"))


class _Generator:
    """cupy.random's generator: NumPy's draws, on the device."""

    def __init__(self, seed: Any = None) -> None:
        self._rng = _np.random.default_rng(seed)

    def __getattr__(self, name: str) -> Any:
        if name not in ("random", "standard_normal", "normal", "uniform", "integers", "permutation", "choice",
                        "shuffle", "binomial", "bernoulli"):
            raise AttributeError(name)
        return _function(getattr(self._rng, name))


_default_rng = _Generator(0)
random = _types.SimpleNamespace(
    __name__=f"{__name__}.random",
    default_rng=_Generator,
    seed=lambda seed=None: _default_rng.__init__(seed),
    rand=lambda *shape: _default_rng.random(shape),
    randn=lambda *shape: _default_rng.standard_normal(shape),
    random=lambda size=None: _default_rng.random(size),
    normal=lambda loc=0.0, scale=1.0, size=None: _default_rng.normal(loc, scale, size),
    uniform=lambda low=0.0, high=1.0, size=None: _default_rng.uniform(low, high, size),
    randint=lambda low, high=None, size=None: _default_rng.integers(low, high, size),
)


class _Device:
    """``cuda.Device(i)``: a context that makes device ``i`` current; ``id`` is its index."""

    def __init__(self, device: Any = None) -> None:
        index = _current[0] if device is None else int(device)
        if not 0 <= index < _DEVICE_COUNT:
            raise RuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {index}")
        self.id = index
        self._previous: list[int] = []

    def __enter__(self) -> _Device:
        self._previous.append(_current[0])
        _current[0] = self.id
        return self

    def __exit__(self, *exc: object) -> None:
        _current[0] = self._previous.pop()

    def use(self) -> None:
        _current[0] = self.id

    def synchronize(self) -> None:
        """Wait for the device's work: there is never any outstanding (NumPy has finished)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


cuda = _types.SimpleNamespace(
    __name__=f"{__name__}.cuda",
    Device=_Device,
    is_available=lambda: True,
    get_device_id=lambda: _current[0],
    runtime=_types.SimpleNamespace(getDeviceCount=lambda: _DEVICE_COUNT),
)

import sys as _sys  # noqa: E402 - the module object itself, for get_array_module

_module_self = _sys.modules[__name__]


@_contextlib.contextmanager
def installed() -> Iterator[_types.ModuleType]:
    """chainrule's "cuda" device computed by this module for the duration of the block (the previous device
    module, CuPy or none, comes back after it)."""
    from chainrule import backend

    previous = backend.use_device_module(_module_self)
    try:
        yield _module_self
    finally:
        backend.use_device_module(previous)
