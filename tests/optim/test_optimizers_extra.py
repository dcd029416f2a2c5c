"""Adamax, NAdam, RAdam, Rprop and ASGD against torch.optim: 20-step trajectories for each option (float32 and
float64), parameter groups, state_dict round trips (bit-exact, through JSON + .npz) and loading a torch state
dict converted to NumPy, and the refusals of bad options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_optimizers import (
    STEPS,
    assert_trajectories_close,
    cr_steps,
    from_files,
    groups_of,
    initial_arrays,
    make_cr,
    make_torch,
    noise,
    to_files,
    torch_steps,
)

import chainrule as cr
import chainrule.optim as optim
from chainrule.errors import ChainruleError

CASES = [
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-4, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.01, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.01, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("NAdam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.9, 0.9)}),  # ρ_t passes 5 at step 7: both branches run
    ("RAdam", {"lr": 0.01, "betas": (0.5, 0.8), "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1, "decoupled_weight_decay": True,
               "maximize": True}),
    ("Rprop", {}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.1)}),
    ("Rprop", {"maximize": True}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 5, "weight_decay": 0.1}),
    ("ASGD", {"lr": 0.02, "t0": 3, "maximize": True}),
]
RICH = {
    "Adamax": {"lr": 0.01, "weight_decay": 0.01},
    "NAdam": {"lr": 0.01, "weight_decay": 0.01, "momentum_decay": 0.01},
    "RAdam": {"lr": 0.01, "betas": (0.9, 0.9)},
    "Rprop": {"lr": 0.05, "etas": (0.4, 1.3)},
    "ASGD": {"lr": 0.05, "t0": 5, "lambd": 0.01},
}


def case_id(case):
    name, kwargs = case
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


def torch_optimizer(name, params, **kwargs):
    return getattr(torch.optim, name)(params, foreach=False, **kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_torch_trajectory(case, dtype):
    name, kwargs = case
    arrays, noises = initial_arrays(dtype), noise(dtype)
    ps, ts = make_cr(arrays), make_torch(arrays)
    opt = getattr(optim, name)(ps, **kwargs)
    topt = torch_optimizer(name, ts, **kwargs)
    assert_trajectories_close(cr_steps(opt, ps, noises), torch_steps(topt, ts, noises), dtype)
    assert opt.state[ps[0]].keys() == topt.state[ts[0]].keys()


@pytest.mark.parametrize("name", list(RICH))
def test_param_groups_match_torch(name):
    arrays, noises = initial_arrays(np.float64), noise(np.float64)
    ps, ts = make_cr(arrays), make_torch(arrays)
    group_options = [{}, {"lr": 0.003}]
    opt = getattr(optim, name)(groups_of(ps, group_options), **RICH[name])
    topt = torch_optimizer(name, groups_of(ts, group_options), **RICH[name])
    assert_trajectories_close(cr_steps(opt, ps, noises), torch_steps(topt, ts, noises), np.float64)


def test_defaults_match_torch():
    p = cr.Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    t = torch.zeros(2, requires_grad=True)
    for name in RICH:
        ours, theirs = getattr(optim, name)([p]).defaults, getattr(torch.optim, name)([t]).defaults
        for key, value in ours.items():
            assert value == theirs[key], (name, key)


@pytest.mark.parametrize("name", list(RICH))
def test_state_dict_round_trip_is_bit_exact(name):
    arrays, noises = initial_arrays(np.float32), noise(np.float32)
    ps = make_cr(arrays)
    uninterrupted = getattr(optim, name)(ps, **RICH[name])
    cr_steps(uninterrupted, ps, noises)

    first = make_cr(arrays)
    opt = getattr(optim, name)(first, **RICH[name])
    cr_steps(opt, first, noises, 0, 10)
    saved = opt.state_dict()
    fresh_params = [cr.Tensor(p.numpy().copy(), requires_grad=True) for p in first]
    fresh = getattr(optim, name)(fresh_params)
    fresh.load_state_dict(from_files(*to_files(saved)))
    cr_steps(fresh, fresh_params, noises, 10, STEPS)
    for p, q in zip(fresh_params, ps):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
        for key, value in fresh.state[p].items():
            np.testing.assert_array_equal(value, uninterrupted.state[q][key])
            assert type(value) is type(uninterrupted.state[q][key])


@pytest.mark.parametrize("name", list(RICH))
def test_loads_a_torch_state_dict_converted_to_numpy(name):
    kwargs = RICH[name]
    arrays, noises = initial_arrays(np.float32), noise(np.float32)
    ts = make_torch(arrays)
    topt = torch_optimizer(name, ts, **kwargs)
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
    assert opt.state[ps[0]]["step"] == 10 and isinstance(opt.state[ps[0]]["step"], int)
    assert_trajectories_close(cr_steps(opt, ps, noises, 10, STEPS), torch_steps(topt, ts, noises, 10, STEPS),
                              np.float32)


def test_asgd_keeps_the_running_average_torch_keeps():
    arrays, noises = initial_arrays(np.float64), noise(np.float64)
    ps, ts = make_cr(arrays), make_torch(arrays)
    opt, topt = optim.ASGD(ps, lr=0.05, t0=4), torch_optimizer("ASGD", ts, lr=0.05, t0=4)
    cr_steps(opt, ps, noises)
    torch_steps(topt, ts, noises)
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(opt.state[p]["ax"], topt.state[t]["ax"].numpy(), rtol=1e-12, atol=1e-14)
        assert opt.state[p]["eta"] == topt.state[t]["eta"].item() and opt.state[p]["mu"] == topt.state[t]["mu"].item()


def one_line(error, *fragments):
    text = str(error.value)
    assert isinstance(error.value, ChainruleError) and "\n" not in text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def test_bad_options_are_refused_in_one_line():
    p = [cr.Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)]
    for name in RICH:
        with pytest.raises(ValueError) as e:
            getattr(optim, name)(p, lr=-0.1)
        one_line(e, name, "'lr'")
        with pytest.raises(ValueError) as e:
            getattr(optim, name)(p, differentiable=True)
        one_line(e, name, "differentiable=True is not supported")
    for name in ("Adamax", "NAdam", "RAdam"):
        with pytest.raises(ValueError) as e:
            getattr(optim, name)(p, betas=(0.9, 1.0))
        one_line(e, name, "betas[1]")
    with pytest.raises(ValueError) as e:
        optim.Rprop(p, etas=(1.5, 1.2))
    one_line(e, "Rprop", "Invalid eta values: 1.5, 1.2")
    with pytest.raises(TypeError) as e:
        optim.Rprop(p, step_sizes=1e-6)
    one_line(e, "Rprop", "'step_sizes' must be a pair")
    with pytest.raises(ValueError) as e:
        optim.NAdam(p, momentum_decay=-1.0)
    one_line(e, "NAdam", "'momentum_decay'")
    with pytest.raises(ValueError) as e:
        optim.ASGD(p, lambd=float("nan"))
    one_line(e, "ASGD", "'lambd'")
