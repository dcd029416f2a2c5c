"""Display names for the tensors of a graph: the names a learner recognizes, never ``t1`` where a better one exists.

A tensor is named by the first of these that applies:

1. ``names=``: a dict name → tensor, (name, tensor) pairs, or a Module, whose parameters take their
   ``named_parameters()`` paths (``fc1.weight``); a dict entry name → Module prefixes them (``net.fc1.weight``);
2. ``Tensor.name`` (``chainrule explain`` names every variable of the expression this way);
3. the variables of the code that asked for the picture (the nearest caller outside chainrule): a tensor bound to
   ``x`` is ``x``, a parameter of a Module bound to ``model`` is ``model.fc1.weight``. Variables whose name
   starts with ``_`` (IPython's output history) are skipped;
4. the output of the walk: ``L``;
5. an intermediate result: its expression in its inputs' names, ``w0*x0 + w1*x1 + w2``, ``exp(-s)``,
   ``linear(x, fc1.weight, fc1.bias)``, with brackets only where precedence needs them. Names are at most
   ``MAX_NAME`` (40) characters: a longer expression shows its operands that are themselves expressions as
   ``…`` (``exp(…)``, ``… + w2``); when that is still too long, says nothing (``… + …``) or, elided, names
   another node already, the result is the op's name with a subscript index (``matmul₁``, ``add₂``). The same
   expression computed twice is named the same twice;
6. a constant: its value when it has at most 4 elements (``2``, ``[1, -1]``), else ``const₁``;
7. a leaf that requires grad and has no name anywhere: ``leaf₁``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from chainrule.autograd.broadcast import Add
from chainrule.errors import ArgumentTypeError
from chainrule.nn.module import Module
from chainrule.ops import elementwise as ew
from chainrule.ops import linalg, shape
from chainrule.tensor import Tensor
from chainrule.viz.local import op_info
from chainrule.viz.values import fmt_number, fmt_value, is_compound, to_numpy

Names = Mapping[str, Any] | Iterable[tuple[str, Any]] | Module | None

MAX_NAME = 40  # characters of an automatic name; longer expressions are elided
SMALL_CONSTANT = 4  # constants with at most this many elements are named by their value
ELIDED = "…"
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")

# precedence of an expression's outermost operator, as Python parses it: brackets are added where it is lower
LOOSE, SUM, PRODUCT, UNARY, POWER, ATOM = 0, 1, 2, 3, 4, 5
_INFIX: dict[type, tuple[str, int]] = {
    Add: (" + ", SUM), ew.Sub: (" - ", SUM), ew.Mul: ("*", PRODUCT), ew.Div: ("/", PRODUCT),
    linalg.MatMul: (" @ ", PRODUCT),
}
_LEFT_ASSOCIATIVE = (Add, ew.Mul)  # a + (b + c) reads as a + b + c; a - (b - c) needs its brackets


def subscript(k: int) -> str:
    return str(k).translate(_SUBSCRIPTS)


# ----- names the user gave ---------------------------------------------------------------------------------


def given_names(names: Names, op: str = "explain") -> list[tuple[str, Tensor]]:
    """``names=`` as (name, tensor) pairs: a Module gives its parameter paths, a name → Module entry prefixes them."""
    if names is None:
        return []
    if isinstance(names, Module):
        return list(names.named_parameters())
    items = names.items() if isinstance(names, Mapping) else names
    pairs: list[tuple[str, Tensor]] = []
    try:
        entries = list(items)
    except TypeError:
        raise ArgumentTypeError(
            f"{op}: names must be a dict name → tensor, (name, tensor) pairs or a Module, got {type(names).__name__}"
        ) from None
    for entry in entries:
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
            raise ArgumentTypeError(f"{op}: names must hold (name, tensor) pairs, got {type(entry).__name__}")
        name, value = entry
        if isinstance(value, Module):
            pairs.extend(value.named_parameters(prefix=str(name)))
        elif isinstance(value, Tensor):
            pairs.append((str(name), value))
        else:
            raise ArgumentTypeError(
                f"{op}: names[{name!r}] must be a Tensor or a Module, got {type(value).__name__}; hint: "
                f"names={{'{name}': tensor}}"
            )
    return pairs


def caller_names() -> list[tuple[str, Tensor]]:
    """The tensors, and the parameters of the Modules, bound to variables of the nearest caller outside chainrule
    (its locals, then its module's globals), as (name, tensor) pairs."""
    frame = sys._getframe(1)
    try:
        while frame is not None and _in_chainrule(frame.f_globals.get("__name__", "")):
            frame = frame.f_back
        if frame is None:
            return []
        scopes = [frame.f_locals] if frame.f_locals is frame.f_globals else [frame.f_locals, frame.f_globals]
        pairs: list[tuple[str, Tensor]] = []
        for scope in scopes:
            for name, value in list(scope.items()):
                if not isinstance(name, str) or name.startswith("_"):
                    continue
                if isinstance(value, Tensor):
                    pairs.append((name, value))
                elif isinstance(value, Module):
                    pairs.extend(value.named_parameters(prefix=name))
        return pairs
    finally:
        del frame  # a frame held here would keep every local of the caller alive


def _in_chainrule(module: str) -> bool:
    return module == "chainrule" or module.startswith("chainrule.")


# ----- the names of a whole graph --------------------------------------------------------------------------


class Namer:
    """A display name for every tensor of a trace (``chainrule.viz.steps.trace``), by the rules of this module."""

    def __init__(self, graph: Any, names: Names = None, op: str = "explain") -> None:
        self.names: dict[int, str] = {}
        self._precedence: dict[int, int] = {}
        self._automatic: set[int] = set()  # ids named by their expression: elided first when too long
        tensors = graph.tensors
        for name, tensor in given_names(names, op):
            self.names.setdefault(id(tensor), name)
        for t in tensors.values():
            if id(t) not in self.names and t.name:
                self.names[id(t)] = str(t.name)
        for name, tensor in caller_names():
            if id(tensor) in tensors:
                self.names.setdefault(id(tensor), name)
        for key, name in self.names.items():
            self._precedence[key] = LOOSE if is_compound(name) else ATOM
        taken = set(self.names.values())
        counters: dict[str, int] = {}
        order = sorted(reversed(list(tensors.values())), key=lambda t: t.generation)  # forward order
        for t in order:
            if id(t) in self.names:
                continue
            if t is graph.root:
                name, precedence = "L", ATOM
            elif t.creator is not None:
                name, precedence = self._expression(t, taken, counters)
                self._automatic.add(id(t))
            elif t.requires_grad:
                name, precedence = _counted("leaf", counters), ATOM
            else:
                name, precedence = _constant(t, counters)
            self.names[id(t)] = name
            self._precedence[id(t)] = precedence
            taken.add(name)

    def __call__(self, t: Tensor | None) -> str:
        if t is None:
            return "(unused)"
        return self.names.get(id(t), "?")

    def _expression(self, t: Tensor, taken: set[str], counters: dict[str, int]) -> tuple[str, int]:
        fn = t.creator
        operands = [(self.names.get(id(x), "?"), self._precedence.get(id(x), ATOM)) for x in fn.inputs]
        # operands that are expressions themselves, longest first: the order in which they give way to "…"
        elidable = sorted((k for k, x in enumerate(fn.inputs) if id(x) in self._automatic),
                          key=lambda k: -len(operands[k][0]))
        while True:
            text, precedence = render(fn, operands)
            if len(fn.outputs) > 1:
                text, precedence = f"{_bracket(text, precedence, ATOM)}[{t.output_index}]", ATOM
            if len(text) <= MAX_NAME or not elidable:
                break
            operands[elidable.pop(0)] = (ELIDED, ATOM)
        elided = any(name == ELIDED for name, _ in operands)
        informative = len(operands) == 1 or not all(name == ELIDED for name, _ in operands)
        # the same expression computed twice reads the same twice; an elided one could hide two different ones
        if len(text) <= MAX_NAME and informative and not (elided and text in taken):
            return text, precedence
        return _counted(op_info(fn).name, counters), ATOM


def _counted(stem: str, counters: dict[str, int]) -> str:
    counters[stem] = counters.get(stem, 0) + 1
    return f"{stem}{subscript(counters[stem])}"


def _constant(t: Tensor, counters: dict[str, int]) -> tuple[str, int]:
    a = to_numpy(t._data)
    if a.size <= SMALL_CONSTANT:
        text = fmt_value(a)
        if len(text) <= MAX_NAME:
            return text, (UNARY if text.startswith("-") else ATOM)
    return _counted("const", counters), ATOM


# ----- one node's expression -------------------------------------------------------------------------------


def _bracket(text: str, precedence: int, needed: int) -> str:
    return f"({text})" if precedence < needed else text


def render(fn: Any, operands: list[tuple[str, int]]) -> tuple[str, int]:
    """The expression that ``fn`` computes from operands (name, precedence), and the precedence of the result."""
    infix = _INFIX.get(type(fn))
    if infix is not None and len(operands) == 2:
        symbol, p = infix
        (a, pa), (b, pb) = operands
        right = p if isinstance(fn, _LEFT_ASSOCIATIVE) else p + 1  # a - (b - c), a/(b*c) keep their brackets
        return f"{_bracket(a, pa, p)}{symbol}{_bracket(b, pb, right)}", p
    if isinstance(fn, ew.Neg):
        (a, pa), = operands
        return f"-{_bracket(a, pa, UNARY + 1)}", UNARY
    if isinstance(fn, ew.PowScalar):
        (a, pa), = operands
        return f"{_bracket(a, pa, POWER + 1)}**{fmt_number(fn.exponent)}", POWER
    if isinstance(fn, ew.Pow):
        (a, pa), (b, pb) = operands
        return f"{_bracket(a, pa, POWER + 1)}**{_bracket(b, pb, UNARY)}", POWER
    if isinstance(fn, shape.GetItem):
        (a, pa), = operands
        return f"{_bracket(a, pa, ATOM)}[{_index(fn.index)}]", ATOM
    return f"{op_info(fn).name}({', '.join(name for name, _ in operands)})", ATOM


def _index(index: Any) -> str:
    """A basic index as Python writes it (``0``, ``:, 1``, ``1:3``); anything else (arrays) as ``…``."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, (int, np.integer)) and not isinstance(p, bool):
            out.append(str(int(p)))
        elif isinstance(p, slice):
            text = ":".join("" if v is None else str(v) for v in (p.start, p.stop, p.step))
            out.append(text[:-1] if text.endswith(":") and p.step is None else text)
        elif p is None:
            out.append("None")
        elif p is Ellipsis:
            out.append("...")
        else:
            return ELIDED
    return ", ".join(out)
