"""RNN, LSTM, GRU and their cells against PyTorch with the same weights; gradcheck of the cells; BPTT tools."""

import numpy as np
import pytest
import torch
from helpers import rng

import chainrule as cr
from chainrule import nn
from chainrule.nn import bptt
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_
from chainrule.ops import recurrent as rc

MODULES = {
    "RNN_TANH": (lambda **k: nn.RNN(**k), lambda **k: torch.nn.RNN(**k)),
    "RNN_RELU": (lambda **k: nn.RNN(nonlinearity="relu", **k), lambda **k: torch.nn.RNN(nonlinearity="relu", **k)),
    "LSTM": (lambda **k: nn.LSTM(**k), lambda **k: torch.nn.LSTM(**k)),
    "GRU": (lambda **k: nn.GRU(**k), lambda **k: torch.nn.GRU(**k)),
}
CONFIGS = [
    dict(num_layers=1, bidirectional=False, batch_first=False, bias=True),
    dict(num_layers=2, bidirectional=False, batch_first=True, bias=True),
    dict(num_layers=2, bidirectional=True, batch_first=False, bias=True),
    dict(num_layers=1, bidirectional=True, batch_first=True, bias=False),
]
L, N, IN, H = 20, 3, 5, 4


def _pair(mode, config, dtype=torch.float32):
    torch.manual_seed(0)
    tm = MODULES[mode][1](input_size=IN, hidden_size=H, **config).to(dtype)
    cm = MODULES[mode][0](input_size=IN, hidden_size=H, dtype=np.dtype(str(dtype).split(".")[1]), **config)
    cm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return cm, tm


def _flat(out):
    return [out[0], *(out[1] if isinstance(out[1], tuple) else (out[1],))]


@pytest.mark.parametrize("mode", MODULES)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}{int(v)}" for k, v in c.items()))
@pytest.mark.parametrize("with_state", [False, True])
def test_sequence_module_matches_torch(mode, config, with_state):
    cm, tm = _pair(mode, config)
    assert list(cm.state_dict()) == list(tm.state_dict())
    r = rng(1)
    shape = (N, L, IN) if config["batch_first"] else (L, N, IN)
    x0 = r.standard_normal(shape).astype(np.float32)
    D = 2 if config["bidirectional"] else 1
    states = [r.standard_normal((config["num_layers"] * D, N, H)).astype(np.float32) for _ in range(2)]
    x, xt = cr.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    if with_state:
        hs = [cr.tensor(s, requires_grad=True) for s in states]
        hts = [torch.tensor(s, requires_grad=True) for s in states]
        args = (hs[0], hs[1]) if mode == "LSTM" else hs[0]
        targs = (hts[0], hts[1]) if mode == "LSTM" else hts[0]
        outs, touts = _flat(cm(x, args)), _flat(tm(xt, targs))
    else:
        outs, touts = _flat(cm(x)), _flat(tm(xt))
    for o, t in zip(outs, touts):
        assert o.shape == tuple(t.shape)
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), atol=1e-5, rtol=1e-4)
    weights = [r.standard_normal(o.shape).astype(np.float32) for o in outs]
    loss = sum(((o * cr.tensor(w)).sum() for o, w in zip(outs, weights)), cr.tensor(0.0))
    tloss = sum((t * torch.tensor(w)).sum() for t, w in zip(touts, weights))
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), atol=1e-5, rtol=1e-4)
    for (name, p), (_, tp) in zip(cm.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), atol=1e-4, rtol=1e-4, err_msg=name)
    if with_state:
        for h, ht in zip(hs[: 2 if mode == "LSTM" else 1], hts):
            np.testing.assert_allclose(h.grad.numpy(), ht.grad.numpy(), atol=1e-5, rtol=1e-4)


def test_unbatched_input_matches_torch():
    cm, tm = _pair("LSTM", dict(num_layers=2, bidirectional=True))
    x0 = rng(2).standard_normal((7, IN)).astype(np.float32)
    out, (h, c) = cm(cr.tensor(x0))
    tout, (th, tc) = tm(torch.tensor(x0))
    for a, b in ((out, tout), (h, th), (c, tc)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=1e-5)


