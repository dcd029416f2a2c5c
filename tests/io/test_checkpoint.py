"""chainrule.io: pickle-free save/load round trips, resumable checkpoints, strict all-or-nothing loading,
atomic writes (simulated crashes and a SIGKILLed writer) and refusal of damaged or foreign files."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import random
import re
import select
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.io as cio
import chainrule.nn as nn
import chainrule.optim as optim
from chainrule.errors import ChainruleError
from chainrule.io import CheckpointError, CheckpointStateError
from chainrule.io.archive import HEADER_KEY
from chainrule.nn import StateDictError
from chainrule.optim import lr_scheduler

REPO = Path(__file__).resolve().parents[2]


# ----- helpers -----------------------------------------------------------------------------------------------
def assert_same(a: Any, b: Any, where: str = "obj") -> None:
    """Deep equality that also checks types, dtypes and shapes (NaN equals NaN)."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), f"{where}: {type(b)}"
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {b.dtype}{b.shape} != {a.dtype}{a.shape}"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), where
        return
    assert type(a) is type(b), f"{where}: {type(b).__name__} != {type(a).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(b)} != {list(a)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    elif isinstance(a, float):
        assert a == b and np.signbit(a) == np.signbit(b), where
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and (a == b or (a != a and b != b)), where
    else:
        assert a == b, where


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def write_npz(path: Path, header: Any = None, **members: Any) -> None:
    """A hand-made archive: ``header`` (a dict, JSON text or bytes) becomes the chainrule entry."""
    if header is not None:
        if isinstance(header, dict):
            header = json.dumps(header)
        if isinstance(header, str):
            header = header.encode()
        members[HEADER_KEY] = np.frombuffer(header, dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **members)


