"""A character-level language model on any text file: an LSTM trained with truncated BPTT, then sampled.

The text is cut into `--batch` parallel streams; each step reads the next `--bptt` characters of every stream,
carries the LSTM state over from the previous chunk (so the model sees long context) and cuts the graph there
with `detach()` (so backpropagation stays `--bptt` steps long). See docs/rnn.md, "Truncated BPTT".

Run: python examples/char_lm.py path/to/text.txt [--steps 2000] [--sample 400]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.models import CharLSTM
from chainrule.nn import functional as F


def batches(ids: np.ndarray, batch: int, bptt: int):
    """Endless (input, target) chunks of shape (bptt, batch) from `batch` parallel streams of the text."""
    stream = len(ids) // batch
    streams = ids[: stream * batch].reshape(batch, stream).T  # (stream, batch)
    while True:
        for start in range(0, stream - bptt - 1, bptt):
            yield streams[start : start + bptt], streams[start + 1 : start + bptt + 1]


def sample(model: CharLSTM, chars: list[str], prefix: str, length: int, rng: np.random.Generator,
           temperature: float = 0.8) -> str:
    """Generate `length` characters after `prefix`, drawing each from softmax(logits / temperature)."""
    index = {c: i for i, c in enumerate(chars)}
    out = list(prefix)
    with cr.no_grad():
        logits, state = model(cr.tensor(np.array([[index[c]] for c in prefix], dtype=np.int64)))
        for _ in range(length):
            p = F.softmax(logits[-1, 0] / temperature, dim=-1).numpy().astype(np.float64)
            token = int(rng.choice(len(chars), p=p / p.sum()))
            out.append(chars[token])
            logits, state = model(cr.tensor(np.array([[token]], dtype=np.int64)), state)
    return "".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", type=Path, help="any UTF-8 text file")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--bptt", type=int, default=64, help="truncation length of backpropagation through time")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--sample", type=int, default=400, help="characters to generate at the end")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=100)
    args = parser.parse_args()

    text = args.text.read_text(encoding="utf-8")
    chars = sorted(set(text))
    if len(text) < args.batch * (args.bptt + 2):
        raise SystemExit(f"{args.text}: {len(text)} characters are too few for --batch {args.batch} --bptt {args.bptt}")
    index = {c: i for i, c in enumerate(chars)}
    ids = np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))
    rng = np.random.default_rng(args.seed)
    model = CharLSTM(len(chars), args.hidden, args.layers, generator=rng)
    optimizer = cr.optim.Adam(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{len(text):,} characters, vocabulary {len(chars)}, {n_params:,} parameters")

    state = None
    for step, (x, y) in enumerate(batches(ids, args.batch, args.bptt), start=1):
        logits, state = model(cr.tensor(x), state)
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), cr.tensor(y.reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        state = tuple(s.detach() for s in state)  # truncated BPTT: keep the state, cut the graph
        if step % args.log_every == 0 or step == 1:
            print(f"step {step:5d}  loss {loss.item():.3f}  ({loss.item() / np.log(2):.2f} bits/char)")
        if step == args.steps:
            break
    print("\n" + sample(model, chars, text[:1], args.sample, rng))


if __name__ == "__main__":
    main()