def test_dropout_between_layers_only_in_training():
    cm = nn.GRU(IN, H, num_layers=2, dropout=0.5, generator=np.random.default_rng(0))
    x = cr.tensor(rng(3).standard_normal((L, N, IN)).astype(np.float32))
    cm.eval()
    a, b = cm(x)[0].numpy(), cm(x)[0].numpy()
    np.testing.assert_array_equal(a, b)
    cm.train()
    assert np.abs(cm(x)[0].numpy() - a).max() > 1e-3


CELLS = {
    "RNNCell": (nn.RNNCell, torch.nn.RNNCell),
    "LSTMCell": (nn.LSTMCell, torch.nn.LSTMCell),
    "GRUCell": (nn.GRUCell, torch.nn.GRUCell),
}


@pytest.mark.parametrize("name", CELLS)
def test_cells_match_torch_over_steps(name):
    torch.manual_seed(1)
    tc = CELLS[name][1](IN, H)
    cc = CELLS[name][0](IN, H)
    cc.load_state_dict({k: v.detach().numpy() for k, v in tc.state_dict().items()})
    xs0 = rng(4).standard_normal((6, N, IN)).astype(np.float32)
    xs, xts = cr.tensor(xs0, requires_grad=True), torch.tensor(xs0, requires_grad=True)
    state, tstate = None, None
    for t in range(6):
        state = cc(xs[t], state)
        tstate = tc(xts[t], tstate)
    out = state[0] if isinstance(state, tuple) else state
    tout = tstate[0] if isinstance(tstate, tuple) else tstate
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), atol=1e-5)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xts.grad.numpy(), atol=1e-5, rtol=1e-4)
    for (n, p), (_, tp) in zip(cc.named_parameters(), tc.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), atol=1e-5, rtol=1e-4, err_msg=n)


STEPS = {  # the reference equations of each cell, composed of chainrule ops
    "RNNCell": lambda xw, state, w_hh, b_hh: rc.rnn_cell_reference(xw, state[0], w_hh, b_hh, "tanh"),
    "LSTMCell": lambda xw, state, w_hh, b_hh: rc.lstm_cell_reference(xw, state[0], state[1], w_hh, b_hh),
    "GRUCell": lambda xw, state, w_hh, b_hh: rc.gru_cell_reference(xw, state[0], w_hh, b_hh),
}


@pytest.mark.parametrize("name", CELLS)
def test_cell_gradcheck_over_three_steps(name):
    """float64 gradcheck and gradgradcheck through three steps, with respect to inputs, state and all weights."""
    cell = CELLS[name][0](3, 2, dtype=cr.float64, generator=np.random.default_rng(5))
    r = rng(6)
    xs = cr.tensor(r.standard_normal((3, 2, 3)), requires_grad=True)
    h0 = cr.tensor(r.standard_normal((2, 2)), requires_grad=True)
    weights = [cr.tensor(p.numpy().copy(), requires_grad=True) for p in cell.parameters()]  # w_ih, w_hh, b_ih, b_hh

    def unrolled(xs, h0, w_ih, w_hh, b_ih, b_hh):
        state = (h0, h0 * 0.5)
        for t in range(3):
            out = STEPS[name](cr.nn.functional.linear(xs[t], w_ih, b_ih), state, w_hh, b_hh)
            state = out if isinstance(out, tuple) else (out,)
        return state

    assert cr.gradcheck(unrolled, [xs, h0, *weights])
    assert cr.gradgradcheck(unrolled, [xs, h0, *weights], mode="fast")
    # the module computes the same function as the steps checked here
    out = cell(xs[0], (h0, h0 * 0.5) if name == "LSTMCell" else h0)
    expected = STEPS[name](cr.nn.functional.linear(xs[0], weights[0], weights[2]), (h0, h0 * 0.5), *weights[1::2])
    np.testing.assert_allclose((out[0] if isinstance(out, tuple) else out).numpy(),
                               (expected[0] if isinstance(expected, tuple) else expected).numpy())


