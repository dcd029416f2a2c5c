"""The tensor factories refuse what PyTorch refuses, and a size beyond this machine's memory before allocating.

Each row is a ``refusals.Case``: the same call in chainrule and in PyTorch, and the expected outcome (both
refuse, both accept, or chainrule stricter for the reason given).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from refusals import ACCEPT, REFUSE, STRICTER, Case, check

import chainrule as cr
from chainrule.errors import ArgumentError, ArgumentTypeError, DTypeError, ResourceError, ShapeError
from chainrule.ops import operands

NAN, INF = float("nan"), float("inf")
HUGE = (10**9, 10**9)  # 10¹⁸ elements: no machine holds them, and PyTorch refuses to allocate them


def _both(name: str, *args, torch_name: str = "", **kwargs) -> tuple:
    ours = lambda: getattr(cr, name)(*args, **kwargs)  # noqa: E731 - a table of small calls
    theirs = lambda: getattr(torch, torch_name or name)(*args, **_torch_kwargs(kwargs))  # noqa: E731
    return ours, theirs


def _torch_kwargs(kwargs: dict) -> dict:
    dtypes = {cr.float32: torch.float32, cr.float16: torch.float16, cr.int64: torch.int64, cr.bool_: torch.bool}
    return {k: dtypes.get(v, v) if k == "dtype" else v for k, v in kwargs.items()}


def _case(label: str, name: str, args: tuple, expect: str, arg: str = "", why: str = "", error=None,
          **kwargs) -> Case:
    ours, theirs = _both(name, *args, **kwargs)
    extra = {"error": error} if error is not None else {}
    return Case(label, ours, theirs, expect, (name, arg) if arg else (), why, **extra)


def _tensor_case(label: str, data, expect: str, arg: str = "'data'", error=None, why: str = "", **kwargs) -> Case:
    return _case(label, "tensor", (data,), expect, arg if expect != ACCEPT else "", why, error, **kwargs)


TENSOR = [
    _tensor_case("strings", ["a", "b"], REFUSE, error=DTypeError),
    _tensor_case("a string", "abc", REFUSE, error=DTypeError),
    _tensor_case("numbers and a string", [1, "a"], REFUSE, error=DTypeError),
    _tensor_case("None", None, REFUSE, error=DTypeError),
    _tensor_case("numbers and None", [1.0, None], REFUSE, error=DTypeError),
    _tensor_case("an object array", np.array([1, 2], dtype=object), REFUSE, error=DTypeError),
    _tensor_case("a string array", np.array(["1", "2"]), REFUSE, error=DTypeError),
    _tensor_case("a ragged list", [[1, 2], [3]], REFUSE, "ragged", error=ShapeError),
    _tensor_case("a ragged deeper list", [[[1], [2]], [[3], [4, 5]]], REFUSE, "ragged", error=ShapeError),
    _tensor_case("an int beyond int64", [2**70], REFUSE, error=DTypeError),
    _tensor_case("an int beyond int64 as int64", [2**70], REFUSE, error=ArgumentError, dtype=cr.int64),
    _tensor_case("a complex number", 1 + 2j, STRICTER, error=DTypeError,
                 why="chainrule computes with bool, int and float dtypes only"),
    _tensor_case("an empty list", [], ACCEPT),
    _tensor_case("empty rows", [[], []], ACCEPT),
    _tensor_case("a bool", True, ACCEPT),
    _tensor_case("nested numbers", [[1, 2.5], [3, 4]], ACCEPT),
    _tensor_case("a float64 array", np.zeros(3), ACCEPT),
]

SIZES = []
for _name in ("zeros", "ones", "randn", "rand"):
    SIZES += [
        _case(f"{_name} -1", _name, (-1,), REFUSE, "'size'"),
        _case(f"{_name} (2, -1)", _name, ((2, -1),), REFUSE, "'size'"),
        _case(f"{_name} 2.5", _name, (2.5,), REFUSE, "'size'", error=ArgumentTypeError),
        _case(f"{_name} (2, 2.5)", _name, (2, 2.5), REFUSE, "'size'", error=ArgumentTypeError),
        _case(f"{_name} beyond memory", _name, HUGE, REFUSE, "(1000000000, 1000000000)", error=ResourceError),
        _case(f"{_name} 0", _name, (2, 0), ACCEPT),
        _case(f"{_name} ()", _name, ((),), ACCEPT),
    ]
SIZES += [
    _case("full -1", "full", ((-1,), 1.0), REFUSE, "'size'"),
    _case("full beyond memory", "full", (HUGE, 1.0), REFUSE, "(1000000000, 1000000000)", error=ResourceError),
    _case("full 'a'", "full", ((2,), "a"), REFUSE, "'fill_value'", error=ArgumentTypeError),
    _case("full NaN into int64", "full", ((2,), NAN), REFUSE, "'fill_value'", dtype=cr.int64),
    _case("full 2**70 into int64", "full", ((2,), 2.0**70), REFUSE, "'fill_value'", dtype=cr.int64),
    _case("full True", "full", ((2,), True), ACCEPT),
    _case("eye -1", "eye", (-1,), REFUSE, "'n'"),
    _case("eye 3 by -1", "eye", (3, -1), REFUSE, "'m'"),
    _case("eye 2.5", "eye", (2.5,), REFUSE, "'n'", error=ArgumentTypeError),
    _case("eye beyond memory", "eye", (10**9,), REFUSE, "(1000000000, 1000000000)", error=ResourceError),
    _case("eye 0", "eye", (0,), ACCEPT),
    _case("arange step 0", "arange", (0, 5, 0), REFUSE, "'step'"),
    _case("arange step away from end", "arange", (5, 0), REFUSE, "'step'"),
    _case("arange to inf", "arange", (0, INF), REFUSE, "'end'"),
    _case("arange from NaN", "arange", (NAN, 3), REFUSE, "'start'"),
    _case("arange 'a'", "arange", ("a",), REFUSE, "'end'", error=ArgumentTypeError),
    _case("arange huge length", "arange", (0, 10**18), REFUSE, "(1000000000000000000,)", error=ResourceError),
    _case("arange huge float length", "arange", (0.0, 1.0, 1e-18), REFUSE, "1e+18 elements", error=ResourceError),
    _case("arange empty", "arange", (5, 5), ACCEPT),
    _case("arange down", "arange", (0, -3, -1), ACCEPT),
    _case("linspace -1 steps", "linspace", (0, 1, -1), REFUSE, "'steps'"),
    _case("linspace 2.5 steps", "linspace", (0, 1, 2.5), REFUSE, "'steps'", error=ArgumentTypeError),
    _case("linspace beyond memory", "linspace", (0, 1, 10**18), REFUSE, "(1000000000000000000,)",
          error=ResourceError),
    _case("linspace 0 steps", "linspace", (0, 1, 0), ACCEPT),
    _case("randint low ≥ high", "randint", (5, 2, (3,)), REFUSE, "'low'"),
    _case("randint size -1", "randint", (0, 5, (-1,)), REFUSE, "'size'"),
    _case("randint beyond memory", "randint", (0, 5, HUGE), REFUSE, "(1000000000, 1000000000)",
          error=ResourceError),
    _case("randint float dtype", "randint", (0, 5, (3,)), ACCEPT, dtype=cr.float32),
    _case("randn int64", "randn", (2,), REFUSE, "int64", error=DTypeError, dtype=cr.int64),
    _case("randn float16", "randn", (2,), ACCEPT, dtype=cr.float16),
    _case("rand bool", "rand", (2,), REFUSE, "bool", error=DTypeError, dtype=cr.bool_),
]


def _like(name: str, x, *args, **kwargs) -> tuple:
    """(chainrule call, PyTorch call) of ``name`` on ``x`` (an array: a Tensor on each side)."""
    return (lambda: getattr(cr, name)(cr.Tensor(x), *args, **kwargs),
            lambda: getattr(torch, name)(torch.from_numpy(x), *args, **_torch_kwargs(kwargs)))


def _huge_view():
    """A 10¹⁸-element array that takes 4 bytes: a broadcast view of one float."""
    return np.broadcast_to(np.zeros(1, dtype=np.float32), HUGE)


LIKE = []
for _name, _args in (("zeros_like", ()), ("ones_like", ()), ("full_like", (2.0,)), ("randn_like", ()),
                     ("rand_like", ())):
    LIKE.append(Case(f"{_name} beyond memory", *_like(_name, _huge_view(), *_args), REFUSE,
                     (_name, "(1000000000, 1000000000)"), error=ResourceError))
    LIKE.append(Case(f"{_name} of (2, 3)", *_like(_name, np.ones((2, 3), np.float32), *_args), ACCEPT))
LIKE += [
    Case("randn_like of an int tensor", *_like("randn_like", np.ones(3, np.int64)), REFUSE, ("randn_like", "int64"),
         error=DTypeError),
    Case("full_like 'a'", *_like("full_like", np.ones(3, np.float32), "a"), REFUSE, ("full_like", "'fill_value'"),
         error=ArgumentTypeError),
    Case("from_numpy of a list", lambda: cr.from_numpy([1, 2]), lambda: torch.from_numpy([1, 2]), REFUSE,
         ("from_numpy", "'array'"), error=ArgumentTypeError),
    Case("from_numpy of an object array", lambda: cr.from_numpy(np.array([1, None])),
         lambda: torch.from_numpy(np.array([1, None])), REFUSE, ("from_numpy", "object"), error=DTypeError),
]


@pytest.mark.parametrize("case", TENSOR + SIZES + LIKE, ids=lambda c: c.label)
def test_factories_refuse_what_torch_refuses(case):
    check(case)


def test_a_size_beyond_memory_is_refused_before_allocating(monkeypatch):
    """The refusal comes from the size alone: with the memory said to be 1 KiB, 1024 float32 zeros are refused
    (and 256 allowed), so nothing of the size asked is ever allocated."""
    monkeypatch.setattr(operands, "MEMORY_BYTES", 1024)
    assert cr.zeros(256).shape == (256,)
    for call in (lambda: cr.zeros(257), lambda: cr.full((16, 17), 1.0), lambda: cr.arange(257),
                 lambda: cr.randn(257), lambda: cr.eye(17), lambda: cr.zeros_like(cr.Tensor(_huge_view()[:1, :257]))):
        with pytest.raises(ResourceError, match="more than this machine's memory"):
            call()


def test_factories_still_make_the_values_asked():
    np.testing.assert_array_equal(cr.arange(0, 1, 0.25).numpy(), np.array([0, 0.25, 0.5, 0.75], np.float32))
    assert cr.arange(5).dtype == cr.int64 and cr.arange(5).numpy().tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(cr.full((2,), True).numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(cr.full((2,), 2, dtype=cr.int64).numpy(), [2, 2])
    x = cr.randint(0, 3, (1000,), generator=np.random.default_rng(0), dtype=cr.float32)
    assert x.dtype == cr.float32 and set(np.unique(x.numpy())) == {0.0, 1.0, 2.0}
    h = cr.randn(1000, dtype=cr.float16, generator=np.random.default_rng(0))
    assert h.dtype == cr.float16 and 0.8 < float(h.numpy().astype(np.float32).std()) < 1.2
    assert cr.zeros(np.int64(2), 3).shape == (2, 3) and cr.ones((2, 3)).shape == (2, 3)
    with pytest.raises(ArgumentTypeError, match="randn: argument 'generator' must be a chainrule.Generator or a numpy"):
        cr.randn(2, generator=0)
