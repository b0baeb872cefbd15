"""Forecasting from a history in original units: one direct forecast within the model's
horizon, sample paths past it."""

from __future__ import annotations

import numpy as np

from ..base import TaskError
from .calibration import forecast_bands
from .intervals import LEVELS, Bands, predict_bands
from .transform import Transform

COLUMNS = ("forecast", "lower_80", "upper_80", "lower_95", "upper_95")


def covariates_needed(horizon: int, steps: int) -> int:
    """Points past the history whose covariates a forecast of ``steps`` points reads: the
    model's whole ``horizon`` for a direct forecast, and for sample paths (one step at a
    time, each reading the next ``horizon``) ``steps + horizon - 1``."""
    return horizon if steps <= horizon else steps + horizon - 1


def forecast_history(model, transform: Transform, window: int, factors: dict[int, float],
                     history: np.ndarray, steps: int, samples: int = 1000,
                     seed: int = 0, zc: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Forecast ``steps`` points after ``history`` (original units, (T,) or (T, K)) ->
    :data:`COLUMNS`, each (steps,) or (steps, K): one direct forecast when ``steps <=
    horizon``, else ``samples`` sample paths drawn one step at a time (generator seeded
    ``seed``, so the same history gives the same forecast) from the model's predictive
    distribution, a Gaussian matched to its intervals widened by ``factors``; the forecast
    and bounds are the paths' quantiles. ``zc``: the scaled covariates (T + F, J), F >=
    :func:`covariates_needed`, when the model reads some."""
    z = transform.scaled(history)  # (T,) or (K, T)
    n = z.shape[-1]
    if n <= transform.first_origin(window):
        raise TaskError(f"the history has {n} points; the model needs more than "
                        f"{transform.first_origin(window)}")
    if steps <= model.horizon:
        bands = forecast_bands(model, transform, z, np.array([n - 1]), window, factors,
                               zc).map(lambda a: a[0, :steps])
        return {"forecast": bands.point, **bounds(bands)}
    rng = np.random.default_rng(seed)
    paths = np.tile(z, (samples,) + (1,) * z.ndim)  # (S, T) or (S, K, T)
    for _ in range(steps):
        t = paths.shape[-1]
        level = transform.levels(paths, [t - 1])  # (S, 1) or (S, K, 1)
        feats = transform.features(paths)[..., -window:] - level  # (S, [K,] W)
        future = None
        if feats.ndim == 3:
            feats = np.moveaxis(feats, 1, -1)  # (S, W, K)
        if zc is not None:
            past = np.broadcast_to(zc[t - window:t], (samples, window, zc.shape[1]))
            feats = np.concatenate([feats if feats.ndim == 3 else feats[..., None], past],
                                   axis=-1)  # (S, W, K + J)
            future = np.repeat(zc[None, t:t + model.horizon], samples, axis=0)  # (S, H, J)
        bands = predict_bands(model, feats, future).widened(factors)
        anchors = paths[..., -transform.season] if transform.difference else level[..., 0]
        draw = bands.point[:, 0] + bands.std()[:, 0] * rng.standard_normal(anchors.shape)
        paths = np.concatenate([paths, (draw + anchors)[..., None]], axis=-1)
    with np.errstate(over="ignore"):  # quantiles in scaled units, then back (monotone)
        q = np.quantile(paths[..., n:], LEVELS, axis=0)  # (5, [K,] steps)
        q = transform.scaler.inverse(np.moveaxis(q, 1, -1) if q.ndim == 3 else q)
    return {"forecast": q[2], "lower_80": q[1], "upper_80": q[3], "lower_95": q[0],
            "upper_95": q[4]}


def bounds(bands: Bands) -> dict[str, np.ndarray]:
    """The interval columns of bands."""
    return {"lower_80": bands.lower[80], "upper_80": bands.upper[80],
            "lower_95": bands.lower[95], "upper_95": bands.upper[95]}
