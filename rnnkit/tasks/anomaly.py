"""Anomaly detection from one-step forecast errors (task ``anomaly``).

A :class:`~rnnkit.models.Forecaster` (horizon 1, Gaussian or quantile head) learns normal
behaviour on the training range: from the recurrent state after point t it predicts point
t+1 with a spread. The raw score of a point is its absolute standardised error
``|x - mean| / std``; the anomaly score is its trailing mean over ``smooth`` points
(:mod:`rnnkit.tasks.timeseries.detector`). The threshold is ``threshold_factor`` times the
highest score on the calibration range (the end of the training range, held out from
fitting). An alarm (:class:`~rnnkit.tasks.timeseries.detector.Alarm`) starts at a point
scoring above the threshold and lasts until the score has stayed at or below the release
level ``release_factor x threshold`` for more than ``hold`` points: ``release_factor < 1``
is hysteresis (no flicker around the threshold), ``hold > 0`` an off-delay that keeps one
incident one alarm event. The defaults (1.0, 0) give plain ``score > threshold``.

Why forecast error rather than an autoencoder's reconstruction error
(``benchmarks/anomaly_autoencoder.py`` compares them; figures in benchmarks/RESULTS.md):
the forecaster's errors are in units of its own predicted spread, so one threshold serves
quiet and busy periods alike, and its state is carried point by point, so it scores a
stream from its first point (identical scores to the batch pass) where an autoencoder
needs a full window first.

Ranges: [0, fit_end) fits the model, [fit_end, train_end) validates it and calibrates the
threshold, [train_end, N) is scored against NAB's labelled windows (``evaluate``). A user's
CSV (``task.data``, or consecutive parts: ``train_data`` = the training range, ``val_data``
= its calibration end, ``test_data`` = the scored range) may hold several sensors
(``value_columns``, forecast jointly; per-sensor and combined scores,
:mod:`rnnkit.tasks.timeseries.detector`) and ``covariate_columns`` (read at every step
beside the values).

Predictor: :class:`AnomalyPredictor` (a record per series, a column per point) and its
:meth:`~AnomalyPredictor.stream`. The first ``window + smooth - 1`` points of a series are
its warm-up (:func:`~.timeseries.detector.warmup`): scored, never alarmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.timeseries import Scaler, Series
from ..training.config import choice, number
from .base import Context, Task, TaskError, register
from .datafiles import uses_own_data
from .predictor import Predictor, Stream
from .timeseries.detector import (
    StreamingDetector,
    alarm,
    alarms,
    evaluate_detection,
    features,
    labelled_windows,
    min_points,
    ranges,
    sensor_scores,
    threshold,
    warmup,
)
from .timeseries.intervals import LEVELS
from .timeseries.report import detection_section, plot_detection
from .timeseries.source import (
    SeriesSourceConfig,
    as_series,
    column_names,
    load_labels,
    load_source,
    parse_times,
    pushed_time,
    pushed_value,
    read_input,
    source_errors,
    time_labels,
)
from .timeseries.transform import saved_covariate_scaler, saved_value_columns


@dataclass
class AnomalyConfig(SeriesSourceConfig):
    name: str = "anomaly"
    series: str = "nyc_taxi"  # a NAB series (labelled windows known) or any named series
    train_size: float = number(0.15, 0.0)  # training range: points (>= 1) or a fraction
    calib_size: float = number(0.3, 0.0, 1.0)  # its held-out end (fraction): val + threshold
    window: int = number(96, 2)  # points per training window (from a fresh state)
    scaler: str = choice("standard", *Scaler.KINDS)
    calendar: bool = True  # add time-of-day and day-of-week features
    smooth: int = number(1, 1)  # points in the trailing mean of the raw score
    threshold_factor: float = number(1.0, 0.0)  # threshold = factor * max calibration score
    release_factor: float = number(1.0, 0.0, 1.0)  # alarm ends at or below factor * threshold
    hold: int = number(0, 0)  # points an alarm stays on after the score fell to the release
    label_column: str = "label"  # a user's 0/1 column marking anomalous points (not a
    # sensor): its runs of 1 are the labelled windows evaluate scores; read where present


class AnomalyContext(Context):
    """The run's series, its ranges and the scalers fitted on the fit range (a trained
    run's own from its model.json, ``saved``, whatever the series is now)."""

    @cached_property
    def source(self) -> tuple[Series, dict[str, int]]:
        return load_source(self.task_cfg)

    @property
    def series(self) -> Series:
        return self.source[0]

    @cached_property
    def labels(self) -> np.ndarray | None:
        """A user's per-point labels (``task.label_column``; None: the files have none, or
        a named series, whose windows are NAB's)."""
        cfg = self.task_cfg
        return load_labels(cfg, cfg.label_column, *self.source) if uses_own_data(cfg) \
            else None

    @cached_property
    def bounds(self) -> tuple[int, int]:
        """(fit_end, train_end): [0, fit_end) fits, [fit_end, train_end) calibrates."""
        cfg, n = self.task_cfg, len(self.series)
        fit_end, train_end = ranges(cfg, n, self.source[1])
        if not cfg.window < fit_end < train_end < n:
            need = min_points(cfg, self.source[1])
            raise TaskError(
                f"{cfg.data or cfg.train_data or cfg.series}: {n} points; window "
                f"{cfg.window} needs at least {need or 'more'}: a training range whose "
                f"first part (more than the window) fits the model and whose last "
                f"task.calib_size calibrates the threshold, and points after it to score "
                f"(here: training range {train_end}, fit {fit_end})")
        return fit_end, train_end

    @property
    def fit_end(self) -> int:
        return self.bounds[0]

    @property
    def train_end(self) -> int:
        return self.bounds[1]

    @cached_property
    def scaler(self) -> Scaler:
        if "scaler" in self.saved:
            return Scaler.from_dict(self.saved["scaler"])
        return Scaler(self.task_cfg.scaler).fit(self.series.values[:self.fit_end])

    @cached_property
    def covariate_scaler(self) -> Scaler | None:
        if "covariate_scaler" in self.saved:
            return saved_covariate_scaler(self.saved)
        cov = self.series.covariates
        return None if cov is None else Scaler("standard").fit(cov[:self.fit_end])

    def features(self, series: Series) -> np.ndarray:
        """(N, F) model inputs of ``series`` (:func:`~.timeseries.detector.features`)."""
        if self.task_cfg.calendar and not np.issubdtype(series.timestamps.dtype, np.datetime64):
            raise TaskError(f"{series.name}: task.calendar = true (the default) reads the "
                            "time of day and week from the times, and this series has step "
                            "numbers; set task.calendar = false (or give dates and times)")
        return features(series, self.scaler, self.task_cfg.calendar, self.covariate_scaler)


