"""torchvision's ``transforms``, on NumPy images and chainrule Tensors.

**Images.** torchvision's data sets hand a transform a PIL image. chainrule has no PIL dependency, so its
data sets (``chainrule.vision.datasets``) hand a **uint8 NumPy array, H×W** for a grey image (H×W×C for
colour): exactly ``np.asarray(pil_image)``, so code written for either sees the same pixels. ``ToTensor``
accepts such an array, or anything ``np.asarray`` turns into one (a PIL image, if PIL is installed), and gives
a C×H×W Tensor: float32 in [0, 1] from uint8, other dtypes unscaled (as torchvision). Transforms after it
(``Normalize``) work on Tensors, as in torchvision.

**Batches.** ``ToTensor``, ``PILToTensor``, ``Normalize`` and a ``Compose`` of them also have ``batch(xs)``:
the same transform on a stack of images (B×H×W[×C] arrays in, B×C×H×W arrays out), equal to transforming the
images one by one and stacking them. The data sets use it to hand ``DataLoader`` whole batches (its fast path).

Random transforms (``RandomCrop``, ``RandomHorizontalFlip``) draw from chainrule's default generator, which
``cr.manual_seed`` and each ``DataLoader`` worker's seed set (torchvision draws from torch's).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule import creation
from chainrule.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from chainrule.tensor import Tensor, as_array

__all__ = [
    "CenterCrop", "Compose", "Lambda", "Normalize", "PILToTensor", "RandomCrop", "RandomHorizontalFlip", "ToTensor",
]


def _image_array(name: str, pic: Any) -> np.ndarray:
    """A PIL-like image (H×W or H×W×C) as an array; a Tensor is refused as torchvision refuses it."""
    if isinstance(pic, Tensor):
        raise ArgumentTypeError(
            f"{name}: pic should be a PIL-like image (a uint8 NumPy array H×W or H×W×C), got a Tensor of shape "
            f"{tuple(pic.shape)}; it is a tensor already, so drop {name} from the Compose"
        )
    try:
        array = np.asarray(pic)
    except Exception:
        array = None
    if array is None or array.dtype.kind not in "biuf":
        raise ArgumentTypeError(
            f"{name}: pic should be a PIL-like image (a NumPy array H×W or H×W×C), got {type(pic).__name__}"
        )
    if array.ndim not in (2, 3):
        raise ShapeError(f"{name}: pic should be 2/3 dimensional (H×W or H×W×C), got {array.ndim} dimensions "
                         f"(shape {array.shape})")
    return array


def _chw(array: np.ndarray) -> np.ndarray:
    """An image H×W or H×W×C laid out as C×H×W."""
    if array.ndim == 2:
        return array[None]
    return np.ascontiguousarray(np.moveaxis(array, -1, -3))


class Compose:
    """Apply ``transforms`` one after another, as torchvision's ``Compose``."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    @property
    def batchable(self) -> bool:
        """Whether every transform has ``batch`` (then so does the Compose)."""
        return all(callable(getattr(t, "batch", None)) for t in self.transforms)

    def batch(self, images: np.ndarray) -> np.ndarray:
        if not self.batchable:
            missing = [type(t).__name__ for t in self.transforms if not callable(getattr(t, "batch", None))]
            raise ArgumentTypeError(f"Compose.batch: {', '.join(missing)} work on one image at a time")
        for t in self.transforms:
            images = t.batch(images)
        return images

    def __repr__(self) -> str:
        lines = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({lines}\n)"


