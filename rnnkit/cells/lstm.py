"""Long short-term memory cell."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Gate, GatedCell


def lstm_gates(pre: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The activated gates ``(σ(i), σ(f), tanh(g), σ(o))`` (..., H) each from the summed
    pre-activations (..., 4H), gate order i, f, g, o (shared with the layer-norm LSTM)."""
    i, f, g, o = pre.chunk(4, dim=-1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)


def lstm_gate_activations(i, f, g, o, tanh_c) -> dict[str, Gate]:
    return {"input": Gate("sigmoid", i), "forget": Gate("sigmoid", f),
            "candidate": Gate("tanh", g), "output": Gate("sigmoid", o),
            "cell": Gate("tanh", tanh_c)}


class LSTMCell(GatedCell):
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

    Initialisation: :func:`~rnnkit.cells.base.init_recurrent_weights`, then ``weight_hr``,
    then the forget-gate block of ``bias_ih`` is set to ``forget_bias`` and that of
    ``bias_hh`` to 0 when ``forget_bias`` is given (Jozefowicz et al. 2015 recommend 1).
    Gate statistics: ``input``, ``forget``, ``output`` (sigmoid), ``candidate`` = g and
    ``cell`` = tanh(c_t) (tanh).
    """

    blocks = 4

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
        real_h = proj_size if proj_size > 0 else hidden_size
        super().__init__(input_size, hidden_size, bias, init=init, recurrent_size=real_h)
        self.proj_size, self.forget_bias = proj_size, forget_bias
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
        super().reset_parameters()
        if self.weight_hr is not None:
            if self.init == "torch":  # torch.nn: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))
                bound = self.hidden_size**-0.5
                nn.init.uniform_(self.weight_hr, -bound, bound)
            else:
                nn.init.xavier_uniform_(self.weight_hr)
        set_forget_bias(self.bias_ih, self.bias_hh, self.hidden_size, self.forget_bias)

    def recurrence(self, gx: Tensor, state, recurrent_mask: Tensor | None = None):
        h, c = state
        i, f, g, o = lstm_gates(gx + self.recurrent_term(h, recurrent_mask))  # (B, H) each
        c_new = f * c + i * g  # (B, H)
        h_new = o * torch.tanh(c_new)
        if self.weight_hr is not None:
            h_new = nn.functional.linear(h_new, self.weight_hr)  # (B, P)
        return h_new, (h_new, c_new)

    def gate_activations(self, gx: Tensor, state) -> dict[str, Gate]:
        h, c = state
        i, f, g, o = lstm_gates(gx + self.recurrent_term(h))
        return lstm_gate_activations(i, f, g, o, torch.tanh(f * c + i * g))

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
