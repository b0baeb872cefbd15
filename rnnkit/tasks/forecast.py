"""Time-series forecasting with 80% and 95% prediction intervals (task ``forecast``).

A :class:`~rnnkit.models.Forecaster` (direct or autoregressive, quantile or Gaussian head)
reads a window of the scaled (optionally seasonally differenced) series and forecasts the
next ``horizon`` steps; :mod:`rnnkit.tasks.forecast_data` says exactly what it reads and
predicts. The scaler and differencing are fitted on the training range only and saved in
model.json (``"transform"``), so forecasts come back in the series' original units.

Ranges: the last ``test_size`` points are the test range (data README), the last
``val_size`` points before it the validation range; training windows only read points
before the validation range (``refit``: before the test range). ``evaluation``:
``multistep`` scores one forecast of the whole range from its start (airline: 24 months
from the end of 1958), ``rolling`` one-step-ahead forecasts from every origin in it
(temperatures, sunspots). ``evaluate`` reports rmse, mae, mape, smape, mase and
coverage_80/95 in original units, and the same for the seasonal-naive and persistence
baselines under ``"baselines"``.

``refit = true``: deployment after selection. The model trains on every point before the
test range (training + validation ranges) for ``train.steps`` fixed in advance (one
validation, at the last step, so ``best`` is the last step: nothing is chosen on points it
trained on). Its intervals are calibrated on ``replays`` rolling-origin replays inside that
range instead: origins ``replay_every`` points apart, the last at the start of the validation
range; each replay is the same config trained on the points before its origin (like the
deployed model, which is trained up to its forecast origin) and forecasts ``horizon`` points
from there, all before the test range. The factors (:func:`backtest_factors` on the
replays' forecasts) are measured before the model trains and recorded in its config
(``interval_factors``).

``ensemble = N``: N members trained side by side with seeds ``seed .. seed+N-1``, their
quantile forecasts averaged (:class:`~rnnkit.models.ForecastEnsemble`); the calibration
backtest, ``evaluate`` and ``rnnkit forecast`` all see the ensemble's forecast.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.timeseries import Scaler, Series
from ..models import MODELS, ForecastEnsemble, Model
from ..training.config import TaskConfig, choice, number
from . import forecast_metrics as fm
from .base import Task, TaskError, register
from .forecast_data import Transform, range_origins, train_origins
from .intervals import COVERAGES, LEVELS, Bands, predict_bands
from .ts_common import Figures, SplitData, load_source, test_points


@dataclass
class ForecastConfig(TaskConfig):
    name: str = "forecast"
    series: str = "airline-passengers"  # a named series (rnnkit.data.timeseries.SERIES)
    csv: str = ""  # or a user's CSV file (then set test_size)
    time_column: str = ""  # CSV columns; "" = the first / second column
    value_column: str = ""
    repair: str = ""  # comma-separated read_csv repairs: sort, drop-duplicates, interpolate ...
    test_size: float = number(0.0, 0.0)  # points (>= 1) or a fraction; 0 = the README's range
    val_size: float = number(0.0, 0.0)  # the same, before the test range; 0 = like test_size
    window: int = number(24, 1)  # observed steps the model reads
    horizon: int = number(24, 1)  # steps it forecasts at once
    season: int = number(1, 1)  # seasonal period: differencing lag, seasonal naive, MASE
    scaler: str = choice("standard", *Scaler.KINDS)
    difference: bool = False  # forecast the change from the same season's last value
    level: bool = False  # or: window and targets relative to the last season's mean
    evaluation: str = choice("auto", "auto", "multistep", "rolling")  # auto: by horizon
    calibrate: bool = True  # scale the intervals to nominal coverage on a validation backtest
    train_on_val: bool = False  # short series: also train on the validation range's windows
    ensemble: int = number(1, 1)  # members trained with seeds seed..seed+N-1, forecasts averaged
    cutoff: int = number(0, 0)  # use only the first cutoff points (0 = all): for validation
    # replays inside the training range (quality_timeseries.py --select, task.refit)
    refit: bool = False  # train on train + validation for train.steps; calibrate by replays
    replays: int = number(3, 0)  # refit: calibration replays (origins replay_every apart,
    replay_every: int = number(6, 1)  # the last at the start of the validation range)


@dataclass
class ForecastContext:
    """Everything fitted or fixed for one config (cached): the series, its ranges, the
    transform, and the conformal factors once a model has been calibrated."""

    cfg: ForecastConfig
    series: Series
    val_start: int  # validation range: [val_start, test_start)
    test_start: int  # test range: [test_start, N)
    transform: Transform
    z: np.ndarray  # the scaled series
    factors: dict = field(default_factory=dict)  # id(model) -> conformal factors

    @property
    def protocol(self) -> str:
        if self.cfg.evaluation != "auto":
            return self.cfg.evaluation
        return "multistep" if self.cfg.horizon >= len(self.series) - self.test_start \
            else "rolling"

    def range(self, split: str) -> tuple[int, int]:
        n = len(self.series)
        return {"val": (self.val_start, self.test_start), "test": (self.test_start, n),
                "train": (0, self.val_start)}[split]


def _key(cfg: ForecastConfig) -> str:
    return json.dumps(asdict(cfg), sort_keys=True)


@functools.lru_cache(maxsize=8)
def _context(key: str) -> ForecastContext:
    cfg = ForecastConfig(**json.loads(key))
    series = load_source(cfg)
    if cfg.cutoff:
        series = Series(series.timestamps[:cfg.cutoff], series.values[:cfg.cutoff],
                        series.name)
    n = len(series)
    test = test_points(n, cfg.test_size, cfg.series, cfg.csv)
    test_start = n - test
    val = test_points(test_start, cfg.val_size or test, cfg.series, cfg.csv)
    val_start = test_start - val
    if cfg.difference and cfg.level:
        raise TaskError("task.difference and task.level both set what the model forecasts "
                        "relative to (the same season's last value, or the last season's "
                        "mean); set one of them")
    try:
        transform = Transform.fit(series.values[:test_start], cfg.scaler, cfg.season,
                                  cfg.difference, cfg.level)
    except ValueError as e:
        raise TaskError(f"task.scaler = {cfg.scaler!r}: {e}") from None
    return ForecastContext(cfg, series, val_start, test_start, transform,
                           transform.scaled(series.values))


def context(cfg: ForecastConfig) -> ForecastContext:
    """The (cached) context of a config: reads the series once."""
    return _context(_key(cfg))


def forecast_bands(model, transform: Transform, z: np.ndarray, origins: np.ndarray,
                   window: int, factors: dict[int, float] | None = None) -> Bands:
    """Forecasts (N, H) from ``origins`` of the scaled series ``z``, in original units."""
    inputs, _ = transform.windows(z, origins, window, model.horizon, with_targets=False)
    bands = predict_bands(model, inputs)
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


def calibration(model, ctx: ForecastContext) -> dict[int, float]:
    """Interval factors: those recorded with the model (``refit``: from replays, see
    :func:`replay_factors`), else from a rolling-origin backtest on the validation range;
    1.0 each when ``calibrate`` is off. See :func:`backtest_factors`."""
    if not ctx.cfg.calibrate:
        return {c: 1.0 for c in COVERAGES}
    if getattr(model, "interval_factors", None):
        return dict(zip(COVERAGES, model.interval_factors))
    if ctx.cfg.refit:
        raise TaskError("a refit model is trained on the validation range: its intervals "
                        "need the replay factors recorded at training (interval_factors)")
    key = id(model), sum(float(p.detach().sum()) for p in model.parameters())
    if key not in ctx.factors:
        start, end = ctx.range("val")
        origins = np.arange(max(start - 1, ctx.transform.first_origin(ctx.cfg.window)),
                            end - 1)
        bands = forecast_bands(model, ctx.transform, ctx.z, origins, ctx.cfg.window)
        ctx.factors[key] = backtest_factors(bands, ctx.series.values, origins, end)
    return ctx.factors[key]


def replay_origins(ctx: ForecastContext) -> list[int]:
    """The first forecast point of each calibration replay (``refit``): ``replays`` origins
    ``replay_every`` apart, the last at the start of the validation range. Replay ``o``
    trains on ``[0, o)`` and forecasts ``[o, o + horizon)``, which must end before the test
    range."""
    cfg = ctx.cfg
    origins = [ctx.val_start - cfg.replay_every * i for i in range(cfg.replays)][::-1]
    if origins and (origins[-1] + cfg.horizon > ctx.test_start
                    or origins[0] <= ctx.transform.first_origin(cfg.window) + cfg.horizon):
        raise TaskError(f"task.replays: origins {origins} with horizon {cfg.horizon} do not "
                        f"fit between the first training window and the test range "
                        f"(point {ctx.test_start}); the validation range must be at least "
                        "horizon long")
    return origins


def replay_config(cfg, origin: int):
    """The run config of the calibration replay at ``origin``: the series cut at ``origin
    + horizon`` (nothing after it is loaded), trained like the deployed model (``refit``,
    fixed steps) on the points before ``origin``, uncalibrated."""
    from dataclasses import replace

    h = cfg.task.horizon
    task = replace(cfg.task, cutoff=origin + h, test_size=float(h), val_size=float(h),
                   refit=True, calibrate=False)
    windows = len(train_origins(context(task).transform.first_origin(task.window), origin, h))
    train = replace(cfg.train, progress="off", batch_size=min(cfg.train.batch_size, windows))
    return replace(cfg, name=f"{cfg.name}-replay-{origin}", task=task, train=train,
                   diagnostics=replace(cfg.diagnostics, every=0))


def replay_factors(cfg) -> dict[int, float]:
    """:func:`backtest_factors` on the forecasts of the calibration replays (each trained in
    a temporary directory): reads no point of the test range."""
    import tempfile

    from .runner import open_run, train_run

    ctx = context(cfg.task)
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for o in replay_origins(ctx):
            rcfg = replay_config(cfg, o)
            train_run(rcfg, Path(tmp) / str(o))
            run = open_run(Path(tmp) / str(o))
            rctx = context(rcfg.task)
            parts.append(forecast_bands(run.model, rctx.transform, rctx.z, np.array([o - 1]),
                                        cfg.task.window))
    bands = Bands(np.concatenate([p.point for p in parts]),
                  {c: np.concatenate([p.lower[c] for p in parts]) for c in COVERAGES},
                  {c: np.concatenate([p.upper[c] for p in parts]) for c in COVERAGES})
    origins = np.array(replay_origins(ctx)) - 1
    return backtest_factors(bands, ctx.series.values[:ctx.test_start], origins,
                            ctx.test_start)


def backtest_factors(bands: Bands, x: np.ndarray, origins: np.ndarray,
                     end: int) -> dict[int, float]:
    """Factors that scale each interval so that it covers exactly its nominal share of the
    backtest: forecasts ``bands`` (N, H) (original units) made at ``origins`` (N,) of the
    series ``x``, scored on the points before ``end`` they reach (nothing at or after
    ``end`` is read). Each point's ratio |error| / half-width (on the error's side) gets the
    weight 1 / (number of ratios at its lead time), so every lead time counts equally, as
    in a multistep forecast of the whole horizon; the factor for coverage c is the weighted
    c-quantile of the ratios (split conformal on a rolling origin, without the (n+1)/n
    inflation that with a short validation range would pick the largest ratio)."""
    h = np.arange(1, bands.point.shape[1] + 1)
    t = np.asarray(origins)[:, None] + h[None, :]  # (N, H) target indices
    keep = t < end
    lead = np.broadcast_to(h, t.shape)[keep]
    y = x[t[keep]]
    counts = np.bincount(lead)
    weights = 1.0 / counts[lead]
    out = {}
    for c in COVERAGES:
        point, lo, hi = bands.point[keep], bands.lower[c][keep], bands.upper[c][keep]
        half = np.where(y >= point, hi - point, point - lo)
        ratio = np.abs(y - point) / np.maximum(half, 1e-12)
        order = np.argsort(ratio)
        cum = np.cumsum(weights[order]) / weights.sum()
        out[c] = float(ratio[order][np.searchsorted(cum, c / 100 - 1e-12)])
    return out


def _score_range(model, ctx: ForecastContext, split: str, factors):
    """Forecasts scoring ``split`` under the evaluation protocol, and the truth; (M,) each."""
    start, end = ctx.range(split)
    origins = range_origins(start, end, model.horizon, ctx.protocol)
    bands = forecast_bands(model, ctx.transform, ctx.z, origins, ctx.cfg.window, factors)
    steps = end - start if ctx.protocol == "multistep" else 1
    bands = bands.map(lambda a: a[:, :steps].ravel())
    return bands, ctx.series.values[start:end]


def figures(y: np.ndarray, bands: Bands, train: np.ndarray, season: int) -> dict[str, float]:
    """rmse, mae, mape, smape, mase and coverage_80/95 of one forecast (original units)."""
    out = fm.point_metrics(y, bands.point, train, season)
    for c in COVERAGES:
        out[f"coverage_{c}"] = fm.coverage(y, bands.lower[c], bands.upper[c])
    return {k: float("nan") if v is None else v for k, v in out.items()}


def baseline_bands(ctx: ForecastContext, split: str) -> dict[str, Bands]:
    """Seasonal naive and persistence under the same protocol, with the textbook intervals
    from their in-sample residuals (Hyndman & Athanasopoulos, FPP3 5.5)."""
    start, end = ctx.range(split)
    x, m = ctx.series.values, ctx.cfg.season
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
    """The model's figures on ``split`` (val or test) and the baselines' under ``baselines``."""
    factors = calibration(model, ctx) if split == "test" else None
    bands, y = _score_range(model, ctx, split, factors)
    train = ctx.series.values[:ctx.test_start]
    result: dict[str, Any] = figures(y, bands, train, ctx.cfg.season)
    result["mse"] = result["rmse"] ** 2
    result["baselines"] = Figures({name: figures(y, b, train, ctx.cfg.season)
                                   for name, b in baseline_bands(ctx, split).items()})
    return result


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

    def after_training(self, model, cfg, run_dir) -> None:
        """report.md: the test figures against the baselines, and the plot."""
        write_report_section(model, cfg, run_dir)

    def data(self, cfg: ForecastConfig, seed: int):
        ctx = context(cfg)
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
            tensors = {"x": torch.as_tensor(x, dtype=torch.float32).unsqueeze(-1),
                       "y": torch.as_tensor(y, dtype=torch.float32)}  # (N, W, 1), (N, H)
            out[split] = SplitData(tensors, ctx, split)
        return out

    def build_model(self, cfg) -> Model:
        """A :class:`Forecaster`, or with ``task.ensemble = N > 1`` a
        :class:`ForecastEnsemble` of N whose member i starts as seed ``seed + i`` would.
        With ``refit`` (and ``calibrate``) the calibration replays are trained first and
        their factors recorded in the model's config."""
        extra = {}
        if cfg.task.refit and cfg.task.calibrate:
            from .runner import seed_everything

            factors = replay_factors(cfg)
            extra["interval_factors"] = [factors[c] for c in COVERAGES]
            seed_everything(cfg.seed)  # the model starts as it would without the replays
        args = {**self.model_args(cfg.task), **self._model_kwargs(cfg), **extra}
        if cfg.task.ensemble == 1:
            return MODELS[self.model_class](**args)
        return ForecastEnsemble(members=cfg.task.ensemble, seed=cfg.seed, **args)

    def model_args(self, cfg: ForecastConfig) -> dict[str, Any]:
        return {"input_size": 1, "output_size": 1, "horizon": cfg.horizon,
                "quantiles": list(LEVELS)}

    def check(self, cfg) -> list[str]:
        errors = super().check(cfg)
        output = cfg.model.options.get("output", "point")
        if output not in ("quantile", "gaussian"):
            errors.append(f"model.output = {output!r}: forecasts carry 80% and 95% intervals; "
                          "use \"quantile\" or \"gaussian\"")
        if cfg.task.refit:
            errors += refit_errors(cfg)
        return errors

    def info(self, cfg) -> dict[str, Any]:
        return {**super().info(cfg), "transform": context(cfg.task).transform.to_dict()}

    def extra_metrics(self, model, data, batch_size):
        if not isinstance(data, SplitData) or data.split not in ("val", "test"):
            return {}
        return evaluate_split(model, data.context, data.split)

    def predict(self, model, inputs, cfg: ForecastConfig):
        """``inputs``: a history (T,), (T, 1) or (1, T, 1) in original units -> the next
        ``horizon`` points with their intervals."""
        x = inputs.reshape(-1).double().numpy()
        result = forecast_history(model, cfg, x, model.horizon)
        return {k: v.tolist() for k, v in result.items()}


