"""Pooling a sequence of outputs (B, T, D) to one vector per sequence (B, D).

Each pooling is called as ``pool(output, h_n, mask) -> (pooled (B, D), weights (B, T) or
None)`` with ``mask`` (B, T) True at valid steps; choose one by name with
:func:`make_pooling` (``"last"``, ``"mean"``, ``"attention"``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..cells.base import State
from .masking import masked_mean, masked_softmax
from .states import top_hidden


class LastPooling(nn.Module):
    """The final state: the top layer's ``h_n``, directions concatenated.

    With lengths this is each sequence's state at its last valid step (forward direction)
    and at t = 0 (backward direction), so padding never matters.
    """

    def __init__(self, size: int, directions: int):
        super().__init__()
        self.directions = directions

    def forward(self, output: Tensor, h_n: State, mask: Tensor):
        return top_hidden(h_n, self.directions), None


class MeanPooling(nn.Module):
    """The mean of the outputs over each sequence's valid steps."""

    def __init__(self, size: int, directions: int):
        super().__init__()

    def forward(self, output: Tensor, h_n: State, mask: Tensor):
        return masked_mean(output, mask), None


class AttentionPooling(nn.Module):
    r"""Additive attention with a learned query (Bahdanau-style scoring, Yang et al. 2016).

    .. math::
        e_t = q^\top \tanh(W o_t + b), \quad
        a = \mathrm{softmax}_{t < \text{length}}(e), \quad \text{pooled} = \sum_t a_t o_t

    ``W`` is ``proj`` (size -> size), ``q`` is ``query`` (size,). Weights are 0 on padding.
    """

    def __init__(self, size: int, directions: int):
        super().__init__()
        self.proj = nn.Linear(size, size)
        # divided in place: the same numbers as `randn / sqrt(size)`, and on the meta device
        # (a checkpoint's size check) no Python reference op, whose first use costs seconds
        self.query = nn.Parameter(torch.randn(size).div_(size**0.5))

    def forward(self, output: Tensor, h_n: State, mask: Tensor):
        scores = torch.tanh(self.proj(output)) @ self.query  # (B, T)
        weights = masked_softmax(scores, mask)  # (B, T)
        pooled = torch.bmm(weights.unsqueeze(1), output).squeeze(1)  # (B, D)
        return pooled, weights


POOLINGS = {"last": LastPooling, "mean": MeanPooling, "attention": AttentionPooling}


def make_pooling(name: str, size: int, directions: int) -> nn.Module:
    """The pooling called ``name`` for outputs of ``size`` features from ``directions``."""
    if name not in POOLINGS:
        raise ValueError(f"pooling must be one of {sorted(POOLINGS)}, got {name!r}")
    return POOLINGS[name](size, directions)
