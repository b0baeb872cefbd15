"""Scoring a forecaster on the validation or test range, in original units, beside the
seasonal-naive and persistence baselines under the same protocol.

Protocols (:attr:`ForecastContext.protocol <rnnkit.tasks.forecast.ForecastContext>`):
``multistep`` scores one forecast of the whole range from its start, ``rolling``
one-step-ahead forecasts from every origin in it. Several value columns: each is scored
on its own (``"columns"``); the top-level figures are their means.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import metrics as fm
from .calibration import forecast_bands, interval_factors
from .intervals import COVERAGES, Bands
from .transform import range_origins

if TYPE_CHECKING:
    from ..forecast import ForecastContext

KEYS = ("rmse", "mae", "mape", "smape", "mase", "coverage_80", "coverage_95")


class Figures(dict):
    """Nested figures (``"baselines"``): JSON as a dict; formatted (``f"{v:.4g}"`` in
    generic tables and CLI lines) as a one-line summary instead of failing."""

    def __format__(self, spec: str) -> str:
        parts = []
        for name, value in self.items():
            if isinstance(value, dict):
                inner = " ".join(f"{k} {v:.4g}" for k, v in value.items()
                                 if isinstance(v, (int, float)))
                parts.append(f"{name}: {inner}")
            else:
                parts.append(f"{name} {value:.4g}")
        return "; ".join(parts)


def range_forecasts(model, ctx: ForecastContext, split: str,
                    factors: dict[int, float] | None) -> Bands:
    """The forecasts that score ``split`` under the protocol, flattened to the range's
    points (M,), intervals widened by ``factors``."""
    start, end = ctx.range(split)
    origins = range_origins(start, end, model.horizon, ctx.protocol)
    bands = forecast_bands(model, ctx.transform, ctx.z, origins, ctx.task_cfg.window, factors,
                           ctx.zc)
    steps = end - start if ctx.protocol == "multistep" else 1
    return bands.map(lambda a: a[:, :steps].reshape((-1,) + a.shape[2:]))  # (M,) / (M, K)


def figures(y: np.ndarray, bands: Bands, train: np.ndarray, season: int) -> dict[str, float]:
    """rmse, mae, mape, smape, mase and coverage_80/95 of one forecast (original units)."""
    out = fm.point_metrics(y, bands.point, train, season)
    for c in COVERAGES:
        out[f"coverage_{c}"] = fm.coverage(y, bands.lower[c], bands.upper[c])
    return {k: float("nan") if v is None else v for k, v in out.items()}


def column(bands: Bands, k: int) -> Bands:
    """Column ``k`` of bands (M, K)."""
    return bands.map(lambda a: a[:, k])


def baseline_bands(ctx: ForecastContext, split: str, x: np.ndarray | None = None
                   ) -> dict[str, Bands]:
    """Seasonal naive and persistence under the same protocol, with the textbook intervals
    from their in-sample residuals (Hyndman & Athanasopoulos, FPP3 5.5); ``x``: the
    series (one column; default: the run's)."""
    start, end = ctx.range(split)
    x = ctx.series.values if x is None else x
    m = ctx.task_cfg.season
    train = x[:start]
    origins = range_origins(start, end, end - start, ctx.protocol)
    steps = end - start if ctx.protocol == "multistep" else 1
    out = {}
    for name, lag in (("seasonal_naive", m), ("persistence", 1)):
        sigma = float(np.std(train[lag:] - train[:-lag]))
        h = np.arange(1, steps + 1)
        k = (h - 1) // lag + 1
        if name == "seasonal_naive":
            point = np.stack([fm.seasonal_naive(x[:o + 1], steps, m) for o in origins])
        else:
            point = np.stack([fm.naive(x[:o + 1], steps) for o in origins])
        half = {c: sigma * np.sqrt(k) * z for c, z in ((80, 1.2815515655446004),
                                                        (95, 1.959963984540054))}
        bands = Bands(point, {c: point - half[c] for c in COVERAGES},
                      {c: point + half[c] for c in COVERAGES})
        out[name] = bands.map(lambda a: a.ravel())
    return out


def evaluate_split(model, ctx: ForecastContext, split: str) -> dict[str, Any]:
    """The model's figures on ``split`` (val or test; test with calibrated intervals) and
    the baselines' under ``baselines``; several value columns: each column's under
    ``"columns"`` and their means at the top level."""
    factors = interval_factors(model, ctx) if split == "test" else None
    bands = range_forecasts(model, ctx, split, factors)
    start, end = ctx.range(split)
    season, x = ctx.task_cfg.season, ctx.series.values
    if x.ndim == 1:
        result: dict[str, Any] = figures(x[start:end], bands, x[:ctx.test_start], season)
        result["mse"] = result["rmse"] ** 2
        result["baselines"] = Figures({
            name: figures(x[start:end], b, x[:ctx.test_start], season)
            for name, b in baseline_bands(ctx, split).items()})
        return result
    per, base = {}, {}
    for k, name in enumerate(ctx.series.columns):
        y, train = x[start:end, k], x[:ctx.test_start, k]
        per[name] = figures(y, column(bands, k), train, season)
        per[name]["mse"] = per[name]["rmse"] ** 2
        for b, bb in baseline_bands(ctx, split, x[:, k]).items():
            base.setdefault(b, []).append(figures(y, bb, train, season))
    result = mean_figures(list(per.values()))
    result["columns"] = Figures(per)
    result["baselines"] = Figures({b: mean_figures(v) for b, v in base.items()})
    return result


def mean_figures(parts: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's mean over the columns."""
    return {k: float(np.mean([p[k] for p in parts])) for k in parts[0]}
