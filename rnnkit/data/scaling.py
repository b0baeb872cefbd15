"""Scaling a series' values for a model, fitted on the training range only."""

from __future__ import annotations

import numpy as np


class Scaler:
    """``standard`` (z-score), ``minmax`` (to [0, 1]), ``log`` (log1p, then z-score) or
    ``none``; fitted on the training range only. Fitted on values (N,) its statistics are
    numbers; on (N, K) one per column (arrays (K,), applied along the last axis)."""

    KINDS = ("standard", "minmax", "log", "none")

    def __init__(self, kind: str = "standard", a=0.0, b=1.0):
        if kind not in self.KINDS:
            raise ValueError(f"scaler must be one of {self.KINDS}, got {kind!r}")
        self.kind, self.a, self.b = kind, a, b  # y = (f(x) - a) / b

    def fit(self, x: np.ndarray) -> Scaler:
        if self.kind == "log" and (x <= -1).any():
            raise ValueError(f"the log scaler (log1p) needs values > -1, and the smallest is "
                             f"{np.min(x):g}; use the 'standard' scaler for such a series")
        fx = self._f(x)
        if fx.ndim > 1:  # one scale per column
            if self.kind == "minmax":
                self.a, b = fx.min(0), fx.max(0) - fx.min(0)
            elif self.kind in ("standard", "log"):
                self.a, b = fx.mean(0), fx.std(0)
            else:
                self.a, b = np.zeros(fx.shape[1]), np.ones(fx.shape[1])
            self.b = np.where(b == 0, 1.0, b)
        elif self.kind == "minmax":
            self.a, self.b = float(fx.min()), float(fx.max() - fx.min()) or 1.0
        elif self.kind in ("standard", "log"):
            self.a, self.b = float(fx.mean()), float(fx.std()) or 1.0
        return self

    def _f(self, x):
        return np.log1p(x) if self.kind == "log" else np.asarray(x, dtype=np.float64)

    def transform(self, x):
        return (self._f(x) - self.a) / self.b

    def inverse(self, y):
        fx = np.asarray(y) * self.b + self.a
        return np.expm1(fx) if self.kind == "log" else fx

    def scale_only(self, dy):
        """A spread (std, interval half-width) back in original units (not for ``log``)."""
        return np.asarray(dy) * self.b

    def to_dict(self) -> dict:
        def plain(v):
            return [float(x) for x in v] if np.ndim(v) else float(v)

        return {"kind": self.kind, "a": plain(self.a), "b": plain(self.b)}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        def array(v):
            return np.asarray(v, dtype=np.float64) if isinstance(v, list) else v

        return cls(d["kind"], array(d["a"]), array(d["b"]))
