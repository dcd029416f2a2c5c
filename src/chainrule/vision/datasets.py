"""torchvision's ``datasets.MNIST``, ``FashionMNIST`` and ``KMNIST``: the same arguments, items and folders.

``MNIST(root, train=True, transform=None, target_transform=None, download=False)``; ``ds[i]`` is
``(image, target)``: the image a **uint8 NumPy array 28×28** (what ``np.asarray`` gives of the PIL image
torchvision hands out; see ``chainrule.vision.transforms``) passed through ``transform``, the target a Python int
passed through ``target_transform``. ``transforms.ToTensor()`` makes the image a float32 1×28×28 Tensor in
[0, 1]. ``.data`` is the uint8 N×28×28 Tensor of all images, ``.targets`` the int64 Tensor of labels,
``.classes`` and ``.class_to_idx`` torchvision's names.

The files are found as ``chainrule.data``'s data sets find them (one mechanism): ``root/<ClassName>/raw`` (where
torchvision keeps them) or ``root`` itself, a distribution package's folder (Fashion-MNIST), chainrule's cache;
each checked by SHA-256. ``download=True`` downloads what is missing into ``root/<ClassName>/raw``, as
torchvision does; without it a missing split raises ``DatasetNotFoundError`` (a ``RuntimeError``, as
torchvision's "Dataset not found", and a ``FileNotFoundError``), one line saying where it looked.

With ``transform`` None or made of ``ToTensor``, ``PILToTensor`` and ``Normalize`` (in a ``Compose`` or alone) and no
``target_transform``, ``DataLoader`` fetches whole batches at once (``get_batch``): equal to the per-image
results, without a Python loop over images.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.data import mnist
from chainrule.data.dataset import _index_array
from chainrule.data.idx import DataNotFoundError
from chainrule.tensor import Tensor
from chainrule.vision import transforms as T

__all__ = ["KMNIST", "MNIST", "DatasetNotFoundError", "FashionMNIST"]


class DatasetNotFoundError(DataNotFoundError, RuntimeError):
    """A data set's files are missing and ``download`` is false (torchvision raises ``RuntimeError``)."""


def _batch_form(transform: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """The whole-batch form of ``transform`` when it has one (None: identity), else None."""
    if transform is None:
        return lambda images: images
    if isinstance(transform, T.Compose):
        return transform.batch if transform.batchable else None
    if isinstance(transform, (T.ToTensor, T.PILToTensor, T.Normalize)):
        return transform.batch
    return None


class _TorchvisionIDX:
    """torchvision's interface over ``chainrule.data.mnist``'s IDX data sets (mixed in before them)."""

    not_found_error = DatasetNotFoundError
    _pixels: np.ndarray
    _labels: np.ndarray
    root: Any
    split: str
    resources: Any
    classes: Any

    def __init__(
        self,
        root: str | os.PathLike | None,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, train=train, download=download, transform=None)  # type: ignore[call-arg]
        self.transform = transform
        self.target_transform = target_transform

    # torchvision's .data and .targets are tensors; the arrays stay underneath for batched access
    @property
    def data(self) -> Tensor:
        return Tensor(self._pixels)

    @data.setter
    def data(self, value: Any) -> None:
        self._pixels = np.asarray(value.numpy() if isinstance(value, Tensor) else value)

    @property
    def targets(self) -> Tensor:
        return Tensor(self._labels)

    @targets.setter
    def targets(self, value: Any) -> None:
        self._labels = np.asarray(value.numpy() if isinstance(value, Tensor) else value)

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    @property
    def raw_folder(self) -> str:
        return os.path.join(os.fspath(self.root), type(self).__name__, "raw")

    def download_dir(self) -> Path:
        if self.root is None:
            return super().download_dir()  # type: ignore[misc]
        return Path(self.root).expanduser() / type(self).__name__ / "raw"

    def _not_found_message(self, specs: Any) -> str:
        name = type(self).__name__
        looked = ", ".join(str(folder) for folder, _ in self._search_dirs())  # type: ignore[attr-defined]
        files = " and ".join(spec.name for spec in specs)
        return (f"{name}: Dataset not found: the {self.split} files {files} are in none of {looked}; use "
                f"download=True to download them into {self.download_dir()}, or put them there")

    def __len__(self) -> int:
        return len(self._pixels)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img: Any = self._pixels[index].copy()  # a fresh image per item, as torchvision makes a new PIL image
        target: Any = int(self._labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    @property
    def batchable(self) -> bool:
        return self.target_transform is None and _batch_form(self.transform) is not None

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        form = _batch_form(self.transform)
        if form is None or self.target_transform is not None:
            raise NotImplementedError(f"{type(self).__name__}: this transform works image by image")
        idx = _index_array(indices, len(self))
        return form(self._pixels[idx]), self._labels[idx]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All images as float32 N×1×H×W in [0, 1] and all labels as int64 N (no transform applied)."""
        return np.divide(self._pixels, np.float32(255), dtype=np.float32)[:, None], self._labels

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}", f"    Split: {'Train' if self.split == 'train' else 'Test'}"]
        if self.transform is not None:
            lines.append("    Transform: " + repr(self.transform).replace("\n", "\n    "))
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)


class MNIST(_TorchvisionIDX, mnist.MNIST):
    """torchvision's ``datasets.MNIST``: handwritten digits, 60000 train / 10000 test (see the module docstring)."""

    classes = ("0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine")


class FashionMNIST(_TorchvisionIDX, mnist.FashionMNIST):
    """torchvision's ``datasets.FashionMNIST``: Zalando's clothing images, 60000 train / 10000 test."""


class KMNIST(_TorchvisionIDX, mnist.KMNIST):
    """torchvision's ``datasets.KMNIST``: Kuzushiji-MNIST, cursive Japanese characters, 60000 / 10000."""
