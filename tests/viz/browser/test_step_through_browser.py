"""The step-through page in headless Chromium: loaded from file://, stepped with the keys, the buttons and the
slider, and read back: the numbers shown at each step of the notes' two circuits, fan-out sums, node details,
the convolution and recurrent views, module groups that expand on click, and the page's own ready time."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.models import LeNet5
from chainrule.viz import explain_conv, record_modules, to_html


def text(page, selector: str) -> str:
    return page.inner_text(selector).strip()


def number(page, selector: str) -> float:
    return float(text(page, selector))


def circuit_page(tmp_path):
    x, y, z = (cr.tensor(v, requires_grad=True, dtype=cr.float64) for v in (-2.0, 5.0, -4.0))
    q = x + y
    f = q * z
    path = tmp_path / "circuit.html"
    to_html(f, path, names={"x": x, "y": y, "z": z, "q": q, "f": f})
    return path


def test_add_mul_circuit_step_by_step(open_page, tmp_path):
    page = open_page(circuit_page(tmp_path))
    assert text(page, "#counter") == "start"
    page.keyboard.press("ArrowRight")  # forward: q = x + y
    assert text(page, "#counter") == "forward 1 / 2"
    assert number(page, '[data-output="q"] .fwd-value') == 3
    page.keyboard.press("ArrowRight")  # forward: f = q · z
    assert number(page, '[data-output="f"] .fwd-value') == -12
    page.keyboard.press("ArrowRight")  # backward at mul
    assert text(page, "#counter") == "backward 1 / 2"
    assert "node f (mul" in text(page, ".step-title")
    assert number(page, '[data-output="f"] .upstream') == 1
    assert number(page, '[data-input="z"] .downstream') == 3  # df/dz = q
    assert number(page, '[data-input="z"] .local') == 3
    assert number(page, '[data-input="q"] .downstream') == -4  # df/dq = z
    assert text(page, '[data-input="q"] .local-formula') == "z"
    assert text(page, '[data-input="q"] .product') == "1 × (-4)"
    page.keyboard.press("ArrowRight")  # backward at add
    assert number(page, '[data-output="q"] .upstream') == -4
    assert number(page, '[data-input="x"] .downstream') == -4
    assert number(page, '[data-input="y"] .downstream') == -4
    assert text(page, '[data-input="x"] .product') == "(-4) × 1"
    leaves = {name: number(page, f'[data-leaf="{name}"] .leaf-value') for name in "xyz"}
    assert leaves == {"x": -4, "y": -4, "z": 3}
    # the box of x shows its value and, now, its gradient
    assert page.text_content('g.unit[data-name="x"] .l3') == "grad -4"
    page.keyboard.press("ArrowRight")  # past the end: stays
    assert text(page, "#counter") == "backward 2 / 2"
    page.keyboard.press("ArrowLeft")
    assert number(page, '[data-input="z"] .downstream') == 3
    page.click("#prev")
    page.click("#prev")
    assert text(page, "#counter") == "forward 1 / 2"
    assert page.text_content('g.unit[data-name="x"] .l3') == ""  # no gradient yet in the forward pass
    page.click("#next")
    assert text(page, "#counter") == "forward 2 / 2"
    page.eval_on_selector("#slider", "s => { s.value = '4'; s.dispatchEvent(new Event('input')); }")
    assert text(page, "#counter") == "backward 2 / 2"
    page.keyboard.press("Home")
    assert text(page, "#counter") == "start"


def test_sigmoid_neuron_from_the_command_line(open_page, tmp_path, capsys):
    path = tmp_path / "neuron.html"
    code = main(["explain", "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3",
                 "--html", str(path)])
    capsys.readouterr()
    assert code == 0
    page = open_page(path)
    assert text(page, "#title").endswith("f = 0.731059")
    page.keyboard.press("End")
    leaves = {name: number(page, f'[data-leaf="{name}"] .leaf-value') for name in ("w0", "x0", "w1", "x1", "w2")}
    assert leaves == pytest.approx({"w0": -0.196612, "x0": 0.393224, "w1": -0.393224, "x1": -0.589836,
                                    "w2": 0.196612}, abs=1e-6)
    # the forward pass ends at the output; the first backward step starts from ∂f/∂f = 1 at the division
    forward = int(page.eval_on_selector("#slider", "s => s.max")) - 8
    page.eval_on_selector("#slider", f"s => {{ s.value = '{forward}'; s.dispatchEvent(new Event('input')); }}")
    assert number(page, '[data-output="f"] .fwd-value') == pytest.approx(0.731059, abs=1e-6)
    page.keyboard.press("ArrowRight")
    assert number(page, '[data-output="f"] .upstream') == 1
    # the multiplication w0·x0 swaps: dw0 = upstream × x0, dx0 = upstream × w0
    steps = 8
    for _ in range(steps):
        if "(mul" in text(page, ".step-title") and page.query_selector('[data-input="w0"]'):
            break
        page.keyboard.press("ArrowRight")
    assert number(page, '[data-input="w0"] .downstream') == pytest.approx(-0.196612, abs=1e-6)
    assert number(page, '[data-input="x0"] .downstream') == pytest.approx(0.393224, abs=1e-6)
    assert text(page, '[data-input="w0"] .product') == "0.196612 × (-1)"


def test_fan_out_is_shown_as_a_sum(open_page, tmp_path):
    x = cr.tensor(3.0, requires_grad=True, dtype=cr.float64)
    y = cr.tensor(-2.0, requires_grad=True, dtype=cr.float64)
    f = x * y + x  # x feeds two ops: df/dx = y + 1 = -1
    path = tmp_path / "fan.html"
    to_html(f, path, names={"x": x, "y": y, "f": f})
    page = open_page(path)
    page.keyboard.press("End")
    page.click('g.unit[data-name="x"]')
    terms = sorted(t.strip() for t in page.locator("#detail .fanout .term").all_inner_texts())
    assert terms == ["(-2)", "1"]
    assert number(page, "#detail .fanout .sum-total") == -1
    assert number(page, "#detail .detail-grad") == -1


def test_clicking_an_op_shows_its_formula_shapes_and_values(open_page, tmp_path):
    page = open_page(circuit_page(tmp_path))
    page.click('g.unit[data-name="mul"]')
    detail = text(page, "#detail")
    assert "mul (Mul)" in detail and "swaps" in detail
    assert "q\t()\tz" in detail and "z\t()\tq" in detail  # input, shape, local derivative
    assert "output f ()" in detail


def test_conv_node_opens_the_element_by_element_view(open_page, tmp_path):
    e = explain_conv()  # the notes' example: 5×5 input, 3×3 kernel, stride 2
    X = cr.tensor(e.input[None, None], requires_grad=True)
    W = cr.tensor(e.weight[None, None], requires_grad=True)
    b = cr.tensor([e.bias], requires_grad=True, dtype=cr.float64)
    loss = (cr.nn.functional.conv2d(X, W, b, stride=2) * cr.tensor(e.grad_output[None, None])).sum()
    path = tmp_path / "conv.html"
    to_html(loss, path, names={"X": X, "W": W, "b": b})
    page = open_page(path)
    page.click('g.unit[data-name="conv2d"]')
    total = lambda lhs: number(page, f'.conv-sum[data-lhs="{lhs}"] .conv-total')  # noqa: E731
    for i in range(2):
        for j in range(2):
            assert total(f"o{i + 1},{j + 1}") == pytest.approx(e.output[i, j])
    for u in range(3):
        for v in range(3):
            assert total(f"∂L/∂w{u + 1},{v + 1}") == pytest.approx(e.grad_weight[u, v])
    for r in range(5):
        for c in range(5):
            assert total(f"∂L/∂x{r + 1},{c + 1}") == pytest.approx(e.grad_input[r, c])
    assert total("∂L/∂b") == pytest.approx(e.grad_bias)
    assert "∂L/∂w1,1 = g1,1·x1,1 + g1,2·x1,3 + g2,1·x3,1 + g2,2·x3,3" in text(page, "#conv")
    assert text(page, ".conv-text") == str(e)


def test_conv_view_of_a_batch_picks_a_slice(open_page, tmp_path):
    rng = np.random.default_rng(0)
    X = cr.tensor(rng.standard_normal((2, 3, 5, 5)), requires_grad=True)
    W = cr.tensor(rng.standard_normal((2, 3, 3, 3)), requires_grad=True)
    out = cr.nn.functional.conv2d(X, W, stride=2, padding=1)
    loss = (out**2).sum()
    path = tmp_path / "conv.html"
    to_html(loss, path, names={"X": X, "W": W})
    page = open_page(path)
    page.click('g.unit[data-name="conv2d"]')
    assert "Showing one slice: sample n, in-channel c, out-channel f" in text(page, "#conv")
    page.select_option('select[data-pick="n"]', "1")
    page.select_option('select[data-pick="c"]', "2")
    page.select_option('select[data-pick="f"]', "1")
    # sample 1's share of ∂L/∂W[1, 2]: Σ_ij G[1, 1, i, j] · X_padded[1, 2, 2i + u, 2j + v]
    G = 2 * np.asarray(out.data)
    Xp = np.pad(np.asarray(X.data), ((0, 0), (0, 0), (1, 1), (1, 1)))
    share = sum(G[1, 1, i, j] * Xp[1, 2, 2 * i:2 * i + 3, 2 * j:2 * j + 3] for i in range(3) for j in range(3))
    for u in range(3):
        for v in range(3):
            shown = number(page, f'.conv-sum[data-lhs="∂L/∂w{u + 1},{v + 1}"] .conv-total')
            assert shown == pytest.approx(share[u, v], rel=1e-5, abs=1e-5)


def test_recurrent_layer_shows_each_steps_gradient(open_page, tmp_path):
    rng = np.random.default_rng(0)
    lstm = cr.nn.LSTM(3, 4)
    out, _ = lstm(cr.tensor(rng.standard_normal((50, 2, 3)).astype(np.float32)))
    loss = (out**2).mean()
    path = tmp_path / "lstm.html"
    page_json = cr.viz.page_data(loss, names=lstm)["rnn"][0]
    to_html(loss, path, names=lstm)
    page = open_page(path)
    page.click('g.unit[data-name="lstm_sequence"]')
    rows = page.locator(".rnn-steps tr[data-t]")
    assert rows.count() == 50
    for t in (0, 25, 49):
        assert number(page, f'.rnn-steps tr[data-t="{t}"] .dh') == pytest.approx(page_json["steps"][t]["dh"])
        assert number(page, f'.rnn-steps tr[data-t="{t}"] .dw') == pytest.approx(page_json["steps"][t]["dw"])
    assert "weight_hh_l0 = Σ_t shares" in text(page, ".rnn")


def test_lenet_groups_expand_on_click_and_the_page_is_ready_within_a_second(open_page, tmp_path):
    rng = np.random.default_rng(0)
    model = LeNet5(generator=rng)
    x = cr.tensor(rng.standard_normal((4, 1, 28, 28)).astype(np.float32))
    with record_modules(model) as modules:
        loss = cr.nn.functional.cross_entropy(model(x), cr.tensor(np.array([1, 2, 3, 4])))
    path = tmp_path / "lenet.html"
    to_html(loss, path, names=model, modules=modules)
    page = open_page(path)
    assert page.evaluate("window.chainruleReady") < 1000  # ms from navigation until the page is usable
    groups = page.eval_on_selector_all("g.unit[data-group]", "gs => gs.map(g => g.dataset.group)")
    assert sorted(groups) == ["classifier", "features"]
    page.click('g.unit[data-group="features"]')
    groups = page.eval_on_selector_all("g.unit[data-group]", "gs => gs.map(g => g.dataset.group)")
    # the convolutions (op, weight, bias, output) stay boxes of their own; a one-op module is drawn as its op
    assert sorted(groups) == ["classifier", "features.0", "features.3"]
    assert page.locator('g.unit[data-name="max_pool2d"]').count() == 2
    page.click('g.unit[data-group="features.0"]')
    assert page.locator('g.unit[data-name="conv2d"]').count() == 1
    page.keyboard.press("End")  # the last backward step: the first convolution, now drawn as its op
    assert "conv2d" in text(page, ".step-title")
    assert page.locator('g.unit.current[data-name="conv2d"]').count() == 1
    for _ in range(3):  # back to the second convolution, inside its collapsed module: the module's box is marked
        page.keyboard.press("ArrowLeft")
    assert "conv2d" in text(page, ".step-title")
    assert page.locator('g.unit.current[data-group="features.3"]').count() == 1


def test_a_graph_of_thousands_of_nodes_opens_within_a_second(open_page, tmp_path):
    x = cr.tensor(np.linspace(-1, 1, 4), requires_grad=True)
    h = x
    for _ in range(300):  # 1200 ops, 1800 values (600 of them constants)
        h = (h * 0.5 + x).tanh() + 0.1
    path = tmp_path / "big.html"
    to_html(h.sum(), path, names={"x": x})
    page = open_page(path)
    assert page.locator("g.unit").count() > 2900
    assert page.evaluate("window.chainruleReady") < 1000
    page.keyboard.press("End")
    assert text(page, "#counter").startswith("backward ")


def test_the_harness_sees_a_request_the_page_would_make(browser):
    # the no-network check of every page above can fail: a request is routed, recorded and refused
    context = browser.new_context(offline=True)
    seen = []

    def route(r):
        seen.append(r.request.url)
        r.abort()

    page = context.new_page()
    page.route("**/*", route)
    page.set_content('<img src="http://example.invalid/pixel.png">')  # returns after the load event: img settled
    context.close()
    assert seen == ["http://example.invalid/pixel.png"]
