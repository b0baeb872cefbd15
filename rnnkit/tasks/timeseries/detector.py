r"""Anomaly scores from one-step forecast errors, and the alarm rule.

A :class:`~rnnkit.models.Forecaster` (horizon 1, with a spread) reads the features of a
series point by point (:meth:`Forecaster.one_step <rnnkit.models.Forecaster.one_step>`,
state carried): after point t it forecasts point t+1. The raw score of point t+1 is its
absolute standardised error ``|x - point| / std`` (``std``: the Gaussian matched to the
forecast's 80%/95% intervals); the anomaly score is its trailing mean over ``smooth``
points (point 0, which has no forecast, scores 0). :class:`Alarm` turns scores into alarms
after the warm-up (:func:`warmup`): the first points are scored, never alarmed.
:func:`batch_scores` scores a whole series in one pass, :class:`StreamingDetector` one point
at a time with the same numbers.

Several sensors (K value columns, forecast jointly): each sensor's raw score is its own
standardised error :math:`z_k`, and the combined raw score is their root mean square
:math:`\sqrt{\tfrac1K \sum_k z_k^2}` (one sensor: :math:`|z|`), so one sensor far off
raises it as does a smaller shift in all of them; each is smoothed the same way, and the
alarm reads the combined score (:func:`sensor_scores`).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ...data.datasets import DataError
from ...data.timeseries import Scaler, Series
from ...models.forecast_outputs import Forecast
from ..datafiles import uses_own_data
from .events import event_scores, events, nab_windows, window_indices
from .intervals import bands_from

if TYPE_CHECKING:
    from ..anomaly import AnomalyConfig, AnomalyContext

DAY, WEEK = 86400.0, 7 * 86400.0
_PERIODS = np.array([DAY, WEEK])


def features(series: Series, scaler: Scaler, calendar: bool,
             covariates: Scaler | None = None) -> np.ndarray:
    """(N, F): the scaled values (K columns), the scaled covariates (with a
    ``covariates`` scaler), then (calendar) sin/cos of the time of day and week."""
    cov = None if covariates is None else series.covariates[:len(series)]
    return feature_rows(series.timestamps, series.values, cov, scaler, calendar, covariates)


def feature_rows(timestamps: np.ndarray, values: np.ndarray, cov: np.ndarray | None,
                 scaler: Scaler, calendar: bool, covariates: Scaler | None) -> np.ndarray:
    """:func:`features` of raw arrays: timestamps (N,), values (N,) or (N, K), covariates
    (N, J) or None (a stream's point reads these without building a Series)."""
    v = scaler.transform(values)
    cols = [v[:, None] if v.ndim == 1 else v]
    if covariates is not None:
        cols.append(covariates.transform(cov))
    if calendar:
        sec = (timestamps - np.datetime64(0, "s")).astype("timedelta64[s]")
        angle = (2 * np.pi * sec.astype(np.float64))[:, None] / _PERIODS  # (N, 2)
        cols.append(np.stack([np.sin(angle), np.cos(angle)], axis=2).reshape(-1, 4))
    return np.concatenate(cols, axis=1, dtype=np.float64)


def raw_scores(forecast: Forecast, targets: np.ndarray) -> np.ndarray:
    """|target - point| / spread of one-step forecasts (:meth:`Forecaster.one_step` of one
    sequence: fields (1, N, 1, K[, Q])) and their ``targets`` (N,), or (N, K) -> (N, K)."""
    n, k = len(targets), 1 if targets.ndim == 1 else targets.shape[1]

    def flat(v):
        return None if v is None else v.detach().cpu().numpy().astype(float).reshape(n, k, -1)

    return raw_from(flat(forecast.point), flat(forecast.quantiles), forecast.levels,
                    flat(forecast.std), targets)


def raw_from(point: np.ndarray, quantiles: np.ndarray | None, levels, std: np.ndarray | None,
             targets: np.ndarray) -> np.ndarray:
    """:func:`raw_scores` of a forecast's arrays (N, K, 1 or Q), float64."""
    bands = bands_from(point, quantiles, levels, std)
    if targets.ndim == 1:
        return np.abs(targets - bands.point[:, 0]) / bands.std()[:, 0]
    return np.abs(targets - bands.point) / bands.std()


def combined(raw: np.ndarray) -> np.ndarray:
    """The combined raw score (N,) of per-sensor raw scores (N, K): their root mean square
    (one sensor: the score itself)."""
    return raw[:, 0] if raw.shape[1] == 1 else np.sqrt(np.mean(raw ** 2, axis=1))


def smooth_scores(raw: np.ndarray, k: int) -> np.ndarray:
    """Trailing mean over k points (fewer at the start)."""
    c = np.concatenate([[0.0], np.cumsum(raw)])
    i = np.arange(1, len(raw) + 1)
    lo = np.maximum(i - k, 0)
    return (c[i] - c[lo]) / (i - lo)


@torch.no_grad()
def sensor_scores(model, feats: np.ndarray, smooth: int) -> tuple[np.ndarray, np.ndarray]:
    """(combined (N,), per sensor (N, K)) smoothed scores of every point of a series'
    features (N, F) (the first K the sensors' values), its state carried from the first
    point."""
    model.eval()
    k = model.output_size
    x = torch.as_tensor(feats, dtype=torch.float32, device=_device(model))[None]  # (1, N, F)
    forecast, _ = model.one_step(x)  # fields (1, N, 1, K[, Q])
    raw = raw_scores(_first(forecast, len(feats) - 1), feats[1:, :k])  # (N - 1, K)
    raw = np.concatenate([np.zeros((1, k)), raw])
    return (smooth_scores(combined(raw), smooth),
            np.stack([smooth_scores(raw[:, i], smooth) for i in range(k)], axis=1))


def batch_scores(model, feats: np.ndarray, smooth: int) -> np.ndarray:
    """The combined scores (N,) of :func:`sensor_scores`."""
    return sensor_scores(model, feats, smooth)[0]


class Alarm:
    """The alarm state machine, one score at a time: off -> on when ``score > threshold``;
    on -> off once the score has been ``<= release`` for more than ``hold`` consecutive
    points (points in that hold are still alarm points). ``release = threshold, hold = 0``
    is plain ``score > threshold``."""

    def __init__(self, threshold: float, release: float | None = None, hold: int = 0):
        release = threshold if release is None else release
        if release > threshold or hold < 0:
            raise ValueError(f"need release <= threshold and hold >= 0, got release "
                             f"{release}, threshold {threshold}, hold {hold}")
        self.threshold, self.release, self.hold = threshold, release, hold
        self.on, self.quiet = False, 0

    def update(self, score: float) -> bool:
        if not self.on:
            self.on, self.quiet = score > self.threshold, 0
        elif score <= self.release:
            self.quiet += 1
            self.on = self.quiet <= self.hold
        else:
            self.quiet = 0
        return self.on

    def run(self, scores: np.ndarray) -> np.ndarray:
        """Alarms (N,) bool of a whole score series, from the current state."""
        return np.array([self.update(float(v)) for v in scores], dtype=bool)


class StreamingDetector:
    """Scores points one at a time, carrying the recurrent state (same scores and alarms as
    :func:`sensor_scores` and :func:`alarms`). ``update(timestamp, value, covariates)
    -> (score, is_anomaly)`` (``value``: K values for K sensors; ``covariates``: J values,
    with a ``covariates`` scaler); ``sensors`` then holds the per-sensor scores (K,);
    ``alarm`` (default: plain ``score > threshold``) decides the alarms after the first
    ``warmup`` points (default 0), which are never alarmed (``in_warmup``: the last point
    was one of them).

    Each point is one step of the model (:meth:`Forecaster.one_step` at T = 1, the
    encoder's step mode), and the trailing means are differences of running sums kept as
    :func:`smooth_scores` keeps them (the same additions in the same order), so a point
    costs the same however long ``smooth`` is."""

    def __init__(self, model, scaler: Scaler, calendar: bool, smooth: int, threshold: float,
                 alarm: Alarm | None = None, covariates: Scaler | None = None,
                 warmup: int = 0):
        self.model, self.scaler, self.calendar = model.eval(), scaler, calendar
        self.covariates, self.warmup, self.points, self.in_warmup = covariates, warmup, 0, True
        self.threshold, self.state, self.forecast = threshold, None, None
        self.alarm = alarm or Alarm(threshold)
        k = model.output_size
        # running sums of the combined and per-sensor raw scores, the last smooth + 1 kept:
        # the trailing mean over the last n <= smooth points is (sums[-1] - sums[0]) / n
        self.sums: deque[float] = deque([0.0], maxlen=smooth + 1)
        self.sensor_sums: deque[np.ndarray] = deque([np.zeros(k)], maxlen=smooth + 1)
        self.sensors = np.zeros(k)
        self._device = _device(model)
        self._shape = (1,) if k == 1 else (1, k)
        # a direct Forecaster steps through its encoder's step mode (Forecaster.step); any
        # other model (an ensemble) through one_step
        self._step = getattr(model, "step", None) if getattr(model, "mode", "") == "direct" \
            else None

    @torch.no_grad()
    def update(self, timestamp, value, covariates=None) -> tuple[float, bool]:
        k = self.model.output_size
        values = np.array([value], dtype=np.float64).reshape(self._shape)
        cov = None if covariates is None else np.asarray(covariates, np.float64).reshape(1, -1)
        stamp = np.array([timestamp]).astype("datetime64[s]")
        feats = feature_rows(stamp, values, cov, self.scaler, self.calendar,
                             self.covariates)  # (1, F)
        raw = np.zeros((1, k))
        if self.forecast is not None:  # the forecast of this point, made after the last
            raw = raw_from(*self.forecast, feats[:1, :k]).reshape(1, k)
        self.sums.append(self.sums[-1] + float(combined(raw)[0]))
        self.sensor_sums.append(self.sensor_sums[-1] + raw[0])
        n = len(self.sums) - 1
        x = torch.from_numpy(feats.astype(np.float32))  # (1, F)
        if self._device.type != "cpu":
            x = x.to(self._device)
        self.forecast, self.state = self._forecast(x)
        score = (self.sums[-1] - self.sums[0]) / n
        self.sensors = (self.sensor_sums[-1] - self.sensor_sums[0]) / n
        self.in_warmup, self.points = self.points < self.warmup, self.points + 1
        return score, not self.in_warmup and self.alarm.update(score)

    def _forecast(self, x: torch.Tensor) -> tuple[tuple, Any]:
        """The forecast after point x (1, F) as :func:`raw_from`'s arrays, and the state."""
        if self._step is not None:
            params, state = self._step(x, self.state)  # (1, 1, K, P)
            f = self.model.out.summary(params)
        else:
            f, state = self.model.one_step(x[None], self.state)

        k = self.model.output_size

        def flat(v):
            return None if v is None else v.cpu().numpy().astype(float).reshape(1, k, -1)

        return (flat(f.point), flat(f.quantiles), f.levels, flat(f.std)), state


def ranges(cfg, n: int, parts: dict[str, int]) -> tuple[int, int]:
    """(fit_end, train_end) of a series of ``n`` points: ``train_size`` points (or a
    fraction), its last ``calib_size`` calibrating; with the parts given as files, the
    training file (then the validation file calibrates)."""
    if "test" in parts:
        train_end = n - parts["test"]
        calib = parts.get("val")
        return (train_end - calib if calib else
                train_end - int(train_end * cfg.calib_size)), train_end
    train_end = int(cfg.train_size) if cfg.train_size >= 1 else int(n * cfg.train_size)
    return train_end - int(train_end * cfg.calib_size), train_end


def min_points(cfg, parts: dict[str, int]) -> int | None:
    """The shortest series whose ranges fit the window (None: no length does)."""
    if "test" in parts:
        return None
    if cfg.train_size >= 1:
        fit_end, train_end = ranges(cfg, int(cfg.train_size) + 1, parts)
        return train_end + 1 if cfg.window < fit_end < train_end else None
    share = cfg.train_size * (1 - cfg.calib_size)  # fit_end is about n * share
    if share <= 0 or cfg.calib_size <= 0:
        return None
    # no shorter series: fit_end > window, and one point to calibrate (train_end * calib_size
    # >= 1)
    start = max(cfg.window + 3, int((cfg.window - 1) / share),
                int(1 / (cfg.train_size * cfg.calib_size)) - 1)
    for n in range(start, start + int(3 / share) + 10):
        fit_end, train_end = ranges(cfg, n, parts)
        if cfg.window < fit_end < train_end < n:
            return n
    return None


def alarm(cfg: AnomalyConfig, limit: float) -> Alarm:
    """The config's alarm state machine for threshold ``limit``."""
    return Alarm(limit, cfg.release_factor * limit, cfg.hold)


def warmup(cfg: AnomalyConfig) -> int:
    """The points at the start of a series that are scored but never alarmed: ``window +
    smooth - 1``. The forecast of point t reads the t points before it, a full window (as
    every training window) from point ``window`` on; the score of point t averages the raw
    scores of its last ``smooth`` points, so from point ``window + smooth - 1`` on every one
    of them comes from a forecast made with a full window of history."""
    return cfg.window + cfg.smooth - 1


def alarms(cfg: AnomalyConfig, limit: float, scores: np.ndarray) -> np.ndarray:
    """The alarms (N,) of a series' scores: none in the warm-up (:func:`warmup`), then the
    config's alarm state machine (:func:`alarm`, threshold ``limit``) from off."""
    w = warmup(cfg)
    out = np.zeros(len(scores), dtype=bool)
    out[w:] = alarm(cfg, limit).run(scores[w:])
    return out


# -- a run's detection: its threshold, its series' scores, its labelled windows --------------
def threshold(model, ctx: AnomalyContext) -> float:
    """``threshold_factor`` x the highest score on the calibration range [fit_end,
    train_end): scores are computed over the training range only."""
    train = ctx.series.head(ctx.train_end)
    scores = batch_scores(model, ctx.features(train), ctx.task_cfg.smooth)
    return float(ctx.task_cfg.threshold_factor * scores[ctx.fit_end:ctx.train_end].max())


def labelled_windows(ctx: AnomalyContext, timestamps) -> list[tuple[int, int]] | None:
    """The run's labelled windows as inclusive indices into ``timestamps``: NAB's of a
    named series, the runs of anomalous points of a user's label column; None without
    labels."""
    cfg = ctx.task_cfg
    try:
        if not uses_own_data(cfg):
            windows = nab_windows(cfg.series)
        elif ctx.labels is None:
            return None
        else:
            t = ctx.series.timestamps
            windows = [(t[a], t[b]) for a, b in events(ctx.labels)]
    except DataError:
        return None
    return window_indices(timestamps, windows)


def scored_windows(ctx: AnomalyContext) -> list[tuple[int, int]]:
    """The run's labelled windows that reach the scored range [train_end, N), cut to it."""
    return [(max(a, ctx.train_end), b) for a, b in
            labelled_windows(ctx, ctx.series.timestamps) or [] if b >= ctx.train_end]


def detect(model, ctx: AnomalyContext, series: Series | None = None) -> dict[str, np.ndarray]:
    """Combined scores, per-sensor scores (``sensors`` (N, K)) and alarms (:func:`alarms`:
    none in the warm-up) of ``series`` (default: the run's whole series)."""
    series = series or ctx.series
    scores, sensors = sensor_scores(model, ctx.features(series), ctx.task_cfg.smooth)
    return {"score": scores, "sensors": sensors,
            "is_anomaly": alarms(ctx.task_cfg, threshold(model, ctx), scores)}


def evaluate_detection(model, ctx: AnomalyContext) -> dict[str, Any]:
    """Event-level scores on [train_end, N) against the labelled windows there (the alarms
    of :func:`detect`, the predictor's, those before train_end dropped)."""
    found = detect(model, ctx)["is_anomaly"].copy()
    found[:ctx.train_end] = False
    out = labelled_scores(ctx, found)
    out["threshold"] = threshold(model, ctx)
    return out


UNLABELLED = ("windows_detected", "windows_total", "false_positives", "alarm_points_outside",
              "precision", "recall", "f1")


def labelled_scores(ctx: AnomalyContext, alarms: np.ndarray) -> dict[str, float]:
    """:func:`~.events.event_scores` of ``alarms`` against the scored windows; without
    labels (a user's series without a label column) the figures that need them are NaN
    (unknown, not 0) and only ``alarm_events`` is counted."""
    out = event_scores(alarms, scored_windows(ctx))
    if not has_labels(ctx):
        out.update(dict.fromkeys(UNLABELLED, float("nan")))
    return out


def has_labels(ctx: AnomalyContext) -> bool:
    """Whether the run knows labelled windows (NAB's, or a user's label column)."""
    return labelled_windows(ctx, ctx.series.timestamps[:1]) is not None


def _first(forecast: Forecast, n: int) -> Forecast:
    """The first ``n`` steps of a one-step forecast (1, T, ...)."""

    def cut(v):
        return None if v is None else v[:, :n]

    return Forecast(cut(forecast.point), cut(forecast.quantiles), forecast.levels,
                    cut(forecast.std))


def _device(model) -> torch.device:
    return next(model.parameters()).device
