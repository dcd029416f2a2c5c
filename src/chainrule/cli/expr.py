"""A safe calculator for ``chainrule explain``: arithmetic on named tensors, parsed with ``ast``, never ``eval``.

The grammar is a whitelist. Allowed: numbers; names bound on the command line (and names assigned earlier in
the expression: ``q = x + y; f = q * z``); ``+ - * / ** @`` and unary ``-``/``+``; calls to the functions in
``FUNCTIONS`` (with ``dim=`` where it makes sense); indexing with integer literals and slices (``W[0]``,
``W[:, 1]``). Everything else (attribute access, other calls, imports, lambdas, comprehensions, comparisons,
strings, ...) is refused with an ``ExpressionError`` whose one-line message names the offending token.

Limits keep every evaluation small and fast: the source length, the number of syntax nodes, the nesting
depth, the size of literal exponents (and of constant exponents computed by the expression), the number of
elements of each variable and of every intermediate result. All arithmetic is float64 NumPy, so no Python
big-integer power can run away.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.errors import ChainruleError
from chainrule.tensor import Tensor
from chainrule.viz.names import MAX_NAME

MAX_SOURCE = 2000  # characters of the expression
MAX_NODES = 500  # syntax nodes
MAX_DEPTH = 40  # nesting depth of the syntax tree
MAX_EXPONENT = 100  # |c| for a constant exponent in x ** c
MAX_VALUE_SOURCE = 20_000  # characters of one variable's value
MAX_VALUE_DIMS = 6  # nesting depth of one variable's list
MAX_VARIABLE_ELEMENTS = 1000  # elements of one variable
MAX_ELEMENTS = 10_000  # elements of any intermediate result
MAX_TOKEN = 40  # characters of a token quoted in an error message
AUTO_NAME = MAX_NAME  # intermediate results whose source is at most this long are named by it (else as the
# tables name any unnamed node: chainrule.viz.names)


class ExpressionError(ChainruleError, ValueError):
    """An expression or a variable that ``chainrule explain`` refuses; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def _token(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TOKEN else text[: MAX_TOKEN - 1] + "…"


# ----- the functions an expression may call --------------------------------------------------------------


@dataclass(frozen=True)
class Func:
    fn: Callable[..., Tensor]
    arity: tuple[int, ...]  # accepted numbers of positional arguments
    dim: bool = False  # accepts dim= (an integer literal)
    doc: str = ""


def _max(x: Tensor, y: Tensor | None = None, dim: int | None = None) -> Tensor:
    return ops.amax(x, dim) if y is None else ops.maximum(x, y)


def _min(x: Tensor, y: Tensor | None = None, dim: int | None = None) -> Tensor:
    return ops.amin(x, dim) if y is None else ops.minimum(x, y)


def _transpose(x: Tensor) -> Tensor:
    return x if x.ndim < 2 else ops.transpose(x, -2, -1)


FUNCTIONS: dict[str, Func] = {
    "exp": Func(ops.exp, (1,)),
    "log": Func(ops.log, (1,)),
    "sqrt": Func(ops.sqrt, (1,)),
    "abs": Func(ops.abs, (1,)),
    "sin": Func(ops.sin, (1,)),
    "cos": Func(ops.cos, (1,)),
    "tanh": Func(ops.tanh, (1,)),
    "sigmoid": Func(ops.sigmoid, (1,)),
    "relu": Func(ops.relu, (1,)),
    "softplus": Func(ops.softplus, (1,)),
    "max": Func(_max, (1, 2), dim=True, doc="max(a, b) elementwise, max(x) or max(x, dim=0) a reduction"),
    "min": Func(_min, (1, 2), dim=True, doc="min(a, b) elementwise, min(x) or min(x, dim=0) a reduction"),
    "maximum": Func(ops.maximum, (2,)),
    "minimum": Func(ops.minimum, (2,)),
    "sum": Func(lambda x, dim=None: ops.sum(x, dim), (1,), dim=True),
    "mean": Func(lambda x, dim=None: ops.mean(x, dim), (1,), dim=True),
    "logsumexp": Func(lambda x, dim=None: ops.logsumexp(x, dim), (1,), dim=True),
    "softmax": Func(lambda x, dim=-1: ops.softmax(x, dim), (1,), dim=True),
    "log_softmax": Func(lambda x, dim=-1: ops.log_softmax(x, dim), (1,), dim=True),
    "dot": Func(ops.matmul, (2,)),
    "matmul": Func(ops.matmul, (2,)),
    "transpose": Func(_transpose, (1,)),
}

_OPERATORS: dict[type, tuple[str, Callable[[Any, Any], Tensor]]] = {
    ast.Add: ("+", ops.add),
    ast.Sub: ("-", ops.sub),
    ast.Mult: ("*", ops.mul),
    ast.Div: ("/", ops.div),
    ast.Pow: ("**", ops.pow),
    ast.MatMult: ("@", ops.matmul),
}

_REFUSED: dict[type, str] = {
    ast.Attribute: "attribute access",
    ast.Lambda: "lambda",
    ast.Import: "import",
    ast.ImportFrom: "import",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "generator expression",
    ast.Compare: "comparison",
    ast.BoolOp: "boolean operator",
    ast.IfExp: "conditional expression",
    ast.NamedExpr: "assignment expression",
    ast.Starred: "star argument",
    ast.JoinedStr: "f-string",
    ast.List: "list literal (bind arrays on the command line: W=[[1,2],[3,4]])",
    ast.Tuple: "tuple",
    ast.Dict: "dict literal",
    ast.Set: "set literal",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.FunctionDef: "function definition",
    ast.AsyncFunctionDef: "function definition",
    ast.ClassDef: "class definition",
    ast.AugAssign: "augmented assignment",
    ast.AnnAssign: "annotated assignment",
    ast.Delete: "del",
    ast.Global: "global",
    ast.Nonlocal: "nonlocal",
    ast.Slice: "slice",
}


def _refuse(node: ast.AST, source: str, what: str | None = None) -> ExpressionError:
    if what is None:
        what = _REFUSED.get(type(node), f"'{type(node).__name__}'")
    segment = ast.get_source_segment(source, node) or type(node).__name__
    return ExpressionError(f"{what} is not allowed: '{_token(segment)}' {_where(source, node)}")


# Python's tokenizer ends a line at \r\n, \r or \n only (str.splitlines would also split at \x0b, \x1c, ...)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _at(source: str, line: int, column: int) -> str:
    """Where an error lies, counted in characters from 1; the line too when the source has several."""
    return f"(line {line}, column {column})" if _LINE_BREAK.search(source) else f"(column {column})"


def _at_index(source: str, index: int) -> str:
    """``_at`` for the character at ``index`` of the source."""
    before = _LINE_BREAK.split(source[:index])
    return _at(source, len(before), len(before[-1]) + 1)


def _where(source: str, node: ast.AST) -> str:
    """``_at`` for a syntax node: ast counts columns in UTF-8 bytes from 0, messages in characters from 1."""
    line, offset = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
    lines = _LINE_BREAK.split(source)
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return _at(source, line, len(text.encode("utf-8")[:offset].decode("utf-8", errors="ignore")) + 1)


# ----- variables --------------------------------------------------------------------------------------------


def parse_value(text: str, name: str = "value") -> np.ndarray:
    """A number or a (nested) list of numbers as a float64 array, via ``ast.literal_eval`` and size limits."""
    text = text.strip()
    if not text:
        raise ExpressionError(f"{name}: empty value; write a number or a list such as [[1,2],[3,4]]")
    if len(text) > MAX_VALUE_SOURCE:
        raise ExpressionError(f"{name}: value too long ({len(text)} characters; the limit is {MAX_VALUE_SOURCE})")
    depth = deepest = 0
    for ch in text:
        depth += ch in "[("
        depth -= ch in "])"
        deepest = max(deepest, depth)
    if deepest > MAX_VALUE_DIMS:
        raise ExpressionError(f"{name}: value nested too deeply ({deepest} levels; the limit is {MAX_VALUE_DIMS})")
    try:
        with warnings.catch_warnings():  # Python's own warnings ("invalid decimal literal"): the error says it
            warnings.simplefilter("ignore")
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ExpressionError(
            f"{name}: '{_token(text)}' is not a number or a list of numbers (e.g. 2, -0.5, [1,2], [[1,2],[3,4]])"
        ) from None
    if not _numeric(value):
        raise ExpressionError(f"{name}: '{_token(text)}' is not a number or a list of numbers")
    try:
        array = np.asarray(value, dtype=np.float64)
    except OverflowError:
        array = np.asarray([np.inf])  # an int beyond float64: refused below with the float that overflows
    except ValueError:
        raise ExpressionError(f"{name}: '{_token(text)}' is not a rectangular array of numbers") from None
    if not np.isfinite(array).all():  # 1e309 reads as inf: a number the user did not write
        raise ExpressionError(f"{name}: '{_token(text)}' is beyond float64's range (±1.8e308) and would become "
                              "infinite; write a smaller number")
    if array.size > MAX_VARIABLE_ELEMENTS:
        raise ExpressionError(f"{name}: {array.size} elements; the limit is {MAX_VARIABLE_ELEMENTS}")
    return array


def _numeric(value: Any) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        elif isinstance(v, int) and abs(v) > 10**300:
            return False
    return True


def parse_binding(text: str) -> tuple[str, np.ndarray]:
    """``name=value`` from the command line, e.g. ``x=-2`` or ``W=[[1,2],[3,4]]``."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep:
        raise ExpressionError(f"'{_token(text)}' is not a binding; write name=value, e.g. x=-2")
    check_variable_name(name)
    return name, parse_value(value, name)


def check_variable_name(name: str) -> None:
    if not isinstance(name, str):
        raise ExpressionError(f"a variable name must be a string, got {type(name).__name__}")
    if not name.isidentifier() or not name.isascii():
        raise ExpressionError(f"'{_token(name)}' is not a valid variable name")
    if name in FUNCTIONS:
        raise ExpressionError(f"'{name}' is a function name and cannot be a variable")
    if name.startswith("__"):
        raise ExpressionError(f"'{name}': names starting with '__' are not allowed")


# ----- parsing and checking --------------------------------------------------------------------------------


def parse(source: str, variables: Mapping[str, Any] | None = None) -> ast.Module:
    """The syntax tree of ``source`` after every static check; ``variables`` are the names bound outside."""
    if not isinstance(source, str):
        raise ExpressionError(f"the expression must be a string, got {type(source).__name__}")
    if len(source) > MAX_SOURCE:
        raise ExpressionError(
            f"expression too long {_at_index(source, MAX_SOURCE)}: {len(source)} characters; the limit is "
            f"{MAX_SOURCE}"
        )
    if not source.strip():
        raise ExpressionError("empty expression (column 1); write one, e.g. (x + y) * z")
    if "\x00" in source:
        raise ExpressionError(f"the expression contains a NUL character {_at_index(source, source.index(chr(0)))}")
    try:
        with warnings.catch_warnings():  # "invalid decimal literal" and the like: a second line on stderr
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="exec")
    except SyntaxError as e:
        line = (e.text or "").strip()
        where = _at(source, e.lineno or 1, max(e.offset or 1, 1))
        raise ExpressionError(f"syntax error: {e.msg} {where}" + (f": '{_token(line)}'" if line else "")) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("expression too complex to parse (column 1)") from None
    _check_size(tree, source)
    _check_tree(tree, source, set(variables or ()))
    return tree


def _check_size(tree: ast.AST, source: str) -> None:
    count = 0
    stack: list[tuple[ast.AST, int, ast.AST]] = [(tree, 0, tree)]  # the last is the nearest node with a position
    while stack:
        node, depth, placed = stack.pop()
        placed = node if hasattr(node, "col_offset") else placed
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(
                f"expression too large {_where(source, placed)}: more than {MAX_NODES} syntax nodes"
            )
        if depth > MAX_DEPTH:
            raise ExpressionError(
                f"expression nested too deeply {_where(source, placed)}: more than {MAX_DEPTH} levels"
            )
        stack.extend((child, depth + 1, placed) for child in ast.iter_child_nodes(node))


def _check_tree(tree: ast.Module, source: str, bound: set[str]) -> None:
    if not tree.body:
        raise ExpressionError("empty expression (column 1): only a comment; write one, e.g. (x + y) * z")
    for k, stmt in enumerate(tree.body):
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                raise _refuse(stmt, source, "assignment to anything but one name")
            target = stmt.targets[0].id
            if target in FUNCTIONS:
                raise _refuse(stmt.targets[0], source, "assigning to a function name")
            if target.startswith("__"):
                raise _refuse(stmt.targets[0], source, "a name starting with '__'")
            _check_expr(stmt.value, source, bound)
            bound.add(target)
        elif isinstance(stmt, ast.Expr):
            if k != len(tree.body) - 1:
                raise _refuse(stmt, source, "an expression before the last statement (assign it: name = ...)")
            _check_expr(stmt.value, source, bound)
        else:
            raise _refuse(stmt, source, _REFUSED.get(type(stmt), f"the statement '{type(stmt).__name__}'"))


def _literal_number(node: ast.AST) -> float | None:
    """The value of a number literal, possibly signed (``-2``), else None."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        try:
            return sign * float(node.value)
        except OverflowError:
            return math.inf
    return None


def _check_expr(root: ast.AST, source: str, bound: set[str]) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Constant):
            if type(node.value) not in (int, float):
                kind = {str: "string literal", bytes: "bytes literal", bool: "boolean", complex: "complex number"}
                raise _refuse(node, source, kind.get(type(node.value), "this constant"))
            if not math.isfinite(_literal_number(node)):
                raise _refuse(node, source, "a number this large")
        elif isinstance(node, ast.Name):
            if node.id not in bound:
                hint = "is a function: call it" if node.id in FUNCTIONS else "is not bound"
                raise ExpressionError(
                    f"unknown name '{_token(node.id)}' {_where(source, node)}: it {hint}"
                    + ("" if node.id in FUNCTIONS else f"; bind it on the command line, e.g. {node.id}=1")
                )
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _OPERATORS:
                raise _refuse(node, source, f"the operator {_op_symbol(node.op)}")
            if isinstance(node.op, ast.Pow):
                c = _literal_number(node.right)
                if c is not None and not abs(c) <= MAX_EXPONENT:
                    raise _refuse(node.right, source, f"an exponent larger than {MAX_EXPONENT} in absolute value")
            stack.extend((node.left, node.right))
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise _refuse(node, source, f"the operator {_op_symbol(node.op)}")
            stack.append(node.operand)
        elif isinstance(node, ast.Call):
            _check_call(node, source)
            stack.extend(node.args)
        elif isinstance(node, ast.Subscript):
            _index(node.slice, source)  # checks it is made of integer literals
            stack.append(node.value)
        else:
            raise _refuse(node, source)