class ToTensor:
    """A uint8 image H×W (or H×W×C) → a float32 Tensor C×H×W in [0, 1]; other dtypes keep their values.

    As torchvision's ``ToTensor`` on a PIL image or an ndarray; see the module docstring for what an image is.
    """

    def __call__(self, pic: Any) -> Tensor:
        return Tensor(self._convert(_image_array("ToTensor", pic)))

    @staticmethod
    def _convert(array: np.ndarray) -> np.ndarray:
        chw = _chw(array)
        if chw.dtype == np.uint8:
            return np.divide(chw, np.float32(255), dtype=np.float32)
        return np.array(chw, copy=True)

    def batch(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim not in (3, 4):
            raise ShapeError(f"ToTensor.batch: expected B×H×W or B×H×W×C images, got shape {images.shape}")
        chw = images[:, None] if images.ndim == 3 else np.moveaxis(images, -1, 1)
        if chw.dtype == np.uint8:
            return np.divide(chw, np.float32(255), dtype=np.float32)
        return np.array(chw, copy=True)

    def __repr__(self) -> str:
        return "ToTensor()"


class PILToTensor:
    """An image H×W (or H×W×C) → a Tensor C×H×W of the same dtype, unscaled (torchvision's ``PILToTensor``)."""

    def __call__(self, pic: Any) -> Tensor:
        return Tensor(np.array(_chw(_image_array("PILToTensor", pic)), copy=True))

    def batch(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        return np.array(images[:, None] if images.ndim == 3 else np.moveaxis(images, -1, 1), copy=True)

    def __repr__(self) -> str:
        return "PILToTensor()"


class Normalize:
    """``(x - mean[c]) / std[c]`` for each channel c of a float Tensor ``(..., C, H, W)`` (torchvision's).

    ``mean`` and ``std`` are one value per channel (or one for all); they are cast to the tensor's dtype first,
    so float32 stays float32. ``inplace=True`` writes the result into the input tensor.
    """

    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float, inplace: bool = False) -> None:
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def _stats(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        mean = np.asarray(self.mean, dtype=dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=dtype).reshape(-1, 1, 1)
        if np.any(std == 0):
            raise ArgumentError(
                f"Normalize: std evaluated to zero after conversion to {dtype}, leading to division by zero "
                f"(std={self.std!r}); give every channel a non-zero std"
            )
        return mean, std

    def _check(self, name: str, x: Any) -> None:
        if x.dtype.kind != "f":
            raise DTypeError(f"{name}: input tensor should be a float tensor, got {x.dtype}; put ToTensor() first")
        if x.ndim < 3:
            raise ShapeError(f"{name}: expected a tensor image of size (..., C, H, W), got shape {tuple(x.shape)}")

    def __call__(self, tensor: Tensor) -> Tensor:
        if not isinstance(tensor, Tensor):
            raise ArgumentTypeError(
                f"Normalize: img should be a Tensor image, got {type(tensor).__name__}; put ToTensor() first"
            )
        self._check("Normalize", tensor)
        mean, std = self._stats(tensor.dtype)
        if self.inplace:
            return tensor.sub_(Tensor(mean)).div_(Tensor(std))
        return (tensor - Tensor(mean)) / Tensor(std)  # Tensor ops: the result is differentiable, as torchvision's

    def batch(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        self._check("Normalize.batch", images)
        mean, std = self._stats(images.dtype)
        return (images - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Lambda:
    """A user function as a transform (torchvision's ``Lambda``)."""

    def __init__(self, lambd: Callable[[Any], Any]) -> None:
        if not callable(lambd):
            raise ArgumentTypeError(f"Lambda: argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)

    def __repr__(self) -> str:
        return "Lambda()"


def _size(name: str, size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (int(size), int(size))
    elif isinstance(size, Sequence) and len(size) == 1:
        size = (int(size[0]), int(size[0]))
    if not (isinstance(size, Sequence) and len(size) == 2 and all(isinstance(s, numbers.Integral) for s in size)
            and min(size) >= 1):
        raise ArgumentError(f"{name}: size should be a positive int or a sequence (h, w) of them, got {size!r}")
    return int(size[0]), int(size[1])


def _spatial(img: Any, name: str) -> tuple[np.ndarray, bool]:
    """The pixels and whether they are laid out as a tensor (…×H×W) rather than an image array (H×W[×C])."""
    if isinstance(img, Tensor):
        array = np.asarray(as_array(img))
        if array.ndim < 2:
            raise ShapeError(f"{name}: expected a tensor image (..., H, W), got shape {array.shape}")
        return array, True
    return _image_array(name, img), False


def _hw(array: np.ndarray, is_tensor: bool) -> tuple[int, int]:
    return (array.shape[-2], array.shape[-1]) if is_tensor or array.ndim == 2 else (array.shape[0], array.shape[1])


def _crop(array: np.ndarray, is_tensor: bool, top: int, left: int, h: int, w: int) -> np.ndarray:
    if is_tensor or array.ndim == 2:
        return array[..., top : top + h, left : left + w].copy()
    return array[top : top + h, left : left + w].copy()


def _rewrap(img: Any, array: np.ndarray) -> Any:
    return Tensor(array) if isinstance(img, Tensor) else array


class CenterCrop:
    """The central ``size`` (h, w) window (torchvision's ``CenterCrop``; the image must be at least that big)."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _size("CenterCrop", size)

    def __call__(self, img: Any) -> Any:
        array, is_tensor = _spatial(img, "CenterCrop")
        (H, W), (h, w) = _hw(array, is_tensor), self.size
        if h > H or w > W:
            raise ShapeError(f"CenterCrop: crop size {self.size} is larger than the image {(H, W)}; pad it first")
        top, left = int(round((H - h) / 2.0)), int(round((W - w) / 2.0))
        return _rewrap(img, _crop(array, is_tensor, top, left, h, w))

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


class RandomCrop:
    """Pad by ``padding`` (filled with ``fill``), then cut a ``size`` window at a random place (torchvision's).

    ``padding`` is an int for every side, (left/right, top/bottom) or (left, top, right, bottom);
    ``pad_if_needed`` pads an image smaller than ``size``. Only ``padding_mode='constant'`` is available.
    """

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] | None = None,
                 pad_if_needed: bool = False, fill: float = 0, padding_mode: str = "constant") -> None:
        self.size = _size("RandomCrop", size)
        if padding_mode != "constant":
            raise ArgumentError(f"RandomCrop: padding_mode {padding_mode!r} is not available; use 'constant'")
        p: tuple[int, ...] = (0,) if padding is None else (
            (int(padding),) if isinstance(padding, numbers.Integral) else tuple(int(v) for v in padding))
        if len(p) not in (1, 2, 4) or min(p) < 0:
            raise ArgumentError(f"RandomCrop: padding should be an int or a sequence of 2 or 4 non-negative ints, "
                                f"got {padding!r}")
        self.padding = p * 4 if len(p) == 1 else (p * 2 if len(p) == 2 else p)  # left, top, right, bottom
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    def _pad(self, array: np.ndarray, is_tensor: bool, left: int, top: int, right: int, bottom: int) -> np.ndarray:
        pads = [(0, 0)] * array.ndim
        h_axis = array.ndim - 2 if is_tensor or array.ndim == 2 else 0
        pads[h_axis], pads[h_axis + 1] = (top, bottom), (left, right)
        return np.pad(array, pads, mode="constant", constant_values=self.fill)

    def __call__(self, img: Any) -> Any:
        array, is_tensor = _spatial(img, "RandomCrop")
        if any(self.padding):
            array = self._pad(array, is_tensor, *self.padding)
        h, w = self.size
        H, W = _hw(array, is_tensor)
        if self.pad_if_needed and (H < h or W < w):
            dh, dw = max(h - H, 0), max(w - W, 0)
            array = self._pad(array, is_tensor, dw, dh, dw, dh)
            H, W = _hw(array, is_tensor)
        if h > H or w > W:
            raise ShapeError(f"RandomCrop: required crop size {self.size} is larger than the input image size "
                             f"{(H, W)}; pass padding= or pad_if_needed=True")
        rng = creation.default_generator()
        top, left = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
        return _rewrap(img, _crop(array, is_tensor, top, left, h, w))

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``p`` (torchvision's ``RandomHorizontalFlip``)."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0 <= p <= 1:
            raise ArgumentError(f"RandomHorizontalFlip: p should be a probability in [0, 1], got {p!r}")
        self.p = p

    def __call__(self, img: Any) -> Any:
        if creation.default_generator().random() >= self.p:
            return img
        array, is_tensor = _spatial(img, "RandomHorizontalFlip")
        flipped = array[..., ::-1] if is_tensor or array.ndim == 2 else array[:, ::-1]
        return _rewrap(img, flipped.copy())

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"
