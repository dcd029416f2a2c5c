"""Synthetic sequence tasks that need no download: the adding problem and the copy task.

Both are classic tests of long-range memory: the answer depends on inputs far from the end of the sequence, so
a model learns them only if gradient reaches those early steps (see docs/rnn.md).
"""

from __future__ import annotations

import numpy as np

__all__ = ["adding_problem", "copy_task"]


def adding_problem(n: int, length: int, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences of ``length`` steps with 2 features: a value in [0, 1) and a marker (1 at two steps).

    One marker falls in the first half, one in the second; the target is the sum of the two marked values.
    Returns x (length, n, 2) float32 (time first, as ``nn.RNN`` expects) and y (n, 1) float32. Always
    answering 1 gives a mean squared error of about 1/6.
    """
    if length < 2:
        raise ValueError(f"adding_problem: length must be ≥ 2, got {length}")
    values = generator.random((length, n)).astype(np.float32)
    markers = np.zeros((length, n), dtype=np.float32)
    half = length // 2
    first = generator.integers(0, half, n)
    second = generator.integers(half, length, n)
    columns = np.arange(n)
    markers[first, columns] = 1
    markers[second, columns] = 1
    y = (values[first, columns] + values[second, columns]).reshape(n, 1)
    return np.stack([values, markers], axis=-1), y


def copy_task(
    n: int, length: int, symbols: int, generator: np.random.Generator, distractors: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Remember the first symbol of a sequence of ``length`` steps until its end.

    Returns x (length, n, symbols + 1) one-hot float32 and y (n,) int64, the first symbol. The extra channel
    marks the last step, where the answer is due; the steps between are blank, or random distractor symbols
    with ``distractors=True`` (much harder).
    """
    tokens = generator.integers(0, symbols, (length, n))
    x = np.zeros((length, n, symbols + 1), dtype=np.float32)
    np.put_along_axis(x, tokens[..., None], 1.0, axis=-1)
    if not distractors:
        x[1:] = 0
    x[-1] = 0
    x[-1, :, symbols] = 1
    return x, tokens[0].astype(np.int64)
