"""Elman RNN cell."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Gate, GatedCell

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


class RNNCell(GatedCell):
    r"""Elman cell (torch.nn.RNNCell's formulation).

    .. math::
        h_t = f(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \qquad y_t = h_t

    with ``f`` = tanh or relu (``nonlinearity``).

    Shapes: ``x_t`` (B, I), ``h`` (B, H). Parameters: ``weight_ih`` (H, I), ``weight_hh``
    (H, H), ``bias_ih`` (H,), ``bias_hh`` (H,). Initialisation: see
    :func:`~rnnkit.cells.base.init_recurrent_weights`; ``init="identity"`` with
    ``nonlinearity="relu"`` is the IRNN. Gate statistics: ``h`` (tanh) for the tanh cell;
    relu has no saturation to report.
    """

    blocks = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        *,
        init: str = "torch",
        learn_initial_state: bool = False,
    ):
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, init=init)
        self.nonlinearity = nonlinearity
        self._make_initial_state(learn_initial_state)
        self.reset_parameters()

    def recurrence(self, gx: Tensor, h: Tensor, recurrent_mask: Tensor | None = None):
        """One step given the projected input ``gx`` (B, H)."""
        h_new = NONLINEARITIES[self.nonlinearity](gx + self.recurrent_term(h, recurrent_mask))
        return h_new, h_new  # (B, H)

    def gate_activations(self, gx: Tensor, h: Tensor) -> dict[str, Gate]:
        if self.nonlinearity != "tanh":
            return {}
        return {"h": Gate("tanh", self.recurrence(gx, h)[0])}

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"