def test_vanishing_gradient_is_visible_in_a_tanh_rnn():
    T = 30
    model = nn.RNN(4, 16, generator=np.random.default_rng(7))
    with cr.no_grad():
        model.weight_hh_l0.numpy()[...] *= 0.3  # small recurrent weights: spectral radius well below 1
    model.record_hidden_states = True
    x = cr.tensor(rng(8).standard_normal((T, 2, 4)).astype(np.float32))
    out, _ = model(x)
    loss = (out[-1] ** 2).sum()  # the loss sees only the last step
    hs = model.last_hidden_states[0]
    norms = bptt.hidden_gradient_norms(loss, hs)
    assert norms.shape == (T,)
    assert np.all(np.diff(norms[-10:]) > 0), norms  # shrinks with distance from the loss
    assert norms[0] < 1e-6 * norms[-1]
    jac = bptt.jacobian_product_norms(hs)
    assert jac[-1] == pytest.approx(4.0, rel=1e-6)  # ‖I‖_F = √16
    assert jac[0] < 1e-6 * jac[-1]
    loss.backward()  # the graph was retained
    assert model.weight_hh_l0.grad is not None


def test_lstm_keeps_gradients_alive_longer_than_tanh_rnn(tmp_path):
    T = 40
    x = cr.tensor(rng(9).standard_normal((T, 4, 3)).astype(np.float32))
    curves = {}
    for name, model in (("tanh RNN", nn.RNN(3, 16, generator=np.random.default_rng(1))),
                        ("LSTM", nn.LSTM(3, 16, generator=np.random.default_rng(1)))):
        if name == "LSTM":
            with cr.no_grad():  # forget-gate bias 1 (a common initialisation)
                model.bias_ih_l0.data[16:32] = 1.0
        model.record_hidden_states = True
        out, _ = model(x)
        curves[name] = bptt.hidden_gradient_norms(out[-1].sum(), model.last_hidden_states[0])
    ratio = {k: v[0] / v[-1] for k, v in curves.items()}
    assert ratio["LSTM"] > 100 * ratio["tanh RNN"], ratio
    path = cr.viz.plot_gradient_norms(curves, tmp_path / "bptt.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_clip_grad_norm_without_gradients_returns_a_zero_tensor():
    total = clip_grad_norm_([cr.zeros(3, requires_grad=True)], 1.0)
    assert isinstance(total, cr.Tensor) and total.item() == 0.0 and total.dtype == np.float32


def test_clip_grad_norm_and_value_match_torch():
    r = rng(10)
    grads = [r.standard_normal(s).astype(np.float32) * 3 for s in ((3, 4), (5,))]
    ps = [cr.zeros(g.shape, requires_grad=True) for g in grads]
    tps = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, tp, g in zip(ps, tps, grads):
        p.grad, tp.grad = cr.tensor(g), torch.tensor(g)
    for norm_type in (2.0, 1.0, float("inf")):
        total = clip_grad_norm_(ps, 2.0, norm_type)
        ttotal = torch.nn.utils.clip_grad_norm_(tps, 2.0, norm_type)
        assert isinstance(total, cr.Tensor) and total.shape == () and total.dtype == np.float32
        assert total.item() == pytest.approx(ttotal.item(), rel=1e-5)
        for p, tp in zip(ps, tps):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5)
    clip_grad_value_(ps, 0.1)
    torch.nn.utils.clip_grad_value_(tps, 0.1)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-6)
        assert np.abs(p.grad.numpy()).max() <= np.float32(0.1)
        assert p.grad.dtype == np.float32


