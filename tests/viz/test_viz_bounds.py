"""The views at their edges: pictures written all at once or not at all, the convolution explainer bounded and its
upstream gradient checked, and every malformed expression refused in one line that says where."""

from __future__ import annotations

import errno
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.io.archive as io_format
from chainrule.cli import main
from chainrule.cli.expr import FUNCTIONS, MAX_DEPTH, ExpressionError, evaluate, parse_binding
from chainrule.errors import ArgumentError, ArgumentTypeError, ChainruleError, DTypeError, ShapeError
from chainrule.viz import draw, explain, explain_conv
from chainrule.viz.conv_explain import MAX_PADDING, MAX_SIDE, MAX_STRIDE

# ----- files are written to a temporary name and renamed -------------------------------------------------------


def _graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    return (x * x).sum()


def _full_disk_after(monkeypatch, nbytes):
    """Make the next file opened by atomic_write take ``nbytes`` bytes, then fail as a full disk does."""
    real_fdopen = os.fdopen

    class Filling:
        def __init__(self, f):
            self.f, self.left = f, nbytes

        def write(self, data):
            if len(data) > self.left:
                self.f.write(bytes(data[: self.left]))
                self.f.flush()
                raise OSError(errno.ENOSPC, "No space left on device")
            self.left -= len(data)
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

    monkeypatch.setattr(io_format.os, "fdopen", lambda fd, *a, **k: Filling(real_fdopen(fd, *a, **k)))


@pytest.mark.parametrize("name", ["graph.svg", "graph.dot"])
def test_draw_failing_mid_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch, name):
    path = tmp_path / name
    path.write_text("the previous picture", encoding="utf-8")
    _full_disk_after(monkeypatch, 20)
    with pytest.raises(OSError, match="No space left"):
        draw(_graph(), path)
    assert path.read_text(encoding="utf-8") == "the previous picture"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_draw_writes_the_whole_picture_when_nothing_fails(tmp_path):
    text = draw(_graph(), tmp_path / "graph.dot")
    assert (tmp_path / "graph.dot").read_text(encoding="utf-8") == text and text.startswith("digraph")
    assert [p.name for p in tmp_path.iterdir()] == ["graph.dot"]


def test_plot_failing_mid_write_keeps_the_previous_png_and_leaves_no_temporary(tmp_path):
    pytest.importorskip("matplotlib")
    from chainrule.viz.plots import _pyplot, save_png

    path = tmp_path / "curves.png"
    path.write_bytes(b"previous png")
    fig = _pyplot().figure()

    def half_then_fail(f, **kwargs):
        f.write(b"\x89PNG half of a picture")
        raise OSError(errno.ENOSPC, "No space left on device")

    fig.savefig = half_then_fail
    with pytest.raises(OSError, match="No space left"):
        save_png(fig, path)
    assert path.read_bytes() == b"previous png"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]


def test_draw_refuses_an_unknown_format_or_layout_with_chainrules_error(tmp_path):
    with pytest.raises(ArgumentError, match=r"draw: cannot tell the format of '.*graph\.png'"):
        draw(_graph(), tmp_path / "graph.png")
    with pytest.raises(ArgumentError, match=r"to_svg: layout must be one of chainrule, graphviz, auto, got 'x'"):
        draw(_graph(), tmp_path / "graph.svg", layout="x")
    with pytest.raises(ArgumentTypeError, match=r"draw: format must be 'svg', 'dot' or None, got int"):
        draw(_graph(), tmp_path / "graph.svg", format=5)
    assert list(tmp_path.iterdir()) == []


def test_explain_refuses_what_is_not_a_tensor_or_a_gradient_with_chainrules_error():
    with pytest.raises(DTypeError, match=r"explain: expected a Tensor, got int"):
        explain(3)
    with pytest.raises(DTypeError, match=r"explain: grad must be a Tensor or a \(nested list of\) numbers"):
        explain(_graph(), "abc")
    with pytest.raises(ShapeError, match=r"explain: grad has shape \(2,\) but the output has shape \(\)"):
        explain(_graph(), [1.0, 2.0])


