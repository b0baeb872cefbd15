"""Gate saturation: how many gate units sit on the flat parts of their nonlinearity.

A sigmoid unit is saturated when its value is < 0.05 or > 0.95, a tanh unit when
``|value| > 0.95``; there the derivative is below ~0.1 and little gradient passes. Gates are
recomputed without gradient from what one pass of the loop saw (projected inputs, the state
each step read), for the built-in cells:

- ``RNNCell`` (tanh): ``h`` (tanh); relu has no saturation to measure;
- ``LSTMCell`` (gate order i, f, g, o): ``input``, ``forget``, ``output`` (sigmoid),
  ``candidate`` = g and ``cell`` = tanh(c_t) (tanh);
- ``GRUCell`` (gate order r, z, n): ``reset``, ``update`` (sigmoid), ``candidate`` = n (tanh).

Every cell also gets the two totals ``sigmoid`` and ``tanh`` over its gates of that kind.
Other cells report nothing. Recurrent dropout masks are not applied in the recomputation.
Steps past a sequence's length are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..cells import GRUCell, LSTMCell, RNNCell

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


def _stack(trace, index: int, part: int) -> Tensor:
    """(T, B, H): part ``part`` of the state in (index 0) or out (index 1) of every step."""
    return torch.stack([s[index][part] if isinstance(s[index], tuple) else s[index]
                        for s in trace]).detach()


def gate_values(cell, inputs: Tensor, trace) -> dict[str, tuple[str, Tensor]]:
    """``gate name -> (kind, values (T, B, H))`` with kind ``"sigmoid"`` or ``"tanh"``."""
    if isinstance(cell, RNNCell):
        return {"h": ("tanh", _stack(trace, 1, 0))} if cell.nonlinearity == "tanh" else {}
    if isinstance(cell, LSTMCell):
        h_prev = _stack(trace, 0, 0)
        pre = inputs.detach() + nn.functional.linear(h_prev, cell.weight_hh, cell.bias_hh)
        i, f, g, o = pre.chunk(4, dim=-1)  # (T, B, H) each
        return {"input": ("sigmoid", torch.sigmoid(i)), "forget": ("sigmoid", torch.sigmoid(f)),
                "candidate": ("tanh", torch.tanh(g)), "output": ("sigmoid", torch.sigmoid(o)),
                "cell": ("tanh", torch.tanh(_stack(trace, 1, 1)))}
    if isinstance(cell, GRUCell):
        h_prev = _stack(trace, 0, 0)
        gh = nn.functional.linear(h_prev, cell.weight_hh, cell.bias_hh)  # (T, B, 3H)
        x_r, x_z, x_n = inputs.detach().chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        return {"reset": ("sigmoid", r), "update": ("sigmoid", torch.sigmoid(x_z + h_z)),
                "candidate": ("tanh", torch.tanh(x_n + r * h_n))}
    return {}


@torch.no_grad()
def gate_saturation(cell, inputs: Tensor, trace, lengths: Tensor | None = None) -> Saturation:
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
    for name, (kind, values) in gates.items():
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
