"""Every op chainrule defines has an ONNX emitter, or is listed with the reason it has none."""

from __future__ import annotations

import importlib
import pkgutil

import chainrule
from chainrule.autograd.function import Function
from chainrule.onnx.table import FUNCTIONS, MODULES, NOT_EXPORTED


def chainrule_functions() -> set[type]:
    for info in pkgutil.walk_packages(chainrule.__path__, "chainrule."):
        if not info.name.startswith(("chainrule.cli", "chainrule.__main__")):
            importlib.import_module(info.name)
    found, todo = set(), [Function]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("chainrule.") and not sub.__name__.startswith("_"):
                found.add(sub)
    return found


def test_every_op_has_an_emitter_or_a_reason() -> None:
    missing = sorted(f"{c.__module__}.{c.__name__}" for c in chainrule_functions() - set(FUNCTIONS) - set(NOT_EXPORTED))
    assert not missing, f"ops with neither an ONNX emitter nor a reason in NOT_EXPORTED: {missing}"


def test_no_op_is_both_exported_and_refused() -> None:
    assert not set(FUNCTIONS) & set(NOT_EXPORTED)
    assert all(reason for reason in NOT_EXPORTED.values())


def test_the_layers_exported_whole() -> None:
    names = {cls.__name__ for cls in MODULES}
    assert names == {"BatchNorm1d", "BatchNorm2d", "LayerNorm", "AdaptiveAvgPool2d", "RNN", "LSTM", "GRU", "RNNCell",
                     "LSTMCell", "GRUCell"}
