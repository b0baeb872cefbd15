"""Claim: gated RNNs (LSTM, GRU) learn long-term dependencies that a plain RNN cannot.

Copy task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016): K = 5 symbols from an
alphabet of 8, then D blanks, then a "go" marker, then K blanks during which the model must
emit the K symbols in order. Accuracy is over the K recalled symbols (chance 1/8). Delays
D in {10, 30, 60}, a fixed budget of Adam steps, hidden 64, 3 seeds.

    python experiments/copy_task.py
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
from common import FIGURES, table
from torch import nn

import rnnkit

K, ALPHABET = 5, 8
BLANK, GO = ALPHABET, ALPHABET + 1  # tokens 0..7 are symbols


def make_data(n: int, delay: int, g: torch.Generator):
    symbols = torch.randint(0, ALPHABET, (n, K), generator=g)
    T = K + delay + 1 + K
    x = torch.full((n, T), BLANK)
    x[:, :K] = symbols
    x[:, K + delay] = GO
    y = torch.full((n, T), -100)
    y[:, -K:] = symbols
    return x, y


class Copier(nn.Module):
    def __init__(self, cell: str, hidden: int):
        super().__init__()
        self.embed = nn.Embedding(ALPHABET + 2, 16)
        cls = {"rnn": rnnkit.RNN, "lstm": rnnkit.LSTM, "gru": rnnkit.GRU}[cell]
        self.rnn = cls(16, hidden, batch_first=True)
        self.head = nn.Linear(hidden, ALPHABET)

    def forward(self, x):
        return self.head(self.rnn(self.embed(x))[0])  # (B, T, ALPHABET)


def run(cell: str, delay: int, seed: int, steps: int, hidden: int) -> float:
    g = torch.Generator().manual_seed(seed)
    x, y = make_data(8192, delay, g)
    x_test, y_test = make_data(1024, delay, g)
    torch.manual_seed(seed)
    model = Copier(cell, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = nn.functional.cross_entropy(model(x[idx]).flatten(0, 1), y[idx].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    with torch.no_grad():
        pred = model(x_test[:, :]).argmax(-1)[:, -K:]
    return float((pred == y_test[:, -K:]).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--delays", type=int, nargs="+", default=[10, 30, 60])
    ap.add_argument("--cells", nargs="+", default=["rnn", "lstm", "gru"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--hidden", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(1)  # small matrices: one thread is fastest on a shared CPU
    rows, means = [], {}
    for delay in args.delays:
        for cell in args.cells:
            accs = [run(cell, delay, s, args.steps, args.hidden) for s in range(args.seeds)]
            means[(delay, cell)] = statistics.mean(accs)
            rows.append([delay, cell, f"{statistics.mean(accs):.3f} ± "
                         f"{statistics.pstdev(accs):.3f}", " ".join(f"{a:.2f}" for a in accs)])
            print(f"D={delay} {cell}: {accs}", file=sys.stderr, flush=True)
    print(table(["delay D", "cell", "recall accuracy (mean ± sd)", "per seed"], rows))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for cell in args.cells:
        ax.plot(args.delays, [means[(d, cell)] for d in args.delays], marker="o", label=cell)
    ax.axhline(1 / ALPHABET, color="grey", linestyle="--", linewidth=0.8, label="chance")
    ax.set_xlabel("delay D (blank steps between the symbols and recall)")
    ax.set_ylabel("recall accuracy")
    ax.set_title(f"copy task, {args.steps} Adam steps")
    ax.legend()
    FIGURES.mkdir(exist_ok=True)
    fig.savefig(FIGURES / "copy_task.png", dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    main()