def _op_symbol(op: ast.AST) -> str:
    symbols = {
        ast.FloorDiv: "'//'", ast.Mod: "'%'", ast.LShift: "'<<'", ast.RShift: "'>>'", ast.BitOr: "'|'",
        ast.BitAnd: "'&'", ast.BitXor: "'^'", ast.Invert: "'~'", ast.Not: "'not'",
    }
    return symbols.get(type(op), f"'{type(op).__name__}'")


def _check_call(node: ast.Call, source: str) -> None:
    if not isinstance(node.func, ast.Name):
        if isinstance(node.func, ast.Attribute):
            raise _refuse(node.func, source)
        raise _refuse(node.func, source, "calling anything but a named function")
    name = node.func.id
    spec = FUNCTIONS.get(name)
    if spec is None:
        raise ExpressionError(
            f"unknown function '{_token(name)}' {_where(source, node)}; allowed: {', '.join(FUNCTIONS)}"
        )
    if len(node.args) not in spec.arity:
        expected = " or ".join(str(n) for n in spec.arity)
        raise _refuse(node, source, f"{name} with {len(node.args)} arguments (it takes {expected})")
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise _refuse(arg, source)
    for kw in node.keywords:
        if kw.arg != "dim" or not spec.dim:
            shown = "**" if kw.arg is None else f"{kw.arg}="
            raise _refuse(kw, source, f"the keyword argument {shown} of {name}")
        dim = _literal_number(kw.value)
        if dim is None or not float(dim).is_integer() or abs(dim) > 16:
            raise _refuse(kw.value, source, "dim= other than a small integer")


