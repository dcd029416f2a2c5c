"""scikit-learn's bundled 8×8 handwritten digits (1797 images, 10 classes): a data set that needs no download.

scikit-learn is an optional extra (``pip install chainrule[digits]``) and is imported only when the digits
are asked for. Pixel values run from 0 to 16; the images come out as float32 in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.data.dataset import ImageDataset
from chainrule.data.idx import MissingDependencyError

__all__ = ["Digits", "load_digits"]


def _sklearn_digits() -> Any:
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as e:
        error = MissingDependencyError(
            "digits: the data set needs scikit-learn, which ships the 8×8 digits and is not installed; "
            'install the extra: pip install "chainrule[digits]" (or pip install scikit-learn)'
        )
        error.name = "sklearn"
        raise error from e
    return sk_load_digits()


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digits as (images uint8 1797×8×8 with values 0..16, labels int64 1797)."""
    bunch = _sklearn_digits()
    images = np.asarray(bunch.images).round().astype(np.uint8)
    return images, np.asarray(bunch.target, dtype=np.int64)


class Digits(ImageDataset):
    """The scikit-learn digits as a data set: ``ds[i]`` is (float32 1×8×8 image in [0, 1], int label).

    ``.data`` is uint8 1797×8×8 (0..16), ``.targets`` int64. Split it with ``random_split``; it is
    batchable, so ``DataLoader`` fetches whole batches with one fancy-index.
    """

    classes = tuple(str(d) for d in range(10))
    max_value = 16

    def __init__(self, transform: Callable | None = None) -> None:
        images, labels = load_digits()
        super().__init__(images, labels, transform)
