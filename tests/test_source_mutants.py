"""Where a series comes from (rnnkit/tasks/timeseries/source.py), each part on its own: the
config checks and their messages, consecutive parts joined (and refused when they are not
consecutive), a predictor's input read by the run's columns, ranges, time steps, labels and
values given in memory (found by mutation testing, benchmarks/mutation.py: these were
reached only through runs that train)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.timeseries import MAX_ABS, Series
from rnnkit.tasks import TaskError
from rnnkit.tasks.forecast import ForecastConfig
from rnnkit.tasks.timeseries.source import (
    as_series,
    column_names,
    future_times,
    load_source,
    parse_repair,
    parse_times,
    read_input,
    source_errors,
    time_labels,
    time_step,
)
from rnnkit.tasks.timeseries.source import (
    test_points as range_points,
)

UNREAD = ("split_seed", "val_fraction")


def _csv(path, rows, header="month,value"):
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return str(path)


def _months(start, n, fmt=lambda i: f"{100 + i}"):
    m0 = np.datetime64(start, "M")
    return [f"{m0 + i},{fmt(i)}" for i in range(n)]


# ------------------------------------------------------------------ config checks


def test_parse_repair_splits_on_commas_and_names_unknown_repairs():
    assert parse_repair(" sort , interpolate,,") == ["sort", "interpolate"]
    assert parse_repair("") == []
    with pytest.raises(TaskError) as err:
        parse_repair("sort interpolate")  # a space is not a separator
    assert str(err.value).startswith("task.repair: unknown repair ['sort interpolate']; "
                                     "choose from ('sort',")


def test_source_errors_name_each_problem(tmp_path):
    assert source_errors(ForecastConfig(name="forecast", series="airline-passengers"),
                         UNREAD) == []
    cfg = ForecastConfig(name="forecast", series="airline-passengers")
    cfg.csv = _csv(tmp_path / "a.csv", _months("2000-01", 3))  # former names left beside
    cfg.value_column = "v"  # the new ones
    cfg.value_columns, cfg.covariate_columns = ["v", "w"], "temp"
    cfg.time_column, cfg.repair, cfg.split_seed = "w", "sort, fix", 7
    errors = source_errors(cfg, UNREAD)
    assert errors == [
        "task.csv is the former name of task.data: set one of them",
        "task.value_column is the former name of task.value_columns: set one",
        "task.covariate_columns = 'temp': expected a list of column names, e.g. [\"a\", \"b\"]",
        "column(s) ['w'] named twice in task.time_column / value_columns / covariate_columns",
        "task.split_seed = 7: a series is split by time, never shuffled; this key is not read "
        "(leave it out)",
        "task.repair: unknown repair ['fix']; choose from " + str(
            ("sort", "drop-duplicates", "interpolate", "ignore-gaps", "keep-order",
             "invalid-as-missing"))]


@pytest.mark.parametrize("columns", [["a", ""], ["a", 3], "a"])
def test_value_columns_must_be_a_list_of_names(columns):
    cfg = ForecastConfig(name="forecast", series="airline-passengers")
    cfg.value_columns = columns
    assert source_errors(cfg, UNREAD) == [
        f"task.value_columns = {columns!r}: expected a list of column names, e.g. "
        '["a", "b"]']


def test_a_column_named_twice_counts_the_time_column_only_when_set():
    cfg = ForecastConfig(name="forecast", series="airline-passengers",
                         value_columns=["a", "b"], covariate_columns=["c"])
    assert source_errors(cfg, UNREAD) == []  # time_column "" is not a name
    cfg.covariate_columns = ["c", "a"]
    assert source_errors(cfg, UNREAD) == [
        "column(s) ['a'] named twice in task.time_column / value_columns / "
        "covariate_columns"]


# ------------------------------------------------------------------------- reading


def test_one_file_read_by_the_configured_columns(tmp_path):
    path = _csv(tmp_path / "s.csv", [f"{i},2000-{1 + i:02d},{10 + i},{i % 2}"
                                     for i in range(12)], header="id,when,sales,promo")
    cfg = ForecastConfig(name="forecast", data=path, time_column="when",
                         value_columns=["sales"], covariate_columns=["promo"])
    series, parts = load_source(cfg)
    assert parts == {} and list(series.columns) == ["sales"]
    assert list(series.covariate_columns) == ["promo"]
    assert series.values.tolist() == [10.0 + i for i in range(12)]
    assert str(series.timestamps[0]).startswith("2000-01")
    assert column_names(series, cfg) == {"time": "when", "values": ["sales"],
                                         "covariates": ["promo"]}
    cfg.repair = "sort"
    assert load_source(cfg)[0].values.tolist() == series.values.tolist()
    with pytest.raises(TaskError, match="no-such.csv"):
        load_source(ForecastConfig(name="forecast", data=str(tmp_path / "no-such.csv")))


def test_a_named_series_loads_by_its_name(monkeypatch):
    from rnnkit.tasks.timeseries import source

    asked = []

    def fake(name):
        asked.append(name)
        return Series(np.arange(3), np.ones(3))

    monkeypatch.setattr(source, "load_series", fake)
    series, parts = load_source(ForecastConfig(name="forecast", series="monthly-sunspots"))
    assert asked == ["monthly-sunspots"] and parts == {} and len(series) == 3


def test_consecutive_parts_join_and_the_repairs_that_allow_a_gap(tmp_path):
    train = _csv(tmp_path / "a.csv", _months("2000-01", 24))
    val = _csv(tmp_path / "b.csv", _months("2002-01", 6, lambda i: f"{200 + i}"))
    test = _csv(tmp_path / "c.csv", _months("2002-07", 6, lambda i: f"{300 + i}"))
    cfg = ForecastConfig(name="forecast", train_data=train, val_data=val, test_data=test)
    series, parts = load_source(cfg)
    assert parts == {"val": 6, "test": 6} and len(series) == 36
    assert series.values[23:26].tolist() == [123.0, 200.0, 201.0]
    assert series.name == "a" and list(series.columns) == ["value"]
    gap = _csv(tmp_path / "g.csv", _months("2002-09", 6))  # two months late
    with pytest.raises(TaskError) as err:
        load_source(ForecastConfig(name="forecast", train_data=train, test_data=gap))
    assert str(err.value) == (
        "task.test_data (g) starts at 2002-09, not one step after the part before it "
        "ends (2001-12): the parts must be consecutive pieces of one series")
    for repair in ("ignore-gaps", "keep-order"):
        joined, _ = load_source(ForecastConfig(name="forecast", train_data=train,
                                               test_data=gap, repair=repair))
        assert len(joined) == 30
    for start in ("2001-12", "2001-06"):  # overlapping: never allowed
        back = _csv(tmp_path / "o.csv", _months(start, 6))
        with pytest.raises(TaskError) as err:
            load_source(ForecastConfig(name="forecast", train_data=train, test_data=back,
                                       repair="ignore-gaps"))
        assert str(err.value) == (
            f"task.test_data (o) starts at {start}, not after the part before it ends "
            "(2001-12): the parts must be consecutive pieces of one series")


def test_parts_must_share_their_columns_and_only_the_last_holds_the_future(tmp_path):
    head = "month,value,temp"
    train = _csv(tmp_path / "a.csv", [r + ",1.5" for r in _months("2000-01", 24)], head)
    test = _csv(tmp_path / "c.csv", [r + ",2.5" for r in _months("2002-01", 6)]
                + ["2002-07,,3.5"], head)  # one future covariate row
    cfg = ForecastConfig(name="forecast", train_data=train, test_data=test,
                         covariate_columns=["temp"])
    series, parts = load_source(cfg)
    assert series.covariates.shape == (31, 1) and series.covariates[-2:, 0].tolist() == [
        2.5, 3.5]
    assert list(series.covariate_columns) == ["temp"] and parts == {"test": 6}
    ahead = _csv(tmp_path / "b.csv", [r + ",2.0" for r in _months("2002-01", 3)]
                 + ["2002-04,,2.0"], head)
    with pytest.raises(TaskError) as err:
        load_source(ForecastConfig(name="forecast", train_data=train, val_data=ahead,
                                   test_data=test, covariate_columns=["temp"]))
    assert str(err.value) == (
        "b: rows past its last value (covariates only) come before task.test_data; "
        "only the last part may hold the covariates' future")
    other = _csv(tmp_path / "d.csv", _months("2002-01", 6), "month,sales")
    plain = _csv(tmp_path / "e.csv", _months("2000-01", 24))
    with pytest.raises(TaskError) as err:
        load_source(ForecastConfig(name="forecast", train_data=plain, test_data=other))
    assert str(err.value) == ("task.test_data (d) has the columns ['sales'] + []; "
                              "the part before it ['value'] + []")
    cov_only = _csv(tmp_path / "f.csv", [r + ",1.0" for r in _months("2002-01", 6)], head)
    with pytest.raises(TaskError) as err:  # one more value column, no covariates in either
        load_source(ForecastConfig(name="forecast", train_data=plain, test_data=cov_only))
    assert str(err.value) == ("task.test_data (f) has the columns ['value', 'temp'] + []; "
                              "the part before it ['value'] + []")


def test_a_predictor_input_is_read_by_the_runs_columns(tmp_path):
    cfg = ForecastConfig(name="forecast", series="airline-passengers")
    rows = [f"2000-{m:02d},{m},{10 * m},{100 * m}" for m in range(1, 13)]
    path = _csv(tmp_path / "in.csv", rows, "month,x,sales,y")
    one = read_input(path, cfg)  # no record: the first column after the time
    assert list(one.columns) == ["x"] and one.name == path and one.values[0] == 1.0
    two = read_input(path, cfg, {"values": ["y", "sales"]})  # the names the run trained on
    assert list(two.columns) == ["y", "sales"] and two.values[0].tolist() == [100.0, 10.0]
    renamed = read_input(path, cfg, {"values": ["a", "b"]})  # not in the file: by position
    assert list(renamed.columns) == ["x", "sales"]
    timed = ForecastConfig(name="forecast", series="airline-passengers", time_column="month")
    moved = _csv(tmp_path / "moved.csv", [f"{m},2000-{m:02d}" for m in range(1, 13)],
                 "x,month")
    assert list(read_input(moved, timed).columns) == ["x"]  # the time column is not a value
    with pytest.raises(TaskError) as err:
        read_input(path, cfg, {"values": ["a", "b", "c", "d"]})
    assert str(err.value) == (f"{path}: 3 value column(s) ['x', 'sales', 'y']; the run reads "
                              "4: ['a', 'b', 'c', 'd']")
    with pytest.raises(TaskError) as err:
        read_input(path, ForecastConfig(name="forecast", series="airline-passengers",
                                        value_columns=["x", "y"]))
    assert str(err.value) == f"{path}: 2 value column(s) ['x', 'y']; the run reads 1: ['value']"
    gappy = _csv(tmp_path / "gap.csv", ["2000-01,1", "2000-02,2", "2000-03,3", "2000-05,5"],
                 "month,v")
    with pytest.raises(TaskError, match="gap"):
        read_input(gappy, cfg, repair="")
    assert len(read_input(gappy, cfg, repair="interpolate")) == 5
    with pytest.raises(TaskError, match="missing.csv"):
        read_input(str(tmp_path / "missing.csv"), cfg)


def test_a_byte_order_mark_does_not_hide_the_recorded_names(tmp_path):
    cfg = ForecastConfig(name="forecast", series="airline-passengers")
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffmonth,a,b\n".encode() + "".join(
        f"2000-{m:02d},{m},{-m}\n" for m in range(1, 7)).encode())
    assert read_input(str(path), cfg, {"values": ["b"]}).values.tolist() == [
        -1.0, -2.0, -3.0, -4.0, -5.0, -6.0]
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(b"month,a,b\r\n" + b"".join(
        f"2000-{m:02d},{m},{-m}\r\n".encode() for m in range(1, 7)))
    assert list(read_input(str(crlf), cfg, {"values": ["b"]}).columns) == ["b"]
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(TaskError):
        read_input(str(empty), cfg)


# -------------------------------------------------------------- ranges and times


def test_test_points_by_count_or_fraction():
    assert range_points(100, 24, 0.2) == 24
    assert range_points(100, 1, 0.2) == 1  # one point is a count, not a fraction
    assert range_points(100, 1.5, 0.2) == 1
    assert range_points(100, 0.25, 0.2) == 25
    assert range_points(100, 0.001, 0.2) == 1  # a fraction rounds up
    assert range_points(100, 0, 0.2) == 20 and range_points(100, 0, 12) == 12
    assert range_points(100, 99, 0.2) == 99
    for n, size, count in ((100, 100, 100), (100, 0.9999, 100), (5, 7, 7), (5, 0.1, 1)):
        if count < n:
            continue
        with pytest.raises(TaskError) as err:
            range_points(n, size, 0.2)
        assert str(err.value) == f"a test range of {count} points does not fit a series of {n}"


def test_time_steps_and_future_times():
    months = np.arange("2000-01", "2000-04", dtype="datetime64[M]")
    assert time_step(months) == np.timedelta64(1, "M")
    days = np.array(["2000-01-01", "2000-01-02", "2000-01-04", "2000-01-05"],
                    dtype="datetime64[D]")
    assert time_step(days) == np.timedelta64(1, "D")  # the median step
    two = np.array(["2000-01-01T00:00", "2000-01-01T00:30"], dtype="datetime64[m]")
    assert time_step(two) == np.timedelta64(30, "m")  # two points give one step
    assert time_step(two[:1]) == np.timedelta64(1, "m")
    same = np.array(["2000-01-01", "2000-01-01", "2000-01-01"], dtype="datetime64[D]")
    assert time_step(same) == np.timedelta64(1, "D")  # never 0
    future = future_times(months, 3)
    assert future.tolist() == np.arange("2000-04", "2000-07", dtype="datetime64[M]").tolist()
    assert future_times(np.arange(5), 3).tolist() == [5, 6, 7]
    assert future_times(np.arange(5), 0).tolist() == []


def test_time_labels_round_trip():
    stamps = np.array(["2020-01-01T00:30:00", "2020-01-01T01:00:00"], dtype="datetime64[s]")
    labels = time_labels(stamps)
    assert labels == ["2020-01-01 00:30:00", "2020-01-01 01:00:00"]
    assert (parse_times(labels) == stamps).all()
    assert (parse_times([" 2020-01-01 00:30:00 "]) == stamps[:1]).all()
    assert parse_times(["1959", "1960"]).tolist() == [1959, 1960]
    assert parse_times(["-3", "4"]).tolist() == [-3, 4]
    assert time_labels(np.arange(3)) == ["0", "1", "2"]
    months = np.arange("1959-01", "1959-03", dtype="datetime64[M]")
    assert time_labels(months) == ["1959-01", "1959-02"]
    assert (parse_times(time_labels(months)) == months).all()
    with pytest.raises(ValueError):
        parse_times(["3-"])  # a trailing minus is not a number


# ------------------------------------------------------------- values in memory


def test_values_in_memory_become_a_series_at_positions():
    s = as_series([1, 2, 3], "x")
    assert s.timestamps.tolist() == [0, 1, 2] and s.values.tolist() == [1.0, 2.0, 3.0]
    assert s.values.dtype == np.float64
    rows = as_series([[1, 2], [3, 4], [5, 6]], "x", width=2)
    assert rows.values.shape == (3, 2) and rows.timestamps.tolist() == [0, 1, 2]
    flat = as_series(np.array([[1.0], [2.0]]), "x")
    assert flat.values.shape == (2,)
    given = Series(np.arange(3), np.array([1.0, 2.0, 3.0]))
    assert as_series(given, "x") is given
    assert as_series([MAX_ABS, -MAX_ABS], "x").values.tolist() == [MAX_ABS, -MAX_ABS]


@pytest.mark.parametrize("data, kw, message", [
    ("abc", {}, "history: not a sequence of numbers (could not convert string to float: "
                "'abc')"),
    ([1, 2, 3], {"width": 2}, "history: 1 value column(s); the run reads 2 (values of "
                              "shape (N, 2))"),
    ([[1, 2, 3]], {"width": 2}, "history: 3 value column(s); the run reads 2 (values of "
                                "shape (N, 2))"),
    ([1.0, float("nan")], {}, f"history: holds a value that is NaN, infinite or beyond "
                              f"+-{MAX_ABS:g}"),
    ([1.0, 2e15], {}, f"history: holds a value that is NaN, infinite or beyond +-{MAX_ABS:g}"),
    ([1.0, 2.0], {"covariates": 1}, "history: the run reads 1 covariate column(s): give a "
                                    "Series with covariates (read_file reads them from a CSV)"),
])
def test_values_in_memory_are_checked(data, kw, message):
    with pytest.raises(TaskError) as err:
        as_series(data, "history", **kw)
    assert str(err.value) == message


def test_covariates_in_memory_are_checked():
    s = Series(np.arange(3), np.ones(3), covariates=np.array([[1.0], [np.inf], [2.0]]),
               covariate_columns=["c"])
    with pytest.raises(TaskError) as err:
        as_series(s, "h", covariates=1)
    assert str(err.value) == f"h: holds a covariate that is NaN, infinite or beyond +-{MAX_ABS:g}"
    wide = Series(np.arange(3), np.ones(3), covariates=np.ones((3, 2)),
                  covariate_columns=["c", "d"])
    with pytest.raises(TaskError, match="the run reads 1 covariate column"):
        as_series(wide, "h", covariates=1)
    assert as_series(wide, "h", covariates=2) is wide


def test_a_byte_order_mark_before_the_first_column(tmp_path):
    """The recorded names are found in a header whose first column carries a BOM."""
    timed = ForecastConfig(name="forecast", series="airline-passengers", time_column="month")
    path = tmp_path / "bom-first.csv"
    path.write_bytes("\ufeffa,month,b\n".encode() + "".join(
        f"{m},2000-{m:02d},{-m}\n" for m in range(1, 7)).encode())
    got = read_input(str(path), timed, {"values": ["a"]})
    assert list(got.columns) == ["a"] and got.values.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0,
                                                                   6.0]


def test_an_empty_part_joins_without_a_step_check(tmp_path):
    train = _csv(tmp_path / "a.csv", _months("2000-01", 24))
    empty = _csv(tmp_path / "v.csv", [])
    test = _csv(tmp_path / "c.csv", _months("2002-01", 6))
    series, parts = load_source(ForecastConfig(name="forecast", train_data=train,
                                               val_data=empty, test_data=test))
    assert parts == {"val": 0, "test": 6} and len(series) == 30


def test_a_part_one_unit_late_on_a_two_unit_step_is_not_one_step_after(tmp_path):
    days = np.datetime64("2000-01-01") + 2 * np.arange(10)
    train = _csv(tmp_path / "a.csv", [f"{d},{i}" for i, d in enumerate(days)], "day,v")
    late = _csv(tmp_path / "b.csv", [f"{days[-1] + 1 + 2 * i},{i}" for i in range(3)], "day,v")
    with pytest.raises(TaskError) as err:
        load_source(ForecastConfig(name="forecast", train_data=train, test_data=late))
    assert "starts at 2000-01-20, not one step after the part before it ends (2000-01-19)" \
        in str(err.value)


def test_small_cases_of_ranges_widths_columns_and_steps():
    with pytest.raises(TaskError) as err:
        range_points(100, 0, 0)
    assert str(err.value) == "a test range of 0 points does not fit a series of 100"
    with pytest.raises(TaskError) as err:
        as_series(np.ones((3, 2, 1)), "h", width=2)
    assert str(err.value) == ("h: 2 value column(s); the run reads 2 (values of shape "
                              "(N, 2))")
    cfg = ForecastConfig(name="forecast", series="airline-passengers")
    assert column_names(Series(np.arange(3), np.ones(3)), cfg)["values"] == ["value"]
    months = np.arange("2000-01", "2000-04", dtype="datetime64[M]")
    assert time_step(months).dtype == np.dtype("m8[M]")
    assert time_step(months[:1]).dtype == np.dtype("m8[M]")


# -- a stream's pushes and values given without times ---------------------------------------
def test_pushed_values_are_checked_numbers_of_the_run_s_width():
    from rnnkit.tasks.timeseries.source import pushed_value

    assert pushed_value(2, 1) == 2.0 and isinstance(pushed_value(2, 1), float)
    assert pushed_value([3.5], 1) == 3.5 and pushed_value(np.float32(1.5), 1) == 1.5
    got = pushed_value([1, 2], 2)
    assert got.dtype == np.float64 and got.shape == (2,) and got.tolist() == [1.0, 2.0]
    assert pushed_value([[1, 2]], 2).shape == (2,)
    assert pushed_value(MAX_ABS, 1) == MAX_ABS
    for bad, message in ((None, "push: None is not a number"),
                         ("1", "push: '1' is not a number"),
                         (b"1", "push: b'1' is not a number"),
                         ([1, 2], "push: [1, 2]: the run reads 1 value(s) a step, got 2"),
                         ([[1.0]], "push: [[1.0]]: the run reads 1 value(s) a step, got 1"),
                         (float("nan"), f"push: nan: a value is NaN, infinite or beyond "
                                        f"+-{MAX_ABS:g}"),
                         (MAX_ABS * 2, f"push: {MAX_ABS * 2!r}: a value is NaN, infinite "
                                       f"or beyond +-{MAX_ABS:g}")):
        with pytest.raises(TaskError) as err:
            pushed_value(bad, 1)
        assert str(err.value) == message
    with pytest.raises(TaskError, match=r"^push: \[1\]: the run reads 2 value\(s\) a step, "
                                        r"got 1$"):
        pushed_value([1], 2)


def test_pushed_times_are_iso_text_datetimes_or_datetime64():
    from datetime import datetime

    from rnnkit.tasks.timeseries.source import pushed_time

    assert pushed_time("2024-01-31 13:45") == np.datetime64("2024-01-31T13:45")
    assert pushed_time(datetime(2024, 1, 31, 13, 45)) == np.datetime64("2024-01-31T13:45")
    assert pushed_time(np.datetime64("2024-01")) == np.datetime64("2024-01")
    for bad in ("soon", None, "NaT", 3.5, "10000"):  # (10000: a number read as a year)
        with pytest.raises(TaskError) as err:
            pushed_time(bad)
        assert str(err.value) == (f"push: {bad!r} is not a time (ISO 8601 text such as "
                                  "'2024-01-31 13:45', a datetime or a numpy datetime64)")


def test_values_alone_become_a_series_at_positions_with_exact_messages():
    from rnnkit.tasks.timeseries.source import as_series

    s = as_series([[1.0], [2.0], [3.0]], "h")  # one column given as (N, 1)
    assert s.values.shape == (3,) and s.timestamps.tolist() == [0, 1, 2]
    two = as_series([[1, 2], [3, 4]], "h", width=2)
    assert two.values.shape == (2, 2)
    for data, width, message in (
            (5.0, 1, "h: one number (5.0); give a sequence of numbers"),
            ([[1, 2], [3, 4]], 1, "h: values of shape (2, 2); the run reads one value column "
                                  "(a sequence of numbers)"),
            ([1, 2], 2, "h: 1 value column(s); the run reads 2 (values of shape (N, 2))")):
        with pytest.raises(TaskError) as err:
            as_series(data, "h", width=width)
        assert str(err.value) == message
