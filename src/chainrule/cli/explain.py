"""``chainrule explain``: the chain rule, node by node, for an expression given on the command line.

    chainrule explain "(x + y) * z" x=-2 y=5 z=-4
    chainrule explain "q = W @ x; f = sum(q ** 2)" "W=[[0.1,0.5],[-0.3,0.8]]" "x=[0.2,0.4]" --svg graph.svg
    chainrule explain "(x + y) * z" x=-2 y=5 z=-4 --html steps.html   # step through it in a browser
    chainrule explain --conv                      # a 5×5 input, a 3×3 kernel, stride 2, element by element
    chainrule explain --conv "X=[[...]]" "W=[[...]]" b=0 --stride 1

The expression is parsed with a whitelist (``chainrule.cli.expr``), never evaluated by Python. Refusals are
one line on stderr: exit status 2 for a bad expression, binding or option, 1 when a file cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from chainrule.cli.common import (
    CommandError,
    RawDescriptionHelpFormatter,
    UsageError,
    clean,
    count,
    natural,
    writable_file,
)
from chainrule.cli.expr import FUNCTIONS, ExpressionError, evaluate, parse_binding
from chainrule.errors import ChainruleError
from chainrule.io import atomic_write
from chainrule.viz import explain, explain_conv, to_dot, to_svg
from chainrule.viz.html import page_data, render_html

DESCRIPTION = """\
Explain the backward pass of an expression: build its graph with chainrule tensors (float64), run forward and
backward, and print, in backward order, each node's op, value, upstream gradient, local derivative(s) and
downstream gradient(s). Variables are bound as name=value: numbers or small arrays (W=[[1,2],[3,4]]).
Assignments name intermediate nodes: "q = x + y; f = q * z". An expression starting with '-' goes after --.
"""

EPILOG = """\
operators: + - * / ** @ and unary -; indexing with integer literals (W[0], W[:, 1]).
functions: {functions}
  (max/min with two arguments are elementwise; with one, reductions; sum, mean, max, min, logsumexp, softmax
  and log_softmax take dim=N)
examples:
  chainrule explain "(x + y) * z" x=-2 y=5 z=-4
  chainrule explain "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))" w0=2 x0=-1 w1=-3 x1=-2 w2=-3
  chainrule explain "q = W @ x; f = sum(q ** 2)" "W=[[0.1,0.5],[-0.3,0.8]]" "x=[0.2,0.4]" --svg graph.svg
  chainrule explain --conv
