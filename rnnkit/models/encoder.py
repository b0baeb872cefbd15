"""``SequenceEncoder``: token ids or float features -> a recurrent layer -> (output, h_n)."""

from __future__ import annotations

from torch import Tensor, nn

from ..cells.base import State
from ..layers import build_layer
from .states import top_hidden


class SequenceEncoder(nn.Module):
    """The input side every sequence model shares.

    Token ids (B, T) go through ``nn.Embedding(vocab_size, embedding_dim, padding_idx)``;
    float features (B, T, input_size) go in as they are. Dropout follows the embedding (and
    sits between stacked layers). The recurrent layer is ``build_layer(cell, ...)``.

    ``forward(x, lengths=None, hx=None) -> (output (B, T, D*H), h_n (L*D, B, H) or (h, c))``;
    ``lengths`` always reaches the layer, so padding never enters the states.
    ``step(x_t, hx=None) -> (y_t (B, H), state)`` reads one step (ids (B,) or features
    (B, input_size)) through the layer's step mode (unidirectional encoders), with the state
    in ``h_n``'s layout, so ``forward`` and ``step`` can continue each other.

    Example::

        enc = SequenceEncoder("gru", 32, vocab_size=100, bidirectional=True)
        out, h_n = enc(ids, lengths)          # ids (4, 9) -> out (4, 9, 64), h_n (2, 4, 32)
        enc.final_hidden(h_n)                 # (4, 64)
    """

    def __init__(
        self,
        cell: str,
        hidden_size: int,
        *,
        vocab_size: int | None = None,
        input_size: int | None = None,
        embedding_dim: int | None = None,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        padding_idx: int | None = 0,
    ):
        super().__init__()
        if (vocab_size is None) == (input_size is None):
            raise ValueError(
                "give exactly one of vocab_size (token ids) or input_size (float features), "
                f"got vocab_size={vocab_size!r}, input_size={input_size!r}"
            )
        if vocab_size is not None:
            self.embedding_dim = embedding_dim or hidden_size
            self.embedding = nn.Embedding(vocab_size, self.embedding_dim, padding_idx=padding_idx)
            n_in = self.embedding_dim
        else:
            self.embedding_dim, self.embedding, n_in = None, None, input_size
        self.dropout = nn.Dropout(dropout)
        self.rnn = build_layer(
            cell, n_in, hidden_size, num_layers=num_layers, bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.directions = 2 if bidirectional else 1
        self.output_size = self.rnn.output_size

    def embed(self, x: Tensor) -> Tensor:
        """Token ids (B, T) -> (B, T, E); float features pass through. Dropout applied."""
        if self.embedding is not None:
            if x.is_floating_point():
                raise TypeError(f"this model takes token ids (integers), got dtype {x.dtype}")
            x = self.embedding(x)
        elif not x.is_floating_point():
            raise TypeError(f"this model takes float features, got dtype {x.dtype}")
        return self.dropout(x) if self.training else x  # (eval: dropout is the identity)

    def forward(self, x: Tensor, lengths: Tensor | None = None, hx: State | None = None):
        if lengths is not None:
            # 0 = a sequence that ended before this truncated-BPTT chunk: run it one step;
            # the models mask its outputs with the true lengths (the trainer resets its state)
            lengths = lengths.clamp_min(1)
        return self.rnn(self.embed(x), hx, lengths=lengths)

    def step(self, x_t: Tensor, hx: State | None = None) -> tuple[Tensor, State]:
        """One step: ids (B,) or features (B, input_size) -> (y_t (B, H), new state)."""
        return self.rnn.step(self.embed(x_t), hx)

    def final_hidden(self, h_n: State) -> Tensor:
        """The top layer's final ``h``, directions concatenated: (B, D*H)."""
        return top_hidden(h_n, self.directions)
