"""Optimizers and schedulers refuse what PyTorch refuses, with chainrule's error naming the argument.

Each row is a ``refusals.Case``: the same call in chainrule and in PyTorch, and the expected outcome (both
refuse, both accept, or chainrule stricter for the reason given). PyTorch refuses some scheduler arguments only
when the schedule is stepped; those cases step PyTorch's scheduler as far as the schedule goes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from refusals import ACCEPT, REFUSE, STRICTER, Case, check

import chainrule as cr
from chainrule import optim
from chainrule.errors import ArgumentError, ArgumentTypeError, DTypeError
from chainrule.optim import lr_scheduler

NAN, INF = float("nan"), float("inf")


def _param(lib):
    return lib.zeros(3, requires_grad=True)


def _opt(name: str, *args, params=None, **kwargs) -> tuple:
    """(chainrule call, PyTorch call) building optimizer ``name`` on ``params(lib)`` (default: one parameter)."""
    def make(lib, module):
        return lambda: getattr(module, name)((params or (lambda lib: [_param(lib)]))(lib), *args, **kwargs)
    return make(cr, optim), make(torch, torch.optim)


def _case(label: str, name: str, kwargs: dict, expect: str, arg: str = "", why: str = "", params=None,
          error=None, args: tuple = ()) -> Case:
    ours, theirs = _opt(name, *args, params=params, **kwargs)
    extra = {"error": error} if error is not None else {}
    return Case(label, ours, theirs, expect, (name, arg) if arg else (), why, **extra)


def _same(lib):
    p = _param(lib)
    return [p, p]


def _same_in_two_groups(lib):
    p = _param(lib)
    return [{"params": [p]}, {"params": [p], "lr": 0.1}]


OPTIMIZERS = [
    # ----- hyper-parameters
    _case("SGD lr -1", "SGD", {"lr": -1}, REFUSE, "learning rate"),
    _case("SGD lr NaN", "SGD", {"lr": NAN}, STRICTER, "'lr'", why="every weight becomes NaN at the first step"),
    _case("SGD lr inf", "SGD", {"lr": INF}, STRICTER, "'lr'", why="every weight becomes ±inf or NaN at the first step"),
    _case("SGD lr '0.1'", "SGD", {"lr": "0.1"}, REFUSE, "'lr'", error=ArgumentTypeError),
    _case("SGD lr None", "SGD", {"lr": None}, REFUSE, "'lr'", error=ArgumentTypeError),
    _case("SGD momentum -1", "SGD", {"momentum": -1}, REFUSE, "'momentum'"),
    _case("SGD momentum NaN", "SGD", {"momentum": NAN}, STRICTER, "'momentum'", why="the buffer becomes NaN"),
    _case("SGD weight_decay -1", "SGD", {"weight_decay": -1}, REFUSE, "'weight_decay'"),
    _case("SGD weight_decay NaN", "SGD", {"weight_decay": NAN}, STRICTER, "'weight_decay'",
          why="every weight becomes NaN at the first step"),
    _case("SGD dampening -1", "SGD", {"momentum": 0.9, "dampening": -1}, STRICTER, "'dampening'",
          why="a negative dampening amplifies the gradient instead of damping it"),
    _case("SGD nesterov without momentum", "SGD", {"nesterov": True}, REFUSE, "Nesterov"),
    _case("SGD nesterov with dampening", "SGD", {"momentum": 0.9, "dampening": 0.1, "nesterov": True}, REFUSE,
          "Nesterov"),
    _case("SGD lr 0, momentum 2", "SGD", {"lr": 0, "momentum": 2, "dampening": 2}, ACCEPT),
    _case("Adam betas (1, 0.9)", "Adam", {"betas": (1.0, 0.9)}, REFUSE, "beta parameter at index 0"),
    _case("Adam betas (0.9, 1)", "Adam", {"betas": (0.9, 1.0)}, REFUSE, "beta parameter at index 1"),
    _case("Adam betas (-0.1, 0.9)", "Adam", {"betas": (-0.1, 0.9)}, REFUSE, "'betas[0]'"),
    _case("Adam betas (NaN, 0.9)", "Adam", {"betas": (NAN, 0.9)}, REFUSE, "'betas[0]'"),
    _case("Adam betas (0.9,)", "Adam", {"betas": (0.9,)}, REFUSE, "'betas'", error=ArgumentTypeError),
    _case("Adam betas 0.9", "Adam", {"betas": 0.9}, REFUSE, "'betas'", error=ArgumentTypeError),
    _case("Adam betas as a list", "Adam", {"betas": [0.5, 0.6]}, ACCEPT),
    _case("Adam eps -1", "Adam", {"eps": -1}, REFUSE, "epsilon"),
    _case("Adam eps NaN", "Adam", {"eps": NAN}, REFUSE, "'eps'"),
    _case("Adam eps 0", "Adam", {"eps": 0}, ACCEPT),
    _case("Adam lr NaN", "Adam", {"lr": NAN}, REFUSE, "'lr'"),
    _case("Adam weight_decay -1", "Adam", {"weight_decay": -1}, REFUSE, "'weight_decay'"),
    _case("AdamW weight_decay -1", "AdamW", {"weight_decay": -1}, REFUSE, "'weight_decay'"),
    _case("RMSprop alpha -1", "RMSprop", {"alpha": -1}, REFUSE, "'alpha'"),
    _case("RMSprop momentum -1", "RMSprop", {"momentum": -1}, REFUSE, "'momentum'"),
    _case("RMSprop eps -1", "RMSprop", {"eps": -1}, REFUSE, "'eps'"),
    _case("RMSprop lr NaN", "RMSprop", {"lr": NAN}, REFUSE, "'lr'"),
    _case("RMSprop alpha 2", "RMSprop", {"alpha": 2}, ACCEPT),
    _case("Adagrad lr_decay -1", "Adagrad", {"lr_decay": -1}, REFUSE, "'lr_decay'"),
    _case("Adagrad eps -1", "Adagrad", {"eps": -1}, REFUSE, "'eps'"),
    _case("Adagrad initial_accumulator_value -1", "Adagrad", {"initial_accumulator_value": -1}, REFUSE,
          "'initial_accumulator_value'"),
    _case("Adagrad lr NaN", "Adagrad", {"lr": NAN}, REFUSE, "'lr'"),
    # ----- a group's own hyper-parameters are checked as the constructor's
    _case("SGD group lr -1", "SGD", {"lr": 0.1}, STRICTER, "'lr'", params=lambda lib: [{"params": [_param(lib)],
          "lr": -1}], why="a negative lr climbs the loss; PyTorch checks only the constructor's lr"),
    _case("Adam group betas (1, 0.9)", "Adam", {}, STRICTER, "beta parameter at index 0",
          params=lambda lib: [{"params": [_param(lib)], "betas": (1.0, 0.9)}],
          why="β₁ = 1 never updates the first moment; PyTorch checks only the constructor's betas"),
    # ----- params
    _case("params a Tensor", "SGD", {}, REFUSE, "iterable of Tensors", params=_param, error=ArgumentTypeError),
    _case("params a set in a group", "SGD", {}, REFUSE, "ordered collections",
          params=lambda lib: [{"params": {_param(lib)}}], error=ArgumentTypeError),
    _case("params a set", "SGD", {}, STRICTER, "ordered collections", params=lambda lib: {_param(lib)},
          error=ArgumentTypeError, why="a set's order changes between runs, so would the state dict's numbering"),
    _case("params empty", "SGD", {}, REFUSE, "empty parameter list", params=lambda lib: []),
    _case("params None", "SGD", {}, REFUSE, "'params'", params=lambda lib: None, error=ArgumentTypeError),
    _case("params 5", "SGD", {}, REFUSE, "'params'", params=lambda lib: 5, error=ArgumentTypeError),
    _case("params a float", "SGD", {}, REFUSE, "only optimize Tensors", params=lambda lib: [1.0],
          error=ArgumentTypeError),
    _case("params an array", "SGD", {}, REFUSE, "only optimize Tensors", params=lambda lib: [np.zeros(3)],
          error=ArgumentTypeError),
    _case("params a group without 'params'", "SGD", {}, REFUSE, "'params'", params=lambda lib: [{"lr": 0.1}]),
    _case("params a group, then a Tensor", "SGD", {}, REFUSE, "param_group must be a dict",
          params=lambda lib: [{"params": [_param(lib)]}, _param(lib)], error=ArgumentTypeError),
    _case("params a non-leaf", "SGD", {}, REFUSE, "non-leaf", params=lambda lib: [_param(lib) * 2]),
    _case("params the same Tensor twice", "SGD", {}, STRICTER, "duplicate", params=_same,
          why="it would be updated twice per step (PyTorch warns that this will become an error)"),
    _case("params the same Tensor in two groups", "SGD", {}, REFUSE, "more than one parameter group",
          params=_same_in_two_groups),
    _case("params an int Tensor", "SGD", {}, STRICTER, "floating-point",
          params=lambda lib: [lib.zeros(3, dtype=lib.int64)], error=DTypeError,
          why="an integer parameter cannot take a fractional step"),
    _case("params a generator", "SGD", {}, ACCEPT, params=lambda lib: (p for p in [_param(lib)])),
    _case("params groups", "SGD", {"lr": 0.5}, ACCEPT,
          params=lambda lib: [{"params": [_param(lib)]}, {"params": [_param(lib)], "lr": 0.1}]),
]


@pytest.mark.parametrize("case", OPTIMIZERS, ids=lambda c: c.label)
def test_optimizers_refuse_what_torch_refuses(case):
    check(case)


def test_add_param_group_refuses_a_parameter_already_there():
    p, q = cr.zeros(2, requires_grad=True), cr.zeros(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ArgumentError, match="SGD: some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [q, p]})
    with pytest.raises(ArgumentError, match=r"SGD \(parameter group 1\): argument 'lr' must not be NaN"):
        opt.add_param_group({"params": [q], "lr": NAN})
    assert len(opt.param_groups) == 1  # nothing was added by the refused calls
    opt.add_param_group({"params": q, "lr": 0.5})
    assert opt.param_groups[1]["params"] == [q] and opt.param_groups[1]["lr"] == 0.5


# ----- schedulers -------------------------------------------------------------------------------------------


def _sgd(lib):
    return (optim if lib is cr else torch.optim).SGD([_param(lib)], lr=0.1, momentum=0.9)


def _run(make, steps: int):
    """A call that builds a scheduler with ``make(lib)`` and steps it ``steps`` times."""
    def call(lib):
        scheduler = make(lib)
        for _ in range(steps):
            scheduler.optimizer.step() if lib is torch else None  # PyTorch warns when the scheduler steps first
            scheduler.step()
        return scheduler
    return call


def _sched(label: str, make, expect: str, arg: str = "", why: str = "", steps: int = 0, name: str = "",
           error=None) -> Case:
    """A case building a scheduler with ``make(lib, module)`` and stepping PyTorch's ``steps`` times."""
    run = _run(lambda lib: make(lib, cr.optim.lr_scheduler if lib is cr else torch.optim.lr_scheduler), steps)
    extra = {"error": error} if error is not None else {}
    names = (name or label.split()[0], arg) if arg else ()
    return Case(label, lambda: run(cr), lambda: run(torch), expect, names, why, **extra)


