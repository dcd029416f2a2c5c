"""draw / to_svg / to_dot: valid XML, one box per value and per op, edges labelled upstream × local = downstream."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.expr import evaluate
from chainrule.viz import build_graph, draw, to_dot, to_svg

SVG = "{http://www.w3.org/2000/svg}"


def xyz():
    return evaluate("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}).output


def nodes(root):
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if "node" in (g.get("class") or "").split()}


def text_of(element):
    return " | ".join("".join(t.itertext()) for t in element.iter(f"{SVG}tspan"))


def test_svg_is_valid_xml_with_every_node_and_edge():
    f = xyz()
    svg = to_svg(f)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    found = nodes(root)
    names = {g.get("data-name") for g in found.values()}
    assert {"x", "y", "z", "q", "f", "add", "mul"} <= names
    assert len(found) == 7  # five values, two ops
    boxes = {g.get("data-name"): text_of(g) for g in found.values()}
    assert boxes["x"] == "x | value -2 | grad -4"
    assert boxes["z"] == "z | value -4 | grad 3"
    assert boxes["q"] == "q | value 3 | grad -4"
    assert boxes["f"] == "f | value -12 | grad 1"
    assert boxes["add"] == "add | distributes" and boxes["mul"] == "mul | swaps"
    edges = [g for g in root.iter(f"{SVG}g") if "edge" in g.get("class", "").split()]
    assert len(edges) == 6  # x, y → add → q; q, z → mul → f
    labels = [text_of(e) for e in edges]
    assert "(-4) × 1 = -4" in labels  # x → add: upstream × local = downstream
    assert "1 × (-4) = -4 | local z" in labels  # q → mul
    assert "1 × 3 = 3 | local q" in labels  # z → mul
    for e in edges:
        assert e.get("data-source") in found and e.get("data-target") in found


def test_draw_writes_svg_and_dot(tmp_path):
    f = xyz()
    text = draw(f, tmp_path / "g.svg")
    assert (tmp_path / "g.svg").read_text(encoding="utf-8") == text
    ET.parse(tmp_path / "g.svg")
    dot = draw(f, tmp_path / "g.dot")
    assert dot.startswith("digraph chainrule {") and dot.rstrip().endswith("}")
    assert '-> op2 [label="1 × (-4) = -4\\nlocal z"]' in dot
    assert dot == to_dot(f)
    with pytest.raises(ValueError, match="format"):
        draw(f, tmp_path / "g.png")
    f.backward()  # drawing did not release the graph
    with pytest.raises(cr.BackwardError, match="freed"):
        draw(f, tmp_path / "again.svg")


def test_constants_are_drawn_dashed_without_grad():
    ev = evaluate("f = 1 / (1 + exp(-x))", {"x": 0.5})
    g = build_graph(ev.output)
    constants = [n for n in g.nodes if n.role == "constant"]
    assert [n.lines for n in constants] == [["1", "value 1"], ["1", "value 1"]]
    assert any(e.constant for e in g.edges)
    ET.fromstring(to_svg(ev.output))


def test_big_tensors_show_shape_norm_min_max_and_zeros():
    rng = np.random.default_rng(0)
    x = cr.Tensor(rng.normal(size=(64, 10)), name="x")
    w = cr.Tensor(rng.normal(size=(10, 5)), requires_grad=True, name="w")
    loss = cr.relu(x @ w).mean()
    svg = to_svg(loss)
    root = ET.fromstring(svg)
    boxes = {g.get("data-name"): text_of(g) for g in nodes(root).values()}
    w_box = boxes["w (10, 5)"]
    assert "norm" in w_box and "min" in w_box and "max" in w_box and "% zeros" in w_box
    relu = boxes["relu(x @ w) (64, 5)"]  # an intermediate is named by its expression
    zeros = float(relu.split("% zeros")[0].rsplit(" ", 1)[1])
    expected = 100 * np.mean(np.maximum(x.numpy() @ w.numpy(), 0) == 0)
    assert zeros == pytest.approx(expected, abs=0.1)
    assert "[" not in w_box  # no values printed


def test_model_graph_renders():
    model = cr.nn.Sequential(cr.nn.Conv2d(1, 2, 3), cr.nn.ReLU(), cr.nn.Flatten(), cr.nn.Linear(2 * 4 * 4, 3))
    x = cr.randn(2, 1, 6, 6, generator=np.random.default_rng(0))
    loss = cr.nn.functional.cross_entropy(model(x), cr.tensor([0, 2]))
    svg = to_svg(loss, names=model)
    root = ET.fromstring(svg)
    names = {g.get("data-name") for g in nodes(root).values()}
    assert {"0.weight (2, 1, 3, 3)", "0.bias", "3.weight (3, 32)", "3.bias", "conv2d", "relu", "linear"} <= names
    dot = to_dot(loss, names=model)
    assert dot.count("->") == len([e for e in build_graph(loss, names=model).edges])


def test_layout_choice(monkeypatch):
    f = xyz()
    with pytest.raises(ValueError, match="layout"):
        to_svg(f, layout="neato")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert to_svg(f, layout="auto") == to_svg(f)  # no Graphviz: chainrule's own layout
    with pytest.raises(cr.ChainruleError, match="dot was not found"):
        to_svg(f, layout="graphviz")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_layout():
    ET.fromstring(to_svg(xyz(), layout="graphviz"))


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium installed")
def test_svg_opens_in_a_browser(tmp_path):
    path = tmp_path / "g.svg"
    draw(xyz(), path)
    png = tmp_path / "g.png"
    result = subprocess.run(
        [_chromium(), "--headless", "--disable-gpu", "--no-sandbox", f"--screenshot={png}", path.as_uri()],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert png.stat().st_size > 1000
