"""Gate saturation: how many gate units sit on the flat parts of their nonlinearity.

A sigmoid unit is saturated when its value is < 0.05 or > 0.95, a tanh unit when
``|value| > 0.95``; there the derivative is below ~0.1 and little gradient passes. Gates are
recomputed without gradient from what one pass of the loop saw (the projected inputs and the
state each step read) by the cell's own :meth:`~rnnkit.cells.base.Cell.gate_activations`,
which names its gates and says which are sigmoid and which tanh; each cell's docstring lists
them (e.g. the LSTMs' ``input``, ``forget``, ``output``, ``candidate``, ``cell``; the GRUs'
``reset``, ``update``, ``candidate``; minGRU's ``update``). A cell that reports no gates
(the ReLU RNN, a custom cell keeping the default) gets nothing.

Every cell with gates also gets the two totals ``sigmoid`` and ``tanh`` over its gates of
that kind. Recurrent dropout masks are not applied in the recomputation. Steps past a
sequence's length are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..cells.base import Cell, Gate

SIGMOID_LOW, SIGMOID_HIGH, TANH_LIMIT = 0.05, 0.95, 0.95


@dataclass
class Saturation:
    """Saturated and total unit counts per gate; add two to pool them."""

    saturated: dict[str, float] = field(default_factory=dict)
    total: dict[str, float] = field(default_factory=dict)

    def __add__(self, other: Saturation) -> Saturation:
        out = Saturation(dict(self.saturated), dict(self.total))
        for k in other.total:
            out.saturated[k] = out.saturated.get(k, 0.0) + other.saturated[k]
            out.total[k] = out.total.get(k, 0.0) + other.total[k]
        return out

    def fractions(self) -> dict[str, float]:
        return {k: self.saturated[k] / self.total[k] for k in self.total if self.total[k]}


def states_read(trace):
    """The state each step read, stacked over the steps: parts (T, B, size), in the
    structure of the cell's state (a tensor or a tuple)."""
    first = trace[0][0]
    if isinstance(first, tuple):
        return tuple(torch.stack([s[0][k] for s in trace]).detach() for k in range(len(first)))
    return torch.stack([s[0] for s in trace]).detach()


def gate_values(cell: Cell, inputs: Tensor, trace) -> dict[str, Gate]:
    """``gate name -> Gate(kind, values (T, B, H))`` for one pass: the cell's
    :meth:`~rnnkit.cells.base.Cell.gate_activations` of all steps at once."""
    if not trace:
        return {}
    return cell.gate_activations(inputs.detach(), states_read(trace))


@torch.no_grad()
def gate_saturation(cell: Cell, inputs: Tensor, trace, lengths: Tensor | None = None) -> Saturation:
    """Saturation counts of one pass of ``cell`` over ``inputs`` (T, B, G) whose per-step
    (state in, state out) pairs are ``trace`` (as :func:`rnnkit.layers.loop.run_direction`
    reports them), counting only steps t < ``lengths``."""
    gates = gate_values(cell, inputs, trace)
    result = Saturation()
    if not gates:
        return result
    T, B = inputs.shape[:2]
    valid = torch.ones(T, B, 1, dtype=torch.bool, device=inputs.device)
    if lengths is not None:
        steps = torch.arange(T, device=inputs.device).unsqueeze(1)
        valid = (steps < lengths.to(inputs.device).unsqueeze(0)).unsqueeze(-1)  # (T, B, 1)
    for name, (kind, values) in gates.items():  # values (T, B, H)
        if kind == "sigmoid":
            flat = (values < SIGMOID_LOW) | (values > SIGMOID_HIGH)
        else:
            flat = values.abs() > TANH_LIMIT
        count = float((flat & valid).sum())
        total = float(valid.sum()) * values.shape[-1]
        for key in (name, kind):
            result.saturated[key] = result.saturated.get(key, 0.0) + count
            result.total[key] = result.total.get(key, 0.0) + total
    return result
