"""The rows of the benchmark suite: the same work written once, run on chainrule and on PyTorch.

Each row builds a *runner* for one framework: ``warmup()``, ``step()`` (the timed unit of work: forward +
backward, or one training step, or one training epoch) and ``results()`` (the outputs and gradients of the last
step as NumPy arrays, for the smoke check against PyTorch). The code of a runner is shared by both frameworks
through a small adapter (``Framework``), so both sides do exactly the same work on the same arrays.

The points of the scaling table (the same work at growing sizes) are rows too, of kind "scaling", built by the
same builders; ``SCALING_GROUPS`` groups them and ``select`` expands a group's name for ``--only``.

Inputs come from ``numpy.random.default_rng(seed)`` in every process, so they are identical; the initial
weights of the layer rows are drawn the same way, and those of the models (RNN, LSTM, GRU, LeNet-5, CompactCNN)
are PyTorch's own initialisation, saved by the PyTorch side (``torch_state``) and loaded into the chainrule
model with ``load_state_dict``.

This module imports neither chainrule nor torch at import time: each worker process imports only its own
framework (``Framework.load``).
"""

from __future__ import annotations

import gzip
import math
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SCALES = ("full", "quick", "smoke")
SEED = 0  # every process draws inputs and weights from default_rng(SEED): both sides see the same numbers
FASHION_DIRS = ("/usr/share/datasets/fashion-mnist",)
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530  # of the Fashion-MNIST training images in [0, 1]


# ----- the framework adapter ---------------------------------------------------------------------------------


class Framework:
    """What the runners need from a framework, under PyTorch's names: ``F``, ``nn``, ``optim``, tensors."""

    def __init__(self, name: str) -> None:
        if name not in ("chainrule", "torch"):
            raise ValueError(f"unknown framework {name!r}")
        self.name = name
        if name == "torch":
            import torch

            self.lib = torch
            self.F = torch.nn.functional
            self.nn = torch.nn
            self.optim = torch.optim
        else:
            import chainrule
            import chainrule.nn.functional
            import chainrule.workspace

            chainrule.workspace.keep_freed_memory()  # what a training program does: freed memory reused
            self.lib = chainrule
            self.F = chainrule.nn.functional
            self.nn = chainrule.nn
            self.optim = chainrule.optim

    def tensor(self, array: np.ndarray, requires_grad: bool = False) -> Any:
        if self.name == "torch":
            t = self.lib.from_numpy(array if array.flags.c_contiguous else np.ascontiguousarray(array))  # keeps 0-d
            return t.requires_grad_(True) if requires_grad else t
        return self.lib.Tensor(array, requires_grad=requires_grad)

    def numpy(self, t: Any) -> np.ndarray | None:
        if t is None:
            return None
        if self.name == "torch":
            return t.detach().numpy().copy()
        return np.array(t.numpy(), copy=True)

    def no_grad(self) -> Any:
        return self.lib.no_grad()


# ----- data --------------------------------------------------------------------------------------------------


