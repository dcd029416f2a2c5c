"""The step-through page without a browser: the JSON it is built from (values, the engine's order of the backward
steps, local derivatives, fan-out sums, convolution and recurrent views, module groups), that it is
self-contained, and ``chainrule explain --html``."""

from __future__ import annotations

import json
import re
from importlib import resources

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.cli import main
from chainrule.errors import ArgumentTypeError, DTypeError
from chainrule.models import LeNet5
from chainrule.viz import explain_conv, page_data, record_modules, to_html


def scalar(a):
    assert a is not None and a["s"] == [], a
    return a["x"]


def circuit():
    x, y, z = (cr.tensor(v, requires_grad=True, dtype=cr.float64) for v in (-2.0, 5.0, -4.0))
    q = x + y
    f = q * z
    return f, {"x": x, "y": y, "z": z, "q": q, "f": f}


def sigmoid_neuron():
    w0, x0, w1, x1, w2 = (cr.tensor(v, requires_grad=True, dtype=cr.float64) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    f = 1 / (1 + cr.exp(-(w0 * x0 + w1 * x1 + w2)))
    return f, {"w0": w0, "x0": x0, "w1": w1, "x1": x1, "w2": w2}


def embedded(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S)
    assert match is not None
    return json.loads(match.group(1))


def test_circuit_forward_and_backward_steps():
    f, names = circuit()
    d = page_data(f, names=names)
    nodes = {n["id"]: n for n in d["nodes"]}
    forward = [nodes[i] for i in d["forward"]]
    assert [op["name"] for op in forward] == ["add", "mul"]
    assert [scalar(nodes[op["out"][0]]["val"]) for op in forward] == [3, -12]
    first, second = d["backward"]
    assert nodes[first["op"]]["name"] == "mul" and scalar(first["up"][0]) == 1
    by_name = {i["name"]: i for i in first["in"]}
    assert (scalar(by_name["q"]["local"]), scalar(by_name["q"]["down"])) == (-4, -4)
    assert (scalar(by_name["z"]["local"]), scalar(by_name["z"]["down"])) == (3, 3)
    assert by_name["q"]["f"] == "z" and by_name["z"]["f"] == "q"
    assert nodes[second["op"]]["name"] == "add" and scalar(second["up"][0]) == -4
    assert [(i["name"], scalar(i["local"]), scalar(i["down"])) for i in second["in"]] == [("x", 1, -4), ("y", 1, -4)]
    grads = {n["name"]: scalar(n["grad"]) for n in d["nodes"] if n["k"] == "v"}
    assert grads == {"x": -4, "y": -4, "z": 3, "q": -4, "f": 1}
    assert f.grad is None and names["x"].grad is None  # nothing accumulated: backward still works afterwards
    f.backward()
    assert names["x"].grad.item() == -4


def test_sigmoid_neuron_gradients_and_output():
    f, names = sigmoid_neuron()
    d = page_data(f, names=names)
    assert scalar(d["outputValue"]) == pytest.approx(0.731059, abs=1e-6)
    grads = {n["name"]: scalar(n["grad"]) for n in d["nodes"] if n.get("role") == "leaf"}
    expected = {"w0": -0.196612, "x0": 0.393224, "w1": -0.393224, "x1": -0.589836, "w2": 0.196612}
    assert grads == pytest.approx(expected, abs=1e-6)
    # the steps follow the engine's walk: the same order explain prints
    assert [s["node"] for s in d["backward"]] == [row["node"] for row in cr.viz.explain(f, names=names)]


def test_fan_out_gradient_is_the_sum_of_what_each_consumer_sent():
    x = cr.tensor([3.0, 1.0], requires_grad=True, dtype=cr.float64)
    y = cr.tensor([-2.0, 4.0], requires_grad=True, dtype=cr.float64)
    f = (x * y + x.exp()).sum()
    d = page_data(f, names={"x": x, "y": y})
    xid = next(n["id"] for n in d["nodes"] if n["name"] == "x")
    sent = [np.array(i["down"]["r"][0]) for s in d["backward"] for i in s["in"] if i["v"] == xid]
    assert len(sent) == 2  # x feeds mul and exp
    total = np.array(next(n for n in d["nodes"] if n["id"] == xid)["grad"]["r"][0])
    np.testing.assert_allclose(sent[0] + sent[1], total, rtol=1e-5)  # the page shows 6 significant digits
    np.testing.assert_allclose(total, [-2 + np.exp(3), 4 + np.exp(1)], rtol=1e-5)


def test_big_arrays_are_truncated_with_a_count():
    x = cr.tensor(np.arange(300.0).reshape(20, 15), requires_grad=True)
    d = page_data((x * 2).sum(), names={"x": x})
    val = next(n for n in d["nodes"] if n["name"] == "x")["val"]
    assert val["s"] == [20, 15] and len(val["r"]) == 8 and len(val["r"][0]) == 8
    assert val["more"] == 300 - 64 and val["r"][1][:3] == [15, 16, 17]
    assert "norm" in val["t"]


def test_page_is_self_contained_and_escapes_names(tmp_path):
    x = cr.tensor(2.0, requires_grad=True, dtype=cr.float64)
    f = x * x
    path = tmp_path / "p.html"
    html = to_html(f, path, names={"</script><b>x": x})
    assert path.read_text(encoding="utf-8") == html
    assert embedded(html)["nodes"][0]["name"] == "</script><b>x"  # escaped in the page, read back whole
    assert html.count("</script>") == 2  # the data's and the code's own: the name cannot end either early
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html)
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}  # an XML namespace: never fetched
    assert "default-src 'none'" in html  # the page's own policy forbids any request