def header_of(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as npz:
        return json.loads(npz[HEADER_KEY].tobytes())


def arrays_of(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files if k != HEADER_KEY}


def mlp(seed: int, dropout_seed: int | None = None, dtype: Any = np.float32) -> nn.Sequential:
    g = np.random.default_rng(seed)
    layers = [nn.Linear(4, 8, generator=g, dtype=dtype), nn.Tanh()]
    if dropout_seed is not None:
        layers.append(nn.Dropout(0.25, generator=np.random.default_rng(dropout_seed)))
    layers.append(nn.Linear(8, 3, generator=g, dtype=dtype))
    return nn.Sequential(*layers)


def snapshot(model: nn.Module, opt: optim.Optimizer | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"model": {k: v.numpy().copy() for k, v in model.state_dict().items()}}
    if opt is not None:
        out["opt"] = opt.state_dict()
    return out


def assert_unchanged(before: dict[str, Any], model: nn.Module, opt: optim.Optimizer | None = None) -> None:
    assert_same(before, snapshot(model, opt))


# ----- save / load round trips ---------------------------------------------------------------------------------
def test_round_trip_of_a_nested_structure(tmp_path: Path) -> None:
    obj = {
        "weights": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
        "ints": np.arange(5, dtype=np.int64),
        "mask": np.array([True, False, True]),
        "zero_d": np.array(3.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "empty3": np.ones((2, 0, 4), dtype=np.int16),
        "text": "unicode: héllo — 日本語 🚀",
        "nothing": None,
        "flags": [True, False],
        "numbers": [0, -7, 2**100, 1.0, -0.0, 1e-300, float("nan"), float("inf"), float("-inf")],
        "nested": {"list": [1, [2, [3, (4, 5)]], {"deep": (np.int32(7), np.float16(0.5))}], "tuple": (1, "a", None)},
        "empty_containers": [[], {}, ()],
        "bytes": b"\x00\xffraw",
        "np_scalars": [np.float32(1.25), np.int64(-3), np.bool_(True), np.uint8(200), np.complex64(1 + 2j)],
        "$type": "a key that is the format's tag",
        "keys": {1: "int", 2.5: "float", None: "none", False: "bool", ("a", 1): "tuple", "s": "str"},
    }
    path = tmp_path / "obj.npz"
    cio.save(path, obj)
    assert_same(obj, cio.load(path))
    assert_same(obj, cio.load(str(path)))


DTYPES = [
    np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
    np.uint64, np.bool_, np.complex64, np.complex128, ">f8", ">i4",
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).str)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3), (2, 0, 3), (1, 1, 1, 5)], ids=str)
def test_arrays_keep_dtype_shape_and_bits(tmp_path: Path, dtype: Any, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    array = np.asarray(rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path / "a.npz"
    cio.save(path, {"x": array, "scalar": array.reshape(-1)[0] if array.size else None})
    back = cio.load(path)
    assert_same(array, back["x"])
    assert back["x"].dtype.str == np.dtype(dtype).str
    assert back["x"].flags.writeable


def test_string_datetime_and_layout_arrays(tmp_path: Path) -> None:
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    obj = {
        "unicode": np.array(["ab", "日本", ""]),
        "bytes": np.array([b"x", b"yz"]),
        "dates": np.array(["2024-01-01", "2025-06-30"], dtype="datetime64[D]"),
        "deltas": np.array([1, 2], dtype="timedelta64[s]"),
        "strided": base[::2, 1::2],
        "fortran": np.asfortranarray(base),
        "transposed": base.T,
    }
    path = tmp_path / "s.npz"
    cio.save(path, obj)
    back = cio.load(path)
    for key, value in obj.items():
        assert_same(np.asarray(value), back[key], key)


def test_tensors_come_back_as_numpy_arrays(tmp_path: Path) -> None:
    t = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    i = cr.arange(4)
    path = tmp_path / "t.npz"
    cio.save(path, {"t": t, "i": i, "list": [t]})
    back = cio.load(path)
    assert type(back["t"]) is np.ndarray and back["t"].dtype == np.float32
    assert np.array_equal(back["t"], t.numpy()) and np.array_equal(back["list"][0], t.numpy())
    assert back["i"].dtype == np.int64
    assert header_of(path)["tree"]["t"]["$type"] == "tensor"  # the JSON still says it was a Tensor


def test_tuples_and_lists_are_kept_apart(tmp_path: Path) -> None:
    obj = {"betas": (0.9, 0.999), "milestones": [1, 2], "mixed": [(1, [2, (3,)]), ()]}
    path = tmp_path / "tl.npz"
    cio.save(path, obj)
    assert_same(obj, cio.load(path))


def test_the_file_is_a_plain_npz_with_a_json_document(tmp_path: Path) -> None:
    path = tmp_path / "doc.bin"  # no suffix is added
    cio.save(path, {"w": np.ones((2, 3), np.float32), "lr": 0.1, "name": "run-1"})
    assert os.listdir(tmp_path) == ["doc.bin"]
    assert zipfile.is_zipfile(path)
    doc = header_of(path)
    assert doc["format"] == "chainrule" and doc["version"] == cio.FORMAT_VERSION and doc["kind"] == "object"
    assert doc["tree"]["lr"] == 0.1 and doc["tree"]["name"] == "run-1"
    ref = doc["tree"]["w"]
    assert ref == {"$type": "ndarray", "key": "a0", "dtype": "<f4", "shape": [2, 3]}
    assert set(arrays_of(path)) == {"a0"}


def test_compressed_archives_load_the_same(tmp_path: Path) -> None:
    obj = {"z": np.zeros((100, 100), np.float32), "r": np.random.default_rng(1).standard_normal(50)}
    cio.save(tmp_path / "plain.npz", obj)
    cio.save(tmp_path / "small.npz", obj, compress=True)
    assert_same(obj, cio.load(tmp_path / "small.npz"))
    assert (tmp_path / "small.npz").stat().st_size < (tmp_path / "plain.npz").stat().st_size


@pytest.mark.parametrize(
    "bad, where",
    [
        ({"f": lambda x: x}, "obj['f']"),
        ({"a": [1, {2, 3}]}, "obj['a'][1]"),
        ({"o": np.array([{}, None], dtype=object)}, "obj['o']"),
        ({"rec": np.zeros(2, dtype=[("a", "i4")])}, "obj['rec']"),
        ({frozenset(): 1}, "obj"),
    ],
)
def test_unsupported_values_raise_and_write_nothing(tmp_path: Path, bad: Any, where: str) -> None:
    path = tmp_path / "x.npz"
    cio.save(path, {"ok": 1})
    before = path.read_bytes()
    with pytest.raises(TypeError, match=re.escape(where)):
        cio.save(path, bad)
    assert path.read_bytes() == before and leftovers(tmp_path) == []


def test_circular_structures_are_refused(tmp_path: Path) -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="circular"):
        cio.save(tmp_path / "c.npz", {"loop": loop})
    shared = [1, 2]
    cio.save(tmp_path / "s.npz", {"a": shared, "b": shared})  # shared, not circular: fine
    assert cio.load(tmp_path / "s.npz") == {"a": [1, 2], "b": [1, 2]}


def _scheduler_cases(opt: optim.Optimizer) -> list[Any]:
    return [
        lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
        lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.1),
        lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=3),
        lr_scheduler.ExponentialLR(opt, gamma=0.9),
        lr_scheduler.CosineAnnealingLR(opt, T_max=5),
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=20),
        lr_scheduler.ReduceLROnPlateau(opt, patience=1),
        lr_scheduler.SequentialLR(
            opt, [lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=2), lr_scheduler.ExponentialLR(opt, 0.9)],
            milestones=[2],
        ),
    ]


