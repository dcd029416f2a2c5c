"""chainrule.optim.lr_scheduler against torch.optim.lr_scheduler: the lr (and momentum) sequences over 30 steps
are equal to PyTorch's to the last bit, for two parameter groups; state_dict round trips; argument checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.optim as optim
from chainrule.optim import lr_scheduler

STEPS = 30


def make_optimizers(kind="SGD"):
    """The same two-group optimizer in both libraries (lr 0.1 and 0.05)."""
    a = np.ones((2, 2), dtype=np.float32)
    ours = [cr.Tensor(a.copy(), requires_grad=True) for _ in range(2)]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for _ in range(2)]
    kwargs = {"SGD": {"momentum": 0.9}, "Adam": {}}[kind]
    opt = getattr(optim, kind)([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.05}], lr=0.1, **kwargs)
    topt = getattr(torch.optim, kind)([{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.05}], lr=0.1, **kwargs)
    return opt, topt


def snapshot(sched, opt):
    groups = opt.param_groups
    return (
        list(sched.get_last_lr()),
        [g["lr"] for g in groups],
        [g.get("momentum") for g in groups],
        [tuple(g["betas"]) if "betas" in g else None for g in groups],
    )


def run(make, opt, steps=STEPS, metrics=None, start=0):
    """Records after construction (when start == 0) and after each step; torch's optimizer steps first (with
    no gradients it changes nothing) so that PyTorch does not warn about the call order."""
    sched = make(opt) if callable(make) else make
    records = [snapshot(sched, opt)] if start == 0 else []
    for t in range(start, start + steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[t])
        records.append(snapshot(sched, opt))
    return sched, records


def pair(factory):
    """(chainrule scheduler maker, torch scheduler maker) from one factory taking the lr_scheduler module."""
    return (lambda opt: factory(lr_scheduler, opt)), (lambda opt: factory(torch.optim.lr_scheduler, opt))


def sequential(m, opt):
    warmup = m.LinearLR(opt, start_factor=0.1, total_iters=5)
    cosine = m.CosineAnnealingLR(opt, T_max=25, eta_min=1e-3)
    return m.SequentialLR(opt, [warmup, cosine], milestones=[5])


def sequential3(m, opt):
    scheds = [m.LinearLR(opt, start_factor=0.5, total_iters=3), m.ExponentialLR(opt, gamma=0.8),
              m.StepLR(opt, step_size=4, gamma=0.5)]
    return m.SequentialLR(opt, scheds, milestones=[4, 12])


SCHEDULERS = {
    "StepLR": ("SGD", lambda m, opt: m.StepLR(opt, step_size=7, gamma=0.5)),
    "StepLR-default-gamma": ("SGD", lambda m, opt: m.StepLR(opt, step_size=3)),
    "MultiStepLR": ("SGD", lambda m, opt: m.MultiStepLR(opt, milestones=[20, 3, 8, 8], gamma=0.3)),
    "ExponentialLR": ("SGD", lambda m, opt: m.ExponentialLR(opt, gamma=0.9)),
    "CosineAnnealingLR": ("SGD", lambda m, opt: m.CosineAnnealingLR(opt, T_max=30)),
    "CosineAnnealingLR-past-T_max": ("SGD", lambda m, opt: m.CosineAnnealingLR(opt, T_max=8, eta_min=0.001)),
    "LinearLR": ("SGD", lambda m, opt: m.LinearLR(opt)),
    "LinearLR-decay": ("SGD", lambda m, opt: m.LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=20)),
    "OneCycleLR": ("SGD", lambda m, opt: m.OneCycleLR(opt, max_lr=[1.0, 0.5], total_steps=STEPS)),
    "OneCycleLR-adam": ("Adam", lambda m, opt: m.OneCycleLR(opt, max_lr=0.01, epochs=3, steps_per_epoch=10)),
    "OneCycleLR-linear-three-phase": ("SGD", lambda m, opt: m.OneCycleLR(
        opt, max_lr=0.3, total_steps=STEPS, pct_start=0.25, anneal_strategy="linear", three_phase=True,
        base_momentum=[0.8, 0.7], max_momentum=0.99, div_factor=10.0, final_div_factor=100.0)),
    "OneCycleLR-cos-three-phase-no-momentum": ("Adam", lambda m, opt: m.OneCycleLR(
        opt, max_lr=0.3, total_steps=STEPS + 5, three_phase=True, cycle_momentum=False)),
    "SequentialLR-warmup-cosine": ("SGD", sequential),
    "SequentialLR-three": ("SGD", sequential3),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_lr_sequence_equals_torch(name):
    kind, factory = SCHEDULERS[name]
    ours, theirs = pair(factory)
    opt, topt = make_optimizers(kind)
    _, got = run(ours, opt)
    _, expected = run(theirs, topt)
    assert got == expected  # exact: the same float arithmetic in the same order


def test_two_chained_schedulers_compose_as_in_torch():
    def both(m, opt):
        return m.ExponentialLR(opt, gamma=0.95), m.MultiStepLR(opt, milestones=[5, 15], gamma=0.1)

    results = []
    for m, opt in zip((lr_scheduler, torch.optim.lr_scheduler), make_optimizers()):
        first, second = both(m, opt)
        lrs = []
        for _ in range(STEPS):
            opt.step()
            first.step()
            second.step()
            lrs.append((first.get_last_lr(), second.get_last_lr()))
        results.append(lrs)
    assert results[0] == results[1]


PLATEAU = {
    "default": {},
    "patience-cooldown-min_lr": {"patience": 2, "factor": 0.5, "cooldown": 2, "min_lr": [0.01, 0.02]},
    "max-abs": {"mode": "max", "threshold_mode": "abs", "threshold": 0.05, "patience": 1, "factor": 0.3},
    "min-abs-eps": {"threshold_mode": "abs", "threshold": 0.05, "patience": 0, "factor": 0.5, "min_lr": 0.004,
                    "eps": 1e-3},
    "min-rel": {"threshold": 0.1, "patience": 1, "factor": 0.5},
    "max-rel": {"mode": "max", "patience": 3, "cooldown": 1},
}


@pytest.mark.parametrize("name", list(PLATEAU))
def test_reduce_lr_on_plateau_equals_torch(name):
    kwargs = PLATEAU[name]
    r = np.random.default_rng(0)
    # a loss that improves, stalls (noisy), improves a little, stalls: every branch (better / bad / cooldown) is taken
    metrics = [float(v) for v in np.concatenate([np.linspace(1.0, 0.6, 6), 0.6 + 0.01 * np.abs(r.standard_normal(14)),
                                                 np.linspace(0.59, 0.5, 4), np.full(6, 0.5)])]
    if kwargs.get("mode") == "max":
        metrics = [-m for m in metrics]  # an accuracy-like metric that rises, then stalls
    opt, topt = make_optimizers()
    sched, got = run(lambda o: lr_scheduler.ReduceLROnPlateau(o, **kwargs), opt, metrics=metrics)
    _, expected = run(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **kwargs), topt, metrics=metrics)
    assert got == expected
    assert sched.last_epoch == STEPS
    if name != "default":
        assert got[-1][1] != got[0][1]  # the lr was reduced at least once


def test_reduce_lr_on_plateau_takes_a_tensor_and_checks_arguments():
    opt, _ = make_optimizers()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    sched.step(cr.tensor(1.0))
    sched.step(cr.tensor(2.0))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.005])
    with pytest.raises(ValueError, match="Factor"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="min_lrs"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1])
    with pytest.raises(ValueError, match="unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="up")


ROUND_TRIP = ["StepLR", "MultiStepLR", "CosineAnnealingLR-past-T_max", "LinearLR", "OneCycleLR-adam",
              "OneCycleLR-linear-three-phase", "SequentialLR-warmup-cosine"]


@pytest.mark.parametrize("name", ROUND_TRIP + ["ReduceLROnPlateau"])
def test_state_dict_round_trip(name):
    """Save optimizer and scheduler after 10 steps (through JSON), load them into fresh ones, step 20 more:
    the same lrs and momenta as an uninterrupted run."""
    if name == "ReduceLROnPlateau":
        kind = "SGD"
        metrics = [1.0 / (1 + t) if t < 8 else 0.2 for t in range(STEPS)]

        def factory(m, opt):
            return m.ReduceLROnPlateau(opt, patience=2, cooldown=1, factor=0.5)
    else:
        kind, factory = SCHEDULERS[name]
        metrics = None
    opt, _ = make_optimizers(kind)
    _, uninterrupted = run(lambda o: factory(lr_scheduler, o), opt, metrics=metrics)

    opt, _ = make_optimizers(kind)
    sched, first = run(lambda o: factory(lr_scheduler, o), opt, steps=10, metrics=metrics)
    opt_text = json.dumps(opt.state_dict()["param_groups"])
    sched_text = json.dumps(sched.state_dict())
    sched.step(*([] if metrics is None else [0.0]))  # later steps do not change the saved state

    fresh_opt, _ = make_optimizers(kind)
    fresh_sched = factory(lr_scheduler, fresh_opt)  # as in PyTorch: build the scheduler, then load both
    fresh_opt.load_state_dict({"state": {}, "param_groups": json.loads(opt_text)})
    fresh_sched.load_state_dict(json.loads(sched_text))
    _, rest = run(fresh_sched, fresh_opt, steps=STEPS - 10, metrics=metrics, start=10)
    assert first + rest == uninterrupted


def test_resuming_with_last_epoch():
    opt, _ = make_optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=4)
    first = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        first.step()
    resumed = lr_scheduler.ExponentialLR(opt, gamma=0.5, last_epoch=3)
    assert resumed.last_epoch == 4 and resumed.base_lrs == [0.1, 0.05]


def test_scheduler_argument_checks():
    opt, _ = make_optimizers()
    with pytest.raises(TypeError, match="not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="total_steps"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        lr_scheduler.OneCycleLR(opt, max_lr=[0.1], total_steps=10)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="momentum"):
        lr_scheduler.OneCycleLR(optim.Adagrad([cr.zeros(2, requires_grad=True)]), max_lr=0.1, total_steps=10)
    one_cycle = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=2)
    one_cycle.step()
    one_cycle.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        one_cycle.step()
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2)], milestones=[3])
    other, _ = make_optimizers()
    with pytest.raises(ValueError, match="same optimizer"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(other, 2)], milestones=[])


def test_closed_forms_agree_with_the_recursions():
    """step(epoch) uses the closed form; without other lr changes it equals the recursive value."""
    for make in (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
                 lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
                 lambda o: lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=6),
                 lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9),
                 lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, 5, 5])):
        opt, _ = make_optimizers()
        sched = make(opt)
        for t in range(1, 12):
            sched.step()
            recursive = sched.get_last_lr()
            sched._update_lr(t)
            assert sched.get_last_lr() == pytest.approx(recursive, rel=1e-12), (type(sched).__name__, t)
    opt, _ = make_optimizers()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(5):
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.1 * (1 + math.cos(math.pi * 5 / 10)) / 2, rel=1e-14)
