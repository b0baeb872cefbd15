"""Check hand-written gradients against central finite differences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GradCheckResult:
    """Largest relative error |a - n| / max(|a| + |n|, tiny) per parameter and overall,
    a = analytic gradient entry, n = numerical one."""

    rel_errors: dict[str, float]  # parameter name -> max relative error over its entries
    max_rel_error: float

    def passed(self, tol: float = 1e-5) -> bool:
        return self.max_rel_error < tol


def gradient_check(
    model, xs, targets, eps: float = 1e-5, h0=None, tiny: float = 1e-12, **state0
) -> GradCheckResult:
    """Compare ``model.loss_and_grads`` with central differences for every parameter entry.

    For each entry θ_k of each array in ``model.params()``::

        n_k = (L(θ + eps e_k) - L(θ - eps e_k)) / (2 eps)

    The parameters are changed in place and restored. Cost: 2 forward passes per entry,
    so keep the model and sequence small. ``state0`` is extra initial state (LSTM's c0).
    """
    _, analytic = model.loss_and_grads(xs, targets, h0, **state0)
    rel_errors = {}
    for name, theta in model.params().items():
        numeric = np.empty_like(theta)
        for k in np.ndindex(theta.shape):
            saved = theta[k]
            theta[k] = saved + eps
            loss_plus = model.loss(xs, targets, h0, **state0)
            theta[k] = saved - eps
            loss_minus = model.loss(xs, targets, h0, **state0)
            theta[k] = saved
            numeric[k] = (loss_plus - loss_minus) / (2.0 * eps)
        a = analytic[name]
        rel = np.abs(a - numeric) / np.maximum(np.abs(a) + np.abs(numeric), tiny)
        rel_errors[name] = float(rel.max())
    return GradCheckResult(rel_errors=rel_errors, max_rel_error=max(rel_errors.values()))
