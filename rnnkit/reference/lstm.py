"""LSTM with backpropagation through time written out by hand (NumPy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Forward, Grads, ReferenceRNN, sigmoid


@dataclass
class LSTMForward(Forward):
    c0: np.ndarray  # (H,) initial cell state
    cs: np.ndarray  # (T, H) cell states c_1 … c_T
    gates: np.ndarray  # (T, 4H) activated gates [i | f | g | o]


class LSTM(ReferenceRNN):
    r"""LSTM (torch.nn.LSTMCell's formulation) with a softmax output at every step.

    Forward, for t = 1 … T, with h_0 = ``h0`` and c_0 = ``c0`` (zeros by default)::

        a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh    (4H,) split as [a_i | a_f | a_g | a_o]
        i_t = σ(a_i),  f_t = σ(a_f),  g_t = tanh(a_g),  o_t = σ(a_o)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        h_t = o_t ⊙ tanh(c_t)
        ŷ_t = softmax(V h_t + c),   L = Σ_t -log ŷ_t[y_t]

    Backward (BPTT), from t = T down to 1, with δ_{T+1} = 0 and f_{T+1} ⊙ dc_{T+1} = 0::

        dh_t = Vᵀ (ŷ_t - onehot(y_t)) + W_hhᵀ δ_{t+1}              total dL/dh_t
        dc_t = dh_t ⊙ o_t ⊙ (1 - tanh²(c_t)) + f_{t+1} ⊙ dc_{t+1}    total dL/dc_t
        δ_t  = [dc_t ⊙ g_t ⊙ i_t(1-i_t) | dc_t ⊙ c_{t-1} ⊙ f_t(1-f_t)
                | dc_t ⊙ i_t ⊙ (1-g_t²) | dh_t ⊙ tanh(c_t) ⊙ o_t(1-o_t)]   dL/da_t, (4H,)
        dW_ih = Σ_t δ_t x_tᵀ,  dW_hh = Σ_t δ_t h_{t-1}ᵀ,  db_ih = db_hh = Σ_t δ_t

    Shapes: ``W_ih`` (4H, I), ``W_hh`` (4H, H), ``b_ih`` (4H,), ``b_hh`` (4H,), ``V`` (O, H),
    ``c`` (O,); gate rows in torch's order i, f, g, o, so the four arrays copy straight into
    ``torch.nn.LSTMCell``'s weight_ih, weight_hh, bias_ih, bias_hh. Initialisation
    U(-1/√H, 1/√H) for all, as torch does. (``c`` is the output bias; cell states are c_t.)
    """

    def _shapes(self) -> dict[str, tuple[int, ...]]:
        I, H, O = self.input_size, self.hidden_size, self.output_size
        return {
            "W_ih": (4 * H, I),
            "W_hh": (4 * H, H),
            "b_ih": (4 * H,),
            "b_hh": (4 * H,),
            "V": (O, H),
            "c": (O,),
        }

    def forward(self, xs, h0=None, c0=None) -> LSTMForward:
        """Run the recurrence over ``xs`` (T, I); returns hs, cs (T, H) and logits (T, O)."""
        xs = self._check_xs(xs)  # (T, I)
        h0, c0 = self._check_state(h0, "h0"), self._check_state(c0, "c0")  # (H,)
        T, H = len(xs), self.hidden_size
        hs, cs, gates = np.empty((T, H)), np.empty((T, H)), np.empty((T, 4 * H))
        h, c_cell = h0, c0
        for t, x in enumerate(xs):
            a = self.W_ih @ x + self.b_ih + self.W_hh @ h + self.b_hh  # (4H,)
            i, f, o = sigmoid(a[:H]), sigmoid(a[H : 2 * H]), sigmoid(a[3 * H :])  # (H,)
            g = np.tanh(a[2 * H : 3 * H])  # (H,)
            c_cell = f * c_cell + i * g  # (H,)
            h = o * np.tanh(c_cell)  # (H,)
            hs[t], cs[t], gates[t] = h, c_cell, np.concatenate([i, f, g, o])
        return LSTMForward(xs=xs, h0=h0, hs=hs, logits=self._logits(hs), c0=c0, cs=cs, gates=gates)

    def _backward_through_time(
        self, fwd: LSTMForward, dhs_out: np.ndarray
    ) -> tuple[Grads, np.ndarray]:
        T, H = fwd.hs.shape
        cs_prev = np.vstack([fwd.c0[None, :], fwd.cs[:-1]])  # (T, H) c_{t-1}
        dhs = np.empty((T, H))  # total dL/dh_t
        deltas = np.empty((T, 4 * H))  # δ_t = dL/da_t
        delta_next = np.zeros(4 * H)  # δ_{t+1}
        dc_carry = np.zeros(H)  # f_{t+1} ⊙ dc_{t+1}
        for t in reversed(range(T)):
            i, f, g, o = np.split(fwd.gates[t], 4)  # (H,) each
            tanh_c = np.tanh(fwd.cs[t])  # (H,)
            dhs[t] = dhs_out[t] + self.W_hh.T @ delta_next  # (H,)
            dc = dhs[t] * o * (1.0 - tanh_c**2) + dc_carry  # (H,)
            deltas[t] = np.concatenate(
                [
                    dc * g * i * (1.0 - i),
                    dc * cs_prev[t] * f * (1.0 - f),
                    dc * i * (1.0 - g**2),
                    dhs[t] * tanh_c * o * (1.0 - o),
                ]
            )
            delta_next, dc_carry = deltas[t], f * dc
        db = deltas.sum(axis=0)  # (4H,)
        grads = {
            "W_ih": deltas.T @ fwd.xs,  # (4H, I)
            "W_hh": deltas.T @ fwd.hs_prev,  # (4H, H)
            "b_ih": db,
            "b_hh": db.copy(),
        }
        return grads, dhs
