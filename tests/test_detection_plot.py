"""The detection plot shades the warm-up (the first window + smooth - 1 points, scored but
never alarmed), where the predictor's record and the run's report say it ends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from rnnkit.tasks.timeseries import report  # noqa: E402

LABEL = "warm-up (never alarmed)"


def _span(patch) -> tuple[float, float]:
    if hasattr(patch, "get_width"):  # a Rectangle (matplotlib >= 3.9)
        return patch.get_x(), patch.get_x() + patch.get_width()
    xs = np.asarray(patch.get_xy())[:, 0]  # a Polygon before
    return xs.min(), xs.max()


@pytest.fixture
def figures(monkeypatch):
    drawn = []

    def keep(fig, plt, path):
        drawn.append(fig)
        return Path(path)

    monkeypatch.setattr(report, "_save", keep)
    return drawn


@pytest.mark.parametrize("warmup, sensors", [(10, 1), (10, 2), (0, 1), (80, 1)])
def test_the_warm_up_is_shaded_on_every_panel(figures, tmp_path, warmup, sensors):
    t = np.arange(50, 100)  # step numbers: the span's ends are times, not positions
    values = np.sin(np.arange(50 * sensors).reshape(50, sensors) / 3)
    scores = np.abs(values).mean(1)
    alarms = np.zeros(50, bool)
    alarms[40] = True
    names = [f"s{j}" for j in range(sensors)] if sensors > 1 else None
    report.plot_detection(tmp_path / "d.png", t, values, scores, alarms, 0.9,
                          sensors=values if names else None, names=names, warmup=warmup)
    (fig,) = figures
    assert len(fig.axes) == sensors + 1
    for k, ax in enumerate(fig.axes):
        spans = [p for p in ax.patches if p.get_facecolor()[:3] == pytest.approx((0.85,) * 3)]
        if warmup == 0:
            assert spans == []
            continue
        (span,) = spans
        assert _span(span) == (50, 50 + min(warmup, 50) - 1)
        labels = ax.get_legend_handles_labels()[1]
        assert (LABEL in labels) == (k == 0)


def test_the_predictors_plot_passes_the_records_warm_up(monkeypatch, tmp_path):
    from rnnkit.tasks import anomaly

    seen = {}
    monkeypatch.setattr(anomaly, "plot_detection",
                        lambda *a, **k: seen.setdefault("warmup", k["warmup"]))
    record = {"columns": {"timestamp": ["2020-01-01 00:00", "2020-01-01 01:00"],
                          "value": [1.0, 2.0], "score": [0.1, 0.2], "is_anomaly": [0, 0]},
              "threshold": 1.0, "windows": [], "warmup_points": 7}
    stand = anomaly.AnomalyPredictor.__new__(anomaly.AnomalyPredictor)
    stand.run_dir = tmp_path
    stand.plot(record, tmp_path / "p.png")
    assert seen["warmup"] == 7