def _index(node: ast.AST, source: str) -> Any:
    """A subscript made of integer literals, slices of them and tuples of both, as a Python index."""
    if isinstance(node, ast.Tuple):
        return tuple(_index(e, source) for e in node.elts)
    if isinstance(node, ast.Slice):
        parts = []
        for part in (node.lower, node.upper, node.step):
            parts.append(None if part is None else _int_literal(part, source))
        if parts[2] == 0:
            raise _refuse(node, source, "a slice step of 0")
        return slice(*parts)
    return _int_literal(node, source)


def _int_literal(node: ast.AST, source: str) -> int:
    value = _literal_number(node)
    if value is None or not value.is_integer() or isinstance(_unsigned(node).value, float):
        raise _refuse(node, source, "an index other than an integer literal")
    if abs(value) > MAX_ELEMENTS:
        raise _refuse(node, source, "an index this large")
    return int(value)


def _unsigned(node: ast.AST) -> ast.Constant:
    while isinstance(node, ast.UnaryOp):
        node = node.operand
    return node  # type: ignore[return-value]


# ----- evaluation ------------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """The result of an expression: its output tensor, the variables (leaves) and every named tensor."""

    output: Tensor
    name: str
    variables: dict[str, Tensor]
    tensors: dict[str, Tensor] = field(default_factory=dict)


