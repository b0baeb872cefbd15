"""Prediction intervals from a forecaster's output: the median and the 80% and 95% bounds,
in the model's (scaled) units, with an optional conformal widening measured on validation.

A quantile head is trained at :data:`LEVELS`; a Gaussian head gives ``mean +- z * std``.
Quantiles are sorted before use (an under-trained head can cross them), and the point
forecast is the median of the sorted ones, so every interval contains its point and the
95% one the 80% one. Widening factors (:func:`bounded`) lie in [0, :data:`MAX_FACTOR`].
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

LEVELS = (0.025, 0.1, 0.5, 0.9, 0.975)
COVERAGES = (80, 95)
# The most an interval is widened by calibration. A model whose intervals a backtest has
# to stretch further than this has not learnt its spread (under-trained, or quantiles that
# collapse); without a bound a half-width near 0 on the backtest makes the factor, and the
# test intervals, explode (1e12 seen).
MAX_FACTOR = 100.0
_Z = {80: 1.2815515655446004, 95: 1.959963984540054}
_Q = {80: (0.1, 0.9), 95: (0.025, 0.975)}


@dataclass
class Bands:
    """``point`` (N, H) and, per coverage c in (80, 95), ``lower[c]``/``upper[c]`` (N, H)."""

    point: np.ndarray
    lower: dict[int, np.ndarray]
    upper: dict[int, np.ndarray]

    def widened(self, factors: dict[int, float]) -> Bands:
        """Each bound moved away from the point by its factor (1 = unchanged)."""
        lo = {c: self.point - factors.get(c, 1.0) * (self.point - self.lower[c])
              for c in COVERAGES}
        hi = {c: self.point + factors.get(c, 1.0) * (self.upper[c] - self.point)
              for c in COVERAGES}
        return Bands(self.point, lo, hi)

    def map(self, fn) -> Bands:
        """Apply an increasing map (e.g. back to original units) to every array."""
        return Bands(fn(self.point), {c: fn(v) for c, v in self.lower.items()},
                     {c: fn(v) for c, v in self.upper.items()})

    def std(self) -> np.ndarray:
        """A Gaussian std matching the 80% and 95% half-widths (averaged)."""
        s = [(self.upper[c] - self.lower[c]) / (2 * _Z[c]) for c in COVERAGES]
        return np.maximum((s[0] + s[1]) / 2, 1e-12)


@torch.no_grad()
def predict_bands(model, inputs: np.ndarray, future: np.ndarray | None = None,
                  batch_size: int = 1024) -> Bands:
    """Run ``model.predict`` on windows (N, W) or (N, W, F) (``future``: the horizon's
    covariates (N, H, J)) -> :class:`Bands` (N, H), or (N, H, K) for K targets."""
    device = next(model.parameters()).device
    x = torch.as_tensor(inputs, dtype=torch.float32)
    if x.dim() == 2:
        x = x.unsqueeze(-1)  # (N, W, 1)
    extra = {}
    model.eval()
    parts = []
    for i in range(0, len(x), batch_size):
        if future is not None:
            extra["future"] = torch.as_tensor(future[i:i + batch_size], dtype=torch.float32,
                                              device=device)
        parts.append(model.predict(x[i:i + batch_size].to(device), **extra))

    def cat(name):
        if getattr(parts[0], name) is None:
            return None
        return np.concatenate([getattr(p, name).cpu().numpy() for p in parts]).astype(float)

    point = cat("point")
    bands = bands_from(point, cat("quantiles"), parts[0].levels, cat("std"))
    return bands.map(lambda a: a.reshape(point.shape))


def bands_from(point: np.ndarray, quantiles: np.ndarray | None = None, levels=None,
               std: np.ndarray | None = None) -> Bands:
    """Bands from a forecast's point (N, H) and its quantiles (N, H, Q) at ``levels`` or
    its Gaussian std (N, H) (more axes after N are flattened). The quantiles are sorted
    and the point is their median (the level nearest 0.5): an under-trained head can cross
    them, and its raw median can then lie outside its own interval."""
    point = point.reshape(len(point), -1)  # (N, H)
    lower, upper = {}, {}
    if quantiles is not None:
        levels = [round(float(v), 6) for v in levels]
        order = np.argsort(levels, kind="stable")
        levels = [levels[i] for i in order]
        q = np.sort(quantiles.reshape(point.shape + (-1,))[..., order], axis=-1)  # uncrossed
        point = q[..., int(np.argmin([abs(v - 0.5) for v in levels]))]
        for c in COVERAGES:
            lo, hi = _Q[c]
            if lo not in levels or hi not in levels:
                raise ValueError(f"the quantile head needs levels {LEVELS}, has {levels}")
            lower[c], upper[c] = q[..., levels.index(lo)], q[..., levels.index(hi)]
    elif std is not None:
        std = std.reshape(point.shape)
        for c in COVERAGES:
            lower[c], upper[c] = point - _Z[c] * std, point + _Z[c] * std
    else:
        raise ValueError("a point forecaster gives no intervals; use output = \"quantile\" "
                         "or \"gaussian\"")
    return Bands(point, lower, upper)


def conformal_factors(bands: Bands, y: np.ndarray) -> dict[int, float]:
    """Factors that make each interval cover its nominal share of ``y`` (split conformal:
    the ceil((n+1)c)/n-th smallest ratio of the error to the half-width on its side),
    :func:`bounded`."""
    out = {}
    for c in COVERAGES:
        above = y >= bands.point
        half = np.where(above, bands.upper[c] - bands.point, bands.point - bands.lower[c])
        ratio = np.abs(y - bands.point) / np.maximum(half, 1e-12)
        n = ratio.size
        k = min(int(np.ceil((n + 1) * c / 100)), n)
        out[c] = float(np.sort(ratio.ravel())[k - 1])
    return bounded(out)


def bounded(factors: dict[int, float]) -> dict[int, float]:
    """Factors within [0, MAX_FACTOR] (NaN: 1, unchanged), with a warning for each one
    that was cut."""
    out = {}
    for c, f in factors.items():
        out[c] = 1.0 if f != f else min(max(float(f), 0.0), MAX_FACTOR)
        if out[c] != f:
            warnings.warn(f"the {c}% interval factor {f:.4g} is cut to {out[c]:g}: the "
                          "model's intervals are far off on the calibration backtest "
                          "(under-trained?)", stacklevel=2)
    return out
