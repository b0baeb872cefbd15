"""Series whose time column holds decimal numbers (seconds since a start, 0.0, 0.5, 1.0 ...):
step numbers as float64, checked for order and gaps, filled on their grid, continued by
forecasts at their step and printed as the file writes them (0.3, not 0.30000000000000004);
and points between two steps, which gap filling would have moved without a word."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit.data.times import decimals
from rnnkit.data.timeseries import NeedsRepair, read_csv
from rnnkit.tasks import TASKS, TaskError, train_run
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.timeseries.source import future_times, parse_times, time_labels, time_step


def _write(path, times, values=None):
    values = np.cos(np.arange(len(times)) / 4) if values is None else values
    path.write_text("seconds,value\n" + "".join(f"{t},{v:.6f}\n" for t, v in zip(times, values)))
    return path


@pytest.mark.parametrize("times", [
    ["0.0", "0.5", "1.0", "1.5"], ["0.1", "0.2", "0.3", "0.4"], ["-1.25", "-1", "-0.75"],
    ["1", "1.5", "2", "2.5"], ["1e-3", "2e-3", "3e-3"], [".5", "1.0", "1.5"],
])
def test_a_column_of_decimal_numbers_is_read_as_step_numbers(tmp_path, times):
    s = read_csv(_write(tmp_path / "d.csv", times))
    assert s.timestamps.dtype == np.float64
    np.testing.assert_array_equal(s.timestamps, [float(t) for t in times])
    np.testing.assert_allclose(s.values, np.round(np.cos(np.arange(len(times)) / 4), 6))


def test_integers_written_with_a_point_are_decimal_step_numbers_and_years_are_not(tmp_path):
    s = read_csv(_write(tmp_path / "d.csv", ["1949.0", "1950.0", "1951.0"]))
    assert s.timestamps.dtype == np.float64 and time_labels(s.timestamps)[0] == "1949.0"
    s = read_csv(_write(tmp_path / "y.csv", ["1949", "1950", "1951"]))
    assert s.timestamps.dtype.kind == "M"


def test_decimal_step_numbers_are_checked_for_order_duplicates_and_gaps(tmp_path):
    with pytest.raises(NeedsRepair, match=r"d.csv:4: timestamp 0.1 comes before"):
        read_csv(_write(tmp_path / "d.csv", ["0.0", "0.2", "0.1", "0.3"]))
    with pytest.raises(NeedsRepair, match=r"d.csv:5: duplicated timestamp 0.2"):
        read_csv(_write(tmp_path / "d.csv", ["0.0", "0.1", "0.2", "0.2", "0.3"]))
    times = ["0.1", "0.2", "0.3", "0.6", "0.7"]  # 0.4 and 0.5 missing
    with pytest.raises(NeedsRepair) as err:
        read_csv(_write(tmp_path / "g.csv", times))
    assert err.value.problem == f"{tmp_path / 'g.csv'}:5: gap before 0.6 (the series steps by 0.1)"
    with pytest.warns(UserWarning, match="filled 2 missing value"):
        s = read_csv(_write(tmp_path / "g.csv", times, [1.0, 2, 3, 6, 7]),
                     repair=["interpolate"])
    assert time_labels(s.timestamps) == ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"]
    np.testing.assert_allclose(s.values, [1, 2, 3, 4, 5, 6, 7])


def test_steps_equal_up_to_rounding_are_no_gap(tmp_path):
    times = [f"{0.1 * i:.1f}" for i in range(1, 200)]  # 0.1 * 3 is 0.30000000000000004
    s = read_csv(_write(tmp_path / "d.csv", times))
    assert len(s) == 199 and time_step(s.timestamps) == 0.1


@pytest.mark.parametrize("times,bad,step,start", [
    (["0", "10", "20", "35", "40", "50", "70"], "35", "10", "0"),
    (["0.0", "0.5", "1.0", "1.75", "2.0", "2.5", "3.5"], "1.75", "0.5", "0.0"),
    ([f"2024-01-01 {h}" for h in ("00:00", "01:00", "02:00", "03:30", "04:00", "05:00",
                                  "07:00")], "2024-01-01T03:30", "60 minutes",
     "2024-01-01T00:00"),
])
def test_gap_filling_refuses_a_point_between_two_steps(tmp_path, times, bad, step, start):
    path = _write(tmp_path / "o.csv", times)
    with pytest.raises(NeedsRepair) as err:
        read_csv(path, repair=["interpolate"])
    assert str(err.value) == (
        f"{path}:5: timestamp {bad} is between two steps (the series steps by {step} "
        f"from {start}), so interpolate cannot fill the gaps (resample the file to a regular "
        "step); pass repair=['ignore-gaps'] to take the points as consecutive")
    assert len(read_csv(path, repair=["ignore-gaps"])) == 7


def test_future_decimal_times_continue_at_the_step_as_written():
    assert decimals(np.array([0.1, 0.25, 3.0])) == 2 and decimals(np.array([2.0, 7.0])) == 0
    assert decimals(np.array([1 / 3])) == 9 and decimals(np.array([1e-3, 1700000000.5])) == 3
    assert decimals(np.array([1700000000.1, 0.0])) == 1 and decimals(np.array([2e-8])) == 8
    times = np.array([0.1, 0.2, 0.3])
    assert time_labels(future_times(times, 4)) == ["0.4", "0.5", "0.6", "0.7"]
    assert time_labels(future_times(np.array([10.25, 10.5]), 2)) == ["10.75", "11.0"]
    assert time_labels(future_times(np.array([2.5]), 2)) == ["3.5", "4.5"]  # step 1 alone
    labels = time_labels(future_times(np.array([-0.5, 0.0]), 2))
    assert labels == ["0.5", "1.0"] and parse_times(labels).tolist() == [0.5, 1.0]
    assert parse_times(["3", "4"]).dtype.kind == "i"
    assert parse_times(["2024-01", "2024-02"]).dtype.kind == "M"



def test_decimal_times_as_large_as_unix_seconds_keep_their_step(tmp_path):
    """At 1.7e9 a float is exact to 2.4e-7 only: 0.1 steps differ from 0.1 by more than a
    millionth, and the median step reads 0.10000002."""
    times = [f"{1700000000.1 + 0.1 * i:.1f}" for i in range(40) if i != 20]
    path = _write(tmp_path / "big.csv", times)
    with pytest.warns(UserWarning, match="Unix times"):
        with pytest.raises(NeedsRepair, match=r"big.csv:22: gap before 1700000002.2 \(the "
                                              r"series steps by 0.1\)"):
            read_csv(path)  # one gap, and no other
        s = read_csv(path, repair=["interpolate"])
    assert time_labels(s.timestamps[19:22]) == ["1700000002.0", "1700000002.1", "1700000002.2"]
    assert time_step(s.timestamps) == 0.1
    assert time_labels(future_times(s.timestamps, 24))[-2:] == ["1700000006.3", "1700000006.4"]
    t = np.array([float(f"{98765432.3 + 0.1 * i:.1f}") for i in range(5)])  # 8 + 1 digits
    labels = time_labels(future_times(t, 30))  # (9.10000001 without rounding to 1 place)
    assert labels == [f"{98765432.8 + 0.1 * i:.1f}" for i in range(30)]


@pytest.mark.parametrize("step,late", [(1.0, 1.000003), (1e-8, 2e-8)])
def test_a_part_is_one_step_after_the_last_only_within_a_millionth_of_a_step(tmp_path, step,
                                                                               late):
    before = np.round(step * np.arange(40), 12)
    train = _write(tmp_path / "train.csv", [repr(float(t)) for t in before])
    test = _write(tmp_path / "test.csv", [repr(float(before[-1] + late + step * i))
                                          for i in range(12)])
    with pytest.raises(TaskError, match="not one step after the part before it ends"):
        _ = TASKS["forecast"].setup(_forecast_cfg(train_data=str(train),
                                                  test_data=str(test))).series
    test = _write(tmp_path / "test.csv", [repr(float(np.round(before[-1] + step * (i + 1), 12)))
                                          for i in range(12)])
    ctx = TASKS["forecast"].setup(_forecast_cfg(train_data=str(train), test_data=str(test)))
    assert len(ctx.series) == 52

def _forecast_cfg(**task):
    return config_from_raw({
        "name": "decimal", "seed": 0,
        "task": {"name": "forecast", "window": 8, "horizon": 4, **task},
        "model": {"cell": "gru", "hidden_size": 4},
        "train": {"steps": 2, "batch_size": 4, "eval_every": 2, "threads": 1,
                  "progress": "off"},
        "diagnostics": {"every": 0}}, "test")


def test_parts_of_decimal_step_numbers_must_be_consecutive(tmp_path):
    train = _write(tmp_path / "train.csv", [f"{0.1 * i:.1f}" for i in range(60)])
    test = _write(tmp_path / "test.csv", [f"{0.1 * i:.1f}" for i in range(60, 72)])
    ctx = TASKS["forecast"].setup(_forecast_cfg(train_data=str(train), test_data=str(test)))
    assert len(ctx.series) == 72 and ctx.series.timestamps.dtype == np.float64
    late = _write(tmp_path / "late.csv", [f"{0.1 * i:.1f}" for i in range(61, 73)])
    with pytest.raises(TaskError, match=r"starts at 6.1, not one step after the part before "
                                        r"it ends \(5.9\)"):
        _ = TASKS["forecast"].setup(_forecast_cfg(train_data=str(train),
                                                  test_data=str(late))).series


def test_a_forecast_run_on_seconds_forecasts_the_next_seconds(tmp_path):
    path = _write(tmp_path / "s.csv", [f"{0.25 * i:.2f}" for i in range(100)])
    train_run(_forecast_cfg(data=str(path), test_size=8), tmp_path / "runs" / "sec")
    p = rnnkit.load(tmp_path / "runs" / "sec")
    [record] = p.predict_file(path)
    assert record["columns"]["timestamp"] == ["25.0", "25.25", "25.5", "25.75"]
    assert record["history"]["timestamp"][-1] == "24.75"
    stream = p.stream()
    for i in range(12):
        out = stream.push((round(100 + 0.1 * i, 1), float(np.cos(i / 4))))
    assert out["columns"]["timestamp"] == ["101.2", "101.3", "101.4", "101.5"]
    stream.push((102, 0.5))  # an integer among decimal step numbers is a step number
    with pytest.raises(TaskError) as err:
        stream.push(("2024-01-01", 1.0))
    assert str(err.value) == ("push: '2024-01-01': the times pushed before are step numbers; "
                              "push the same kind")
