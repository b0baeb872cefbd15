"""The time-series report (``rnnkit/tasks/timeseries/report.py``): the exact lines of the
forecast and detection sections from stand-in contexts and figures, the markdown table and
its number format, the section replaced in report.md, and what the forecast and detection
plots draw on stand-in figures (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

from rnnkit.tasks.timeseries import report  # noqa: E402

MARK = "<!-- rnnkit time-series section -->"


@pytest.fixture
def figures(monkeypatch):
    drawn = []

    def keep(fig, plt, path):
        fig.saved_as = Path(path)
        drawn.append(fig)
        return Path(path)

    monkeypatch.setattr(report, "_save", keep)
    yield drawn
    for fig in drawn:  # (kept open by keep)
        report.pyplot().close(fig)


def _span(patch) -> tuple[float, float]:
    if hasattr(patch, "get_width"):  # a Rectangle (matplotlib >= 3.9)
        return patch.get_x(), patch.get_x() + patch.get_width()
    xs = np.asarray(patch.get_xy())[:, 0]
    return xs.min(), xs.max()


def _band(collection) -> tuple[np.ndarray, np.ndarray]:
    """The lower and upper edges of a fill_between, as (x, y) vertices."""
    return np.asarray(collection.get_paths()[0].vertices)


# -- the table, the number format and report.md ------------------------------------------------
def test_metrics_table_is_one_row_per_method_and_one_column_per_key():
    rows = {"rnnkit": {"rmse": 1.234567, "mae": 123456, "mape": None},
            "naive": {"rmse": float("nan"), "mae": 12345.6, "mape": 0.5}}
    assert report.metrics_table(rows, ["rmse", "mae", "mape", "smape"]) == [
        "| method | rmse | mae | mape | smape |",
        "|---|---|---|---|---|",
        "| rnnkit | 1.235 | 123456 | – | – |",
        "| naive | – | 1.235e+04 | 0.5 | – |"]


def test_update_report_adds_then_replaces_its_section(tmp_path):
    path = report.update_report(tmp_path, ["a", "b"])
    assert path == tmp_path / "report.md"
    assert path.read_text() == f"\n\n{MARK}\na\nb\n"
    path.write_text("# Run\n\nsee X  \n\n\n")  # (two spaces: a markdown line break)
    report.update_report(tmp_path, ["c"])
    assert path.read_text() == f"# Run\n\nsee X  \n\n{MARK}\nc\n"
    report.update_report(tmp_path, ["d", "e"])
    assert path.read_text() == f"# Run\n\nsee X  \n\n{MARK}\nd\ne\n"
    path.write_text("# Run\n\nsee X\n")
    report.update_report(tmp_path, ["f"])
    assert path.read_text() == f"# Run\n\nsee X\n\n{MARK}\nf\n"


def test_save_writes_a_png_at_100_dpi_and_closes_the_figure(tmp_path):
    plt = report.pyplot()
    with matplotlib.rc_context({"figure.dpi": 50}):  # (a user's matplotlibrc)
        fig = plt.figure(figsize=(3, 2))
    other = plt.figure()  # the current figure is not the one saved
    path = report._save(fig, plt, str(tmp_path / "new" / "dir" / "f.png"))
    assert path == tmp_path / "new" / "dir" / "f.png" and isinstance(path, Path)
    data = path.read_bytes()
    assert data[:4] == b"\x89PNG"
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (300, 200)
    assert not plt.fignum_exists(fig.number) and plt.fignum_exists(other.number)
    plt.close(other)
    assert report._save(plt.figure(), plt, path.with_name("g.png")).exists()  # the folder is


def test_both_plots_are_written_untitled_by_default(tmp_path):
    plt = report.pyplot()
    plt.close("all")
    f = report.plot_forecast(tmp_path / "f.png", np.arange(3), np.arange(3, 5),
                             [(None, np.zeros(3), _result(2), None)])
    d = report.plot_detection(tmp_path / "d.png", np.arange(4), np.zeros(4), np.zeros(4),
                              np.zeros(4, bool), 1.0)
    assert f.read_bytes()[:4] == d.read_bytes()[:4] == b"\x89PNG"
    assert plt.get_fignums() == []


def test_default_titles_are_empty(figures, tmp_path):
    report.plot_forecast(tmp_path / "f.png", np.arange(3), np.arange(3, 5),
                         [(None, np.zeros(3), _result(2), None)])
    report.plot_detection(tmp_path / "d.png", np.arange(4), np.zeros(4), np.zeros(4),
                          np.zeros(4, bool), 1.0, warmup=1)
    assert [fig.axes[0].get_title() for fig in figures] == ["", ""]
    assert [_span(p) for p in figures[1].axes[0].patches] == [(0, 0)]  # one point of warm-up


def test_sensor_scores_without_names_are_unlabelled(figures, tmp_path):
    t = np.arange(5, 9)
    report.plot_detection(tmp_path / "d.png", t, np.zeros((4, 2)), np.ones(4),
                          np.zeros(4, bool), 1.0, sensors=np.zeros((4, 2)))
    bx = figures[0].axes[-1]
    assert [ln.get_label() for ln in bx.get_lines()] == ["_child0", "_child1", "combined",
                                                         "threshold"]
    assert all(list(ln.get_xdata()) == list(t) for ln in bx.get_lines()[:3])


# -- the forecast plot -------------------------------------------------------------------------
def _result(n, shift=0.0):
    f = np.arange(n, dtype=float) + shift
    return {"forecast": f, "lower_80": f - 1, "upper_80": f + 1, "lower_95": f - 2,
            "upper_95": f + 2}


@pytest.mark.parametrize("truth", [None, np.array([]), np.array([7.0, 8.0])])
def test_plot_forecast_draws_history_truth_forecast_and_both_intervals(figures, tmp_path,
                                                                      truth):
    hist_t, fut_t = np.arange(5), np.arange(5, 9)
    history = np.array([1.0, 2, 3, 4, 5])
    path = report.plot_forecast(tmp_path / "f.png", hist_t, fut_t,
                                [(None, history, _result(4), truth)], title="T")
    assert path == tmp_path / "f.png"
    (fig,) = figures
    (ax,) = fig.axes
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert list(lines) == (["history", "forecast"] if truth is None or not len(truth)
                           else ["history", "truth", "forecast"])
    np.testing.assert_array_equal(lines["history"].get_xdata(), hist_t)
    np.testing.assert_array_equal(lines["history"].get_ydata(), history)
    np.testing.assert_array_equal(lines["forecast"].get_xdata(), fut_t)
    np.testing.assert_array_equal(lines["forecast"].get_ydata(), np.arange(4.0))
    if truth is not None and len(truth):
        np.testing.assert_array_equal(lines["truth"].get_xdata(), fut_t[:2])
        np.testing.assert_array_equal(lines["truth"].get_ydata(), truth)
    colour = matplotlib.colors.to_rgb(lines["forecast"].get_color())
    alphas = [c.get_alpha() for c in ax.collections]  # translucent, in the forecast's colour
    assert 0 < alphas[0] < alphas[1] < 1
    assert all(tuple(c.get_facecolor()[0][:3]) == colour for c in ax.collections)
    bands = {c.get_label(): _band(c) for c in ax.collections}
    assert list(bands) == ["95% interval", "80% interval"]
    for label, half in (("95% interval", 2), ("80% interval", 1)):
        v = bands[label]
        assert set(v[:, 0]) == set(fut_t)
        assert v[:, 1].min() == -half and v[:, 1].max() == 3 + half
        assert {(x, y) for x, y in v} >= {(5 + i, i - half) for i in range(4)} | {
            (5 + i, i + half) for i in range(4)}
    assert ax.get_title() == "T" and ax.get_ylabel() == ""
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        *lines][:1] + (["truth"] if "truth" in lines else []) + [
        "95% interval", "80% interval", "forecast"]


def test_plot_forecast_has_a_panel_per_column_named_on_its_axis(figures, tmp_path):
    hist_t, fut_t = np.arange(3), np.arange(3, 5)
    panels = [("a", np.zeros(3), _result(2), np.ones(2)),
              ("b", np.ones(3), _result(2, 10.0), None)]
    report.plot_forecast(tmp_path / "f.png", hist_t, fut_t, panels, title="two")
    (fig,) = figures
    top, bottom = fig.axes
    assert [top.get_ylabel(), bottom.get_ylabel()] == ["a", "b"]
    assert top.get_title() == "two" and bottom.get_title() == ""
    assert top.get_legend() is not None and bottom.get_legend() is None
    np.testing.assert_array_equal(bottom.get_lines()[-1].get_ydata(), [10.0, 11.0])
    assert [ln.get_label() for ln in bottom.get_lines()] == ["history", "forecast"]
    assert top.get_shared_x_axes().joined(top, bottom)


# -- the detection plot ------------------------------------------------------------------------
def test_plot_detection_draws_values_alarms_windows_score_and_threshold(figures, tmp_path):
    t = np.arange(100, 120)
    values = np.linspace(0, 1, 20)
    scores = values * 2
    alarms = np.zeros(20, bool)
    alarms[[3, 15]] = True
    report.plot_detection(tmp_path / "d.png", t, values, scores, alarms, 0.7,
                          windows=[(2, 4), (10, 12)], title="run")
    (fig,) = figures
    ax, bx = fig.axes
    assert ax.get_title() == "run" and bx.get_title() == ""
    assert fig.axes[0].get_gridspec().get_height_ratios() == [2, 1]
    for axis in (ax, bx):
        spans = [p for p in axis.patches if p.get_facecolor()[:3] != pytest.approx((0.85,) * 3)]
        assert [_span(p) for p in spans] == [(102, 104), (110, 112)]
    assert [p.get_label() for p in ax.patches] == ["labelled window", None]
    assert [p.get_label() for p in bx.patches] == [None, None]
    (value,) = ax.get_lines()
    assert value.get_label() == "value"
    np.testing.assert_array_equal(value.get_xdata(), t)
    np.testing.assert_array_equal(value.get_ydata(), values)
    (dots,) = ax.collections
    assert dots.get_label() == "alarm"
    np.testing.assert_array_equal(dots.get_offsets(), [[103, values[3]], [115, values[15]]])
    score, line = bx.get_lines()
    assert score.get_label() == "score" and line.get_label() == "threshold"
    np.testing.assert_array_equal(score.get_xdata(), t)
    np.testing.assert_array_equal(score.get_ydata(), scores)
    assert list(line.get_ydata()) == [0.7, 0.7] and line.get_linestyle() == "--"
    assert ax.get_shared_x_axes().joined(ax, bx)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "labelled window", "value", "alarm"]
    assert [t.get_text() for t in bx.get_legend().get_texts()] == ["score", "threshold"]


def test_plot_detection_with_sensors_draws_each_sensors_panel_and_score(figures, tmp_path):
    t = np.arange(10)
    values = np.stack([np.arange(10.0), -np.arange(10.0)], 1)
    sensors = np.stack([np.full(10, 0.1), np.full(10, 0.2)], 1)
    alarms = np.zeros(10, bool)
    alarms[4] = True
    report.plot_detection(tmp_path / "d.png", t, values, np.full(10, 0.3), alarms, 1.0,
                          sensors=sensors, names=["a", "b"])
    (fig,) = figures
    assert len(fig.axes) == 3
    assert fig.axes[0].get_gridspec().get_height_ratios() == [2, 2, 2]
    for j, ax in enumerate(fig.axes[:2]):
        (line,) = ax.get_lines()
        assert line.get_label() == "ab"[j]
        np.testing.assert_array_equal(line.get_ydata(), values[:, j])
        np.testing.assert_array_equal(ax.collections[0].get_offsets(), [[4, values[4, j]]])
    bx = fig.axes[2]
    assert [ln.get_label() for ln in bx.get_lines()] == [
        "score: a", "score: b", "combined", "threshold"]
    for j in range(2):
        np.testing.assert_array_equal(bx.get_lines()[j].get_xdata(), t)
        np.testing.assert_array_equal(bx.get_lines()[j].get_ydata(), sensors[:, j])
    colours = [matplotlib.colors.to_rgb(ln.get_color()) for ln in bx.get_lines()]
    assert len(set(colours)) == 4  # each sensor's score, the combined and the threshold


# -- the sections ------------------------------------------------------------------------------
class _Series:
    def __init__(self, t, x, columns):
        self.timestamps, self.values, self.columns = t, x, columns

    def __len__(self):
        return len(self.timestamps)


def _forecast_ctx(x, refit=False):
    t = np.arange(100, 100 + len(x))
    return SimpleNamespace(
        series=_Series(t, x, ["u", "v"][: x.shape[1]] if x.ndim > 1 else ["value"]),
        range=lambda split: {"test": (14, 18)}[split], protocol="rolling",
        cfg=SimpleNamespace(name="demo"),
        task_cfg=SimpleNamespace(refit=refit, replays=3, calibrate="off", ensemble=2))


def _stand_ins(monkeypatch, x, seen):
    result = {"rmse": 1.5, "mae": 2, "baselines": {"naive": {"rmse": 3.25}}}
    if x.ndim > 1:
        result["columns"] = {"u": {"rmse": 0.5}, "v": {"rmse": 0.75}}

    def evaluate_split(model, ctx, split):
        assert ctx.protocol == "rolling"
        seen["split"] = (model, split)
        return result

    def range_forecasts(model, ctx, split, factors):
        assert ctx.protocol == "rolling"
        seen["range"] = (model, split, factors)
        point = np.arange(4.0) if x.ndim == 1 else np.stack([np.arange(4.0), 10 + np.arange(
            4.0)], 1)
        return SimpleNamespace(point=point)

    monkeypatch.setattr(report, "evaluate_split", evaluate_split)
    monkeypatch.setattr(report, "range_forecasts", range_forecasts)
    monkeypatch.setattr(report, "interval_factors",
                        lambda model, ctx: ("factors", model, ctx.protocol)[:2])
    monkeypatch.setattr(report, "bounds", lambda b: {
        k: b.point + d for k, d in (("lower_80", -1), ("upper_80", 1), ("lower_95", -2),
                                    ("upper_95", 2))})
    monkeypatch.setattr(report, "column", lambda flat, k: SimpleNamespace(point=flat.point[:, k]))


@pytest.mark.parametrize("refit", [False, True])
def test_forecast_section_lines_and_plot_of_one_column(figures, monkeypatch, tmp_path, refit):
    x = np.arange(20.0) * 2
    seen = {}
    _stand_ins(monkeypatch, x, seen)
    path = report.forecast_section("M", _forecast_ctx(x, refit), tmp_path)
    assert path == tmp_path / "report.md"
    assert seen == {"split": ("M", "test"), "range": ("M", "test", ("factors", "M"))}
    text = path.read_text()
    assert text.startswith(f"\n\n{MARK}\n")
    refit_words = (" (refit on training + validation: the backtest is the 3 replays trained "
                   "up to their origins)" if refit else "")
    assert text.split(MARK + "\n")[1].splitlines() == [
        "## Test range: rnnkit against the baselines", "",
        "Test range: 4 points from 114; protocol `rolling` (multistep: one forecast of the "
        "whole range from its start; rolling: one step ahead from every origin). Intervals "
        "scaled to nominal coverage on a rolling-origin backtest over the validation range: "
        f"off{refit_words}. Seed ensemble: 2 member(s), quantile forecasts averaged. Baseline "
        "intervals from in-sample residuals.", "",
        "| method | rmse | mae | mape | smape | mase | coverage_80 | coverage_95 |",
        "|---|---|---|---|---|---|---|---|",
        "| rnnkit | 1.5 | 2 | – | – | – | – | – |",
        "| naive | 3.25 | – | – | – | – | – | – |", "",
        "![forecast](plots/forecast_test.png)"]
    (fig,) = figures
    assert fig.saved_as == tmp_path / "plots" / "forecast_test.png"
    (ax,) = fig.axes
    assert ax.get_title() == "demo: test range, rolling forecasts" and ax.get_ylabel() == ""
    history, truth, forecast = ax.get_lines()
    np.testing.assert_array_equal(history.get_xdata(), np.arange(102, 114))  # 3 x 4 back
    np.testing.assert_array_equal(history.get_ydata(), x[2:14])
    np.testing.assert_array_equal(truth.get_xdata(), np.arange(114, 118))
    np.testing.assert_array_equal(truth.get_ydata(), x[14:18])
    np.testing.assert_array_equal(forecast.get_ydata(), np.arange(4.0))
    assert _band(ax.collections[0])[:, 1].min() == -2


def test_forecast_section_of_several_columns_and_a_short_history(figures, monkeypatch,
                                                                 tmp_path):
    x = np.stack([np.arange(20.0), 100 + np.arange(20.0)], 1)
    _stand_ins(monkeypatch, x, {})
    ctx = _forecast_ctx(x)
    ctx.range = lambda split: (6, 10)  # 3 x 4 back would start before the series
    lines = report.forecast_section(None, ctx, tmp_path).read_text().splitlines()
    assert lines[5].endswith("Baseline intervals from in-sample residuals. 2 value columns: "
                             "the first rows are their means, the last each column's.")
    assert lines[7:] == [
        "| method | rmse | mae | mape | smape | mase | coverage_80 | coverage_95 |",
        "|---|---|---|---|---|---|---|---|",
        "| rnnkit | 1.5 | 2 | – | – | – | – | – |",
        "| naive | 3.25 | – | – | – | – | – | – |",
        "| rnnkit: u | 0.5 | – | – | – | – | – | – |",
        "| rnnkit: v | 0.75 | – | – | – | – | – | – |", "",
        "![forecast](plots/forecast_test.png)"]
    (fig,) = figures
    assert [ax.get_ylabel() for ax in fig.axes] == ["u", "v"]
    for k, ax in enumerate(fig.axes):
        history, truth, forecast = ax.get_lines()
        np.testing.assert_array_equal(history.get_ydata(), x[0:6, k])
        np.testing.assert_array_equal(truth.get_ydata(), x[6:10, k])
        np.testing.assert_array_equal(forecast.get_ydata(), 10 * k + np.arange(4.0))


def _detection_ctx(x, label_column="label"):
    t = np.arange(len(x)) + 1000
    return SimpleNamespace(
        series=_Series(t, x, ["a", "b"] if x.ndim > 1 else ["value"]), train_end=6, fit_end=4,
        cfg=SimpleNamespace(name="anom"),
        task_cfg=SimpleNamespace(hold=5, release_factor=0.5, label_column=label_column))


@pytest.mark.parametrize("sensors, labels", [(1, True), (2, True), (1, False)])
def test_detection_section_lines_and_what_it_plots(monkeypatch, tmp_path, sensors, labels):
    n = 12
    x = np.arange(n * sensors, dtype=float).reshape(n, sensors)
    x = x[:, 0] if sensors == 1 else x
    seen = {"z": []}

    def rolling_zscore(values, window):
        seen["z"].append((values.copy(), window))
        z = np.zeros(len(values))
        z[[1, 8]] = 3.5 if len(seen["z"]) == 1 else 0.0  # the first sensor's
        z[9] = -3.5 if len(seen["z"]) == 2 else 3.0  # the second's (3.0 is not > 3)
        return z

    def labelled_scores(c, z):
        assert c is ctx
        seen["alarms"] = z.copy()
        return {"windows_detected": 1, "f1": 0.25}

    def plot_detection(path, *args, **kwargs):
        seen["plot"] = (path, args, kwargs)
        return Path(path)

    det = {"score": np.ones(n), "is_anomaly": np.zeros(n, bool),
           "sensors": np.zeros((n, sensors))}
    monkeypatch.setattr(report, "rolling_zscore", rolling_zscore)
    monkeypatch.setattr(report, "labelled_scores", labelled_scores)
    ctx = _detection_ctx(x)

    def own(value):  # each stand-in reads the section's own context
        def check(model, c, *rest):
            assert c is ctx and all(r is ctx.series.timestamps for r in rest)
            return value(model)
        return check

    monkeypatch.setattr(report, "evaluate_detection", own(
        lambda model: {"windows_total": 2, "precision": 0.5} | (
            {} if model == "M" else {"f1": -1})))
    monkeypatch.setattr(report, "has_labels", lambda c: c is ctx and labels)
    monkeypatch.setattr(report, "detect", own(lambda model: det if model == "M" else None))
    monkeypatch.setattr(report, "threshold", own(lambda model: 2.5 if model == "M" else 0))
    monkeypatch.setattr(report, "labelled_windows",
                        lambda c, t: own(lambda _: [(1, 2)] if labels else None)(None, c, t))
    monkeypatch.setattr(report, "warmup", lambda cfg: cfg.hold + 1)
    monkeypatch.setattr(report, "plot_detection", plot_detection)
    path = report.detection_section("M", ctx, tmp_path)
    assert path == tmp_path / "report.md"
    assert [w for _, w in seen["z"]] == [288] * sensors
    for k, (v, _) in enumerate(seen["z"]):
        np.testing.assert_array_equal(v, x if sensors == 1 else x[:, k])
    expected = np.zeros(n, bool)
    expected[8] = True
    if sensors == 2:
        expected[9] = True
    np.testing.assert_array_equal(seen["alarms"], expected)  # point 1 is in the training range
    plot_path, args, kwargs = seen["plot"]
    assert plot_path == tmp_path / "plots" / "detection.png"
    assert args[0] is ctx.series.timestamps and args[1] is ctx.series.values
    assert args[2] is det["score"] and args[3] is det["is_anomaly"] and args[4] == 2.5
    assert args[5] == ([(1, 2)] if labels else [])
    assert kwargs == {"title": "anom", "warmup": 6,
                      "sensors": det["sensors"] if sensors > 1 else None,
                      "names": ["a", "b"] if sensors > 1 else None}
    z_name = "rolling z-score (288 points, abs z > 3" + (" on any sensor)" if sensors > 1
                                                         else ")")
    many = (" 2 sensors: the alarm reads the root mean square of their standardised errors."
            if sensors > 1 else "")
    none = (" No labels (the file has no column 'label', task.label_column: 1 marks an "
            "anomalous point): only the alarms are counted." if not labels else "")
    assert path.read_text().split(MARK + "\n")[1].splitlines() == [
        "## Labelled windows: rnnkit against the rolling z-score detector", "",
        "Scored range: points 6..11 (after the training range; the threshold comes from "
        "points 4..5; an alarm ends 5 points after the score falls to 0.5 x the threshold). "
        "An alarm event is a run of consecutive alarm points; a false positive is an event "
        f"outside every (inclusive) window.{many}{none}", "",
        "| method | windows_detected | windows_total | alarm_events | false_positives | "
        "alarm_points_outside | precision | recall | f1 |",
        "|---|---|---|---|---|---|---|---|---|",
        "| rnnkit | – | 2 | – | – | – | 0.5 | – | – |",
        f"| {z_name} | 1 | – | – | – | – | – | – | 0.25 |", "",
        "![detection](plots/detection.png)"]