"""

CONV_NAMES = ("X", "W", "b", "G")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "explain",
        help="show the chain rule, node by node, for an expression",
        description=DESCRIPTION,
        epilog=EPILOG.format(functions=", ".join(FUNCTIONS)),
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument("expression", nargs="?", help='the expression, e.g. "(x + y) * z"')
    parser.add_argument("bindings", nargs="*", metavar="NAME=VALUE", help="variables, e.g. x=-2 W=[[1,2],[3,4]]")
    parser.add_argument("--svg", metavar="FILE", help="also draw the graph as SVG (laid out by chainrule)")
    parser.add_argument("--dot", metavar="FILE", help="also write the graph as Graphviz DOT")
    parser.add_argument(
        "--html", metavar="FILE",
        help="also write a self-contained page that steps through the forward and backward pass (opens offline)",
    )
    parser.add_argument(
        "--layout", choices=("chainrule", "graphviz", "auto"), default="chainrule",
        help="who lays out the SVG: chainrule, graphviz (needs its dot program), or auto",
    )
    parser.add_argument(
        "--conv", action="store_true",
        help="explain a convolution element by element instead (bindings X, W, b, G: input, kernel, bias and "
        "upstream gradient; defaults: a 5×5 input and a 3×3 kernel)",
    )
    parser.add_argument("--stride", type=count, default=2, help="stride of --conv")
    parser.add_argument("--padding", type=natural, default=0, help="zero padding of --conv")
    return parser


def _refuse(message: Any) -> UsageError:
    return UsageError(str(message), "see chainrule explain --help for the syntax")


def _bindings(items: list[str]) -> dict[str, np.ndarray]:
    result: dict[str, np.ndarray] = {}
    for item in items:
        name, value = parse_binding(item)
        if name in result:
            raise ExpressionError(f"'{name}' is bound twice")
        result[name] = value
    return result


def run(args: argparse.Namespace) -> int:
    _utf8_output()
    try:
        with np.errstate(all="ignore"):  # inf and nan are shown in the table; no warnings on stderr
            text, drawings = _run_conv(args) if args.conv else _run_expression(args)
    except CommandError:
        raise
    # whatever the expression or its bindings make the library refuse is a usage error: one line, exit 2
    except (ChainruleError, ValueError, TypeError, IndexError, RecursionError, MemoryError) as e:
        raise _refuse(e) from None
    print(text)
    for path, contents in drawings:
        _write(path, contents)
        print(f"{'page' if path == _html_path(args) else 'graph'} written to {clean(path)}")
    return 0


def _write(path: str, contents: str) -> None:
    """All of the file or none of it: a temporary file beside it, renamed."""
    atomic_write(path, lambda f: f.write(contents.encode("utf-8")))


def _run_expression(args: argparse.Namespace) -> tuple[str, list[tuple[str, str]]]:
    if not args.expression:
        raise _refuse('no expression; e.g. chainrule explain "(x + y) * z" x=-2 y=5 z=-4 (or --conv)')
    targets = [(path, kind) for path, kind in ((args.svg, "svg"), (args.dot, "dot"), (_html_path(args), "html"))
               if path is not None]
    for path, kind in targets:  # checked before the work, and before anything is written
        writable_file(path, f"--{kind}")
    variables = _bindings(args.bindings)
    result = evaluate(args.expression, variables)
    output = result.output
    if not output.requires_grad:
        raise _refuse("the expression does not depend on any variable; bind one on the command line, e.g. x=2")
    if output._data.size != 1:
        raise _refuse(f"the expression has shape {output.shape}; explain needs one number at the end: wrap it in "
                      "sum(...) or mean(...)")
    table = explain(output)
    text = str(table)
    unused = [name for name in variables if name not in table.gradients]
    if unused:
        text += f"\n(not used by the expression, so their gradient is 0: {', '.join(unused)})"
    try:  # drawn in full before anything is printed or written
        drawings = [(path, _drawing(output, kind, args.layout)) for path, kind in targets]
    except ChainruleError as e:  # Graphviz missing or failing: not the expression's fault
        raise CommandError(str(e).split("; use layout=")[0], "use --layout chainrule (no Graphviz needed)") from None
    return text, drawings


def _html_path(args: argparse.Namespace) -> str | None:
    """The --html file, if any (None also for a Namespace built without the option)."""
    return getattr(args, "html", None)


def _drawing(output: Any, kind: str, layout: str) -> str:
    if kind == "svg":
        return to_svg(output, layout=layout)
    if kind == "html":
        return render_html(page_data(output))
    return to_dot(output)


def _run_conv(args: argparse.Namespace) -> tuple[str, list[tuple[str, str]]]:
    items = ([args.expression] if args.expression else []) + list(args.bindings)
    if args.svg is not None or args.dot is not None or _html_path(args) is not None:
        raise _refuse("--svg, --dot and --html draw expression graphs; they do not apply to --conv")
    values = _bindings(items)
    unknown = [name for name in values if name not in CONV_NAMES]
    if unknown:
        raise _refuse(f"--conv takes the bindings {', '.join(CONV_NAMES)}; got '{unknown[0]}'")
    b = values.get("b")
    if b is not None and b.size != 1:
        raise _refuse(f"--conv: b must be one number (one filter), got shape {b.shape}")
    result = explain_conv(
        values.get("X"), values.get("W"), None if b is None else float(b.reshape(-1)[0]),
        stride=args.stride, padding=args.padding, grad_output=values.get("G"),
    )
    return str(result), []


def _utf8_output() -> None:
    """Print ∂, × and ᵀ even where the terminal's encoding lacks them (replaced, never an error)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):  # pragma: no cover - a stream that cannot change
                pass
