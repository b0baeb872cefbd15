"""Series whose time column holds numbers: integers are step numbers (int64, any start and
step; 4-digit ones stay years), Unix times are read when ``time_format`` names them, and
step numbers go through the checks (order, gaps), the parts of a split, a forecast's
future times and an anomaly run the way dates do."""

from __future__ import annotations

import re

import numpy as np
import pytest

import rnnkit
from rnnkit.data.datasets import DataError
from rnnkit.data.timeseries import NeedsRepair, read_csv
from rnnkit.tasks import TASKS, TaskError, train_run
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.timeseries.source import (
    future_times,
    parse_times,
    pushed_time,
    time_labels,
    time_step,
)


def _write(path, times, values=None):
    values = np.sin(np.arange(len(times)) / 3) if values is None else values
    path.write_text("t,value\n" + "".join(f"{t},{v:.6f}\n" for t, v in zip(times, values)))
    return path


@pytest.mark.parametrize("times", [list(range(0, 40)), list(range(1, 12001)),
                                   list(range(-30, 300, 5)), list(range(9990, 10010))])
def test_a_column_of_integers_is_read_as_step_numbers(tmp_path, times):
    s = read_csv(_write(tmp_path / "s.csv", times))
    assert s.timestamps.dtype == np.int64
    np.testing.assert_array_equal(s.timestamps, times)
    np.testing.assert_allclose(s.values, np.round(np.sin(np.arange(len(times)) / 3), 6))


def test_four_digit_integers_stay_years(tmp_path):
    s = read_csv(_write(tmp_path / "y.csv", list(range(1949, 1961))))
    np.testing.assert_array_equal(s.timestamps, np.arange("1949", "1961", dtype="datetime64[Y]"))
    s = read_csv(_write(tmp_path / "y.csv", list(range(1949, 1961))), time_format="step")
    np.testing.assert_array_equal(s.timestamps, np.arange(1949, 1961))


def test_step_numbers_are_checked_for_order_duplicates_and_gaps(tmp_path):
    with pytest.raises(NeedsRepair, match=r"s.csv:5: timestamp 10 comes before"):
        read_csv(_write(tmp_path / "s.csv", [0, 20, 30, 10, 40]))
    sorted_ = read_csv(_write(tmp_path / "s.csv", [0, 20, 30, 10, 40]), repair=["sort"])
    np.testing.assert_array_equal(sorted_.timestamps, [0, 10, 20, 30, 40])
    with pytest.raises(NeedsRepair, match=r"s.csv:5: duplicated timestamp 2"):
        read_csv(_write(tmp_path / "s.csv", [0, 1, 2, 2, 3]))
    times = [0, 5, 10, 20, 25, 30]  # 15 missing
    with pytest.raises(NeedsRepair) as err:
        read_csv(_write(tmp_path / "g.csv", times))
    assert err.value.problem == f"{tmp_path / 'g.csv'}:5: gap before 20 (the series steps by 5)"
    with pytest.warns(UserWarning, match="filled 1 missing value"):
        s = read_csv(_write(tmp_path / "g.csv", times, [0.0, 1, 2, 4, 5, 6]),
                     repair=["interpolate"])
    np.testing.assert_array_equal(s.timestamps, np.arange(0, 35, 5))
    np.testing.assert_allclose(s.values, [0, 1, 2, 3, 4, 5, 6])


def test_integers_that_look_like_unix_times_warn_and_time_format_reads_them(tmp_path):
    seconds = [1_700_000_000 + 60 * i for i in range(5)]
    path = _write(tmp_path / "u.csv", seconds)
    with pytest.warns(UserWarning) as caught:
        s = read_csv(path)
    assert [str(w.message) for w in caught] == [
        f"{path}: column 't' is read as step numbers; if its numbers are Unix times, name "
        "time_format = 'unix' (task.time_format in a task config)"]
    np.testing.assert_array_equal(s.timestamps, seconds)
    s = read_csv(path, time_format="unix")
    assert s.timestamps.dtype == np.dtype("datetime64[s]")
    assert s.timestamps[0] == np.datetime64("2023-11-14T22:13:20", "s")
    np.testing.assert_array_equal(np.diff(s.timestamps).astype(int), 60)
    millis = [1_700_000_000_250 + 500 * i for i in range(5)]
    with pytest.warns(UserWarning, match="time_format = 'unix_ms'"):
        read_csv(_write(tmp_path / "ms.csv", millis))
    s = read_csv(_write(tmp_path / "ms.csv", millis), time_format="unix_ms")
    assert s.timestamps.dtype == np.dtype("datetime64[ms]")
    np.testing.assert_array_equal(s.timestamps.astype(np.int64), millis)
    s = read_csv(_write(tmp_path / "us.csv", ["0.0000017", "1.0000017", "2.0000017"]),
                 time_format="unix")  # to the nearest microsecond (1.7 us: 2 us)
    np.testing.assert_array_equal(s.timestamps.astype(np.int64), [2, 1000002, 2000002])
    s = read_csv(_write(tmp_path / "f.csv", ["86400.0", "172800", "259200.0"]),
                 time_format="unix")  # whole days, written as floats
    np.testing.assert_array_equal(
        s.timestamps, np.arange("1970-01-02", "1970-01-05", dtype="datetime64[D]"))


