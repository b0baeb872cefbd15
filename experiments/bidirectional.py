"""Claim: bidirectional RNNs help when the target depends on the future.

Tagging task: random tokens x_t from 8 symbols, target y_t = x_{t+d} (the token d steps
ahead; positions with t + d >= T are not scored). A unidirectional LSTM cannot see x_{t+d}
when it emits y_t, so it is at chance (1/8); a bidirectional LSTM can. Same parameter budget
(hidden 32 unidirectional vs 2 x 22 bidirectional), 3 seeds.

    python experiments/bidirectional.py
"""

from __future__ import annotations

import argparse
import statistics

import torch
from common import FIGURES, table
from torch import nn

import rnnkit

V = 8


def make_data(n: int, T: int, d: int, g: torch.Generator):
    x = torch.randint(0, V, (n, T), generator=g)
    y = torch.full((n, T), -100)  # ignored by cross_entropy
    y[:, : T - d] = x[:, d:]
    return x, y


class Tagger(nn.Module):
    def __init__(self, hidden: int, bidirectional: bool):
        super().__init__()
        self.embed = nn.Embedding(V, 16)
        self.rnn = rnnkit.LSTM(16, hidden, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(self.rnn.output_size, V)

    def forward(self, x):
        return self.head(self.rnn(self.embed(x))[0])  # (B, T, V)


def run(bidirectional: bool, d: int, seed: int, steps: int, T: int):
    g = torch.Generator().manual_seed(seed)
    x, y = make_data(4096, T, d, g)
    x_test, y_test = make_data(1024, T, d, g)
    torch.manual_seed(seed)
    model = Tagger(22 if bidirectional else 32, bidirectional)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = nn.functional.cross_entropy(model(x[idx]).flatten(0, 1), y[idx].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = model(x_test).argmax(-1)
    scored = y_test != -100
    params = sum(p.numel() for p in model.parameters())
    return float((pred == y_test)[scored].float().mean()), params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--d", type=int, nargs="+", default=[0, 2, 5])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--T", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(1)  # small matrices: one thread is fastest on a shared CPU
    rows, means = [], {}
    for d in args.d:
        for bi in (False, True):
            accs, params = [], 0
            for seed in range(args.seeds):
                acc, params = run(bi, d, seed, args.steps, args.T)
                accs.append(acc)
            mean, spread = statistics.mean(accs), statistics.pstdev(accs)
            means[(d, bi)] = mean
            rows.append([d, "bidirectional" if bi else "unidirectional", params,
                         f"{mean:.3f} ± {spread:.3f}", f"{1 / V:.3f}"])
    print(table(["d (look-ahead)", "model", "parameters", "test accuracy (mean ± sd)",
                 "chance"], rows))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for bi in (False, True):
        ax.plot(args.d, [means[(d, bi)] for d in args.d], marker="o",
                label="bidirectional" if bi else "unidirectional")
    ax.axhline(1 / V, color="grey", linestyle="--", linewidth=0.8, label="chance")
    ax.set_xlabel("d: target y_t = x_{t+d}")
    ax.set_ylabel("test accuracy")
    ax.set_title("bidirectional LSTM vs unidirectional")
    ax.legend()
    FIGURES.mkdir(exist_ok=True)
    fig.savefig(FIGURES / "bidirectional.png", dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    main()
