"""Shared test helpers: compare an op with PyTorch, and gradcheck it in float64.

``check_torch(cr_fn, torch_fn, arrays)`` runs both libraries on the same arrays and a seeded upstream
gradient, then asserts equal outputs (values, shape, dtype) and equal input gradients.
``check_grads(fn, arrays)`` runs float64 gradcheck and, unless told not to, gradgradcheck.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

import chainrule as cr

torch.set_num_threads(1)

TOL = {np.dtype(np.float32): (1e-5, 1e-4), np.dtype(np.float64): (1e-10, 1e-8)}


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def noncontiguous(a: np.ndarray) -> np.ndarray:
    """The same values as ``a`` in a non-contiguous layout (a strided view of a larger buffer)."""
    big = np.zeros(a.shape + (2,), dtype=a.dtype)
    big[..., 0] = a
    view = big[..., 0]
    assert not view.flags.c_contiguous or a.size <= 1
    return view


def _as_list(ys):
    return list(ys) if isinstance(ys, (tuple, list)) else [ys]


def check_torch(
    cr_fn: Callable,
    torch_fn: Callable,
    arrays: Sequence[np.ndarray],
    *,
    grad: bool = True,
    atol: float | None = None,
    rtol: float | None = None,
    seed: int = 0,
) -> None:
    """Forward values and every input gradient of ``cr_fn`` equal those of ``torch_fn``."""
    xs = [cr.Tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    ts = [torch.tensor(np.array(a), requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    ys = _as_list(cr_fn(*xs))
    yts = _as_list(torch_fn(*ts))
    assert len(ys) == len(yts)
    for y, yt in zip(ys, yts):
        expected = yt.detach().numpy()
        assert y.shape == tuple(expected.shape), f"shape {y.shape} != torch {tuple(expected.shape)}"
        assert y.dtype == expected.dtype, f"dtype {y.dtype} != torch {expected.dtype}"
        a_tol, r_tol = TOL.get(y.dtype, (0, 0))
        np.testing.assert_allclose(y.numpy(), expected, atol=atol or a_tol, rtol=rtol or r_tol)
    if not grad:
        return
    r = rng(seed)
    pairs = [(y, yt) for y, yt in zip(ys, yts) if y.requires_grad]
    gs = [r.standard_normal(y.shape).astype(y.dtype) for y, _ in pairs]
    cr.autograd.backward([y for y, _ in pairs], [cr.Tensor(g) for g in gs])
    torch.autograd.backward([yt for _, yt in pairs], [torch.tensor(g) for g in gs])
    for i, (x, t) in enumerate(zip(xs, ts)):
        if not x.requires_grad:
            continue
        if t.grad is None:
            assert x.grad is None or not np.any(x.grad.numpy()), f"input {i}: torch has no gradient"
            continue
        assert x.grad is not None, f"input {i}: no gradient"
        assert x.grad.dtype == x.dtype, f"input {i}: gradient dtype {x.grad.dtype} != {x.dtype}"
        a_tol, r_tol = TOL[x.dtype]
        np.testing.assert_allclose(
            x.grad.numpy(), t.grad.numpy(), atol=atol or a_tol, rtol=rtol or r_tol, err_msg=f"gradient of input {i}"
        )


def check_grads(fn: Callable, arrays: Sequence[np.ndarray], *, second: bool = True, **kwargs) -> None:
    """float64 gradcheck of ``fn`` at ``arrays`` (float arrays require grad), and gradgradcheck."""
    xs = [cr.Tensor(np.asarray(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else a,
                    requires_grad=np.asarray(a).dtype.kind == "f") for a in arrays]
    assert cr.gradcheck(fn, xs, **kwargs)
    if second:
        assert cr.gradgradcheck(fn, xs, **kwargs)


def away_from_zero(shape: Sequence[int], seed: int = 0, low: float = 0.1, high: float = 1.0) -> np.ndarray:
    """Values with |x| in [low, high) and random signs: safe for kinks at 0 (relu, abs)."""
    r = rng(seed)
    return r.uniform(low, high, shape) * r.choice([-1.0, 1.0], shape)


def distinct(shape: Sequence[int], seed: int = 0) -> np.ndarray:
    """Distinct values (no ties), well separated: safe for max, min and sorting."""
    n = int(np.prod(shape))
    return (rng(seed).permutation(n).reshape(shape) - n / 2) * 0.1 + 0.05