class AnomalyTask(Task):
    name = "anomaly"
    config_class = AnomalyConfig
    model_class = "Forecaster"
    context_class = AnomalyContext
    capabilities = frozenset({"detect", "stream", "plot", "report"})
    fixed_model_args = frozenset({"input_size", "output_size", "horizon", "mode", "quantiles",
                                  "interval_factors", "covariates"})
    model_defaults = {"output": "gaussian"}  # (the Forecaster's own default, "point", has
    # no spread)

    def make_splits(self, ctx: AnomalyContext):
        """Windows (N, W, F) and the next point's scaled value (N, 1) (K sensors: the next
        point's scaled values (N, 1, K)), every window and its target inside its range (val
        and test windows start ``window`` points early)."""
        feats = ctx.features(ctx.series)
        w, k = ctx.task_cfg.window, ctx.series.width
        ranges = {"train": (0, ctx.fit_end), "val": (ctx.fit_end - w, ctx.train_end),
                  "test": (ctx.train_end - w, len(feats))}
        out = {}
        for split, (start, end) in ranges.items():
            starts = np.arange(start, end - w)  # target start + w < end: inside the range
            idx = starts[:, None] + np.arange(w)[None, :]
            x = torch.as_tensor(feats[idx], dtype=torch.float32)  # (N, W, F)
            y = torch.as_tensor(feats[starts + w, :k], dtype=torch.float32)  # (N, K)
            out[split] = {"x": x, "y": y if k == 1 else y[:, None]}  # (N, 1) or (N, 1, K)
        return out

    def model_args(self, ctx: AnomalyContext) -> dict[str, Any]:
        k, j = ctx.series.width, len(ctx.series.covariate_columns)
        return {"input_size": k + j + (4 if ctx.task_cfg.calendar else 0), "output_size": k,
                "horizon": 1, "mode": "direct", "quantiles": list(LEVELS)}

    def check(self, cfg) -> list[str]:
        errors = super().check(cfg) + source_errors(
            cfg.task, unread=("split_seed", "val_fraction", "test_fraction"))
        if cfg.model.options.get("output", "point") not in ("gaussian", "quantile"):
            errors.append("model.output: the anomaly score needs a spread; use \"gaussian\" "
                          "or \"quantile\"")
        if cfg.model.bidirectional:
            errors.append("model.bidirectional: a streaming detector reads forward only")
        if cfg.task.label_column in (*cfg.task.value_columns, *cfg.task.covariate_columns):
            errors.append(f"task.label_column = {cfg.task.label_column!r} is also a value or "
                          "covariate column: the labels are not read as data")
        return errors

    def info(self, ctx: AnomalyContext, model) -> dict[str, Any]:
        info = {**super().info(ctx, model), "scaler": ctx.scaler.to_dict(),
                "columns": column_names(ctx.series, ctx.task_cfg)}
        if ctx.covariate_scaler is not None:
            info["covariate_scaler"] = ctx.covariate_scaler.to_dict()
        return info

    def extra_metrics(self, ctx: AnomalyContext, model, split: str) -> dict[str, Any]:
        return evaluate_detection(model, ctx) if split == "test" else {}

    def after_training(self, ctx: AnomalyContext, model, run_dir) -> None:
        """report.md: the labelled-window figures against the baseline, and the plot."""
        detection_section(model, ctx, run_dir)

    def predictor(self, ctx, model, info, run_dir=None):
        return AnomalyPredictor(self, ctx, model, info, run_dir)


