"""Anomaly detection from one-step forecast errors (task ``anomaly``).

A :class:`~rnnkit.models.Forecaster` (horizon 1, Gaussian or quantile head) learns normal
behaviour on the training range: from the recurrent state after point t it predicts point
t+1 with a spread. The raw score of a point is its absolute standardised error
``|x - mean| / std``; the anomaly score is its trailing mean over ``smooth`` points
(:mod:`rnnkit.tasks.timeseries.detector`). The threshold is ``threshold_factor`` times the
highest score on the calibration range (the end of the training range, held out from
fitting). An alarm starts at a point scoring above the threshold and
(:class:`~rnnkit.tasks.timeseries.detector.Alarm`) lasts until the score has stayed at or
below the release level ``release_factor x threshold`` for more than ``hold`` points:
``release_factor < 1`` is hysteresis (no flicker around the threshold), ``hold > 0`` an
off-delay that keeps one incident one alarm event. The defaults (1.0, 0) give plain
``score > threshold``.

Why forecast error rather than an autoencoder's reconstruction error
(``benchmarks/anomaly_autoencoder.py`` compares them; figures in benchmarks/RESULTS.md):
the forecaster's errors are in units of its own predicted spread, so one threshold serves
quiet and busy periods alike, and its state is carried point by point, so it scores a
stream from its first point (identical scores to the batch pass) where an autoencoder
needs a full window first.

Ranges: [0, fit_end) fits the model, [fit_end, train_end) validates it and calibrates the
threshold, [train_end, N) is scored against NAB's labelled windows (``evaluate``).

Predictor (:class:`AnomalyPredictor`): ``predict(series, stream=False)`` -> one record per
series with ``"columns"``: ``timestamp, value, score, is_anomaly``; ``stream()`` scores
points one at a time.
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
from .predictor import Predictor, Stream
from .timeseries.detector import (
    StreamingDetector,
    alarm,
    batch_scores,
    evaluate_detection,
    features,
    labelled_windows,
    threshold,
)
from .timeseries.intervals import LEVELS
from .timeseries.report import detection_section, plot_detection
from .timeseries.source import (
    SeriesSourceConfig,
    as_series,
    load_source,
    parse_times,
    read_input,
    time_labels,
)


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


class AnomalyContext(Context):
    """The run's series, its ranges and the scaler fitted on the fit range."""

    @cached_property
    def series(self) -> Series:
        return load_source(self.task_cfg)

    @cached_property
    def bounds(self) -> tuple[int, int]:
        """(fit_end, train_end): [0, fit_end) fits, [fit_end, train_end) calibrates."""
        cfg, n = self.task_cfg, len(self.series)
        train_end = int(cfg.train_size) if cfg.train_size >= 1 else int(n * cfg.train_size)
        fit_end = train_end - int(train_end * cfg.calib_size)
        if not cfg.window < fit_end < train_end < n:
            raise TaskError(f"training range {train_end} (fit {fit_end}) does not fit a "
                            f"series of {n} points with window {cfg.window}")
        return fit_end, train_end

    @property
    def fit_end(self) -> int:
        return self.bounds[0]

    @property
    def train_end(self) -> int:
        return self.bounds[1]

    @cached_property
    def scaler(self) -> Scaler:
        return Scaler(self.task_cfg.scaler).fit(self.series.values[:self.fit_end])

    def features(self, series: Series) -> np.ndarray:
        """(N, F) model inputs of ``series`` (:func:`~.timeseries.detector.features`)."""
        return features(series, self.scaler, self.task_cfg.calendar)


class AnomalyTask(Task):
    name = "anomaly"
    config_class = AnomalyConfig
    model_class = "Forecaster"
    context_class = AnomalyContext
    capabilities = frozenset({"detect", "stream", "plot", "report"})
    fixed_model_args = frozenset({"input_size", "output_size", "horizon", "mode", "quantiles",
                                  "interval_factors"})

    def make_splits(self, ctx: AnomalyContext):
        """Windows (N, W, F) and the next point's scaled value (N, 1), every window and its
        target inside its range (val and test windows start ``window`` points early)."""
        feats = ctx.features(ctx.series)
        w = ctx.task_cfg.window
        ranges = {"train": (0, ctx.fit_end), "val": (ctx.fit_end - w, ctx.train_end),
                  "test": (ctx.train_end - w, len(feats))}
        out = {}
        for split, (start, end) in ranges.items():
            starts = np.arange(start, end - w)  # target start + w < end: inside the range
            idx = starts[:, None] + np.arange(w)[None, :]
            x = torch.as_tensor(feats[idx], dtype=torch.float32)  # (N, W, F)
            y = torch.as_tensor(feats[starts + w, :1], dtype=torch.float32)  # (N, 1)
            out[split] = {"x": x, "y": y}
        return out

    def model_args(self, ctx: AnomalyContext) -> dict[str, Any]:
        return {"input_size": 5 if ctx.task_cfg.calendar else 1, "output_size": 1,
                "horizon": 1, "mode": "direct", "quantiles": list(LEVELS)}

    def check(self, cfg) -> list[str]:
        errors = super().check(cfg)
        if cfg.model.options.get("output", "point") not in ("gaussian", "quantile"):
            errors.append("model.output: the anomaly score needs a spread; use \"gaussian\" "
                          "or \"quantile\"")
        if cfg.model.bidirectional:
            errors.append("model.bidirectional: a streaming detector reads forward only")
        return errors

    def info(self, ctx: AnomalyContext, model) -> dict[str, Any]:
        return {**super().info(ctx, model), "scaler": ctx.scaler.to_dict()}

    def extra_metrics(self, ctx: AnomalyContext, model, split: str) -> dict[str, Any]:
        return evaluate_detection(model, ctx) if split == "test" else {}

    def after_training(self, ctx: AnomalyContext, model, run_dir) -> None:
        """report.md: the labelled-window figures against the baseline, and the plot."""
        detection_section(model, ctx, run_dir)

    def predictor(self, ctx, model, info, run_dir=None):
        return AnomalyPredictor(self, ctx, model, info, run_dir)


