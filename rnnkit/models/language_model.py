"""``LanguageModel``: next-token prediction, step-wise inference and generation."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Model, StepOutput
from .encoder import SequenceEncoder
from .masking import length_mask
from .sampling import sample_logits
from .states import detach_state


@dataclass
class LMOutput:
    """``logits`` (B, T, V) for the next token at every step, and the final ``state``."""

    logits: Tensor
    state: Any = None


class LanguageModel(Model):
    """A recurrent language model: p(x_{t+1} | x_1..x_t) = softmax(W h_t + b).

    Batch: ``"x"`` (B, T) token ids, ``"y"`` (B, T) the next ids, ``"lengths"`` (B,)
    optional (steps past it are ignored). Loss: mean cross-entropy in nats per token;
    metrics ``bits_per_token`` (= loss / ln 2), ``perplexity``, ``accuracy``.
    ``time_keys = ("x", "y")``: ``compute_loss`` starts from ``state`` and returns the final
    state (detached) for truncated BPTT.

    ``tie_weights=True`` shares the embedding matrix with the output layer (Press & Wolf
    2017); it needs ``embedding_dim == hidden_size``.

    Inference: ``step(ids (B,), state) -> (logits (B, V), state)`` runs one step;
    ``iter_generate`` yields new tokens one at a time, ``generate`` collects them. Call
    ``model.eval()`` first so dropout is off.

    Example::

        lm = LanguageModel(vocab_size=65, cell="lstm", hidden_size=256, num_layers=2)
        out = lm.compute_loss({"x": ids[:, :-1], "y": ids[:, 1:]})
        new = lm.generate(torch.tensor([5, 9, 2]), max_new=100, temperature=0.8, top_k=20)
    """

    time_keys = ("x", "y")

    def __init__(
        self, *, vocab_size: int, cell: str = "lstm", hidden_size: int = 128,
        num_layers: int = 1, dropout: float = 0.0, embedding_dim: int | None = None,
        tie_weights: bool = False,
    ):
        super().__init__()
        self.encoder = SequenceEncoder(
            cell, hidden_size, vocab_size=vocab_size, embedding_dim=embedding_dim,
            num_layers=num_layers, dropout=dropout, padding_idx=None,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            if self.encoder.embedding_dim != hidden_size:
                raise ValueError(
                    f"tie_weights needs embedding_dim == hidden_size, got "
                    f"{self.encoder.embedding_dim} and {hidden_size}"
                )
            self.head.weight = self.encoder.embedding.weight
        self._config = dict(
            vocab_size=vocab_size, cell=cell, hidden_size=hidden_size, num_layers=num_layers,
            dropout=dropout, embedding_dim=self.encoder.embedding_dim, tie_weights=tie_weights,
        )

    def get_config(self) -> dict:
        return dict(self._config)

    def forward(self, x: Tensor, lengths: Tensor | None = None, state=None) -> LMOutput:
        output, state = self.encoder(x, lengths, state)  # (B, T, H)
        return LMOutput(self.head(self.dropout(output)), state)  # (B, T, V)

    def compute_loss(self, batch: dict[str, Tensor], state=None) -> StepOutput:
        lengths = batch.get("lengths")
        out = self(batch["x"], lengths, state)
        B, T, V = out.logits.shape
        y = batch["y"].masked_fill(~length_mask(lengths, T, B, out.logits.device), -100)
        valid = y != -100
        count = int(valid.sum())
        loss = F.cross_entropy(
            out.logits.reshape(B * T, V), y.reshape(B * T), ignore_index=-100, reduction="sum"
        ) / max(count, 1)  # a chunk with no valid step gives 0, not nan
        nats = loss.item()
        metrics = {
            "bits_per_token": nats / math.log(2),
            "perplexity": math.exp(min(nats, 50.0)),
            "accuracy": (((out.logits.argmax(-1) == y) & valid).sum() / max(count, 1)).item(),
        }
        return StepOutput(loss, metrics, count=count, state=detach_state(out.state))

    def step(self, token_ids: Tensor, state=None) -> tuple[Tensor, Any]:
        """One step: ids (B,) and the state so far -> next-token logits (B, V), new state.

        The layer's step mode (:meth:`rnnkit.layers.stepping.Stepping.step`): under
        ``torch.no_grad()`` in evaluation one compiled call per step on the CPU; the state is
        the one :meth:`forward` returns, so a prompt read by ``forward`` continues here."""
        h, state = self.encoder.step(token_ids, state)  # (B, H)
        return self.head(self.dropout(h)), state  # (B, V)

    @torch.no_grad()
    def iter_generate(
        self, prompt: Tensor, max_new: int, *, temperature: float = 1.0,
        top_k: int | None = None, top_p: float | None = None,
        generator: torch.Generator | None = None, eos_id: int | None = None,
        never: Sequence[int] = (),
    ) -> Iterator[Tensor]:
        """Yield ``max_new`` new tokens one at a time, each shaped like ``prompt[..., -1]``
        (a 0-d tensor for a (T0,) prompt, (B,) for a (B, T0) prompt).

        The prompt is read once; each new token costs one :meth:`step`. Sampling as in
        :func:`~rnnkit.models.sampling.sample_logits`, never choosing the ids in ``never``
        (e.g. a character model's padding and unknown tokens). With ``eos_id``, stops after
        every sequence has produced it.
        """
        unbatched = prompt.dim() == 1
        ids = prompt.unsqueeze(0) if unbatched else prompt  # (B, T0)
        out = self(ids)
        logits, state = out.logits[:, -1], out.state  # (B, V)
        done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
        for i in range(max_new):
            if never:
                logits = logits.index_fill(-1, torch.tensor(never, device=logits.device),
                                           float("-inf"))  # (B, V)
            token = sample_logits(
                logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator,
            )  # (B,)
            yield token[0] if unbatched else token
            if eos_id is not None:
                done |= token == eos_id
                if bool(done.all()):
                    return
            if i + 1 < max_new:
                logits, state = self.step(token, state)

    def generate(self, prompt: Tensor, max_new: int, **options) -> Tensor:
        """New token ids (max_new,) for a (T0,) prompt or (B, max_new) for (B, T0) (fewer
        when ``eos_id`` ends every sequence early). Options as :meth:`iter_generate`."""
        tokens = list(self.iter_generate(prompt, max_new, **options))
        if not tokens:
            shape = (0,) if prompt.dim() == 1 else (prompt.shape[0], 0)
            return prompt.new_zeros(shape)
        return torch.stack(tokens, dim=-1)