def test_rnn_errors_name_the_module_and_shapes():
    with pytest.raises(cr.ShapeError, match=r"LSTM: input must be \(L, N, H_in\).*H_in = 5, got \(2, 3, 4\)"):
        nn.LSTM(5, 4)(cr.ones(2, 3, 4))
    with pytest.raises(cr.ShapeError, match=r"GRU: h_0 must have shape \(2, 3, 4\)"):
        nn.GRU(5, 4, num_layers=2)(cr.ones(6, 3, 5), cr.ones(1, 3, 4))
    with pytest.raises(ValueError, match="RNN: nonlinearity must be 'tanh' or 'relu'"):
        nn.RNN(5, 4, nonlinearity="sigmoid")


FUSED = {  # per mode: the fused cell, the reference composition, the number of gate blocks
    "rnn_tanh": (lambda xw, s, w, b: (rc.rnn_cell(xw, s[0], w, b, "tanh"),),
                 lambda xw, s, w, b: (rc.rnn_cell_reference(xw, s[0], w, b, "tanh"),), 1),
    "rnn_relu": (lambda xw, s, w, b: (rc.rnn_cell(xw, s[0], w, b, "relu"),),
                 lambda xw, s, w, b: (rc.rnn_cell_reference(xw, s[0], w, b, "relu"),), 1),
    "lstm": (lambda xw, s, w, b: rc.lstm_cell(xw, s[0], s[1], w, b),
             lambda xw, s, w, b: rc.lstm_cell_reference(xw, s[0], s[1], w, b), 4),
    "gru": (lambda xw, s, w, b: (rc.gru_cell(xw, s[0], w, b),),
            lambda xw, s, w, b: (rc.gru_cell_reference(xw, s[0], w, b),), 3),
}


@pytest.mark.parametrize("name", FUSED)
@pytest.mark.parametrize("bias", [True, False])
def test_fused_cells_equal_the_composed_reference_and_gradcheck(name, bias):
    """The fused one-Function cells compute the same values and gradients as the composed steps; their two
    backward routes (arrays without create_graph, Tensors with it) agree, and both pass gradcheck."""
    fused, composed, gates = FUSED[name]
    r = rng(11)
    hidden = 3
    xw = cr.tensor(r.standard_normal((2, gates * hidden)), requires_grad=True)
    h = cr.tensor(r.standard_normal((2, hidden)), requires_grad=True)
    c = cr.tensor(r.standard_normal((2, hidden)), requires_grad=True)
    w = cr.tensor(r.standard_normal((gates * hidden, hidden)) * 0.5, requires_grad=True)
    b = cr.tensor(r.standard_normal(gates * hidden), requires_grad=True) if bias else None
    leaves = [t for t in (xw, h, c, w, b) if t is not None and (name == "lstm" or t is not c)]

    def run(cell):
        def fn(xw, h, *rest):  # rest: (c,) for the LSTM, then w, and b when there is a bias
            c, rest = (rest[0], rest[1:]) if name == "lstm" else (None, rest)
            return cell(xw, (h, c), rest[0], rest[1] if len(rest) > 1 else None)
        return fn

    outs_f, outs_c = run(fused)(*leaves), run(composed)(*leaves)
    for a, e in zip(outs_f, outs_c):
        np.testing.assert_allclose(a.numpy(), e.numpy(), rtol=1e-12, atol=1e-14)
    weights = [cr.tensor(r.standard_normal(o.shape)) for o in outs_f]
    fast = cr.grad(list(outs_f), leaves, weights)
    reference = cr.grad(list(outs_c), leaves, weights)
    graph_route = cr.grad(list(run(fused)(*leaves)), leaves, weights, create_graph=True)
    for gf, gr, gg in zip(fast, reference, graph_route):
        np.testing.assert_allclose(gf.numpy(), gr.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gg.numpy(), gr.numpy(), rtol=1e-12, atol=1e-14)
    assert cr.gradcheck(run(fused), leaves)
    assert cr.gradgradcheck(run(fused), leaves)


