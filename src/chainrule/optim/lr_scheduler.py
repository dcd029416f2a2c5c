"""Learning-rate schedulers with PyTorch's names, arguments and values (``torch.optim.lr_scheduler``).

A scheduler owns nothing but a few numbers: it writes ``group['lr']`` (and, for ``OneCycleLR``, the momentum)
of its optimizer's parameter groups. Call ``scheduler.step()`` once per epoch (or per batch for ``OneCycleLR``)
*after* ``optimizer.step()``; ``ReduceLROnPlateau.step(metric)`` takes the monitored value.

Construction performs step 0: it records ``group['initial_lr']`` (``base_lrs``) and sets ``last_epoch = 0``.
The chainable schedulers compute the next lr from the current ``group['lr']`` exactly as PyTorch does, so the
sequences agree with PyTorch's to the last bit, and two schedulers on one optimizer compose as in PyTorch.
``state_dict()`` holds plain numbers, lists and dicts (JSON-serialisable).
"""

from __future__ import annotations

import copy
import math
import types
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from chainrule.errors import ArgumentError, ArgumentTypeError
from chainrule.ops.operands import check_choice, check_int, check_number, describe
from chainrule.optim.optimizer import Optimizer

__all__ = [
    "CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LinearLR", "MultiStepLR", "OneCycleLR",
    "ReduceLROnPlateau", "SequentialLR", "StepLR",
    "ChainedScheduler", "ConstantLR", "CosineAnnealingWarmRestarts", "CyclicLR", "LambdaLR", "MultiplicativeLR",
    "PolynomialLR",
]


def _check_optimizer(optimizer: Any, scheduler: str = "LRScheduler") -> None:
    if not isinstance(optimizer, Optimizer):
        raise ArgumentTypeError(
            f"{scheduler}: argument 'optimizer' must be an Optimizer, got {describe(optimizer)} "
            f"({type(optimizer).__name__} is not an Optimizer); hint: build the optimizer first, e.g. "
            f"{scheduler}(optim.SGD(model.parameters(), lr=0.1), ...)"
        )


def _check_gamma(scheduler: str, gamma: Any) -> float:
    """A multiplicative decay factor: a finite number ≥ 0 (a negative one would make the lr negative)."""
    return check_number(scheduler, "gamma", gamma, 0.0, finite=True,
                        hint="; hint: gamma multiplies the lr at each decay, e.g. 0.1")


def _check_epoch_count(scheduler: str, name: str, value: Any) -> int:
    return check_int(scheduler, name, value, 1, hint=f"; hint: {name} counts epochs (steps), pass an int ≥ 1")


