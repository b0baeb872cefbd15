"""Elman RNN cell."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Cell, init_recurrent_weights

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


class RNNCell(Cell):
    r"""Elman cell (torch.nn.RNNCell's formulation).

    .. math::
        h_t = f(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \qquad y_t = h_t

    with ``f`` = tanh or relu (``nonlinearity``).

    Shapes: ``x_t`` (B, I), ``h`` (B, H). Parameters: ``weight_ih`` (H, I), ``weight_hh``
    (H, H), ``bias_ih`` (H,), ``bias_hh`` (H,). Initialisation: see
    :func:`~rnnkit.cells.base.init_recurrent_weights`; ``init="identity"`` with
    ``nonlinearity="relu"`` is the IRNN.
    """

    supports_recurrent_mask = True

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
        super().__init__()
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.nonlinearity, self.bias, self.init = nonlinearity, bias, init
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self._make_initial_state(learn_initial_state)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        biases = [b for b in (self.bias_ih, self.bias_hh) if b is not None]
        init_recurrent_weights(
            self.weight_ih, self.weight_hh, biases, hidden_size=self.hidden_size, init=self.init
        )

    def input_projection(self, x: Tensor) -> Tensor:
        """``W_ih x + b_ih`` for any leading shape: (..., I) -> (..., H)."""
        return nn.functional.linear(x, self.weight_ih, self.bias_ih)

    def recurrence(self, gx: Tensor, h: Tensor, recurrent_mask: Tensor | None = None):
        """One step given the projected input ``gx`` (B, H)."""
        h_in = h if recurrent_mask is None else h * recurrent_mask
        h_new = NONLINEARITIES[self.nonlinearity](
            gx + nn.functional.linear(h_in, self.weight_hh, self.bias_hh)
        )  # (B, H)
        return h_new, h_new

    def forward(self, x_t: Tensor, state: Tensor, recurrent_mask: Tensor | None = None):
        return self.recurrence(self.input_projection(x_t), state, recurrent_mask)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"
