"""The forecast task's predictor (:class:`ForecastPredictor`) and its stream: forecasts with
80%/95% intervals from histories in original units, as records the CLI prints."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...data.timeseries import Scaler, Series
from ..base import TaskError
from ..predictor import Predictor, Stream
from .calibration import interval_factors
from .forecasting import COLUMNS, covariates_needed, forecast_history
from .report import forecast_section, plot_forecast
from .source import (
    History,
    as_series,
    future_times,
    parse_times,
    pushed_time,
    pushed_value,
    read_input,
    time_labels,
)
from .transform import Transform, saved_covariate_scaler, saved_value_columns


class ForecastPredictor(Predictor):
    """Inputs: histories in original units, each a :class:`~rnnkit.data.timeseries.Series`
    (timestamps, values and covariates; :meth:`read_file` reads one from a CSV) or values
    alone ((N,), or (N, K) for K value columns; then the timestamps are positions). Record:
    ``"columns"``: ``timestamp`` (str), ``forecast``, ``lower_80``, ``upper_80``,
    ``lower_95``, ``upper_95`` for the ``horizon`` points after the history (K value
    columns: ``forecast_<column>``, ``lower_80_<column>`` ... for each, and ``"targets"``
    names them); ``"method"`` (``direct`` within the model's horizon, ``sample paths``
    past it), ``"points"`` (the history's length), ``"history"`` (its last points, for the
    plot) and ``"truth"`` where the values after the history are known
    (:meth:`default_inputs`). A run with covariates needs them for the points it forecasts
    (:func:`~.forecasting.covariates_needed`): a CSV gives them as rows after the history
    with the values blank. The transform comes from model.json; the interval
    factors from the model, or (without ``refit``) from the run's validation backtest,
    which reads the run's series."""

    @cached_property
    def transform(self) -> Transform:
        return Transform.from_dict(self.info["transform"])

    @cached_property
    def covariate_scaler(self) -> Scaler | None:
        return saved_covariate_scaler(self.info)

    @property
    def targets(self) -> list[str]:
        """The value columns the model forecasts."""
        return saved_value_columns(self.info)

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
        check_counts(horizon, samples)
        width, j = self.model.output_size, getattr(self.model, "covariates", 0)
        return [self._record(as_series(h, f"history {i}", width, j), f"history {i}", horizon,
                             samples) for i, h in enumerate(inputs)]

    @torch.no_grad()
    def _record(self, history: Series, what: str, horizon: int,
                samples: int) -> dict[str, Any]:
        cfg = self.config.task
        if len(history) < self.min_points:
            lag = " after a season of differences" if self.transform.lag else ""
            raise TaskError(f"{what} ({history.name}): {len(history)} points; the model "
                            f"forecasts from at least {self.min_points} (a window of "
                            f"{cfg.window}{lag})")
        zc = None
        if self.covariate_scaler is not None:
            need = covariates_needed(self.model.horizon, horizon)
            if history.ahead < need:
                raise TaskError(f"{what} ({history.name}): covariates known for "
                                f"{history.ahead} points after the history; forecasting "
                                f"{horizon} needs {need} (rows after the last value, with the "
                                "values blank and the covariates given)")
            zc = self.covariate_scaler.transform(history.covariates)
        result = forecast_history(self.model, self.transform, cfg.window, self.factors,
                                  history.values, horizon, samples, zc=zc)
        shown = max(3 * horizon, 60)
        names = self.targets if history.width > 1 else [""]
        cols = {"timestamp": time_labels(future_times(history.timestamps, horizon))}
        hist = {"timestamp": time_labels(history.timestamps[-shown:])}
        values = history.values.reshape(len(history), -1)[-shown:]
        for k, name in enumerate(names):
            for key in COLUMNS:
                cols[suffixed(key, name)] = [float(v) for v in
                                             result[key].reshape(horizon, -1)[:, k]]
            hist[suffixed("value", name)] = [float(v) for v in values[:, k]]
        record: dict[str, Any] = {
            "points": len(history), "horizon": horizon,
            "method": "direct" if horizon <= self.model.horizon else "sample paths",
            "columns": cols, "history": hist}
        if history.width > 1:
            record["targets"] = names
        if record["method"] == "sample paths":
            record["samples"] = samples
        future = getattr(history, "future", None)
        if future is not None and len(future):
            truth = future[:horizon].reshape(len(future[:horizon]), -1)
            record["truth"] = ([float(v) for v in truth[:, 0]] if history.width == 1 else
                               {name: [float(v) for v in truth[:, k]]
                                for k, name in enumerate(names)})
        return record

    def read_file(self, path, repair: str | None = None, **options) -> list[Series]:
        """One history from a CSV, read with the run's columns and ``repair`` (default: the
        run's ``task.repair``)."""
        return [read_input(path, self.config.task, self.info.get("columns"), repair)]

    def default_inputs(self) -> list[History]:
        """The run's series up to the test range (with the covariates known after it), the
        test range as its future."""
        ctx = self.context
        s, n = ctx.series, ctx.test_start
        return [History(s.timestamps[:n], s.values[:n], s.name, s.columns, s.covariates,
                        s.covariate_columns, future=s.values[n:])]

    def stream(self, horizon: int | None = None, samples: int = 1000, covariates=None,
               **options) -> Stream:
        """``covariates`` (a run with covariates): their values (M, J) from the first
        point pushed on, known at least as far as each forecast reads."""
        check_counts(1 if horizon is None else horizon, samples)
        return ForecastStream(self, horizon, samples, covariates)

    def plot(self, record: dict[str, Any], path) -> Path:
        """History, truth (where known), the forecast and its 80%/95% intervals; one panel
        per value column."""
        cols, hist = record["columns"], record["history"]
        names = record.get("targets", [""])
        truth = record.get("truth")
        name = self.run_dir.name if self.run_dir else self.config.name
        panels = [(n or None, np.array(hist[suffixed("value", n)], dtype=float),
                   {k: np.array(cols[suffixed(k, n)], dtype=float) for k in COLUMNS},
                   truth.get(n) if isinstance(truth, dict) else truth) for n in names]
        return plot_forecast(path, parse_times(hist["timestamp"]), parse_times(
            cols["timestamp"]), panels, title=f"{name}: {record['horizon']} steps ahead")

    def write_report(self) -> Path:
        if self.run_dir is None:
            raise TaskError("write_report needs the predictor of a run directory")
        return forecast_section(self.model, self.context, self.run_dir)


