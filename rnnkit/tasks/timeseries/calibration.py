"""Interval calibration: the factors that scale a forecaster's 80% and 95% intervals to
their nominal coverage, measured on a rolling-origin backtest.

Where the backtest comes from (:func:`interval_factors`): factors recorded with the model
(``interval_factors``, from the rolling-origin replays of :mod:`.replays`, when the model
was refitted on the validation range), else forecasts of the validation range from every
origin in it (:func:`validation_factors`); all 1.0 when ``task.calibrate`` is off.
:func:`backtest_factors` turns a backtest into factors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..base import TaskError
from .intervals import COVERAGES, Bands, bounded, predict_bands
from .transform import Transform, model_inputs

if TYPE_CHECKING:
    from ..forecast import ForecastContext


def forecast_bands(model, transform: Transform, z: np.ndarray, origins: np.ndarray,
                   window: int, factors: dict[int, float] | None = None,
                   zc: np.ndarray | None = None) -> Bands:
    """Forecasts (N, H) (K columns: (N, H, K)) from ``origins`` of the scaled series ``z``,
    in original units; with ``factors`` their intervals widened by them (and kept nested);
    ``zc``: the scaled covariates, when the model reads some."""
    data = model_inputs(transform, z, zc, origins, window, model.horizon, with_targets=False)
    bands = predict_bands(model, data["x"], data.get("future"))
    if factors:
        bands = nested(bands.widened(factors))
    anchors = transform.anchors(z, origins, model.horizon)
    return bands.map(lambda y: transform.to_original(y, anchors))


def nested(bands: Bands) -> Bands:
    """The 95% interval widened where needed to contain the 80% one (separately calibrated
    factors can otherwise cross)."""
    lo, hi = dict(bands.lower), dict(bands.upper)
    lo[95], hi[95] = np.minimum(lo[95], lo[80]), np.maximum(hi[95], hi[80])
    return Bands(bands.point, lo, hi)


def backtest_factors(bands: Bands, x: np.ndarray, origins: np.ndarray,
                     end: int) -> dict[int, float]:
    """Factors that scale each interval so that it covers exactly its nominal share of the
    backtest: forecasts ``bands`` (N, H) (original units) made at ``origins`` (N,) of the
    series ``x``, scored on the points before ``end`` they reach (nothing at or after
    ``end`` is read). Each point's ratio |error| / half-width (on the error's side) gets the
    weight 1 / (number of ratios at its lead time), so every lead time counts equally, as
    in a multistep forecast of the whole horizon; the factor for coverage c is the weighted
    c-quantile of the ratios (split conformal on a rolling origin, without the (n+1)/n
    inflation that with a short validation range would pick the largest ratio), bounded
    (:func:`~.intervals.bounded`). Several columns (``x`` (T, K), bands (N, H, K)) share
    one pair of factors: the ratios are in units of each column's own interval, so they
    pool."""
    h = np.arange(1, bands.point.shape[1] + 1)
    t = np.asarray(origins)[:, None] + h[None, :]  # (N, H) target indices
    keep = t < end
    lead = np.broadcast_to(h, t.shape)[keep]
    y = x[t[keep]]  # (M,), K columns (M, K): pooled, each ratio in its own column's units
    if y.ndim > 1:
        lead = np.repeat(lead, y.shape[1])
    counts = np.bincount(lead)
    weights = 1.0 / counts[lead]
    out = {}
    for c in COVERAGES:
        point, lo, hi = (a[keep].ravel() for a in (bands.point, bands.lower[c],
                                                   bands.upper[c]))
        half = np.where(y.ravel() >= point, hi - point, point - lo)
        ratio = np.abs(y.ravel() - point) / np.maximum(half, 1e-12)
        order = np.argsort(ratio)
        cum = np.cumsum(weights[order]) / weights.sum()
        out[c] = float(ratio[order][np.searchsorted(cum, c / 100 - 1e-12)])
    return bounded(out)


def validation_factors(model, ctx: ForecastContext) -> dict[int, float]:
    """:func:`backtest_factors` of ``model``'s forecasts from every origin of the validation
    range (the last point before it .. its second-to-last point), scored on that range."""
    start, end = ctx.range("val")
    window = ctx.task_cfg.window
    origins = np.arange(max(start - 1, ctx.transform.first_origin(window)), end - 1)
    bands = forecast_bands(model, ctx.transform, ctx.z, origins, window, zc=ctx.zc)
    return backtest_factors(bands, ctx.series.values, origins, end)


def interval_factors(model, ctx: ForecastContext) -> dict[int, float]:
    """The factors ``model``'s intervals are widened by: those recorded with it (``refit``:
    from the replays, :func:`~.replays.calibrate_by_replays`), else
    :func:`validation_factors` (kept on the context per model); 1.0 each when
    ``task.calibrate`` is off."""
    cfg = ctx.task_cfg
    if not cfg.calibrate:
        return {c: 1.0 for c in COVERAGES}
    if getattr(model, "interval_factors", None):
        return bounded(dict(zip(COVERAGES, model.interval_factors)))
    if cfg.refit:
        raise TaskError("a refit model is trained on the validation range: its intervals "
                        "need the replay factors recorded at training (interval_factors)")
    key = id(model), sum(float(p.detach().sum()) for p in model.parameters())
    if key not in ctx.validation_factors:
        ctx.validation_factors[key] = validation_factors(model, ctx)
    return ctx.validation_factors[key]