def test_state_dicts_of_models_optimizers_and_schedulers_round_trip(tmp_path: Path) -> None:
    model = mlp(0)
    opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    x = cr.randn(5, 4, generator=np.random.default_rng(2))
    for _ in range(3):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
    for state in (model.state_dict(), opt.state_dict()):
        cio.save(tmp_path / "sd.npz", state)
        back = cio.load(tmp_path / "sd.npz")
        expected = {k: v.numpy() if isinstance(v, cr.Tensor) else v for k, v in state.items()}
        assert_same(expected, back)
    for scheduler in _scheduler_cases(optim.SGD(mlp(1).parameters(), lr=0.1, momentum=0.9)):
        for _ in range(3):
            scheduler.step(1.0) if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau) else scheduler.step()
        state = scheduler.state_dict()
        cio.save(tmp_path / "sched.npz", state)
        back = cio.load(tmp_path / "sched.npz")
        assert_same(state, back, type(scheduler).__name__)
        scheduler.load_state_dict(back)


# ----- checkpoints: resuming continues bit-identically -----------------------------------------------------------
X = np.random.default_rng(100).standard_normal((48, 4)).astype(np.float32)
Y = np.random.default_rng(101).standard_normal((48, 3)).astype(np.float32)


def make_run(kind: str, init_seed: int) -> tuple[nn.Module, optim.Optimizer, Any]:
    """The Adam run has a Dropout layer with its own generator; the SGD run has none."""
    model = mlp(init_seed, dropout_seed=init_seed + 1 if kind == "adam" else None)
    if kind == "adam":
        opt: optim.Optimizer = optim.Adam(model.parameters(), lr=0.01, weight_decay=0.01)
        sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    else:
        opt = optim.SGD(
            [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.02}],
            lr=0.05, momentum=0.9, nesterov=True,
        )
        sched = lr_scheduler.CosineAnnealingLR(opt, T_max=6)
    return model, opt, sched


def generators(kind: str, model: nn.Module, shuffle: np.random.Generator) -> Any:
    """What the run checkpoints: a dict (shuffling and dropout streams) for Adam, one Generator for SGD."""
    return {"shuffle": shuffle, "dropout": model[2].generator} if kind == "adam" else shuffle


def train_epochs(model: nn.Module, opt: optim.Optimizer, sched: Any, shuffle: np.random.Generator,
                 epochs: range) -> int:
    steps = 0
    loss_fn = nn.MSELoss()
    for _ in epochs:
        order = shuffle.permutation(len(X))
        for start in range(0, len(X), 16):
            idx = order[start:start + 16]
            opt.zero_grad()
            loss_fn(model(cr.tensor(X[idx])), cr.tensor(Y[idx])).backward()
            opt.step()
            steps += 1
        sched.step()
    return steps


@pytest.mark.parametrize("kind", ["adam", "sgd_momentum"])
def test_a_resumed_run_continues_bit_identically(tmp_path: Path, kind: str) -> None:
    model_a, opt_a, sched_a = make_run(kind, init_seed=0)
    shuffle_a = np.random.default_rng(7)
    train_epochs(model_a, opt_a, sched_a, shuffle_a, range(6))

    model_b, opt_b, sched_b = make_run(kind, init_seed=0)
    shuffle_b = np.random.default_rng(7)
    steps = train_epochs(model_b, opt_b, sched_b, shuffle_b, range(3))
    path = tmp_path / "ckpt.npz"
    config = {"kind": kind, "batch_size": 16, "lrs": (0.05, 0.02), "note": None}
    cio.save_checkpoint(path, model=model_b, optimizer=opt_b, scheduler=sched_b, epoch=3, step=steps,
                        rng=generators(kind, model_b, shuffle_b), config=config, extra={"best_loss": 0.5})
    del model_b, opt_b, sched_b, shuffle_b

    # A fresh process builds everything anew, with other initial values and other seeds.
    model_c, opt_c, sched_c = make_run(kind, init_seed=99)
    shuffle_c = np.random.default_rng(12345)
    ckpt = cio.load_checkpoint(path, model=model_c, optimizer=opt_c, scheduler=sched_c,
                               rng=generators(kind, model_c, shuffle_c))
    assert (ckpt.epoch, ckpt.step) == (3, steps)
    assert_same(config, ckpt.config)
    assert ckpt.extra == {"best_loss": 0.5}
    assert ckpt.classes == {"model": "Sequential", "optimizer": type(opt_c).__name__,
                            "scheduler": type(sched_c).__name__}
    assert ckpt.incompatible_keys is not None and not ckpt.incompatible_keys.missing_keys
    train_epochs(model_c, opt_c, sched_c, shuffle_c, range(3, 6))

    for (name, p_a), (_, p_c) in zip(model_a.named_parameters(), model_c.named_parameters()):
        assert p_a.dtype == p_c.dtype == np.float32
        assert np.array_equal(p_a.numpy(), p_c.numpy()), name
    assert_same(opt_a.state_dict(), opt_c.state_dict())
    assert sched_a.get_last_lr() == sched_c.get_last_lr()
    assert shuffle_a.bit_generator.state == shuffle_c.bit_generator.state


