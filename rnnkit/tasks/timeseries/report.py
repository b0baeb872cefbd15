"""report.md sections and plots of forecast and anomaly runs: the metrics table against
the baselines, the forecast with its intervals, the scores with the labelled windows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..._optional import pyplot
from .calibration import interval_factors
from .detector import (
    detect,
    evaluate_detection,
    has_labels,
    labelled_scores,
    labelled_windows,
    threshold,
    warmup,
)
from .events import rolling_zscore
from .forecasting import bounds
from .scoring import column, evaluate_split, range_forecasts

if TYPE_CHECKING:
    from ..anomaly import AnomalyContext
    from ..forecast import ForecastContext

MARK = "<!-- rnnkit time-series section -->"


def forecast_section(model, ctx: ForecastContext, run_dir) -> Path:
    """The test figures against the baselines and the forecast plot, into report.md
    (several value columns: their mean figures, then each column's)."""
    result = evaluate_split(model, ctx, "test")
    rows = {"rnnkit": result, **result["baselines"]}
    rows.update({f"rnnkit: {name}": f for name, f in result.get("columns", {}).items()})
    keys = ["rmse", "mae", "mape", "smape", "mase", "coverage_80", "coverage_95"]
    start, end = ctx.range("test")
    flat = range_forecasts(model, ctx, "test", interval_factors(model, ctx))
    t, x = ctx.series.timestamps, ctx.series.values
    back = max(start - 3 * (end - start), 0)
    names = list(ctx.series.columns) if x.ndim > 1 else [None]
    panels = []
    for k, name in enumerate(names):
        b, col = (flat, x) if name is None else (column(flat, k), x[:, k])
        panels.append((name, col[back:start], {"forecast": b.point, **bounds(b)},
                       col[start:end]))
    plot = plot_forecast(Path(run_dir) / "plots" / "forecast_test.png", t[back:start],
                         t[start:end], panels, title=f"{ctx.cfg.name}: test range, "
                         f"{ctx.protocol} forecasts")
    cfg = ctx.task_cfg
    refit = (f" (refit on training + validation: the backtest is the {cfg.replays} replays "
             "trained up to their origins)" if cfg.refit else "")
    several = (f" {len(names)} value columns: the first rows are their means, the last "
               "each column's." if x.ndim > 1 else "")
    lines = ["## Test range: rnnkit against the baselines", "",
             f"Test range: {end - start} points from {t[start]}; protocol `{ctx.protocol}` "
             "(multistep: one forecast of the whole range from its start; rolling: one step "
             "ahead from every origin). Intervals scaled to nominal coverage on a rolling-"
             f"origin backtest over the validation range: {cfg.calibrate}{refit}. Seed "
             f"ensemble: {cfg.ensemble} member(s), quantile forecasts averaged. Baseline "
             f"intervals from in-sample residuals.{several}", "",
             *metrics_table(rows, keys), "", f"![forecast](plots/{plot.name})"]
    return update_report(run_dir, lines)


def detection_section(model, ctx: AnomalyContext, run_dir) -> Path:
    """Event-level figures of rnnkit and the rolling z-score detector, and the plot."""
    x, t = ctx.series.values.reshape(len(ctx.series), -1), ctx.series.timestamps
    z = np.any([np.abs(rolling_zscore(x[:, k], 288)) > 3 for k in range(x.shape[1])], axis=0)
    z[:ctx.train_end] = False
    many = x.shape[1] > 1
    rows = {"rnnkit": evaluate_detection(model, ctx),
            "rolling z-score (288 points, abs z > 3" + (" on any sensor)" if many else ")"):
                labelled_scores(ctx, z)}
    keys = ["windows_detected", "windows_total", "alarm_events", "false_positives",
            "alarm_points_outside", "precision", "recall", "f1"]
    unlabelled = not has_labels(ctx)
    result = detect(model, ctx)
    cfg = ctx.task_cfg
    plot = plot_detection(Path(run_dir) / "plots" / "detection.png", t, ctx.series.values,
                          result["score"], result["is_anomaly"], threshold(model, ctx),
                          labelled_windows(ctx, t) or [], title=ctx.cfg.name,
                          sensors=result["sensors"] if many else None,
                          names=list(ctx.series.columns) if many else None,
                          warmup=warmup(cfg))
    lines = ["## Labelled windows: rnnkit against the rolling z-score detector", "",
             f"Scored range: points {ctx.train_end}..{len(t) - 1} (after the training "
             f"range; the threshold comes from points {ctx.fit_end}..{ctx.train_end - 1}; an "
             f"alarm ends {cfg.hold} points after the score falls to "
             f"{cfg.release_factor:g} x the threshold). "
             "An alarm event is a run of consecutive alarm points; a false positive is an "
             "event outside every (inclusive) window."
             + (f" {x.shape[1]} sensors: the alarm reads the root mean square of their "
                "standardised errors." if many else "")
             + (f" No labels (the file has no column {cfg.label_column!r}, task.label_column: "
                "1 marks an anomalous point): only the alarms are counted."
                if unlabelled else ""), "",
             *metrics_table(rows, keys), "", f"![detection](plots/{plot.name})"]
    return update_report(run_dir, lines)


def plot_forecast(path, history_t, future_t, panels, title="") -> Path:
    """One panel per value column: ``panels`` = [(column name or None, history, forecast
    (``forecast``, ``lower_80`` ... arrays), truth or None)]: history, truth (where known),
    the forecast and its 80%/95% intervals."""
    plt = pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 1 + 3 * len(panels)), squeeze=False,
                             sharex=True)
    for ax, (name, history, result, truth) in zip(axes[:, 0], panels):
        ax.plot(history_t, history, color="0.3", lw=1, label="history")
        if truth is not None and len(truth):
            ax.plot(future_t[:len(truth)], truth, color="k", lw=1.2, label="truth")
        ax.fill_between(future_t, result["lower_95"], result["upper_95"], color="C0",
                        alpha=0.15, label="95% interval")
        ax.fill_between(future_t, result["lower_80"], result["upper_80"], color="C0",
                        alpha=0.3, label="80% interval")
        ax.plot(future_t, result["forecast"], color="C0", lw=1.5, label="forecast")
        if name:
            ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0, 0].set_title(title)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    return _save(fig, plt, path)


