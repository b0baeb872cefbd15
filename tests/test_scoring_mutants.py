"""How a forecaster is scored (rnnkit/tasks/timeseries/scoring.py), on an untrained model
and a generated series: the figures of ``evaluate_split`` against the metrics written out by
hand from the model's own forecasts, under both protocols, for one and for several value
columns (found by mutation testing, benchmarks/mutation.py: only the training tests reached
this module before)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.tasks import TASKS
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.timeseries.calibration import forecast_bands, interval_factors
from rnnkit.tasks.timeseries.scoring import (
    Figures,
    baseline_bands,
    evaluate_split,
    mean_figures,
)


def _context(tmp_path, columns=1, evaluation="multistep", covariates=False, **task):
    rng = np.random.default_rng(0)
    n = 72
    months = np.datetime64("2000-01", "M") + np.arange(n)
    t = np.arange(n)
    values = [100 + 10 * np.sin(2 * np.pi * t / 12) + 0.5 * t + rng.normal(0, 2, n) + 40 * k
              for k in range(columns)]
    names = [f"v{k}" for k in range(columns)]
    if covariates:  # a calendar covariate known in advance
        values.append(np.cos(2 * np.pi * t / 12))
        names.append("cal")
    (tmp_path / "s.csv").write_text("month," + ",".join(names) + "\n" + "".join(
        f"{m}," + ",".join(f"{v[i]:.4f}" for v in values) + "\n"
        for i, m in enumerate(months)))
    extra = {"value_columns": names[:columns]} if columns > 1 else {}
    if covariates:
        extra = {"value_columns": names[:columns], "covariate_columns": ["cal"]}
    cfg = config_from_raw({
        "name": "s", "task": {"name": "forecast", "data": str(tmp_path / "s.csv"),
                              "test_size": 6, "window": 8, "horizon": 6, "season": 12,
                              "evaluation": evaluation, **extra, **task},
        "model": {"cell": "gru", "hidden_size": 4, "output": "quantile"},
        "train": {"progress": "off"}}, "test")
    task = TASKS["forecast"]
    ctx = task.setup(cfg)
    torch.manual_seed(0)
    return ctx, task.build_model(ctx).eval()


def _by_hand(y, point, lower, upper, train, season):
    err = point - y
    scale = np.mean(np.abs(train[season:] - train[:-season]))
    out = {"rmse": np.sqrt(np.mean(err**2)), "mae": np.mean(np.abs(err)),
           "mape": 100 * np.mean(np.abs(err) / np.abs(y)),
           "smape": 100 * np.mean(2 * np.abs(err) / (np.abs(y) + np.abs(point))),
           "mase": np.mean(np.abs(err)) / scale}
    for c in (80, 95):
        out[f"coverage_{c}"] = np.mean((y >= lower[c]) & (y <= upper[c]))
    return out


@pytest.mark.parametrize("evaluation", ["multistep", "rolling"])
@pytest.mark.parametrize("split", ["val", "test"])
def test_evaluate_split_equals_the_figures_by_hand(tmp_path, evaluation, split):
    # rolling scores the first of 3 steps (multistep ranges are exactly horizon long)
    ctx, model = _context(tmp_path, evaluation=evaluation, horizon=6 if evaluation ==
                          "multistep" else 3)
    start, end = ctx.range(split)
    x = ctx.series.values
    origins = np.array([start - 1]) if evaluation == "multistep" else np.arange(start - 1,
                                                                                 end - 1)
    factors = interval_factors(model, ctx) if split == "test" else None  # test: calibrated
    if split == "test":
        assert factors != {80: 1.0, 95: 1.0}  # so that using them or not shows
    bands = forecast_bands(model, ctx.transform, ctx.z, origins, ctx.task_cfg.window,
                           factors)
    steps = end - start if evaluation == "multistep" else 1
    flat = bands.map(lambda a: a[:, :steps].ravel())
    got = evaluate_split(model, ctx, split)
    want = _by_hand(x[start:end], flat.point, flat.lower, flat.upper, x[:ctx.test_start], 12)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-9), key
    assert got["mse"] == pytest.approx(got["rmse"] ** 2)
    assert set(got["baselines"]) == {"seasonal_naive", "persistence"}
    for name, b in baseline_bands(ctx, split).items():
        ref = _by_hand(x[start:end], b.point, b.lower, b.upper, x[:ctx.test_start], 12)
        for key, value in ref.items():
            assert got["baselines"][name][key] == pytest.approx(value, rel=1e-9), (name, key)


def test_several_columns_are_scored_each_and_averaged(tmp_path):
    ctx, model = _context(tmp_path, columns=2, covariates=True)
    assert ctx.zc is not None
    got = evaluate_split(model, ctx, "val")
    start, end = ctx.range("val")
    x = ctx.series.values  # (N, 2)
    bands = forecast_bands(model, ctx.transform, ctx.z, np.array([start - 1]),
                           ctx.task_cfg.window, zc=ctx.zc)  # (1, H, 2)
    blind = forecast_bands(model, ctx.transform, ctx.z, np.array([start - 1]),
                           ctx.task_cfg.window, zc=ctx.zc * 0 + 5.0)
    assert not np.allclose(blind.point, bands.point)  # the covariates matter
    assert set(got["columns"]) == {"v0", "v1"}
    for k, name in enumerate(("v0", "v1")):
        col = bands.map(lambda a, k=k: a[0, :, k])
        want = _by_hand(x[start:end, k], col.point, col.lower, col.upper,
                        x[:ctx.test_start, k], 12)
        for key, value in want.items():
            assert got["columns"][name][key] == pytest.approx(value, rel=1e-9), (name, key)
        assert got["columns"][name]["mse"] == pytest.approx(got["columns"][name]["rmse"] ** 2)
        base = baseline_bands(ctx, "val", x[:, k])["persistence"]
        assert base.point == pytest.approx(np.full(end - start, x[start - 1, k]))
    for key in ("rmse", "mae", "coverage_80", "mse"):
        assert got[key] == pytest.approx((got["columns"]["v0"][key]
                                          + got["columns"]["v1"][key]) / 2)
    for name in ("seasonal_naive", "persistence"):
        parts = [baseline_bands(ctx, "val", x[:, k])[name] for k in range(2)]
        rmse = [np.sqrt(np.mean((p.point - x[start:end, k]) ** 2)) for k, p in enumerate(parts)]
        assert got["baselines"][name]["rmse"] == pytest.approx(np.mean(rmse))


def test_figures_format_as_one_line_and_means_are_per_key():
    f = Figures({"seasonal_naive": {"rmse": 1.23456, "note": "text", "mae": 2}, "bias": 2.5})
    assert f"{f:.4g}" == "seasonal_naive: rmse 1.235 mae 2; bias 2.5"
    assert mean_figures([{"a": 1.0, "b": 4.0}, {"a": 3.0, "b": 8.0}]) == {"a": 2.0, "b": 6.0}
    assert mean_figures([{"a": 1.5}]) == {"a": 1.5}


def test_figures_that_cannot_be_computed_are_nan():
    """A flat training range (seasonal-naive MAE 0: no MASE) and a target of zeros (no
    MAPE) give NaN, not None, so tables and JSON keep one type."""
    from rnnkit.tasks.timeseries.intervals import Bands
    from rnnkit.tasks.timeseries.scoring import figures

    y, p = np.zeros(4), np.array([0.5, -0.5, 1.0, 0.0])
    out = figures(y, Bands(p, {80: p - 1, 95: p - 2}, {80: p + 1, 95: p + 2}),
                  np.full(30, 7.0), 12)
    assert np.isnan(out["mase"]) and np.isnan(out["mape"])
    assert out["rmse"] == pytest.approx(np.sqrt(np.mean(p**2)))
    assert out["coverage_80"] == 1.0
