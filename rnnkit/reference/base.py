"""What the three reference RNNs share: parameters, checks and the softmax output layer.

Every model maps a sequence ``xs`` (T, I) to hidden states ``hs`` (T, H) with its own
recurrence, then scores every step with the same output layer::

    o_t = V h_t + c                       logits,        (O,)
    ŷ_t = softmax(o_t)                    probabilities, (O,)
    L   = Σ_t -log ŷ_t[y_t]               summed cross-entropy

Its backward pass gives each step's *direct* gradient, the part of dL/dh_t that does not
go through the recurrence::

    δo_t = ŷ_t - onehot(y_t)              (O,)
    dV = Σ_t δo_t h_tᵀ,  dc = Σ_t δo_t,   ∂L_t/∂h_t = Vᵀ δo_t

A model subclass lists its parameter shapes in ``_shapes``, writes ``forward`` (one loop
over t) and ``_backward_through_time`` (the same loop run backwards), and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Grads = dict[str, np.ndarray]


def sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a) = 1 / (1 + e^{-a}), written via tanh so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


@dataclass
class Forward:
    """Everything a forward pass computed, kept for the backward pass."""

    xs: np.ndarray  # (T, I) inputs, float64
    h0: np.ndarray  # (H,) initial hidden state
    hs: np.ndarray  # (T, H) hidden states h_1 … h_T
    logits: np.ndarray  # (T, O) o_t = V h_t + c

    @property
    def hs_prev(self) -> np.ndarray:
        """h_{t-1} for every t: h0, h_1 … h_{T-1}, shape (T, H)."""
        return np.vstack([self.h0[None, :], self.hs[:-1]])

    @property
    def log_probs(self) -> np.ndarray:
        """log ŷ_t, shape (T, O), by a stable log-softmax."""
        shifted = self.logits - self.logits.max(axis=1, keepdims=True)  # (T, O)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    @property
    def probs(self) -> np.ndarray:
        """ŷ_t = softmax(o_t), shape (T, O)."""
        return np.exp(self.log_probs)


class ReferenceRNN:
    """Base class: parameters as float64 arrays, initialised U(-1/√H, 1/√H).

    ``params()`` returns the arrays themselves (not copies), so an optimiser or a
    finite-difference check can change the model in place.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, seed: int = 0):
        for name, size in [
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("output_size", output_size),
        ]:
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
                raise ValueError(f"{name} must be a positive integer, got {size!r}")
        self.input_size, self.hidden_size, self.output_size = (
            int(input_size),
            int(hidden_size),
            int(output_size),
        )
        rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(self.hidden_size)
        for name, shape in self._shapes().items():
            setattr(self, name, rng.uniform(-bound, bound, size=shape))

    def _shapes(self) -> dict[str, tuple[int, ...]]:
        """Parameter name -> shape, in the order ``params()`` and the grads use."""
        raise NotImplementedError

    def params(self) -> dict[str, np.ndarray]:
        """Parameter name -> array, by reference."""
        return {name: getattr(self, name) for name in self._shapes()}

    # --- the public passes -------------------------------------------------------------

    def forward(self, xs, h0=None) -> Forward:
        raise NotImplementedError

    def loss(self, xs, targets, h0=None, **state0) -> float:
        """L = Σ_t -log ŷ_t[y_t]; ``state0`` is extra initial state (the LSTM's ``c0``)."""
        fwd = self.forward(xs, h0, **state0)
        ys = self._check_targets(targets, len(fwd.xs))
        return float(-fwd.log_probs[np.arange(len(ys)), ys].sum())

    def loss_and_grads(self, xs, targets, h0=None, **state0) -> tuple[float, Grads]:
        """The loss and dL/dθ for every parameter θ, keyed like ``params()``."""
        loss, grads, _ = self._backward(xs, targets, h0, **state0)
        return loss, grads

    def backward_hidden(self, xs, targets, h0=None, **state0) -> np.ndarray:
        """Total dL/dh_t for every step, shape (T, H): the direct part plus all that
        flows back from later steps through the recurrence."""
        _, _, dhs = self._backward(xs, targets, h0, **state0)
        return dhs

    def _backward(self, xs, targets, h0, **state0) -> tuple[float, Grads, np.ndarray]:
        fwd = self.forward(xs, h0, **state0)
        ys = self._check_targets(targets, len(fwd.xs))
        T = len(ys)
        log_probs = fwd.log_probs  # (T, O)
        loss = float(-log_probs[np.arange(T), ys].sum())
        d_logits = np.exp(log_probs)  # (T, O) δo_t = ŷ_t - onehot(y_t)
        d_logits[np.arange(T), ys] -= 1.0
        dhs_out = d_logits @ self.V  # (T, H) ∂L_t/∂h_t
        grads, dhs = self._backward_through_time(fwd, dhs_out)
        grads["V"] = d_logits.T @ fwd.hs  # (O, H)
        grads["c"] = d_logits.sum(axis=0)  # (O,)
        return loss, {name: grads[name] for name in self._shapes()}, dhs

    def _backward_through_time(self, fwd: Forward, dhs_out: np.ndarray) -> tuple[Grads, np.ndarray]:
        """Recurrent parameters' grads and total dL/dh_t (T, H), given ∂L_t/∂h_t."""
        raise NotImplementedError

    # --- shared pieces for subclasses ----------------------------------------------------

    def _logits(self, hs: np.ndarray) -> np.ndarray:
        return hs @ self.V.T + self.c  # (T, O)

    def _check_xs(self, xs) -> np.ndarray:
        try:
            xs = np.array(xs, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"xs must be a numeric array, got {type(xs).__name__}") from err
        if xs.ndim != 2 or xs.shape[1] != self.input_size:
            raise ValueError(
                f"xs must be 2-D with shape (T, input_size={self.input_size}), got shape {xs.shape}"
            )
        if len(xs) == 0:
            raise ValueError("xs must have at least one time step (T >= 1), got T = 0")
        if not np.all(np.isfinite(xs)):
            raise ValueError("xs must be finite, got NaN or inf")
        return xs

    def _check_state(self, state, name: str) -> np.ndarray:
        if state is None:
            return np.zeros(self.hidden_size)
        state = np.array(state, dtype=np.float64)
        if state.shape != (self.hidden_size,):
            raise ValueError(
                f"{name} must have shape (hidden_size={self.hidden_size},), got shape {state.shape}"
            )
        return state

    def _check_targets(self, targets, T: int) -> np.ndarray:
        ys = np.asarray(targets)
        if ys.ndim != 1 or len(ys) != T:
            raise ValueError(f"targets must be a 1-D array of length T = {T}, got shape {ys.shape}")
        if ys.dtype == np.bool_ or not np.issubdtype(ys.dtype, np.integer):
            raise ValueError(f"targets must be integer class indices, got dtype {ys.dtype}")
        if ys.min() < 0 or ys.max() >= self.output_size:
            raise ValueError(
                f"targets must lie in [0, output_size={self.output_size}), "
                f"got values in [{ys.min()}, {ys.max()}]"
            )
        return ys.astype(np.int64)