def plot_detection(path, t, values, scores, alarms, threshold, windows=(), title="",
                   sensors=None, names=None, warmup: int = 0) -> Path:
    """Values with alarms marked and labelled windows shaded; the score and threshold.
    Several sensors (``names``): ``values`` (N, K) one panel each, and their scores
    ``sensors`` (N, K) drawn thin beside the combined score. The first ``warmup`` points
    (scored, never alarmed: :func:`~.detector.warmup`) are shaded grey."""
    plt = pyplot()
    values = np.asarray(values).reshape(len(t), -1)
    k = values.shape[1]
    fig, axes = plt.subplots(k + 1, 1, figsize=(11, 3 + 2 * k), sharex=True,
                             gridspec_kw={"height_ratios": [2] * k + [1 + (k > 1)]})
    if warmup > 0:
        for axis in axes:
            axis.axvspan(t[0], t[min(warmup, len(t)) - 1], color="0.85", alpha=0.6,
                         label="warm-up (never alarmed)" if axis is axes[0] else None)
    for i, (a, b) in enumerate(windows):
        for axis in axes:
            axis.axvspan(t[a], t[b], color="C1", alpha=0.2,
                         label="labelled window" if i == 0 and axis is axes[0] else None)
    for j, ax in enumerate(axes[:k]):
        ax.plot(t, values[:, j], color="0.3", lw=0.6, label=names[j] if names else "value")
        ax.scatter(t[alarms], values[alarms, j], color="C3", s=6, zorder=3, label="alarm")
        ax.legend(loc="upper left", fontsize=8)
    axes[0].set_title(title)
    bx = axes[-1]
    if sensors is not None:
        for j in range(sensors.shape[1]):
            bx.plot(t, sensors[:, j], color=f"C{j + 4}", lw=0.5,
                    label=f"score: {names[j]}" if names else None)
    bx.plot(t, scores, color="C0", lw=0.8, label="score" if sensors is None else "combined")
    bx.axhline(threshold, color="C3", ls="--", lw=1, label="threshold")
    bx.legend(loc="upper left", fontsize=8)
    return _save(fig, plt, path)


def _save(fig, plt, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def metrics_table(rows: dict[str, dict], keys: list[str]) -> list[str]:
    """A markdown table: one row per method, one column per key."""
    lines = ["| method | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, figures in rows.items():
        cells = [_fmt(figures.get(k)) for k in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def update_report(run_dir, lines: list[str]) -> Path:
    """Add (or replace) the time-series section at the end of the run's report.md."""
    path = Path(run_dir) / "report.md"
    text = path.read_text() if path.exists() else ""
    text = text.split(MARK)[0].rstrip("\n")
    path.write_text(text + "\n\n" + MARK + "\n" + "\n".join(lines) + "\n")
    return path
