"""The loop over time: generic ``Recurrent`` and the torch-compatible drop-ins."""

from .factory import build_layer
from .loop import reverse_padded, run_direction, run_stack
from .recurrent import Recurrent
from .torch_compat import GRU, LSTM, RNN

__all__ = [
    "GRU", "LSTM", "RNN", "Recurrent", "build_layer", "reverse_padded", "run_direction",
    "run_stack",
]