class AnomalyPredictor(Predictor):
    """Inputs: series (:class:`~rnnkit.data.timeseries.Series`; :meth:`read_file` reads
    one from a CSV; values alone where the run has no calendar features). Record:
    ``"columns"``: ``timestamp`` (str), ``value``, ``score``, ``is_anomaly`` per point;
    ``"threshold"``, ``"alarm_points"`` and ``"windows"`` (the run's labelled windows as
    inclusive point indices, where known). The scaler comes from model.json; the threshold
    from the run's calibration range, which reads the run's series."""

    @cached_property
    def scaler(self) -> Scaler:
        return Scaler.from_dict(self.info["scaler"])

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
        series = as_series(data, f"series {i}")
        if self.config.task.calendar and \
                not np.issubdtype(series.timestamps.dtype, np.datetime64):
            raise TaskError(f"series {i}: the run reads calendar features; give timestamps "
                            "(a Series, or read_file(csv))")
        return series

    def _record(self, series: Series, stream: bool) -> dict[str, Any]:
        if stream:
            s = self.stream()
            pairs = [s.push((t, v)) for t, v in zip(series.timestamps, series.values)]
            scores = np.array([p["score"] for p in pairs])
            alarms = np.array([p["alarm"] for p in pairs], dtype=bool)
        else:
            cfg = self.config.task
            scores = batch_scores(self.model, features(series, self.scaler, cfg.calendar),
                                  cfg.smooth)
            alarms = alarm(cfg, self.threshold).run(scores)
        windows = labelled_windows(self.context, series.timestamps) \
            if np.issubdtype(series.timestamps.dtype, np.datetime64) else None
        return {"columns": {"timestamp": time_labels(series.timestamps),
                            "value": [float(v) for v in series.values],
                            "score": [float(v) for v in scores],
                            "is_anomaly": [bool(a) for a in alarms]},
                "threshold": self.threshold, "alarm_points": int(alarms.sum()),
                "windows": [list(w) for w in windows or []]}

    def read_file(self, path, repair: str | None = None, **options) -> list[Series]:
        """One series from a CSV, read with the run's column names and ``repair``
        (default: the run's ``task.repair``)."""
        return [read_input(path, self.config.task, repair)]

    def default_inputs(self) -> list[Series]:
        """The run's whole series."""
        return [self.context.series]

    def stream(self, **options) -> AnomalyStream:
        return AnomalyStream(self)

    def plot(self, record: dict[str, Any], path) -> Path:
        """Values with alarms marked and labelled windows shaded; the score and threshold."""
        cols = record["columns"]
        name = self.run_dir.name if self.run_dir else self.config.name
        return plot_detection(path, parse_times(cols["timestamp"]),
                              np.array(cols["value"], dtype=float),
                              np.array(cols["score"], dtype=float),  # null: a gap
                              np.array(cols["is_anomaly"], bool),
                              record["threshold"], [tuple(w) for w in record["windows"]],
                              title=name)

    def write_report(self) -> Path:
        if self.run_dir is None:
            raise TaskError("write_report needs the predictor of a run directory")
        return detection_section(self.model, self.context, self.run_dir)


class AnomalyStream(Stream):
    """``push((timestamp, value))`` (a value alone without calendar features) scores the
    next point, carrying the recurrent state: ``{"timestamp", "value", "score", "alarm"}``,
    the same scores and alarms as the batch pass over the points pushed so far."""

    def __init__(self, predictor: AnomalyPredictor):
        self.predictor = predictor
        self.reset()

    def reset(self) -> None:
        p, cfg = self.predictor, self.predictor.config.task
        self.points = 0
        self.detector = StreamingDetector(p.model, p.scaler, cfg.calendar, cfg.smooth,
                                          p.threshold, alarm(cfg, p.threshold))

    def push(self, x_t) -> dict[str, Any]:
        if isinstance(x_t, (tuple, list)):
            t, value = x_t
            label = time_labels([t])[0]
        elif self.predictor.config.task.calendar:
            raise TaskError("the run reads calendar features: push (timestamp, value)")
        else:  # no calendar features: the time is never read
            t, value, label = np.datetime64(self.points, "s"), x_t, str(self.points)
        score, on = self.detector.update(t, float(value))
        self.points += 1
        return {"timestamp": label, "value": float(value), "score": float(score),
                "alarm": bool(on)}


register(AnomalyTask())