class AnomalyPredictor(Predictor):
    """Inputs: series (:class:`~rnnkit.data.timeseries.Series`; :meth:`read_file` reads one
    from a CSV; values alone ((N,), or (N, K) for K sensors) where the run has no calendar
    features or covariates). Record: ``"columns"``: ``timestamp`` (str), ``value``, ``score``,
    ``is_anomaly``, ``warmup`` (in the warm-up: never alarmed) per point (K sensors:
    ``value_<sensor>`` and ``score_<sensor>`` for each, and ``score`` the combined score the
    alarm reads; ``"sensors"`` names them); ``"threshold"``, ``"alarm_points"``,
    ``"warmup_points"`` and ``"windows"`` (the run's labelled windows as inclusive point
    indices, where known). The scalers come from model.json; the threshold from the run's
    calibration range, which reads the run's series."""

    @cached_property
    def scaler(self) -> Scaler:
        return Scaler.from_dict(self.info["scaler"])

    @cached_property
    def covariate_scaler(self) -> Scaler | None:
        return saved_covariate_scaler(self.info)

    @property
    def sensors(self) -> list[str]:
        return saved_value_columns(self.info)

    @cached_property
    def threshold(self) -> float:
        return threshold(self.model, self.context)

    def predict(self, inputs, stream: bool = False, **options) -> list[dict[str, Any]]:
        """``stream=True`` scores each series point by point through :meth:`stream` (the
        same scores as the batch pass, which reads each series at once)."""
        if isinstance(inputs, Series):
            raise TaskError("predict takes a list of series; wrap one in a list")
        return [self._record(self._series(s, i), stream) for i, s in enumerate(inputs)]

    def _series(self, data, i: int) -> Series:
        j = len(self.info.get("columns", {}).get("covariates", []))
        series = as_series(data, f"series {i}", self.model.output_size, j)
        if self.config.task.calendar and \
                not np.issubdtype(series.timestamps.dtype, np.datetime64):
            raise TaskError(f"series {i}: the run reads calendar features; give timestamps "
                            "(a Series, or read_file(csv))")
        if len(series) < 2:
            raise TaskError(f"series {i} ({series.name}): {len(series)} point(s); scoring needs "
                            "at least 2 (the first point has no forecast to score against)")
        return series

    def _record(self, series: Series, stream: bool) -> dict[str, Any]:
        cfg, many = self.config.task, series.width > 1
        if stream:
            s = self.stream()
            cov = series.covariates if series.covariates is not None else [None] * len(series)
            pairs = [s.detector_update(t, v, c)
                     for t, v, c in zip(series.timestamps, series.values, cov)]
            scores = np.array([p[0] for p in pairs])
            found = np.array([p[1] for p in pairs], dtype=bool)
            sensors = np.array([p[2] for p in pairs]).reshape(len(series), -1)
        else:
            feats = features(series, self.scaler, cfg.calendar, self.covariate_scaler)
            scores, sensors = sensor_scores(self.model, feats, cfg.smooth)
            found = alarms(cfg, self.threshold, scores)
        windows = labelled_windows(self.context, series.timestamps) \
            if np.issubdtype(series.timestamps.dtype, np.datetime64) else None
        columns: dict[str, list] = {"timestamp": time_labels(series.timestamps)}
        values = series.values.reshape(len(series), -1)
        for k, name in enumerate(self.sensors if many else ["value"]):
            columns[f"value_{name}" if many else "value"] = [float(v) for v in values[:, k]]
        if many:
            for k, name in enumerate(self.sensors):
                columns[f"score_{name}"] = [float(v) for v in sensors[:, k]]
        columns["score"] = [float(v) for v in scores]
        columns["is_anomaly"] = [bool(a) for a in found]
        columns["warmup"] = [i < warmup(cfg) for i in range(len(series))]
        record = {"columns": columns, "threshold": self.threshold,
                  "alarm_points": int(found.sum()), "warmup_points": min(warmup(cfg), len(series)),
                  "windows": [list(w) for w in windows or []]}
        if many:
            record["sensors"] = list(self.sensors)
        return record

    def read_file(self, path, repair: str | None = None, **options) -> list[Series]:
        """One series from a CSV, read with the run's columns and ``repair`` (default: the
        run's ``task.repair``)."""
        return [read_input(path, self.config.task, self.info.get("columns"), repair)]

    def default_inputs(self) -> list[Series]:
        """The run's whole series."""
        return [self.context.series]

    def stream(self, **options) -> AnomalyStream:
        return AnomalyStream(self)

    def plot(self, record: dict[str, Any], path) -> Path:
        """Values with alarms marked and labelled windows shaded; the score and threshold
        (several sensors: each one's values and score)."""
        cols = record["columns"]
        names = record.get("sensors")
        name = self.run_dir.name if self.run_dir else self.config.name

        def stack(prefix):
            return np.stack([np.array(cols[f"{prefix}_{n}"], dtype=float) for n in names], 1)

        values = stack("value") if names else np.array(cols["value"], dtype=float)
        return plot_detection(path, parse_times(cols["timestamp"]), values,
                              np.array(cols["score"], dtype=float),  # null: a gap
                              np.array(cols["is_anomaly"], bool),
                              record["threshold"], [tuple(w) for w in record["windows"]],
                              title=name, sensors=stack("score") if names else None,
                              names=names, warmup=record["warmup_points"])

    def write_report(self) -> Path:
        if self.run_dir is None:
            raise TaskError("write_report needs the predictor of a run directory")
        return detection_section(self.model, self.context, self.run_dir)