def suffixed(key: str, column: str) -> str:
    """A record column's name: ``key`` for a one-column run, ``key_<column>`` else."""
    return f"{key}_{column}" if column else key


def check_counts(horizon, samples) -> None:
    for name, v in (("horizon", horizon), ("samples", samples)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise TaskError(f"{name} = {v!r}: must be a whole number >= 1")


class ForecastStream(Stream):
    """``push(value)`` or ``push((timestamp, value))`` (K value columns: K values) appends
    an observation and returns the forecast from the history so far (the record
    :meth:`ForecastPredictor.predict` returns for it); until the history is long enough,
    ``{"points", "needs", "columns": None}`` (``needs``: how many more points)."""

    def __init__(self, predictor: ForecastPredictor, horizon: int | None, samples: int,
                 covariates=None):
        self.predictor, self.horizon, self.samples = predictor, horizon, samples
        self.covariates = None if covariates is None else np.asarray(covariates, float)
        if predictor.covariate_scaler is not None and self.covariates is None:
            raise TaskError("the run reads covariates: stream(covariates=...) gives their "
                            "values, from the first point pushed on")
        self.reset()

    def reset(self) -> None:
        self.times: list = []
        self.values: list = []

    def push(self, x_t) -> dict[str, Any]:
        width = self.predictor.model.output_size
        timed = isinstance(x_t, tuple) or (isinstance(x_t, list) and width == 1)
        if self.values and timed != bool(self.times):
            raise TaskError("push (timestamp, value) pairs or values alone, not both")
        if timed:
            if len(x_t) != 2:
                raise TaskError(f"push: {x_t!r}: give (timestamp, value) or the value alone")
            given, x_t = x_t
            t = pushed_time(given, steps=True)
            if self.times and (t.dtype.kind in "if") != (self.times[0].dtype.kind in "if"):
                before = "step numbers" if self.times[0].dtype.kind in "if" else "dates"
                raise TaskError(f"push: {given!r}: the times pushed before are {before}; "
                                "push the same kind")
        value = pushed_value(x_t, width)
        if timed:
            self.times.append(t)
        self.values.append(value)
        n = len(self.values)
        if n < self.predictor.min_points:
            return {"points": n, "needs": self.predictor.min_points - n, "columns": None}
        values = np.array(self.values)
        t = np.array(self.times) if self.times else np.arange(n)
        history = Series(t, values) if self.covariates is None else Series(
            t, values, covariates=self.covariates)
        return self.predictor.predict([history], self.horizon, self.samples)[0]
