"""Regenerate the pictures of docs/tutorial-chain-rule.md (and print the tables shown there).

    python docs/make_pictures.py            # writes docs/img/chain-rule-*.svg
    python docs/make_pictures.py --check    # exits 1 if a committed picture differs from a fresh one

Every picture is drawn by chainrule itself (``cr.viz.draw``), so it needs nothing but chainrule.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
IMG = HERE / "img"

# name → (expression, variables), as given to ``chainrule explain``
EXAMPLES = {
    "chain-rule-add-mul": ("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}),
    "chain-rule-neuron": (
        "s = w0*x0 + w1*x1 + w2; f = 1 / (1 + exp(-s))",
        {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3},
    ),
    "chain-rule-matrix": (
        "q = W @ x; f = sum(q ** 2)",
        {"W": [[0.1, 0.5], [-0.3, 0.8]], "x": [0.2, 0.4]},
    ),
}


def conv_graph():
    """L = Σ G ⊙ conv2d(X, W, b) for the 5×5 / 3×3 / stride 2 example of the tutorial."""
    import chainrule as cr
    from chainrule.ops.conv import conv2d
    from chainrule.viz.conv_explain import DEFAULT_B, DEFAULT_G, DEFAULT_W, DEFAULT_X

    X = cr.Tensor(np.array(DEFAULT_X, dtype=np.float64)[None, None], requires_grad=True, name="X")
    W = cr.Tensor(np.array(DEFAULT_W, dtype=np.float64)[None, None], requires_grad=True, name="W")
    b = cr.Tensor(np.array([DEFAULT_B]), requires_grad=True, name="b")
    G = cr.Tensor(np.array(DEFAULT_G).reshape(1, 1, 2, 2), name="G")
    O = conv2d(X, W, b, stride=2)
    O.name = "O"
    weighted = O * G
    weighted.name = "G ⊙ O"
    L = weighted.sum()
    L.name = "L"
    return L


def pictures() -> dict[str, str]:
    """file name → SVG text, for every picture of the tutorial."""
    from chainrule.cli.expr import evaluate
    from chainrule.viz import to_svg

    out = {}
    for name, (source, variables) in EXAMPLES.items():
        ev = evaluate(source, {k: np.asarray(v, dtype=np.float64) for k, v in variables.items()})
        out[f"{name}.svg"] = to_svg(ev.output)
    out["chain-rule-conv.svg"] = to_svg(conv_graph())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed pictures instead")
    args = parser.parse_args(argv)
    stale = []
    for name, svg in pictures().items():
        path = IMG / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != svg:
                stale.append(name)
        else:
            IMG.mkdir(exist_ok=True)
            path.write_text(svg, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python docs/make_pictures.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing
    raise SystemExit(main())
