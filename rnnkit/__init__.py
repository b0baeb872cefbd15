"""rnnkit: recurrent neural networks on sequential data, built on PyTorch."""

from .cells import (
    Cell,
    GRUCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    RNNCell,
    make_cell,
    register_cell,
)
from .layers import GRU, LSTM, RNN, Recurrent

__version__ = "0.1.0"

__all__ = [
    "GRU", "LSTM", "RNN", "Cell", "GRUCell", "LSTMCell", "LayerNormGRUCell",
    "LayerNormLSTMCell", "RNNCell", "Recurrent", "__version__", "make_cell", "register_cell",
]
