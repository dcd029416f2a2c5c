"""A small convolution, element by element: each output as its sum of x·w terms, and each gradient as the sum
of upstream × weight (or × input) terms it collects, checked against chainrule's own ``conv2d``.

One channel, one filter: X (H, W), kernel K (KH, KW), bias b, stride s, zero padding p, and the upstream
gradient G = ∂L/∂O of the output O (OH, OW). With x_rc the element at row r, column c of the padded input:

    o_ij     = Σ_uv x_(s·i+u, s·j+v) · w_uv + b
    ∂L/∂w_uv = Σ_ij g_ij · x_(s·i+u, s·j+v)          the correlation of X with G (stride-dilated)
    ∂L/∂x_rc = Σ_{ij,uv : s·i+u = r, s·j+v = c} g_ij · w_uv
             = the full convolution of the stride-dilated G with the kernel rotated by 180°
    ∂L/∂b    = Σ_ij g_ij

The printed text numbers rows and columns from 1, as the textbooks do; the structures use NumPy's indices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule.autograd import grad
from chainrule.errors import ChainruleError, DTypeError, GradcheckError, ShapeError
from chainrule.ops.conv import conv2d
from chainrule.ops.operands import check_int, first_outside
from chainrule.tensor import Tensor
from chainrule.viz.values import fmt_number

DEFAULT_X = [
    [1, 2, 0, 1, 2],
    [0, 1, 3, 1, 0],
    [2, 1, 0, 2, 1],
    [1, 0, 1, 3, 2],
    [0, 2, 1, 0, 1],
]
DEFAULT_W = [[1, 0, -1], [2, 1, 0], [0, -1, 1]]
DEFAULT_B = 1.0
DEFAULT_G = [1.0, -1.0, 2.0, 0.5]  # the upstream gradient, repeated to the output's shape
# The explainer prints every term of every sum, so its sizes stay where the text is readable: inputs and kernels
# of at most 16×16, padding at most 8 (a padded side of at most 32) and a stride no larger than that side.
MAX_SIDE = 16
MAX_PADDING = 8
MAX_STRIDE = MAX_SIDE + 2 * MAX_PADDING
MAX_MAGNITUDE = 1e100  # every product and sum of at most 16·16 such terms stays finite in float64
TOLERANCE = 1e-9  # relative to the size of the terms summed
LIMITS = (
    f"the element-by-element table lists every term, so X and W have 1 to {MAX_SIDE} rows and columns, padding "
    f"is 0 to {MAX_PADDING} and stride 1 to {MAX_STRIDE}"
)


@dataclass
class ConvExplanation:
    """Everything ``explain_conv`` derived; ``str()`` prints it. Index tuples are 0-based (NumPy's)."""

    input: np.ndarray  # X
    weight: np.ndarray  # W, the kernel
    bias: float  # b
    stride: int
    padding: int
    output: np.ndarray  # O
    grad_output: np.ndarray  # G = ∂L/∂O
    grad_input: np.ndarray  # ∂L/∂X
    grad_weight: np.ndarray  # ∂L/∂W
    grad_bias: float  # ∂L/∂b
    outputs: dict[tuple[int, int], list[tuple[tuple[int, int], tuple[int, int]]]] = field(default_factory=dict)
    input_grads: dict[tuple[int, int], list[tuple[tuple[int, int], tuple[int, int]]]] = field(default_factory=dict)
    weight_grads: dict[tuple[int, int], list[tuple[tuple[int, int], tuple[int, int]]]] = field(default_factory=dict)
    dilated_grad: np.ndarray | None = None  # G with stride − 1 zeros between its elements
    rotated_weight: np.ndarray | None = None  # W rotated by 180°
    errors: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        return format_conv(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "X": self.input.tolist(), "W": self.weight.tolist(), "b": self.bias, "stride": self.stride,
            "padding": self.padding, "O": self.output.tolist(), "G": self.grad_output.tolist(),
            "dX": self.grad_input.tolist(), "dW": self.grad_weight.tolist(), "db": self.grad_bias,
            "errors": dict(self.errors),
        }


def _array(name: str, value: Any) -> np.ndarray:
    """``value`` (a Tensor, an array, a nested list or a number) as a float64 array of finite, moderate numbers."""
    try:
        a = np.asarray(value._data if isinstance(value, Tensor) else value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise DTypeError(
            f"explain_conv: {name} must be a number or a rectangular nested list of numbers, got "
            f"{type(value).__name__}; hint: e.g. {name}=[[1,2],[3,4]]"
        ) from None
    first_outside(
        "explain_conv", name, a, ~(np.abs(a) <= MAX_MAGNITUDE), f"[-{MAX_MAGNITUDE:g}, {MAX_MAGNITUDE:g}]",
        "; hint: the table needs finite numbers whose products stay finite",
    )
    return a


def _matrix(name: str, value: Any) -> np.ndarray:
    a = _array(name, value)
    a = a.reshape(a.shape[-2:]) if a.ndim > 2 and all(n == 1 for n in a.shape[:-2]) else a
    if a.ndim != 2:
        raise ShapeError(f"explain_conv: {name} must be a matrix (one channel), got shape {a.shape}")
    if max(a.shape) > MAX_SIDE or min(a.shape) < 1:
        raise ShapeError(f"explain_conv: {name} must have 1 to {MAX_SIDE} rows and columns, got shape {a.shape}")
    return a


def _bias(b: Any) -> float:
    a = _array("b", DEFAULT_B if b is None else getattr(b, "data", b))
    if a.size != 1:
        raise ShapeError(f"explain_conv: b must be one number (one filter), got shape {a.shape}")
    return float(a.reshape(-1)[0])


def _grad_output(G: Any, shape: tuple[int, int]) -> np.ndarray:
    """The upstream gradient ∂L/∂O: exactly the output's shape (leading dims of size 1 aside, as for X and W)."""
    if G is None:
        return np.resize(np.asarray(DEFAULT_G), shape).astype(np.float64)
    a = _array("G", getattr(G, "data", G))
    a = a.reshape(a.shape[-2:]) if a.ndim > 2 and all(n == 1 for n in a.shape[:-2]) else a
    if a.shape != shape:
        example = np.ones(shape, dtype=int).tolist() if shape[0] * shape[1] <= 9 else None
        raise ShapeError(
            f"explain_conv: G (the upstream gradient ∂L/∂O) must have the output's shape {shape}, got shape "
            f"{a.shape}; hint: give one value per output" + (f", e.g. G={example}" if example else "")
        )
    return a


def _check_geometry(stride: Any, padding: Any) -> tuple[int, int]:
    """stride and padding as ints within the limits, or chainrule's error stating every limit."""
    checked = []
    for name, value, low, high in (("stride", stride, 1, MAX_STRIDE), ("padding", padding, 0, MAX_PADDING)):
        try:
            checked.append(check_int("explain_conv", name, value, low, high))
        except ChainruleError as e:
            raise type(e)(f"{e} ({LIMITS})") from None
    return checked[0], checked[1]


def explain_conv(
    X: Any = None, W: Any = None, b: Any = None, stride: int = 2, padding: int = 0, grad_output: Any = None,
) -> ConvExplanation:
    """Convolution (a correlation, as in every deep-learning library) of one matrix with one kernel, spelled out.

    Defaults: a 5×5 X, a 3×3 W, b = 1 and stride 2 (a 2×2 output); ``grad_output`` G = ∂L/∂O defaults to a
    fixed pattern of distinct values so that each term can be traced. Every sum is checked against
    ``chainrule.ops.conv.conv2d`` forward and backward (``errors`` holds the largest differences).
    """
    s, p = _check_geometry(stride, padding)
    X = _matrix("X", DEFAULT_X if X is None else X)
    W = _matrix("W", DEFAULT_W if W is None else W)
    b_value = _bias(b)
    (h, w), (kh, kw) = X.shape, W.shape
    oh, ow = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"explain_conv: the kernel {W.shape} is larger than the padded input ({h + 2 * p}, {w + 2 * p}); "
            f"hint: a smaller kernel or more padding"
        )
    G = _grad_output(grad_output, (oh, ow))

    e = ConvExplanation(X, W, b_value, s, p, np.zeros((oh, ow)), G, np.zeros((h, w)), np.zeros((kh, kw)), 0.0)
    for i in range(oh):
        for j in range(ow):
            terms = []
            for u in range(kh):
                for v in range(kw):
                    r, c = s * i + u - p, s * j + v - p
                    if 0 <= r < h and 0 <= c < w:  # padding contributes zeros: no term
                        terms.append(((r, c), (u, v)))
                        e.input_grads.setdefault((r, c), []).append(((i, j), (u, v)))
                        e.weight_grads.setdefault((u, v), []).append(((i, j), (r, c)))
            e.outputs[(i, j)] = terms
            e.output[i, j] = sum(X[r, c] * W[u, v] for (r, c), (u, v) in terms) + b_value
    for (r, c), terms in e.input_grads.items():
        e.grad_input[r, c] = sum(G[i, j] * W[u, v] for (i, j), (u, v) in terms)
    for (u, v), terms in e.weight_grads.items():
        e.grad_weight[u, v] = sum(G[i, j] * X[r, c] for (i, j), (r, c) in terms)
    e.grad_bias = float(G.sum())

    # the same gradients as whole-matrix operations: dilate G by the stride, then full-convolve / correlate
    dilated = np.zeros(((oh - 1) * s + 1, (ow - 1) * s + 1))
    dilated[::s, ::s] = G
    e.dilated_grad, e.rotated_weight = dilated, W[::-1, ::-1].copy()
    full = _correlate(np.pad(dilated, ((kh - 1, kh - 1), (kw - 1, kw - 1))), e.rotated_weight)  # full convolution
    dx_padded = np.zeros((h + 2 * p, w + 2 * p))
    dx_padded[: full.shape[0], : full.shape[1]] = full[: h + 2 * p, : w + 2 * p]
    dx_matrix = dx_padded[p : p + h, p : p + w]
    dw_matrix = _correlate(np.pad(X, p), dilated)[:kh, :kw]
    e.errors = _check(e, dx_matrix, dw_matrix)
    return e


def _correlate(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Valid 2-D correlation (stride 1): out[i, j] = Σ_uv a[i + u, j + v]·k[u, v]."""
    oh, ow = a.shape[0] - k.shape[0] + 1, a.shape[1] - k.shape[1] + 1
    out = np.zeros((max(oh, 0), max(ow, 0)))
    for u in range(k.shape[0]):
        for v in range(k.shape[1]):
            out += k[u, v] * a[u : u + oh, v : v + ow]
    return out


def _check(e: ConvExplanation, dx_matrix: np.ndarray, dw_matrix: np.ndarray) -> dict[str, float]:
    """The largest differences between these sums and chainrule's conv2d (and the whole-matrix forms)."""
    x = Tensor(e.input[None, None].copy(), requires_grad=True)
    w = Tensor(e.weight[None, None].copy(), requires_grad=True)
    b = Tensor(np.array([e.bias]), requires_grad=True)
    out = conv2d(x, w, b, stride=e.stride, padding=e.padding)
    gx, gw, gb = grad(out, [x, w, b], Tensor(e.grad_output[None, None].copy()))
    errors = {
        "O": float(np.max(np.abs(out._data[0, 0] - e.output))),
        "dX": float(np.max(np.abs(gx._data[0, 0] - e.grad_input))),
        "dW": float(np.max(np.abs(gw._data[0, 0] - e.grad_weight))),
        "db": float(abs(gb._data[0] - e.grad_bias)),
        "dX as full convolution": float(np.max(np.abs(dx_matrix - e.grad_input))),
        "dW as correlation": float(np.max(np.abs(dw_matrix - e.grad_weight))),
    }
    # sums of the same terms in another order differ by rounding, which grows with the terms' size: the
    # tolerance is relative to the largest term a sum can hold, times the number of terms
    kh, kw = e.weight.shape
    oh, ow = e.output.shape
    x, w, g = (float(np.max(np.abs(a))) for a in (e.input, e.weight, e.grad_output))
    scale = {
        "O": x * w * kh * kw + abs(e.bias), "dX": g * w * kh * kw, "dW": g * x * oh * ow, "db": g * oh * ow,
    }
    scale.update({"dX as full convolution": scale["dX"], "dW as correlation": scale["dW"]})
    bad = {k: v for k, v in errors.items() if not v <= TOLERANCE * max(1.0, scale[k])}
    if bad:
        raise GradcheckError(f"explain_conv: the element-by-element sums disagree with conv2d: {bad}")
    return errors


# ----- printing ---------------------------------------------------------------------------------------------


def _sym(letter: str, index: tuple[int, int], wide: bool) -> str:
    r, c = index[0] + 1, index[1] + 1
    return f"{letter}{r},{c}" if wide else f"{letter}{r}{c}"


def _n(v: float) -> str:
    """A number inside a sum or product: negative ones in brackets, 2·(-1)."""
    text = fmt_number(v)
    return f"({text})" if text.startswith("-") else text


def _grid(a: np.ndarray, indent: str = "    ") -> list[str]:
    cells = [[fmt_number(v) for v in row] for row in a]
    width = max(len(c) for row in cells for c in row)
    return [indent + "[" + "  ".join(c.rjust(width) for c in row) + "]" for row in cells]


def _sum_line(lhs: str, symbols: list[str], numbers: list[str], total: float, pad: int) -> list[str]:
    if not symbols:
        return [f"{lhs} = 0   (no output used it)"]
    return [f"{lhs} = " + " + ".join(symbols), " " * pad + "= " + " + ".join(numbers) + f" = {fmt_number(total)}"]


def format_conv(e: ConvExplanation) -> str:
    (h, w), (kh, kw) = e.input.shape, e.weight.shape
    wide = max(*e.input.shape, *e.weight.shape, *e.output.shape) > 9
    oh, ow = e.output.shape
    lines = [
        f"convolution, element by element: X {h}×{w}, kernel W {kh}×{kw}, "
        f"bias b, stride {e.stride}" + (f", padding {e.padding}" if e.padding else "") + f" → O {oh}×{ow}",
        "(a deep-learning 'convolution' is a correlation: the kernel is not flipped in the forward pass)",
        "",
        "X =", *_grid(e.input), "W =", *_grid(e.weight), f"b = {fmt_number(e.bias)}",
        "",
        "forward: each output is a sum of input × weight terms",
    ]
    for (i, j), terms in e.outputs.items():
        lhs = _sym("o", (i, j), wide)
        syms = [f"{_sym('x', rc, wide)}·{_sym('w', uv, wide)}" for rc, uv in terms] + ["b"]
        nums = [f"{_n(e.input[rc])}·{_n(e.weight[uv])}" for rc, uv in terms] + [_n(e.bias)]
        lines += _sum_line(lhs, syms, nums, e.output[i, j], len(lhs) + 1)
    lines += [
        "", "backward, from the upstream gradient G = ∂L/∂O:", *_grid(e.grad_output), "",
        "∂L/∂b = Σ g_ij = " + " + ".join(_n(g) for g in e.grad_output.ravel())
        + f" = {fmt_number(e.grad_bias)}",
        "",
        "∂L/∂W: each weight collects upstream × input from every position it visited (a correlation of X with G)",
    ]
    for (u, v), terms in sorted(e.weight_grads.items()):
        lhs = f"∂L/∂{_sym('w', (u, v), wide)}"
        syms = [f"{_sym('g', ij, wide)}·{_sym('x', rc, wide)}" for ij, rc in terms]
        nums = [f"{_n(e.grad_output[ij])}·{_n(e.input[rc])}" for ij, rc in terms]
        lines += _sum_line(lhs, syms, nums, e.grad_weight[u, v], len(lhs) + 1)
    lines += ["", "∂L/∂X: each input collects upstream × weight from every output it fed"]
    for r in range(e.input.shape[0]):
        for c in range(e.input.shape[1]):
            terms = e.input_grads.get((r, c), [])
            lhs = f"∂L/∂{_sym('x', (r, c), wide)}"
            syms = [f"{_sym('g', ij, wide)}·{_sym('w', uv, wide)}" for ij, uv in terms]
            nums = [f"{_n(e.grad_output[ij])}·{_n(e.weight[uv])}" for ij, uv in terms]
            lines += _sum_line(lhs, syms, nums, e.grad_input[r, c], len(lhs) + 1)
    lines += [
        "",
        "∂L/∂X =", *_grid(e.grad_input), "∂L/∂W =", *_grid(e.grad_weight),
        "",
        f"the same as whole-matrix operations: dilate G by the stride (put {e.stride - 1} zero(s) between its "
        f"elements)",
        *_grid(e.dilated_grad),
        "then ∂L/∂X = the full convolution of dilated G with the kernel rotated by 180°:",
        *_grid(e.rotated_weight),
        "and ∂L/∂W = the correlation of X with dilated G.",
        "",
        "checked against chainrule's conv2d forward and backward: largest differences "
        + ", ".join(f"{k} {fmt_number(v)}" for k, v in e.errors.items()),
    ]
    return "\n".join(lines)