SCHEDULERS = [
    _sched("StepLR step_size 0", lambda lib, s: s.StepLR(_sgd(lib), step_size=0), REFUSE, "'step_size'", steps=1),
    _sched("StepLR step_size -1", lambda lib, s: s.StepLR(_sgd(lib), step_size=-1), STRICTER, "'step_size'",
           steps=3, why="a negative period decays the lr at every step"),
    _sched("StepLR step_size 1.5", lambda lib, s: s.StepLR(_sgd(lib), step_size=1.5), STRICTER, "'step_size'",
           steps=3, why="step_size counts epochs", error=ArgumentTypeError),
    _sched("StepLR gamma -1", lambda lib, s: s.StepLR(_sgd(lib), 1, gamma=-1), STRICTER, "'gamma'", steps=1,
           why="a negative gamma makes the lr negative: the optimizer climbs the loss"),
    _sched("StepLR gamma NaN", lambda lib, s: s.StepLR(_sgd(lib), 1, gamma=NAN), STRICTER, "'gamma'", steps=1,
           why="the lr becomes NaN, and every weight with it"),
    _sched("StepLR gamma '0.1'", lambda lib, s: s.StepLR(_sgd(lib), 1, gamma="0.1"), REFUSE, "'gamma'", steps=1,
           error=ArgumentTypeError),
    _sched("StepLR on an object", lambda lib, s: s.StepLR(object(), 2), REFUSE, "is not an Optimizer",
           error=ArgumentTypeError),
    _sched("StepLR on None", lambda lib, s: s.StepLR(None, 2), REFUSE, "'optimizer'", error=ArgumentTypeError),
    _sched("StepLR last_epoch -2", lambda lib, s: s.StepLR(_sgd(lib), 2, last_epoch=-2), REFUSE, "'last_epoch'"),
    _sched("StepLR gamma 0", lambda lib, s: s.StepLR(_sgd(lib), 2, gamma=0), ACCEPT, steps=3),
    _sched("ExponentialLR gamma -1", lambda lib, s: s.ExponentialLR(_sgd(lib), gamma=-1), STRICTER, "'gamma'",
           steps=1, why="a negative gamma makes the lr negative: the optimizer climbs the loss"),
    _sched("MultiStepLR milestones 3", lambda lib, s: s.MultiStepLR(_sgd(lib), 3), REFUSE, "'milestones'",
           error=ArgumentTypeError),
    _sched("MultiStepLR milestones ['a']", lambda lib, s: s.MultiStepLR(_sgd(lib), ["a"]), STRICTER, "'milestones'",
           steps=3, why="a milestone that is not an epoch never fires", error=ArgumentTypeError),
    _sched("MultiStepLR milestones not sorted", lambda lib, s: s.MultiStepLR(_sgd(lib), [3, 1, 1]), ACCEPT, steps=4),
    _sched("CosineAnnealingLR T_max 0", lambda lib, s: s.CosineAnnealingLR(_sgd(lib), T_max=0), REFUSE, "'T_max'",
           steps=1),
    _sched("CosineAnnealingLR T_max -1", lambda lib, s: s.CosineAnnealingLR(_sgd(lib), T_max=-1), STRICTER,
           "'T_max'", steps=2, why="a negative half period runs the cosine backwards"),
    _sched("CosineAnnealingLR eta_min -1", lambda lib, s: s.CosineAnnealingLR(_sgd(lib), 3, eta_min=-1), STRICTER,
           "'eta_min'", steps=3, why="the lr goes negative: the optimizer climbs the loss"),
    _sched("CosineAnnealingLR T_max 1.5", lambda lib, s: s.CosineAnnealingLR(_sgd(lib), T_max=1.5), ACCEPT, steps=4),
    _sched("LinearLR start_factor 0", lambda lib, s: s.LinearLR(_sgd(lib), start_factor=0), REFUSE,
           "Starting multiplicative factor"),
    _sched("LinearLR start_factor 2", lambda lib, s: s.LinearLR(_sgd(lib), start_factor=2), REFUSE, "'start_factor'"),
    _sched("LinearLR end_factor 2", lambda lib, s: s.LinearLR(_sgd(lib), end_factor=2), REFUSE, "'end_factor'"),
    _sched("LinearLR end_factor -1", lambda lib, s: s.LinearLR(_sgd(lib), end_factor=-1), REFUSE, "'end_factor'"),
    _sched("LinearLR start_factor '0.5'", lambda lib, s: s.LinearLR(_sgd(lib), start_factor="0.5"), REFUSE,
           "'start_factor'", error=ArgumentTypeError),
    _sched("LinearLR start_factor NaN", lambda lib, s: s.LinearLR(_sgd(lib), start_factor=NAN), STRICTER,
           "'start_factor'", steps=2, why="the lr becomes NaN, and every weight with it"),
    _sched("LinearLR total_iters 0", lambda lib, s: s.LinearLR(_sgd(lib), total_iters=0), STRICTER, "'total_iters'",
           steps=3, why="with no ramp the lr stays at start_factor·lr for good, and the closed form divides by 0"),
    _sched("OneCycleLR no length", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1), REFUSE, "total_steps"),
    _sched("OneCycleLR total_steps 0", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, total_steps=0), REFUSE,
           "'total_steps'"),
    _sched("OneCycleLR total_steps 1.5", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, total_steps=1.5), REFUSE,
           "'total_steps'", error=ArgumentTypeError),
    _sched("OneCycleLR epochs 0", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, epochs=0, steps_per_epoch=3),
           REFUSE, "'epochs'"),
    _sched("OneCycleLR steps_per_epoch 0", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, epochs=1, steps_per_epoch=0),
           REFUSE, "'steps_per_epoch'"),
    _sched("OneCycleLR pct_start 1.5", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, total_steps=10, pct_start=1.5),
           REFUSE, "'pct_start'"),
    _sched("OneCycleLR pct_start int", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, total_steps=10, pct_start=0),
           REFUSE, "pct_start", error=ArgumentTypeError),
    _sched("OneCycleLR max_lr 'a'", lambda lib, s: s.OneCycleLR(_sgd(lib), "a", total_steps=10), REFUSE, "'max_lr'",
           error=ArgumentTypeError),
    _sched("OneCycleLR max_lr -1", lambda lib, s: s.OneCycleLR(_sgd(lib), -1, total_steps=10), STRICTER, "'max_lr'",
           steps=10, why="the lr goes negative: the optimizer climbs the loss"),
    _sched("OneCycleLR div_factor 0", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, total_steps=10, div_factor=0),
           REFUSE, "'div_factor'"),
    _sched("OneCycleLR final_div_factor 0",
           lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, total_steps=10, final_div_factor=0), REFUSE,
           "'final_div_factor'"),
    _sched("OneCycleLR anneal_strategy", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, total_steps=10,
           anneal_strategy="exp"), REFUSE, "'anneal_strategy'"),
    _sched("OneCycleLR first phase of no steps", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, total_steps=10,
           pct_start=0.1), REFUSE, "total_steps=10 and pct_start=0.1"),
    _sched("OneCycleLR totals 2 at pct 0.5", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, total_steps=2,
           pct_start=0.5), REFUSE, "phase 1"),
    _sched("OneCycleLR last phase of no steps", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, total_steps=10,
           pct_start=1.0), REFUSE, "phase 2", steps=10),
    _sched("OneCycleLR on an object", lambda lib, s: s.OneCycleLR(object(), 0.1, total_steps=10), REFUSE,
           "'optimizer'", error=ArgumentTypeError),
    _sched("OneCycleLR without momentum", lambda lib, s: s.OneCycleLR(
        (optim if lib is cr else torch.optim).Adagrad([_param(lib)]), 0.1, total_steps=10), REFUSE, "momentum"),
    _sched("OneCycleLR one step", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, total_steps=1), ACCEPT, steps=1),
    _sched("OneCycleLR pct_start 0", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, total_steps=10, pct_start=0.0),
           ACCEPT, steps=10),
    _sched("OneCycleLR three phases", lambda lib, s: s.OneCycleLR(_sgd(lib), 0.1, total_steps=10, pct_start=0.5,
           three_phase=True), ACCEPT, steps=10),
    _sched("ReduceLROnPlateau factor 1", lambda lib, s: s.ReduceLROnPlateau(_sgd(lib), factor=1), REFUSE, "Factor"),
    _sched("ReduceLROnPlateau factor -1", lambda lib, s: s.ReduceLROnPlateau(_sgd(lib), factor=-1), STRICTER,
           "'factor'", why="a negative factor makes the lr negative: the optimizer climbs the loss"),
    _sched("ReduceLROnPlateau mode", lambda lib, s: s.ReduceLROnPlateau(_sgd(lib), mode="x"), REFUSE, "'mode'"),
    _sched("ReduceLROnPlateau threshold_mode", lambda lib, s: s.ReduceLROnPlateau(_sgd(lib), threshold_mode="x"),
           REFUSE, "'threshold_mode'"),
    _sched("ReduceLROnPlateau min_lr per group", lambda lib, s: s.ReduceLROnPlateau(_sgd(lib), min_lr=[0, 0]),
           REFUSE, "'min_lr'"),
    _sched("ReduceLROnPlateau on an object", lambda lib, s: s.ReduceLROnPlateau(object()), REFUSE, "'optimizer'",
           error=ArgumentTypeError),
    _sched("ReduceLROnPlateau patience -1", lambda lib, s: s.ReduceLROnPlateau(_sgd(lib), patience=-1), ACCEPT),
]