def _read_idx(path: Path, limit: int | None = None) -> np.ndarray:
    """An IDX file (gzip or raw) as an array; with ``limit``, only the first ``limit`` items are read."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as f:
        zero, code, ndim = struct.unpack(">HBB", f.read(4))
        if zero != 0 or code != 0x08:
            raise ValueError(f"{path}: not an IDX file of uint8 values")
        dims = list(struct.unpack(f">{ndim}I", f.read(4 * ndim)))
        if limit is not None:
            dims[0] = min(dims[0], limit)
        count = int(np.prod(dims))
        data = np.frombuffer(f.read(count), dtype=np.uint8)
    if data.size != count:
        raise ValueError(f"{path}: truncated IDX file")
    return data.reshape(dims)


def fashion_dir() -> Path | None:
    """The first folder holding the Fashion-MNIST training files, or None."""
    dirs = list(FASHION_DIRS)
    cache = os.environ.get("CHAINRULE_DATA")
    dirs.append(str(Path(cache) / "fashion-mnist") if cache else str(Path.home() / ".cache/chainrule/fashion-mnist"))
    for d in dirs:
        p = Path(d)
        if any((p / n).is_file() for n in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte")):
            return p
    return None


def _idx_file(folder: Path, name: str) -> Path:
    return folder / name if (folder / name).is_file() else folder / (name + ".gz")


def load_fashion_mnist(limit: int | None = None, prefer_chainrule: bool = True) -> tuple[np.ndarray, np.ndarray, str]:
    """Fashion-MNIST training images (uint8 N×28×28), labels (int64 N), and where they came from.

    ``chainrule.data.FashionMNIST`` when it loads (and ``limit`` is None), else the IDX files read here
    directly. Raises FileNotFoundError with the way to get the files when there are none.
    """
    if prefer_chainrule and limit is None:
        try:
            from chainrule.data import FashionMNIST

            ds = FashionMNIST(train=True)
            return np.asarray(ds.data), np.asarray(ds.targets, dtype=np.int64), f"chainrule.data.FashionMNIST ({ds})"
        except Exception:  # noqa: BLE001 - chainrule.data is optional here: fall back to the files
            pass
    folder = fashion_dir()
    if folder is None:
        raise FileNotFoundError(
            "Fashion-MNIST not found in /usr/share/datasets/fashion-mnist or the chainrule cache; install it with "
            "`sudo apt-get install dataset-fashion-mnist` (or python -c 'import chainrule.data as d; "
            "d.FashionMNIST(download=True)')"
        )
    images = _read_idx(_idx_file(folder, "train-images-idx3-ubyte"), limit)
    labels = _read_idx(_idx_file(folder, "train-labels-idx1-ubyte"), limit).astype(np.int64)
    return images, labels, f"IDX files in {folder} (read by benchmarks/cases.py)"


def normalize_images(images: np.ndarray) -> np.ndarray:
    """uint8 N×28×28 → float32 N×1×28×28, (x/255 − mean)/std, converted in chunks (no large temporaries)."""
    out = np.empty((images.shape[0], 1, *images.shape[1:]), dtype=np.float32)
    scale = np.float32(1 / (255 * FASHION_STD))
    shift = np.float32(FASHION_MEAN / FASHION_STD)
    for i in range(0, images.shape[0], 4096):
        chunk = out[i : i + 4096, 0]
        np.multiply(images[i : i + 4096], scale, out=chunk, dtype=np.float32)
        chunk -= shift
    return out


# ----- the rows ----------------------------------------------------------------------------------------------


@dataclass
class Row:
    key: str  # the name for --only
    title: str  # the table's label
    kind: str  # "layer", "e2e", "memory", "distributed" or "scaling" (a point of the scaling table, see SCALING_GROUPS)
    target: float | None  # the target ratio (chainrule ÷ PyTorch)
    sizes: dict[str, dict[str, Any]]  # per scale
    build: Callable[..., Any] | None = None  # build(fw, size, state, seed) -> runner
    torch_state: Callable[..., dict[str, np.ndarray]] | None = None  # torch_state(size, seed) -> state dict
    flops: Callable[[dict[str, Any]], float] | None = None  # per step, analytic
    flops_note: str = ""
    units: Callable[[dict[str, Any]], int] | None = None  # per step: the table shows the time per unit
    unit: str = ""  # what ``units`` counts (e.g. "node")
    rounds: int = 15  # default timing rounds (full scale)
    extra: dict[str, Any] = field(default_factory=dict)
    # a second target: chainrule's GFLOP/s at least this share of chainrule's own 1024³ float32 GEMM (the
    # machine's reachable limit for the library); "Met" then needs both the ratio and the share
    min_gemm_share: float | None = None


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    bound = 1 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(np.float32)


class LayerRunner:
    """Forward + backward of one op with a fixed upstream gradient; grads are reset (to None) every step."""

    def __init__(self, fw: Framework, forward: Callable[..., Any], inputs: dict[str, tuple[np.ndarray, bool]],
                 grad_output: np.ndarray) -> None:
        self.fw = fw
        self.forward = forward
        self.tensors = {k: fw.tensor(a, rg) for k, (a, rg) in inputs.items()}
        self.grad_output = fw.tensor(grad_output)
        self.out = None

    def warmup(self) -> None:
        self.step()

    def step(self) -> None:
        for t in self.tensors.values():
            t.grad = None
        out = self.forward(**self.tensors)
        out.backward(self.grad_output)
        self.out = out

    def results(self) -> dict[str, np.ndarray]:
        res = {"output": self.fw.numpy(self.out)}
        for k, t in self.tensors.items():
            if t.requires_grad:
                res[f"grad.{k}"] = self.fw.numpy(t.grad)
        return res


# conv ------------------------------------------------------------------------------------------------------


def _conv_out(h: int, k: int, p: int) -> int:
    return h + 2 * p - k + 1


def conv_flops(s: dict[str, Any]) -> float:
    """forward 2·N·F·C/G·KH·KW·OH·OW; backward 1× that for dW, plus 1× for dX when the input needs a gradient."""
    n, c, h, w = s["x"]
    f, k, p = s["f"], s["k"], s["pad"]
    fwd = 2 * n * f * c * k * k * _conv_out(h, k, p) * _conv_out(w, k, p)
    return fwd * (3 if s["input_grad"] else 2)


def build_conv(fw: Framework, s: dict[str, Any], state: Any, seed: int) -> LayerRunner:
    rng = _rng(seed)
    n, c, h, w = s["x"]
    f, k, p = s["f"], s["k"], s["pad"]
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = _uniform(rng, (f, c, k, k), c * k * k)
    b = _uniform(rng, (f,), c * k * k)
    go = rng.standard_normal((n, f, _conv_out(h, k, p), _conv_out(w, k, p)), dtype=np.float32)
    F = fw.F

    def forward(x, weight, bias):
        return F.conv2d(x, weight, bias, padding=p)

    return LayerRunner(fw, forward, {"x": (x, s["input_grad"]), "weight": (wt, True), "bias": (b, True)}, go)


# max-pool --------------------------------------------------------------------------------------------------


def build_pool(fw: Framework, s: dict[str, Any], state: Any, seed: int) -> LayerRunner:
    rng = _rng(seed)
    n, c, h, w = s["x"]
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)  # continuous values: no ties
    go = rng.standard_normal((n, c, h // 2, w // 2), dtype=np.float32)
    F = fw.F

    def forward(x):
        return F.max_pool2d(x, 2)

    return LayerRunner(fw, forward, {"x": (x, True)}, go)


# linear ----------------------------------------------------------------------------------------------------


def linear_flops(s: dict[str, Any]) -> float:
    """forward 2·N·In·Out; backward 2× that (dX and dW)."""
    return 3 * 2 * s["n"] * s["in"] * s["out"]


def build_linear(fw: Framework, s: dict[str, Any], state: Any, seed: int) -> LayerRunner:
    rng = _rng(seed)
    x = rng.standard_normal((s["n"], s["in"]), dtype=np.float32)
    wt = _uniform(rng, (s["out"], s["in"]), s["in"])
    b = _uniform(rng, (s["out"],), s["in"])
    go = rng.standard_normal((s["n"], s["out"]), dtype=np.float32)
    F = fw.F

    def forward(x, weight, bias):
        return F.linear(x, weight, bias)

    return LayerRunner(fw, forward, {"x": (x, True), "weight": (wt, True), "bias": (b, True)}, go)


# recurrent -------------------------------------------------------------------------------------------------


def recurrent_flops(s: dict[str, Any]) -> float:
    """GEMM FLOPs only: per step 2·B·(I + H)·gates·H forward; backward 2× that (dX/dh and dW)."""
    gates = {"LSTM": 4, "GRU": 3}.get(s["mode"], 1)
    return 3 * s["steps"] * 2 * s["batch"] * (s["input"] + s["hidden"]) * gates * s["hidden"]


def _recurrent_module(nn: Any, s: dict[str, Any]) -> Any:
    if s["mode"] == "LSTM":
        return nn.LSTM(s["input"], s["hidden"])
    if s["mode"] == "GRU":
        return nn.GRU(s["input"], s["hidden"])
    return nn.RNN(s["input"], s["hidden"], nonlinearity="tanh")


def recurrent_state(s: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    import torch

    torch.manual_seed(seed)
    return torch_state_numpy(_recurrent_module(torch.nn, s))


def build_recurrent(fw: Framework, s: dict[str, Any], state: dict[str, np.ndarray], seed: int) -> RecurrentRunner:
    return RecurrentRunner(fw, s, state, seed)


class RecurrentRunner:
    def __init__(self, fw: Framework, s: dict[str, Any], state: dict[str, np.ndarray], seed: int) -> None:
        rng = _rng(seed)
        self.fw = fw
        self.module = _recurrent_module(fw.nn, s)
        load_state(fw, self.module, state)
        self.x = fw.tensor(rng.standard_normal((s["steps"], s["batch"], s["input"]), dtype=np.float32), True)
        go = rng.standard_normal((s["steps"], s["batch"], s["hidden"]), dtype=np.float32)
        self.grad_output = fw.tensor(go)
        self.out = None

    def warmup(self) -> None:
        self.step()

    def step(self) -> None:
        self.module.zero_grad(set_to_none=True)
        self.x.grad = None
        out, _ = self.module(self.x)
        out.backward(self.grad_output)
        self.out = out

    def results(self) -> dict[str, np.ndarray]:
        res = {"output": self.fw.numpy(self.out), "grad.x": self.fw.numpy(self.x.grad)}
        for name, p in self.module.named_parameters():
            res[f"grad.{name}"] = self.fw.numpy(p.grad)
        return res


# per-node overhead ----------------------------------------------------------------------------------------


def chain_nodes(s: dict[str, Any]) -> int:
    """The graph nodes of one chain step: its elementwise ops and the final sum."""
    return s["ops"] + 1


def build_chain(fw: Framework, s: dict[str, Any], state: Any, seed: int) -> LayerRunner:
    """``ops`` tiny elementwise ops in a chain (alternately ``y * a_i`` and ``y + b_i``, the constants without
    gradient), then a sum and its backward: the time is almost all per-node framework overhead."""
    rng = _rng(seed)
    shape = tuple(s["shape"])
    x = rng.standard_normal(shape, dtype=np.float32)
    scales = rng.uniform(0.9, 1.1, (s["ops"], *shape)).astype(np.float32)  # near 1: no overflow in the chain
    shifts = rng.uniform(-0.1, 0.1, (s["ops"], *shape)).astype(np.float32)
    consts = [fw.tensor(scales[i] if i % 2 == 0 else shifts[i]) for i in range(s["ops"])]

    def forward(x):
        y = x
        for i, c in enumerate(consts):
            y = y * c if i % 2 == 0 else y + c
        return y.sum()

    return LayerRunner(fw, forward, {"x": (x, True)}, np.ones((), dtype=np.float32))


# models ----------------------------------------------------------------------------------------------------


def torch_state_numpy(module: Any) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_state(fw: Framework, module: Any, state: dict[str, np.ndarray] | None) -> None:
    """Load PyTorch's initial weights (NumPy arrays) into either framework's module."""
    if state is None:
        return
    if fw.name == "torch":
        import torch

        module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    else:
        module.load_state_dict(state)


def torch_lenet5() -> Any:
    """chainrule.models.LeNet5 (tanh, max-pool) in torch.nn, with the same state_dict keys."""
    import torch.nn as tnn

    class LeNet5(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(1, 6, 5, padding=2), tnn.Tanh(), tnn.MaxPool2d(2),
                tnn.Conv2d(6, 16, 5), tnn.Tanh(), tnn.MaxPool2d(2),
            )
            self.classifier = tnn.Sequential(
                tnn.Flatten(), tnn.Linear(400, 120), tnn.Tanh(), tnn.Linear(120, 84), tnn.Tanh(), tnn.Linear(84, 10),
            )

        def forward(self, x):
            return self.classifier(self.features(x))

    return LeNet5()


def torch_compact_cnn(channels: tuple[int, ...], dropout: float) -> Any:
    """chainrule.models.CompactCNN in torch.nn, with the same state_dict keys."""
    import torch.nn as tnn

    class CompactCNN(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[Any] = []
            width = 1
            for c in channels:
                for _ in range(2):
                    layers += [tnn.Conv2d(width, c, 3, padding=1, bias=False), tnn.BatchNorm2d(c), tnn.ReLU()]
                    width = c
                layers.append(tnn.MaxPool2d(2))
            self.features = tnn.Sequential(*layers)
            side = 28 // 2 ** len(channels)
            self.classifier = tnn.Sequential(
                tnn.Flatten(), tnn.Dropout(dropout), tnn.Linear(width * side * side, 128), tnn.ReLU(),
                tnn.Dropout(dropout), tnn.Linear(128, 10),
            )

        def forward(self, x):
            return self.classifier(self.features(x))

    return CompactCNN()


def make_model(fw: Framework, name: str, s: dict[str, Any]) -> Any:
    if name == "lenet5":
        if fw.name == "torch":
            return torch_lenet5()
        from chainrule.models import LeNet5

        return LeNet5(activation="tanh", pool="max", generator=np.random.default_rng(0))
    if fw.name == "torch":
        return torch_compact_cnn(tuple(s["channels"]), s["dropout"])
    from chainrule.models import CompactCNN

    return CompactCNN(channels=tuple(s["channels"]), dropout=s["dropout"], generator=np.random.default_rng(0))


def model_state(name: str) -> Callable[[dict[str, Any], int], dict[str, np.ndarray]]:
    def state(s: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
        import torch

        torch.manual_seed(seed)
        return torch_state_numpy(make_model(Framework("torch"), name, s))

    return state


class TrainRunner:
    """Training steps: zero_grad, forward, cross-entropy, backward, SGD (momentum 0.9, lr 0.01) step.

    ``step()`` is one pass over ``batches`` (index arrays into ``images``/``labels``): the whole epoch for the
    LeNet row, a single batch for the CompactCNN row. Batches are fancy-indexed from the same float32 arrays on
    both sides, so the data pipeline's cost is identical and small.
    """

    def __init__(self, fw: Framework, model: Any, images: np.ndarray, labels: np.ndarray,
                 batches: list[np.ndarray], warmup_batches: int) -> None:
        self.fw, self.model = fw, model
        self.images, self.labels, self.batches = images, labels, batches
        self.warmup_batches = warmup_batches
        self.model.train()
        self.opt = fw.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        self.losses: list[float] = []

    def _train(self, idx: np.ndarray) -> float:
        fw = self.fw
        x = fw.tensor(self.images[idx])
        y = fw.tensor(self.labels[idx])
        self.opt.zero_grad(set_to_none=True)
        loss = fw.F.cross_entropy(self.model(x), y)
        loss.backward()
        self.opt.step()
        return float(loss.item())

    def warmup(self) -> None:
        for idx in self.batches[: self.warmup_batches]:
            self._train(idx)

    def load_lazily_loaded(self) -> None:
        """One training step on two images: what a framework loads on first use (compiled kernels, primitive
        caches) is loaded, without holding a batch's memory."""
        self._train(self.batches[0][:2])

    def step(self) -> None:
        self.losses = [self._train(idx) for idx in self.batches]

    def results(self) -> dict[str, np.ndarray]:
        res = {"losses": np.array(self.losses, dtype=np.float64)}
        for name, p in self.model.named_parameters():
            res[f"param.{name}"] = self.fw.numpy(p)
        return res