def evaluate(source: str, variables: Mapping[str, Any], output_name: str | None = None) -> Evaluation:
    """Build the graph of ``source`` with float64 tensors that require grad, one per variable.

    ``variables`` maps names to numbers, lists or arrays (checked against the size limits). The output is
    named by the last assignment (``f = ...``), or ``output_name``, or ``f``.
    """
    leaves: dict[str, Tensor] = {}
    for name, value in variables.items():
        check_variable_name(name)
        array = _numbers(name, value) if isinstance(value, np.ndarray) else parse_value(repr(_tolist(value)), name)
        array = np.asarray(array, dtype=np.float64)
        if array.size > MAX_VARIABLE_ELEMENTS:
            raise ExpressionError(f"{name}: {array.size} elements; the limit is {MAX_VARIABLE_ELEMENTS}")
        leaves[name] = Tensor(array.copy(), requires_grad=True, name=name)
    tree = parse(source, leaves)
    evaluator = _Evaluator(source, dict(leaves))
    assigned = {s.targets[0].id for s in tree.body if isinstance(s, ast.Assign)}
    default = output_name or _free_name(set(leaves) | assigned)
    result: Tensor | None = None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            target = stmt.targets[0].id
            result = evaluator.scope[target] = evaluator.eval(stmt.value, name=target)
        else:
            result = evaluator.eval(stmt.value, name=default)
    assert result is not None  # parse() refuses an empty program
    return Evaluation(result, result.name or default, leaves, dict(evaluator.scope))