def test_overwrites_atomically_and_refuses_bad_arguments(tmp_path):
    f, names = circuit()
    path = tmp_path / "p.html"
    path.write_text("old")
    to_html(f, path, names=names)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not [p for p in tmp_path.iterdir() if p.name != "p.html"]  # no temporary file left behind
    with pytest.raises(ArgumentTypeError, match="to_html: path must be a str or a Path, got int"):
        to_html(f, 3)
    with pytest.raises(DTypeError, match="to_html: expected a Tensor, got list"):
        to_html([1.0], path)
    with pytest.raises(ArgumentTypeError, match="modules must be what record_modules"):
        to_html(f, path, modules={"a": 1})
    with pytest.raises(ArgumentTypeError, match="record_modules: model must be an nn.Module, got int"):
        with record_modules(3):
            pass


def test_the_page_template_ships_with_the_package():
    page = resources.files("chainrule.viz").joinpath("page")
    for name in ("page.html", "page.js", "page.css"):
        assert page.joinpath(name).is_file()
    assert "</script" not in page.joinpath("page.js").read_text(encoding="utf-8")


# ----- convolution ---------------------------------------------------------------------------------------------


def test_conv_view_carries_the_slice_and_explain_conv_text():
    e = explain_conv()  # 5×5 input, 3×3 kernel, stride 2
    X = cr.tensor(e.input[None, None], requires_grad=True)
    W = cr.tensor(e.weight[None, None], requires_grad=True)
    b = cr.tensor([e.bias], requires_grad=True, dtype=cr.float64)
    out = cr.nn.functional.conv2d(X, W, b, stride=2)
    loss = (out * cr.tensor(e.grad_output[None, None])).sum()
    d = page_data(loss, names={"X": X, "W": W, "b": b})
    (cv,) = d["conv"].values()
    assert (cv["N"], cv["C"], cv["F"], cv["OH"], cv["OW"], cv["stride"]) == (1, 1, 1, 2, 2, [2, 2])
    np.testing.assert_array_equal(np.reshape(cv["x"], (5, 5)), e.input)
    np.testing.assert_array_equal(np.reshape(cv["gy"], (2, 2)), e.grad_output)
    assert cv["text"] == str(e)