def _sequential(milestones, schedulers: int = 2, other: bool = False, bad=None):
    def make(lib, s):
        opt = _sgd(lib)
        parts = [s.StepLR(_sgd(lib) if other else opt, 2) for _ in range(schedulers)]
        return s.SequentialLR(opt, parts if bad is None else bad, milestones=milestones)
    return make


SCHEDULERS += [
    _sched("SequentialLR milestones ['a']", _sequential(["a"]), REFUSE, "'milestones'", error=ArgumentTypeError),
    _sched("SequentialLR milestones not increasing", _sequential([5, 3], schedulers=3), STRICTER, "'milestones'",
           steps=6, why="the running scheduler is found by bisection, which needs sorted milestones"),
    _sched("SequentialLR milestone -1", _sequential([-1]), STRICTER, "'milestones'", steps=2,
           why="a milestone before epoch 0 never fires"),
    _sched("SequentialLR count", _sequential([3], schedulers=1), REFUSE, "one more than the number of milestone"),
    _sched("SequentialLR no schedulers", _sequential([], schedulers=0), REFUSE, "'schedulers'"),
    _sched("SequentialLR not a scheduler", _sequential([], bad=[object()]), REFUSE, "schedulers[0]",
           error=ArgumentTypeError),
    _sched("SequentialLR other optimizer", _sequential([2], other=True), REFUSE, "same optimizer"),
    _sched("SequentialLR on an object", lambda lib, s: s.SequentialLR(object(), [], milestones=[]), REFUSE,
           "'optimizer'", error=ArgumentTypeError),
    _sched("SequentialLR milestone 0", _sequential([0]), ACCEPT, steps=3),
]


