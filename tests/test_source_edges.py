"""Where a series comes from, at the edges mutation testing found unguarded
(benchmarks/mutation.py on rnnkit/tasks/timeseries/source.py): a semicolon file's header,
a run's time format reaching both the values' and the labels' read, the labels read past
the covariates' known future, and the repair named the way a config or a predictor
sets it."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.tasks import TaskError
from rnnkit.tasks.anomaly import AnomalyConfig
from rnnkit.tasks.forecast import ForecastConfig
from rnnkit.tasks.timeseries import source
from rnnkit.tasks.timeseries.source import load_labels, load_source, pushed_time


def _write(path, header, rows, sep=","):
    path.write_text(sep.join(header) + "\n" + "".join(sep.join(r) + "\n" for r in rows))
    return str(path)


def test_a_semicolon_files_header_is_split_by_its_separator(tmp_path):
    path = _write(tmp_path / "s.csv", ["t", "value", "label"],
                  [[f"2024-01-{d:02d}", f"{d}", "0"] for d in range(1, 6)], sep=";")
    assert source._header(path) == ["t", "value", "label"]
    cfg = AnomalyConfig(data=path)
    series, _ = load_source(cfg)
    assert series.columns == ("value",)  # the label column is no sensor


def test_a_repair_is_named_as_a_config_and_as_an_option_sets_it(tmp_path):
    assert source._option_repair(["sort", "interpolate"]) == (
        'pass repair="sort,interpolate" (--repair sort,interpolate)')
    assert source._config_repair(["sort", "interpolate"]) == (
        'set task.repair = "sort, interpolate"')
    path = _write(tmp_path / "u.csv", ["t", "v"],
                  [["2024-01-02", "1"], ["2024-01-01", "2"], ["2024-01-03", "3"]])
    with pytest.raises(TaskError) as err:
        load_source(ForecastConfig(data=path))
    assert str(err.value) == (f"{path}:3: timestamp 2024-01-01 comes before the previous one; "
                              'set task.repair = "sort" to sort the rows')


def _monthly_firsts(n):
    """First-of-month dates as day/month/year: every day is 01, so both day/month orders
    read the column; up to 12 of them, both readings step regularly (months, or days of
    January) and only ``time_format`` decides."""
    months = np.arange("2022-01", "2030-01", dtype="datetime64[M]")[:n]
    return [f"01/{str(m)[5:7]}/{str(m)[:4]}" for m in months]


def test_the_runs_time_format_reaches_the_read(tmp_path):
    path = _write(tmp_path / "m.csv", ["month", "v"],
                  [[d, str(i)] for i, d in enumerate(_monthly_firsts(12))])
    with pytest.raises(TaskError, match="read in more than one way"):  # 12 days or months
        load_source(ForecastConfig(data=path))
    series, _ = load_source(ForecastConfig(data=path, time_format="%d/%m/%Y"))
    np.testing.assert_array_equal(series.timestamps,
                                  np.arange("2022-01", "2023-01", dtype="datetime64[M]"))
    years = _write(tmp_path / "y.csv", ["t", "v"], [[str(1990 + i), str(i)] for i in range(9)])
    series, _ = load_source(ForecastConfig(data=years, time_format="step"))
    assert series.timestamps.dtype == np.int64 and series.timestamps[0] == 1990


def test_labels_are_read_with_the_runs_time_format_and_covariates(tmp_path):
    dates = _monthly_firsts(24)
    flagged = {5, 6, 17}
    rows = [[d, f"{10 + i % 3}", f"{i % 5}", str(int(i in flagged))]
            for i, d in enumerate(dates[:21])]
    rows += [[d, "", f"{i % 5}", ""] for i, d in enumerate(dates[21:], 21)]  # the future
    path = _write(tmp_path / "a.csv", ["month", "v", "temp", "label"], rows)
    cfg = AnomalyConfig(data=path, time_format="%d/%m/%Y", covariate_columns=["temp"],
                        calendar=False)
    series, lengths = load_source(cfg)
    assert len(series) == 21 and series.covariates.shape == (24, 1)
    labels = load_labels(cfg, "label", series, lengths)
    assert np.flatnonzero(labels).tolist() == sorted(flagged)


def test_a_pushed_time_that_is_no_time_is_refused():
    for bad in (None, "soon", 3.5, object()):
        with pytest.raises(TaskError, match="is not a time"):
            pushed_time(bad)


def test_no_label_column_reads_no_labels_even_from_an_unnamed_column(tmp_path):
    # pandas writes its index column with an empty name: "" is a column of that file, and
    # label_column = "" (no labels) must not read it
    path = _write(tmp_path / "p.csv", ["", "value"],
                  [[f"2024-01-{d:02d}", f"{d}"] for d in range(1, 6)])
    cfg = AnomalyConfig(data=path, label_column="", calendar=False)
    series, lengths = load_source(cfg)
    assert len(series) == 5 and load_labels(cfg, "", series, lengths) is None
