"""chainrule.optim optimizers against torch.optim: trajectories, groups, dtypes, state_dict round trips, errors.

Most tests feed both libraries the same synthetic gradient, g_t = 0.5·p_t + n_t, computed in NumPy from each
library's *current* parameters (so any drift feeds back, as in training) with pre-drawn noise n_t, and compare
the parameters after every one of 20 steps. One test trains a real chainrule.nn MLP next to the same torch.nn
MLP with backpropagated gradients.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.optim as optim
from chainrule.errors import ChainruleError
from chainrule.optim import OptimizerStateError

torch.set_num_threads(1)

SHAPES = [(6, 4), (6,), (3, 6), (3,)]  # the weights and biases of a 4 → 6 → 3 MLP
STEPS = 20
# (rtol, atol) reached against torch.optim over 20 steps (the differences are rounding: PyTorch's CPU kernels
# fuse some multiply-adds).
TOL = {np.float32: (1e-5, 1e-6), np.float64: (1e-12, 1e-14)}

CASES = [
    ("SGD", {}),
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.05, "nesterov": True, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.9), "eps": 1e-6, "maximize": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "betas": (0.8, 0.99), "maximize": True}),
    ("RMSprop", {}),
    ("RMSprop", {"alpha": 0.9, "eps": 1e-6}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"momentum": 0.9}),
    ("RMSprop", {"lr": 0.005, "centered": True, "momentum": 0.5, "weight_decay": 0.1, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1}),
    ("Adagrad", {"weight_decay": 0.1, "initial_accumulator_value": 0.1}),
    ("Adagrad", {"lr": 0.1, "eps": 1e-6, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4}),
    ("Adadelta", {"weight_decay": 0.1, "maximize": True}),
]
RICH = {  # one option-rich configuration per optimizer, for the round-trip and dtype tests
    "SGD": {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    "Adam": {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01},
    "AdamW": {"lr": 0.01, "amsgrad": True},
    "RMSprop": {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.01},
    "Adagrad": {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.1},
    "Adadelta": {"lr": 0.5, "rho": 0.8, "weight_decay": 0.01},
}


def case_id(case):
    name, kwargs = case
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


def initial_arrays(dtype, seed=0):
    r = np.random.default_rng(seed)
    return [r.standard_normal(s).astype(dtype) for s in SHAPES]


def noise(dtype, steps=STEPS, seed=1):
    r = np.random.default_rng(seed)
    return [[r.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def synthetic_grad(x, n):
    return x * x.dtype.type(0.5) + n


def make_cr(arrays):
    return [cr.Tensor(a.copy(), requires_grad=True) for a in arrays]


def make_torch(arrays):
    return [torch.tensor(a.copy(), requires_grad=True) for a in arrays]


def groups_of(params, group_options):
    """Split params into groups [{'params': [...], **options}, ...] (2 params per group) or one plain list."""
    if group_options is None:
        return params
    return [{"params": params[2 * i:2 * i + 2], **opts} for i, opts in enumerate(group_options)]


def cr_steps(opt, params, noises, start=0, stop=STEPS):
    """Steps start..stop-1 of the chainrule run; returns the parameter arrays after each step."""
    trajectory = []
    for t in range(start, stop):
        for p, n in zip(params, noises[t]):
            p.grad = cr.Tensor(synthetic_grad(p.numpy(), n))
        opt.step()
        trajectory.append([p.numpy().copy() for p in params])
    return trajectory


def torch_steps(opt, params, noises, start=0, stop=STEPS):
    trajectory = []
    for t in range(start, stop):
        for p, n in zip(params, noises[t]):
            p.grad = torch.from_numpy(synthetic_grad(p.detach().numpy(), n))
        opt.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


def assert_trajectories_close(ours, theirs, dtype):
    rtol, atol = TOL[dtype]
    for t, (a_step, b_step) in enumerate(zip(ours, theirs)):
        for i, (a, b) in enumerate(zip(a_step, b_step)):
            assert a.dtype == b.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"step {t + 1}, parameter {i}")


# ----- trajectories against torch.optim --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_torch_trajectory(case, dtype):
    name, kwargs = case
    arrays, noises = initial_arrays(dtype), noise(dtype)
    ps, ts = make_cr(arrays), make_torch(arrays)
    opt = getattr(optim, name)(ps, **kwargs)
    topt = getattr(torch.optim, name)(ts, foreach=False, **kwargs)
    assert_trajectories_close(cr_steps(opt, ps, noises), torch_steps(topt, ts, noises), dtype)


GROUP_OPTIONS = {
    "SGD": ({"momentum": 0.9}, [{"lr": 0.1}, {"lr": 0.01, "momentum": 0.5, "nesterov": True}]),
    "Adam": ({"lr": 0.01}, [{}, {"lr": 0.05, "betas": (0.5, 0.9), "amsgrad": True}]),
    "AdamW": ({"lr": 0.01}, [{"weight_decay": 0.5}, {"lr": 0.03}]),
    "RMSprop": ({"lr": 0.01}, [{"centered": True}, {"lr": 0.002, "momentum": 0.9}]),
    "Adagrad": ({"lr": 0.1}, [{"lr_decay": 0.1}, {"lr": 0.3}]),
    "Adadelta": ({"lr": 0.5}, [{"rho": 0.5}, {"lr": 1.0, "weight_decay": 0.1}]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(GROUP_OPTIONS))
def test_param_groups_match_torch(name, dtype):
    defaults, group_options = GROUP_OPTIONS[name]
    arrays, noises = initial_arrays(dtype), noise(dtype)
    ps, ts = make_cr(arrays), make_torch(arrays)
    opt = getattr(optim, name)(groups_of(ps, group_options), **defaults)
    topt = getattr(torch.optim, name)(groups_of(ts, group_options), foreach=False, **defaults)
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
    assert_trajectories_close(cr_steps(opt, ps, noises), torch_steps(topt, ts, noises), dtype)


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_training_a_chainrule_mlp_matches_torch(name):
    """Backpropagated gradients: the same 4 → 6 → 3 tanh MLP in both libraries, float64, 20 steps."""
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
    model = cr.nn.Sequential(cr.nn.Linear(4, 6, dtype=cr.float64), cr.nn.Tanh(), cr.nn.Linear(6, 3, dtype=cr.float64))
    model.load_state_dict({k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()})
    kwargs = {"SGD": {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-3}, "Adam": {"lr": 0.01, "amsgrad": True}}[name]
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    topt = getattr(torch.optim, name)(tmodel.parameters(), foreach=False, **kwargs)
    r = np.random.default_rng(0)
    for _ in range(STEPS):
        x, y = r.standard_normal((8, 4)), r.standard_normal((8, 3))
        opt.zero_grad()
        loss = ((model(cr.Tensor(x)) - cr.Tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = ((tmodel(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean()
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    for (key, p), (tkey, tp) in zip(model.named_parameters(), tmodel.named_parameters()):
        assert key == tkey
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12, atol=1e-14)


# ----- the SGD momentum recurrence --------------------------------------------------------------------------
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_is_the_textbook_update(nesterov):
    """With constant lr ε and dampening 0 the increments Δw_t = w_{t+1} − w_t of SGD(momentum=α,
    weight_decay=λ) satisfy Δw_t = −ε ∂C/∂w(w_t) + α Δw_{t−1} − ελ w_t with Δw_{−1} = 0 (no Nesterov);
    the Nesterov variant does not, which shows the check is sharp."""
    eps, alpha, lam = 0.05, 0.9, 0.01
    w = cr.Tensor(np.random.default_rng(0).standard_normal(10), requires_grad=True, dtype=cr.float64)
    opt = optim.SGD([w], lr=eps, momentum=alpha, weight_decay=lam, nesterov=nesterov)
    A = np.random.default_rng(1).standard_normal((10, 10))
    A = A @ A.T / 10  # C(w) = ½ wᵀAw + bᵀw: ∂C/∂w = Aw + b
    b = np.random.default_rng(2).standard_normal(10)
    ws, dCs = [w.numpy().copy()], []
    for _ in range(STEPS):
        dC = A @ w.numpy() + b
        w.grad = cr.Tensor(dC)
        opt.step()
        dCs.append(dC)
        ws.append(w.numpy().copy())
    previous = np.zeros(10)
    worst = 0.0
    for t in range(STEPS):
        dw = ws[t + 1] - ws[t]
        textbook = -eps * dCs[t] + alpha * previous - eps * lam * ws[t]
        worst = max(worst, float(np.max(np.abs(dw - textbook))))
        previous = dw
    if nesterov:
        assert worst > 1e-3
    else:
        assert worst < 1e-13


# ----- dtypes, in-place updates, skipped parameters -----------------------------------------------------------
@pytest.mark.parametrize("name", list(RICH))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_in_place_and_without_graph(name, dtype):
    """NumPy float64 hyper-parameters and a float64 gradient do not upcast a float32 parameter or its state."""
    kwargs = {k: (np.float64(v) if isinstance(v, float) else v) for k, v in RICH[name].items()}
    p = cr.Tensor(initial_arrays(dtype)[0], requires_grad=True)
    array = p.numpy()
    view = array[0]
    opt = getattr(optim, name)([p], **kwargs)
    before = array.copy()
    for _ in range(3):
        p.grad = cr.Tensor(np.ones(p.shape, dtype=np.float64))
        opt.step()
    assert p.numpy() is array and p.dtype == dtype
    assert not np.array_equal(view, before[0])  # the view sees the update: it happened in place
    assert p.creator is None and p.grad.creator is None
    for value in opt.state[p].values():
        if isinstance(value, np.ndarray):
            assert value.dtype == dtype and value.shape == p.shape
        else:
            assert isinstance(value, int)


@pytest.mark.parametrize("name", list(RICH))
def test_parameters_without_grad_are_skipped(name):
    a, b = make_cr(initial_arrays(np.float32)[:2])
    opt = getattr(optim, name)([a, b], **RICH[name])
    b_before = b.numpy().copy()
    for _ in range(3):
        a.grad = cr.Tensor(np.ones(a.shape, dtype=np.float32))
        opt.step()
    np.testing.assert_array_equal(b.numpy(), b_before)
    if name == "Adagrad":  # PyTorch's Adagrad creates its state up front
        assert opt.state[b]["step"] == 0 and opt.state[a]["step"] == 3
    else:
        assert not opt.state.get(b)


def test_zero_grad():
    a, b = make_cr(initial_arrays(np.float32)[:2])
    opt = optim.SGD([a, b], lr=0.1)
    a.grad = cr.Tensor(np.ones(a.shape, dtype=np.float32))
    grad_array = a.grad.numpy()
    opt.zero_grad(set_to_none=False)
    assert a.grad.numpy() is grad_array and not grad_array.any() and b.grad is None
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_a_gradient_of_the_wrong_shape_is_refused():
    p = cr.Tensor(np.zeros((2, 3), dtype=np.float32), requires_grad=True)
    p.grad = cr.Tensor(np.zeros(3, dtype=np.float32))
    with pytest.raises(cr.ShapeError, match=r"shape \(2, 3\) has a gradient of shape \(3,\)"):
        optim.Adam([p]).step()


def test_step_with_closure_returns_the_loss():
    w = cr.Tensor(np.array([1.0, -2.0]), requires_grad=True, dtype=cr.float64)
    opt = optim.SGD([w], lr=0.25)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cr.no_grad():  # the closure records its graph even inside no_grad, as PyTorch's does
        loss = opt.step(closure)
    assert calls == [1] and loss.item() == 5.0
    np.testing.assert_array_equal(w.numpy(), [0.5, -1.0])  # w − 0.25·2w


# ----- construction ------------------------------------------------------------------------------------------
def test_constructor_checks():
    p = make_cr(initial_arrays(np.float32))[0]
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(p)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {p}}])
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.SGD([np.zeros(3)])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}])
    with pytest.raises(ValueError, match="duplicate"):  # it would be updated twice per step
        optim.SGD([p, p])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], momentum=0, nesterov=True)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="epsilon"):
        optim.AdamW([p], eps=-1)
    with pytest.raises(ValueError, match="alpha"):
        optim.RMSprop([p], alpha=-0.1)
    with pytest.raises(ValueError, match="lr_decay"):
        optim.Adagrad([p], lr_decay=-0.1)


def test_groups_defaults_and_add_param_group():
    a, b, c, d = make_cr(initial_arrays(np.float32))
    opt = optim.Adagrad((t for t in [a, b]), lr=0.1, lr_decay=0.01)  # a generator is fine
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["params"] == [a, b]
    assert opt.defaults == {"lr": 0.1, "lr_decay": 0.01, "eps": 1e-10, "weight_decay": 0,
                            "initial_accumulator_value": 0, "maximize": False}
    opt.add_param_group({"params": c, "lr": 0.5, "initial_accumulator_value": 2.0})
    group = opt.param_groups[1]
    assert group["params"] == [c] and group["lr"] == 0.5 and group["lr_decay"] == 0.01
    np.testing.assert_array_equal(opt.state[c]["sum"], np.full(c.shape, 2.0, dtype=np.float32))
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [d, a]})
    assert len(opt.param_groups) == 2
    text = repr(opt)
    assert text.startswith("Adagrad (") and "Parameter Group 1" in text and "lr: 0.5" in text


# ----- state_dict --------------------------------------------------------------------------------------------
def to_files(state_dict):
    """The state dict as (JSON text, .npz bytes): no pickling anywhere."""
    arrays, state = {}, {}
    for index, entries in state_dict["state"].items():
        state[index] = {}
        for name, value in entries.items():
            if isinstance(value, np.ndarray):
                arrays[f"{index}.{name}"] = value
                state[index][name] = {"npz": f"{index}.{name}"}
            else:
                state[index][name] = value
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return json.dumps({"state": state, "param_groups": state_dict["param_groups"]}), buffer.getvalue()


def from_files(text, blob):
    meta = json.loads(text)
    with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
        state = {index: {name: arrays[v["npz"]] if isinstance(v, dict) else v for name, v in entries.items()}
                 for index, entries in meta["state"].items()}
    return {"state": state, "param_groups": meta["param_groups"]}


def two_groups(name, params):
    options = {"SGD": {"lr": 0.01}, "Adam": {"betas": (0.5, 0.9)}, "AdamW": {"lr": 0.03},
               "RMSprop": {"lr": 0.001}, "Adagrad": {"lr_decay": 0.5}, "Adadelta": {"rho": 0.5}}[name]
    return getattr(optim, name)([{"params": params[:2]}, {"params": params[2:], **options}], **RICH[name])


@pytest.mark.parametrize("name", list(RICH))
def test_state_dict_round_trip_is_bit_exact(name):
    """Save after 10 steps (through JSON + .npz), load into a fresh optimizer on copies of the parameters,
    take 10 more steps: the parameters and the state equal those of an uninterrupted 20-step run, bit for bit."""
    arrays, noises = initial_arrays(np.float32), noise(np.float32)
    ps = make_cr(arrays)
    uninterrupted = two_groups(name, ps)
    cr_steps(uninterrupted, ps, noises)

    first = make_cr(arrays)
    opt = two_groups(name, first)
    cr_steps(opt, first, noises, 0, 10)
    saved = opt.state_dict()
    fresh_params = [cr.Tensor(p.numpy().copy(), requires_grad=True) for p in first]
    cr_steps(opt, first, noises, 10, 12)  # later steps must not change the saved snapshot

    fresh = getattr(optim, name)([{"params": fresh_params[:2]}, {"params": fresh_params[2:]}])
    fresh.load_state_dict(from_files(*to_files(saved)))
    cr_steps(fresh, fresh_params, noises, 10, STEPS)

    for p, q in zip(fresh_params, ps):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert [{k: v for k, v in g.items() if k != "params"} for g in fresh.param_groups] == \
           [{k: v for k, v in g.items() if k != "params"} for g in uninterrupted.param_groups]
    for p, q in zip(fresh_params, ps):
        assert fresh.state[p].keys() == uninterrupted.state[q].keys()
        for key, value in fresh.state[p].items():
            np.testing.assert_array_equal(value, uninterrupted.state[q][key])
            assert type(value) is type(uninterrupted.state[q][key])


def test_state_dict_layout():
    ps = make_cr(initial_arrays(np.float32))
    opt = optim.Adam([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.1}], amsgrad=True)
    ps[1].grad = cr.Tensor(np.ones(SHAPES[1], dtype=np.float32))
    ps[3].grad = cr.Tensor(np.ones(SHAPES[3], dtype=np.float32))
    opt.step()
    sd = opt.state_dict()
    assert list(sd) == ["state", "param_groups"]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]
    assert sd["param_groups"][1]["lr"] == 0.1 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert list(sd["state"]) == [1, 3]
    assert sd["state"][1]["step"] == 1
    assert set(sd["state"][1]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][1]["exp_avg"] is not opt.state[ps[1]]["exp_avg"]  # a copy
    json.dumps(sd["param_groups"])


def test_load_errors_name_every_mismatch():
    ps = make_cr(initial_arrays(np.float32))
    opt = optim.Adam([{"params": ps[:2]}, {"params": ps[2:]}], lr=0.01)
    for p in ps:
        p.grad = cr.Tensor(np.ones(p.shape, dtype=np.float32))
    opt.step()
    good = opt.state_dict()
    before = {k: v.copy() for k, v in opt.state[ps[0]].items() if isinstance(v, np.ndarray)}

    def fails(sd, *fragments):
        with pytest.raises(OptimizerStateError) as info:
            opt.load_state_dict(sd)
        assert isinstance(info.value, ChainruleError) and isinstance(info.value, ValueError)
        for fragment in fragments:
            assert fragment in str(info.value), (fragment, str(info.value))
        return info.value

    fails({"state": {}}, "'state' and 'param_groups'")
    one_group = optim.Adam(ps[:2]).state_dict()
    fails(one_group, "1 parameter group(s), the optimizer has 2")
    bad = opt.state_dict()
    bad["param_groups"][1]["params"] = [2]
    bad["state"].pop(3)
    fails(bad, "parameter group 1 has 1 parameter(s) in the loaded state dict, 2 in the optimizer")

    bad = opt.state_dict()
    bad["state"][0]["exp_avg"] = np.zeros((4, 6), dtype=np.float32)      # transposed
    bad["state"][2]["exp_avg_sq"] = np.zeros(3, dtype=np.float32)         # wrong size
    bad["state"][1]["momentum_buffer"] = np.zeros(6, dtype=np.float32)    # SGD's name
    bad["state"][3]["step"] = np.zeros(3)                                 # not a number
    bad["state"][7] = {"step": 1}                                         # no such parameter
    error = fails(
        bad,
        "state[0]['exp_avg']: shape (4, 6) in the loaded state dict, the parameter has shape (6, 4)",
        "state[2]['exp_avg_sq']: shape (3,) in the loaded state dict, the parameter has shape (3, 6)",
        "state[1]['momentum_buffer']: Adam keeps no state named 'momentum_buffer'",
        "state[3]['step']: expected a number",
        "state has an entry for 7",
    )
    assert len(error.problems) == 5
    # nothing was changed by the failed loads
    for key, value in before.items():
        np.testing.assert_array_equal(opt.state[ps[0]][key], value)
    assert opt.param_groups[0]["params"] == ps[:2]
    opt.load_state_dict(good)  # and the good one still loads


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_loads_a_torch_state_dict_converted_to_numpy(name):
    """torch's state dict with tensors turned into NumPy arrays ('step' a 0-d float32 array) loads and the two
    optimizers continue in step."""
    kwargs = {"SGD": {"lr": 0.1, "momentum": 0.9}, "Adam": {"lr": 0.01, "amsgrad": True}}[name]
    arrays, noises = initial_arrays(np.float32), noise(np.float32)
    ts = make_torch(arrays)
    topt = getattr(torch.optim, name)(ts, foreach=False, **kwargs)
    torch_steps(topt, ts, noises, 0, 10)
    tsd = topt.state_dict()
    converted = {
        "state": {i: {k: v.numpy().copy() if isinstance(v, torch.Tensor) else v for k, v in s.items()}
                  for i, s in tsd["state"].items()},
        "param_groups": [{k: v for k, v in g.items() if k in ("params", *kwargs)} for g in tsd["param_groups"]],
    }
    ps = make_cr([t.detach().numpy() for t in ts])
    opt = getattr(optim, name)(ps)
    opt.load_state_dict(converted)
    assert opt.param_groups[0]["lr"] == kwargs["lr"]
    if name == "Adam":
        assert opt.state[ps[0]]["step"] == 10 and isinstance(opt.state[ps[0]]["step"], int)
    assert_trajectories_close(cr_steps(opt, ps, noises, 10, STEPS), torch_steps(topt, ts, noises, 10, STEPS),
                              np.float32)
