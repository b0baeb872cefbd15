"""Claim (folklore): "GRU for small data, LSTM for large data".

The adding problem at T = 50, training sets of 1k, 10k and 100k examples, the same budget
of Adam steps for both cells (so the small sets are seen many times), hidden 32, 3 seeds.
Reported: test MSE on 2k fresh examples (mean ± sd over seeds) and which cell wins; a
difference smaller than the spread is called a tie.

    python experiments/gru_vs_lstm.py
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
from common import FIGURES, Regressor, adding_problem, mse, table, train_regression


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--T", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(1)  # small matrices: one thread is fastest on a shared CPU
    g = torch.Generator().manual_seed(1234)
    x_test, y_test = adding_problem(2048, args.T, g)
    pool_x, pool_y = adding_problem(max(args.sizes), args.T, g)
    rows, results = [], {}
    for n in args.sizes:
        x, y = pool_x[:n], pool_y[:n]
        for cell in ("gru", "lstm"):
            scores = []
            for seed in range(args.seeds):
                torch.manual_seed(seed)
                model = Regressor(cell, 32)
                train_regression(model, x, y, steps=args.steps, batch=64, lr=3e-3, seed=seed,
                                 clip=1.0)
                scores.append(mse(model, x_test, y_test))
            results[(n, cell)] = scores
            print(f"n={n} {cell}: {scores}", file=sys.stderr, flush=True)
        gru, lstm = results[(n, "gru")], results[(n, "lstm")]
        gap = statistics.mean(gru) - statistics.mean(lstm)
        spread = max(statistics.pstdev(gru), statistics.pstdev(lstm))
        winner = "tie" if abs(gap) <= spread else ("lstm" if gap > 0 else "gru")
        rows.append([n, _ms(gru), _ms(lstm), winner])
    print(table(["training examples", "GRU test MSE", "LSTM test MSE", "winner"], rows))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for cell in ("gru", "lstm"):
        means = [statistics.mean(results[(n, cell)]) for n in args.sizes]
        sds = [statistics.pstdev(results[(n, cell)]) for n in args.sizes]
        ax.errorbar(args.sizes, means, yerr=sds, marker="o", capsize=3, label=cell)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training examples")
    ax.set_ylabel("test MSE")
    ax.set_title(f"adding problem T={args.T}, {args.steps} steps")
    ax.legend()
    FIGURES.mkdir(exist_ok=True)
    fig.savefig(FIGURES / "gru_vs_lstm.png", dpi=100, bbox_inches="tight")


def _ms(values) -> str:
    return f"{statistics.mean(values):.4f} ± {statistics.pstdev(values):.4f}"


if __name__ == "__main__":
    main()
