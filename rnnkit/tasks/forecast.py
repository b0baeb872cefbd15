"""Time-series forecasting with 80% and 95% prediction intervals (task ``forecast``).

A :class:`~rnnkit.models.Forecaster` (direct or autoregressive, quantile or Gaussian head)
reads a window of the scaled (optionally seasonally differenced) series and forecasts the
next ``horizon`` steps; :mod:`rnnkit.tasks.timeseries.transform` says exactly what it reads
and predicts. The scaler and differencing are fitted on the training range only and saved
in model.json (``"transform"``), so forecasts come back in the series' original units.

Ranges: the last ``test_size`` points are the test range (data README), the last
``val_size`` points before it the validation range; training windows only read points
before the validation range (``refit``: before the test range). ``evaluation``:
``multistep`` scores one forecast of the whole range from its start (airline: 24 months
from the end of 1958), ``rolling`` one-step-ahead forecasts from every origin in it
(temperatures, sunspots). ``evaluate`` reports rmse, mae, mape, smape, mase and
coverage_80/95 in original units, and the same for the seasonal-naive and persistence
baselines under ``"baselines"`` (:mod:`rnnkit.tasks.timeseries.scoring`).

Intervals (``calibrate``) are scaled to nominal coverage on a rolling-origin backtest
(:mod:`rnnkit.tasks.timeseries.calibration`): over the validation range, or with ``refit``
(deployment after selection: the model trains on every point before the test range for
``train.steps`` fixed in advance, so ``best`` is the last step) on ``replays`` replays of
the config trained up to origins inside that range
(:func:`~rnnkit.tasks.timeseries.replays.calibrate_by_replays`; the context computes them
once, before the model is built, and the model records them as ``interval_factors``).

``ensemble = N``: N members trained side by side with seeds ``seed .. seed+N-1``, their
quantile forecasts averaged (:class:`~rnnkit.models.ForecastEnsemble`); calibration,
``evaluate`` and the predictor all see the ensemble's forecast.

Data (:class:`~rnnkit.tasks.timeseries.source.SeriesSourceConfig`): a named series, or a
user's CSV (``task.data``, or consecutive parts ``train_data``/``val_data``/``test_data``,
which then set the ranges) with a time column, one or more value columns
(``value_columns``: forecast jointly, each scaled on its own; the model reads and forecasts
all of them) and optional ``covariate_columns`` known in advance (read over the window and
over the horizon; :mod:`rnnkit.tasks.timeseries.transform`).

Predictor (:class:`ForecastPredictor`): ``predict(histories, horizon=N, samples=S)`` -> one
record per history whose ``"columns"`` hold ``timestamp, forecast, lower_80, upper_80,
lower_95, upper_95`` (several value columns: ``forecast_<column>`` ... for each);
``stream()`` updates the forecast with each new observation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch

from ..data.timeseries import SERIES, Scaler, Series
from ..models import MODELS, ForecastEnsemble, Model
from ..training.config import choice, number
from .base import Context, Task, TaskError, register
from .datafiles import uses_own_data
from .timeseries.forecast_predictor import ForecastPredictor
from .timeseries.intervals import COVERAGES, LEVELS
from .timeseries.replays import calibrate_by_replays
from .timeseries.report import forecast_section
from .timeseries.scoring import evaluate_split
from .timeseries.source import (
    SeriesSourceConfig,
    column_names,
    load_source,
    source_errors,
    test_points,
)
from .timeseries.transform import Transform, model_inputs, saved_covariate_scaler, train_origins


@dataclass
class ForecastConfig(SeriesSourceConfig):
    name: str = "forecast"
    series: str = "airline-passengers"
    test_size: float = number(0.0, 0.0)  # points (>= 1) or a fraction; 0 = the README's
    # range (a named series), task.test_fraction (a user's file), the test_data part
    val_size: float = number(0.0, 0.0)  # the same, before the test range; 0 = like test_size
    # (or the val_data part)
    window: int = number(24, 1)  # observed steps the model reads
    horizon: int = number(24, 1)  # steps it forecasts at once
    season: int = number(1, 1)  # seasonal period: differencing lag, seasonal naive, MASE
    scaler: str = choice("standard", *Scaler.KINDS)
    difference: bool = False  # forecast the change from the same season's last value
    level: bool = False  # or: window and targets relative to the last season's mean
    evaluation: str = choice("auto", "auto", "multistep", "rolling")  # auto: by horizon
    calibrate: bool = True  # scale the intervals to nominal coverage on a backtest
    train_on_val: bool = False  # short series: also train on the validation range's windows
    ensemble: int = number(1, 1)  # members trained with seeds seed..seed+N-1, forecasts averaged
    cutoff: int = number(0, 0)  # use only the first cutoff points (0 = all): replays
    refit: bool = False  # train on train + validation for train.steps; calibrate by replays
    replays: int = number(3, 0)  # refit: calibration replays (origins replay_every apart,
    replay_every: int = number(6, 1)  # the last at the start of the validation range)


class ForecastContext(Context):
    """The run's series, its ranges and the transform fitted on the training range (a
    trained run's own from its model.json, ``saved``); the replay factors (``refit``), and
    the validation-backtest factors per model."""

    def __init__(self, cfg, task):
        super().__init__(cfg, task)
        self.validation_factors: dict = {}  # (id, weight sum) of a model -> its factors

    @cached_property
    def source(self) -> tuple[Series, dict[str, int]]:
        """The series (cut to ``cutoff`` points) and the sizes of the parts given as files."""
        cfg = self.task_cfg
        series, parts = load_source(cfg)
        if cfg.cutoff:
            series = series.head(cfg.cutoff, ahead=0)
        return series, parts

    @property
    def series(self) -> Series:
        return self.source[0]

    @cached_property
    def bounds(self) -> tuple[int, int]:
        """(val_start, test_start): validation ``[val_start, test_start)``, test
        ``[test_start, N)``."""
        cfg, n = self.task_cfg, len(self.series)
        parts = {} if cfg.cutoff else self.source[1]
        first = self.shape.first_origin(cfg.window)
        # refit trains on the validation range too: its windows' targets may lie in it
        need = first + 1 + (2 if cfg.refit else 3) * cfg.horizon
        if n < need:
            within = " (task.refit: the validation range is trained on)" if cfg.refit else ""
            raise TaskError(
                f"{source_name(cfg)}: {n} points; window {cfg.window} and horizon "
                f"{cfg.horizon} need at least {need}: {first + 1 + cfg.horizon} to train on "
                f"(a window{' after a season of differences' if self.shape.lag else ''} and "
                f"its horizon), and a validation and a test range of {cfg.horizon} "
                f"each{within}")
        if cfg.test_size or "test" not in parts:  # a named series: its README range
            named = not uses_own_data(cfg) and cfg.series in SERIES
            test = test_points(n, cfg.test_size,
                               SERIES[cfg.series] if named else cfg.test_fraction)
        else:
            test = parts["test"]
        if cfg.val_size or "val" not in parts:
            val = test_points(n - test, cfg.val_size or test, 0)
        else:
            val = parts["val"]
        if cfg.refit:  # the training windows may reach into the validation range
            short = n - test < first + 1 + cfg.horizon or n - test - val < first + 1
            before = (f"{first + 1 + cfg.horizon} points before the test range (task.refit "
                      f"trains on the validation range), {first + 1} before the validation "
                      "range")
        else:
            short = n - test - val < first + 1 + cfg.horizon
            before = f"{first + 1 + cfg.horizon} points before the validation range"
        if short or min(test, val) < cfg.horizon:
            raise TaskError(
                f"{source_name(cfg)}: {n} points, of which {val} validate and {test} test: "
                f"window {cfg.window} and horizon {cfg.horizon} need {before} and at least "
                f"{cfg.horizon} in each of the validation and test ranges")
        multistep = cfg.evaluation == "multistep" or (cfg.evaluation == "auto"
                                                     and cfg.horizon >= test)
        if multistep and max(val, test) > cfg.horizon:
            raise TaskError(
                "multistep evaluation (task.evaluation, \"auto\": when the horizon covers the"
                " test range) scores one forecast of each range from its start: the "
                f"validation ({val} points) and test ({test}) ranges must not exceed "
                f"task.horizon ({cfg.horizon}); shorten them (task.val_size, task.test_size) "
                "or set task.evaluation = \"rolling\"")
        return n - test - val, n - test

    @property
    def val_start(self) -> int:
        return self.bounds[0]

    @property
    def test_start(self) -> int:
        return self.bounds[1]

    @property
    def shape(self) -> Transform:
        """The transform's kind (what it reads), before any statistics are fitted."""
        cfg = self.task_cfg
        if cfg.difference and cfg.level:
            raise TaskError("task.difference and task.level both set what the model "
                            "forecasts relative to (the same season's last value, or the "
                            "last season's mean); set one of them")
        return Transform(Scaler("none"), cfg.season, cfg.difference, cfg.level)

    @cached_property
    def transform(self) -> Transform:
        """Fitted on the points before the test range; a trained run's own (``saved``)."""
        if "transform" in self.saved:
            return Transform.from_dict(self.saved["transform"])
        cfg, shape = self.task_cfg, self.shape
        fitted_on = self.series.values[:self.test_start]  # (its own errors are not the scaler's)
        try:
            return Transform.fit(fitted_on, cfg.scaler, cfg.season, shape.difference,
                                 shape.level)
        except ValueError as e:
            raise TaskError(f"task.scaler = {cfg.scaler!r}: {e}") from None

    @cached_property
    def z(self) -> np.ndarray:
        """The scaled series (N,), or (K, N) for K value columns."""
        return self.transform.scaled(self.series.values)

    @cached_property
    def covariate_scaler(self) -> Scaler | None:
        if "covariate_scaler" in self.saved:
            return saved_covariate_scaler(self.saved)
        cov = self.series.covariates
        return None if cov is None else Scaler("standard").fit(cov[:self.test_start])

    @cached_property
    def zc(self) -> np.ndarray | None:
        """The scaled covariates (N + F, J), or None."""
        cov = self.series.covariates
        return None if cov is None else self.covariate_scaler.transform(cov)

    @property
    def protocol(self) -> str:
        cfg = self.task_cfg
        if cfg.evaluation != "auto":
            return cfg.evaluation
        return "multistep" if cfg.horizon >= len(self.series) - self.test_start else "rolling"

    def range(self, split: str) -> tuple[int, int]:
        return {"train": (0, self.val_start), "val": (self.val_start, self.test_start),
                "test": (self.test_start, len(self.series))}[split]

    @cached_property
    def replay_factors(self) -> dict[int, float] | None:
        """``refit`` with ``calibrate``: the interval factors of the rolling-origin replays
        (trained on first use); else None."""
        cfg = self.task_cfg
        return calibrate_by_replays(self.cfg) if cfg.refit and cfg.calibrate else None