@pytest.mark.parametrize("times,fix", [
    ([315_532_800, 315_532_860], "unix"), ([4_102_444_740, 4_102_444_800], "unix"),
    ([315_532_799, 315_532_860], None), ([4_102_444_740, 4_102_444_801], None),
    ([315_532_800_000, 315_532_860_000], "unix_ms"),
    ([4_102_444_740_000, 4_102_444_800_000], "unix_ms"),
    ([4_102_444_740_000, 4_102_444_800_001], None),
])
def test_the_unix_time_warning_covers_1980_to_2100_in_seconds_or_milliseconds(
        tmp_path, times, fix):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = read_csv(_write(tmp_path / "u.csv", times))
    np.testing.assert_array_equal(s.timestamps, times)
    assert [str(w.message).split("name ")[-1] for w in caught] == (
        [f"time_format = {fix!r} (task.time_format in a task config)"] if fix else [])


def test_an_integer_too_large_for_a_step_names_its_row(tmp_path):
    path = _write(tmp_path / "big.csv", ["1", "2", str(2**62)])
    with pytest.raises(DataError) as err:
        read_csv(path)
    assert str(err.value) == (f"{path}:4: time_format = 'step' needs a step number in "
                              f"column 't', got '{2**62}' (row ['{2**62}', "
                              f"'{np.sin(2 / 3):.6f}'])")
    s = read_csv(_write(tmp_path / "big.csv", ["1", "2", str(2**62 - 1)]), repair=["ignore-gaps"])
    assert s.timestamps[-1] == 2**62 - 1


@pytest.mark.parametrize("fmt,cell,kind", [
    ("step", "2.5x", "a step number"), ("step", "x", "a step number"),
    ("step", "nan", "a step number"), ("step", "1e400", "a step number"),
    ("step", "1_0", "a step number"),  # (Python's float() reads 1_0 as 10.0)
    ("unix", "soon", "a Unix time (s)"), ("unix", "nan", "a Unix time (s)"),
    ("unix_ms", "1e400", "a Unix time (ms)"), ("step", "9" * 20, "a step number"),
])
def test_a_number_format_names_the_row_it_cannot_read(tmp_path, fmt, cell, kind):
    path = _write(tmp_path / "b.csv", ["1", "2", cell, "4"])
    with pytest.raises(DataError) as err:
        read_csv(path, time_format=fmt)
    assert str(err.value) == (f"{path}:4: time_format = {fmt!r} needs {kind} in column 't', "
                              f"got {cell!r} (row [{cell!r}, '{np.sin(2 / 3):.6f}'])")


def test_a_number_among_dates_is_refused_with_the_formats_that_read_numbers(tmp_path):
    path = _write(tmp_path / "h.csv", ["2024-01-01", "0.5", "2024-01-03"])
    with pytest.raises(DataError) as err:
        read_csv(path)
    assert str(err.value).startswith(
        f"{path}:3: cannot read a time from '0.5' (a column of numbers is read as step "
        "numbers; for Unix times name time_format = 'unix' or 'unix_ms')")


def test_future_times_continue_step_numbers_at_their_step():
    assert time_step(np.array([3, 8, 13, 18])) == 5 and time_step(np.array([7])) == 1
    np.testing.assert_array_equal(future_times(np.array([3, 8, 13]), 3), [18, 23, 28])
    np.testing.assert_array_equal(future_times(np.arange(4), 2), [4, 5])  # positions
    np.testing.assert_array_equal(future_times(np.zeros(0, np.int64), 2), [0, 1])
    months = np.arange("2020-01", "2020-04", dtype="datetime64[M]")
    np.testing.assert_array_equal(future_times(months, 2),
                                  np.array(["2020-04", "2020-05"], dtype="datetime64[M]"))
    labels = time_labels(future_times(np.array([3, 8, 13]), 2))
    assert labels == ["18", "23"] and parse_times(labels).tolist() == [18, 23]


def _forecast_cfg(tmp_path, **task):
    return config_from_raw({
        "name": "steps", "seed": 0,
        "task": {"name": "forecast", "window": 8, "horizon": 4, **task},
        "model": {"cell": "gru", "hidden_size": 4},
        "train": {"steps": 2, "batch_size": 4, "eval_every": 2, "threads": 1,
                  "progress": "off"},
        "diagnostics": {"every": 0}}, "test")


