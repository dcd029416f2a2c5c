"""Tables that hold chainrule's argument checks against PyTorch's, case by case.

A ``Case`` runs one call in chainrule and the same call in PyTorch, and states the expected outcome:

- ``REFUSE``: PyTorch raises (when built, or at the first use, which the PyTorch side of the case then
  includes) and chainrule raises its own error (a ``ChainruleError``) whose one-line message names the class or
  function and the argument;
- ``ACCEPT``: both accept;
- ``STRICTER``: PyTorch accepts, chainrule refuses as in ``REFUSE``; ``why`` says what PyTorch's answer would do
  (a silently wrong number, a division by zero later, ...). The PyTorch side is run too, so that the table
  stays true when PyTorch changes.

A PyTorch warning is not a refusal: warnings are silenced on the PyTorch side.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from chainrule.errors import ChainruleError

REFUSE, ACCEPT, STRICTER = "refuse", "accept", "stricter"


@dataclass(frozen=True)
class Case:
    label: str  # the pytest id: what is asked
    ours: Callable[[], Any]  # the call in chainrule
    theirs: Callable[[], Any] | None  # the same call in PyTorch (None: PyTorch has no such function)
    expect: str  # REFUSE, ACCEPT or STRICTER
    names: tuple[str, ...] = ()  # words the message must hold: the class or function, then the argument
    why: str = ""  # STRICTER only: why chainrule refuses what PyTorch accepts
    error: type[Exception] = ChainruleError  # the chainrule error type expected (a subclass of ChainruleError)

    def __post_init__(self) -> None:
        assert self.expect in (REFUSE, ACCEPT, STRICTER), self.expect
        assert (self.expect == STRICTER) == bool(self.why), f"{self.label}: a reason goes with STRICTER only"
        assert self.expect == ACCEPT or len(self.names) >= 2, f"{self.label}: name the op and the argument"


def torch_refuses(call: Callable[[], Any]) -> BaseException | None:
    """The exception PyTorch raises for ``call``, or None when it accepts (warnings do not count)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except Exception as e:  # noqa: BLE001 - any refusal counts
            return e
    return None


def check(case: Case) -> None:
    """Assert ``case``'s outcome in both libraries."""
    if case.theirs is not None:
        theirs = torch_refuses(case.theirs)
        if case.expect == REFUSE:
            assert theirs is not None, f"{case.label}: PyTorch accepts it; the table says it refuses"
        else:
            assert theirs is None, f"{case.label}: PyTorch refuses it ({type(theirs).__name__}: {theirs})"
    if case.expect == ACCEPT:
        case.ours()
        return
    with pytest.raises(ChainruleError) as info:
        case.ours()
    message = str(info.value)
    assert isinstance(info.value, case.error), f"{case.label}: {type(info.value).__name__}: {message}"
    assert "\n" not in message, f"{case.label}: the message is not one line: {message!r}"
    for word in case.names:
        assert word in message, f"{case.label}: {word!r} is not in the message {message!r}"
