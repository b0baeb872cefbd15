"""Aligned many-to-many: ``SequenceTagger`` (one label per step, or CTC over the steps)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Model, StepOutput
from .encoder import SequenceEncoder
from .masking import length_mask
from .states import detach_state

LOSSES = ("ce", "ctc")


@dataclass
class TaggerOutput:
    """``logits`` (B, T, num_tags) and the recurrent ``state`` after the last step."""

    logits: Tensor
    state: Any = None


def ctc_greedy_decode(
    scores: Tensor, lengths: Tensor | None = None, blank: int = 0
) -> list[list[int]]:
    """Best-path CTC decoding of ``scores`` (B, T, C) (logits or log-probabilities).

    Take the argmax class at each valid step, collapse runs of the same class, drop
    ``blank``. E.g. per-step argmax ``[1, 1, 0, 1, 2, 2, 0]`` -> ``[1, 1, 2]``.
    """
    best = scores.argmax(-1)  # (B, T)
    T = best.shape[1]
    lens = lengths.tolist() if lengths is not None else [T] * best.shape[0]
    out = []
    for row, n in zip(best.tolist(), lens):
        row = row[:n]
        out.append([c for i, c in enumerate(row) if c != blank and (i == 0 or c != row[i - 1])])
    return out


class SequenceTagger(Model):
    """One label per input step (aligned many-to-many), or CTC over the steps.

    Input ``x``: token ids (B, T) with ``vocab_size`` or float features (B, T, input_size);
    ``lengths`` (B,) optional. ``forward(x, lengths=None, state=None)`` returns
    :class:`TaggerOutput` with ``logits`` (B, T, num_tags).

    - ``loss="ce"``: ``"y"`` (B, T) tags; cross-entropy averaged over valid steps (steps past
      ``lengths`` and tags equal to -100 are ignored); metric: accuracy. ``time_keys =
      ("x", "y")``: truncated BPTT may cut batches in time; ``compute_loss`` starts from
      ``state`` and returns the final state (detached) in ``StepOutput.state``.
    - ``loss="ctc"``: ``"y"`` (B, S) label sequences padded, ``"target_lengths"`` (B,);
      ``torch.nn.CTCLoss`` (``blank`` is a class, default 0; mean over the batch of the loss
      divided by target length). ``time_keys = ()``.

    ``decode(x, lengths)`` returns label lists: argmax per valid step (ce) or best-path CTC
    (:func:`ctc_greedy_decode`).

    Example::

        model = SequenceTagger(num_tags=29, input_size=40, cell="gru", hidden_size=128,
                               bidirectional=True, loss="ctc")
        model.compute_loss({"x": feats, "lengths": n_frames, "y": labels,
                            "target_lengths": n_labels}).loss
        model.decode(feats, n_frames)      # [[8, 5, 12, 12, 15], ...]
    """

    time_keys = ("x", "y")

    def __init__(
        self, *, num_tags: int, vocab_size: int | None = None, input_size: int | None = None,
        cell: str = "lstm", hidden_size: int = 128, num_layers: int = 1,
        bidirectional: bool = False, dropout: float = 0.0, embedding_dim: int | None = None,
        loss: str = "ce", blank: int = 0,
    ):
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        self.encoder = SequenceEncoder(
            cell, hidden_size, vocab_size=vocab_size, input_size=input_size,
            embedding_dim=embedding_dim, num_layers=num_layers, bidirectional=bidirectional,
            dropout=dropout,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.output_size, num_tags)
        self.loss, self.blank = loss, blank
        self.time_keys = ("x", "y") if loss == "ce" else ()
        self._config = dict(
            num_tags=num_tags, vocab_size=vocab_size, input_size=input_size, cell=cell,
            hidden_size=hidden_size, num_layers=num_layers, bidirectional=bidirectional,
            dropout=dropout, embedding_dim=self.encoder.embedding_dim, loss=loss, blank=blank,
        )

    def get_config(self) -> dict:
        return dict(self._config)

    def forward(self, x: Tensor, lengths: Tensor | None = None, state=None) -> TaggerOutput:
        output, h_n = self.encoder(x, lengths, state)  # (B, T, D*H)
        return TaggerOutput(self.head(self.dropout(output)), h_n)  # (B, T, C)

    def compute_loss(self, batch: dict[str, Tensor], state=None) -> StepOutput:
        lengths = batch.get("lengths")
        out = self(batch["x"], lengths, state)
        if self.loss == "ctc":
            return self._ctc_loss(out.logits, batch, lengths)
        B, T, C = out.logits.shape
        y = batch["y"].masked_fill(~length_mask(lengths, T, B, out.logits.device), -100)
        valid = y != -100
        count = int(valid.sum())
        loss = F.cross_entropy(
            out.logits.reshape(B * T, C), y.reshape(B * T), ignore_index=-100, reduction="sum"
        ) / max(count, 1)  # a chunk with no valid step gives 0, not nan
        correct = ((out.logits.argmax(-1) == y) & valid).sum()
        metrics = {"accuracy": (correct / max(count, 1)).item()}
        return StepOutput(loss, metrics, count=count, state=detach_state(out.state))

    def _ctc_loss(self, logits: Tensor, batch: dict[str, Tensor], lengths) -> StepOutput:
        B, T, _ = logits.shape
        log_probs = logits.log_softmax(-1).transpose(0, 1)  # (T, B, C)
        input_lengths = lengths if lengths is not None else torch.full((B,), T, dtype=torch.long)
        loss = F.ctc_loss(
            log_probs, batch["y"], input_lengths, batch["target_lengths"], blank=self.blank,
            reduction="mean", zero_infinity=True,
        )
        return StepOutput(loss, {"ctc": loss.item()}, count=B)

    @torch.no_grad()
    def decode(self, x: Tensor, lengths: Tensor | None = None) -> list[list[int]]:
        """Label sequences: per-step argmax (ce) or best-path CTC decoding (ctc)."""
        logits = self(x, lengths).logits  # (B, T, C)
        if self.loss == "ctc":
            return ctc_greedy_decode(logits, lengths, self.blank)
        T = logits.shape[1]
        lens = lengths.tolist() if lengths is not None else [T] * logits.shape[0]
        return [row[:n] for row, n in zip(logits.argmax(-1).tolist(), lens)]
