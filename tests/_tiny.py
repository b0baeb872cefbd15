"""A tiny many-to-many model for trainer tests (weights ``w`` select which steps count)."""

from __future__ import annotations

import torch
from torch import nn

from rnnkit.layers import build_layer
from rnnkit.models.base import Model, StepOutput


class TinyTagger(Model):
    """GRU + linear head, per-step MSE on ``y`` weighted by the optional ``w`` (B, T)."""

    time_keys = ("x", "y", "w")

    def __init__(self, input_size: int = 2, hidden_size: int = 5):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.rnn = build_layer("gru", input_size, hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def get_config(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size}

    def compute_loss(self, batch, state=None) -> StepOutput:
        out, h_n = self.rnn(batch["x"], state)  # (B, T, H), (1, B, H)
        err = (self.head(out).squeeze(-1) - batch["y"]) ** 2  # (B, T)
        w = batch.get("w", torch.ones_like(err))
        count = int(w.sum())
        loss = (err * w).sum() / max(count, 1)
        return StepOutput(loss, {"mse": float(loss.detach())}, count=count, state=h_n)


def tiny_data(n: int = 32, t: int = 12, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, t, 2, generator=g)
    return {"x": x, "y": x[..., 0].cumsum(1) * 0.3}  # (n, t, 2), (n, t)