def forecast_history(model, cfg: ForecastConfig, history: np.ndarray, steps: int,
                     transform: Transform | None = None, samples: int = 1000,
                     seed: int = 0) -> dict[str, np.ndarray]:
    """Forecast ``steps`` points after ``history`` (original units): one direct forecast
    when ``steps <= horizon``, else ``samples`` sample paths drawn one step at a time from
    the model's predictive distribution (a Gaussian matched to its calibrated intervals)."""
    ctx = context(cfg)
    transform = transform or ctx.transform
    z = transform.scaled(history)
    if len(z) <= transform.first_origin(cfg.window):
        raise TaskError(f"the history has {len(z)} points; the model needs more than "
                        f"{transform.first_origin(cfg.window)}")
    factors = calibration(model, ctx)
    if steps <= model.horizon:
        bands = forecast_bands(model, transform, z, np.array([len(z) - 1]), cfg.window,
                               factors).map(lambda a: a[0, :steps])
        return {"forecast": bands.point, **_bounds(bands)}
    rng = np.random.default_rng(seed)
    paths = np.tile(z, (samples, 1))  # (S, T)
    for _ in range(steps):
        level = np.broadcast_to(transform.levels(paths, [paths.shape[1] - 1]), (samples, 1))
        feats = transform.features(paths)[:, -cfg.window:] - level  # (S, W)
        bands = predict_bands(model, feats).widened(factors)
        anchors = paths[:, -transform.season] if transform.difference else level[:, 0]
        draw = bands.point[:, 0] + bands.std()[:, 0] * rng.standard_normal(samples)
        paths = np.concatenate([paths, (draw + anchors)[:, None]], axis=1)
    with np.errstate(over="ignore"):  # quantiles in scaled units, then back (monotone)
        q = transform.scaler.inverse(np.quantile(paths[:, len(z):], LEVELS, axis=0))
    return {"forecast": q[2], "lower_80": q[1], "upper_80": q[3], "lower_95": q[0],
            "upper_95": q[4]}


