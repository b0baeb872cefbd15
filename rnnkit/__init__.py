"""rnnkit: recurrent neural networks on sequential data, built on PyTorch.

The names below load their modules (and torch) on first use, so that ``import rnnkit`` and
the start of the ``rnnkit`` command cost nothing before there is work to do: a Ctrl-C while
torch loads is then the command's to handle (one line, exit status 130), not a traceback.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"  # the one place it is written: pyproject.toml reads it from here

if TYPE_CHECKING:  # what the documentation and type checkers see; loaded by __getattr__
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

_HOMES = {**dict.fromkeys(("Cell", "GRUCell", "LayerNormGRUCell", "LayerNormLSTMCell",
                           "LSTMCell", "RNNCell", "make_cell", "register_cell"), "cells"),
          **dict.fromkeys(("GRU", "LSTM", "RNN", "Recurrent"), "layers")}
_PACKAGES = frozenset({"cells", "cli", "data", "diagnostics", "export", "kernels", "layers",
                       "models", "reference", "tasks", "training"})


def __getattr__(name: str):
    """A public name or subpackage, imported on first use (then a plain attribute)."""
    if name in _HOMES:
        value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    elif name in _PACKAGES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES, *_PACKAGES})


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
