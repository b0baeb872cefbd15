"""Claim: truncated BPTT trades reach for memory: with chunks of k steps no gradient links
events more than k steps apart, so a dependency at lag L needs k > L; memory grows with k.

Task: a stream of random bits x_t, target y_t = x_{t-L} with lag L = 10 (the first L steps
are not scored), T = 200, an LSTM (hidden 64) trained with TBPTT at k in {5, 20, 100} and
full BPTT (k = T), the state carried across chunks and detached at each boundary.
Reported: accuracy on the lagged bits (chance 0.5; solved > 0.95), seconds per optimizer
step, and the peak memory held for backward (bytes of tensors saved by autograd, measured
with ``torch.autograd.graph.saved_tensors_hooks``; one chunk is alive at a time).

    python experiments/truncated_bptt.py
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from common import FIGURES, table
from torch import nn

import rnnkit


def make_data(n: int, T: int, lag: int, g: torch.Generator):
    x = torch.randint(0, 2, (n, T), generator=g)
    y = torch.full((n, T), -100)
    y[:, lag:] = x[:, :-lag]
    return x, y


class Echo(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.embed = nn.Embedding(2, 8)
        self.rnn = rnnkit.LSTM(8, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, x, state=None):
        out, state = self.rnn(self.embed(x), state)
        return self.head(out), state


class SavedBytes:
    """Bytes of the tensors autograd saves for backward, and their peak."""

    def __init__(self):
        self.now = self.peak = 0

    def pack(self, t):
        self.now += t.numel() * t.element_size()
        self.peak = max(self.peak, self.now)
        return t

    def release(self):
        self.now = 0


def train(k: int, T: int, lag: int, steps: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x, y = make_data(2048, T, lag, g)
    x_test, y_test = make_data(512, T, lag, g)
    torch.manual_seed(seed)
    model = Echo(64)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    saved = SavedBytes()
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (32,), generator=g)
        xb, yb = x[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        state = None
        scored = (yb != -100).sum()
        for t0 in range(0, T, k):  # one chunk of k steps at a time
            with torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda t: t):
                logits, state = model(xb[:, t0:t0 + k], state)
                loss = nn.functional.cross_entropy(logits.flatten(0, 1),
                                                   yb[:, t0:t0 + k].flatten(),
                                                   reduction="sum") / scored
            loss.backward()
            saved.release()
            state = tuple(s.detach() for s in state)  # the truncation
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    seconds = (time.perf_counter() - start) / steps
    with torch.no_grad():
        pred = model(x_test)[0].argmax(-1)
    mask = y_test != -100
    return float((pred == y_test)[mask].float().mean()), seconds, saved.peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--k", type=int, nargs="+", default=[5, 20, 100, 0], help="0 = full")
    ap.add_argument("--T", type=int, default=200)
    ap.add_argument("--lag", type=int, default=10)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)  # small matrices: one thread is fastest on a shared CPU
    rows, results = [], []
    for k in args.k:
        acc, seconds, peak = train(k or args.T, args.T, args.lag, args.steps, args.seed)
        label = "full" if k == 0 else str(k)
        results.append((label, acc, seconds, peak))
        rows.append([label, acc, "yes" if acc > 0.95 else "no", f"{1000 * seconds:.0f} ms",
                     f"{peak / 2**20:.2f} MiB"])
        print(f"k={label}: acc {acc:.3f}", file=sys.stderr, flush=True)
    print(table([f"k (lag L = {args.lag})", "accuracy", "solved", "time / step",
                 "peak saved for backward"], rows))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    labels = [r[0] for r in results]
    a.bar(labels, [r[1] for r in results])
    a.axhline(0.5, color="grey", linestyle="--", linewidth=0.8)
    a.set_xlabel("truncation k")
    a.set_ylabel(f"accuracy at lag {args.lag}")
    b.bar(labels, [r[3] / 2**20 for r in results])
    b.set_xlabel("truncation k")
    b.set_ylabel("peak MiB saved for backward")
    fig.suptitle(f"truncated BPTT, T = {args.T}")
    FIGURES.mkdir(exist_ok=True)
    fig.savefig(FIGURES / "truncated_bptt.png", dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    main()
