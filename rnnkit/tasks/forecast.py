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

Predictor (:class:`ForecastPredictor`): ``predict(histories, horizon=N, samples=S)`` -> one
record per history whose ``"columns"`` hold ``timestamp, forecast, lower_80, upper_80,
lower_95, upper_95``; ``stream()`` updates the forecast with each new observation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.timeseries import Scaler, Series
from ..models import MODELS, ForecastEnsemble, Model
from ..training.config import choice, number
from .base import Context, Task, TaskError, register
from .predictor import Predictor, Stream
from .timeseries.calibration import interval_factors
from .timeseries.forecasting import COLUMNS, forecast_history
from .timeseries.intervals import COVERAGES, LEVELS
from .timeseries.replays import calibrate_by_replays
from .timeseries.report import forecast_section, plot_forecast
from .timeseries.scoring import evaluate_split
from .timeseries.source import (
    History,
    SeriesSourceConfig,
    as_series,
    future_times,
    load_source,
    parse_times,
    read_input,
    test_points,
    time_labels,
)
from .timeseries.transform import Transform, train_origins


@dataclass
class ForecastConfig(SeriesSourceConfig):
    name: str = "forecast"
    series: str = "airline-passengers"
    test_size: float = number(0.0, 0.0)  # points (>= 1) or a fraction; 0 = the README's range
    val_size: float = number(0.0, 0.0)  # the same, before the test range; 0 = like test_size
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
    """The run's series, its ranges and the transform fitted on the training range; the
    replay factors (``refit``), and the validation-backtest factors per model."""

    def __init__(self, cfg, task):
        super().__init__(cfg, task)
        self.validation_factors: dict = {}  # (id, weight sum) of a model -> its factors

    @cached_property
    def series(self) -> Series:
        cfg = self.task_cfg
        series = load_source(cfg)
        if cfg.cutoff:
            series = Series(series.timestamps[:cfg.cutoff], series.values[:cfg.cutoff],
                            series.name)
        return series

    @cached_property
    def bounds(self) -> tuple[int, int]:
        """(val_start, test_start): validation ``[val_start, test_start)``, test
        ``[test_start, N)``."""
        cfg, n = self.task_cfg, len(self.series)
        test = test_points(n, cfg.test_size, cfg.series, cfg.csv)
        val = test_points(n - test, cfg.val_size or test, cfg.series, cfg.csv)
        return n - test - val, n - test

    @property
    def val_start(self) -> int:
        return self.bounds[0]

    @property
    def test_start(self) -> int:
        return self.bounds[1]

    @cached_property
    def transform(self) -> Transform:
        cfg = self.task_cfg
        if cfg.difference and cfg.level:
            raise TaskError("task.difference and task.level both set what the model "
                            "forecasts relative to (the same season's last value, or the "
                            "last season's mean); set one of them")
        try:
            return Transform.fit(self.series.values[:self.test_start], cfg.scaler, cfg.season,
                                 cfg.difference, cfg.level)
        except ValueError as e:
            raise TaskError(f"task.scaler = {cfg.scaler!r}: {e}") from None

    @cached_property
    def z(self) -> np.ndarray:
        """The scaled series."""
        return self.transform.scaled(self.series.values)

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
                                  "interval_factors"})

    def make_splits(self, ctx: ForecastContext):
        """Windows (N, W, 1) and targets (N, H) of each range (scaled); training windows end
        before the validation range (``train_on_val``, ``refit``: before the test range)."""
        cfg = ctx.task_cfg
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
            x, y = ctx.transform.windows(ctx.z, origins, cfg.window, cfg.horizon)
            out[split] = {"x": torch.as_tensor(x, dtype=torch.float32).unsqueeze(-1),
                          "y": torch.as_tensor(y, dtype=torch.float32)}  # (N, W, 1), (N, H)
        return out

    def model_args(self, ctx: ForecastContext) -> dict[str, Any]:
        return {"input_size": 1, "output_size": 1, "horizon": ctx.task_cfg.horizon,
                "quantiles": list(LEVELS)}

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
        return errors

    def info(self, ctx: ForecastContext, model) -> dict[str, Any]:
        return {**super().info(ctx, model), "transform": ctx.transform.to_dict()}

    def extra_metrics(self, ctx: ForecastContext, model, split: str) -> dict[str, Any]:
        return evaluate_split(model, ctx, split) if split in ("val", "test") else {}

    def after_training(self, ctx: ForecastContext, model, run_dir) -> None:
        """report.md: the test figures against the baselines, and the plot."""
        forecast_section(model, ctx, run_dir)

    def predictor(self, ctx, model, info, run_dir=None):
        return ForecastPredictor(self, ctx, model, info, run_dir)


