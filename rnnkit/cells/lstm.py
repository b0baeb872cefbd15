"""Long short-term memory cell."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Cell, init_recurrent_weights


class LSTMCell(Cell):
    r"""LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000),
    in torch.nn.LSTMCell's formulation and gate order **i, f, g, o**.

    .. math::
        i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t &= W_{hr}\,(o_t \odot \tanh(c_t)) \quad (\text{without } W_{hr} \text{ if proj\_size}=0)

    ``weight_ih`` = [W_ii | W_if | W_ig | W_io] (4H, I), ``weight_hh`` (4H, P),
    ``bias_ih``/``bias_hh`` (4H,), ``weight_hr`` (P, H) when ``proj_size`` = P > 0 (Sak et al.
    2014), else P = H. State ``(h, c)``: h (B, P), c (B, H); ``y_t = h_t``.

    Initialisation: :func:`~rnnkit.cells.base.init_recurrent_weights`, then the forget-gate
    block of ``bias_ih`` is set to ``forget_bias`` and that of ``bias_hh`` to 0 when
    ``forget_bias`` is given (Jozefowicz et al. 2015 recommend 1).
    """

    supports_recurrent_mask = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        proj_size: int = 0,
        init: str = "torch",
        forget_bias: float | None = None,
        learn_initial_state: bool = False,
    ):
        super().__init__()
        self.input_size, self.hidden_size, self.proj_size = input_size, hidden_size, proj_size
        self.bias, self.init, self.forget_bias = bias, init, forget_bias
        real_h = proj_size if proj_size > 0 else hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, real_h))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if proj_size > 0:
            self.weight_hr = nn.Parameter(torch.empty(proj_size, hidden_size))
        else:
            self.register_parameter("weight_hr", None)
        self._make_initial_state(learn_initial_state)
        self.reset_parameters()

    @property
    def output_size(self) -> int:
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.output_size, self.hidden_size)

    def reset_parameters(self) -> None:
        biases = [b for b in (self.bias_ih, self.bias_hh) if b is not None]
        init_recurrent_weights(
            self.weight_ih, self.weight_hh, biases, hidden_size=self.hidden_size, init=self.init
        )
        if self.weight_hr is not None:
            if self.init == "torch":  # torch.nn: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))
                bound = self.hidden_size**-0.5
                nn.init.uniform_(self.weight_hr, -bound, bound)
            else:
                nn.init.xavier_uniform_(self.weight_hr)
        set_forget_bias(self.bias_ih, self.bias_hh, self.hidden_size, self.forget_bias)

    def input_projection(self, x: Tensor) -> Tensor:
        """``W_ih x + b_ih`` for any leading shape: (..., I) -> (..., 4H)."""
        return nn.functional.linear(x, self.weight_ih, self.bias_ih)

    def recurrence(self, gx: Tensor, state, recurrent_mask: Tensor | None = None):
        h, c = state
        h_in = h if recurrent_mask is None else h * recurrent_mask
        gates = gx + nn.functional.linear(h_in, self.weight_hh, self.bias_hh)  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # (B, H)
        h_new = torch.sigmoid(o) * torch.tanh(c_new)
        if self.weight_hr is not None:
            h_new = nn.functional.linear(h_new, self.weight_hr)  # (B, P)
        return h_new, (h_new, c_new)

    def forward(self, x_t: Tensor, state, recurrent_mask: Tensor | None = None):
        return self.recurrence(self.input_projection(x_t), state, recurrent_mask)

    def extra_repr(self) -> str:
        proj = f", proj_size={self.proj_size}" if self.proj_size else ""
        return f"{self.input_size}, {self.hidden_size}{proj}"


def set_forget_bias(bias_ih, bias_hh, hidden_size: int, forget_bias: float | None) -> None:
    """Put ``forget_bias`` in the forget block (the 2nd of i, f, g, o) of the summed bias."""
    if forget_bias is None or bias_ih is None:
        return
    with torch.no_grad():
        bias_ih[hidden_size : 2 * hidden_size].fill_(forget_bias)
        bias_hh[hidden_size : 2 * hidden_size].zero_()