def _per_group(name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """``value`` for each parameter group: a list/tuple of the right length, or one value repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ArgumentError(
                f"{name} must have the same length as optimizer.param_groups. {name} has {len(value)} values, "
                f"param_groups has {len(optimizer.param_groups)}."
            )
        return list(value)
    return [value] * len(optimizer.param_groups)


def _lrs(optimizer: Optimizer) -> list[float]:
    return [group["lr"] for group in optimizer.param_groups]


class LRScheduler:
    """Base class of the schedulers: subclasses implement ``get_lr`` (the lrs for ``last_epoch``).

    ``last_epoch`` counts the ``step()`` calls (0 after construction); ``base_lrs`` are the groups'
    ``initial_lr``. Passing ``last_epoch ≥ 0`` resumes a schedule and needs ``initial_lr`` in every group
    (as restored by ``optimizer.load_state_dict``).
    """

    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer, type(self).__name__)
        check_int(type(self).__name__, "last_epoch", last_epoch, -1,
                  hint="; hint: -1 starts a new schedule, n ≥ 0 resumes after epoch n")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a scheduler with "
                        f"last_epoch >= 0 (load the optimizer's state dict first)"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The lrs for ``last_epoch`` (called by ``step``; use ``get_last_lr`` to read the current ones)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step`` set, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and write the new lrs into the optimizer.

        ``epoch`` (deprecated in PyTorch, kept for compatibility) jumps to that epoch and uses the closed form
        where the scheduler has one.
        """
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (copies of plain numbers, lists and dicts)."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes saved by ``state_dict``."""
        self.__dict__.update(copy.deepcopy(dict(state_dict)))


class StepLR(LRScheduler):
    """lr ← lr·gamma every ``step_size`` epochs: lr_t = base_lr·gamma^⌊t/step_size⌋."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer, "StepLR")
        self.step_size = _check_epoch_count("StepLR", "step_size", step_size)
        self.gamma = _check_gamma("StepLR", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr ← lr·gamma at each milestone epoch (a milestone listed n times multiplies by gammaⁿ)."""

    def __init__(
        self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        _check_optimizer(optimizer, "MultiStepLR")
        # a sorted list (PyTorch: a Counter, so their order does not matter) that JSON keeps
        self.milestones = sorted(_milestones("MultiStepLR", milestones))
        self.gamma = _check_gamma("MultiStepLR", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        count = self.milestones.count(self.last_epoch)
        if count == 0:
            return _lrs(self.optimizer)
        return [group["lr"] * self.gamma**count for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** bisect_right(self.milestones, self.last_epoch) for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Multiply lr by a factor going linearly from ``start_factor`` to ``end_factor`` over ``total_iters``
    epochs (linear warm-up with the defaults): lr_t = base_lr·(s + (e − s)·min(t, T)/T)."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer, "LinearLR")
        check_number("LinearLR", "start_factor", start_factor, 0.0, 1.0, low_open=True,
                     hint="; hint: Starting multiplicative factor expected to be greater than 0 and less or equal to 1")
        check_number("LinearLR", "end_factor", end_factor, 0.0, 1.0,
                     hint="; hint: Ending multiplicative factor expected to be between 0 and 1")
        self.start_factor = start_factor
        self.end_factor = end_factor
        # the closed form divides by total_iters
        self.total_iters = _check_epoch_count("LinearLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _lrs(self.optimizer)
        return [
            group["lr"]
            * (
                1.0
                + (self.end_factor - self.start_factor)
                / (self.total_iters * self.start_factor + (self.last_epoch - 1) * (self.end_factor - self.start_factor))
            )
            for group in self.optimizer.param_groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base_lr
            * (
                self.start_factor
                + (self.end_factor - self.start_factor) * min(self.total_iters, self.last_epoch) / self.total_iters
            )
            for base_lr in self.base_lrs
        ]


class ExponentialLR(LRScheduler):
    """lr ← lr·gamma every epoch: lr_t = base_lr·gammaᵗ."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer, "ExponentialLR")
        self.gamma = _check_gamma("ExponentialLR", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return _lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from base_lr to ``eta_min`` over ``T_max`` epochs (SGDR without restarts).

    Closed form: η_t = η_min + ½(η_base − η_min)(1 + cos(π·t/T_max)). Like PyTorch, ``step()`` applies the
    recursive form η_t = η_min + (η_{t−1} − η_min)·(1 + cos(πt/T_max))/(1 + cos(π(t−1)/T_max)), which equals
    the closed form when nothing else changes the lr and composes with other schedulers; past T_max the lr
    climbs back up (period 2·T_max), as PyTorch's does.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer, "CosineAnnealingLR")
        # T_max is the half period: the schedule divides by it (PyTorch builds T_max=0, then fails at step)
        check_number("CosineAnnealingLR", "T_max", T_max, 0.0, low_open=True, finite=True,
                     hint="; hint: T_max is the number of epochs from base_lr down to eta_min, e.g. the epoch count")
        check_number("CosineAnnealingLR", "eta_min", eta_min, 0.0, finite=True,
                     hint="; hint: eta_min is the smallest lr, e.g. 0")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return _lrs(self.optimizer)
        if self._step_count == 1 and self.last_epoch > 0:
            return [
                self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(self.last_epoch * math.pi / self.T_max)) / 2
                for base_lr in self.base_lrs
            ]
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            return [
                group["lr"] + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
                for base_lr, group in zip(self.base_lrs, self.optimizer.param_groups, strict=True)
            ]
        return [
            (1 + math.cos(math.pi * self.last_epoch / self.T_max))
            / (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max))
            * (group["lr"] - self.eta_min)
            + self.eta_min
            for group in self.optimizer.param_groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base_lr in self.base_lrs
        ]


class _CompositeState:
    """state_dict of a scheduler made of schedulers, as PyTorch's: its own attributes, and each inner scheduler's
    state_dict under ``_schedulers`` (restored into the schedulers it was built with)."""

    _schedulers: list[LRScheduler]

    def state_dict(self) -> dict[str, Any]:
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        schedulers = state.pop("_schedulers")
        self.__dict__.update(copy.deepcopy(state))
        for scheduler, saved in zip(self._schedulers, schedulers, strict=True):
            scheduler.load_state_dict(saved)


class SequentialLR(_CompositeState, LRScheduler):
    """Run ``schedulers`` one after another, switching at the ``milestones`` epochs (e.g. warm-up, then cosine)::

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        cosine = CosineAnnealingLR(opt, T_max=95)
        sched = SequentialLR(opt, [warmup, cosine], milestones=[5])

    At a milestone the next scheduler restarts from its epoch 0 (its closed form at 0, i.e. its base lrs).
    """

    def __init__(
        self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int], last_epoch: int = -1
    ) -> None:
        _check_optimizer(optimizer, "SequentialLR")
        if not isinstance(schedulers, (list, tuple)):
            raise ArgumentTypeError(f"SequentialLR: argument 'schedulers' must be a list of schedulers, got "
                                    f"{describe(schedulers)}")
        if len(schedulers) < 1:
            raise ArgumentError("SequentialLR expects at least one scheduler, but got no scheduler (argument "
                                "'schedulers').")
        for i, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler):
                raise ArgumentTypeError(
                    f"SequentialLR: schedulers[{i}] must be a scheduler (LRScheduler), got {describe(scheduler)}"
                )
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ArgumentError(
                    "SequentialLR does not support `ReduceLROnPlateau` scheduler as it requires additional kwargs "
                    f"to be specified when calling `step`, but got one at index {i} in the given schedulers sequence."
                )
            if scheduler.optimizer is not optimizer:
                raise ArgumentError(
                    f"SequentialLR expects all schedulers to belong to the same optimizer, but got scheduler "
                    f"{type(scheduler).__name__} at index {i} with a different optimizer."
                )
        milestones = _milestones("SequentialLR", milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ArgumentError(
                "SequentialLR: Sequential Schedulers expects number of schedulers provided to be one more than the "
                f"number of milestone points, but got number of schedulers {len(schedulers)} and the number of "
                f"milestones to be equal to {len(milestones)} (argument 'milestones')"
            )
        if any(b <= a for a, b in zip(milestones, milestones[1:])) or any(m < 0 for m in milestones):
            # the scheduler that runs at an epoch is found by bisection: the milestones must be sorted
            raise ArgumentError(
                f"SequentialLR: argument 'milestones' must be increasing epochs ≥ 0, got {milestones}; hint: "
                f"milestone i is the epoch at which schedulers[i + 1] takes over"
            )
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # undo the steps the schedulers took when they were built
            group["lr"] = group["initial_lr"]
        for scheduler in self._schedulers:
            _undo_initial_step(scheduler)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


def _milestones(scheduler: str, milestones: Any) -> list[int]:
    """Milestone epochs: an iterable of ints."""
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Iterable):
        raise ArgumentTypeError(f"{scheduler}: argument 'milestones' must be a list of epochs (ints), got "
                                f"{describe(milestones)}; hint: e.g. milestones=[30, 80]")
    values = list(milestones)
    for m in values:
        check_int(scheduler, "milestones", m, hint=f"; hint: milestones are epochs, e.g. [30, 80], got {values!r}")
    return [int(m) for m in values]


def _undo_initial_step(scheduler: Any) -> None:
    if hasattr(scheduler, "_schedulers"):
        for s in scheduler._schedulers:
            _undo_initial_step(s)
    elif hasattr(scheduler, "last_epoch"):
        scheduler.last_epoch -= 1


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin), stepped once per batch; PyTorch's ``OneCycleLR``.

    lr goes from max_lr/div_factor up to max_lr over the first ``pct_start`` of ``total_steps`` (or
    ``epochs·steps_per_epoch``), then down to initial_lr/final_div_factor, by cosine (default) or linear
    annealing. ``three_phase=True`` goes back down to initial_lr symmetrically, then anneals to the minimum.
    With ``cycle_momentum`` (default True; the optimizer needs ``momentum`` or ``betas``) the momentum (β₁)
    moves the opposite way between ``max_momentum`` and ``base_momentum``. The lr is set on every group as
    ``initial_lr``, ``max_lr`` and ``min_lr`` entries, like PyTorch's.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: Literal["cos", "linear"] = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer, "OneCycleLR")
        self.optimizer = optimizer
        if total_steps is not None:
            self.total_steps = _check_epoch_count("OneCycleLR", "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_check_epoch_count("OneCycleLR", "epochs", epochs)
                                * _check_epoch_count("OneCycleLR", "steps_per_epoch", steps_per_epoch))
        else:
            raise ArgumentError("OneCycleLR: You must define either total_steps OR (epochs AND steps_per_epoch); "
                                "hint: e.g. total_steps=len(loader) * epochs")
        if not isinstance(pct_start, float):  # PyTorch's rule: a float, so that 1 (all warm-up) is not a typo
            raise ArgumentTypeError(f"OneCycleLR: Expected float between 0 and 1 pct_start (argument 'pct_start'), "
                                    f"but got {describe(pct_start)}; hint: e.g. pct_start=0.3")
        check_number("OneCycleLR", "pct_start", pct_start, 0.0, 1.0,
                     hint="; hint: pct_start is the fraction of the steps spent raising the lr, e.g. 0.3")
        check_choice("OneCycleLR", "anneal_strategy", anneal_strategy, ("cos", "linear"))
        for name, value in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            check_number("OneCycleLR", name, value, 0.0, low_open=True, finite=True,
                         hint=f"; hint: the lr is divided by {name}, e.g. 25")
        self.anneal_strategy = anneal_strategy
        phase1_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                {"end_step": phase1_end, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * self.total_steps) - 2, "start_lr": "max_lr", "end_lr": "initial_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
            ]
        else:
            self._schedule_phases = [
                {"end_step": phase1_end, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]
        _check_phases(self._schedule_phases, self.total_steps, pct_start)
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        for lr in max_lrs:
            check_number("OneCycleLR", "max_lr", lr, 0.0, finite=True, hint="; hint: the peak lr, e.g. 0.1")
        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ArgumentError(
                    f"OneCycleLR: optimizer must support momentum or beta1 with `cycle_momentum` option enabled "
                    f"({type(optimizer).__name__} has neither); hint: pass cycle_momentum=False"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for m_momentum, b_momentum, group in zip(max_momentums, base_momentums, optimizer.param_groups):
                    if self.use_beta1:
                        group["betas"] = (m_momentum, *group["betas"][1:])
                    else:
                        group["momentum"] = m_momentum
                    group["max_momentum"] = m_momentum
                    group["base_momentum"] = b_momentum
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            cos_out = math.cos(math.pi * pct) + 1
            return end + (start - end) / 2.0 * cos_out
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ArgumentError(
                f"OneCycleLR: Tried to step {step_num} times. The specified number of total steps is "
                f"{self.total_steps}; hint: build it with total_steps (or epochs · steps_per_epoch) covering the run"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                    break
                start_step = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs


def _check_phases(phases: list[dict[str, Any]], total_steps: int, pct_start: float) -> None:
    """Refuse a schedule that steps into a phase of zero length, where the interpolation divides by zero.

    Only the first phase (step 0 lands in it when it ends at 0) and the last (the final steps land in it
    whatever its bounds) can be entered with zero length; a middle one of zero length is skipped.
    """
    first, last = phases[0], phases[-1]
    starts = {0: 0.0, len(phases) - 1: phases[-2]["end_step"]}
    for i, phase in ((0, first), (len(phases) - 1, last)):
        if phase["end_step"] == starts[i]:
            raise ArgumentError(
                f"OneCycleLR: with total_steps={total_steps} and pct_start={pct_start}, phase {i + 1} of the cycle "
                f"has no steps (it starts and ends at step {starts[i]:g}); hint: use more total_steps or another "
                f"pct_start"
            )


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` when a metric has not improved for more than ``patience`` epochs.

    ``step(metric)`` once per epoch. "Improved" means below best·(1 − threshold) (mode 'min', threshold_mode
    'rel'), below best − threshold ('abs'), or above best·(1 + threshold) / best + threshold in mode 'max'.
    After a reduction, ``cooldown`` epochs pass before bad epochs count again. The lr never goes below
    ``min_lr`` (one value, or one per group), and a reduction smaller than ``eps`` is skipped.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: Literal["rel", "abs"] = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        check_number("ReduceLROnPlateau", "factor", factor, 0.0, 1.0, high_open=True,
                     hint="; hint: Factor should be < 1.0 (the lr is multiplied by it at each reduction), e.g. 0.1")
        _check_optimizer(optimizer, "ReduceLROnPlateau")
        check_int("ReduceLROnPlateau", "patience", patience)
        check_int("ReduceLROnPlateau", "cooldown", cooldown)
        check_number("ReduceLROnPlateau", "threshold", threshold, finite=True)
        check_number("ReduceLROnPlateau", "eps", eps, finite=True)
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ArgumentError(f"ReduceLROnPlateau: expected {len(optimizer.param_groups)} min_lrs (argument "
                                    f"'min_lr', one per parameter group), got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = _lrs(optimizer)
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ArgumentError(f"ReduceLROnPlateau: mode {mode!r} is unknown! (argument 'mode': 'min' or 'max')")
        if threshold_mode not in ("rel", "abs"):
            raise ArgumentError(f"ReduceLROnPlateau: threshold mode {threshold_mode!r} is unknown! (argument "
                                f"'threshold_mode': 'rel' or 'abs')")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record this epoch's ``metrics`` (a number, or a one-element Tensor/array) and reduce the lr if due."""
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _lrs(self.optimizer)

    def _reduce_lr(self) -> None:
        if len(self.optimizer.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"The number of param groups in the optimizer ({len(self.optimizer.param_groups)}) differs from "
                    f"when ReduceLROnPlateau was initialized ({len(self.min_lrs)}); set `min_lrs` to match."
                )
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for i, group in enumerate(self.optimizer.param_groups):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, self.min_lrs[i])
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)


# ----- LambdaLR, MultiplicativeLR, ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR, ----------
# ----- ChainedScheduler -------------------------------------------------------------------------------------


def _lr_lambdas(scheduler: str, optimizer: Optimizer, lr_lambda: Any) -> list[Callable[[int], float]]:
    """One function per parameter group: a list/tuple of the right length, or one function for every group."""
    if isinstance(lr_lambda, (list, tuple)):
        if len(lr_lambda) != len(optimizer.param_groups):
            raise ArgumentError(
                f"{scheduler}: Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)} "
                f"(argument 'lr_lambda'); hint: one function per parameter group, or a single function for all"
            )
        lambdas = list(lr_lambda)
    else:
        lambdas = [lr_lambda] * len(optimizer.param_groups)
    for fn in lambdas:
        if not callable(fn):
            raise ArgumentTypeError(
                f"{scheduler}: lr_lambda should be a function, but got {type(fn).__name__} (argument 'lr_lambda'); "
                f"hint: e.g. lr_lambda=lambda epoch: 0.95 ** epoch"
            )
    return lambdas


class _LambdaState:
    """state_dict without the functions, as PyTorch's: a plain function is saved as None, a callable object as a
    copy of its ``__dict__`` (restored into the scheduler's own callable by ``load_state_dict``)."""

    lr_lambdas: list[Callable[[int], float]]
    optimizer: Optimizer

    def state_dict(self) -> dict[str, Any]:
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else copy.deepcopy(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        self.__dict__.update(copy.deepcopy(state))
        for fn, attributes in zip(self.lr_lambdas, saved, strict=True):
            if attributes is not None:
                fn.__dict__.update(copy.deepcopy(attributes))


class LambdaLR(_LambdaState, LRScheduler):
    """lr_t = base_lr·lr_lambda(t), one function per group (or one for all), e.g.
    ``LambdaLR(opt, lr_lambda=lambda epoch: 0.95 ** epoch)``. ``state_dict`` drops the functions (PyTorch's rule).
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer, "LambdaLR")
        self.optimizer = optimizer
        self.lr_lambdas = _lr_lambdas("LambdaLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)]


class MultiplicativeLR(_LambdaState, LRScheduler):
    """lr_t = lr_{t−1}·lr_lambda(t) (the factor multiplies the current lr, so it composes with other schedulers)."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer, "MultiplicativeLR")
        self.optimizer = optimizer
        self.lr_lambdas = _lr_lambdas("MultiplicativeLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return _lrs(self.optimizer)
        return [group["lr"] * fn(self.last_epoch)
                for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups, strict=True)]


class ConstantLR(LRScheduler):
    """lr = base_lr·factor for the first ``total_iters`` epochs, then base_lr (a constant warm-up)."""

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer, "ConstantLR")
        # the step back up divides by factor
        check_number("ConstantLR", "factor", factor, 0.0, 1.0, low_open=True,
                     hint="; hint: Constant multiplicative factor expected to be between 0 and 1, e.g. 1/3")
        self.factor = factor
        self.total_iters = check_int("ConstantLR", "total_iters", total_iters, 0,
                                     hint="; hint: the number of epochs at the reduced lr, e.g. 5")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return _lrs(self.optimizer)
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lr_t = base_lr·(1 − min(t, T)/T)^power: polynomial decay to 0 over ``total_iters`` epochs T."""

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer, "PolynomialLR")
        self.total_iters = _check_epoch_count("PolynomialLR", "total_iters", total_iters)
        self.power = check_number("PolynomialLR", "power", power, finite=True,
                                  hint="; hint: the power of the decay, e.g. 1.0 (linear)")
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial or self.last_epoch > self.total_iters:
            return _lrs(self.optimizer)
        decay_factor = ((1.0 - self.last_epoch / self.total_iters)
                        / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [group["lr"] * decay_factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for base_lr in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""SGDR (Loshchilov & Hutter, 2017): cosine annealing from base_lr to ``eta_min`` over T_i epochs, then a
    restart at base_lr; T_0 = ``T_0``, T_{i+1} = T_i·``T_mult``.

    η_t = η_min + ½(η_base − η_min)(1 + cos(π·T_cur/T_i)), T_cur the epochs since the last restart.
    ``step(epoch)`` accepts a fractional epoch (steps within an epoch), as PyTorch's.
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer, "CosineAnnealingWarmRestarts")
        self.T_0 = check_int("CosineAnnealingWarmRestarts", "T_0", T_0, 1,
                             hint="; hint: Expected positive integer T_0, the epochs until the first restart")
        self.T_i = T_0
        self.T_mult = check_int("CosineAnnealingWarmRestarts", "T_mult", T_mult, 1,
                                hint="; hint: Expected integer T_mult >= 1, the growth of each period")
        self.eta_min = check_number("CosineAnnealingWarmRestarts", "eta_min", eta_min, finite=True,
                                    hint="; hint: the smallest lr, e.g. 0")
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:  # type: ignore[override]
        """Advance one epoch, or jump to ``epoch`` (a float for a fraction of an epoch)."""
        self._step_count += 1
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            check_number("CosineAnnealingWarmRestarts.step", "epoch", epoch, 0.0, finite=True,
                         hint="; hint: Expected non-negative epoch")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** (n)
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith, 2017), stepped once per batch: the lr goes from ``base_lr`` up to
    ``max_lr`` over ``step_size_up`` steps and back over ``step_size_down``; the amplitude is scaled per cycle
    ('triangular': 1, 'triangular2': halved each cycle) or per step ('exp_range': gamma^step), or by
    ``scale_fn``. With ``cycle_momentum`` the momentum (or β₁) moves the opposite way between ``max_momentum``
    and ``base_momentum``. ``state_dict`` drops the scale function (a callable object keeps its ``__dict__``).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: Literal["triangular", "triangular2", "exp_range"] = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: Literal["cycle", "iterations"] = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float = 0.8,
        max_momentum: float = 0.9,
        last_epoch: int = -1,
    ) -> None:
        name = "CyclicLR"
        _check_optimizer(optimizer, name)
        self.optimizer = optimizer
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        for lr in base_lrs:
            check_number(name, "base_lr", lr, 0.0, finite=True, hint="; hint: the lowest lr of a cycle, e.g. 1e-3")
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups, strict=True):
                group["lr"] = lr
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        for lr in self.max_lrs:
            check_number(name, "max_lr", lr, 0.0, finite=True, hint="; hint: the highest lr of a cycle, e.g. 0.1")
        up = check_number(name, "step_size_up", step_size_up, 0.0, low_open=True, finite=True,
                          hint="; hint: the steps from base_lr up to max_lr, e.g. 2000")
        down = up if step_size_down is None else check_number(
            name, "step_size_down", step_size_down, 0.0, finite=True, hint="; hint: e.g. equal to step_size_up")
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if scale_fn is None:
            check_choice(name, "mode", mode, ("triangular", "triangular2", "exp_range"))
        elif not callable(scale_fn):
            raise ArgumentTypeError(f"{name}: argument 'scale_fn' must be a function or None, got "
                                    f"{describe(scale_fn)}")
        check_choice(name, "scale_mode", scale_mode, ("cycle", "iterations"))
        self.mode = mode
        self.gamma = check_number(name, "gamma", gamma, finite=True, hint="; hint: exp_range's decay, e.g. 0.99")
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ArgumentError(
                    f"{name}: optimizer must support momentum or beta1 with `cycle_momentum` option enabled "
                    f"({type(optimizer).__name__} has neither); hint: pass cycle_momentum=False"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            self.max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for m_momentum, b_momentum, group in zip(self.max_momentums, self.base_momentums,
                                                         optimizer.param_groups, strict=True):
                    if self.use_beta1:
                        group["betas"] = (m_momentum, *group["betas"][1:])
                    else:
                        group["momentum"] = m_momentum
                    group["max_momentum"] = m_momentum
                    group["base_momentum"] = b_momentum
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self) -> None:
        """The built-in modes set their scale mode (as PyTorch: the argument is ignored for them)."""
        if self._scale_fn_custom is not None:
            return
        if self.mode in ("triangular", "triangular2"):
            self.scale_mode = "cycle"
        elif self.mode == "exp_range":
            self.scale_mode = "iterations"

    def scale_fn(self, x: float) -> float:
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> list[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        at = cycle if self.scale_mode == "cycle" else self.last_epoch
        lrs = [base_lr + (max_lr - base_lr) * scale_factor * self.scale_fn(at)
               for base_lr, max_lr in zip(self.base_lrs, self.max_lrs, strict=True)]
        if self.cycle_momentum:
            for group, base_m, max_m in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums,
                                            strict=True):
                momentum = max_m - (max_m - base_m) * scale_factor * self.scale_fn(at)
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs

    def state_dict(self) -> dict[str, Any]:
        fn = self._scale_fn_custom
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
                 if k not in ("optimizer", "_scale_fn_custom")}
        state["_scale_fn_custom"] = (None if fn is None or isinstance(fn, types.FunctionType)
                                     else copy.deepcopy(fn.__dict__))
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        fn = state.pop("_scale_fn_custom", None)
        self.__dict__.update(copy.deepcopy(state))
        if fn is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(copy.deepcopy(fn))
        self._init_scale_fn()


class ChainedScheduler(_CompositeState, LRScheduler):
    """Step several schedulers of one optimizer together, each ``step()`` calling every one in turn (their
    factors compose: e.g. ConstantLR warm-up × ExponentialLR decay)."""

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        name = "ChainedScheduler"
        if not isinstance(schedulers, (list, tuple)):
            raise ArgumentTypeError(f"{name}: argument 'schedulers' must be a list of schedulers, got "
                                    f"{describe(schedulers)}")
        if len(schedulers) < 1:
            raise ArgumentError(f"{name} expects at least one scheduler to be chained, but got no scheduler.")
        optimizer = optimizer if optimizer is not None else getattr(schedulers[0], "optimizer", None)
        for i, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler):
                raise ArgumentTypeError(f"{name}: schedulers[{i}] must be a scheduler (LRScheduler), got "
                                        f"{describe(scheduler)}")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ArgumentError(
                    f"{name} does not support `ReduceLROnPlateau` scheduler as it requires additional kwargs to be "
                    f"specified when calling `step`, but got one at index {i} in the given schedulers sequence."
                )
            if scheduler.optimizer is not optimizer:
                raise ArgumentError(
                    f"{name} expects all schedulers to belong to the same optimizer, but got scheduler "
                    f"{type(scheduler).__name__} at index {i} with a different optimizer."
                )
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._last_lr = _lrs(self._schedulers[-1].optimizer)

    def step(self) -> None:  # type: ignore[override]
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = _lrs(self._schedulers[-1].optimizer)