def _bounds(bands: Bands) -> dict[str, np.ndarray]:
    return {"lower_80": bands.lower[80], "upper_80": bands.upper[80],
            "lower_95": bands.lower[95], "upper_95": bands.upper[95]}



register(ForecastTask())

def write_report_section(model, cfg, run_dir) -> Path:
    """The test figures against the baselines and the forecast plot, into report.md."""
    from .forecast_data import range_origins
    from .ts_report import metrics_table, plot_forecast, update_report

    ctx = context(cfg.task)
    result = evaluate_split(model, ctx, "test")
    rows = {"rnnkit": result, **result["baselines"]}
    keys = ["rmse", "mae", "mape", "smape", "mase", "coverage_80", "coverage_95"]
    start, end = ctx.range("test")
    origins = range_origins(start, end, model.horizon, ctx.protocol)
    bands = forecast_bands(model, ctx.transform, ctx.z, origins, cfg.task.window,
                           calibration(model, ctx))
    steps = end - start if ctx.protocol == "multistep" else 1
    flat = bands.map(lambda a: a[:, :steps].ravel())
    out = {"forecast": flat.point, "lower_80": flat.lower[80], "upper_80": flat.upper[80],
           "lower_95": flat.lower[95], "upper_95": flat.upper[95]}
    t, x = ctx.series.timestamps, ctx.series.values
    back = max(start - 3 * (end - start), 0)
    plot = plot_forecast(Path(run_dir) / "plots" / "forecast_test.png", t[back:start],
                         x[back:start], t[start:end], out, x[start:end],
                         title=f"{cfg.name}: test range, {ctx.protocol} forecasts")
    lines = ["## Test range: rnnkit against the baselines", "",
             f"Test range: {end - start} points from {t[start]}; protocol `{ctx.protocol}` "
             "(multistep: one forecast of the whole range from its start; rolling: one step "
             "ahead from every origin). Intervals scaled to nominal coverage on a rolling-"
             f"origin backtest over the validation range: {ctx.cfg.calibrate}"
             + (f" (refit on training + validation: the backtest is the "
                f"{ctx.cfg.replays} replays trained up to their origins)" if ctx.cfg.refit
                else "") + ". Seed ensemble: "
             f"{ctx.cfg.ensemble} member(s), quantile forecasts averaged. Baseline "
             "intervals from in-sample residuals.", "",
             *metrics_table(rows, keys), "", f"![forecast](plots/{plot.name})"]
    return update_report(run_dir, lines)
