"""GRU with backpropagation through time written out by hand (NumPy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Forward, Grads, ReferenceRNN, sigmoid


@dataclass
class GRUForward(Forward):
    gates: np.ndarray  # (T, 3H) activated gates [r | z | n]
    hn: np.ndarray  # (T, H) W_hn h_{t-1} + b_hn, the part that r_t scales


class GRU(ReferenceRNN):
    r"""GRU (torch.nn.GRUCell's formulation) with a softmax output at every step.

    Forward, for t = 1 … T, with h_0 = ``h0`` (zeros by default); the input and hidden
    pre-activations are kept apart because r_t scales only the hidden one::

        gi_t = W_ih x_t + b_ih,   gh_t = W_hh h_{t-1} + b_hh     (3H,) as [_r | _z | _n]
        r_t = σ(gi_r + gh_r),     z_t = σ(gi_z + gh_z)
        n_t = tanh(gi_n + r_t ⊙ gh_n)
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
        ŷ_t = softmax(V h_t + c),   L = Σ_t -log ŷ_t[y_t]

    Backward (BPTT), from t = T down to 1, with the carry from step T+1 zero::

        dh_t = Vᵀ (ŷ_t - onehot(y_t)) + z_{t+1} ⊙ dh_{t+1} + W_hhᵀ δh_{t+1}   total dL/dh_t
        δn = dh_t ⊙ (1 - z_t) ⊙ (1 - n_t²)                  dL/d(gi_n + r_t ⊙ gh_n)
        δr = δn ⊙ gh_n ⊙ r_t(1 - r_t),   δz = dh_t ⊙ (h_{t-1} - n_t) ⊙ z_t(1 - z_t)
        δi_t = [δr | δz | δn]            dL/dgi_t,  (3H,)
        δh_t = [δr | δz | δn ⊙ r_t]      dL/dgh_t,  (3H,)
        dW_ih = Σ_t δi_t x_tᵀ, db_ih = Σ_t δi_t, dW_hh = Σ_t δh_t h_{t-1}ᵀ, db_hh = Σ_t δh_t

    Shapes: ``W_ih`` (3H, I), ``W_hh`` (3H, H), ``b_ih`` (3H,), ``b_hh`` (3H,), ``V`` (O, H),
    ``c`` (O,); gate rows in torch's order r, z, n, so the four arrays copy straight into
    ``torch.nn.GRUCell``. Like torch (and unlike Cho et al. 2014, who apply r_t to h_{t-1}
    before W_hn), r_t multiplies W_hn h_{t-1} + b_hn. Initialisation U(-1/√H, 1/√H).
    """

    def _shapes(self) -> dict[str, tuple[int, ...]]:
        I, H, O = self.input_size, self.hidden_size, self.output_size
        return {
            "W_ih": (3 * H, I),
            "W_hh": (3 * H, H),
            "b_ih": (3 * H,),
            "b_hh": (3 * H,),
            "V": (O, H),
            "c": (O,),
        }

    def forward(self, xs, h0=None) -> GRUForward:
        """Run the recurrence over ``xs`` (T, I); returns hs (T, H) and logits (T, O)."""
        xs = self._check_xs(xs)  # (T, I)
        h0 = self._check_state(h0, "h0")  # (H,)
        T, H = len(xs), self.hidden_size
        hs, gates, hns = np.empty((T, H)), np.empty((T, 3 * H)), np.empty((T, H))
        h = h0
        for t, x in enumerate(xs):
            gi = self.W_ih @ x + self.b_ih  # (3H,)
            gh = self.W_hh @ h + self.b_hh  # (3H,)
            r = sigmoid(gi[:H] + gh[:H])  # (H,)
            z = sigmoid(gi[H : 2 * H] + gh[H : 2 * H])  # (H,)
            n = np.tanh(gi[2 * H :] + r * gh[2 * H :])  # (H,)
            h = (1.0 - z) * n + z * h  # (H,)
            hs[t], gates[t], hns[t] = h, np.concatenate([r, z, n]), gh[2 * H :]
        return GRUForward(xs=xs, h0=h0, hs=hs, logits=self._logits(hs), gates=gates, hn=hns)

    def _backward_through_time(
        self, fwd: GRUForward, dhs_out: np.ndarray
    ) -> tuple[Grads, np.ndarray]:
        T, H = fwd.hs.shape
        hs_prev = fwd.hs_prev  # (T, H)
        dhs = np.empty((T, H))  # total dL/dh_t
        d_gi = np.empty((T, 3 * H))  # δi_t = dL/dgi_t
        d_gh = np.empty((T, 3 * H))  # δh_t = dL/dgh_t
        dh_carry = np.zeros(H)  # z_{t+1} ⊙ dh_{t+1} + W_hhᵀ δh_{t+1}
        for t in reversed(range(T)):
            r, z, n = np.split(fwd.gates[t], 3)  # (H,) each
            dhs[t] = dhs_out[t] + dh_carry  # (H,)
            dn = dhs[t] * (1.0 - z) * (1.0 - n**2)  # (H,)
            dr = dn * fwd.hn[t] * r * (1.0 - r)  # (H,)
            dz = dhs[t] * (hs_prev[t] - n) * z * (1.0 - z)  # (H,)
            d_gi[t] = np.concatenate([dr, dz, dn])
            d_gh[t] = np.concatenate([dr, dz, dn * r])
            dh_carry = z * dhs[t] + self.W_hh.T @ d_gh[t]  # (H,)
        grads = {
            "W_ih": d_gi.T @ fwd.xs,  # (3H, I)
            "W_hh": d_gh.T @ hs_prev,  # (3H, H)
            "b_ih": d_gi.sum(axis=0),  # (3H,)
            "b_hh": d_gh.sum(axis=0),  # (3H,)
        }
        return grads, dhs
