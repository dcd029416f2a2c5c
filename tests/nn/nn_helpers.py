"""Helpers for the chainrule.nn tests: move weights between a chainrule module and a torch.nn module, and
compare their outputs and gradients."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

import chainrule as cr
from chainrule import nn

TOL = {np.dtype(np.float32): (1e-5, 1e-4), np.dtype(np.float64): (1e-10, 1e-8)}


def torch_state_numpy(module: torch.nn.Module) -> dict[str, np.ndarray]:
    """A torch module's state dict as NumPy arrays (copies)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_from_torch(module: nn.Module, torch_module: torch.nn.Module) -> nn.Module:
    module.load_state_dict(torch_state_numpy(torch_module))
    return module


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype: np.dtype | None = None, **kwargs) -> None:
    atol, rtol = TOL[np.dtype(dtype or actual.dtype)]
    np.testing.assert_allclose(actual, expected, atol=kwargs.pop("atol", atol), rtol=kwargs.pop("rtol", rtol),
                               **kwargs)


def compare_with_torch(
    module: nn.Module,
    torch_module: torch.nn.Module,
    arrays: Sequence[np.ndarray],
    *,
    grad: bool = True,
    requires_grad: Sequence[bool] | None = None,
    load: bool = True,
    seed: int = 0,
    atol: float | None = None,
    rtol: float | None = None,
) -> None:
    """Load the torch module's weights into ``module`` and check: same output (values, shape, dtype), and after
    a backward pass with the same random upstream gradient, the same gradient for every floating input (or
    those ``requires_grad`` names) and every parameter (matched by name)."""
    if load:
        load_from_torch(module, torch_module)
    if requires_grad is None:
        requires_grad = [a.dtype.kind == "f" for a in arrays]
    xs = [cr.Tensor(a.copy(), requires_grad=grad and r) for a, r in zip(arrays, requires_grad)]
    ts = [torch.tensor(a.copy(), requires_grad=grad and r) for a, r in zip(arrays, requires_grad)]
    y = module(*xs)
    yt = torch_module(*ts)
    expected = yt.detach().numpy()
    assert y.shape == tuple(expected.shape), f"shape {y.shape} != torch {tuple(expected.shape)}"
    assert y.dtype == expected.dtype, f"dtype {y.dtype} != torch {expected.dtype}"
    kw = {k: v for k, v in (("atol", atol), ("rtol", rtol)) if v is not None}
    assert_close(y.numpy(), expected, **kw)
    if not grad:
        return
    g = np.random.default_rng(seed).standard_normal(y.shape).astype(y.dtype)
    y.backward(cr.Tensor(g))
    yt.backward(torch.tensor(g))
    for i, (x, t) in enumerate(zip(xs, ts)):
        if x.requires_grad:
            assert x.grad is not None, f"input {i}: no gradient"
            assert_close(x.grad.numpy(), t.grad.numpy(), err_msg=f"gradient of input {i}", **kw)
    torch_params = dict(torch_module.named_parameters())
    names = [name for name, _ in module.named_parameters()]
    assert names == list(torch_params), f"parameter names {names} != torch {list(torch_params)}"
    for name, p in module.named_parameters():
        t = torch_params[name]
        if t.grad is None:
            assert p.grad is None or not np.any(p.grad.numpy()), f"{name}: torch has no gradient"
            continue
        assert p.grad is not None, f"{name}: no gradient"
        assert p.grad.dtype == p.dtype
        assert_close(p.grad.numpy(), t.grad.numpy(), err_msg=f"gradient of {name}", **kw)


def randomize(torch_module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Replace every floating parameter and buffer with random values (positive for running_var), so that a
    default initialisation of ones and zeros cannot hide a mistake."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(torch_module.named_parameters()) + list(torch_module.named_buffers()):
            if not t.dtype.is_floating_point:
                continue
            values = torch.rand(t.shape, generator=g, dtype=t.dtype)
            t.copy_(values + 0.5 if name.endswith("running_var") else 2 * values - 1)
    return torch_module


def assert_state_equal(module: nn.Module, torch_module: torch.nn.Module) -> None:
    """Same keys, shapes and values in both state dicts."""
    ours = {k: v.numpy() for k, v in module.state_dict().items()}
    theirs = torch_state_numpy(torch_module)
    assert list(ours) == list(theirs)
    for k in ours:
        assert ours[k].shape == theirs[k].shape, k
        assert_close(ours[k], theirs[k], dtype=np.float32 if ours[k].dtype.kind != "f" else None, err_msg=k)
