"""report.md sections and plots of forecast and anomaly runs: the metrics table against
the baselines, the forecast with its intervals, the scores with the labelled windows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..._optional import pyplot
from .calibration import interval_factors
from .detector import detect, evaluate_detection, labelled_windows, scored_windows, threshold
from .events import event_scores, rolling_zscore
from .forecasting import bounds
from .scoring import evaluate_split, range_forecasts

if TYPE_CHECKING:
    from ..anomaly import AnomalyContext
    from ..forecast import ForecastContext

MARK = "<!-- rnnkit time-series section -->"


def forecast_section(model, ctx: ForecastContext, run_dir) -> Path:
    """The test figures against the baselines and the forecast plot, into report.md."""
    result = evaluate_split(model, ctx, "test")
    rows = {"rnnkit": result, **result["baselines"]}
    keys = ["rmse", "mae", "mape", "smape", "mase", "coverage_80", "coverage_95"]
    start, end = ctx.range("test")
    flat = range_forecasts(model, ctx, "test", interval_factors(model, ctx))
    t, x = ctx.series.timestamps, ctx.series.values
    back = max(start - 3 * (end - start), 0)
    plot = plot_forecast(Path(run_dir) / "plots" / "forecast_test.png", t[back:start],
                         x[back:start], t[start:end], {"forecast": flat.point, **bounds(flat)},
                         x[start:end], title=f"{ctx.cfg.name}: test range, {ctx.protocol} "
                         "forecasts")
    cfg = ctx.task_cfg
    refit = (f" (refit on training + validation: the backtest is the {cfg.replays} replays "
             "trained up to their origins)" if cfg.refit else "")
    lines = ["## Test range: rnnkit against the baselines", "",
             f"Test range: {end - start} points from {t[start]}; protocol `{ctx.protocol}` "
             "(multistep: one forecast of the whole range from its start; rolling: one step "
             "ahead from every origin). Intervals scaled to nominal coverage on a rolling-"
             f"origin backtest over the validation range: {cfg.calibrate}{refit}. Seed "
             f"ensemble: {cfg.ensemble} member(s), quantile forecasts averaged. Baseline "
             "intervals from in-sample residuals.", "",
             *metrics_table(rows, keys), "", f"![forecast](plots/{plot.name})"]
    return update_report(run_dir, lines)


def detection_section(model, ctx: AnomalyContext, run_dir) -> Path:
    """Event-level figures of rnnkit and the rolling z-score detector, and the plot."""
    z = np.abs(rolling_zscore(ctx.series.values, 288)) > 3
    z[:ctx.train_end] = False
    rows = {"rnnkit": evaluate_detection(model, ctx),
            "rolling z-score (288 points, abs z > 3)": event_scores(z, scored_windows(ctx))}
    keys = ["windows_detected", "windows_total", "false_positives", "alarm_points_outside",
            "precision", "recall", "f1"]
    result = detect(model, ctx)
    t, cfg = ctx.series.timestamps, ctx.task_cfg
    plot = plot_detection(Path(run_dir) / "plots" / "detection.png", t, ctx.series.values,
                          result["score"], result["is_anomaly"], threshold(model, ctx),
                          labelled_windows(ctx, t) or [], title=ctx.cfg.name)
    lines = ["## Labelled windows: rnnkit against the rolling z-score detector", "",
             f"Scored range: points {ctx.train_end}..{len(t) - 1} (after the training "
             f"range; the threshold comes from points {ctx.fit_end}..{ctx.train_end - 1}; an "
             f"alarm ends {cfg.hold} points after the score falls to "
             f"{cfg.release_factor:g} x the threshold). "
             "An alarm event is a run of consecutive alarm points; a false positive is an "
             "event outside every (inclusive) window.", "",
             *metrics_table(rows, keys), "", f"![detection](plots/{plot.name})"]
    return update_report(run_dir, lines)


def plot_forecast(path, history_t, history, future_t, result, truth=None, title="") -> Path:
    """History, truth (where known), the forecast and its 80%/95% intervals."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(history_t, history, color="0.3", lw=1, label="history")
    if truth is not None and len(truth):
        ax.plot(future_t[:len(truth)], truth, color="k", lw=1.2, label="truth")
    ax.fill_between(future_t, result["lower_95"], result["upper_95"], color="C0", alpha=0.15,
                    label="95% interval")
    ax.fill_between(future_t, result["lower_80"], result["upper_80"], color="C0", alpha=0.3,
                    label="80% interval")
    ax.plot(future_t, result["forecast"], color="C0", lw=1.5, label="forecast")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, plt, path)


def plot_detection(path, t, values, scores, alarms, threshold, windows=(), title="") -> Path:
    """Values with alarms marked and labelled windows shaded; the score and threshold."""
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(11, 5), sharex=True,
                                 gridspec_kw={"height_ratios": [2, 1]})
    for i, (a, b) in enumerate(windows):
        for axis in (ax, bx):
            axis.axvspan(t[a], t[b], color="C1", alpha=0.2,
                         label="labelled window" if i == 0 and axis is ax else None)
    ax.plot(t, values, color="0.3", lw=0.6, label="value")
    ax.scatter(t[alarms], values[alarms], color="C3", s=6, zorder=3, label="alarm")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title)
    bx.plot(t, scores, color="C0", lw=0.7, label="score")
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
