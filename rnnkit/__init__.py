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

__version__ = "0.1.0"  # the one place it is written: pyproject.toml reads it from here


def load(run_dir, checkpoint: str = "best"):
    """The predictor of a trained run directory: ``.task``, ``.config``, ``.model``,
    ``.predict(inputs, **options)``, ``.predict_file(path)``, ``.stream()`` (see
    :mod:`rnnkit.tasks.predictor`). ``checkpoint``: ``"best"`` (default) or ``"last"``."""
    from .tasks import load as _load

    return _load(run_dir, checkpoint)


__all__ = [
    "GRU", "LSTM", "RNN", "Cell", "GRUCell", "LSTMCell", "LayerNormGRUCell",
    "LayerNormLSTMCell", "RNNCell", "Recurrent", "__version__", "load", "make_cell",
    "register_cell",
]
