"""Elman RNN with backpropagation through time written out by hand (NumPy only)."""

from __future__ import annotations

import numpy as np

from .base import Forward, Grads, ReferenceRNN


class ElmanRNN(ReferenceRNN):
    r"""Elman ("vanilla") RNN with a softmax output at every step.

    Forward, for t = 1 … T, with h_0 = ``h0`` (zeros by default)::

        a_t = U x_t + W h_{t-1} + b           (H,)
        h_t = tanh(a_t)                        (H,)
        ŷ_t = softmax(V h_t + c)               (O,)
        L   = Σ_t -log ŷ_t[y_t]

    Backward (BPTT), from t = T down to 1, with δ_{T+1} = 0::

        dh_t = Vᵀ (ŷ_t - onehot(y_t)) + Wᵀ δ_{t+1}     total dL/dh_t
        δ_t  = dh_t ⊙ (1 - h_t²)                        dL/da_t
        dU = Σ_t δ_t x_tᵀ,  dW = Σ_t δ_t h_{t-1}ᵀ,  db = Σ_t δ_t

    Shapes: I = ``input_size``, H = ``hidden_size``, O = ``output_size``;
    ``U`` (H, I), ``W`` (H, H), ``b`` (H,), ``V`` (O, H), ``c`` (O,).
    All are drawn from U(-1/√H, 1/√H) with ``np.random.default_rng(seed)``.
    Equals ``torch.nn.RNNCell(I, H)`` with weight_ih = U, weight_hh = W, bias_ih = b and
    bias_hh = 0 (torch keeps two biases; one is enough).
    """

    def _shapes(self) -> dict[str, tuple[int, ...]]:
        I, H, O = self.input_size, self.hidden_size, self.output_size
        return {"U": (H, I), "W": (H, H), "b": (H,), "V": (O, H), "c": (O,)}

    def forward(self, xs, h0=None) -> Forward:
        """Run the recurrence over ``xs`` (T, I); returns hs (T, H) and logits/probs (T, O)."""
        xs = self._check_xs(xs)  # (T, I)
        h0 = self._check_state(h0, "h0")  # (H,)
        hs = np.empty((len(xs), self.hidden_size))  # (T, H)
        h = h0
        for t, x in enumerate(xs):
            h = np.tanh(self.U @ x + self.W @ h + self.b)  # (H,)
            hs[t] = h
        return Forward(xs=xs, h0=h0, hs=hs, logits=self._logits(hs))

    def _backward_through_time(self, fwd: Forward, dhs_out: np.ndarray) -> tuple[Grads, np.ndarray]:
        T, H = fwd.hs.shape
        dhs = np.empty((T, H))  # total dL/dh_t
        deltas = np.empty((T, H))  # δ_t = dL/da_t
        delta_next = np.zeros(H)  # δ_{t+1}
        for t in reversed(range(T)):
            dhs[t] = dhs_out[t] + self.W.T @ delta_next  # (H,)
            deltas[t] = dhs[t] * (1.0 - fwd.hs[t] ** 2)  # (H,)
            delta_next = deltas[t]
        grads = {
            "U": deltas.T @ fwd.xs,  # (H, I)
            "W": deltas.T @ fwd.hs_prev,  # (H, H)
            "b": deltas.sum(axis=0),  # (H,)
        }
        return grads, dhs
