"""Forecast accuracy and interval coverage, and the classical baselines they are compared to.

All functions take NumPy arrays in the series' original units.
"""

from __future__ import annotations

import numpy as np


def point_metrics(y: np.ndarray, pred: np.ndarray, train: np.ndarray, season: int) -> dict:
    """rmse, mae, mape (%), smape (%), mase (scaled by the in-sample seasonal-naive MAE)."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    err = pred - y
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.abs(err) / np.abs(y)
        sape = 2 * np.abs(err) / (np.abs(y) + np.abs(pred))
    scale = seasonal_naive_scale(train, season)
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "mape": float(100 * np.mean(ape[np.isfinite(ape)])) if np.isfinite(ape).any() else None,
        "smape": float(100 * np.nanmean(np.where(np.isfinite(sape), sape, 0.0))),
        "mase": float(np.mean(np.abs(err)) / scale) if scale > 0 else None,
    }


def seasonal_naive_scale(train: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal-naive forecast y[t] = y[t - m] (m=1: naive)."""
    train = np.asarray(train, dtype=float)
    m = season if len(train) > season else 1
    return float(np.mean(np.abs(train[m:] - train[:-m])))


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Fraction of true values inside [lower, upper]."""
    y = np.asarray(y, dtype=float)
    return float(np.mean((y >= lower) & (y <= upper)))


def pinball(y: np.ndarray, q_pred: np.ndarray, q: float) -> float:
    """Mean pinball (quantile) loss of predictions ``q_pred`` of quantile ``q``."""
    diff = np.asarray(y, dtype=float) - np.asarray(q_pred, dtype=float)
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


def naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """Repeat the last value."""
    return np.full(horizon, float(history[-1]))


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Repeat the last season: y[T + h] = y[T + h - m*k] for the smallest k >= 1."""
    last = np.asarray(history[-season:], dtype=float)
    return np.array([last[h % season] for h in range(horizon)])


def drift(history: np.ndarray, horizon: int) -> np.ndarray:
    """The line through the first and last points, extended."""
    history = np.asarray(history, dtype=float)
    slope = (history[-1] - history[0]) / max(len(history) - 1, 1)
    return history[-1] + slope * np.arange(1, horizon + 1)
