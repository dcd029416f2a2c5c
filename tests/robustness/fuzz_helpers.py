"""The fuzz harness: run one generated call in chainrule and in PyTorch, and judge the outcome.

A generated call is a ``Call``: the op's name(s), a chainrule function, a PyTorch function, and the arguments.
NumPy arrays among the arguments become a ``cr.Tensor`` on one side and a ``torch.Tensor`` on the other
(floating-point ones require grad, unless wrapped in ``Const``); ``Raw(value)`` is passed unchanged to both (a
list, a string, None or a Python number where a tensor is expected); anything else (ints, tuples, strings for
non-tensor arguments) is passed as it is.

``run_case(call)`` accepts exactly two outcomes:

1. chainrule returns, and the result equals PyTorch's for the same call: forward values, dtype and shape, and,
   when the call is differentiable and its inputs and outputs are finite, every input gradient for one seeded
   upstream gradient (loose float32 tolerances);
2. chainrule raises an instance of ``ChainruleError`` whose message names the op, or an instance of the
   built-in exception type PyTorch raises for the same call, again naming the op.

Anything else fails the test: a raw NumPy error (no op name), a result where PyTorch refuses the call (unless
the call's documented ``alt`` reference says what chainrule's more permissive answer must be), a result that
differs, or a call that runs longer than ``CALL_TIMEOUT_S`` (a hang).

Counters (``CASES``, ``OUTCOMES``, ``PERMISSIVE``) record what ran; ``conftest.py`` prints them.
"""

from __future__ import annotations

import builtins
import os
import re
import resource
import signal
import time
import traceback
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import chainrule as cr
from chainrule.errors import ChainruleError

torch.set_num_threads(1)

CASES: Counter[str] = Counter()  # op → generated cases run
OUTCOMES: Counter[str] = Counter()  # how the cases ended
PERMISSIVE: Counter[str] = Counter()  # documented cases where chainrule answers and PyTorch refuses
BY_OP: Counter[tuple[str, str]] = Counter()  # (op, outcome)
CLOCK = {"seconds": 0.0}  # time spent inside the generated cases (generation excluded)

CALL_TIMEOUT_S = 20.0  # one call, forward and backward, in both libraries: longer is a hang
MEMORY_HEADROOM = 4 << 30  # address space a case may add: far more than any sane case, far less than a huge one
STRICT_STATS = os.environ.get("CHAINRULE_FUZZ_STATS") == "1"  # also run PyTorch when chainrule refuses

# forward (rtol, atol) and gradient (rtol, atol) per dtype; atol is scaled by the largest expected magnitude
FORWARD_TOL = {np.dtype(np.float16): (1e-2, 1e-2), np.dtype(np.float32): (2e-4, 2e-5),
               np.dtype(np.float64): (1e-7, 1e-9)}
GRAD_TOL = {np.dtype(np.float16): (5e-2, 5e-2), np.dtype(np.float32): (2e-3, 2e-4),
            np.dtype(np.float64): (1e-6, 1e-8)}


@dataclass(frozen=True)
class Raw:
    """A value passed unchanged to both libraries, in a place where a tensor is expected."""

    value: Any

    def __repr__(self) -> str:
        return f"Raw({self.value!r})"


@dataclass(frozen=True)
class Const:
    """A tensor argument that never requires grad (indices, running statistics, class weights)."""

    array: np.ndarray

    def __repr__(self) -> str:
        return f"Const({_describe(self.array)})"


@dataclass
class Call:
    """One generated call of one op."""

    op: str | tuple[str, ...]  # the name(s) chainrule's messages must carry (the first is the op's own)
    cr_fn: Callable[..., Any]
    torch_fn: Callable[..., Any] | None  # None: no PyTorch counterpart, ``alt`` is the reference
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    grad: bool = True  # compare input gradients (when inputs and outputs are finite)
    alt: Callable[..., Any] | None = None  # the reference where PyTorch refuses and chainrule documents a result
    alt_reason: str = ""  # why chainrule may answer there (counted in PERMISSIVE)
    alt_grad: bool = True  # whether ``alt`` is differentiable (a NumPy reference is not)
    check: Callable[..., None] | None = None  # custom comparison (random ops): check(out, expected, args, kwargs)
    tol: float = 1.0  # tolerance multiplier (long sums)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.op,) if isinstance(self.op, str) else self.op