class ForecastPredictor(Predictor):
    """Inputs: histories in original units, each a :class:`~rnnkit.data.timeseries.Series`
    (timestamps and values; :meth:`read_file` reads one from a CSV) or values alone (then
    the timestamps are positions). Record: ``"columns"``: ``timestamp`` (str), ``forecast``,
    ``lower_80``, ``upper_80``, ``lower_95``, ``upper_95`` for the ``horizon`` points after
    the history; ``"method"`` (``direct`` within the model's horizon, ``sample paths``
    past it), ``"points"`` (the history's length), ``"history"`` (its last points, for the
    plot) and ``"truth"`` where the values after the history are known
    (:meth:`default_inputs`). The transform comes from model.json; the interval factors
    from the model, or (without ``refit``) from the run's validation backtest, which reads
    the run's series."""

    @cached_property
    def transform(self) -> Transform:
        return Transform.from_dict(self.info["transform"])

    @cached_property
    def factors(self) -> dict[int, float]:
        return interval_factors(self.model, self.context)

    @property
    def min_points(self) -> int:
        """The shortest history the model forecasts from."""
        return self.transform.first_origin(self.config.task.window) + 1

    def predict(self, inputs, horizon: int | None = None, samples: int = 1000,
                **options) -> list[dict[str, Any]]:
        """``horizon``: points to forecast (default: the model's); ``samples``: sample paths
        when it exceeds the model's horizon."""
        if isinstance(inputs, Series) or (isinstance(inputs, (list, tuple, np.ndarray))
                                          and len(inputs) and np.isscalar(inputs[0])):
            raise TaskError("predict takes a list of histories; wrap one in a list")
        horizon = self.model.horizon if horizon is None else horizon
        if horizon < 1 or samples < 1:
            raise TaskError(f"horizon ({horizon}) and samples ({samples}) must be >= 1")
        return [self._record(as_series(h, f"history {i}"), horizon, samples)
                for i, h in enumerate(inputs)]

    @torch.no_grad()
    def _record(self, history: Series, horizon: int, samples: int) -> dict[str, Any]:
        result = forecast_history(self.model, self.transform, self.config.task.window,
                                  self.factors, history.values, horizon, samples)
        shown = max(3 * horizon, 60)
        record: dict[str, Any] = {
            "points": len(history), "horizon": horizon,
            "method": "direct" if horizon <= self.model.horizon else "sample paths",
            "columns": {"timestamp": time_labels(future_times(history.timestamps, horizon)),
                        **{k: [float(v) for v in result[k]] for k in COLUMNS}},
            "history": {"timestamp": time_labels(history.timestamps[-shown:]),
                        "value": [float(v) for v in history.values[-shown:]]}}
        if record["method"] == "sample paths":
            record["samples"] = samples
        future = getattr(history, "future", None)
        if future is not None and len(future):
            record["truth"] = [float(v) for v in future[:horizon]]
        return record

    def read_file(self, path, repair: str | None = None, **options) -> list[Series]:
        """One history from a CSV, read with the run's column names and ``repair``
        (default: the run's ``task.repair``)."""
        return [read_input(path, self.config.task, repair)]

    def default_inputs(self) -> list[History]:
        """The run's series up to the test range, with the test range as its future."""
        ctx = self.context
        s, n = ctx.series, ctx.test_start
        return [History(s.timestamps[:n], s.values[:n], s.name, future=s.values[n:])]

    def stream(self, horizon: int | None = None, samples: int = 1000, **options) -> Stream:
        return ForecastStream(self, horizon, samples)

    def plot(self, record: dict[str, Any], path) -> Path:
        """History, truth (where known), the forecast and its 80%/95% intervals."""
        cols, hist = record["columns"], record["history"]
        name = self.run_dir.name if self.run_dir else self.config.name
        return plot_forecast(path, parse_times(hist["timestamp"]),
                             np.array(hist["value"], dtype=float),
                             parse_times(cols["timestamp"]),  # null (non-finite): a gap
                             {k: np.array(cols[k], dtype=float) for k in COLUMNS},
                             record.get("truth"), title=f"{name}: {record['horizon']} steps "
                             "ahead")

    def write_report(self) -> Path:
        if self.run_dir is None:
            raise TaskError("write_report needs the predictor of a run directory")
        return forecast_section(self.model, self.context, self.run_dir)


class ForecastStream(Stream):
    """``push(value)`` or ``push((timestamp, value))`` appends an observation and returns
    the forecast from the history so far (the record :meth:`ForecastPredictor.predict`
    returns for it); until the history is long enough, ``{"points", "needs",
    "columns": None}`` (``needs``: how many more points)."""

    def __init__(self, predictor: ForecastPredictor, horizon: int | None, samples: int):
        self.predictor, self.horizon, self.samples = predictor, horizon, samples
        self.reset()

    def reset(self) -> None:
        self.times: list = []
        self.values: list[float] = []

    def push(self, x_t) -> dict[str, Any]:
        timed = isinstance(x_t, (tuple, list))
        if self.values and timed != bool(self.times):
            raise TaskError("push (timestamp, value) pairs or values alone, not both")
        if timed:
            t, x_t = x_t
            self.times.append(np.datetime64(t))
        self.values.append(float(x_t))
        n = len(self.values)
        if n < self.predictor.min_points:
            return {"points": n, "needs": self.predictor.min_points - n, "columns": None}
        history = (Series(np.array(self.times), np.array(self.values)) if self.times
                   else np.array(self.values))
        return self.predictor.predict([history], self.horizon, self.samples)[0]


register(ForecastTask())