def lenet_data(s: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], str]:
    """The normalised images, labels, the epoch's batches (a seeded permutation) and the data's source."""
    limit = s.get("limit")
    if s.get("synthetic_if_missing") and fashion_dir() is None:
        rng = _rng(seed)
        images = rng.integers(0, 256, (limit, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, limit).astype(np.int64)
        source = "synthetic (Fashion-MNIST files not found)"
    else:
        images, labels, source = load_fashion_mnist(limit=limit, prefer_chainrule=limit is None)
    x = normalize_images(images)
    del images
    perm = _rng(seed).permutation(len(x))
    if s.get("epoch_images"):
        perm = perm[: s["epoch_images"]]
    batches = [perm[i : i + s["batch"]] for i in range(0, len(perm), s["batch"])]
    return x, labels, batches, source


def build_lenet_epoch(fw: Framework, s: dict[str, Any], state: Any, seed: int) -> TrainRunner:
    images, labels, batches, source = lenet_data(s, seed)
    model = make_model(fw, "lenet5", s)
    load_state(fw, model, state)
    runner = TrainRunner(fw, model, images, labels, batches, warmup_batches=s["warmup_batches"])
    runner.source = source  # type: ignore[attr-defined]
    return runner


def build_compact_step(fw: Framework, s: dict[str, Any], state: Any, seed: int) -> TrainRunner:
    rng = _rng(seed)
    images = rng.standard_normal((s["batch"], 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, s["batch"]).astype(np.int64)
    model = make_model(fw, "compact_cnn", s)
    load_state(fw, model, state)
    return TrainRunner(fw, model, images, labels, [np.arange(s["batch"])], warmup_batches=1)


def _lenet_step_flops(n: int) -> float:
    c1 = conv_flops({"x": (n, 1, 28, 28), "f": 6, "k": 5, "pad": 2, "input_grad": False})
    c2 = conv_flops({"x": (n, 6, 14, 14), "f": 16, "k": 5, "pad": 0, "input_grad": True})
    fc = sum(linear_flops({"n": n, "in": i, "out": o}) for i, o in ((400, 120), (120, 84), (84, 10)))
    return c1 + c2 + fc


def lenet_epoch_flops(s: dict[str, Any]) -> float:
    """Analytic GEMM FLOPs of the epoch (convs and linears, forward + backward; 60000 images unless limited)."""
    images = s.get("epoch_images") or s.get("limit") or 60000
    full, rest = divmod(images, s["batch"])
    return full * _lenet_step_flops(s["batch"]) + (_lenet_step_flops(rest) if rest else 0.0)


def compact_flops(s: dict[str, Any]) -> float:
    """Analytic GEMM FLOPs of one CompactCNN step (3×3 convs and linears, forward + backward)."""
    n, total, width, side = s["batch"], 0.0, 1, 28
    for i, c in enumerate(s["channels"]):
        for j in range(2):
            first = i == 0 and j == 0
            total += conv_flops({"x": (n, width, side, side), "f": c, "k": 3, "pad": 1, "input_grad": not first})
            width = c
        side //= 2
    total += linear_flops({"n": n, "in": width * side * side, "out": 128})
    return total + linear_flops({"n": n, "in": 128, "out": 10})


# ----- the table ---------------------------------------------------------------------------------------------

_CONV1 = {"x": (128, 1, 28, 28), "f": 6, "k": 5, "pad": 2, "input_grad": False}
_CONV2 = {"x": (128, 6, 14, 14), "f": 16, "k": 5, "pad": 0, "input_grad": True}
_CONV3 = {"x": (64, 64, 32, 32), "f": 64, "k": 3, "pad": 1, "input_grad": True}
_RNN = {"mode": "RNN_TANH", "input": 128, "hidden": 256, "steps": 50, "batch": 32}
_LSTM = {**_RNN, "mode": "LSTM"}
_GRU = {**_RNN, "mode": "GRU"}
_CHAIN = {"ops": 100, "shape": (4, 4)}
_LENET = {"batch": 128, "limit": None, "epoch_images": None, "warmup_batches": 10}
_LENET_QUICK = {**_LENET, "epoch_images": 40 * 128}
_LENET_SMOKE = {"batch": 16, "limit": 32, "epoch_images": None, "warmup_batches": 0, "synthetic_if_missing": True}
_COMPACT = {"batch": 128, "channels": (32, 64), "dropout": 0.3}


def _same(full: dict[str, Any], smoke: dict[str, Any], quick: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"full": full, "quick": quick or full, "smoke": smoke}


ROWS: list[Row] = [
    Row("conv1", "conv 6←1 5×5 pad 2, 128×1×28×28 (no dX)", "layer", 1.5,
        _same(_CONV1, {**_CONV1, "x": (2, 1, 8, 8), "f": 3}), build_conv, flops=conv_flops,
        flops_note="2·N·F·C·KH·KW·OH·OW forward + 1× for dW (the input needs no gradient)"),
    Row("conv2", "conv 16←6 5×5, 128×6×14×14", "layer", 1.5,
        _same(_CONV2, {**_CONV2, "x": (2, 3, 7, 7), "f": 4}), build_conv, flops=conv_flops,
        flops_note="forward + 2× for dX and dW"),
    Row("conv3", "conv 3×3 64←64 pad 1, 64×64×32×32", "layer", 1.3,
        _same(_CONV3, {**_CONV3, "x": (2, 4, 6, 6), "f": 4}), build_conv, flops=conv_flops, rounds=9,
        flops_note="forward + 2× for dX and dW", min_gemm_share=0.5),
    Row("pool_lenet", "max-pool 2×2, 128×6×28×28", "layer", 1.0,
        _same({"x": (128, 6, 28, 28)}, {"x": (2, 3, 8, 8)}), build_pool),
    Row("pool_large", "max-pool 2×2, 64×64×32×32", "layer", 1.0,
        _same({"x": (64, 64, 32, 32)}, {"x": (2, 3, 8, 8)}), build_pool),
    Row("linear", "linear 128×400→120", "layer", 1.0,
        _same({"n": 128, "in": 400, "out": 120}, {"n": 4, "in": 10, "out": 6}), build_linear, flops=linear_flops,
        flops_note="forward 2·N·In·Out + 2× for dX and dW"),
    Row("rnn", "tanh RNN 128→256, 50 steps, batch 32", "layer", 1.0,
        _same(_RNN, {**_RNN, "input": 6, "hidden": 8, "steps": 5, "batch": 3}),
        build_recurrent, recurrent_state, recurrent_flops,
        flops_note="GEMM FLOPs only (input and hidden projections), forward + 2× backward"),
    Row("lstm", "LSTM 128→256, 50 steps, batch 32", "layer", 1.3,
        _same(_LSTM, {**_LSTM, "input": 6, "hidden": 8, "steps": 5, "batch": 3}),
        build_recurrent, recurrent_state, recurrent_flops,
        flops_note="GEMM FLOPs only (input and hidden projections), forward + 2× backward"),
    Row("gru", "GRU 128→256, 50 steps, batch 32", "layer", 1.3,
        _same(_GRU, {**_GRU, "input": 6, "hidden": 8, "steps": 5, "batch": 3}),
        build_recurrent, recurrent_state, recurrent_flops,
        flops_note="GEMM FLOPs only (input and hidden projections), forward + 2× backward"),
    Row("node_overhead", "per graph node: 100 mul/add on 4×4 + sum, fwd+bwd (time per node)", "layer", None,
        _same(_CHAIN, {**_CHAIN, "ops": 10}), build_chain, units=chain_nodes, unit="node"),
    Row("lenet_epoch", "LeNet-5 epoch, Fashion-MNIST, batch 128, SGD momentum", "e2e", 1.0,
        _same(_LENET, _LENET_SMOKE, _LENET_QUICK), build_lenet_epoch, model_state("lenet5"), lenet_epoch_flops,
        rounds=5, flops_note="convs' and linears' GEMM FLOPs, forward + backward, summed over the epoch"),
    Row("compact_step", "CompactCNN training step, batch 128", "e2e", 1.3,
        _same(_COMPACT, {"batch": 8, "channels": (4, 8), "dropout": 0.0}), build_compact_step,
        model_state("compact_cnn"), compact_flops, rounds=11,
        flops_note="convs' and linears' GEMM FLOPs, forward + backward"),
    Row("lenet_memory", "LeNet-5 epoch: peak RSS increase", "memory", 1.0,
        _same(_LENET, _LENET_SMOKE, _LENET_QUICK), build_lenet_epoch, model_state("lenet5")),
    # no PyTorch side: 2 ranks × 1 thread against 1 rank × 2 threads of chainrule (benchmarks/suite/distributed_row.py)
    Row("distributed", "LeNet-5 step, batch 128: 2 ranks (MPI) against 1", "distributed", 0.9,
        _same({"steps": 120}, {"steps": 4}, {"steps": 30})),
]

# ----- the scaling table: the same work at growing sizes -----------------------------------------------------


@dataclass(frozen=True)
class ScalingGroup:
    """One group of the scaling table: one piece of work at growing sizes, smallest first. Each point is a Row of
    kind "scaling", timed like every row; the group's *drift* is the ratio at its largest size ÷ the ratio at its
    smallest. A point may sit in more than one group (the LSTM at 50 steps, hidden 256 is on both LSTM axes): it
    is timed once."""

    key: str  # the name for --only: every point of the group
    title: str
    fixed: str  # what stays the same across the group
    points: tuple[tuple[str, str], ...]  # (row key, the size's label), smallest first


SCALING_CONV_BATCH = 8  # small, so that the 128×128 point (29 GFLOP a step) stays affordable
_RECURRENT_NOTE = "GEMM FLOPs only (input and hidden projections), forward + 2× backward"


STEP_BATCHES = 8  # a LeNet step point cycles through this many batches: never the same batch over and over


class StepRunner(TrainRunner):
    """One training step per ``step()``, on the next of its batches in turn (training on one batch again and
    again would drive its loss, and the gradients' magnitudes, far from a real epoch's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.taken = 0

    def step(self) -> None:
        idx = self.batches[self.taken % len(self.batches)]
        self.taken += 1
        self.losses = [self._train(idx)]


def build_lenet_step(fw: Framework, s: dict[str, Any], state: Any, seed: int) -> StepRunner:
    images, labels, batches, source = lenet_data(s, seed)
    model = make_model(fw, "lenet5", s)
    load_state(fw, model, state)
    runner = StepRunner(fw, model, images, labels, batches, warmup_batches=s["warmup_batches"])
    runner.source = source  # type: ignore[attr-defined]
    return runner


def lenet_step_flops(s: dict[str, Any]) -> float:
    """Analytic GEMM FLOPs of one training step of one batch (convs and linears, forward + backward)."""
    return _lenet_step_flops(s["batch"])


def _lenet_step(batch: int, smoke: bool = False) -> dict[str, Any]:
    """Training steps of the lenet_epoch row's model on its data: the first ``STEP_BATCHES`` batches' images,
    shuffled with the row's seeded permutation."""
    if smoke:
        return {"batch": batch, "limit": 2 * batch, "epoch_images": None, "warmup_batches": 0,
                "synthetic_if_missing": True}
    return {"batch": batch, "limit": STEP_BATCHES * batch, "epoch_images": None, "warmup_batches": 1}


def _lenet_point(batch: int, smoke_batch: int, rounds: int) -> Row:
    return Row(f"scale_lenet_b{batch}", f"LeNet-5 training step, batch {batch}", "scaling", None,
               _same(_lenet_step(batch), _lenet_step(smoke_batch, smoke=True)), build_lenet_step,
               model_state("lenet5"), lenet_step_flops, rounds=rounds,
               flops_note="convs' and linears' GEMM FLOPs, forward + backward")


def _conv_point(side: int, smoke_side: int, rounds: int) -> Row:
    spec = {**_CONV3, "x": (SCALING_CONV_BATCH, 64, side, side)}
    smoke = {**_CONV3, "x": (2, 4, smoke_side, smoke_side), "f": 4}
    return Row(f"scale_conv_{side}", f"conv 3×3 64←64 pad 1, {SCALING_CONV_BATCH}×64×{side}×{side}", "scaling", None,
               _same(spec, smoke), build_conv, flops=conv_flops, rounds=rounds, flops_note="forward + 2× for dX and dW")


def _lstm_point(steps: int, hidden: int, smoke: dict[str, int], rounds: int) -> Row:
    spec = {**_LSTM, "steps": steps, "hidden": hidden}
    return Row(f"scale_lstm_t{steps}_h{hidden}", f"LSTM 128→{hidden}, {steps} steps, batch 32", "scaling", None,
               _same(spec, {**_LSTM, "input": 6, "batch": 3, **smoke}), build_recurrent, recurrent_state,
               recurrent_flops, rounds=rounds, flops_note=_RECURRENT_NOTE)


# fewer rounds for the big points (each block is one or two steps there, and the spread is small)
SCALING: list[Row] = [
    _lenet_point(32, 2, 11), _lenet_point(128, 4, 11), _lenet_point(512, 8, 9),
    _conv_point(32, 4, 11), _conv_point(64, 6, 9), _conv_point(128, 8, 7),
    _lstm_point(25, 256, {"steps": 2, "hidden": 8}, 11), _lstm_point(50, 256, {"steps": 3, "hidden": 8}, 11),
    _lstm_point(200, 256, {"steps": 6, "hidden": 8}, 9),
    _lstm_point(50, 128, {"steps": 3, "hidden": 4}, 11), _lstm_point(50, 512, {"steps": 3, "hidden": 12}, 9),
]

SCALING_GROUPS: tuple[ScalingGroup, ...] = (
    ScalingGroup("scaling_lenet", "LeNet-5 training step (forward, backward, SGD momentum)",
                 "the lenet_epoch row's model, optimizer and data (8 batches of it, one a step in turn)",
                 (("scale_lenet_b32", "batch 32"), ("scale_lenet_b128", "batch 128"),
                  ("scale_lenet_b512", "batch 512"))),
    ScalingGroup("scaling_conv", "conv 3×3 64←64 pad 1, forward + backward (dX, dW, db)",
                 f"batch {SCALING_CONV_BATCH}, the image side grows",
                 (("scale_conv_32", "32×32"), ("scale_conv_64", "64×64"), ("scale_conv_128", "128×128"))),
    ScalingGroup("scaling_lstm_steps", "LSTM 128→256, forward + backward: sequence length",
                 "hidden 256, batch 32, the gradient of the input too",
                 (("scale_lstm_t25_h256", "T 25"), ("scale_lstm_t50_h256", "T 50"),
                  ("scale_lstm_t200_h256", "T 200"))),
    ScalingGroup("scaling_lstm_hidden", "LSTM 128→H, forward + backward: hidden size",
                 "50 steps, batch 32, the gradient of the input too",
                 (("scale_lstm_t50_h128", "H 128"), ("scale_lstm_t50_h256", "H 256"),
                  ("scale_lstm_t50_h512", "H 512"))),
)

MAIN_KEYS = [r.key for r in ROWS]
SCALING_KEYS = [r.key for r in SCALING]
ROW_KEYS = MAIN_KEYS + SCALING_KEYS  # every row a run times by default: the main table, then the scaling points
GROUP_KEYS = ["scaling", *(g.key for g in SCALING_GROUPS)]  # names for --only that stand for several points


def row(key: str) -> Row:
    for r in (*ROWS, *SCALING):
        if r.key == key:
            return r
    raise KeyError(f"unknown row {key!r}; rows: {', '.join(MAIN_KEYS)}; scaling groups: {', '.join(GROUP_KEYS)}; "
                   f"scaling points: {', '.join(SCALING_KEYS)}")


def select(keys: list[str]) -> list[Row]:
    """The rows named by ``keys`` (row keys, scaling point keys, or group keys: ``scaling`` is every point), in
    the order given, each once; all rows when ``keys`` is empty. KeyError names an unknown key."""
    chosen: list[Row] = []
    for key in keys or ROW_KEYS:
        if key == "scaling":
            named = SCALING_KEYS
        else:
            named = next(([k for k, _ in g.points] for g in SCALING_GROUPS if g.key == key), [key])
        chosen += [row(k) for k in named if k not in {r.key for r in chosen}]
    return chosen
