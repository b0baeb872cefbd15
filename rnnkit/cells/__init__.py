"""Cells: one time step each, following the contract in :mod:`rnnkit.cells.base`.

Built-in cells are registered by name so configs can choose them (``cell = "lstm"``).
A new cell needs one file and one :func:`register_cell` call; registering it also puts it
under the conformance tests (``tests/test_cell_contract.py``).
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable

from .base import INITS, Cell, Gate, GatedCell, State, init_recurrent_weights
from .gru import GRUCell
from .layernorm import LayerNormGRUCell, LayerNormLSTMCell
from .lstm import LSTMCell
from .mingru import MinGRUCell
from .minlstm import MinLSTMCell
from .rnn import RNNCell

CELLS: dict[str, Callable[..., Cell]] = {}


def register_cell(name: str, factory: Callable[..., Cell]) -> None:
    """Make ``factory(input_size, hidden_size, **options)`` available as ``cell = name``."""
    CELLS[name] = factory


def make_cell(name: str, input_size: int, hidden_size: int, **options) -> Cell:
    """Build a registered cell by name, rejecting options the cell does not take."""
    if name not in CELLS:
        near = difflib.get_close_matches(name, CELLS, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"unknown cell {name!r}{hint}; choose one of {sorted(CELLS)}")
    factory = CELLS[name]
    accepted = inspect.signature(factory).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    unknown = [] if takes_any else [k for k in options if k not in accepted]
    if unknown:
        allowed = [k for k in accepted if k not in ("input_size", "hidden_size")]
        raise ValueError(f"cell {name!r} does not take {unknown}; it takes {allowed}")
    return factory(input_size, hidden_size, **options)


register_cell("rnn", RNNCell)
register_cell("rnn_relu", functools.partial(RNNCell, nonlinearity="relu"))
register_cell("lstm", LSTMCell)
register_cell("gru", GRUCell)
register_cell("lnlstm", LayerNormLSTMCell)
register_cell("lngru", LayerNormGRUCell)
register_cell("mingru", MinGRUCell)
register_cell("minlstm", MinLSTMCell)

__all__ = [
    "CELLS", "INITS", "Cell", "GRUCell", "Gate", "GatedCell", "LSTMCell", "LayerNormGRUCell",
    "LayerNormLSTMCell", "MinGRUCell", "MinLSTMCell", "RNNCell", "State",
    "init_recurrent_weights", "make_cell", "register_cell",
]