class Hang(BaseException):
    """A call ran past CALL_TIMEOUT_S (BaseException: no op's ``except Exception`` can swallow it)."""


@contextmanager
def deadline(seconds: float = CALL_TIMEOUT_S):
    """Interrupt the body with ``Hang`` after ``seconds`` (SIGALRM; the main thread only, where pytest runs)."""

    def on_alarm(signum, frame):
        raise Hang(f"no answer after {seconds} s")

    if not hasattr(signal, "setitimer"):  # pragma: no cover - Windows
        yield
        return
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def memory_cap(extra_bytes: int = MEMORY_HEADROOM):
    """Cap the address space at its current size plus ``extra_bytes`` (RLIMIT_AS), so that a call that tries to
    allocate a huge buffer fails at once with MemoryError instead of exhausting the machine."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, AttributeError):  # pragma: no cover - not Linux
        yield
        return
    cap = size + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# ----- building both libraries' arguments ------------------------------------------------------------------


class _Side:
    """One library's view of the arguments: the converted values and the leaves that require grad."""

    def __init__(self, lib: str, grad: bool, convert_raw: bool = False) -> None:
        self.lib, self.grad, self.convert_raw = lib, grad, convert_raw
        self.leaves: list[tuple[str, Any]] = []  # (path, tensor) for float array arguments
        self.tensors: list[tuple[str, Any]] = []  # (path, tensor) for every array argument (in-place checks)

    def tensor(self, array: np.ndarray, requires_grad: bool) -> Any:
        requires_grad = requires_grad and self.grad and array.dtype.kind == "f"
        if self.lib == "cr":
            return cr.Tensor(array.copy(), requires_grad=requires_grad)
        return torch.tensor(array.copy(), requires_grad=requires_grad)

    def convert(self, value: Any, path: str) -> Any:
        if isinstance(value, Raw):
            if self.convert_raw and self.lib == "torch":
                return _raw_as_torch(value.value)
            return value.value
        if isinstance(value, Const):
            t = self.tensor(value.array, False)
            self.tensors.append((path, t))
            return t
        if isinstance(value, np.ndarray):
            t = self.tensor(value, True)
            self.tensors.append((path, t))
            if t.requires_grad:
                self.leaves.append((path, t))
            return t
        if isinstance(value, list):
            return [self.convert(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple) and any(isinstance(v, (np.ndarray, Raw, Const)) for v in value):
            return tuple(self.convert(v, f"{path}[{i}]") for i, v in enumerate(value))
        return value

    def build(self, call: Call) -> tuple[list, dict]:
        args = [self.convert(a, f"arg{i}") for i, a in enumerate(call.args)]
        kwargs = {k: self.convert(v, k) for k, v in call.kwargs.items()}
        return args, kwargs


def _raw_as_torch(value: Any) -> Any:
    """An array-like as the tensor chainrule makes of it (Python floats become float32, as cr.tensor does);
    anything else unchanged."""
    if isinstance(value, np.generic):  # a NumPy number is weak in chainrule, like a Python number
        value = value.item()
    if isinstance(value, (list, tuple, int, float, np.ndarray)) and not isinstance(value, str):
        try:
            array = cr.tensor(value).numpy()
        except Exception:
            return value
        return torch.tensor(array)
    return value


def _is_array_like(value: Any) -> bool:
    return isinstance(value, (list, tuple, int, float, np.ndarray, np.generic)) and not isinstance(value, str)


# ----- judging -------------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype})"
    if isinstance(value, (list, tuple)) and any(isinstance(v, (np.ndarray, Const, Raw)) for v in value):
        inner = ", ".join(_describe(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)


def describe(call: Call) -> str:
    args = [_describe(a) for a in call.args] + [f"{k}={_describe(v)}" for k, v in call.kwargs.items()]
    return f"{call.names[0]}({', '.join(args)})"


def names_op(exc: BaseException, names: tuple[str, ...]) -> bool:
    """The message names one of the op's names as a word (``max`` does not match ``max_pool2d``)."""
    message = str(exc)
    return any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", message) for n in names)


def _outputs(result: Any) -> list[Any]:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _torch_call(fn: Callable, args: list, kwargs: dict) -> tuple[Any, BaseException | None]:
    try:
        with deadline():
            result = fn(*args, **kwargs)
    except Hang:
        raise
    except Exception as e:  # noqa: BLE001 - any refusal of PyTorch's is information
        return None, e
    tensors = isinstance(result, torch.Tensor) or (
        isinstance(result, tuple) and all(isinstance(r, torch.Tensor) for r in result))
    if not tensors:  # e.g. indexing a list: not a tensor op
        return None, TypeError(f"torch returned a {type(result).__name__}, not a Tensor")
    return result, None


def _finite_inputs(side: _Side) -> bool:
    for _, t in side.tensors:
        a = t.detach().numpy() if isinstance(t, torch.Tensor) else t.numpy()
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            return False
    return True


def _compare_arrays(what: str, got: np.ndarray, expected: np.ndarray, tol: dict, scale: float) -> None:
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != torch {expected.shape}"
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != torch {expected.dtype}"
    if got.dtype.kind != "f":
        np.testing.assert_array_equal(got, expected, err_msg=what)
        return
    rtol, atol = tol[got.dtype]
    finite = expected[np.isfinite(expected)]
    magnitude = float(np.abs(finite).max()) if finite.size else 1.0
    np.testing.assert_allclose(got, expected, rtol=rtol * scale, atol=atol * scale * max(1.0, magnitude),
                               equal_nan=True, err_msg=what)


def _as_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.numpy() if isinstance(t, cr.Tensor) else t)


def _compare(call: Call, cr_side: _Side, torch_side: _Side, out: Any, expected: Any, grad: bool) -> None:
    outs, exps = _outputs(out), _outputs(expected)
    assert len(outs) == len(exps), f"{len(outs)} outputs != torch's {len(exps)}"
    for i, (y, yt) in enumerate(zip(outs, exps)):
        assert isinstance(y, cr.Tensor), f"output {i} is a {type(y).__name__}, not a Tensor"
        _compare_arrays(f"output {i}", y.numpy(), _as_numpy(yt), FORWARD_TOL, call.tol)
    # arguments modified in place (batch_norm's running statistics) must end the same
    for (path, t), (_, tt) in zip(cr_side.tensors, torch_side.tensors):
        if not t.requires_grad:
            _compare_arrays(f"argument {path} after the call", t.numpy(), _as_numpy(tt), FORWARD_TOL, call.tol)
    if not (grad and call.grad and cr_side.leaves):
        return
    if not _finite_inputs(cr_side) or not all(np.isfinite(y.numpy()).all() for y in outs if y.dtype.kind == "f"):
        return  # gradients at NaN and ±inf follow conventions, not math: forward values only
    pairs = [(y, yt) for y, yt in zip(outs, exps) if y.requires_grad and getattr(yt, "requires_grad", False)]
    if not pairs:
        return
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(y.shape).astype(y.dtype) for y, _ in pairs]
    with deadline():
        try:
            torch.autograd.backward([yt for _, yt in pairs], [torch.tensor(g) for g in grads])
        except RuntimeError:  # PyTorch's own backward fails (pow with a bool exponent): no reference to compare
            OUTCOMES["(torch's backward fails: gradients not compared)"] += 1
            return
        cr.autograd.backward([y for y, _ in pairs], [cr.Tensor(g) for g in grads])
    for (path, x), (_, xt) in zip(cr_side.leaves, torch_side.leaves):
        if xt.grad is None:
            assert x.grad is None or not np.any(x.grad.numpy()), f"{path}: torch has no gradient, chainrule has one"
            continue
        assert x.grad is not None, f"{path}: no gradient (torch has one)"
        assert x.grad.dtype == x.dtype, f"{path}: gradient dtype {x.grad.dtype} != input dtype {x.dtype}"
        _compare_arrays(f"gradient of {path}", x.grad.numpy(), xt.grad.numpy(), GRAD_TOL, call.tol)


