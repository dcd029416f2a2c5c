"""Splitting a global batch over the processes so that training equals one process on the whole batch.

Rank r of p takes the contiguous rows ``[N·r // p, N·(r + 1) // p)`` of a batch of N (3 ranks over 8: 3, 3, 2).
Random draws shaped by the batch (dropout's masks) must split the same way: ``RowShardGenerator`` draws the
global batch's numbers, exactly as one process would, and hands back this rank's rows, so the generator's state
moves in step on every rank and every mask is the matching slice of the single-process mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RowShardGenerator", "shard_bounds"]


def shard_bounds(total: int, world: int, rank: int) -> tuple[int, int]:
    """(start, stop) of rank ``rank``'s contiguous rows of a batch of ``total`` split over ``world`` processes."""
    return total * rank // world, total * (rank + 1) // world


class RowShardGenerator(np.random.Generator):
    """A ``numpy.random.Generator`` sharing ``bit_generator`` whose ``random(size)`` draws for the whole batch
    and returns this rank's rows.

    ``shard(start, stop, total)`` says which rows, before each forward; ``random((n, ...))`` with
    n = stop − start then draws ``(total, ...)`` and returns rows ``start:stop``. Any other draw is the plain
    generator's.
    """

    def __init__(self, bit_generator: np.random.BitGenerator) -> None:
        super().__init__(bit_generator)
        self.rows: tuple[int, int, int] | None = None  # (start, stop, total) of the current batch

    def shard(self, start: int, stop: int, total: int) -> None:
        self.rows = (start, stop, total)

    def random(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> Any:
        if self.rows is not None and out is None and isinstance(size, tuple) and size:
            start, stop, total = self.rows
            if size[0] == stop - start:
                return super().random((total, *size[1:]), dtype=dtype)[start:stop]
        return super().random(size, dtype=dtype, out=out)