SEQUENCES = {  # the sequence Function of each mode, and its number of gate blocks
    "rnn_tanh": (lambda bias, reverse: rc.RNNSequence("tanh", bias, reverse), 1),
    "rnn_relu": (lambda bias, reverse: rc.RNNSequence("relu", bias, reverse), 1),
    "lstm": (rc.LSTMSequence, 4),
    "gru": (rc.GRUSequence, 3),
}


def unroll(name, step, reverse, xw, h, *rest):
    """The time loop of ``sequence``'s Function as one ``step`` (a FUSED entry) per time step: (out, final state)."""
    c, (w, *b) = (rest[0], rest[1:]) if name == "lstm" else (None, rest)
    state, hs = (h, c), [None] * xw.shape[0]
    for t in (range(xw.shape[0] - 1, -1, -1) if reverse else range(xw.shape[0])):
        state = step(xw[t], state, w, b[0] if b else None)
        hs[t] = state[0]
    return (cr.stack(hs), *(s for s in state if s is not None))


@pytest.mark.parametrize("name", SEQUENCES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("cells", ["fused", "reference"])
def test_sequence_functions_equal_the_unrolled_cells_and_gradcheck(name, bias, reverse, cells):
    """A whole time loop as one Function (what the layers run) gives the outputs, final states and gradients of
    the same steps run one cell per step (the fused cells, and the reference compositions), in either direction;
    its array backward (one weight GEMM over all steps) and its differentiable backward (create_graph) agree, and
    it passes gradcheck and gradgradcheck."""
    make, gates = SEQUENCES[name]
    step = FUSED[name][0 if cells == "fused" else 1]
    r = rng(12)
    length, batch, hidden = 4, 2, 3
    xw = cr.tensor(away(r, (length, batch, gates * hidden)), requires_grad=True)
    h = cr.tensor(away(r, (batch, hidden)), requires_grad=True)
    c = cr.tensor(away(r, (batch, hidden)), requires_grad=True)
    w = cr.tensor(r.standard_normal((gates * hidden, hidden)) * 0.5, requires_grad=True)
    b = cr.tensor(r.standard_normal(gates * hidden), requires_grad=True) if bias else None
    leaves = [t for t in (xw, h, c, w, b) if t is not None and (name == "lstm" or t is not c)]

    def fn(*args):
        return make(bias, reverse)(*args)

    outs, reference = fn(*leaves), unroll(name, step, reverse, *leaves)
    assert len(outs) == len(reference) == (3 if name == "lstm" else 2)
    for a, e in zip(outs, reference):
        np.testing.assert_allclose(a.numpy(), e.numpy(), rtol=1e-12, atol=1e-14)
    weights = [cr.tensor(r.standard_normal(o.shape)) for o in outs]
    fast = cr.grad(list(outs), leaves, weights)
    expected = cr.grad(list(reference), leaves, weights)
    graph_route = cr.grad(list(fn(*leaves)), leaves, weights, create_graph=True)
    for gf, ge, gg in zip(fast, expected, graph_route):
        np.testing.assert_allclose(gf.numpy(), ge.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gg.numpy(), ge.numpy(), rtol=1e-12, atol=1e-14)
    if cells == "reference":  # the checks below do not depend on what the Function is compared with
        return
    assert cr.gradcheck(fn, leaves)
    if bias:  # second order through the differentiable backward; once per mode and direction
        assert cr.gradgradcheck(fn, leaves)


@pytest.mark.parametrize("mode", MODULES)
def test_backward_through_only_the_final_state_of_a_layer(mode):
    """A caller may keep only h_n (and c_n): the time loop's backward does not need its output sequence alive."""
    model, tmodel = _pair(mode, dict(num_layers=1), dtype=torch.float64)
    x0 = rng(13).standard_normal((5, 2, IN))
    final = model(cr.tensor(x0))[1]  # the output sequence is dropped at once
    tfinal = tmodel(torch.tensor(x0))[1]
    h_n, th_n = (final[0], tfinal[0]) if mode == "LSTM" else (final, tfinal)
    (h_n * h_n).sum().backward()
    (th_n * th_n).sum().backward()
    for (n, p), (_, tp) in zip(model.named_parameters(), tmodel.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=n)


@pytest.mark.parametrize("name", SEQUENCES)
def test_differentiable_sequence_backward_runs_inside_the_one_walk(name, monkeypatch):
    """create_graph through a time loop is one walk of the engine: the Function's backward composes ops itself
    and does not start a second backward pass of its own."""
    from chainrule.autograd import engine

    walks = []
    real_walk = engine.walk

    def counting_walk(*args, **kwargs):
        walks.append(1)
        return real_walk(*args, **kwargs)

    make, gates = SEQUENCES[name]
    r = rng(14)
    xw = cr.tensor(r.standard_normal((3, 2, gates * 2)), requires_grad=True)
    states = [cr.tensor(r.standard_normal((2, 2))) for _ in range(2 if name == "lstm" else 1)]
    w = cr.tensor(r.standard_normal((gates * 2, 2)), requires_grad=True)
    out = make(False, False)(xw, *states, w)[0]
    monkeypatch.setattr(engine, "walk", counting_walk)
    g_xw, g_w = cr.grad([out.sum()], [xw, w], create_graph=True)
    assert len(walks) == 1
    assert g_xw.requires_grad and g_w.requires_grad


def away(r, shape):
    """Values away from relu's kink at 0."""
    return r.uniform(0.1, 1.0, shape) * r.choice([-1.0, 1.0], shape)


@pytest.mark.parametrize("mode", MODULES)
def test_layers_run_the_sequence_function_unless_recording_and_both_agree(mode):
    """Layers run the time loop as one Function; with record_hidden_states they run one cell per step so that
    each h_t is in the graph. Outputs and every gradient agree between the two (float64, two layers, both
    directions)."""
    results = []
    for record in (False, True):
        cm, _ = _pair(mode, dict(num_layers=2, bidirectional=True), dtype=torch.float64)
        cm.record_hidden_states = record
        x = cr.tensor(rng(3).standard_normal((6, 2, IN)), requires_grad=True)
        outs = _flat(cm(x))
        names = _graph_functions(outs)
        assert any(n.endswith("Sequence") for n in names) != record
        assert any(n.endswith("Cell") for n in names) == record
        sum(((o * o).sum() for o in outs), cr.tensor(0.0, dtype=np.float64)).backward()
        results.append([o.numpy() for o in outs] + [x.grad.numpy()] + [p.grad.numpy() for p in cm.parameters()])
        assert len(cm.last_hidden_states) == (4 if record else 0)
    for a, e in zip(*results):
        np.testing.assert_allclose(a, e, rtol=1e-11, atol=1e-13)


def _graph_functions(outputs):
    """The names of the Functions in the graph behind ``outputs``."""
    seen, stack = set(), [o.creator for o in outputs if o.creator is not None]
    while stack:
        fn = stack.pop()
        if fn not in seen:
            seen.add(fn)
            stack.extend(x.creator for x in fn.inputs if x.creator is not None)
    return {type(fn).__name__ for fn in seen}


@pytest.mark.parametrize("mode", MODULES)
def test_anomaly_mode_runs_the_differentiable_backward_with_the_same_gradients(mode):
    """detect_anomaly takes the differentiable backward of the time loops (no graph is recorded then): it gives
    the array route's gradients."""
    grads = []
    for anomaly in (False, True):
        model, _ = _pair(mode, dict(num_layers=1, bidirectional=True), dtype=torch.float64)
        x = cr.tensor(rng(15).standard_normal((4, 2, IN)), requires_grad=True)
        with cr.detect_anomaly(anomaly):
            out = _flat(model(x))
            sum(((o * o).sum() for o in out), cr.tensor(0.0, dtype=np.float64)).backward()
        grads.append([x.grad.numpy()] + [p.grad.numpy() for p in model.parameters()])
    for a, e in zip(*grads):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-14)