def _fail(call: Call, what: str, exc: BaseException | None = None) -> None:
    detail = ""
    if exc is not None:
        detail = "\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
    raise AssertionError(f"{describe(call)}: {what}{detail}")


def run_case(call: Call) -> str:
    """Run ``call`` in both libraries and assert an accepted outcome; returns the outcome's name."""
    started = time.perf_counter()
    try:
        with memory_cap():
            outcome = _run(call)
    finally:
        CLOCK["seconds"] += time.perf_counter() - started
        CASES[call.names[0]] += 1
    OUTCOMES[outcome] += 1
    BY_OP[(call.names[0], outcome)] += 1
    return outcome


def _run(call: Call) -> str:
    cr_side = _Side("cr", call.grad)
    cr_args, cr_kwargs = cr_side.build(call)
    out = cr_exc = None
    try:
        with deadline():
            out = call.cr_fn(*cr_args, **cr_kwargs)
    except Hang as e:
        _fail(call, f"chainrule hangs ({e})")
    except Exception as e:  # noqa: BLE001 - judged below
        cr_exc = e

    if cr_exc is not None:
        if isinstance(cr_exc, ChainruleError) and names_op(cr_exc, call.names) and not STRICT_STATS:
            return "refused: chainrule error"
        torch_side = _Side("torch", call.grad)
        t_args, t_kwargs = torch_side.build(call)
        expected, torch_exc = (None, RuntimeError("no torch counterpart")) if call.torch_fn is None else \
            _torch_call(call.torch_fn, t_args, t_kwargs)
        if isinstance(cr_exc, ChainruleError) and names_op(cr_exc, call.names):
            return "refused: chainrule error" if torch_exc is not None else "refused: chainrule stricter than torch"
        builtin = type(cr_exc).__module__ == "builtins" or type(cr_exc) in vars(builtins).values()
        if torch_exc is not None and builtin and isinstance(cr_exc, type(torch_exc)) and names_op(cr_exc, call.names):
            return "refused: torch's exception type"
        why = "does not name the op" if not names_op(cr_exc, call.names) else "is not a ChainruleError"
        torch_said = f"torch raises {type(torch_exc).__name__}: {torch_exc}" if torch_exc else "torch returns a result"
        _fail(call, f"chainrule raised {type(cr_exc).__name__}, which {why} ({torch_said})", cr_exc)

    # chainrule answered: PyTorch must answer the same, or refuse where chainrule documents a result
    torch_side = _Side("torch", call.grad)
    t_args, t_kwargs = torch_side.build(call)
    expected, torch_exc = (None, RuntimeError("no torch counterpart")) if call.torch_fn is None else \
        _torch_call(call.torch_fn, t_args, t_kwargs)
    grad = True
    outcome = "returned: equal to torch"
    if torch_exc is not None and call.torch_fn is not None and _has_array_like_raw(call):
        # Documented: chainrule converts array-likes (lists, NumPy arrays, Python numbers) where PyTorch wants
        # a Tensor, as cr.tensor would; the answer must be PyTorch's on the converted tensors.
        torch_side = _Side("torch", call.grad, convert_raw=True)
        t_args, t_kwargs = torch_side.build(call)
        expected, second = _torch_call(call.torch_fn, t_args, t_kwargs)
        if second is None:
            torch_exc = None
            outcome = "returned: array-like converted"
            PERMISSIVE["array-likes are converted to tensors where torch wants a Tensor"] += 1
    if torch_exc is not None and call.alt is not None:
        torch_side = _Side("torch", call.grad, convert_raw=True)
        t_args, t_kwargs = torch_side.build(call)
        expected, alt_exc = _torch_call(call.alt, t_args, t_kwargs)
        if alt_exc is not None:
            _fail(call, f"the documented reference for chainrule's answer fails: {alt_exc!r} (torch: {torch_exc!r})")
        torch_exc = None
        grad = call.alt_grad
        outcome = "returned: documented permissive case"
        PERMISSIVE[call.alt_reason or "(undocumented)"] += 1
    if torch_exc is not None:
        _fail(call, f"chainrule returned a result where torch raises {type(torch_exc).__name__}: {torch_exc}")
    try:
        if call.check is not None:
            call.check(out, expected, cr_args, cr_kwargs)
        else:
            _compare(call, cr_side, torch_side, out, expected, grad)
    except Hang as e:
        _fail(call, f"hangs in backward ({e})")
    except AssertionError as e:
        _fail(call, f"differs from torch: {e}")
    except Exception as e:  # noqa: BLE001 - a crash in backward is a failure of the op
        _fail(call, f"crashed while comparing with torch (backward?): {type(e).__name__}: {e}", e)
    return outcome


def _has_array_like_raw(call: Call) -> bool:
    values = list(call.args) + list(call.kwargs.values())
    flat = []
    for v in values:
        flat.extend(v if isinstance(v, (list, tuple)) else [v])
    return any(isinstance(v, Raw) and _is_array_like(v.value) for v in flat)
