"""Claim: plain (tanh) RNNs suffer vanishing gradients; LSTM and GRU do not, and an identity-
initialised ReLU RNN (IRNN) makes a plain RNN trainable again.

The adding problem at T in {50, 100, 200, 400}: for each cell, the ratio
||dL/dh_0|| / ||dL/dh_{T-1}|| (rnnkit.diagnostics.GradientFlowRecorder) at initialisation
and after training, and the test MSE after a fixed budget of Adam steps (predicting 1.0
scores ~0.167; below 0.05 counts as solved).

    python experiments/vanishing_gradients.py            # default size, < 10 min
    python experiments/vanishing_gradients.py --steps 20000 --seconds 600   # longer
"""

from __future__ import annotations

import argparse
import sys

import torch
from common import FIGURES, Regressor, adding_problem, gradient_ratio, mse, table, train_regression

CELLS = ("rnn", "irnn", "lstm", "gru")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--T", type=int, nargs="+", default=[50, 100, 200, 400])
    ap.add_argument("--cells", nargs="+", default=list(CELLS))
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=34.0, help="time budget per run")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)  # small matrices: one thread is fastest on a shared CPU
    rows, curves = [], {}
    for T in args.T:
        g = torch.Generator().manual_seed(args.seed)
        x, y = adding_problem(4096, T, g)
        x_test, y_test = adding_problem(1024, T, g)
        for cell in args.cells:
            torch.manual_seed(args.seed)
            model = Regressor(cell, args.hidden)
            before = gradient_ratio(model, x_test[:128], y_test[:128])
            lr = 3e-4 if cell == "irnn" else 1e-3  # IRNN: a smaller rate, as in the paper
            losses, seconds = train_regression(
                model, x, y, steps=args.steps, batch=32, lr=lr, seed=args.seed, clip=1.0,
                max_seconds=args.seconds)
            after = gradient_ratio(model, x_test[:128], y_test[:128])
            test = mse(model, x_test, y_test)
            rows.append([T, cell, before, after, len(losses), test,
                         "yes" if test < 0.05 else "no"])
            curves[(T, cell)] = losses
            print(f"T={T} {cell}: ratio {before:.2g} -> {after:.2g}, test MSE {test:.3g} "
                  f"({len(losses)} steps, {seconds:.0f}s)", file=sys.stderr, flush=True)
    print(table(["T", "cell", "ratio at init", "ratio trained", "steps", "test MSE", "solved"],
                rows))
    _figure(rows, curves, args.T, args.cells)


def _figure(rows, curves, Ts, cells) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for cell in cells:
        pts = [(r[0], r[2]) for r in rows if r[1] == cell]
        a.plot(*zip(*pts), marker="o", label=cell)
        pts = [(r[0], r[5]) for r in rows if r[1] == cell]
        b.plot(*zip(*pts), marker="o", label=cell)
    a.set_yscale("log")
    a.set_xlabel("sequence length T")
    a.set_ylabel("||dL/dh_0|| / ||dL/dh_T|| at init")
    a.set_title("gradient reaching the first step")
    b.axhline(0.167, color="grey", linestyle="--", linewidth=0.8, label="predict 1.0")
    b.set_xlabel("sequence length T")
    b.set_ylabel("test MSE")
    b.set_title("adding problem after training")
    for ax in (a, b):
        ax.set_xscale("log", base=2)
        ax.legend()
    FIGURES.mkdir(exist_ok=True)
    fig.savefig(FIGURES / "vanishing_gradients.png", dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    main()
