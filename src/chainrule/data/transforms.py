"""Image transforms on NumPy arrays, for one image or a whole batch at once.

Layout: one image is C×H×W (or H×W); a batch is a 4-D N×C×H×W array. Keep the channel axis on a batch of
grey images (N×1×H×W, as the image data sets give): a 3-D array is always read as one C×H×W image.

Every transform here works on both, and on a batch it is vectorised (no Python loop over images); random
transforms draw independently for each image of a batch. They carry ``batched = True``, which lets
``DataLoader`` apply them to whole batches (its fast path); a plain function used as a transform is applied
image by image unless wrapped as ``Lambda(fn, batched=True)``.

Random transforms draw from ``generator`` (a ``numpy.random.Generator``), else from chainrule's default
generator at call time (``cr.manual_seed`` makes them repeatable). A batch consumes the generator
differently from the same images one at a time: the same distribution, not the same draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from chainrule import creation
from chainrule.data.idx import DataError
from chainrule.errors import ShapeError

__all__ = ["Compose", "Lambda", "Normalize", "RandomCrop", "RandomHorizontalFlip", "ToFloat"]


def _is_batch(x: np.ndarray, name: str) -> bool:
    if x.ndim not in (2, 3, 4):
        raise ShapeError(f"{name}: expected an H×W or C×H×W image or an N×C×H×W batch, got shape {x.shape}")
    return x.ndim == 4


def _rng(generator: np.random.Generator | None) -> np.random.Generator:
    return generator if generator is not None else creation.default_generator()


class Compose:
    """Apply ``transforms`` in order. Batched when every one of them is."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    @property
    def batched(self) -> bool:
        return all(getattr(t, "batched", False) for t in self.transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class Lambda:
    """A function as a transform; say ``batched=True`` if it also works on N×C×H×W batches."""

    def __init__(self, fn: Callable[[Any], Any], batched: bool = False) -> None:
        self.fn = fn
        self.batched = batched

    def __call__(self, x: Any) -> Any:
        return self.fn(x)

    def __repr__(self) -> str:
        return f"Lambda({getattr(self.fn, '__name__', self.fn)!s}, batched={self.batched})"


class ToFloat:
    """Cast to ``dtype`` (float32) and divide by ``scale``: uint8 pixels 0..255 become floats in [0, 1].

    ``scale`` defaults to 255 for uint8 input and 1 (a plain cast) for anything else.
    """

    batched = True

    def __init__(self, scale: float | None = None, dtype: Any = np.float32) -> None:
        self.scale = scale
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise DataError(f"ToFloat: dtype must be a floating dtype, got {self.dtype}")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        scale = self.scale if self.scale is not None else (255 if x.dtype == np.uint8 else 1)
        if scale == 1:
            return x.astype(self.dtype, copy=False)
        return np.divide(x, self.dtype.type(scale), dtype=self.dtype)

    def __repr__(self) -> str:
        return f"ToFloat(scale={self.scale}, dtype={self.dtype})"


class Normalize:
    """``(x - mean) / std`` per channel; ``mean`` and ``std`` are numbers or one value per channel.

    The channel axis is the third from the end (C of C×H×W and N×C×H×W). Integer input is cast to float32
    first; float input keeps its dtype.
    """

    batched = True

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise DataError(f"Normalize: mean and std must be numbers or 1-D sequences, got {mean!r}, {std!r}")
        if len(self.mean) != len(self.std) and 1 not in (len(self.mean), len(self.std)):
            raise DataError(f"Normalize: {len(self.mean)} means but {len(self.std)} stds")
        if np.any(self.std == 0):
            raise DataError(f"Normalize: std must not be zero, got {std!r}")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        _is_batch(x, "Normalize")
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
        channels = max(len(self.mean), len(self.std))
        if channels == 1:
            mean, std = self.mean.astype(dtype)[0], self.std.astype(dtype)[0]
        else:
            if x.ndim < 3 or x.shape[-3] != channels:
                raise ShapeError(
                    f"Normalize: {channels} channel means/stds for an image of shape {x.shape} "
                    f"(channels are the third axis from the end)"
                )
            mean = np.broadcast_to(self.mean, (channels,)).astype(dtype).reshape(channels, 1, 1)
            std = np.broadcast_to(self.std, (channels,)).astype(dtype).reshape(channels, 1, 1)
        return ((x.astype(dtype, copy=False) - mean) / std).astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def _padding(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) from an int, (left/right, top/bottom) or (left, top, right, bottom)."""
    p = (padding,) if isinstance(padding, (int, np.integer)) else tuple(int(v) for v in padding)
    if len(p) == 1:
        p = p * 4
    elif len(p) == 2:
        p = (p[0], p[1], p[0], p[1])
    if len(p) != 4 or any(v < 0 for v in p):
        raise DataError(f"RandomCrop: padding must be an int, 2 or 4 non-negative ints, got {padding!r}")
    return p  # type: ignore[return-value]


class RandomCrop:
    """Pad the borders with ``fill``, then cut an ``size`` (h, w) window at a random place.

    ``padding`` follows torchvision: an int for every side, (left/right, top/bottom), or (left, top, right,
    bottom). On a batch every image gets its own window, gathered with one strided fancy-index.
    """

    batched = True

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] = 0,
        generator: np.random.Generator | None = None,
        fill: float = 0,
    ) -> None:
        self.size = (int(size), int(size)) if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)
        if len(self.size) != 2 or min(self.size) < 1:
            raise DataError(f"RandomCrop: size must be a positive int or (height, width), got {size!r}")
        self.padding = _padding(padding)
        self.generator = generator
        self.fill = fill

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        batch = _is_batch(x, "RandomCrop")
        left, top, right, bottom = self.padding
        if any(self.padding):
            pad = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
            x = np.pad(x, pad, mode="constant", constant_values=self.fill)
        h, w = self.size
        H, W = x.shape[-2:]
        if h > H or w > W:
            raise ShapeError(f"RandomCrop: crop size {self.size} is larger than the padded image {(H, W)}")
        rng = _rng(self.generator)
        if not batch:
            i, j = rng.integers(0, H - h + 1), rng.integers(0, W - w + 1)
            return x[..., i : i + h, j : j + w].copy()
        n = x.shape[0]
        rows, cols = rng.integers(0, H - h + 1, size=n), rng.integers(0, W - w + 1, size=n)
        windows = sliding_window_view(x, (h, w), axis=(-2, -1))  # N×C×(H-h+1)×(W-w+1)×h×w, no copy
        return windows[np.arange(n), :, rows, cols]  # advanced indices around the slice go first: N×C×h×w

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p`` (each image of a batch decides on its own)."""

    batched = True

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None) -> None:
        if not 0 <= p <= 1:
            raise DataError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        batch = _is_batch(x, "RandomHorizontalFlip")
        rng = _rng(self.generator)
        if not batch:
            return x[..., ::-1].copy() if rng.random() < self.p else x
        flip = rng.random(x.shape[0]) < self.p
        return np.where(flip[:, None, None, None], x[..., ::-1], x)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"
