"""Gated recurrent unit cell."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Cell, init_recurrent_weights


class GRUCell(Cell):
    r"""GRU cell (Cho et al. 2014) in torch.nn.GRUCell's formulation, gate order **r, z, n**.

    .. math::
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    Departure from the paper, as in torch and cuDNN: the reset gate multiplies
    ``W_hn h + b_hn`` after the product, not ``h`` before it.
    ``weight_ih`` = [W_ir | W_iz | W_in] (3H, I), ``weight_hh`` (3H, H), biases (3H,).
    Shapes: ``x_t`` (B, I), ``h`` (B, H); ``y_t = h_t``. With a recurrent mask ``m`` the
    products use ``m ⊙ h_{t-1}`` while the interpolation keeps ``h_{t-1}`` (as Keras does).
    """

    supports_recurrent_mask = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        init: str = "torch",
        learn_initial_state: bool = False,
    ):
        super().__init__()
        self.input_size, self.hidden_size, self.bias, self.init = (
            input_size, hidden_size, bias, init,
        )
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
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
        """``W_ih x + b_ih`` for any leading shape: (..., I) -> (..., 3H)."""
        return nn.functional.linear(x, self.weight_ih, self.bias_ih)

    def recurrence(self, gx: Tensor, h: Tensor, recurrent_mask: Tensor | None = None):
        h_in = h if recurrent_mask is None else h * recurrent_mask
        gh = nn.functional.linear(h_in, self.weight_hh, self.bias_hh)  # (B, 3H)
        x_r, x_z, x_n = gx.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h_new = n + z * (h - n)  # (1 - z) * n + z * h
        return h_new, h_new

    def forward(self, x_t: Tensor, state: Tensor, recurrent_mask: Tensor | None = None):
        return self.recurrence(self.input_projection(x_t), state, recurrent_mask)
