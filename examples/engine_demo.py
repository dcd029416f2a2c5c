"""A tour of the engine in one minute: a graph by hand, a verified gradient, and a tiny network trained.

Run: python examples/engine_demo.py
"""

import numpy as np

import chainrule as cr


def textbook_graph() -> None:
    x, y, z = (cr.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    f = (x + y) * z
    f.backward()
    grads = ", ".join(f"df/d{n} = {t.grad.item():g}" for n, t in zip("xyz", (x, y, z)))
    print(f"f = (x + y)·z = {f.item():g};  {grads}")


def second_derivative() -> None:
    x = cr.tensor(0.5, dtype=cr.float64, requires_grad=True)
    (g,) = cr.grad(cr.tanh(x), x, create_graph=True)
    (gg,) = cr.grad(g, x)
    print(f"d/dx tanh(0.5) = {g.item():.6f}, d²/dx² tanh(0.5) = {gg.item():.6f}")


def verified_gradient() -> None:
    rng = np.random.default_rng(0)
    w = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    x = cr.tensor(rng.standard_normal((5, 3)))
    ok = cr.gradcheck(lambda w: cr.log_softmax(cr.tanh(x @ w), dim=1).sum(), [w])
    print(f"gradcheck of log_softmax(tanh(x @ W)): {'passed' if ok else 'failed'}")


def train_two_moons(steps: int = 300) -> None:
    rng = np.random.default_rng(0)
    n = 200
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    points = np.stack([np.cos(t) + label, np.sin(t) * (1 - 2 * label) + 0.5 * label], axis=1)
    points += 0.1 * rng.standard_normal(points.shape)
    x = cr.tensor(points.astype(np.float32))
    onehot = cr.tensor(np.eye(2, dtype=np.float32)[label])
    w1 = cr.randn(2, 16, generator=rng, requires_grad=True)
    b1 = cr.zeros(16, requires_grad=True)
    w2 = cr.randn(16, 2, generator=rng, requires_grad=True)
    b2 = cr.zeros(2, requires_grad=True)
    params = [w1, b1, w2, b2]
    for step in range(steps + 1):
        logits = cr.tanh(x @ w1 + b1) @ w2 + b2
        loss = -(cr.log_softmax(logits, dim=1) * onehot).sum(dim=1).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with cr.no_grad():
            for p in params:
                p.data -= 0.5 * p.grad.data
        if step % 100 == 0:
            accuracy = (logits.argmax(dim=1).numpy() == label).mean()
            print(f"step {step:3d}  loss {loss.item():.4f}  accuracy {accuracy:.1%}")


if __name__ == "__main__":
    textbook_graph()
    second_derivative()
    verified_gradient()
    train_two_moons()
