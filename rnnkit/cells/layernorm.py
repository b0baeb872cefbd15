"""Layer-normalised LSTM and GRU cells (Ba, Kiros & Hinton 2016, "Layer Normalization")."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Gate, GatedCell
from .gru import gru_gate_activations, gru_gates
from .lstm import lstm_gate_activations, lstm_gates, set_forget_bias


def block_layer_norm(x: Tensor, gain: Tensor, blocks: int, eps: float) -> Tensor:
    """Layer norm of each of ``blocks`` equal gate blocks of the last dim separately.

    x (..., G*H) -> (..., G*H); ``gain`` (G*H,) is the per-unit gain (the shift is the
    cell's ordinary bias, added by the caller).
    """
    shape = x.shape
    xb = x.reshape(*shape[:-1], blocks, shape[-1] // blocks)  # (..., G, H)
    xb = nn.functional.layer_norm(xb, xb.shape[-1:], eps=eps)
    return xb.reshape(shape) * gain


class _LayerNormCell(GatedCell):
    """Shared set-up: the plain cell's weights and biases (torch's names), then gains."""

    def __init__(self, input_size, hidden_size, bias, *, init, eps):
        super().__init__(input_size, hidden_size, bias, init=init)
        self.eps = eps
        g = self.blocks * hidden_size
        self.ln_ih_weight = nn.Parameter(torch.ones(g))
        self.ln_hh_weight = nn.Parameter(torch.ones(g))

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for name, p in self.named_parameters(recurse=False):
            if name.startswith("ln_"):
                nn.init.ones_(p) if name.endswith("weight") else nn.init.zeros_(p)

    def input_projection(self, x: Tensor) -> Tensor:
        """``LN(W_ih x) + b_ih`` per gate block, any leading shape: (..., I) -> (..., G*H)."""
        gx = block_layer_norm(
            nn.functional.linear(x, self.weight_ih), self.ln_ih_weight, self.blocks, self.eps
        )
        return gx if self.bias_ih is None else gx + self.bias_ih

    def recurrent_term(self, h: Tensor, recurrent_mask: Tensor | None = None) -> Tensor:
        """``LN(W_hh (m ⊙ h)) + b_hh`` per gate block: (..., H) -> (..., G*H)."""
        h_in = h if recurrent_mask is None else h * recurrent_mask
        gh = block_layer_norm(
            nn.functional.linear(h_in, self.weight_hh), self.ln_hh_weight, self.blocks, self.eps
        )  # (B, G*H)
        return gh if self.bias_hh is None else gh + self.bias_hh


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
    as for :class:`LSTMCell` (including ``forget_bias``). Gate statistics as for
    :class:`LSTMCell`, with ``cell`` = tanh(LN_c(c_t)).
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

    def _tanh_norm_c(self, c: Tensor) -> Tensor:
        """``tanh(LN_c(c))`` (..., H)."""
        return torch.tanh(nn.functional.layer_norm(
            c, (self.hidden_size,), self.ln_c_weight, self.ln_c_bias, self.eps
        ))

    def recurrence(self, gx: Tensor, state, recurrent_mask: Tensor | None = None):
        h, c = state
        i, f, g, o = lstm_gates(gx + self.recurrent_term(h, recurrent_mask))  # (B, H) each
        c_new = f * c + i * g  # (B, H)
        h_new = o * self._tanh_norm_c(c_new)
        return h_new, (h_new, c_new)

    def gate_activations(self, gx: Tensor, state) -> dict[str, Gate]:
        h, c = state
        i, f, g, o = lstm_gates(gx + self.recurrent_term(h))
        return lstm_gate_activations(i, f, g, o, self._tanh_norm_c(f * c + i * g))


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
    ``ln_hh_weight`` (3H,) start at 1. Gate statistics as for :class:`GRUCell`.
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
        r, z, n = gru_gates(gx, self.recurrent_term(h, recurrent_mask))  # (B, H) each
        h_new = n + z * (h - n)
        return h_new, h_new

    def gate_activations(self, gx: Tensor, h: Tensor) -> dict[str, Gate]:
        return gru_gate_activations(*gru_gates(gx, self.recurrent_term(h)))
