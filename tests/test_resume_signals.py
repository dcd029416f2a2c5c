"""Stopping a training run with SIGINT, SIGTERM or SIGKILL at any moment, then resuming it, ends bit for bit where
an uninterrupted run ends: parameters, optimizer, scheduler and generator states, and every metric but the
wall-clock ones.

Each case runs in a child process forked from one long-lived helper process (which has chainrule imported and
the data loaded, so a case costs a fork, not an interpreter start). The child patches one function so that its
Nth call sends the signal to the child itself (N drawn from a generator seeded by the case's name) — in the
middle of a forward pass, of a backward pass, of the optimizer's update, of an evaluation, of a checkpoint
write — or sends it from a timer after a random delay. A second child then resumes the run (or, when the
first was killed before any checkpoint existed, starts it again), and the files are compared with those of an
uninterrupted run made by the same helper.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainrule import io
from chainrule.io.archive import temp_files
from chainrule.training import RUN_FILES

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the helper forks one child per case (POSIX)")

CONFIGS = {
    "sgd-onecycle": dict(model="mlp", dataset="digits", batch_size=64, optimizer="sgd", lr=0.05, momentum=0.9,
                         schedule="onecycle", seed=3, epochs=3, limit_train=480, limit_test=200),
    "adam-cosine-warmup": dict(model="mlp", dataset="digits", batch_size=64, optimizer="adam", lr=0.003,
                               weight_decay=1e-4, schedule="cosine", warmup_epochs=1, seed=5, epochs=3,
                               limit_train=450, limit_test=200),
}
TIMING = ("epoch_time_s", "samples_per_s")  # wall-clock fields: the only ones allowed to differ
SIGNALS = ("SIGINT", "SIGTERM", "SIGKILL")
# moment → (the patched call counted, the range N is drawn from); 3 epochs of 8 steps, 5 evaluation batches each
MOMENTS = {
    "startup-checkpoint-write": ("savez", (1, 1)),
    "before-a-step": ("train-input", (1, 24)),
    "mid-forward": ("linear-forward", (1, 72)),
    "mid-backward": ("backward-node", (1, 144)),
    "mid-optimizer-step": ("param-update", (1, 144)),
    "mid-evaluation": ("eval-input", (1, 15)),
    "mid-checkpoint-write": ("savez", (2, 4)),
    "before-a-rename": ("replace", (1, 11)),
    "timer": ("timer", (0, 0)),
}
CASES = [(sig, moment) for moment in MOMENTS for sig in SIGNALS]
CASES += [(sig, "again-while-saving") for sig in ("SIGINT", "SIGTERM")]  # a second signal during the save

HELPER = textwrap.dedent('''
    import json, os, signal, sys, threading, time, traceback
    import numpy as np
    import chainrule.io.archive as fmt
    import chainrule.training as t
    import chainrule.viz.plots as plots
    from chainrule import nn, optim
    from chainrule.autograd.function import Function

    plots.plot_curves = lambda history, path: path  # the curves are not compared; drawing them is slow
    t.EVAL_BATCH_SIZE = 40  # several evaluation batches, so that a signal can land between two of them
    cache = {}
    load_split = t.load_split

    def cached_split(config, train):
        key = (config.dataset, train, config.limit_train if train else config.limit_test)
        if key not in cache:
            cache[key] = load_split(config, train)
        return cache[key]

    t.load_split = cached_split

    def patch(owner, name, before=None, after=None):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            if before:
                before(*args)
            result = original(*args, **kwargs)
            if after:
                after(*args)
            return result

        setattr(owner, name, wrapper)

    def arm(sig, what, n, delay):
        calls = {"n": 0, "eval": False, "again": False}
        me = os.getpid()

        def count(*_):
            calls["n"] += 1
            if calls["n"] == n:
                os.kill(me, sig)
                calls["again"] = what == "again"

        evaluate = t._evaluate

        def in_eval(*args, **kwargs):
            calls["eval"] = True
            try:
                return evaluate(*args, **kwargs)
            finally:
                calls["eval"] = False

        t._evaluate = in_eval
        if what == "savez":
            patch(np, "savez", after=count)  # the archive is in the temporary file, not yet renamed
        elif what == "replace":
            patch(os, "replace", before=count)
        elif what == "linear-forward":
            patch(nn.Linear, "forward", before=lambda layer, *_: layer.training and count())
        elif what == "backward-node":
            patch(Function, "run_backward", before=count)
        elif what == "param-update":
            patch(optim.SGD, "_update", before=count)
            patch(optim.Adam, "_update", before=count)
        elif what in ("train-input", "eval-input", "again"):
            def on_input(*_):
                if calls["eval"] == (what == "eval-input"):
                    count()
            patch(t, "to_input", before=on_input)
            if what == "again":  # the same signal once more, in the middle of the save that the first one asked
                patch(np, "savez", after=lambda *_: calls["again"] and os.kill(me, sig))
        elif what == "timer":
            timer = threading.Timer(delay, os.kill, (me, sig))
            started = []

            def start(*_):
                time.sleep(0.002)  # spreads the run a little, so that the delay lands inside it
                if not started:
                    started.append(timer.start())

            patch(t, "to_input", before=start)
            return timer
        return None

    def case(cmd):
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, whatever started the tests
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        timer = arm(getattr(signal, cmd["signal"]), cmd["what"], cmd["n"], cmd["delay"]) if cmd["signal"] else None
        config = None if cmd["resume"] else t.RunConfig(**cmd["config"])
        try:
            t.run(config, cmd["out"], resume=cmd["resume"], progress=False, log=lambda *_: None)
        except t.Interrupted as e:
            return 100 + e.signum
        except KeyboardInterrupt:
            return 99  # a Ctrl-C that run() did not turn into a stop at a step boundary
        finally:
            if timer is not None:
                timer.cancel()
        return 0

    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["config"]:  # loaded here, once: every child forked after has it
            cached_split(t.RunConfig(**cmd["config"]), True)
            cached_split(t.RunConfig(**cmd["config"]), False)
        pid = os.fork()
        if pid == 0:
            try:
                code = case(cmd)
            except BaseException:
                traceback.print_exc()
                code = 70
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"status": os.waitstatus_to_exitcode(status)}), flush=True)
''')


class Helper:
    """The helper process: ``train(...)`` runs one training in a fresh fork of it and returns the exit status."""

    def __init__(self) -> None:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "MPLBACKEND": "Agg"}
        self.process = subprocess.Popen([sys.executable, "-c", HELPER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env)

    def train(self, out: Path, config: str | None = None, signal_name: str | None = None, what: str = "",
              n: int = 0, delay: float = 0.0) -> int:
        cmd = {"out": str(out), "config": CONFIGS.get(config or ""), "resume": config is None,
               "signal": signal_name, "what": what, "n": n, "delay": delay}
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(cmd) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer, "the helper process ended"
        return json.loads(answer)["status"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()


@pytest.fixture(scope="module")
def helper() -> Iterator[Helper]:
    h = Helper()
    try:
        yield h
    finally:
        h.close()


@pytest.fixture(scope="module")
def references(helper: Helper, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folders = {}
    for name in CONFIGS:
        folders[name] = tmp_path_factory.mktemp(f"straight-{name}")
        assert helper.train(folders[name], name) == 0
    return folders


def _without_timing(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def _assert_same(a: Any, b: Any, where: str) -> None:
    """Equal bit for bit: same types, same keys, arrays of the same dtype, shape and bytes."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), where
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} vs {list(b)}"
        for key in a:
            _assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b or (a != a and b != b), f"{where}: {a!r} vs {b!r}"


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return _without_timing(list(csv.DictReader(f)))


