"""Claim: an RNN whose recurrent weights have spectral radius > 1 has exploding gradients,
and clipping the gradient norm turns divergence into convergence.

A tanh RNN (H = 64) on the adding problem (T = 50), its recurrent matrix scaled to spectral
radius rho in {0.9 (control), 1.5, 3.0}, trained by SGD (lr 0.05, 1500 steps) with and
without clipping the global gradient norm to 1, over 3 seeds. Reported:
||dL/dh_0|| / ||dL/dh_T|| at initialisation (> 1: the gradient grows on its way back), the
largest gradient norm met, whether the loss became NaN/inf (diverged) and the final test MSE
(predicting 1.0 scores ~0.167).

    python experiments/exploding_gradients.py
"""

from __future__ import annotations

import argparse
import math

import torch
from common import FIGURES, Regressor, adding_problem, gradient_ratio, mse, table
from torch import nn


def train(model, x, y, *, steps: int, lr: float, clip: float, seed: int):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses, norms = [], []
    for _ in range(steps):
        idx = torch.randint(0, len(x), (32,), generator=g)
        loss = nn.functional.mse_loss(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), clip if clip > 0 else math.inf)
        losses.append(float(loss.detach()))
        norms.append(float(norm))
        if not (math.isfinite(losses[-1]) and math.isfinite(norms[-1])):
            break
        opt.step()
    return losses, norms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--radius", type=float, nargs="+", default=[0.9, 1.5, 3.0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--T", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(1)  # small matrices: one thread is fastest on a shared CPU
    g = torch.Generator().manual_seed(0)
    x, y = adding_problem(4096, args.T, g)
    x_test, y_test = adding_problem(1024, args.T, g)
    rows, curves = [], {}
    for radius in args.radius:
        for clip in (0.0, 1.0):
            for seed in range(args.seeds):
                torch.manual_seed(seed)
                model = Regressor("rnn", 64, spectral_radius=radius)
                ratio = gradient_ratio(model, x_test[:128], y_test[:128])
                losses, norms = train(model, x, y, steps=args.steps, lr=0.05, clip=clip,
                                      seed=seed)
                diverged = not all(math.isfinite(v) for v in losses + norms)
                test = float("nan") if diverged else mse(model, x_test, y_test)
                rows.append([radius, "norm 1" if clip else "none", seed, ratio, max(norms),
                             f"yes (step {len(losses)})" if diverged else "no", test])
                curves[(radius, clip, seed)] = losses
    print(table(["rho", "clipping", "seed", "ratio at init", "max grad norm", "diverged",
                 "test MSE"], rows))
    _figure(curves, args.radius)


def _figure(curves, radii) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(radii), figsize=(5.5 * len(radii), 4), squeeze=False)
    for ax, radius in zip(axes[0], radii):
        for (r, clip, seed), losses in curves.items():
            if r != radius:
                continue
            vals = [v if math.isfinite(v) else float("nan") for v in losses]
            ax.plot(vals, color="tab:blue" if clip else "tab:red", alpha=0.8,
                    label=("clip 1" if clip else "no clip") if seed == 0 else None)
            if len(losses) and not math.isfinite(losses[-1]):
                ax.plot(len(losses) - 1, 1e3, "rx")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("train MSE (x = NaN/inf)")
        ax.set_title(f"tanh RNN, spectral radius {radius}")
        ax.legend()
    FIGURES.mkdir(exist_ok=True)
    fig.savefig(FIGURES / "exploding_gradients.png", dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    main()
