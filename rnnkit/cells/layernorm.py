"""Layer-normalised LSTM and GRU cells (Ba, Kiros & Hinton 2016, "Layer Normalization")."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Cell, init_recurrent_weights
from .lstm import set_forget_bias


def block_layer_norm(x: Tensor, gain: Tensor, blocks: int, eps: float) -> Tensor:
    """Layer norm of each of ``blocks`` equal gate blocks of the last dim separately.

    x (..., G*H) -> (..., G*H); ``gain`` (G*H,) is the per-unit gain (the shift is the
    cell's ordinary bias, added by the caller).
    """
    shape = x.shape
    xb = x.reshape(*shape[:-1], blocks, shape[-1] // blocks)  # (..., G, H)
    xb = nn.functional.layer_norm(xb, xb.shape[-1:], eps=eps)
    return xb.reshape(shape) * gain


class _LayerNormCell(Cell):
    """Shared set-up: the plain cell's weights and biases (torch's names), then gains."""

    supports_recurrent_mask = True
    blocks: int

    def __init__(self, input_size, hidden_size, bias, *, init, eps):
        super().__init__()
        self.input_size, self.hidden_size, self.bias, self.init, self.eps = (
            input_size, hidden_size, bias, init, eps,
        )
        g = self.blocks * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g, input_size))
        self.weight_hh = nn.Parameter(torch.empty(g, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(g))
            self.bias_hh = nn.Parameter(torch.empty(g))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.ln_ih_weight = nn.Parameter(torch.ones(g))
        self.ln_hh_weight = nn.Parameter(torch.ones(g))

    def reset_parameters(self) -> None:
        biases = [b for b in (self.bias_ih, self.bias_hh) if b is not None]
        init_recurrent_weights(
            self.weight_ih, self.weight_hh, biases, hidden_size=self.hidden_size, init=self.init
        )
        for name, p in self.named_parameters(recurse=False):
            if name.startswith("ln_"):
                nn.init.ones_(p) if name.endswith("weight") else nn.init.zeros_(p)

    def input_projection(self, x: Tensor) -> Tensor:
        """``LN(W_ih x) + b_ih`` per gate block, any leading shape: (..., I) -> (..., G*H)."""
        gx = block_layer_norm(
            nn.functional.linear(x, self.weight_ih), self.ln_ih_weight, self.blocks, self.eps
        )
        return gx if self.bias_ih is None else gx + self.bias_ih

    def _recurrent_term(self, h: Tensor, recurrent_mask: Tensor | None) -> Tensor:
        h_in = h if recurrent_mask is None else h * recurrent_mask
        gh = block_layer_norm(
            nn.functional.linear(h_in, self.weight_hh), self.ln_hh_weight, self.blocks, self.eps
        )  # (B, G*H)
        return gh if self.bias_hh is None else gh + self.bias_hh

    def forward(self, x_t: Tensor, state, recurrent_mask: Tensor | None = None):
        return self.recurrence(self.input_projection(x_t), state, recurrent_mask)


class LayerNormLSTMCell(_LayerNormCell):
    r"""LSTM with layer normalisation, the variant of Ba et al. (2016), eq. (20-22), applied
    per gate block:

    .. math::
        (i, f, g, o) &= LN_{ih}(W_{ih} x_t) + LN_{hh}(W_{hh} h_{t-1}) \\
        c_t &= \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g) \\
        h_t &= \sigma(o) \odot \tanh(LN_c(c_t))

    ``LN_ih``/``LN_hh`` normalise each of the four H-sized gate blocks separately, with gains
    ``ln_ih_weight``/``ln_hh_weight`` (4H,); their shifts are the ordinary ``bias_ih``/
    ``bias_hh`` (4H,), so the parameter names are torch.nn.LSTM's plus gains. ``LN_c`` has
    gain ``ln_c_weight`` and shift ``ln_c_bias`` (H,). Gate order i, f, g, o; ``weight_ih``
    (4H, I), ``weight_hh`` (4H, H). Gains start at 1, ``ln_c_bias`` at 0, weights and biases
    as for :class:`LSTMCell` (including ``forget_bias``).
    """

    blocks = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        init: str = "torch",
        forget_bias: float | None = None,
        eps: float = 1e-5,
        learn_initial_state: bool = False,
    ):
        super().__init__(input_size, hidden_size, bias, init=init, eps=eps)
        self.forget_bias = forget_bias
        self.ln_c_weight = nn.Parameter(torch.ones(hidden_size))
        self.ln_c_bias = nn.Parameter(torch.zeros(hidden_size))
        self._make_initial_state(learn_initial_state)
        self.reset_parameters()

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size, self.hidden_size)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        set_forget_bias(self.bias_ih, self.bias_hh, self.hidden_size, self.forget_bias)

    def recurrence(self, gx: Tensor, state, recurrent_mask: Tensor | None = None):
        h, c = state
        gates = gx + self._recurrent_term(h, recurrent_mask)  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # (B, H)
        c_norm = nn.functional.layer_norm(
            c_new, (self.hidden_size,), self.ln_c_weight, self.ln_c_bias, self.eps
        )
        h_new = torch.sigmoid(o) * torch.tanh(c_norm)
        return h_new, (h_new, c_new)


class LayerNormGRUCell(_LayerNormCell):
    r"""GRU with layer normalisation per gate block (Ba et al. 2016's recipe applied to the
    GRU in torch's formulation, gate order r, z, n):

    .. math::
        (a_r, a_z, a_n) &= LN_{ih}(W_{ih} x_t), \quad (b_r, b_z, b_n) = LN_{hh}(W_{hh} h_{t-1}) \\
        r_t &= \sigma(a_r + b_r), \quad z_t = \sigma(a_z + b_z) \\
        n_t &= \tanh(a_n + r_t \odot b_n) \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    ``weight_ih`` (3H, I), ``weight_hh`` (3H, H), ``bias_ih``/``bias_hh`` (3H,) as in
    :class:`GRUCell` (they are the normalisations' shifts); gains ``ln_ih_weight``/
    ``ln_hh_weight`` (3H,) start at 1.
    """

    blocks = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        init: str = "torch",
        eps: float = 1e-5,
        learn_initial_state: bool = False,
    ):
        super().__init__(input_size, hidden_size, bias, init=init, eps=eps)
        self._make_initial_state(learn_initial_state)
        self.reset_parameters()

    def recurrence(self, gx: Tensor, h: Tensor, recurrent_mask: Tensor | None = None):
        gh = self._recurrent_term(h, recurrent_mask)  # (B, 3H)
        x_r, x_z, x_n = gx.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h_new = n + z * (h - n)
        return h_new, h_new
