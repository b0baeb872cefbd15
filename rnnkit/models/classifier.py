"""Many-to-one models: ``SequenceClassifier`` and ``SequenceRegressor``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Model, StepOutput
from .encoder import SequenceEncoder
from .masking import length_mask
from .pooling import make_pooling


@dataclass
class PooledOutput:
    """``forward``'s result: ``logits`` (B, C) for the classifier or the predictions
    (B, output_size) for the regressor, and the attention ``weights`` (B, T) (attention
    pooling only, else None)."""

    logits: Tensor
    weights: Tensor | None = None


class _PooledModel(Model):
    """Encoder -> pooling -> dropout -> linear head; what classifier and regressor share."""

    def __init__(self, head_size: int, config: dict):
        super().__init__()
        self._config = config
        c = config
        self.encoder = SequenceEncoder(
            c["cell"], c["hidden_size"], vocab_size=c["vocab_size"], input_size=c["input_size"],
            embedding_dim=c["embedding_dim"], num_layers=c["num_layers"],
            bidirectional=c["bidirectional"], dropout=c["dropout"],
        )
        self._config["embedding_dim"] = self.encoder.embedding_dim
        size = self.encoder.output_size
        self.pool = make_pooling(c["pooling"], size, self.encoder.directions)
        self.dropout = nn.Dropout(c["dropout"])
        self.head = nn.Linear(size, head_size)

    def get_config(self) -> dict:
        return dict(self._config)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> PooledOutput:
        output, h_n = self.encoder(x, lengths)  # (B, T, D*H)
        mask = length_mask(lengths, output.shape[1], output.shape[0], output.device)
        pooled, weights = self.pool(output, h_n, mask)  # (B, D*H), (B, T) or None
        return PooledOutput(self.head(self.dropout(pooled)), weights)


class SequenceClassifier(_PooledModel):
    """Many-to-one classification: a recurrent encoder, pooling, a linear layer to classes.

    Input ``x``: token ids (B, T) when ``vocab_size`` is given (embedding with
    ``padding_idx=0``), else float features (B, T, input_size); ``lengths`` (B,) optional.
    ``pooling``: ``"last"`` (final valid state; for bidirectional the forward state at the last
    valid step next to the backward state at t = 0), ``"mean"`` (over valid steps) or
    ``"attention"`` (additive, learned query, masked). ``forward(x, lengths)`` returns
    :class:`PooledOutput` with ``logits`` (B, num_classes). Loss: cross-entropy on ``"y"``
    (B,) class ids; metric: accuracy.

    Example::

        model = SequenceClassifier(num_classes=2, vocab_size=1000, cell="lstm",
                                   hidden_size=64, bidirectional=True, pooling="attention")
        out = model(ids, lengths)          # ids (B, T) -> out.logits (B, 2), out.weights (B, T)
        model.compute_loss({"x": ids, "y": labels, "lengths": lengths}).loss
    """

    def __init__(
        self, *, num_classes: int, vocab_size: int | None = None, input_size: int | None = None,
        cell: str = "lstm", hidden_size: int = 128, num_layers: int = 1,
        bidirectional: bool = False, dropout: float = 0.0, embedding_dim: int | None = None,
        pooling: str = "last",
    ):
        config = dict(
            num_classes=num_classes, vocab_size=vocab_size, input_size=input_size, cell=cell,
            hidden_size=hidden_size, num_layers=num_layers, bidirectional=bidirectional,
            dropout=dropout, embedding_dim=embedding_dim, pooling=pooling,
        )
        super().__init__(num_classes, config)

    def compute_loss(self, batch: dict[str, Tensor], state=None) -> StepOutput:
        logits = self(batch["x"], batch.get("lengths")).logits  # (B, C)
        y = batch["y"]
        loss = F.cross_entropy(logits, y)
        accuracy = (logits.argmax(-1) == y).float().mean()
        return StepOutput(loss, {"accuracy": accuracy.item()}, count=y.shape[0])

    @torch.no_grad()
    def predict_proba(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Class probabilities (B, num_classes)."""
        return torch.softmax(self(x, lengths).logits, dim=-1)


class SequenceRegressor(_PooledModel):
    """Many-to-one regression: like :class:`SequenceClassifier` with a linear head to
    ``output_size`` values and mean-squared-error loss on ``"y"`` (B,) or (B, output_size).

    ``forward(x, lengths)`` returns :class:`PooledOutput` whose ``logits`` are the predictions
    (B, output_size). Metric: mse.

    Example::

        model = SequenceRegressor(input_size=2, output_size=1, cell="gru", hidden_size=32)
        pred = model(x).logits             # x (B, T, 2) -> (B, 1)
    """

    def __init__(
        self, *, output_size: int = 1, vocab_size: int | None = None,
        input_size: int | None = None, cell: str = "lstm", hidden_size: int = 128,
        num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0,
        embedding_dim: int | None = None, pooling: str = "last",
    ):
        config = dict(
            output_size=output_size, vocab_size=vocab_size, input_size=input_size, cell=cell,
            hidden_size=hidden_size, num_layers=num_layers, bidirectional=bidirectional,
            dropout=dropout, embedding_dim=embedding_dim, pooling=pooling,
        )
        super().__init__(output_size, config)

    def compute_loss(self, batch: dict[str, Tensor], state=None) -> StepOutput:
        pred = self(batch["x"], batch.get("lengths")).logits  # (B, O)
        y = batch["y"].to(pred.dtype).reshape(pred.shape)
        loss = F.mse_loss(pred, y)
        return StepOutput(loss, {"mse": loss.item()}, count=y.shape[0])

    @torch.no_grad()
    def predict(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Predictions (B, output_size)."""
        return self(x, lengths).logits