def check_covariates_ahead(ctx: ForecastContext) -> None:
    """The covariates reach as far as scoring the test range reads them: a model reads its
    whole horizon's, so the last forecast (rolling: from the second-to-last point;
    multistep: from the end of the validation range) may read past the series."""
    s, h = ctx.series, ctx.task_cfg.horizon
    if s.covariates is None:
        return
    last = len(s) - 2 if ctx.protocol == "rolling" else ctx.test_start - 1
    need = last + h - (len(s) - 1)
    if need > s.ahead:
        raise TaskError(
            f"{source_name(ctx.task_cfg)}: scoring the test range ({ctx.protocol}) with "
            f"horizon {h} reads the covariates {need} points past the last value; the file "
            f"gives {s.ahead}: add {need - s.ahead} rows after the last value with the "
            "values blank and the covariates given"
            + (", or set task.evaluation = \"multistep\"" if ctx.protocol == "rolling"
               else ""))


def source_name(cfg) -> str:
    """The file (or named series) a config reads, for messages."""
    return cfg.data or cfg.train_data or cfg.series


def refit_errors(cfg) -> list[str]:
    """``refit`` trains on the validation range, so nothing may be chosen on it: the step
    count is fixed in advance and the one validation is at the last step (best = last)."""
    t, why = cfg.train, "task.refit trains on the validation range, so the step count is fixed"
    errors = [f"{why}: {msg}" for bad, msg in (
        (t.steps < 1, "set train.steps (not epochs)"),
        (t.eval_every < t.steps, f"set train.eval_every >= train.steps ({t.steps}) so that "
                                 "best = the last step"),
        (t.early_stopping > 0, "set train.early_stopping = 0"),
        (t.target != 0, "set train.target = 0"),
        (t.max_minutes > 0, "set train.max_minutes = 0"),
        (t.schedule == "plateau", "the plateau schedule reads the validation metric")) if bad]
    if cfg.task.calibrate and cfg.task.replays < 1:
        errors.append("task.refit with calibrate needs task.replays >= 1 (the validation "
                      "backtest would score points the model trained on)")
    return errors


