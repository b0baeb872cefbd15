"""Language-model pretraining of a text classifier's encoder (the ``pretrain`` stage).

When labelled texts are few, the RNN literature first trains the encoder as a language
model on the task's own text — and on any unlabelled text the user has — then fine-tunes
the classifier from it (Dai & Le 2015, "Semi-supervised sequence learning"; Howard & Ruder
2018, ULMFiT). The encoder's embedding and recurrent layer learn which words behave alike
from many more prediction targets than there are labels (every word of every text, where
the classifier gets one label a text).

:func:`pretrain_encoder` trains a :class:`~rnnkit.models.encoder.SequenceEncoder` in place:
its forward direction predicts each next word, and a bidirectional encoder's backward
direction each previous word (as ELMo's two language models share one network). Each
direction's output goes through a linear map to the embedding size, then through the
embedding matrix transposed (tied input and output embeddings, Press & Wolf 2017), so the
stage adds no vocabulary-sized weights and trains the embedding the classifier keeps. Only
the encoder is kept; the small projection is dropped after the stage.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.encoder import SequenceEncoder
from .text_common import pad_ids


class _Heads(nn.Module):
    """One projection a direction, hidden -> embedding size; scores are taken against the
    encoder's (tied) embedding matrix plus a bias a word."""

    def __init__(self, encoder: SequenceEncoder, dropout: float):
        super().__init__()
        hidden = encoder.output_size // encoder.directions
        self.proj = nn.ModuleList(nn.Linear(hidden, encoder.embedding_dim)
                                  for _ in range(encoder.directions))
        self.bias = nn.Parameter(torch.zeros(encoder.embedding.num_embeddings))
        self.dropout = nn.Dropout(dropout)

    def loss(self, encoder: SequenceEncoder, x: Tensor, lengths: Tensor) -> Tensor:
        """Mean cross-entropy (nats a predicted word) over the directions of batch ``x``
        (B, T) padded with id 0; padding is never a target."""
        out, _ = encoder(x, lengths)  # (B, T, D*H)
        hidden = out.shape[-1] // encoder.directions
        weight = encoder.embedding.weight
        # forward: the output at t has read x[:t+1] and predicts x[t+1]; backward: the
        # output at t has read x[t:] and predicts x[t-1]
        pairs = [(out[:, :-1, :hidden], x[:, 1:])]
        if encoder.directions == 2:  # (a padded position reads nothing: no target there)
            pairs.append((out[:, 1:, hidden:], x[:, :-1].masked_fill(x[:, 1:] == 0, 0)))
        total = x.new_zeros((), dtype=out.dtype)
        for proj, (h, target) in zip(self.proj, pairs):
            logits = F.linear(self.dropout(proj(h)), weight, self.bias)
            total = total + F.cross_entropy(logits.flatten(0, 1), target.flatten(),
                                            ignore_index=0)
        return total / len(pairs)


def pretrain_encoder(encoder: SequenceEncoder, texts: Sequence[Sequence[int]], *, epochs: int,
                     lr: float, batch_size: int, seed: int, dropout: float = 0.3,
                     weight_decay: float = 0.01, clip_norm: float = 1.0,
                     on_epoch: Callable[[int, float, float], None] | None = None
                     ) -> list[float]:
    """Train ``encoder`` (token ids; id 0 = padding) as a language model on ``texts`` (lists
    of word ids) for ``epochs`` passes, in place; returns each epoch's mean loss (nats a
    predicted word, averaged over the directions).

    AdamW at ``lr`` with a cosine decay to zero over the stage, gradients clipped to
    ``clip_norm``. Texts of similar length are batched together (sorted by length, cut into
    batches, the batches shuffled each epoch by a generator seeded with ``seed``), so little
    padding is computed. ``on_epoch(epoch, loss, seconds)`` is called after each epoch
    (progress). Dropout and the projections' initial weights draw from torch's global
    generator (seeded by the run). Texts shorter than two words have nothing to predict and
    are skipped."""
    if encoder.embedding is None:
        raise ValueError("language-model pretraining needs an encoder over token ids")
    texts = [list(t) for t in texts if len(t) >= 2]
    if not texts:
        raise ValueError("no text of two words or more to pretrain on")
    if epochs < 1:
        return []
    g = torch.Generator().manual_seed(seed)
    heads = _Heads(encoder, dropout)
    device = encoder.embedding.weight.device
    heads.to(device)
    by_length = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    groups = [by_length[i:i + batch_size] for i in range(0, len(by_length), batch_size)]
    params = [*encoder.parameters(), *heads.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    total_steps, step, losses = epochs * len(groups), 0, []
    was_training = encoder.training
    encoder.train()
    heads.train()
    try:
        for epoch in range(epochs):
            start, total = time.perf_counter(), 0.0
            for k in torch.randperm(len(groups), generator=g).tolist():
                x, lengths = pad_ids([texts[i] for i in groups[k]])
                for group in opt.param_groups:
                    group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))
                loss = heads.loss(encoder, x.to(device), lengths)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(params, clip_norm)
                opt.step()
                total += loss.item()
                step += 1
            losses.append(total / len(groups))
            if on_epoch is not None:
                on_epoch(epoch, losses[-1], time.perf_counter() - start)
    finally:
        encoder.train(was_training)
        encoder.zero_grad(set_to_none=True)
    return losses

