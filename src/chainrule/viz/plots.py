"""Training plots as PNG files (matplotlib, headless): loss and accuracy curves, confusion matrices, and the
gradient norm reaching each time step of a recurrent layer (``chainrule.nn.bptt`` measures it).

Each is written atomically (a temporary file, then a rename), like every file chainrule writes. matplotlib is
the optional ``plot`` extra; without it these raise ImportError and the callers write their text files only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.io import atomic_write


def save_png(fig: Any, path: str | Path, dpi: int = 100) -> Path:
    """Save a matplotlib figure as a PNG at ``path`` atomically, and close it."""
    import matplotlib.pyplot as plt

    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi))
    finally:
        plt.close(fig)
    return Path(path)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: list[dict[str, Any]], path: str | Path) -> Path:
    """Loss and accuracy per epoch, train and test, as a PNG (matplotlib, headless)."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.6))
    for split in ("train", "test"):
        ax_loss.plot(epochs, [row[f"{split}_loss"] for row in history], marker="o", label=split)
        ax_acc.plot(epochs, [row[f"{split}_acc"] for row in history], marker="o", label=split)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return save_png(fig, path)


def plot_confusion(counts: np.ndarray, names: list[str], path: str | Path) -> Path:
    """The confusion matrix as an image, row-normalised colours with the counts written in each cell."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix (row-normalised)")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return save_png(fig, path)


def plot_gradient_norms(curves: Mapping[str, Sequence[float]], path: str | os.PathLike[str], title: str = "") -> Path:
    """A PNG of ‖∂L/∂h_t‖ against t (log scale), one line per named curve (``chainrule.nn.bptt`` measures them);
    written atomically. Needs matplotlib."""
    try:
        plt = _pyplot()
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise ImportError("plot_gradient_norms needs matplotlib: pip install 'chainrule[plot]'") from e
    path = Path(path)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, values in curves.items():
        values = np.asarray(values, dtype=np.float64)
        ax.semilogy(np.arange(1, len(values) + 1), np.maximum(values, 1e-30), label=name)
    ax.set_xlabel("time step t")
    ax.set_ylabel("‖∂L/∂h_t‖")
    ax.set_title(title or "Gradient reaching each time step (BPTT)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save_png(fig, path)