def test_parts_of_step_numbers_must_be_consecutive(tmp_path):
    train = _write(tmp_path / "train.csv", list(range(10, 130, 2)))
    test = _write(tmp_path / "test.csv", list(range(130, 150, 2)))
    ctx = TASKS["forecast"].setup(_forecast_cfg(tmp_path, train_data=str(train),
                                                test_data=str(test)))
    np.testing.assert_array_equal(ctx.series.timestamps, np.arange(10, 150, 2))
    late = _write(tmp_path / "late.csv", list(range(134, 154, 2)))
    with pytest.raises(TaskError, match=r"starts at 134, not one step after the part before "
                                        r"it ends \(128\)"):
        _ = TASKS["forecast"].setup(_forecast_cfg(tmp_path, train_data=str(train),
                                                  test_data=str(late))).series


def test_a_forecast_run_on_step_numbers_forecasts_the_next_steps(tmp_path):
    path = _write(tmp_path / "s.csv", list(range(100, 400, 3)))
    train_run(_forecast_cfg(tmp_path, data=str(path), test_size=8), tmp_path / "runs" / "steps")
    p = rnnkit.load(tmp_path / "runs" / "steps")
    [record] = p.predict_file(path)
    assert record["columns"]["timestamp"] == ["400", "403", "406", "409"]
    [record] = p.predict_file(_write(tmp_path / "t.csv", list(range(7, 40, 3))))
    assert record["columns"]["timestamp"] == ["40", "43", "46", "49"]
    stream = p.stream()
    for i in range(12):
        out = stream.push((np.int64(5 + 2 * i), float(np.sin(i / 3))))
    assert out["columns"]["timestamp"] == ["29", "31", "33", "35"]
    with pytest.raises(TaskError) as err:
        stream.push(("2024-01-01", 1.0))
    assert str(err.value) == ("push: '2024-01-01': the times pushed before are step numbers; "
                              "push the same kind")
    dated = p.stream()
    dated.push(("2024-01-01", 1.0))
    with pytest.raises(TaskError) as err:
        dated.push((2, 1.0))
    assert str(err.value) == "push: 2: the times pushed before are dates; push the same kind"


def test_a_pushed_time_is_a_step_number_only_where_steps_are_read():
    assert pushed_time(7, steps=True) == 7 and pushed_time(7, steps=True).dtype == np.int64
    assert pushed_time(np.int32(-3), steps=True) == -3
    assert pushed_time("2024-01-31", steps=True) == np.datetime64("2024-01-31")
    assert pushed_time(2.5, steps=True) == 2.5 and pushed_time(2.5, steps=True).dtype.kind == "f"
    for bad, steps in ((7, False), (2.5, False), (True, True), ("soon", True)):
        with pytest.raises(TaskError) as err:
            pushed_time(bad, steps=steps)
        assert str(err.value) == (f"push: {bad!r} is not a time (ISO 8601 text such as "
                                  "'2024-01-31 13:45', a datetime or a numpy datetime64"
                                  + (", a step number)" if steps else ")"))
    assert pushed_time(1000.5, steps=True) == 1000.5
    for bad in (float("inf"), 2.0**62, -2.0**62):
        with pytest.raises(TaskError, match=rf"push: {re.escape(repr(bad))} is not a step number"):
            pushed_time(bad, steps=True)
    assert parse_times(["-3", "-2"]).dtype.kind == "i"


def _anomaly_cfg(path, **task):
    return config_from_raw({
        "name": "ad", "seed": 0,
        "task": {"name": "anomaly", "data": str(path), "window": 6, "train_size": 60,
                 "calib_size": 0.3, **task},
        "model": {"cell": "gru", "hidden_size": 4},
        "train": {"steps": 1, "batch_size": 8, "progress": "off"},
        "diagnostics": {"every": 0}}, "test")


def test_an_anomaly_run_on_step_numbers_needs_calendar_features_off(tmp_path):
    path = _write(tmp_path / "s.csv", list(range(1, 101)))
    ctx = TASKS["anomaly"].setup(_anomaly_cfg(path))
    with pytest.raises(TaskError) as err:
        ctx.features(ctx.series)
    assert str(err.value) == (
        "s: task.calendar = true (the default) reads the time of day and week from the "
        "times, and this series has step numbers; set task.calendar = false (or give dates "
        "and times)")
    ctx = TASKS["anomaly"].setup(_anomaly_cfg(path, calendar=False))
    feats = ctx.features(ctx.series)
    assert feats.shape == (100, 1)  # the scaled value alone
    np.testing.assert_allclose(feats[:, 0], ctx.scaler.transform(ctx.series.values))
