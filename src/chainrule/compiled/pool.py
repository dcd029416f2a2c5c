"""Max pooling with 2×2 windows and stride 2, as compiled loops: the configuration of nearly every CNN, where
NumPy needs one strided pass per kernel offset and per step of the argmax. The NumPy reference is the fast
loop of ``MaxPool2d.forward`` in ``src/chainrule/ops/pool.py`` and ``MaxPool2dScatter``; the tests require equal
results.

Arrays are planes: xpad (P, Hp, Wp) with P = N·C, padded with −inf; y, offset, gy (P, OH, OW); the window of
output (i, j) is rows 2i, 2i + 1 and columns 2j, 2j + 1, kernel offsets k = 2u + v in row-major order.
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def _takes(new, old):  # pragma: no cover - compiled
    """The rule of the reference loop: a later element wins when greater; a NaN wins too, so that the window's
    maximum becomes NaN and the caller's check hands it to the exact rule."""
    return new > old or new != new


@numba.njit(cache=True, nogil=True)
def max_pool2d_2x2(xpad, y, offset):  # pragma: no cover - compiled
    """y = the maximum of each window, offset = its kernel offset (the first maximum in row-major order): the
    maximum of each row of the window, then of the two rows (the bottom row wins only when greater, so ties
    keep the first maximum in row-major order), without branches."""
    planes, out_h, out_w = y.shape
    for p in range(planes):
        for i in range(out_h):
            for j in range(out_w):
                a, b = xpad[p, 2 * i, 2 * j], xpad[p, 2 * i, 2 * j + 1]
                c, d = xpad[p, 2 * i + 1, 2 * j], xpad[p, 2 * i + 1, 2 * j + 1]
                right_top, right_bottom = _takes(b, a), _takes(d, c)
                top = b if right_top else a
                bottom = d if right_bottom else c
                below = _takes(bottom, top)
                y[p, i, j] = bottom if below else top
                offset[p, i, j] = 2 + right_bottom if below else right_top


@numba.njit(cache=True, nogil=True)
def max_pool2d_2x2_scatter(gy, offset, gpad):  # pragma: no cover - compiled
    """The winner of window (i, j) gets gy[i, j] and the window's other three elements 0 (also when gy is
    infinite or NaN), so the whole window is written (gpad needs no zero fill where the windows cover it)."""
    planes, out_h, out_w = gy.shape
    for p in range(planes):
        for i in range(out_h):
            for j in range(out_w):
                g, k = gy[p, i, j], offset[p, i, j]
                gpad[p, 2 * i, 2 * j] = g if k == 0 else 0.0
                gpad[p, 2 * i, 2 * j + 1] = g if k == 1 else 0.0
                gpad[p, 2 * i + 1, 2 * j] = g if k == 2 else 0.0
                gpad[p, 2 * i + 1, 2 * j + 1] = g if k == 3 else 0.0