@pytest.mark.parametrize("which", ["sequential", "plateau", "onecycle"])
def test_schedulers_resume_through_checkpoints(tmp_path: Path, which: str) -> None:
    def build() -> tuple[optim.Optimizer, Any]:
        opt = optim.SGD(mlp(0).parameters(), lr=0.1, momentum=0.9)
        if which == "sequential":
            parts = [lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3), lr_scheduler.ExponentialLR(opt, 0.9)]
            return opt, lr_scheduler.SequentialLR(opt, parts, milestones=[3])
        if which == "plateau":
            return opt, lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
        return opt, lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=12)

    def advance(sched: Any, epochs: range) -> None:
        for epoch in epochs:
            sched.step(1.0 + (epoch % 3 == 0)) if which == "plateau" else sched.step()

    opt_a, sched_a = build()
    advance(sched_a, range(8))
    opt_b, sched_b = build()
    advance(sched_b, range(4))
    cio.save_checkpoint(tmp_path / "s.npz", optimizer=opt_b, scheduler=sched_b)
    opt_c, sched_c = build()
    cio.load_checkpoint(tmp_path / "s.npz", optimizer=opt_c, scheduler=sched_c)
    advance(sched_c, range(4, 8))
    assert sched_a.get_last_lr() == sched_c.get_last_lr()
    assert [g["lr"] for g in opt_a.param_groups] == [g["lr"] for g in opt_c.param_groups]


def test_checkpoint_generator_and_restore_rng(tmp_path: Path) -> None:
    g = np.random.default_rng(3)
    g.random(10)
    mt = np.random.Generator(np.random.MT19937(5))
    path = tmp_path / "rng.npz"
    cio.save_checkpoint(path, rng=g)
    expected = g.random(5)
    ckpt = cio.load_checkpoint(path)
    assert ckpt.rng_names is None
    assert np.array_equal(ckpt.generator().random(5), expected)
    target = np.random.default_rng(0)
    ckpt.restore_rng(target)
    assert np.array_equal(target.random(5), expected)

    cio.save_checkpoint(path, rng={"pcg": g, "mt": mt, "default": cr.default_generator()})
    want_mt = np.random.Generator(np.random.MT19937(0))
    want_mt.bit_generator.state = mt.bit_generator.state
    ckpt = cio.load_checkpoint(path)
    assert ckpt.rng_names == ["pcg", "mt", "default"]
    assert np.array_equal(ckpt.generator("mt").integers(0, 1000, 20), want_mt.integers(0, 1000, 20))
    with pytest.raises(KeyError):
        ckpt.generator()
    fresh_mt = np.random.Generator(np.random.MT19937(1))
    cio.load_checkpoint(path, rng={"mt": fresh_mt}, strict=False)
    assert np.array_equal(fresh_mt.random(5), mt.random(5))


def test_checkpoint_config_dataclass_and_counters(tmp_path: Path) -> None:
    @dataclasses.dataclass
    class Config:
        lr: float = 1e-3
        layers: tuple[int, ...] = (4, 8, 3)
        name: str = "exp"

    path = tmp_path / "c.npz"
    cio.save_checkpoint(path, epoch=np.int64(4), step=1000, config=Config(), extra={"hist": [0.5, 0.25]})
    ckpt = cio.load_checkpoint(path)
    assert ckpt.epoch == 4 and type(ckpt.epoch) is int and ckpt.step == 1000
    assert ckpt.config == {"lr": 1e-3, "layers": (4, 8, 3), "name": "exp"}
    assert ckpt.model_state is None and ckpt.rng_state is None and ckpt.version == cio.FORMAT_VERSION
    assert ckpt.meta["created_by"]["chainrule"] == cr.__version__ and ckpt.path == str(path)
    assert isinstance(cio.load(path), dict)  # a checkpoint is an ordinary archive too
    with pytest.raises(TypeError, match="epoch"):
        cio.save_checkpoint(path, epoch=1.5)
    with pytest.raises(TypeError, match="rng"):
        cio.save_checkpoint(path, rng=np.random.RandomState(0))


def test_checkpoints_accept_state_dicts_instead_of_objects(tmp_path: Path) -> None:
    model = mlp(0)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    path = tmp_path / "sd.npz"
    cio.save_checkpoint(path, model=model.state_dict(), optimizer=opt.state_dict())
    other = mlp(5)
    ckpt = cio.load_checkpoint(path, model=other, optimizer=optim.SGD(other.parameters(), lr=0.1, momentum=0.9))
    assert ckpt.classes["model"] is None
    assert_same(snapshot(model)["model"], snapshot(other)["model"])


