"""``PianoRollLM``: a language model over binary frames (polyphonic music as piano rolls)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Model, StepOutput
from .encoder import SequenceEncoder
from .language_model import LMOutput
from .masking import length_mask
from .states import detach_state


class PianoRollLM(Model):
    """Next-frame prediction over ``num_units`` binary units, independent Bernoullis given
    the past (Boulanger-Lewandowski et al. 2012; Chung et al. 2014):

        h_t = cell(x_t, h_{t-1}),   p(y_t[k] = 1 | x_1..x_t) = sigmoid(W h_t + b)[k]

    Batch: ``"x"`` (B, T, K) float frames in {0, 1} (the previous frames: an all-zero frame
    stands before the first), ``"y"`` (B, T, K) the frames to predict, ``"lengths"`` (B,)
    optional. Loss: negative log-likelihood in nats per time step, summed over the K units
    and averaged over valid steps (``nll_per_step``, the figure the JSB literature reports).
    ``frame_accuracy`` is Bay et al. (2009)'s TP / (TP + FP + FN) at threshold 0.5, here per
    batch (a task can recompute it over a whole split). ``time_keys = ("x", "y")``: truncated
    BPTT applies.

    ``input_dropout`` zeroes input units during training (a strong regulariser on the small
    JSB set); ``dropout`` acts between stacked layers and before the output layer.

    Inference: ``step(frame (B, K), state) -> (logits (B, K), state)``; ``generate`` samples
    frames one at a time.

    Example::

        lm = PianoRollLM(num_units=88, cell="gru", hidden_size=128)
        out = lm.compute_loss({"x": prev, "y": frames, "lengths": n})   # out.loss: nats/step
        roll = lm.generate(steps=64)                                     # (64, 88) in {0, 1}
    """

    time_keys = ("x", "y")

    def __init__(self, *, num_units: int = 88, cell: str = "lstm", hidden_size: int = 128,
                 num_layers: int = 1, dropout: float = 0.0, input_dropout: float = 0.0):
        super().__init__()
        self.encoder = SequenceEncoder(cell, hidden_size, input_size=num_units,
                                       num_layers=num_layers, dropout=dropout)
        self.encoder.dropout = nn.Dropout(input_dropout)  # on the input frames
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, num_units)
        self._config = dict(num_units=num_units, cell=cell, hidden_size=hidden_size,
                            num_layers=num_layers, dropout=dropout, input_dropout=input_dropout)

    def get_config(self) -> dict:
        return dict(self._config)

    def forward(self, x: Tensor, lengths: Tensor | None = None, state=None) -> LMOutput:
        output, state = self.encoder(x, lengths, state)  # (B, T, H)
        return LMOutput(self.head(self.dropout(output)), state)  # (B, T, K)

    def compute_loss(self, batch: dict[str, Tensor], state=None) -> StepOutput:
        lengths = batch.get("lengths")
        out = self(batch["x"], lengths, state)
        B, T, _ = out.logits.shape
        valid = length_mask(lengths, T, B, out.logits.device)  # (B, T)
        y = batch["y"].to(out.logits.dtype)
        nll = F.binary_cross_entropy_with_logits(out.logits, y, reduction="none").sum(-1)
        count = int(valid.sum())
        loss = (nll * valid).sum() / max(count, 1)  # nats per step; 0 for an empty chunk
        pred = (out.logits > 0) & valid.unsqueeze(-1)  # (B, T, K)
        truth = (y > 0.5) & valid.unsqueeze(-1)
        tp = int((pred & truth).sum())
        union = int((pred | truth).sum())
        metrics = {"nll_per_step": loss.item(), "frame_accuracy": tp / union if union else 1.0}
        return StepOutput(loss, metrics, count=count, state=detach_state(out.state))

    def step(self, frame: Tensor, state=None) -> tuple[Tensor, Any]:
        """One step: the frame (B, K) just played and the state -> next logits (B, K), new
        state (the layer's step mode; the state is the one :meth:`forward` returns)."""
        h, state = self.encoder.step(frame, state)  # (B, H)
        return self.head(self.dropout(h)), state  # (B, K)

    @torch.no_grad()
    def iter_generate(self, steps: int, *, prime: Tensor | None = None,
                      temperature: float = 1.0, batch_size: int = 1,
                      generator: torch.Generator | None = None) -> Iterator[Tensor]:
        """Yield ``steps`` new frames (B, K) in {0, 1}, each sampled unit by unit.

        ``prime`` (T0, K) or (B, T0, K) frames are read first (the all-zero frame is put
        before them); without it generation starts from the all-zero frame. The logits are
        divided by ``temperature`` (0: threshold at 0.5, deterministic).
        """
        if not 0 <= temperature < math.inf:  # (NaN fails it)
            raise ValueError(f"temperature must be a number >= 0, got {temperature}")
        device = self.head.weight.device
        K = self.head.out_features
        if prime is None:
            prime = torch.zeros(batch_size, 0, K, device=device)
        elif prime.dim() == 2:
            prime = prime.unsqueeze(0)
        prime = prime.to(device=device, dtype=torch.float32)
        start = torch.zeros(prime.shape[0], 1, K, device=device)
        out = self(torch.cat([start, prime], dim=1))
        logits, state = out.logits[:, -1], out.state  # (B, K)
        for i in range(steps):
            if temperature == 0:
                frame = (logits > 0).float()
            else:
                probs = torch.sigmoid(logits / temperature)
                frame = torch.bernoulli(probs, generator=generator)  # (B, K)
            yield frame
            if i + 1 < steps:
                logits, state = self.step(frame, state)

    def generate(self, steps: int, **options) -> Tensor:
        """``steps`` new frames: (steps, K) for an unbatched or absent prime, else
        (B, steps, K). Options as :meth:`iter_generate`."""
        prime, batch_size = options.get("prime"), options.get("batch_size", 1)
        frames = list(self.iter_generate(steps, **options))
        K = self.head.out_features
        B = batch_size if prime is None else 1 if prime.dim() == 2 else prime.shape[0]
        roll = torch.stack(frames, dim=1) if frames else torch.zeros(B, 0, K)  # (B, S, K)
        unbatched = prime is None or prime.dim() == 2
        return roll[0] if unbatched and batch_size == 1 else roll
