"""Helpers for recurrent states: a tensor (RNN, GRU) or a tuple of tensors (LSTM: (h, c)),
each shaped (num_layers * D, B, H) as the layers return them."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..cells import make_cell
from ..cells.base import State


def map_state(fn: Callable[[Tensor], Tensor], state: State | None) -> State | None:
    """Apply ``fn`` to every tensor of a state (None stays None)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(fn(s) for s in state)
    return fn(state)


def detach_state(state: State | None) -> State | None:
    """Cut the graph at a state (the boundary of truncated BPTT)."""
    return map_state(Tensor.detach, state)


def hidden_of(state: State) -> Tensor:
    """The hidden state ``h`` of a state (the first tensor of a tuple)."""
    return state[0] if isinstance(state, tuple) else state


def top_hidden(state: State, directions: int) -> Tensor:
    """The last layer's ``h`` with its directions concatenated: (L*D, B, H) -> (B, D*H).

    For a bidirectional layer run with lengths this is the forward direction's state at the
    last valid step next to the backward direction's state at t = 0.
    """
    h = hidden_of(state)[-directions:]  # (D, B, H)
    return torch.cat(list(h), dim=-1)  # (B, D*H)


def state_count(cell: str) -> int:
    """How many tensors a cell's state has (1: h; 2: (h, c))."""
    return len(make_cell(cell, 1, 1).state_sizes)


def pack_state(parts: list[Tensor]) -> State:
    """A list of state tensors -> the layer's state (a tensor or a tuple)."""
    return parts[0] if len(parts) == 1 else tuple(parts)
