"""``Decoder``: a recurrent decoder run one step at a time, with optional attention.

Shared by :class:`~rnnkit.models.Seq2Seq` (attention over the encoder's outputs),
:class:`~rnnkit.models.ConditionalGenerator` (a vector sets the state; attention over e.g. an
image feature map when given) and the autoregressive :class:`~rnnkit.models.Forecaster`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..layers import build_layer
from .attention import make_attention
from .states import map_state


@dataclass
class Memory:
    """What the decoder attends over: ``keys`` (B, S, K), ``mask`` (B, S) True at valid
    positions, ``cache`` the attention's precomputed key projection."""

    keys: Tensor
    mask: Tensor
    cache: Tensor | None = None

    def index_select(self, index: Tensor) -> Memory:
        cache = None if self.cache is None else self.cache.index_select(0, index)
        return Memory(self.keys.index_select(0, index), self.mask.index_select(0, index), cache)


@dataclass
class DecoderState:
    """The layer's state ``rnn`` ((L, B, H) or a tuple) and ``feed`` (B, H): the previous
    attentional vector, fed to the next step (input feeding); None without attention."""

    rnn: Any
    feed: Tensor | None = None

    def index_select(self, index: Tensor) -> DecoderState:
        rnn = map_state(lambda s: s.index_select(1, index), self.rnn)
        feed = None if self.feed is None else self.feed.index_select(0, index)
        return DecoderState(rnn, feed)


@dataclass
class DecoderOutput:
    """``outputs`` (B, T, O), final ``state``, attention ``weights`` (B, T, S) or None."""

    outputs: Tensor
    state: DecoderState
    weights: Tensor | None = None


class Decoder(nn.Module):
    r"""One step: input y_{t-1} (token id, or a frame) -> output scores for y_t.

    .. math::
        u_t = [E y_{t-1}; \tilde h_{t-1}], \quad h_t = \mathrm{RNN}(u_t, h_{t-1}), \quad
        c_t, a_t = \mathrm{attn}(h_t, \text{keys}), \quad
        \tilde h_t = \tanh(W_c [h_t; c_t]), \quad o_t = W_o \tilde h_t

    This is Luong et al.'s (2015) input-feeding decoder; the score function is Bahdanau's
    additive one or Luong's (see :mod:`~rnnkit.models.attention`). Without attention,
    :math:`\tilde h_t = h_t` and nothing is fed back. ``E`` is ``embedding`` for token inputs
    (``vocab_size``); frames (``input_size``) enter as they are. ``W_c`` is ``combine``,
    ``W_o`` is ``head``.

    ``step(inputs (B,) or (B, F), state, memory) -> (out (B, O), state, weights (B, S))``;
    ``forward(inputs (B, T[, F]), state, memory, teacher_forcing, feedback)`` runs the steps.
    """

    def __init__(
        self, cell: str, hidden_size: int, output_size: int, *, vocab_size: int | None = None,
        input_size: int | None = None, embedding_dim: int | None = None, num_layers: int = 1,
        dropout: float = 0.0, attention: str = "none", memory_size: int | None = None,
        padding_idx: int | None = None, tie_embeddings: bool = False,
    ):
        super().__init__()
        if tie_embeddings and (vocab_size is None or vocab_size != output_size):
            raise ValueError(
                f"tie_embeddings needs token inputs from the output vocabulary, got vocab_size "
                f"{vocab_size} and output_size {output_size}"
            )
        if vocab_size is not None:
            self.embedding = nn.Embedding(
                vocab_size, embedding_dim or hidden_size, padding_idx=padding_idx
            )
            n_in = self.embedding.embedding_dim
        else:
            self.embedding, n_in = None, input_size
        self.attention = make_attention(attention, hidden_size, memory_size or hidden_size)
        if self.attention is not None:
            n_in += hidden_size  # input feeding
            self.combine = nn.Linear(hidden_size + (memory_size or hidden_size), hidden_size)
        self.rnn = build_layer(
            cell, n_in, hidden_size, num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.project = None
        if tie_embeddings:
            dim = self.embedding.embedding_dim
            self.project = nn.Linear(hidden_size, dim, bias=False) if dim != hidden_size \
                else nn.Identity()
            self.head = nn.Linear(dim, output_size)
            self.head.weight = self.embedding.weight
        else:
            self.head = nn.Linear(hidden_size, output_size)
        self.hidden_size = hidden_size

    def output(self, h: Tensor) -> Tensor:
        """Output scores (..., O) from the top hidden vectors (..., H)."""
        h = self.dropout(h)
        return self.head(self.project(h) if self.project is not None else h)

    def start(self, rnn_state) -> DecoderState:
        """The first state: the layer's state (None: zeros), zero input feeding."""
        feed = None
        if self.attention is not None:
            ref = rnn_state[0] if isinstance(rnn_state, tuple) else rnn_state
            feed = ref.new_zeros(ref.shape[1], self.hidden_size)  # (B, H)
        return DecoderState(rnn_state, feed)

    def memory(self, keys: Tensor, mask: Tensor) -> Memory:
        """Wrap the keys to attend over, precomputing what the attention can."""
        cache = self.attention.prepare(keys) if self.attention is not None else None
        return Memory(keys, mask, cache)

    def _embed(self, inputs: Tensor) -> Tensor:
        x = self.embedding(inputs) if self.embedding is not None else inputs
        return self.dropout(x)

    def step(self, inputs: Tensor, state: DecoderState, memory: Memory | None = None):
        """One step for inputs (B,) ids or (B, F) frames -> (out (B, O), state, weights)."""
        x = self._embed(inputs)  # (B, E)
        if self.attention is not None:
            x = torch.cat([x, state.feed], dim=-1)  # (B, E + H)
        h, rnn = self.rnn(x.unsqueeze(1), state.rnn)
        h = h[:, 0]  # (B, H)
        weights = None
        if self.attention is not None:
            context, weights = self.attention(h, memory.keys, memory.mask, memory.cache)
            h = torch.tanh(self.combine(torch.cat([h, context], dim=-1)))  # (B, H)
        out = self.output(h)  # (B, O)
        return out, DecoderState(rnn, h if self.attention is not None else None), weights

    def forward(
        self, inputs: Tensor, state: DecoderState, memory: Memory | None = None,
        teacher_forcing: float = 1.0, feedback: Callable[[Tensor], Tensor] | None = None,
    ) -> DecoderOutput:
        """Run over inputs (B, T) or (B, T, F). Input t is the given ``inputs[:, t]`` with
        probability ``teacher_forcing`` (per sequence and step) and otherwise
        ``feedback(previous output)`` (detached); step 0 always reads ``inputs[:, 0]``."""
        if self.attention is None and teacher_forcing >= 1.0:  # one call over all steps
            h, rnn = self.rnn(self._embed(inputs), state.rnn)  # (B, T, H)
            return DecoderOutput(self.output(h), DecoderState(rnn))
        outs, weights, out = [], [], None
        for t in range(inputs.shape[1]):
            x = inputs[:, t]
            if out is not None and teacher_forcing < 1.0:
                own = torch.rand(x.shape[0], device=x.device) >= teacher_forcing  # (B,)
                own = own.view(-1, *([1] * (x.dim() - 1)))
                x = torch.where(own, feedback(out.detach()).to(x.dtype), x)
            out, state, w = self.step(x, state, memory)
            outs.append(out)
            weights.append(w)
        stacked = torch.stack(weights, 1) if self.attention is not None else None
        return DecoderOutput(torch.stack(outs, 1), state, stacked)  # (B, T, O)