# ----- strict loading: every problem in one error, nothing changed ---------------------------------------------
def trained(model: nn.Module, opt: optim.Optimizer, steps: int = 2) -> None:
    x = cr.tensor(X[:8]).to(next(model.parameters()).dtype)
    for _ in range(steps):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()


class Wrong(nn.Module):
    """Keys like mlp(0)'s, but '0.bias' is missing, '2.weight' has another shape, '2.bias' is float64, and
    'scale' is extra (never run: only its state matters)."""

    def __init__(self) -> None:
        super().__init__()
        self.add_module("0", nn.Linear(4, 8, bias=False))
        self.add_module("1", nn.Tanh())
        self.add_module("2", nn.Linear(8, 3))
        self.scale = nn.Parameter(cr.ones(3))
        self.get_submodule("2").bias = nn.Parameter(cr.zeros(3, dtype=cr.float64))
        self.get_submodule("2").weight = nn.Parameter(cr.zeros(5, 8))


def test_strict_errors_list_every_model_mismatch_and_change_nothing(tmp_path: Path) -> None:
    source = mlp(0)
    source_opt = optim.Adam(source.parameters(), lr=0.01)
    trained(source, source_opt)
    path = tmp_path / "ckpt.npz"
    cio.save_checkpoint(path, model=source, optimizer=source_opt, epoch=1)

    model = Wrong()
    opt = optim.Adam(model.parameters(), lr=0.5)
    opt.state[model.scale]["step"] = 3
    opt.state[model.scale]["exp_avg"] = np.full(3, 0.5, np.float32)
    opt.state[model.scale]["exp_avg_sq"] = np.full(3, 0.25, np.float32)
    before = snapshot(model, opt)
    with pytest.raises(CheckpointStateError) as info:
        cio.load_checkpoint(path, model=model, optimizer=opt)
    e = info.value
    message = str(e)
    assert str(path) in message and e.path == str(path)
    assert isinstance(e, CheckpointError) and isinstance(e, StateDictError) and isinstance(e, ChainruleError)
    assert e.missing_keys == ["scale"] and e.unexpected_keys == ["0.bias"]
    assert e.mismatched == [("2.weight", (3, 8), (5, 8))]
    assert e.dtype_mismatched == [("2.bias", np.dtype(np.float32), np.dtype(np.float64))]
    for needle in ('Missing key(s) in state_dict: "scale"', 'Unexpected key(s) in state_dict: "0.bias"',
                   "size mismatch for 2.weight", "dtype mismatch for 2.bias", "model (Wrong)", "optimizer (Adam)"):
        assert needle in message, needle
    assert e.problems["optimizer"]  # the optimizer does not fit either: reported in the same error
    assert_unchanged(before, model, opt)
    assert opt.param_groups[0]["lr"] == 0.5


def test_a_model_mismatch_leaves_a_fitting_optimizer_untouched(tmp_path: Path) -> None:
    source = mlp(0)
    source_opt = optim.SGD(source.parameters(), lr=0.1, momentum=0.9)
    trained(source, source_opt)
    path = tmp_path / "ckpt.npz"
    cio.save_checkpoint(path, model=source, optimizer=source_opt)

    model = mlp(1, dtype=np.float64)  # fits in shapes and keys, not in dtype
    opt = optim.SGD(model.parameters(), lr=0.3, momentum=0.5)
    trained(model, opt, steps=1)
    before = snapshot(model, opt)
    with pytest.raises(CheckpointStateError) as info:
        cio.load_checkpoint(path, model=model, optimizer=opt)
    assert len(info.value.dtype_mismatched) == 4
    assert sum("dtype float32 in the checkpoint" in p for p in info.value.problems["optimizer"]) == 4
    assert_unchanged(before, model, opt)
    assert opt.param_groups[0]["lr"] == 0.3

    # strict=False casts instead
    ckpt = cio.load_checkpoint(path, model=model, optimizer=opt, strict=False)
    assert model[0].weight.dtype == np.float64
    assert np.array_equal(model[0].weight.numpy(), source[0].weight.numpy().astype(np.float64))
    assert opt.param_groups[0]["lr"] == 0.1 and ckpt.incompatible_keys.missing_keys == []


