"""A user's anomaly labels (``task.label_column``, default ``label``): a 0/1 column of the
series CSV (the layout of Yahoo's S5 and of most labelled sensor logs) marks anomalous
points; it is not a sensor, its runs of 1 are the labelled windows ``evaluate`` scores
against, and without it the figures that need labels are NaN (unknown), not 0."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.timeseries.detector import (
    UNLABELLED,
    detect,
    evaluate_detection,
    labelled_windows,
)
from rnnkit.tasks.timeseries.events import event_scores
from rnnkit.training.config_io import ConfigError

TASK = TASKS["anomaly"]
T0 = np.datetime64("2020-01-01T00:00")


def _write(path, n, labels=None, column="label", extra=""):
    """``n`` half-hourly points of one sensor, and a label column when ``labels`` (indices
    of the anomalous points) is given."""
    v = 10 + 5 * np.sin(2 * np.pi * np.arange(n) / 48)
    flag = np.zeros(n, int)
    flag[list(labels or [])] = 1
    head = "timestamp,value" + (f",{column}" if labels is not None else "") + extra
    rows = [f"{str(T0 + i * np.timedelta64(30, 'm')).replace('T', ' ')},{v[i]:.4f}"
            + (f",{flag[i]}" if labels is not None else "") for i in range(n)]
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return str(path)


def _ctx(data=None, **task):
    cfg = config_from_raw({
        "name": "ad", "seed": 0,
        "task": {"name": "anomaly", "window": 6, "train_size": 60, "calib_size": 0.3,
                 **({"data": data} if data else {}), **task},
        "model": {"cell": "gru", "hidden_size": 5},
        "train": {"steps": 1, "batch_size": 8, "progress": "off"},
        "diagnostics": {"every": 0}}, "test")
    return TASK.setup(cfg)


def test_the_label_column_is_read_as_labels_and_not_as_a_sensor(tmp_path):
    anomalous = [70, 71, 72, 90, 99]
    ctx = _ctx(_write(tmp_path / "s.csv", 100, anomalous))
    assert ctx.series.columns == ("value",) and ctx.series.values.shape == (100,)
    assert ctx.labels.dtype == bool and np.flatnonzero(ctx.labels).tolist() == anomalous
    t = ctx.series.timestamps
    assert labelled_windows(ctx, t) == [(70, 72), (90, 90), (99, 99)]
    assert labelled_windows(ctx, t[80:]) == [(10, 10), (19, 19)]  # by time, in another range
    other = _ctx(_write(tmp_path / "o.csv", 100, [5], column="is_anomaly"),
                 label_column="is_anomaly")
    assert other.series.columns == ("value",) and np.flatnonzero(other.labels).tolist() == [5]
    plain = _ctx(_write(tmp_path / "p.csv", 100, [5], column="is_anomaly"))
    assert plain.series.columns == ("value", "is_anomaly") and plain.labels is None


def test_parts_without_the_column_are_unlabelled(tmp_path):
    train = _write(tmp_path / "train.csv", 80)
    test = tmp_path / "test.csv"
    _write(test, 100, [85, 86])
    lines = test.read_text().splitlines()
    test.write_text("\n".join([lines[0], *lines[81:]]) + "\n")  # points 80..99
    ctx = _ctx(train_data=train, test_data=str(test))
    assert len(ctx.series) == 100 and len(ctx.labels) == 100 and ctx.labels.dtype == bool
    assert np.flatnonzero(ctx.labels).tolist() == [85, 86]
    plain = tmp_path / "t2.csv"
    _write(plain, 100)
    lines = plain.read_text().splitlines()
    plain.write_text("\n".join([lines[0], *lines[81:]]) + "\n")
    assert _ctx(train_data=train, test_data=str(plain)).labels is None
    assert _ctx().labels is None  # a named series: NAB's windows instead


@pytest.mark.parametrize("cell, problem", [("", "missing value in column 'label'"),
                                           ("yes", "value 'yes' in column 'label' is not a "
                                                   "number")])
def test_a_row_without_a_0_or_1_label_names_its_line(tmp_path, cell, problem):
    path = tmp_path / "s.csv"
    _write(path, 100, [3])
    lines = path.read_text().splitlines()
    lines[8] = lines[8].rsplit(",", 1)[0] + "," + cell
    path.write_text("\n".join(lines) + "\n")
    ctx = _ctx(str(path))
    with pytest.raises(TaskError) as err:
        print(ctx.labels)
    assert str(err.value) == (f"{path}:9: {problem}: task.label_column = 'label' needs 1 "
                              "(an anomalous point) or 0 (a normal one) on every row")


def test_a_label_column_that_is_also_data_is_a_config_error(tmp_path):
    data = _write(tmp_path / "s.csv", 100, [3])
    for key in ("value_columns", "covariate_columns"):
        with pytest.raises(ConfigError, match="task.label_column = 'label' is also a value or "
                                              "covariate column: the labels are not read as "
                                              "data"):
            _ctx(data, **{key: ["label"]}, **({"value_columns": ["value"]}
                                               if key == "covariate_columns" else {}))


def _model(ctx):
    torch.manual_seed(0)
    return TASK.build_model(ctx)


def test_evaluate_scores_the_alarms_against_the_labelled_windows(tmp_path):
    ctx = _ctx(_write(tmp_path / "s.csv", 100, [50, 70, 71, 72, 90]), threshold_factor=0.05)
    model = _model(ctx)
    got = evaluate_detection(model, ctx)
    alarms = detect(model, ctx)["is_anomaly"].copy()
    alarms[:ctx.train_end] = False
    assert ctx.train_end == 60 and alarms.any()
    # by hand: the windows after the training range (point 50's is before it)
    want = event_scores(alarms, [(70, 72), (90, 90)])
    assert {k: got[k] for k in want} == want and want["windows_total"] == 2


def test_without_labels_the_figures_that_need_them_are_nan(tmp_path):
    ctx = _ctx(_write(tmp_path / "s.csv", 100), threshold_factor=0.05)
    model = _model(ctx)
    got = evaluate_detection(model, ctx)
    assert all(math.isnan(got[k]) for k in UNLABELLED)
    alarms = detect(model, ctx)["is_anomaly"].copy()
    alarms[:ctx.train_end] = False
    assert got["alarm_events"] == event_scores(alarms, [])["alarm_events"] > 0
    assert math.isfinite(got["threshold"])


def test_labels_follow_the_values_through_the_time_column_and_repairs(tmp_path):
    """The labels are read with the run's time column, repairs and time format, so label i
    is point i's however the file is laid out: here the time column is not the first, the
    rows are out of order (repair "sort") and the times day/month/year."""
    rows = [(f"{d:02d}/01/2024", d * 1.5, int(d in (13, 14))) for d in range(1, 25)]
    order = [5, 3, 1, 0, 2, 4] + list(range(6, 24))  # the first rows shuffled
    lines = ["value,label,when"] + [f"{rows[i][1]},{rows[i][2]},{rows[i][0]}" for i in order]
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n")
    ctx = _ctx(str(path), time_column="when", repair="sort", time_format="%d/%m/%Y",
               calendar=False, window=3, train_size=12)
    assert ctx.series.columns == ("value",)
    np.testing.assert_allclose(ctx.series.values, [r[1] for r in rows])
    assert ctx.labels.dtype == bool and np.flatnonzero(ctx.labels).tolist() == [12, 13]


def test_a_label_count_that_differs_from_the_points_is_named(tmp_path, monkeypatch):
    import rnnkit.tasks.timeseries.source as src

    ctx = _ctx(_write(tmp_path / "s.csv", 100, [5]))
    read = src.read_csv

    def fewer(path, *args, value_columns=None, **kwargs):
        series = read(path, *args, value_columns=value_columns, **kwargs)
        return series.head(99) if value_columns == ["label"] else series

    monkeypatch.setattr(src, "read_csv", fewer)
    with pytest.raises(TaskError) as err:
        print(ctx.labels)
    assert str(err.value) == ("task.label_column = 'label': 99 labelled rows for 100 points "
                              "(rows with no value, the covariates' future, take no label)")


def test_without_a_label_column_key_every_other_column_is_a_value(tmp_path):
    from types import SimpleNamespace

    from rnnkit.tasks.timeseries.source import _values

    path = _write(tmp_path / "s.csv", 10, [1])
    cfg = SimpleNamespace(time_column="", covariate_columns=[])
    assert _values(path, cfg) is None  # a forecast's config: no label column at all
    cfg.label_column = ""
    assert _values(path, cfg) is None
    cfg.label_column = "label"
    assert _values(path, cfg) == ["value"]
    cfg.label_column = "other"
    assert _values(path, cfg) is None
