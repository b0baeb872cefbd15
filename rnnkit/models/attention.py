"""Attention over a memory of keys: additive (Bahdanau) and multiplicative (Luong).

Both are called as ``attn(query (B, Hq), keys (B, S, Hk), mask (B, S) bool, cache=None)
-> (context (B, Hk), weights (B, S))``; the softmax runs over valid source positions only
(weights are exactly 0 where ``mask`` is False, and sum to 1 over the rest). ``cache`` is what
``attn.prepare(keys)`` returns, computed once per source so a decoder loop does not redo it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .masking import masked_softmax


def _attend(scores: Tensor, keys: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    weights = masked_softmax(scores, mask)  # (B, S)
    context = torch.bmm(weights.unsqueeze(1), keys).squeeze(1)  # (B, Hk)
    return context, weights


class BahdanauAttention(nn.Module):
    r"""Additive attention (Bahdanau et al. 2015).

    .. math::
        e_s = v^\top \tanh(W_q q + W_k k_s), \quad a = \mathrm{softmax}(e), \quad
        c = \sum_s a_s k_s

    ``W_q`` is ``query_proj`` (Hq -> A, no bias), ``W_k`` is ``key_proj`` (Hk -> A, with the
    bias), ``v`` is ``v`` (A -> 1). ``prepare(keys)`` returns ``W_k k`` (B, S, A).

    Example::

        attn = BahdanauAttention(query_size=64, key_size=128)
        context, weights = attn(h, enc_out, mask)   # (B, 128), (B, S)
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int | None = None):
        super().__init__()
        a = attention_size or query_size
        self.query_proj = nn.Linear(query_size, a, bias=False)
        self.key_proj = nn.Linear(key_size, a)
        self.v = nn.Linear(a, 1, bias=False)

    def prepare(self, keys: Tensor) -> Tensor:
        return self.key_proj(keys)  # (B, S, A)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor, cache: Tensor | None = None):
        projected = self.prepare(keys) if cache is None else cache  # (B, S, A)
        hidden = torch.tanh(projected + self.query_proj(query).unsqueeze(1))  # (B, S, A)
        return _attend(self.v(hidden).squeeze(-1), keys, mask)  # scores (B, S)


class LuongAttention(nn.Module):
    r"""Multiplicative attention (Luong et al. 2015): ``method="dot"``: e_s = q^T k_s
    (needs Hq == Hk); ``method="general"``: e_s = q^T W k_s, with ``W`` = ``weight``
    (a Linear Hq -> Hk applied to the query, no bias).

    Example::

        attn = LuongAttention(query_size=64, key_size=128, method="general")
        context, weights = attn(h, enc_out, mask)   # (B, 128), (B, S)
    """

    METHODS = ("dot", "general")

    def __init__(self, query_size: int, key_size: int, method: str = "general"):
        super().__init__()
        if method not in self.METHODS:
            raise ValueError(f"method must be one of {self.METHODS}, got {method!r}")
        if method == "dot" and query_size != key_size:
            raise ValueError(
                f"dot attention needs query_size == key_size, got {query_size} and {key_size}; "
                "use method='general'"
            )
        self.method = method
        self.weight = nn.Linear(query_size, key_size, bias=False) if method == "general" else None

    def prepare(self, keys: Tensor) -> None:
        return None

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor, cache=None):
        q = self.weight(query) if self.weight is not None else query  # (B, Hk)
        scores = torch.bmm(keys, q.unsqueeze(-1)).squeeze(-1)  # (B, S)
        return _attend(scores, keys, mask)


ATTENTIONS = ("bahdanau", "luong", "luong_dot", "none")


def make_attention(name: str, query_size: int, key_size: int) -> nn.Module | None:
    """``"bahdanau"``, ``"luong"`` (general), ``"luong_dot"``, or ``"none"`` (returns None)."""
    if name == "bahdanau":
        return BahdanauAttention(query_size, key_size)
    if name in ("luong", "luong_dot"):
        return LuongAttention(query_size, key_size, "dot" if name == "luong_dot" else "general")
    if name == "none":
        return None
    raise ValueError(f"attention must be one of {ATTENTIONS}, got {name!r}")
