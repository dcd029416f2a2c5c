"""A word-level language model (LSTM, GRU or Transformer encoder) trained with truncated BPTT, gradient clipping and
hand-written SGD on ``p.data``; reports perplexity and saves the best state_dict. A PyTorch program whose imports name
chainrule (the only lines that differ from its PyTorch version).

    python examples/pytorch/word_language_model.py --data README.md --model LSTM --epochs 3
"""

import argparse
import math
import os
import time

import chainrule as torch
import chainrule.nn as nn
import chainrule.nn.functional as F


class Corpus:
    """Words of a text file (lines end with <eos>), split 80/10/10 into train, valid and test token tensors."""

    def __init__(self, path: str):
        self.word2idx, self.idx2word = {}, []
        with open(path, encoding="utf-8") as f:
            words = [w for line in f for w in line.split() + ["<eos>"]]
        ids = [self._add(w) for w in words]
        a, b = int(len(ids) * 0.8), int(len(ids) * 0.9)
        parts = ids[:a], ids[a:b], ids[b:]
        self.train, self.valid, self.test = (torch.tensor(part, dtype=torch.long) for part in parts)

    def _add(self, word: str) -> int:
        if word not in self.word2idx:
            self.word2idx[word] = len(self.idx2word)
            self.idx2word.append(word)
        return self.word2idx[word]


def batchify(data, batch_size: int):
    """(T,) → (T // batch_size, batch_size): independent columns, each a contiguous stretch of the text."""
    steps = data.size(0) // batch_size
    return data.narrow(0, 0, steps * batch_size).view(batch_size, -1).t().contiguous()


class RNNModel(nn.Module):
    def __init__(self, kind: str, ntoken: int, ninp: int, nhid: int, nlayers: int, dropout: float = 0.2):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, kind)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.kind, self.nhid, self.nlayers = kind, nhid, nlayers
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, tokens, hidden):
        out, hidden = self.rnn(self.drop(self.encoder(tokens)), hidden)
        logits = self.decoder(self.drop(out)).view(-1, self.decoder.out_features)
        return F.log_softmax(logits, dim=1), hidden

    def init_hidden(self, batch_size: int):
        zeros = torch.zeros(self.nlayers, batch_size, self.nhid)
        return (zeros, zeros.clone()) if self.kind == "LSTM" else zeros


class PositionalEncoding(nn.Module):
    """Adds sin/cos of position·10000^(−2i/d) to each embedding, then dropout."""

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        rates = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(position * rates)
        table[:, 1::2] = torch.cos(position * rates)
        self.register_buffer("pe", table.unsqueeze(0).transpose(0, 1))

    def forward(self, x):
        return self.dropout(x + self.pe[: x.size(0), :])


class TransformerModel(nn.Module):
    def __init__(self, ntoken: int, ninp: int, nhead: int, nhid: int, nlayers: int, dropout: float = 0.2):
        super().__init__()
        self.ninp = ninp
        self.input_emb = nn.Embedding(ntoken, ninp)
        self.pos_encoder = PositionalEncoding(ninp, dropout)
        layer = nn.TransformerEncoderLayer(ninp, nhead, nhid, dropout)
        self.encoder = nn.TransformerEncoder(layer, nlayers)
        self.decoder = nn.Linear(ninp, ntoken)
        nn.init.uniform_(self.input_emb.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, tokens, hidden=None):
        length = tokens.size(0)
        mask = torch.log(torch.tril(torch.ones(length, length)))  # 0 on and below the diagonal, −inf above
        x = self.pos_encoder(self.input_emb(tokens) * math.sqrt(self.ninp))
        out = self.decoder(self.encoder(x, mask=mask))
        return F.log_softmax(out, dim=-1).view(-1, out.size(-1)), None

    def init_hidden(self, batch_size: int):
        return None


def detach(hidden):
    """Cut the graph between BPTT windows: the state carries over, its history does not."""
    if hidden is None or isinstance(hidden, torch.Tensor):
        return None if hidden is None else hidden.detach()
    return tuple(detach(h) for h in hidden)


def get_batch(source, i: int, bptt: int):
    length = min(bptt, len(source) - 1 - i)
    return source[i:i + length], source[i + 1:i + 1 + length].reshape(-1)


def evaluate(model, criterion, source, bptt: int, batch_size: int) -> float:
    model.eval()
    total, hidden = 0.0, model.init_hidden(batch_size)
    with torch.no_grad():
        for i in range(0, source.size(0) - 1, bptt):
            data, targets = get_batch(source, i, bptt)
            output, hidden = model(data, hidden)
            total += len(data) * criterion(output, targets).item()
            hidden = detach(hidden)
    return total / (len(source) - 1)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description="word-level language model")
    parser.add_argument("--data", default="README.md", help="a text file")
    parser.add_argument("--model", default="LSTM", choices=["RNN_TANH", "LSTM", "GRU", "Transformer"])
    parser.add_argument("--emsize", type=int, default=64)
    parser.add_argument("--nhid", type=int, default=64)
    parser.add_argument("--nlayers", type=int, default=2)
    parser.add_argument("--nhead", type=int, default=2)
    parser.add_argument("--lr", type=float, default=20.0)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1111)
    parser.add_argument("--save", default=None, help="save the best model's state_dict here")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    device = torch.device("cpu")
    corpus = Corpus(args.data)
    train_data = batchify(corpus.train, args.batch_size).to(device)
    val_data = batchify(corpus.valid, 10).to(device)
    ntokens = len(corpus.idx2word)
    if args.model == "Transformer":
        model = TransformerModel(ntokens, args.emsize, args.nhead, args.nhid, args.nlayers, args.dropout)
    else:
        kind = "RNN" if args.model == "RNN_TANH" else args.model
        model = RNNModel(kind, ntokens, args.emsize, args.nhid, args.nlayers, args.dropout)
    model = model.to(device)
    criterion = nn.NLLLoss()
    lr, best = args.lr, None
    for epoch in range(1, args.epochs + 1):
        start = time.time()
        model.train()
        hidden = model.init_hidden(args.batch_size)
        for i in range(0, train_data.size(0) - 1, args.bptt):
            data, targets = get_batch(train_data, i, args.bptt)
            model.zero_grad()
            hidden = detach(hidden)
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
        val_loss = evaluate(model, criterion, val_data, args.bptt, 10)
        print(f"| end of epoch {epoch:3d} | time {time.time() - start:5.2f}s | valid loss {val_loss:5.2f} | "
              f"valid ppl {math.exp(val_loss):8.2f}")
        if best is None or val_loss < best:
            best = val_loss
            if args.save:
                torch.save(model.state_dict(), args.save)
        else:
            lr /= 4.0  # no improvement on the validation text: anneal
    if args.save and os.path.exists(args.save):
        model.load_state_dict(torch.load(args.save))
    return best


if __name__ == "__main__":
    main()
