"""Masks from lengths, and the masked softmax that attention and pooling share."""

from __future__ import annotations

import torch
from torch import Tensor


def length_mask(lengths: Tensor | None, max_len: int, batch_size: int, device=None) -> Tensor:
    """(B, T) bool, True at valid steps ``t < lengths[b]`` (all True when lengths is None)."""
    if lengths is None:
        return torch.ones(batch_size, max_len, dtype=torch.bool, device=device)
    steps = torch.arange(max_len, device=device)  # (T,)
    return steps.unsqueeze(0) < lengths.to(device).unsqueeze(1)  # (B, T)


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the last dim of ``scores`` (B, S) restricted to ``mask`` (B, S) True.

    Masked positions get weight exactly 0; a row with no valid position is all zeros.
    """
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    return weights.masked_fill(~mask, 0.0)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of x (B, T, D) over the valid steps of ``mask`` (B, T) -> (B, D)."""
    m = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    return (x * m).sum(1) / m.sum(1).clamp_min(1.0)
