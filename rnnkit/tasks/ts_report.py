"""report.md sections and plots of forecast and anomaly runs: the metrics table against
the baselines, the forecast with its intervals, the scores with the labelled windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .ts_common import pyplot

MARK = "<!-- rnnkit time-series section -->"


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
