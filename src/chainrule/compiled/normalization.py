"""Batch norm in training, as compiled passes over each channel: two forward (the statistics, then
y = x·(r·γ) + (β − μ·r·γ)) and two backward (Σ gy and Σ gy·(x − μ), then gx). The NumPy references are
``_batch_norm_forward`` and ``_batch_norm_grads`` in ``src/chainrule/ops/normalization.py``; the tests hold the
kernels to them.

Arrays are (N, C, L) views of (N, C, ...) inputs; per-channel arrays are (C,). Each call handles channels
c0 ≤ c < c1, so that the channels can be split across threads. Sums run in float64 (the references sum pairwise in
the input's dtype): the two agree to the rounding of the sums, not bit for bit.
"""

from __future__ import annotations

import math

import numba


@numba.njit(cache=True, nogil=True)
def batch_norm_forward(x, weight, bias, eps, y, mean, var, rstd, c0, c1):  # pragma: no cover - compiled
    """μ = Σx/n, σ² = Σ(x − μ)²/n (two passes: no cancellation), r = 1/√(σ² + eps), y = x·(r·γ) + (β − μ·r·γ)."""
    n_img, _, length = x.shape
    n = n_img * length
    for c in range(c0, c1):
        total = 0.0
        for i in range(n_img):
            for j in range(length):
                total += x[i, c, j]
        mu = total / n
        squares = 0.0
        for i in range(n_img):
            for j in range(length):
                d = x[i, c, j] - mu
                squares += d * d
        variance = squares / n
        r = 1.0 / math.sqrt(variance + eps)
        mean[c], var[c], rstd[c] = mu, variance, r
        scale = r * weight[c]
        shift = bias[c] - mu * scale
        scale_x, shift_x = x.dtype.type(scale), x.dtype.type(shift)  # the pass below in the input's dtype
        for i in range(n_img):
            for j in range(length):
                y[i, c, j] = x[i, c, j] * scale_x + shift_x


@numba.njit(cache=True, nogil=True)
def batch_norm_backward(gy, x, mean, rstd, weight, gx, gweight, gbias, c0, c1):  # pragma: no cover - compiled
    """gβ = Σ gy, gγ = r·Σ gy·(x − μ), gx = (r·γ)·(gy − gβ/n − (x − μ)·r·gγ/n)."""
    n_img, _, length = x.shape
    n = n_img * length
    for c in range(c0, c1):
        mu, r = mean[c], rstd[c]
        sum_g = 0.0
        sum_gx = 0.0
        for i in range(n_img):
            for j in range(length):
                g = gy[i, c, j]
                sum_g += g
                sum_gx += g * (x[i, c, j] - mu)
        gbias[c] = sum_g
        gweight[c] = sum_gx * r
        k = r * weight[c]
        # gx = k·gy − k·gβ/n − k·r·gγ/n·(x − μ) = a·gy + b·x + d, in the input's dtype
        a = x.dtype.type(k)
        b = x.dtype.type(-k * r * r * sum_gx / n)
        d = x.dtype.type(-k * sum_g / n + k * r * r * sum_gx / n * mu)
        for i in range(n_img):
            for j in range(length):
                gx[i, c, j] = a * gy[i, c, j] + b * x[i, c, j] + d