class AnomalyStream(Stream):
    """``push((timestamp, value))`` (a value alone without calendar features; K sensors: K
    values; with covariates ``(timestamp, value, covariates)``) scores the next point,
    carrying the recurrent state: ``{"timestamp", "value", "score", "alarm", "warmup"}`` (K
    sensors: ``value_<sensor>`` and ``score_<sensor>`` for each), the same scores and alarms
    as the batch pass over the points pushed so far (no alarm while ``warmup``)."""

    def __init__(self, predictor: AnomalyPredictor):
        self.predictor = predictor
        self.reset()

    def reset(self) -> None:
        p, cfg = self.predictor, self.predictor.config.task
        self.points = 0
        self.detector = StreamingDetector(p.model, p.scaler, cfg.calendar, cfg.smooth,
                                          p.threshold, alarm(cfg, p.threshold),
                                          p.covariate_scaler, warmup(cfg))

    def detector_update(self, t, value, covariates=None) -> tuple[float, bool, np.ndarray]:
        """(combined score, alarm, per-sensor scores) of the next point."""
        if self.predictor.covariate_scaler is not None and covariates is None:
            raise TaskError("the run reads covariates: push (timestamp, value, covariates)")
        score, on = self.detector.update(t, value, covariates)
        self.points += 1
        return score, on, self.detector.sensors

    def push(self, x_t) -> dict[str, Any]:
        p = self.predictor
        many = p.model.output_size > 1
        cov = None
        if isinstance(x_t, tuple) or (isinstance(x_t, list) and not many):
            if len(x_t) not in (2, 3):
                raise TaskError(f"push: {x_t!r}: give (timestamp, value[, covariates]) or the "
                                "value alone")
            t, value, *rest = x_t
            cov = rest[0] if rest else None
            if p.config.task.calendar:
                t = pushed_time(t)
            label = time_labels([t])[0]
            if not p.config.task.calendar:  # the time is shown, never read
                t = np.datetime64(self.points, "s")
        elif p.config.task.calendar:
            raise TaskError("the run reads calendar features: push (timestamp, value)")
        else:  # no calendar features: the time is never read
            t, value, label = np.datetime64(self.points, "s"), x_t, str(self.points)
        value = pushed_value(value, len(p.sensors) if many else 1)
        score, on, sensors = self.detector_update(t, value, cov)
        out: dict[str, Any] = {"timestamp": label}
        if many:
            values = np.asarray(value, dtype=float).reshape(-1)
            out.update({f"value_{n}": float(v) for n, v in zip(p.sensors, values)})
            out.update({f"score_{n}": float(v) for n, v in zip(p.sensors, sensors)})
        else:
            out["value"] = float(value)
        return {**out, "score": float(score), "alarm": bool(on),
                "warmup": self.detector.in_warmup}


register(AnomalyTask())