class ForecastTask(Task):
    name = "forecast"
    config_class = ForecastConfig
    model_class = "Forecaster"
    context_class = ForecastContext
    capabilities = frozenset({"forecast", "stream", "plot", "report"})
    fixed_model_args = frozenset({"input_size", "output_size", "horizon", "quantiles",
                                  "interval_factors", "covariates"})
    model_defaults = {"output": "quantile"}  # (the Forecaster's own default, "point", has
    # no spread)

    def make_splits(self, ctx: ForecastContext):
        """Windows (N, W, 1) and targets (N, H) of each range (scaled; K value columns and J
        covariates: (N, W, K + J), (N, H, K) and the horizon's covariates ``future``
        (N, H, J)); training windows end before the validation range (``train_on_val``,
        ``refit``: before the test range)."""
        cfg = ctx.task_cfg
        check_covariates_ahead(ctx)
        first = ctx.transform.first_origin(cfg.window)
        fit_end = ctx.test_start if cfg.train_on_val or cfg.refit else ctx.val_start
        ranges = {"train": train_origins(first, fit_end, cfg.horizon)}
        for split in ("val", "test"):
            start, end = ctx.range(split)
            ranges[split] = train_origins(max(start - 1, first), end, cfg.horizon)
        out = {}
        for split, origins in ranges.items():
            if len(origins) == 0:
                raise TaskError(f"no {split} window fits: the {split} range is too short for "
                                f"window {cfg.window} + horizon {cfg.horizon}")
            try:
                data = model_inputs(ctx.transform, ctx.z, ctx.zc, origins, cfg.window,
                                    cfg.horizon)
            except ValueError as e:
                raise TaskError(f"{split} range: {e}") from None
            out[split] = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in data.items()}
        return out

    def model_args(self, ctx: ForecastContext) -> dict[str, Any]:
        k, j = ctx.series.width, len(ctx.series.covariate_columns)
        return {"input_size": k + j, "output_size": k, "horizon": ctx.task_cfg.horizon,
                "quantiles": list(LEVELS), "covariates": j}

    def build_model(self, ctx: ForecastContext) -> Model:
        """A :class:`Forecaster`, or with ``task.ensemble = N > 1`` a
        :class:`ForecastEnsemble` of N whose member i starts as seed ``seed + i`` would;
        with ``refit`` (and ``calibrate``) recording the context's replay factors."""
        extra = {}
        if ctx.replay_factors is not None:
            extra["interval_factors"] = [ctx.replay_factors[c] for c in COVERAGES]
        args = {**self.model_args(ctx), **self._model_kwargs(ctx.cfg), **extra}
        if ctx.task_cfg.ensemble == 1:
            return MODELS[self.model_class](**args)
        return ForecastEnsemble(members=ctx.task_cfg.ensemble, seed=ctx.cfg.seed, **args)

    def check(self, cfg) -> list[str]:
        errors = super().check(cfg)
        output = cfg.model.options.get("output", "point")
        if output not in ("quantile", "gaussian"):
            errors.append(f"model.output = {output!r}: forecasts carry 80% and 95% intervals; "
                          "use \"quantile\" or \"gaussian\"")
        if cfg.task.refit:
            errors += refit_errors(cfg)
        t = cfg.task
        errors += source_errors(t, unread=("split_seed", "val_fraction"))
        for size, part in (("test_size", "test_data"), ("val_size", "val_data")):
            if getattr(t, size) and getattr(t, part):
                errors.append(f"task.{size} and task.{part} both set the range: leave out "
                              f"task.{size} (the {part} file is the range)")
        return errors

    def info(self, ctx: ForecastContext, model) -> dict[str, Any]:
        info = {**super().info(ctx, model), "transform": ctx.transform.to_dict(),
                "columns": column_names(ctx.series, ctx.task_cfg)}
        if ctx.covariate_scaler is not None:
            info["covariate_scaler"] = ctx.covariate_scaler.to_dict()
        return info

    def extra_metrics(self, ctx: ForecastContext, model, split: str) -> dict[str, Any]:
        return evaluate_split(model, ctx, split) if split in ("val", "test") else {}

    def after_training(self, ctx: ForecastContext, model, run_dir) -> None:
        """report.md: the test figures against the baselines, and the plot."""
        forecast_section(model, ctx, run_dir)

    def predictor(self, ctx, model, info, run_dir=None):
        return ForecastPredictor(self, ctx, model, info, run_dir)


register(ForecastTask())
