"""Choosing the next token from logits: greedy, temperature, top-k, top-p (nucleus)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def sample_logits(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One token id per row of ``logits`` (B, V) -> (B,) int64.

    ``temperature=0`` (or ``top_k=1``) is greedy argmax. Otherwise the logits are divided by
    ``temperature``, restricted to the ``top_k`` largest and to the smallest set whose
    probability reaches ``top_p`` (always at least one token), and sampled with
    ``generator`` (a fixed seed repeats exactly).
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must be (batch, vocabulary), got shape {tuple(logits.shape)}")
    if not 0 <= temperature < math.inf:  # (NaN fails it)
        raise ValueError(f"temperature must be a number >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if temperature == 0 or top_k == 1:
        return logits.argmax(-1)
    raw = logits.float()
    logits = raw / temperature  # (B, V)
    if not logits.amax(-1).isfinite().all():  # a tiny temperature overflowed (inf / inf is
        raw = raw.double()  # NaN): the same softmax, the largest logit shifted to 0 first
        logits = (raw - raw.amax(-1, keepdim=True)) / temperature  # (B, V), none above 0
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)  # (B, V)
        probs = sorted_logits.softmax(-1)
        before = probs.cumsum(-1) - probs  # mass of the tokens ranked above each one
        drop_sorted = before >= top_p  # the first token is never dropped
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
