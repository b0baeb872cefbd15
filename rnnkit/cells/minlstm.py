"""minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"), trained with a parallel scan."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .base import Cell, Gate
from .mingru import g, log_g, masked_scan


class MinLSTMCell(Cell):
    r"""minLSTM: forget and input gates from the input only, normalised to sum to one, so
    the sequence is one linear recurrence computed by a parallel scan.

    .. math::
        f_t &= \sigma(W_f x_t + b_f), \quad i_t = \sigma(W_i x_t + b_i), \quad
        \tilde h_t = g(W_h x_t + b_h) \\
        f'_t &= \frac{f_t}{f_t + i_t}, \quad i'_t = \frac{i_t}{f_t + i_t} \\
        h_t &= f'_t \odot h_{t-1} + i'_t \odot \tilde h_t, \qquad y_t = h_t

    ``g`` as in :class:`~rnnkit.cells.mingru.MinGRUCell`. ``weight`` = [W_f | W_i | W_h]
    (3H, I), ``bias`` (3H,), initialised like torch.nn.Linear. The state is ``h`` alone
    (B, H), as in the paper (the cell state of the LSTM is dropped).

    :meth:`forward` is one step (O(1) memory); :meth:`scan` runs the whole sequence in log
    space: with ``δ = softplus(-k_f) - softplus(-k_i)``, ``log f' = -softplus(δ)`` and
    ``log i' = -softplus(-δ)``. ``h0`` is carried linearly (any sign, zeros by default).
    No recurrent mask (``h_{t-1}`` meets no weights). Gate statistics: ``forget`` = f and
    ``input`` = i (sigmoid, before normalisation).
    """

    supports_scan = True
    scan_kind = "minlstm"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 learn_initial_state: bool = False):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.linear = nn.Linear(input_size, 3 * hidden_size, bias=bias)
        self._make_initial_state(learn_initial_state)

    def input_projection(self, x: Tensor) -> Tensor:
        """``[k_f | k_i | k_h] = W x + b`` for any leading shape: (..., I) -> (..., 3H)."""
        return self.linear(x)

    def recurrence(self, gx: Tensor, h: Tensor, recurrent_mask: Tensor | None = None):
        k_f, k_i, k_h = gx.chunk(3, dim=-1)
        f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
        h_new = (f * h + i * g(k_h)) / (f + i)  # (B, H)
        return h_new, h_new

    def forward(self, x_t: Tensor, state: Tensor, recurrent_mask: Tensor | None = None):
        return self.recurrence(self.input_projection(x_t), state)

    def gate_activations(self, gx: Tensor, h: Tensor) -> dict[str, Gate]:
        k_f, k_i, _ = gx.chunk(3, dim=-1)
        return {"forget": Gate("sigmoid", torch.sigmoid(k_f)),
                "input": Gate("sigmoid", torch.sigmoid(k_i))}

    def scan(self, x: Tensor, h0: Tensor, lengths: Tensor | None = None):
        """Whole sequence x (T, B, I) from h0 (B, H) -> outputs (T, B, H), final state, by the
        log-space parallel scan. (The engine runs the compiled scan named by ``scan_kind``
        instead where it serves the tensors: :mod:`rnnkit.kernels.scan`.)
        """
        gx = self.input_projection(x)  # (T, B, 3H)
        k_f, k_i, k_h = gx.chunk(3, dim=-1)  # (T, B, H) each
        delta = F.softplus(-k_f) - F.softplus(-k_i)  # log i - log f
        log_a = -F.softplus(delta)  # log f'
        log_b = -F.softplus(-delta) + log_g(k_h)  # log i' + log h~
        return masked_scan(log_a, log_b, h0, lengths)
