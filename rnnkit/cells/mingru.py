"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?"), trained with a parallel scan."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .base import Cell, Gate


def g(x: Tensor) -> Tensor:
    """The paper's positive activation: ``x + 0.5`` for x >= 0, ``σ(x)`` below."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: Tensor) -> Tensor:
    """``log g(x)``, stable for any x. (The clamp keeps the unused branch finite; unlike
    relu, its gradient at x = 0 is 1, so (log g)'(0) = 2 as g'(0) = 1 in the step mode.)"""
    return torch.where(x >= 0, torch.log(x.clamp(min=0) + 0.5), -F.softplus(-x))


def linear_scan(log_a: Tensor, log_b: Tensor, h0: Tensor, chunk: int = 32) -> Tensor:
    """All ``h_t = a_t h_{t-1} + b_t`` (t = 1..T) at once, from log a (T, B, H) (finite) and
    log b (T, B, H) (-inf allowed: b = 0).

    ``h_t = A_t h0 + A_t Σ_{s<=t} b_s / A_s`` with ``A_t = Π_{s<=t} a_s``; the sum is a
    log-cum-sum-exp (Heinsen 2023, "Efficient parallelization of a ubiquitous sequential
    computation"), so nothing under- or overflows. ``h0`` (B, H) may have any sign; it is
    carried linearly, never through a log. The scan runs over chunks of ``chunk`` steps,
    carrying the state from one chunk to the next: ``log A_t`` then stays small, which keeps
    float32 results within a few 1e-6 of the sequential recurrence at any T (one scan over T=1024
    drifts to ~1e-4). Returns (T, B, H).
    """
    outs = []
    for la, lb in zip(log_a.split(chunk), log_b.split(chunk)):  # split: no zero-filled grads
        a_star = torch.cumsum(la, dim=0)  # (C, B, H): log A_t
        log_h = a_star + torch.logcumsumexp(lb - a_star, dim=0)
        h = torch.exp(log_h) + torch.exp(a_star) * h0  # (C, B, H)
        outs.append(h)
        h0 = h[-1]
    return outs[0] if len(outs) == 1 else torch.cat(outs)


def masked_scan(log_a: Tensor, log_b: Tensor, h0: Tensor, lengths: Tensor | None):
    """:func:`linear_scan` where steps past a sequence's length keep the state (a=1, b=0)
    and output zero. Returns outputs (T, B, H) and the final state (B, H)."""
    if lengths is None:
        h = linear_scan(log_a, log_b, h0)
        return h, h[-1]
    T = log_a.shape[0]
    steps = torch.arange(T, device=log_a.device).unsqueeze(1)
    valid = (steps < lengths.to(log_a.device).unsqueeze(0)).unsqueeze(-1)  # (T, B, 1)
    log_a = torch.where(valid, log_a, torch.zeros_like(log_a))
    log_b = torch.where(valid, log_b, torch.full_like(log_b, -torch.inf))
    h = linear_scan(log_a, log_b, h0)
    return h * valid, h[-1]


class MinGRUCell(Cell):
    r"""minGRU: a GRU whose gates do not look at the previous state, so the whole sequence
    is one linear recurrence computed by a parallel scan.

    .. math::
        z_t &= \sigma(W_z x_t + b_z), \qquad \tilde h_t = g(W_h x_t + b_h) \\
        h_t &= (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t, \qquad y_t = h_t

    with ``g(x) = x + 0.5`` for x >= 0 and ``σ(x)`` otherwise (the paper's log-space
    variant, keeping \tilde h > 0). ``weight`` = [W_z | W_h] (2H, I), ``bias`` (2H,),
    initialised like torch.nn.Linear. Shapes: ``x_t`` (B, I), ``h`` (B, H).

    Two modes giving the same outputs: :meth:`forward` (one step, O(1) memory, for
    generation) and :meth:`scan` (whole sequence, O(log T) depth, for training): the
    layers' loop dispatches to :meth:`scan` when it can. The scan works in log space
    (``log z = -softplus(-k)``, ``log(1 - z) = -softplus(k)``); unlike the paper, ``h0`` is
    carried linearly so an initial state of any sign (zeros by default) is exact.
    No recurrent mask (``h_{t-1}`` meets no weights). Gate statistics: ``update`` = z
    (sigmoid); \tilde h is unbounded and not reported.
    """

    supports_scan = True
    scan_kind = "mingru"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 learn_initial_state: bool = False):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.linear = nn.Linear(input_size, 2 * hidden_size, bias=bias)
        self._make_initial_state(learn_initial_state)

    def input_projection(self, x: Tensor) -> Tensor:
        """``[k_z | k_h] = W x + b`` for any leading shape: (..., I) -> (..., 2H)."""
        return self.linear(x)

    def recurrence(self, gx: Tensor, h: Tensor, recurrent_mask: Tensor | None = None):
        k_z, k_h = gx.chunk(2, dim=-1)
        h_new = torch.lerp(h, g(k_h), torch.sigmoid(k_z))  # (1 - z) h + z g(k_h)
        return h_new, h_new

    def forward(self, x_t: Tensor, state: Tensor, recurrent_mask: Tensor | None = None):
        return self.recurrence(self.input_projection(x_t), state)

    def gate_activations(self, gx: Tensor, h: Tensor) -> dict[str, Gate]:
        return {"update": Gate("sigmoid", torch.sigmoid(gx.chunk(2, dim=-1)[0]))}

    def scan(self, x: Tensor, h0: Tensor, lengths: Tensor | None = None):
        """Whole sequence x (T, B, I) from h0 (B, H) -> outputs (T, B, H), final state, by the
        log-space parallel scan. (The engine runs the compiled scan named by ``scan_kind``
        instead where it serves the tensors: :mod:`rnnkit.kernels.scan`.)
        """
        gx = self.input_projection(x)  # (T, B, 2H)
        k_z, k_h = gx.chunk(2, dim=-1)  # (T, B, H) each
        log_a = -F.softplus(k_z)  # log(1 - z)
        log_b = -F.softplus(-k_z) + log_g(k_h)  # log z + log h~
        return masked_scan(log_a, log_b, h0, lengths)