def test_an_optimizer_mismatch_leaves_the_model_untouched(tmp_path: Path) -> None:
    source = mlp(0)
    source_opt = optim.SGD(source.parameters(), lr=0.1, momentum=0.9)
    trained(source, source_opt)
    path = tmp_path / "ckpt.npz"
    cio.save_checkpoint(path, model=source, optimizer=source_opt, scheduler=lr_scheduler.StepLR(source_opt, 2))

    model = mlp(1)
    adam = optim.Adam(model.parameters(), lr=0.01)
    trained(model, adam)
    sched = lr_scheduler.ExponentialLR(adam, gamma=0.5)
    before = snapshot(model, adam)
    with pytest.raises(CheckpointStateError) as info:
        cio.load_checkpoint(path, model=model, optimizer=adam, scheduler=sched)
    problems = info.value.problems
    assert set(problems) == {"optimizer", "scheduler"}
    assert any("the state of SGD, the optimizer is Adam" in p for p in problems["optimizer"])
    assert any("momentum_buffer" in p for p in problems["optimizer"])
    assert any("StepLR" in p for p in problems["scheduler"])
    assert_unchanged(before, model, adam)
    assert sched.gamma == 0.5

    grouped = optim.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters()}], lr=0.1,
                        momentum=0.9)
    with pytest.raises(CheckpointStateError, match="parameter group"):
        cio.load_checkpoint(path, model=model, optimizer=grouped)
    assert_unchanged(before, model, adam)


def test_missing_parts_and_rng_mismatches_are_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "only_rng.npz"
    cio.save_checkpoint(path, rng={"a": np.random.default_rng(0)}, epoch=2)
    model = mlp(0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    single = np.random.default_rng(9)
    state = single.bit_generator.state
    sched = lr_scheduler.StepLR(opt, 1)
    before = snapshot(model, opt)
    with pytest.raises(CheckpointStateError) as info:
        cio.load_checkpoint(path, model=model, optimizer=opt, scheduler=sched, rng=single)
    assert set(info.value.problems) == {"model", "optimizer", "scheduler", "rng"}
    assert "holds no model state" in str(info.value) and "one generator was given" in str(info.value)
    assert single.bit_generator.state == state
    assert_unchanged(before, model, opt)

    mt = np.random.Generator(np.random.MT19937(0))
    mt_state = mt.bit_generator.state
    with pytest.raises(CheckpointStateError, match="does not fit a MT19937"):
        cio.load_checkpoint(path, rng={"a": mt})
    with pytest.raises(CheckpointStateError, match=r"no saved state for the generator\(s\) \['b'\]"):
        cio.load_checkpoint(path, rng={"a": np.random.default_rng(), "b": np.random.default_rng()})
    assert_same(mt_state, mt.bit_generator.state)


def test_non_strict_loading_returns_incompatible_keys(tmp_path: Path) -> None:
    source = mlp(0)
    path = tmp_path / "m.npz"
    cio.save_checkpoint(path, model=source)
    target = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3), nn.Linear(3, 2))
    ckpt = cio.load_checkpoint(path, model=target, strict=False)
    assert ckpt.incompatible_keys.missing_keys == ["3.weight", "3.bias"]
    assert np.array_equal(target[2].weight.numpy(), source[2].weight.numpy())
    shapes = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 4))
    with pytest.raises(CheckpointStateError, match="size mismatch for 2.weight"):
        cio.load_checkpoint(path, model=shapes, strict=False)


def test_load_checkpoint_refuses_a_plain_archive(tmp_path: Path) -> None:
    path = tmp_path / "plain.npz"
    cio.save(path, {"0.weight": np.zeros((8, 4), np.float32)})
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        cio.load_checkpoint(path, model=mlp(0))


