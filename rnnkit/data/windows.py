"""Seasonal differencing and the windows a forecaster trains on, as index arithmetic on
arrays (also importable from :mod:`rnnkit.data.timeseries`)."""

from __future__ import annotations

import numpy as np


def difference(x: np.ndarray, lag: int) -> np.ndarray:
    """Seasonal differencing: d[i] = x[i + lag] - x[i], length N - lag."""
    return x[lag:] - x[:-lag]


def undifference(diffs: np.ndarray, history: np.ndarray, lag: int) -> np.ndarray:
    """Invert :func:`difference` for values following ``history`` (its last ``lag`` points
    at least): x[t] = d[t] + x[t - lag], recursively."""
    out = list(history[-lag:])
    for d in diffs:
        out.append(d + out[-lag])
    return np.asarray(out[lag:])


def window_starts(start: int, end: int, window: int, horizon: int, stride: int = 1) -> np.ndarray:
    """Starts s of windows x[s:s+window] whose targets x[s+window:s+window+horizon] lie
    entirely inside [start, end): nothing outside the range is read."""
    last = end - window - horizon
    return np.arange(start, last + 1, stride) if last >= start else np.zeros(0, dtype=int)


def make_windows(x: np.ndarray, starts: np.ndarray, window: int, horizon: int):
    """Inputs (N, window) and targets (N, horizon) for the given window starts."""
    idx = starts[:, None] + np.arange(window + horizon)[None, :]
    chunk = x[idx]
    return chunk[:, :window], chunk[:, window:]
