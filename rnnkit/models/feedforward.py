"""One-to-one baseline: ``FeedForward``, a multilayer perceptron with no recurrence."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Model, StepOutput

TASKS = ("classification", "regression")


class FeedForward(Model):
    """An MLP: Linear -> ReLU -> Dropout for each of ``hidden_sizes``, then Linear.

    ``"x"`` (B, input_size) or (B, T, F) flattened to (B, T*F) (so ``input_size = T*F``).
    ``task="classification"``: ``output_size`` classes, ``"y"`` (B,) ids, cross-entropy,
    metric accuracy; ``task="regression"``: ``"y"`` (B,) or (B, output_size), MSE, metric
    mse. ``forward(x) -> (B, output_size)`` logits or predictions.

    Example::

        model = FeedForward(input_size=20, hidden_sizes=[64, 64], output_size=3)
        model(torch.randn(8, 20)).shape     # (8, 3)
    """

    def __init__(
        self, *, input_size: int, output_size: int, hidden_sizes=(64,),
        task: str = "classification", dropout: float = 0.0,
    ):
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        layers, n_in = [], input_size
        for n in hidden_sizes:
            layers += [nn.Linear(n_in, n), nn.ReLU(), nn.Dropout(dropout)]
            n_in = n
        layers.append(nn.Linear(n_in, output_size))
        self.net = nn.Sequential(*layers)
        self.task = task
        self._config = dict(
            input_size=input_size, output_size=output_size, hidden_sizes=list(hidden_sizes),
            task=task, dropout=dropout,
        )

    def get_config(self) -> dict:
        return dict(self._config)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1).float())  # (B, output_size)

    def compute_loss(self, batch: dict[str, Tensor], state=None) -> StepOutput:
        out, y = self(batch["x"]), batch["y"]
        if self.task == "classification":
            loss = F.cross_entropy(out, y)
            metrics = {"accuracy": (out.argmax(-1) == y).float().mean().item()}
        else:
            loss = F.mse_loss(out, y.to(out.dtype).reshape(out.shape))
            metrics = {"mse": loss.item()}
        return StepOutput(loss, metrics, count=y.shape[0])

    @torch.no_grad()
    def predict_proba(self, x: Tensor) -> Tensor:
        """Class probabilities (B, output_size) (classification)."""
        return torch.softmax(self(x), dim=-1)
