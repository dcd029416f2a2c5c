"""LambdaLR, MultiplicativeLR, ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR and
ChainedScheduler against torch.optim.lr_scheduler: the lr (and momentum) sequences over many steps equal
PyTorch's to the last bit, for two parameter groups; state_dict round trips through JSON (without the functions,
as PyTorch); the one-line refusals."""

from __future__ import annotations

import json

import pytest
import torch
from test_lr_scheduler import make_optimizers, pair, run

import chainrule as cr
from chainrule.errors import ChainruleError
from chainrule.optim import lr_scheduler

STEPS = 60


class Decay:
    """A callable object: its attributes survive a state_dict round trip (a plain function's do not)."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate**epoch


def warm_restarts_fractional(m, opt):
    return m.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2, eta_min=1e-3)


def chained(m, opt):
    return m.ChainedScheduler([m.ConstantLR(opt, factor=0.5, total_iters=4), m.ExponentialLR(opt, gamma=0.9),
                               m.PolynomialLR(opt, total_iters=40, power=2.0)])


SCHEDULERS = {
    "LambdaLR": ("SGD", lambda m, opt: m.LambdaLR(opt, lambda epoch: 0.95**epoch)),
    "LambdaLR-per-group": ("SGD", lambda m, opt: m.LambdaLR(opt, [lambda e: 1 / (1 + e), lambda e: 0.9**e])),
    "MultiplicativeLR": ("SGD", lambda m, opt: m.MultiplicativeLR(opt, lambda epoch: 0.97)),
    "MultiplicativeLR-per-group": ("SGD", lambda m, opt: m.MultiplicativeLR(opt, [Decay(0.99), lambda e: 0.9])),
    "ConstantLR": ("SGD", lambda m, opt: m.ConstantLR(opt)),
    "ConstantLR-factor": ("SGD", lambda m, opt: m.ConstantLR(opt, factor=0.1, total_iters=12)),
    "PolynomialLR": ("SGD", lambda m, opt: m.PolynomialLR(opt)),
    "PolynomialLR-power": ("SGD", lambda m, opt: m.PolynomialLR(opt, total_iters=45, power=0.5)),
    "CosineAnnealingWarmRestarts": ("SGD", lambda m, opt: m.CosineAnnealingWarmRestarts(opt, T_0=10)),
    "CosineAnnealingWarmRestarts-T_mult": ("SGD", warm_restarts_fractional),
    "CyclicLR": ("SGD", lambda m, opt: m.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=7)),
    "CyclicLR-triangular2": ("SGD", lambda m, opt: m.CyclicLR(opt, base_lr=[0.01, 0.02], max_lr=0.2, step_size_up=5,
                                                              step_size_down=9, mode="triangular2",
                                                              base_momentum=[0.7, 0.75], max_momentum=0.95)),
    "CyclicLR-exp_range-adam": ("Adam", lambda m, opt: m.CyclicLR(opt, 0.001, 0.01, step_size_up=6, mode="exp_range",
                                                                  gamma=0.97)),
    "CyclicLR-scale_fn": ("SGD", lambda m, opt: m.CyclicLR(opt, 0.01, 0.1, step_size_up=4, cycle_momentum=False,
                                                           scale_fn=lambda x: 1 / (1 + x), scale_mode="iterations")),
    "ChainedScheduler": ("SGD", chained),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_lr_sequence_equals_torch(name):
    kind, factory = SCHEDULERS[name]
    ours, theirs = pair(factory)
    opt, topt = make_optimizers(kind)
    _, got = run(ours, opt, steps=STEPS)
    _, expected = run(theirs, topt, steps=STEPS)
    assert got == expected  # exact: the same float arithmetic in the same order


@pytest.mark.parametrize("T_mult", [1, 3])
def test_warm_restarts_with_fractional_epochs_equal_torch(T_mult):
    epochs = [0.0, 0.5, 1.25, 3.9, 4.0, 7.5, 13.0, 20.2, 40.7, 41.0]
    lrs = []
    for m, opt in zip((lr_scheduler, torch.optim.lr_scheduler), make_optimizers()):
        sched = m.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=T_mult, eta_min=0.001)
        seq = []
        for epoch in epochs:
            opt.step()
            sched.step(epoch)
            seq.append((sched.get_last_lr(), sched.last_epoch, sched.T_i))
        lrs.append(seq)
    assert lrs[0] == lrs[1]


ROUND_TRIP = ["LambdaLR", "MultiplicativeLR-per-group", "ConstantLR-factor", "PolynomialLR-power",
              "CosineAnnealingWarmRestarts-T_mult", "CyclicLR-triangular2", "CyclicLR-exp_range-adam",
              "ChainedScheduler"]


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_state_dict_round_trip(name):
    """Save optimizer and scheduler after 10 steps (through JSON: no functions in it), load them into fresh
    ones, step on: the same lrs and momenta as an uninterrupted run."""
    kind, factory = SCHEDULERS[name]
    opt, _ = make_optimizers(kind)
    _, uninterrupted = run(lambda o: factory(lr_scheduler, o), opt, steps=STEPS)

    opt, _ = make_optimizers(kind)
    sched, first = run(lambda o: factory(lr_scheduler, o), opt, steps=10)
    opt_text = json.dumps(opt.state_dict()["param_groups"])
    sched_text = json.dumps(sched.state_dict())
    sched.step()  # later steps do not change the saved state

    fresh_opt, _ = make_optimizers(kind)
    fresh_sched = factory(lr_scheduler, fresh_opt)
    fresh_opt.load_state_dict({"state": {}, "param_groups": json.loads(opt_text)})
    fresh_sched.load_state_dict(json.loads(sched_text))
    _, rest = run(fresh_sched, fresh_opt, steps=STEPS - 10, start=10)
    assert first + rest == uninterrupted


def test_lambda_state_dict_drops_functions_and_keeps_callable_objects_as_torch():
    decay = Decay(0.5)
    for m, opt in zip((lr_scheduler, torch.optim.lr_scheduler), make_optimizers()):
        sched = m.LambdaLR(opt, [lambda e: 1.0, decay])
        sd = sched.state_dict()
        assert sd["lr_lambdas"] == [None, {"rate": 0.5}]
        assert "optimizer" not in sd
    ours = lr_scheduler.LambdaLR(make_optimizers()[0], [lambda e: 1.0, Decay(0.9)])
    ours.load_state_dict(sd)
    assert ours.lr_lambdas[1].rate == 0.5


def one_line(error, *fragments):
    text = str(error.value)
    assert isinstance(error.value, ChainruleError) and "\n" not in text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def test_argument_checks():
    opt, _ = make_optimizers()
    adagrad = cr.optim.Adagrad([cr.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError) as e:
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
    one_line(e, "LambdaLR", "Expected 2 lr_lambdas, but got 1")
    with pytest.raises(TypeError) as e:
        lr_scheduler.MultiplicativeLR(opt, 0.9)
    one_line(e, "MultiplicativeLR", "lr_lambda should be a function, but got float")
    with pytest.raises(ValueError) as e:
        lr_scheduler.ConstantLR(opt, factor=1.5)
    one_line(e, "ConstantLR", "'factor' must lie in (0, 1]")
    with pytest.raises(ValueError) as e:
        lr_scheduler.PolynomialLR(opt, total_iters=0)
    one_line(e, "PolynomialLR", "total_iters")
    with pytest.raises(ValueError) as e:
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)
    one_line(e, "CosineAnnealingWarmRestarts", "T_0")
    with pytest.raises(TypeError) as e:
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=5, T_mult=1.5)
    one_line(e, "CosineAnnealingWarmRestarts", "T_mult")
    with pytest.raises(ValueError) as e:
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=5).step(-1)
    one_line(e, "Expected non-negative epoch")
    with pytest.raises(ValueError) as e:
        lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="sine")
    one_line(e, "CyclicLR", "'mode'")
    with pytest.raises(ValueError) as e:
        lr_scheduler.CyclicLR(adagrad, 0.01, 0.1)
    one_line(e, "CyclicLR", "optimizer must support momentum or beta1", "cycle_momentum=False")
    with pytest.raises(ValueError) as e:
        lr_scheduler.CyclicLR(opt, [0.01], 0.1)
    one_line(e, "base_lr must have the same length as optimizer.param_groups")
    with pytest.raises(ValueError) as e:
        lr_scheduler.ChainedScheduler([])
    one_line(e, "ChainedScheduler expects at least one scheduler")
    other, _ = make_optimizers()
    with pytest.raises(ValueError) as e:
        lr_scheduler.ChainedScheduler([lr_scheduler.ConstantLR(opt), lr_scheduler.ConstantLR(other)])
    one_line(e, "ChainedScheduler expects all schedulers to belong to the same optimizer")
    with pytest.raises(ValueError) as e:
        lr_scheduler.ChainedScheduler([lr_scheduler.ReduceLROnPlateau(opt)])
    one_line(e, "ChainedScheduler does not support `ReduceLROnPlateau`")
