"""What the experiment scripts share: the synthetic tasks, a small training loop, tables.

Public API only: rnnkit layers, rnnkit.diagnostics, torch.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from torch import nn

import rnnkit
from rnnkit.diagnostics import GradientFlowRecorder

FIGURES = Path(__file__).parent / "figures"


def adding_problem(n: int, T: int, generator: torch.Generator):
    """Hochreiter & Schmidhuber's adding problem: x (n, T, 2) = (value, marker), y (n, 1) =
    the sum of the two marked values (one marker in each half). Predicting 1.0 gives MSE
    ~0.167, the baseline a model must beat."""
    values = torch.rand(n, T, generator=generator)
    markers = torch.zeros(n, T)
    first = torch.randint(0, T // 2, (n,), generator=generator)
    second = torch.randint(T // 2, T, (n,), generator=generator)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = torch.stack([values, markers], dim=-1)
    y = (values * markers).sum(1, keepdim=True)
    return x, y


class Regressor(nn.Module):
    """A recurrent layer and a linear head on the last output."""

    def __init__(self, cell: str, hidden: int, input_size: int = 2, out: int = 1,
                 spectral_radius: float | None = None):
        super().__init__()
        if cell == "irnn":  # Le, Jaitly & Hinton 2015
            self.rnn = rnnkit.RNN(input_size, hidden, nonlinearity="relu", init="identity",
                                  batch_first=True)
        else:
            cls = {"rnn": rnnkit.RNN, "lstm": rnnkit.LSTM, "gru": rnnkit.GRU}[cell]
            self.rnn = cls(input_size, hidden, batch_first=True)
        if cell == "lstm":
            with torch.no_grad():  # forget bias 1 (Jozefowicz et al. 2015)
                self.rnn.bias_ih_l0[hidden:2 * hidden].fill_(1.0)
                self.rnn.bias_hh_l0[hidden:2 * hidden].zero_()
        if spectral_radius is not None:
            set_spectral_radius(self.rnn.weight_hh_l0, spectral_radius)
        self.head = nn.Linear(hidden, out)

    def forward(self, x):
        out, _ = self.rnn(x)  # (B, T, H)
        return self.head(out[:, -1])


def set_spectral_radius(weight: torch.Tensor, radius: float) -> None:
    """Scale a square recurrent weight in place to the given spectral radius."""
    with torch.no_grad():
        current = torch.linalg.eigvals(weight.double()).abs().max().item()
        weight.mul_(radius / current)


def gradient_ratio(model: nn.Module, x, y, loss_fn=nn.functional.mse_loss) -> float:
    """||dL/dh_0|| / ||dL/dh_{T-1}|| on one batch (the first layer)."""
    with GradientFlowRecorder(model, gates=False) as rec:
        loss_fn(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    flow = rec.flow()
    return flow.ratio(next(iter(flow.grad_norms)))


def train_regression(model, x, y, *, steps: int, batch: int, lr: float, seed: int,
                     clip: float = 0.0, max_seconds: float = math.inf):
    """Adam on MSE with random mini-batches; returns the per-step losses and the seconds."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses, start = [], time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=g)
        loss = nn.functional.mse_loss(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]) or time.perf_counter() - start > max_seconds:
            break
    return losses, time.perf_counter() - start


@torch.no_grad()
def mse(model, x, y) -> float:
    return float(nn.functional.mse_loss(model(x), y))


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table (what the scripts print and the README quotes)."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(c) -> str:
    if isinstance(c, float):
        if c != c or c in (math.inf, -math.inf):
            return str(c)
        return f"{c:.3g}" if 1e-3 <= abs(c) < 1e4 or c == 0 else f"{c:.1e}"
    return str(c)