# ----- explain_conv: bounded sizes, a checked upstream gradient ---------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        (dict(padding=1000), ArgumentError, rf"explain_conv: argument 'padding' must be ≤ {MAX_PADDING}, got 1000"),
        (dict(padding=-1), ArgumentError, r"explain_conv: argument 'padding' must be ≥ 0, got -1"),
        (dict(stride=0), ArgumentError, r"explain_conv: argument 'stride' must be ≥ 1, got 0"),
        (dict(stride=10**9), ArgumentError, rf"explain_conv: argument 'stride' must be ≤ {MAX_STRIDE}"),
        (dict(stride=True), ArgumentTypeError, r"explain_conv: argument 'stride' must be an int, got bool"),
        (dict(padding=1.5), ArgumentTypeError, r"explain_conv: argument 'padding' must be an int, got float"),
        (dict(X=np.ones((17, 3))), ShapeError, rf"explain_conv: X must have 1 to {MAX_SIDE} rows and columns"),
        (dict(W=np.ones((3, 40))), ShapeError, rf"explain_conv: W must have 1 to {MAX_SIDE} rows and columns"),
        (dict(X=[[1, 2], [3]]), DTypeError, r"explain_conv: X must be a number or a rectangular nested list"),
        (dict(W="abc"), DTypeError, r"explain_conv: W must be a number or a rectangular nested list"),
        (dict(X=np.full((5, 5), np.inf)), ArgumentError, r"explain_conv: X\[0, 0\] = inf is outside"),
        (dict(W=[[1.0, float("nan")]]), ArgumentError, r"explain_conv: W\[0, 1\] = nan is outside"),
        (dict(b=[1.0, 2.0]), ShapeError, r"explain_conv: b must be one number \(one filter\), got shape \(2,\)"),
        (dict(b=[]), ShapeError, r"explain_conv: b must be one number \(one filter\), got shape \(0,\)"),
    ],
)
def test_explain_conv_refuses_sizes_and_values_it_cannot_show(kwargs, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        explain_conv(**kwargs)
    assert "\n" not in str(info.value)


def test_explain_conv_limits_are_stated_in_the_message():
    with pytest.raises(ArgumentError) as info:
        explain_conv(padding=1000)
    assert f"X and W have 1 to {MAX_SIDE} rows and columns, padding is 0 to {MAX_PADDING} and stride 1 to " \
           f"{MAX_STRIDE}" in str(info.value)


@pytest.mark.parametrize("G", [np.ones(4), np.ones((1, 4)), np.ones((4, 1)), np.ones((3, 3)), np.ones((2, 2, 2)), 1.0])
def test_explain_conv_refuses_an_upstream_gradient_not_of_the_outputs_shape(G):
    """The default 5×5 input, 3×3 kernel and stride 2 give a 2×2 output: G must be 2×2, not 4 values reshaped."""
    with pytest.raises(ShapeError, match=r"explain_conv: G \(the upstream gradient ∂L/∂O\) must have the output's "
                                         r"shape \(2, 2\), got shape .*; hint: .* e\.g\. G=\[\[1, 1\], \[1, 1\]\]"):
        explain_conv(grad_output=G)


def test_explain_conv_takes_an_upstream_gradient_of_the_outputs_shape():
    G = np.array([[1.0, -2.0], [0.5, 3.0]])
    assert explain_conv(grad_output=G).grad_bias == 2.5
    assert explain_conv(grad_output=G[None, None]).grad_output.tolist() == G.tolist()


def test_explain_conv_largest_allowed_geometry_is_explained_and_checked():
    r = np.random.default_rng(0)
    e = explain_conv(r.standard_normal((MAX_SIDE, MAX_SIDE)), r.standard_normal((3, 3)), 0.5, stride=1,
                     padding=MAX_PADDING)
    assert e.output.shape == (MAX_SIDE + 2 * MAX_PADDING - 2,) * 2
    assert max(e.errors.values()) < 1e-9


def test_explain_conv_large_values_are_checked_relative_to_their_size():
    """Sums of terms of 10^15 differ by rounding in the last place, far above 1e-9 but not a disagreement."""
    r = np.random.default_rng(0)
    e = explain_conv(r.standard_normal((16, 16)) * 1e12, r.standard_normal((3, 3)) * 1e3, stride=1, padding=2)
    assert e.output.shape == (18, 18)
    assert np.isfinite(e.output).all()


def test_cli_explain_conv_refuses_a_huge_padding_in_one_line(capsys):
    code = main(["explain", "--conv", "--padding", "1000"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "chainrule explain: error: explain_conv: argument 'padding' must be ≤ 8, got 1000" in err


def test_cli_explain_conv_refuses_a_wrongly_shaped_g_in_one_line(capsys):
    code = main(["explain", "--conv", "G=[1,2,3,4]"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "must have the output's shape (2, 2), got shape (4,)" in err


@pytest.mark.parametrize("args, message", [
    (["G=[[1],[2],[3],[4]]"], "G (the upstream gradient ∂L/∂O) must have the output's shape (2, 2), got shape (4, 1)"),
    (["X=[[1,2,3],[4,5,6],[7,8,9]]", "W=[[1,0],[0,1]]", "G=[[1,2,3,4]]", "--stride", "1"],
     "G (the upstream gradient ∂L/∂O) must have the output's shape (2, 2), got shape (1, 4); hint: give one value "
     "per output, e.g. G=[[1, 1], [1, 1]]"),
    (["X=[[[1,2]],[[3,4]]]"], "X must be a matrix (one channel), got shape (2, 1, 2)"),
    (["W=[[1,2],[3,4],[5,6]]", "X=[[1,2],[3,4]]"], "the kernel (3, 2) is larger than the padded input (2, 2)"),
    (["b=[1,2]"], "b must be one number (one filter), got shape (2,)"),
])
def test_cli_explain_conv_names_the_binding_and_the_shape_it_needs(capsys, args, message):
    code = main(["explain", "--conv", *args])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("chainrule explain: error: ") and message in err


# ----- expressions: a one-line error with its column, whatever the input ------------------------------------

BOUND = {"x": 2.0, "y": -1.0, "W": np.array([[1.0, 2.0], [3.0, 4.0]]), "v": np.array([1.0, -1.0])}


@pytest.mark.parametrize("names", [("f", "out", "result"), ("f", "out", "result", "f1", "f2")])
def test_an_expression_whose_default_output_names_are_all_bound_still_evaluates(names):
    variables = {n: float(k) for k, n in enumerate(names)}
    ev = evaluate(" + ".join(names), variables)
    assert ev.name == f"f{len(names) - 2}"
    assert ev.output.item() == sum(range(len(names)))
    assert float(np.asarray(explain(ev.output).gradients["f"])) == 1.0


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "empty expression (column 1)"),
        ("  # only a comment", "empty expression (column 1)"),
        ("x\x00y", "NUL character (column 2)"),
        ("x" * 2100, "expression too long (column 2001)"),
        ("-" * 60 + "x", f"expression nested too deeply (column {MAX_DEPTH}): more than {MAX_DEPTH} levels"),
        ("q = x; " * 200 + "q", "expression too large (column "),
        ("@x", "syntax error: invalid syntax (column 1)"),
        ("x +", "syntax error: invalid syntax (column 4)"),
        ("ü + ∂", "syntax error: invalid character '∂' (U+2202) (column 5)"),
        ("ü + zz", "unknown name 'zz' (column 5)"),
        ("ü + x.T", "attribute access is not allowed: 'x.T' (column 5)"),
        ("x +\n(y", "syntax error: invalid syntax (line 1, column 4)"),
        ("q = x\nq + zz", "unknown name 'zz' (line 2, column 5)"),
        ("x + W[5]", "'W[5]' (column 5): "),
        ("x + x ** 1000", "'1000' (column 10)"),
    ],
)
def test_every_refusal_says_where_in_characters(source, message):
    with pytest.raises(ExpressionError) as info:
        evaluate(source, BOUND)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("source", ["1if x", "x + 0x1for", "'\\d' + x"])
def test_pythons_syntax_warnings_never_reach_the_user(source):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ExpressionError, match=r"\(column \d+\)"):
            evaluate(source, BOUND)
        with pytest.raises(ExpressionError, match="is not a number or a list of numbers"):
            parse_binding("x=" + source)


def test_array_variables_must_hold_real_numbers():
    with pytest.raises(ExpressionError, match=r"x: an array of dtype <U1 is not an array of real numbers"):
        evaluate("x", {"x": np.array(["a"])})
    with pytest.raises(ExpressionError, match=r"a variable name must be a string, got int"):
        evaluate("x", {3: 1.0})


PIECES = [
    "x", "y", "W", "v", "z", "f", "q", "(", ")", "[", "]", ",", ":", ";", "=", "+", "-", "*", "/", "**", "@", "0",
    "1", "2", "-1", "0.5", "1e308", "1e400", "100", "101", "10000", "dim=", "dim=0", "dim=-1", "dim=9", " ", "\n",
    "\t", "\\", "#", "'", '"', ".", "lambda", "if", "else", "nan", "1j", "__x", "_", "0x1", "1_0", "\x00", "\r",
    "ü", "∂", "None", "True", "not", "<", "//", "%", "~", "...", *FUNCTIONS,
]


def _assert_refused_or_evaluated(source: str, variables: dict) -> None:
    """Only chainrule's errors come out, in one line, and no warning (a second line on stderr); a refused
    expression says where (a column)."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("error")
            result = evaluate(source, variables)
            if result.output.requires_grad and result.output.numpy().size == 1:
                str(explain(result.output))
    except ChainruleError as e:
        message = str(e)
        assert message and "\n" not in message and "\r" not in message
        assert isinstance(e, ExpressionError), message
        assert "column " in message, message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.text(max_size=60), bound=st.booleans())
def test_random_text_gives_only_chainrules_one_line_errors(source, bound):
    _assert_refused_or_evaluated(source, BOUND if bound else {})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens=st.lists(st.sampled_from(PIECES), min_size=1, max_size=14), bound=st.sampled_from([0, 1, 2]))
def test_random_token_sequences_give_only_chainrules_one_line_errors(tokens, bound):
    variables = [{}, BOUND, {**BOUND, "f": 1.0, "out": 2.0, "result": 3.0}][bound]
    _assert_refused_or_evaluated(" ".join(tokens), variables)
    _assert_refused_or_evaluated("".join(tokens), variables)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40))
def test_random_bindings_give_only_chainrules_one_line_errors(text):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            parse_binding(text)
    except ChainruleError as e:
        assert isinstance(e, ExpressionError) and "\n" not in str(e)
