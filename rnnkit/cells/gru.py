"""Gated recurrent unit cell."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Gate, GatedCell


def gru_gates(gx: Tensor, gh: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(r, z, n)`` (..., H) each from the input term ``gx`` and the recurrent term ``gh``
    (..., 3H), gate order r, z, n (shared with :class:`~rnnkit.cells.LayerNormGRUCell`)."""
    x_r, x_z, x_n = gx.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return r, z, n


def gru_gate_activations(r: Tensor, z: Tensor, n: Tensor) -> dict[str, Gate]:
    return {"reset": Gate("sigmoid", r), "update": Gate("sigmoid", z),
            "candidate": Gate("tanh", n)}


class GRUCell(GatedCell):
    r"""GRU cell (Cho et al. 2014) in torch.nn.GRUCell's formulation, gate order **r, z, n**.

    .. math::
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    Departure from the paper, as in torch and cuDNN: the reset gate multiplies
    ``W_hn h + b_hn`` after the product, not ``h`` before it.
    ``weight_ih`` = [W_ir | W_iz | W_in] (3H, I), ``weight_hh`` (3H, H), biases (3H,),
    initialised by :func:`~rnnkit.cells.base.init_recurrent_weights`.
    Shapes: ``x_t`` (B, I), ``h`` (B, H); ``y_t = h_t``. With a recurrent mask ``m`` the
    products use ``m ⊙ h_{t-1}`` while the interpolation keeps ``h_{t-1}`` (as Keras does).
    Gate statistics: ``reset``, ``update`` (sigmoid), ``candidate`` = n (tanh).
    """

    blocks = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        init: str = "torch",
        learn_initial_state: bool = False,
    ):
        super().__init__(input_size, hidden_size, bias, init=init)
        self._make_initial_state(learn_initial_state)
        self.reset_parameters()

    def recurrence(self, gx: Tensor, h: Tensor, recurrent_mask: Tensor | None = None):
        r, z, n = gru_gates(gx, self.recurrent_term(h, recurrent_mask))  # (B, H) each
        h_new = n + z * (h - n)  # (1 - z) * n + z * h
        return h_new, h_new

    def gate_activations(self, gx: Tensor, h: Tensor) -> dict[str, Gate]:
        return gru_gate_activations(*gru_gates(gx, self.recurrent_term(h)))