def test_conv_view_of_a_batched_multichannel_conv():
    rng = np.random.default_rng(0)
    X = cr.tensor(rng.standard_normal((3, 2, 6, 6)), requires_grad=True)
    W = cr.tensor(rng.standard_normal((4, 2, 3, 3)), requires_grad=True)
    loss = (cr.nn.functional.conv2d(X, W, stride=2, padding=1) ** 2).sum()
    (cv,) = page_data(loss, names={"X": X, "W": W})["conv"].values()
    assert (cv["n"], cv["c"], cv["f"], cv["OH"], cv["padding"]) == (3, 2, 4, 3, [1, 1, 1, 1])
    assert cv["text"] is None  # explain --conv prints one channel only
    np.testing.assert_allclose(np.reshape(cv["w"], (4, 2, 3, 3)), W.data, rtol=1e-5)


# ----- recurrent layers --------------------------------------------------------------------------------------------


def lstm_pair(length=12):
    """The same LSTM run as one layer (one op for the time loop) and as a loop of cell ops, and the torch reference."""
    rng = np.random.default_rng(1)
    layer = cr.nn.LSTM(3, 4, dtype=cr.float64)
    cell = cr.nn.LSTMCell(3, 4, dtype=cr.float64)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(cell, name).data[...] = getattr(layer, name + "_l0").data
    xs = rng.standard_normal((length, 2, 3))
    return layer, cell, xs