def assert_same_run(reference: Path, resumed: Path) -> None:
    a, b = io.load_checkpoint(reference / "checkpoint.npz"), io.load_checkpoint(resumed / "checkpoint.npz")
    assert (a.epoch, a.step) == (b.epoch, b.step)
    for part in ("model_state", "optimizer_state", "scheduler_state", "rng_state", "config"):
        _assert_same(getattr(a, part), getattr(b, part), part)
    extra_a, extra_b = dict(a.extra), dict(b.extra)
    history_a, history_b = extra_a.pop("history"), extra_b.pop("history")
    _assert_same(extra_a, extra_b, "extra")
    _assert_same(_without_timing(history_a), _without_timing(history_b), "history")
    rows = [json.loads(line) for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    _assert_same(_without_timing(rows), _without_timing(history_a), "metrics.jsonl")
    assert _csv_rows(resumed / "metrics.csv") == _csv_rows(reference / "metrics.csv")
    assert (resumed / "config.json").read_text() == (reference / "config.json").read_text()
    assert [name for name in RUN_FILES for _ in temp_files(resumed / name)] == []  # nothing half-written left


def _draw(sig: str, moment: str) -> tuple[str, int, float]:
    """The case's configuration, N and timer delay, from a generator seeded by the case's name."""
    rng = random.Random(f"{sig}/{moment}")
    low, high = MOMENTS.get(moment, ("", (1, 24)))[1]
    return rng.choice(sorted(CONFIGS)), rng.randint(low, high), rng.uniform(0.0, 0.15)


@pytest.mark.parametrize(("sig", "moment"), CASES, ids=[f"{s}-{m}" for s, m in CASES])
def test_a_run_stopped_by_a_signal_then_resumed_ends_as_an_uninterrupted_run(sig, moment, helper, references,
                                                                           tmp_path):
    config, n, delay = _draw(sig, moment)
    what = "again" if moment == "again-while-saving" else MOMENTS[moment][0]
    out = tmp_path / "run"
    status = helper.train(out, config, sig, what, n, delay)
    signum = getattr(signal, sig)
    if moment == "timer":  # a signal may come after the end of a fast run: then there was nothing to stop
        assert status in ((-signum if sig == "SIGKILL" else 100 + signum), 0)
    else:
        assert status == (-signum if sig == "SIGKILL" else 100 + signum)  # Interrupted, with the signal's number
    leftovers = [t for name in RUN_FILES for t in temp_files(out / name)]
    if sig == "SIGKILL" and what in ("savez", "replace"):  # killed between writing a temporary file and its rename
        assert len(leftovers) == 1
        if what == "savez":
            assert leftovers == temp_files(out / "checkpoint.npz")
            with pytest.raises(io.CheckpointError, match="temporary file of an unfinished write"):
                io.load_checkpoint(leftovers[0])
    else:
        assert leftovers == []  # SIGINT and SIGTERM wait for the write to finish
    if (out / "checkpoint.npz").exists():
        assert helper.train(out) == 0  # --resume
    else:  # killed before the first checkpoint: nothing to resume, and the folder does not count as a run
        assert sig == "SIGKILL" and n == 1
        assert helper.train(out, config) == 0
    assert_same_run(references[config], out)
