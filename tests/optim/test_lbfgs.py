"""LBFGS against torch.optim.LBFGS: the same iterates, losses and evaluation counts on the Rosenbrock function
and on an MLP, with and without the strong-Wolfe line search; state_dict round trip; argument checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import ArgumentError

torch.set_num_threads(1)


def rosenbrock(x):
    return ((1 - x[:-1]) ** 2).sum() + (100 * (x[1:] - x[:-1] ** 2) ** 2).sum()


def _pair(x0, **options):
    cx = cr.tensor(x0.copy(), requires_grad=True)
    tx = torch.tensor(x0.copy(), requires_grad=True)
    return cx, tx, cr.optim.LBFGS([cx], **options), torch.optim.LBFGS([tx], **options)


def _closure(opt, f, x):
    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss
    return closure


@pytest.mark.parametrize("options", [
    {"lr": 0.1, "history_size": 5, "max_iter": 10},
    {"lr": 1, "history_size": 3, "max_iter": 7, "line_search_fn": "strong_wolfe"},
    {"lr": 1, "max_iter": 30, "max_eval": 12, "line_search_fn": "strong_wolfe"},
    {"lr": 0.5, "history_size": 2, "max_iter": 4, "tolerance_change": 1e-3},
])
def test_rosenbrock_iterates_equal_torch(options):
    x0 = np.array([-1.5, 2.0, 0.5, -0.3, 1.2])
    cx, tx, co, to = _pair(x0, **options)
    for _ in range(6):
        a = co.step(_closure(co, rosenbrock, cx))
        b = to.step(_closure(to, rosenbrock, tx))
        assert a.item() == pytest.approx(b.item(), rel=1e-12)
        np.testing.assert_allclose(cx.numpy(), tx.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert co.state[cx]["func_evals"] == to.state[tx]["func_evals"]
        assert co.state[cx]["n_iter"] == to.state[tx]["n_iter"]


def test_strong_wolfe_minimises_rosenbrock():
    x = cr.tensor(np.array([-1.2, 1.0]), requires_grad=True)
    opt = cr.optim.LBFGS([x], lr=1, max_iter=200, line_search_fn="strong_wolfe", tolerance_change=1e-14)
    opt.step(_closure(opt, rosenbrock, x))
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0], atol=1e-6)


def test_mlp_follows_torch_and_keeps_float32():
    """An MLP with backpropagated gradients: float64 iterates equal torch's (float32 ones would drift apart by
    rounding through the line search's branches), and a float32 model stays float32."""
    r = np.random.default_rng(0)
    xs, ys = r.standard_normal((32, 3)), r.standard_normal((32, 1))
    cm = cr.nn.Sequential(cr.nn.Linear(3, 8, dtype=np.float64), cr.nn.Tanh(), cr.nn.Linear(8, 1, dtype=np.float64))
    tm = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    cm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    co = cr.optim.LBFGS(cm.parameters(), lr=1, max_iter=5, line_search_fn="strong_wolfe")
    to = torch.optim.LBFGS(tm.parameters(), lr=1, max_iter=5, line_search_fn="strong_wolfe")
    cx, cy, tx, ty = cr.tensor(xs), cr.tensor(ys), torch.tensor(xs), torch.tensor(ys)
    for _ in range(3):
        a = co.step(_closure(co, lambda _: cr.nn.functional.mse_loss(cm(cx), cy), None))
        b = to.step(_closure(to, lambda _: torch.nn.functional.mse_loss(tm(tx), ty), None))
        assert a.item() == pytest.approx(b.item(), rel=1e-9)
    for (name, p), tp in zip(cm.named_parameters(), tm.parameters()):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-8, atol=1e-10, err_msg=name)
    small = cr.nn.Linear(3, 1)
    opt = cr.optim.LBFGS(small.parameters(), max_iter=3)
    opt.step(_closure(opt, lambda _: cr.nn.functional.mse_loss(small(cr.tensor(xs.astype(np.float32))),
                                                            cr.tensor(ys.astype(np.float32))), None))
    assert all(p.dtype == np.float32 for p in small.parameters())


def test_state_dict_round_trip_continues_identically():
    x0 = np.array([-1.5, 2.0, 0.5])
    a, _, opt_a, _ = _pair(x0, lr=1, history_size=4, max_iter=3, line_search_fn="strong_wolfe")
    opt_a.step(_closure(opt_a, rosenbrock, a))
    b = cr.tensor(a.numpy().copy(), requires_grad=True)
    opt_b = cr.optim.LBFGS([b], lr=1, history_size=4, max_iter=3, line_search_fn="strong_wolfe")
    opt_b.load_state_dict(opt_a.state_dict())
    for _ in range(3):
        opt_a.step(_closure(opt_a, rosenbrock, a))
        opt_b.step(_closure(opt_b, rosenbrock, b))
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_argument_errors():
    p = cr.zeros(2, requires_grad=True)
    with pytest.raises(ArgumentError, match="line_search_fn must be None or 'strong_wolfe'"):
        cr.optim.LBFGS([p], line_search_fn="backtracking")
    with pytest.raises(ArgumentError, match="doesn't support per-parameter options"):
        cr.optim.LBFGS([{"params": [p]}, {"params": [cr.zeros(1, requires_grad=True)]}])
    with pytest.raises(ArgumentError, match="a closure is required"):
        cr.optim.LBFGS([p]).step()
    with pytest.raises(ArgumentError, match="history_size must be a positive int"):
        cr.optim.LBFGS([p], history_size=0)