# ----- atomic writing ----------------------------------------------------------------------------------------------
@pytest.fixture
def previous(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "ckpt.npz"
    cio.save_checkpoint(path, model=mlp(0), epoch=1, extra={"w": np.arange(1000.0)})
    return path, path.read_bytes()


def crash_midway_savez(*args: Any, **kwargs: Any) -> None:
    f = args[0]
    f.write(b"PK\x03\x04 half an archive" * 1000)
    raise OSError(28, "No space left on device (simulated)")


@pytest.mark.parametrize("target", ["savez", "replace", "fsync", "interrupt"])
def test_a_crash_while_writing_keeps_the_previous_checkpoint(
    monkeypatch: pytest.MonkeyPatch, previous: tuple[Path, bytes], target: str
) -> None:
    path, before = previous
    if target == "savez":
        monkeypatch.setattr(np, "savez", crash_midway_savez)
        expected: type[BaseException] = OSError
    elif target == "replace":
        def failing_replace(src: Any, dst: Any) -> None:
            assert Path(src).name.startswith(".ckpt.npz.") and Path(src).stat().st_size > 0
            raise PermissionError("simulated")
        monkeypatch.setattr(os, "replace", failing_replace)
        expected = PermissionError
    elif target == "fsync":
        def failing_fsync(fd: int) -> None:
            raise OSError(5, "I/O error (simulated)")
        monkeypatch.setattr(os, "fsync", failing_fsync)
        expected = OSError
    else:
        real = np.savez
        def interrupted(f: Any, **members: Any) -> None:
            real(f, **dict(list(members.items())[:2]))
            raise KeyboardInterrupt
        monkeypatch.setattr(np, "savez", interrupted)
        expected = KeyboardInterrupt
    with pytest.raises(expected):
        cio.save_checkpoint(path, model=mlp(1), epoch=2, extra={"w": np.zeros(5000)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert leftovers(path.parent) == [] and sorted(os.listdir(path.parent)) == ["ckpt.npz"]
    assert cio.load_checkpoint(path).epoch == 1


def test_a_failed_first_write_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(np, "savez", crash_midway_savez)
    with pytest.raises(OSError):
        cio.save(tmp_path / "new.npz", {"a": np.ones(3)})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_file_modes_follow_the_umask_or_the_previous_file(tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    old = os.umask(0o027)
    try:
        cio.save(tmp_path / "new.npz", {"a": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "new.npz").stat().st_mode & 0o777 == 0o640
    (tmp_path / "new.npz").chmod(0o600)
    cio.save(tmp_path / "new.npz", {"a": 2})
    assert (tmp_path / "new.npz").stat().st_mode & 0o777 == 0o600
    assert cio.load(tmp_path / "new.npz") == {"a": 2}


CHILD = """
import sys
import numpy as np
from chainrule.io import save_checkpoint
path = sys.argv[1]
big = np.empty(1_500_000, np.float32)
i = 0
while True:
    big.fill(i)
    save_checkpoint(path, step=i, extra={"big": big, "tail": np.full(1000, i, dtype=np.int64)})
    print(i, flush=True)
    i += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_writer_killed_mid_write_leaves_a_loadable_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.npz"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, env=env, cwd=tmp_path)
    last = -1
    try:
        deadline = time.monotonic() + 30
        while last < 2:  # let a few complete checkpoints land
            assert time.monotonic() < deadline, "the writer made no progress"
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                assert line, f"the writer died (rc={proc.poll()})"
                last = int(line)
        while not leftovers(tmp_path) and time.monotonic() < deadline:
            pass  # wait until a write is under way, then kill it there
        time.sleep(random.Random(0).uniform(0, 0.003))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    ckpt = cio.load_checkpoint(path)
    assert ckpt.step >= last
    assert ckpt.extra["big"].shape == (1_500_000,) and np.all(ckpt.extra["big"] == ckpt.step)
    assert np.all(ckpt.extra["tail"] == ckpt.step)


# ----- refusing damaged and foreign files ---------------------------------------------------------------------------
def assert_refused(path: Path, *needles: str, loader: Any = cio.load) -> CheckpointError:
    with pytest.raises(CheckpointError) as info:
        loader(path)
    e = info.value
    assert isinstance(e, ChainruleError) and isinstance(e, ValueError)
    assert str(path) in str(e) and e.path == str(path)
    for needle in needles:
        assert needle in str(e), (needle, str(e))
    return e


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.npz"
    model = mlp(0)
    opt = optim.Adam(model.parameters())
    trained(model, opt)
    cio.save_checkpoint(path, model=model, optimizer=opt, epoch=3, config={"a": 1})
    return path


@pytest.mark.parametrize("loader", [cio.load, cio.load_checkpoint], ids=["load", "load_checkpoint"])
@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_files_are_refused(tmp_path: Path, good: Path, fraction: float, loader: Any) -> None:
    data = good.read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: int(len(data) * fraction)])
    assert_refused(path, loader=loader)


def test_flipped_bytes_are_refused(tmp_path: Path, good: Path) -> None:
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("a0.npy")
    middle = info.header_offset + 30 + len(info.filename) + 200  # inside the array data of a0
    for position in (middle, len(data) // 2):
        damaged = bytearray(data)
        damaged[position] ^= 0xFF
        path = tmp_path / f"flip{position}.npz"
        path.write_bytes(bytes(damaged))
        assert_refused(path, "damaged")


def test_pickles_are_never_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_unpickling(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("something tried to unpickle")

    pickled = tmp_path / "state.pkl"
    pickled.write_bytes(pickle.dumps({"w": np.ones(3)}))
    bare_object = tmp_path / "objects.npz"
    write_npz(bare_object, o=np.array([{"x": 1}], dtype=object))
    with_header = tmp_path / "with_header.npz"
    header = {"format": "chainrule", "version": 1, "kind": "object",
              "tree": {"o": {"$type": "ndarray", "key": "a0", "dtype": "|O", "shape": [1]}}}
    write_npz(with_header, header, a0=np.array([{"x": 1}], dtype=object))
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    assert_refused(pickled, "pickle")
    assert_refused(bare_object, HEADER_KEY)
    assert_refused(with_header, "pickle")
    assert_refused(with_header, "pickle", loader=cio.load_checkpoint)


def test_a_torch_save_file_is_refused(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(3)}, path)
    assert_refused(path, HEADER_KEY)
    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(3)}, legacy, _use_new_zipfile_serialization=False)
    assert_refused(legacy, "pickle")


def test_foreign_and_malformed_files_are_refused(tmp_path: Path) -> None:
    cases: dict[str, tuple[Any, tuple[str, ...]]] = {}

    def case(name: str, writer: Any, *needles: str) -> None:
        cases[name] = (writer, needles)

    ok_tree = {"x": {"$type": "ndarray", "key": "a0", "dtype": "<f8", "shape": [3]}}
    ok = {"format": "chainrule", "version": 1, "kind": "object", "tree": ok_tree}
    case("empty", lambda p: p.write_bytes(b""), "empty")
    case("random", lambda p: p.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8))))
    case("text", lambda p: p.write_text('{"format": "chainrule"}'), "JSON")
    case("npy", lambda p: np.save(p.open("wb"), np.ones(3)), ".npy")
    case("plain_npz", lambda p: write_npz(p, x=np.ones(3)), HEADER_KEY, "plain numpy.savez")
    case("zip_not_npz", lambda p: zipfile.ZipFile(p, "w").close(), HEADER_KEY)
    case("bad_json", lambda p: write_npz(p, "{not json", a0=np.ones(3)), "not valid JSON")
    case("not_utf8", lambda p: write_npz(p, b"\xff\xfe", a0=np.ones(3)), "not valid JSON")
    case("nan_constant", lambda p: write_npz(p, '{"format": "chainrule", "version": NaN}'), "not valid JSON")
    case("header_dtype", lambda p: np.savez(p.open("wb"), **{HEADER_KEY: np.zeros(3, np.float32)}), "uint8")
    case("other_format", lambda p: write_npz(p, dict(ok, format="other"), a0=np.ones(3)), "format='other'")
    case("newer", lambda p: write_npz(p, dict(ok, version=cio.FORMAT_VERSION + 1), a0=np.ones(3)),
         f"version {cio.FORMAT_VERSION + 1}", "newer", "upgrade")
    case("no_version", lambda p: write_npz(p, {k: v for k, v in ok.items() if k != "version"}, a0=np.ones(3)),
         "version")
    case("bad_kind", lambda p: write_npz(p, dict(ok, kind="weights"), a0=np.ones(3)), "kind")
    case("missing_member", lambda p: write_npz(p, ok), "lacks", "a0")
    case("extra_member", lambda p: write_npz(p, ok, a0=np.ones(3), evil=np.ones(1)), "evil")
    case("wrong_dtype", lambda p: write_npz(p, ok, a0=np.ones(3, np.float32)), "<f4")
    case("wrong_shape", lambda p: write_npz(p, ok, a0=np.ones(4)), "(4,)")
    case("unknown_tag", lambda p: write_npz(p, dict(ok, tree=[ok_tree, {"$type": "set", "items": []}]), a0=np.ones(3)),
         "malformed", "set")
    case("bad_ref", lambda p: write_npz(p, dict(ok, tree={"$type": "ndarray", "key": 3}), a0=np.ones(3)), "malformed")
    case("bad_float", lambda p: write_npz(p, dict(ok, tree={"$type": "float", "value": "1e999"})), "malformed")
    case("bad_bytes", lambda p: write_npz(p, dict(ok, tree={"$type": "bytes", "base64": "!!"})), "malformed")
    case("bad_checkpoint", lambda p: write_npz(p, dict(ok, kind="checkpoint", tree={"rng": {"x": 1}}), a0=np.ones(3)),
         "malformed")
    for name, (writer, needles) in cases.items():
        path = tmp_path / f"{name}.npz"
        writer(path)
        loader = cio.load_checkpoint if name in ("bad_checkpoint",) else cio.load
        assert_refused(path, *needles, loader=loader)
        assert_refused(path, loader=cio.load_checkpoint)


def test_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        cio.load(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError):
        cio.load_checkpoint(tmp_path / "nope.npz")


# ----- optional safetensors ------------------------------------------------------------------------------------------
def test_safetensors_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("safetensors")
    model = mlp(0)
    path = tmp_path / "model.safetensors"
    cio.save_safetensors(path, model.state_dict(), metadata={"epoch": "3"})
    weights = cio.load_safetensors(path)
    assert set(weights) == set(model.state_dict())
    other = mlp(1)
    other.load_state_dict(weights)
    assert_same(snapshot(model), snapshot(other))
    assert weights["0.weight"].dtype == np.float32 and leftovers(tmp_path) == []
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(path.read_bytes()[:50])
    assert_refused(bad, "safetensors", loader=cio.load_safetensors)


def test_safetensors_is_optional(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match=r"chainrule\[safetensors\]"):
        cio.save_safetensors(tmp_path / "m.safetensors", {"w": np.ones(2)})
    with pytest.raises(ImportError, match=r"chainrule\[safetensors\]"):
        cio.load_safetensors(tmp_path / "m.safetensors")