@pytest.mark.parametrize("case", SCHEDULERS, ids=lambda c: c.label)
def test_schedulers_refuse_what_torch_refuses(case):
    check(case)


def test_the_tables_cover_every_outcome():
    outcomes = [c.expect for c in OPTIMIZERS + SCHEDULERS]
    assert set(outcomes) == {REFUSE, ACCEPT, STRICTER} and outcomes.count(REFUSE) > 60


def test_accepted_schedules_match_torch():
    """The edge cases both accept give PyTorch's learning rates (T_max a float, unsorted milestones)."""
    for make in (lambda s, o: s.CosineAnnealingLR(o, T_max=1.5), lambda s, o: s.MultiStepLR(o, [3, 1, 1], 0.5)):
        ours, theirs = make(lr_scheduler, _sgd(cr)), make(torch.optim.lr_scheduler, _sgd(torch))
        for _ in range(5):
            theirs.optimizer.step()
            ours.step()
            theirs.step()
            assert math.isclose(ours.get_last_lr()[0], theirs.get_last_lr()[0], rel_tol=1e-12, abs_tol=1e-15)


@pytest.mark.parametrize("lr", [NAN, "0.1", -1.0])
def test_load_state_dict_refuses_a_bad_saved_hyper_parameter(lr):
    p = cr.zeros(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    state = opt.state_dict()
    state["param_groups"][0]["lr"] = lr
    with pytest.raises(optim.OptimizerStateError, match=r"param_groups\[0\]: argument 'lr'"):
        opt.load_state_dict(state)
    assert opt.param_groups[0]["lr"] == 0.1  # refused before anything changed
    state["param_groups"][0]["lr"] = 0.05
    opt.load_state_dict(state)
    assert opt.param_groups[0]["lr"] == 0.05