def test_rnn_view_of_a_layer_matches_the_cell_loop_and_torch():
    layer, cell, xs = lstm_pair()
    out, _ = layer(cr.tensor(xs))
    seq = page_data((out**2).mean(), names=layer)["rnn"]
    h = c = cr.zeros(2, 4, dtype=cr.float64)
    hs = []
    for t in range(len(xs)):
        h, c = cell(cr.tensor(xs[t]), (h, c))
        hs.append(h)
    loop = page_data((cr.stack(hs) ** 2).mean(), names=cell)["rnn"]
    assert len(seq) == len(loop) == 1 and seq[0]["weight"] == "weight_hh_l0"
    a, b = seq[0]["steps"], loop[0]["steps"]
    np.testing.assert_allclose([r["dw"] for r in a], [r["dw"] for r in b], rtol=1e-5)
    np.testing.assert_allclose(np.array(seq[0]["total"]["r"]), np.array(loop[0]["total"]["r"]), rtol=1e-5)

    # ‖∂L/∂h_t‖ from torch's own LSTM cell, unrolled with retain_grad
    tcell = torch.nn.LSTMCell(3, 4, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(tcell, name).copy_(torch.from_numpy(np.array(getattr(cell, name).data)))
    th = tc = torch.zeros(2, 4, dtype=torch.float64)
    ths = []
    for t in range(len(xs)):
        th, tc = tcell(torch.from_numpy(xs[t]), (th, tc))
        th.retain_grad()
        ths.append(th)
    (torch.stack(ths) ** 2).mean().backward()
    expected = [float(t.grad.norm()) for t in ths]
    np.testing.assert_allclose([r["dh"] for r in a], expected, rtol=1e-5)
    np.testing.assert_allclose([r["dh"] for r in b], expected, rtol=1e-5)


def test_rnn_shares_sum_to_the_weight_gradient():
    rng = np.random.default_rng(2)
    gru = cr.nn.GRU(2, 3, dtype=cr.float64)
    out, hn = gru(cr.tensor(rng.standard_normal((7, 1, 2))))
    loss = (out.sum() + hn.sum() * 2) ** 2
    (view,) = page_data(loss, names=gru)["rnn"]
    loss.backward()
    total = np.array(view["total"]["r"])
    np.testing.assert_allclose(total, gru.weight_hh_l0.grad.data[:8, :8], rtol=1e-5)
    assert len(view["steps"]) == 7 and all(r["dh"] > 0 for r in view["steps"])


def test_elman_rnn_view_matches_torch_bptt():
    rng = np.random.default_rng(3)
    rnn = cr.nn.RNN(2, 3, nonlinearity="relu", dtype=cr.float64)
    xs = rng.standard_normal((6, 1, 2))
    out, _ = rnn(cr.tensor(xs))
    (view,) = page_data(out.sum() ** 2, names=rnn)["rnn"]
    w = {k: torch.from_numpy(np.array(getattr(rnn, k + "_l0").data)) for k in ("weight_ih", "weight_hh", "bias_ih",
                                                                                  "bias_hh")}
    w["weight_hh"].requires_grad_()
    h, hs = torch.zeros(1, 3, dtype=torch.float64), []
    for t in range(6):
        h = torch.relu(torch.from_numpy(xs[t]) @ w["weight_ih"].T + w["bias_ih"] + h @ w["weight_hh"].T + w["bias_hh"])
        h.retain_grad()
        hs.append(h)
    (torch.stack(hs).sum() ** 2).backward()
    np.testing.assert_allclose([r["dh"] for r in view["steps"]], [float(h.grad.norm()) for h in hs], rtol=1e-5)


def test_a_leaf_output_has_no_steps():
    x = cr.tensor(2.0, requires_grad=True)
    d = page_data(x, names={"x": x})
    assert d["forward"] == [] and d["backward"] == [] and scalar(d["nodes"][0]["grad"]) == 1


# ----- module groups ------------------------------------------------------------------------------------------------


def lenet_loss(batch=2):
    rng = np.random.default_rng(0)
    model = LeNet5(generator=rng)
    x = cr.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    with record_modules(model) as modules:
        loss = cr.nn.functional.cross_entropy(model(x), cr.tensor(np.arange(batch) % 10))
    return model, modules, loss


def test_record_modules_groups_ops_by_the_module_that_ran_them():
    model, modules, loss = lenet_loss()
    d = page_data(loss, names=model, modules=modules)
    ops = {(n["name"], n["g"]) for n in d["nodes"] if n["k"] == "o"}
    assert {("conv2d", "features.0"), ("tanh", "features.1"), ("max_pool2d", "features.2"),
            ("linear", "classifier.5"), ("cross_entropy", "")} <= ops
    assert d["groups"]["features"] == {"label": "features", "type": "Sequential", "parent": None, "ops": 6}
    assert d["groups"]["features.3"]["type"] == "Conv2d" and d["groups"]["features.3"]["parent"] == "features"
    weight = next(n for n in d["nodes"] if n["name"] == "features.0.weight")
    assert weight["g"] == "features.0"  # a parameter sits in the module that holds it
    # without a record, an op that reads a module's parameter still belongs to that module
    plain = page_data(loss, names=model)
    assert {(n["name"], n["g"]) for n in plain["nodes"] if n["k"] == "o" and n["g"]} == {
        ("conv2d", "features.0"), ("conv2d", "features.3"), ("linear", "classifier.1"), ("linear", "classifier.3"),
        ("linear", "classifier.5"),
    }


# ----- the command line ---------------------------------------------------------------------------------------------


def test_cli_html(capsys, tmp_path):
    path = tmp_path / "steps.html"
    code = main(["explain", "(x + y) * z", "x=-2", "y=5", "z=-4", "--html", str(path)])
    out, err = capsys.readouterr()
    assert code == 0 and err == "" and f"page written to {path}" in out
    d = embedded(path.read_text(encoding="utf-8"))
    assert [scalar(i["down"]) for s in d["backward"] for i in s["in"]] == [-4, 3, -4, -4]


def test_cli_html_refusals(capsys, tmp_path):
    code = main(["explain", "--conv", "--html", str(tmp_path / "c.html")])
    _, err = capsys.readouterr()
    assert code == 2 and len(err.strip().splitlines()) <= 2 and "--html" in err and "--conv" in err
    code = main(["explain", "x * 2", "x=1", "--html", str(tmp_path / "missing" / "p.html")])
    _, err = capsys.readouterr()
    assert code == 1 and "does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "c.html").exists()
