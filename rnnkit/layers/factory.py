"""Build the fastest layer for a cell chosen by name (what models and configs use)."""

from __future__ import annotations

from torch import nn

from .recurrent import Recurrent
from .torch_compat import GRU, LSTM, RNN

# cell name -> (drop-in class, constructor options that select the cell)
_DROP_INS = {
    "rnn": (RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, {}),
    "gru": (GRU, {}),
    "lnlstm": (LSTM, {"layer_norm": True}),
    "lngru": (GRU, {"layer_norm": True}),
}


def build_layer(
    cell: str,
    input_size: int,
    hidden_size: int,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    batch_first: bool = True,
    **options,
) -> nn.Module:
    """A recurrent layer for ``cell`` (a registered cell name).

    Built-in cells get the torch-compatible drop-in (fused kernel where the options allow);
    any other registered cell runs in :class:`Recurrent`. Either way the module is called as
    ``layer(x, hx=None, lengths=None) -> (output, h_n)`` and has ``output_size``.
    ``options`` are the drop-ins' extras (``merge_mode``, ``recurrent_dropout``, ``zoneout``,
    ``learn_initial_state``, ``init``, ``forget_bias``) or the cell's own options.
    """
    if cell in _DROP_INS:
        cls, cell_options = _DROP_INS[cell]
        return cls(
            input_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional,
            dropout=dropout, batch_first=batch_first, **cell_options, **options,
        )
    return Recurrent(
        cell, num_layers=num_layers, bidirectional=bidirectional, dropout=dropout,
        batch_first=batch_first, input_size=input_size, hidden_size=hidden_size, **options,
    )