def _free_name(taken: set[str]) -> str:
    """The output's name when the expression does not assign it: f, out or result, else the first free one of
    f1, f2, ... (``taken`` is finite, so the search ends)."""
    for name in ("f", "out", "result"):
        if name not in taken:
            return name
    k = 1
    while f"f{k}" in taken:
        k += 1
    return f"f{k}"


def _numbers(name: str, value: np.ndarray) -> np.ndarray:
    """An array variable as it is, if it holds real numbers (bool, int or float)."""
    if value.dtype.kind not in "biuf":
        raise ExpressionError(f"{name}: an array of dtype {value.dtype} is not an array of real numbers")
    if value.size > MAX_VARIABLE_ELEMENTS:
        raise ExpressionError(f"{name}: {value.size} elements; the limit is {MAX_VARIABLE_ELEMENTS}")
    return value


def _tolist(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value._data.tolist()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


class _Evaluator:
    def __init__(self, source: str, scope: dict[str, Tensor]) -> None:
        self.source = source
        self.scope = scope

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ""

    def fail(self, node: ast.AST, error: Exception) -> ExpressionError:
        return ExpressionError(f"'{_token(self.segment(node))}' {_where(self.source, node)}: {error}")

    def eval(self, node: ast.AST, name: str | None = None) -> Tensor:
        value = self._eval(node)
        if value.creator is not None and value.name is None:  # a new intermediate: name it for the table
            if name is not None:
                value.name = name
            else:
                text = " ".join(self.segment(node).split())
                if len(text) <= AUTO_NAME:
                    value.name = text
        return value

    def _eval(self, node: ast.AST) -> Tensor:
        number = _literal_number(node)
        if number is not None:
            return Tensor(np.asarray(number, dtype=np.float64), name=self.segment(node))
        if isinstance(node, ast.Name):
            return self.scope[node.id]
        if isinstance(node, ast.UnaryOp):
            operand = self.eval(node.operand)
            return operand if isinstance(node.op, ast.UAdd) else self._apply(node, ops.neg, operand)
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.Call):
            spec = FUNCTIONS[node.func.id]
            args = [self.eval(a) for a in node.args]
            kwargs = {str(kw.arg): int(_literal_number(kw.value)) for kw in node.keywords}
            if node.func.id in ("dot", "matmul"):
                self._check_matmul(node, *args)
            elif len(args) == 2:
                self._check_broadcast(node, *args)
            return self._apply(node, spec.fn, *args, **kwargs)
        if isinstance(node, ast.Subscript):
            base = self.eval(node.value)
            return self._apply(node, lambda t: t[_index(node.slice, self.source)], base)
        raise _refuse(node, self.source)  # unreachable after parse(): kept as a guard

    def _binop(self, node: ast.BinOp) -> Tensor:
        symbol, op = _OPERATORS[type(node.op)]
        left = self.eval(node.left)
        if isinstance(node.op, ast.Pow):
            c = _literal_number(node.right)
            if c is not None:  # x ** c with a constant: the rule c·x^(c−1)
                exponent: Any = int(c) if c.is_integer() else c
                return self._apply(node, op, left, exponent)
            right = self.eval(node.right)
            if not right.requires_grad and right._data.size and not np.all(np.abs(right._data) <= MAX_EXPONENT):
                raise ExpressionError(
                    f"an exponent larger than {MAX_EXPONENT} in absolute value is not allowed: "
                    f"'{_token(self.segment(node.right))}' is {np.max(np.abs(right._data)):g} "
                    f"{_where(self.source, node.right)}"
                )
        else:
            right = self.eval(node.right)
        if isinstance(node.op, ast.MatMult):
            self._check_matmul(node, left, right)
        else:
            self._check_broadcast(node, left, right)
        return self._apply(node, op, left, right)

    def _check_broadcast(self, node: ast.AST, a: Tensor, b: Tensor) -> None:
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise self.fail(node, f"shapes {a.shape} and {b.shape} do not broadcast") from None
        self._check_elements(node, shape)

    def _check_matmul(self, node: ast.AST, a: Tensor, b: Tensor) -> None:
        if a.ndim == 0 or b.ndim == 0:
            raise self.fail(node, f"matmul needs at least 1-D operands, got shapes {a.shape} and {b.shape}")
        try:
            batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise self.fail(node, f"shapes {a.shape} and {b.shape} do not broadcast in their batch dims") from None
        n = a.shape[-2] if a.ndim > 1 else 1
        m = b.shape[-1] if b.ndim > 1 else 1
        self._check_elements(node, (*batch, n, m))

    def _check_elements(self, node: ast.AST, shape: tuple[int, ...]) -> None:
        if math.prod(shape) > MAX_ELEMENTS:
            raise self.fail(node, f"the result would have {math.prod(shape)} elements; the limit is {MAX_ELEMENTS}")

    def _apply(self, node: ast.AST, fn: Callable[..., Tensor], *args: Any, **kwargs: Any) -> Tensor:
        try:
            out = fn(*args, **kwargs)
        except (ChainruleError, ValueError, TypeError, IndexError) as e:
            raise self.fail(node, e) from None
        if not isinstance(out, Tensor):  # pragma: no cover - every whitelisted function returns a Tensor
            raise self.fail(node, "did not produce a tensor")
        self._check_elements(node, out.shape)
        return out
