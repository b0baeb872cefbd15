"""Time columns of users' files (rnnkit/data/times.py): ISO 8601 texts, the unit a column is
read in, and the messages that name a row or the way out, each against values written by
hand or made with ``datetime``."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta

import numpy as np
import pytest

from rnnkit.data.datasets import DataError
from rnnkit.data.times import coarsest, column_times, parse_iso


@pytest.mark.parametrize("text, expected", [
    ("2024-01-31", "2024-01-31"),
    ("2024-01", "2024-01"),
    ("2024-01-31 13:45", "2024-01-31T13:45"),
    ("2024-01-31T13:45:07", "2024-01-31T13:45:07"),
    ("2024-01-31T13:45Z", "2024-01-31T13:45"),  # UTC's Z, read without numpy's zone warning
    ("2024-01-31 13:45Z", "2024-01-31T13:45"),
    ("  2024-01-31 13:45 \t", "2024-01-31T13:45"),  # a cell's surrounding spaces
])
def test_parse_iso_reads_iso_8601_texts(text, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns of a time zone it was given to parse
        value = parse_iso(text)
    assert value == np.datetime64(expected)
    assert value.dtype == np.datetime64(expected).dtype


@pytest.mark.parametrize("text", [
    "2024-01-31X", "Z2024-01-31", "2024-01-31 13:45 Z", "2024-01-31  13:45", "31/01/2024",
    "noon"])
def test_parse_iso_refuses_texts_that_are_not_iso_8601(text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a zone numpy was given: refused either way)
        with pytest.raises(ValueError):
            parse_iso(text)


@pytest.mark.parametrize("text", ["", "   ", "NaT"])
def test_parse_iso_names_a_cell_without_a_time(text):
    # numpy reads "" and "NaT" as not-a-time rather than failing: parse_iso refuses them
    with pytest.raises(ValueError) as err:
        parse_iso(text)
    assert str(err.value) == f"no time in {text!r}"


@pytest.mark.parametrize("times, unit", [
    (["2023-01-01", "2024-01-01"], "Y"),
    (["2024-01-01", "2024-03-01"], "M"),
    (["2024-01-01", "2024-03-05"], "D"),
    (["2024-03-05", "2024-03-05T07"], "h"),
    (["2024-03-05T07", "2024-03-05T07:30"], "m"),
    (["2024-03-05T07:30", "2024-03-05T07:30:15"], "s"),
    (["2024-03-05T07:30:15", "2024-03-05T07:30:15.250"], "ms"),
    (["2024-03-05T07:30:15", "2024-03-05T07:30:15.000250"], "us"),
])
def test_coarsest_is_the_largest_unit_that_holds_every_time(times, unit):
    t = np.array(times, dtype="datetime64[us]")
    out = coarsest(t)
    assert out.dtype == np.dtype(f"datetime64[{unit}]")
    np.testing.assert_array_equal(out.astype("datetime64[us]"), t)  # nothing rounded away


def _column(cells, time_format=None, path="f.csv"):
    """column_times on one column whose cells are on lines 2, 3, ... (rows: time, value)."""
    rows = [[c, str(i)] for i, c in enumerate(cells)]
    return column_times(path, rows, 0, "t", list(range(2, len(rows) + 2)), time_format)


@pytest.mark.parametrize("fmt, step, unit", [
    ("%d/%m/%Y %H:%M", timedelta(hours=7), "h"),
    ("%d/%m/%Y %H:%M", timedelta(minutes=50), "m"),
    ("%d.%m.%Y %H:%M:%S", timedelta(seconds=95), "s"),
])
def test_a_spreadsheet_column_comes_in_the_unit_of_its_times(fmt, step, unit):
    start = datetime(2024, 1, 13, 5)  # a day past the 12th: one layout reads the column
    days = [start + i * step for i in range(30)]
    t = _column([d.strftime(fmt) for d in days])
    assert t.dtype == np.dtype(f"datetime64[{unit}]")
    np.testing.assert_array_equal(t, np.array(days, dtype=f"datetime64[{unit}]"))


def test_a_named_format_with_fractions_of_a_second_keeps_them():
    days = [datetime(2024, 2, 1, 9, 0, 0, 250_123) + timedelta(seconds=i) for i in range(3)]
    t = _column([d.strftime("%d/%m/%Y %H:%M:%S.%f") for d in days], "%d/%m/%Y %H:%M:%S.%f")
    assert t.dtype == np.dtype("datetime64[us]")
    np.testing.assert_array_equal(t, np.array(days, dtype="datetime64[us]"))


def test_a_column_without_rows_is_an_empty_time_array():
    t = column_times("f.csv", [], 0, "t", [], None)
    assert t.shape == (0,) and np.issubdtype(t.dtype, np.datetime64)
    assert column_times("f.csv", [], 0, "t", [], "%d/%m/%Y").shape == (0,)


def test_a_time_missing_the_named_format_names_its_line_and_row():
    with pytest.raises(DataError) as err:
        _column(["01/02/2021", "2021-02-02"], "%d/%m/%Y")
    assert str(err.value) == ("f.csv:3: time '2021-02-02' does not match time_format "
                              "'%d/%m/%Y' (row ['2021-02-02', '1'])")


def test_a_column_two_layouts_read_names_them_and_the_setting():
    cells = ["01/02/2021", "03/04/2021"]  # day/month or month/day (and nothing else)
    with pytest.raises(DataError) as err:
        _column(cells)
    assert str(err.value) == ("f.csv: the times ('01/02/2021' ...) read in more than one way "
                              "(%d/%m/%Y or %m/%d/%Y); name the format with time_format "
                              "(task.time_format in a task config)")


def test_an_unreadable_time_names_its_line_row_and_the_way_out():
    with pytest.raises(DataError) as err:
        _column(["2021-02-01", "Feb 2nd"])
    assert str(err.value) == (
        "f.csv:3: cannot read a time from 'Feb 2nd' (row ['Feb 2nd', '1']); write ISO 8601 "
        "times (2024-01-31, 2024-01-31 13:45:00, 2024-01), or name their format with "
        "time_format (task.time_format in a task config; a strptime format such as "
        "'%d/%m/%Y')")
    with pytest.raises(DataError) as err:
        _column(["2021-02-01", " "])
    assert str(err.value) == "f.csv:3: no time in column 't' (row [' ', '1'])"


def test_month_end_dates_are_months_only_when_every_one_is_and_there_are_two():
    """All on the last day of their month (2024-02-29 in a leap year): months. One date
    alone stays a day (a single month end is not a monthly series); so do dates a day
    before month ends, or month ends mixed with other days."""
    days = np.array(["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"],
                    dtype="datetime64[D]")
    got = coarsest(days)
    assert got.dtype == np.dtype("datetime64[M]")
    assert got.astype(str).tolist() == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert coarsest(days[:2]).dtype == np.dtype("datetime64[M]")  # two are enough
    assert coarsest(days[:1]).dtype == np.dtype("datetime64[D]")
    for other in (days - 1, np.array(["2024-01-31", "2024-02-28"], dtype="datetime64[D]"),
                  np.array(["2023-02-27", "2023-02-28"], dtype="datetime64[D]")):
        assert coarsest(other).dtype == np.dtype("datetime64[D]"), other


def test_year_9999_is_a_year_and_10000_is_a_number_read_as_one():
    assert parse_iso("9999-12-31") == np.datetime64("9999-12-31")
    with pytest.raises(ValueError, match=r"^year beyond 9999 in '10000'$"):
        parse_iso("10000")
    with pytest.raises(ValueError, match=r"^year beyond 9999 in '1700000000'$"):
        parse_iso("1700000000")
