"""Forecasting from a history in original units: one direct forecast within the model's
horizon, sample paths past it."""

from __future__ import annotations

import numpy as np

from ..base import TaskError
from .calibration import forecast_bands
from .intervals import LEVELS, Bands, predict_bands
from .transform import Transform

COLUMNS = ("forecast", "lower_80", "upper_80", "lower_95", "upper_95")


def forecast_history(model, transform: Transform, window: int, factors: dict[int, float],
                     history: np.ndarray, steps: int, samples: int = 1000,
                     seed: int = 0) -> dict[str, np.ndarray]:
    """Forecast ``steps`` points after ``history`` (original units) -> :data:`COLUMNS`
    (steps,) each: one direct forecast when ``steps <= horizon``, else ``samples`` sample
    paths drawn one step at a time (generator seeded ``seed``, so the same history gives
    the same forecast) from the model's predictive distribution, a Gaussian matched to its
    intervals widened by ``factors``; the forecast and bounds are the paths' quantiles."""
    z = transform.scaled(history)
    if len(z) <= transform.first_origin(window):
        raise TaskError(f"the history has {len(z)} points; the model needs more than "
                        f"{transform.first_origin(window)}")
    if steps <= model.horizon:
        bands = forecast_bands(model, transform, z, np.array([len(z) - 1]), window,
                               factors).map(lambda a: a[0, :steps])
        return {"forecast": bands.point, **bounds(bands)}
    rng = np.random.default_rng(seed)
    paths = np.tile(z, (samples, 1))  # (S, T)
    for _ in range(steps):
        level = np.broadcast_to(transform.levels(paths, [paths.shape[1] - 1]), (samples, 1))
        feats = transform.features(paths)[:, -window:] - level  # (S, W)
        bands = predict_bands(model, feats).widened(factors)
        anchors = paths[:, -transform.season] if transform.difference else level[:, 0]
        draw = bands.point[:, 0] + bands.std()[:, 0] * rng.standard_normal(samples)
        paths = np.concatenate([paths, (draw + anchors)[:, None]], axis=1)
    with np.errstate(over="ignore"):  # quantiles in scaled units, then back (monotone)
        q = transform.scaler.inverse(np.quantile(paths[:, len(z):], LEVELS, axis=0))
    return {"forecast": q[2], "lower_80": q[1], "upper_80": q[3], "lower_95": q[0],
            "upper_95": q[4]}


def bounds(bands: Bands) -> dict[str, np.ndarray]:
    """The interval columns of bands."""
    return {"lower_80": bands.lower[80], "upper_80": bands.upper[80],
            "lower_95": bands.lower[95], "upper_95": bands.upper[95]}
