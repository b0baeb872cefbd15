"""Series CSVs as spreadsheets write them: semicolon or tab separators, day/month/year or
month/day/year times, a named ``time_format``, decimal commas (refused with a hint), and the
repair a bad file needs named the way each caller sets it (``read_csv``'s argument, a task
config's ``task.repair``, a predictor's ``repair=`` / ``--repair``). Each file is compared
with the same series written as a plain ISO 8601, comma-separated CSV."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest

from rnnkit.data.datasets import DataError
from rnnkit.data.times import TIME_FORMATS
from rnnkit.data.timeseries import NeedsRepair, read_csv
from rnnkit.tasks import TaskError
from rnnkit.tasks.forecast import ForecastConfig
from rnnkit.tasks.timeseries.source import load_source, read_input


def _days(n: int, start=date(2023, 1, 27)) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def _write(path, header, rows, sep=","):
    path.write_text(sep.join(header) + "\n" + "".join(sep.join(r) + "\n" for r in rows))
    return path


@pytest.fixture
def series(tmp_path):
    """(ISO comma CSV, its days, its values (n, 2)): 40 days crossing a month end."""
    rng = np.random.default_rng(0)
    days = _days(40)
    values = rng.normal(10, 3, (40, 2)).round(3)
    rows = [[d.isoformat(), f"{a}", f"{b}"] for d, (a, b) in zip(days, values)]
    return _write(tmp_path / "iso.csv", ["day", "a", "b"], rows), days, values


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_separated_files_read_like_the_comma_one(tmp_path, series, sep):
    iso, days, values = series
    rows = [line.split(",") for line in iso.read_text().splitlines()]
    other = _write(tmp_path / "other.csv", rows[0], rows[1:], sep)
    a, b = read_csv(iso), read_csv(other)
    assert b.columns == ("a", "b")
    np.testing.assert_array_equal(b.values, values)
    np.testing.assert_array_equal(b.timestamps, a.timestamps)


def test_a_comma_in_the_header_keeps_commas_as_the_separator(tmp_path):
    # semicolons inside a quoted comma-separated header do not switch the separator
    path = _write(tmp_path / "s.csv", ["t", '"load; MW"'], [["2020-01-01", "1"],
                                                              ["2020-01-02", "2"]])
    assert read_csv(path).columns == ("load; MW",)


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d",
                                 "%d/%m/%Y %H:%M"])
def test_day_month_year_layouts_are_found_by_reading_the_column(tmp_path, series, fmt):
    iso, days, values = series
    rows = [[datetime(d.year, d.month, d.day).strftime(fmt), f"{a}", f"{b}"]
            for d, (a, b) in zip(days, values)]
    s = read_csv(_write(tmp_path / "d.csv", ["day", "a", "b"], rows))
    np.testing.assert_array_equal(s.timestamps, read_csv(iso).timestamps)
    assert s.timestamps.dtype == np.dtype("datetime64[D]")
    np.testing.assert_array_equal(s.values, values)


def test_a_column_two_layouts_read_is_refused_until_its_format_is_named(tmp_path):
    firsts = [date(2021, m, 1) for m in range(1, 13)]  # 01/01 .. 01/12: day/month or month/day
    rows = [[d.strftime("%d/%m/%Y"), str(i)] for i, d in enumerate(firsts)]
    path = _write(tmp_path / "m.csv", ["month", "v"], rows)
    with pytest.raises(DataError) as err:
        read_csv(path)
    assert "'01/01/2021'" in str(err.value)
    assert "%d/%m/%Y or %m/%d/%Y" in str(err.value) and "time_format" in str(err.value)
    s = read_csv(path, time_format="%d/%m/%Y")
    # first-of-month dates are a monthly series, as the ISO "2021-01" text would be
    np.testing.assert_array_equal(s.timestamps, np.arange("2021-01", "2022-01",
                                                          dtype="datetime64[M]"))
    s = read_csv(path, time_format="%m/%d/%Y")
    np.testing.assert_array_equal(s.timestamps, np.arange("2021-01-01", "2021-01-13",
                                                          dtype="datetime64[D]"))


@pytest.mark.parametrize("dates, step", [
    (["2023-11-01", "2023-12-01", "2024-01-01", "2024-02-01", "2024-03-01"], 1),  # ISO firsts
    (["2023-11-30", "2023-12-31", "2024-01-31", "2024-02-29", "2024-03-31"], 1),  # month ends
    (["2023-03-31", "2023-06-30", "2023-09-30", "2023-12-31", "2024-03-31"], 3),  # quarters
    (["31/03/2023", "30/06/2023", "30/09/2023", "31/12/2023", "31/03/2024"], 3),
    (["2020-01-01 00:00:00", "2020-02-01 00:00:00", "2020-03-01 00:00:00"], 1),
])
def test_monthly_dates_are_a_monthly_series_without_gaps(tmp_path, dates, step):
    path = _write(tmp_path / "m.csv", ["month", "v"], [[d, str(i)] for i, d in enumerate(dates)])
    s = read_csv(path)
    assert s.timestamps.dtype == np.dtype("datetime64[M]")
    np.testing.assert_array_equal(np.diff(s.timestamps).astype(int), step)


def test_unix_times_with_fractions_are_step_numbers_with_a_warning_naming_the_fix(tmp_path):
    rows = [[f"{1700000000.5 + 60 * i}", str(i)] for i in range(5)]  # Unix times, fractions
    path = _write(tmp_path / "e.csv", ["ts", "v"], rows)
    with pytest.warns(UserWarning, match=r"e.csv: column 'ts' is read as step numbers; if its "
                                         r"numbers are Unix times, name time_format = 'unix'"):
        s = read_csv(path)
    np.testing.assert_array_equal(s.timestamps, 1700000000.5 + 60 * np.arange(5))
    s = read_csv(path, time_format="unix")
    assert s.timestamps[0] == np.datetime64("2023-11-14T22:13:20.500", "ms")


def test_times_with_a_utc_offset_are_read_as_utc_with_one_warning(tmp_path):
    times = ["2024-03-31T00:00:00+01:00", "2024-03-31T01:00:00+01:00",
             "2024-03-31T03:00:00+02:00", "2024-03-31T04:00:00+02:00"]  # summer time begins
    path = _write(tmp_path / "z.csv", ["t", "v"], [[t, str(i)] for i, t in enumerate(times)])
    with pytest.warns(UserWarning) as caught:
        s = read_csv(path)
    assert [str(w.message) for w in caught] == [
        f"{path}: column 't': times with a UTC offset are read as UTC (and written so)"]
    np.testing.assert_array_equal(s.timestamps, np.arange(
        "2024-03-30T23", "2024-03-31T03", dtype="datetime64[h]").astype("datetime64[s]"))


def test_a_time_that_misses_the_named_format_names_its_line(tmp_path):
    path = _write(tmp_path / "t.csv", ["t", "v"], [["01/02/2021", "1"], ["2021-02-02", "2"]])
    with pytest.raises(DataError) as err:
        read_csv(path, time_format="%d/%m/%Y")
    assert str(err.value).startswith(f"{path}:3: time '2021-02-02' does not match time_format "
                                     "'%d/%m/%Y'")


def test_an_unreadable_time_names_its_line_and_the_way_out(tmp_path):
    path = _write(tmp_path / "t.csv", ["t", "v"], [["2021-02-01", "1"], ["Feb 2nd", "2"]])
    with pytest.raises(DataError) as err:
        read_csv(path)
    assert str(err.value).startswith(f"{path}:3: cannot read a time from 'Feb 2nd'")
    assert "ISO 8601" in str(err.value) and "time_format" in str(err.value)


def test_every_listed_layout_reads_a_date_it_wrote():
    when = datetime(2022, 11, 23, 17, 5, 9)
    for fmt in TIME_FORMATS:
        text = when.strftime(fmt)
        back = datetime.strptime(text, fmt)
        assert back.date() == when.date(), fmt


@pytest.mark.parametrize("sep", [";"])
def test_decimal_commas_are_read_where_fields_are_separated_by_semicolons(tmp_path, sep):
    """A spreadsheet set to a decimal comma writes semicolons and 10,5."""
    rows = [["2021-01-01", "10,5", "-0,25"], ["2021-01-02", "11", ",5"],
            ["2021-01-03", "1,5e3", "2.5"]]
    s = read_csv(_write(tmp_path / "eu.csv", ["t", "v", "w"], rows, sep=sep))
    np.testing.assert_array_equal(s.values, [[10.5, -0.25], [11, 0.5], [1500, 2.5]])
    path = _write(tmp_path / "k.csv", ["t", "v"], [["2021-01-01", "1.234,5"]], sep=sep)
    with pytest.raises(DataError) as err:  # thousands marks are not read
        read_csv(path)
    assert str(err.value) == f"{path}:2: value '1.234,5' in column 'v' is not a number"


def test_to_number_reads_a_decimal_comma_only_when_told():
    from rnnkit.data.tables import to_number

    assert to_number("10.5") == 10.5 and to_number("10,5", decimal_comma=True) == 10.5
    for text, comma in (("10,5", False), ("1.234,5", True), ("1,2,3", True), (",", True)):
        with pytest.raises(ValueError):
            to_number(text, comma) if comma else to_number(text)


@pytest.mark.parametrize("text", ['t,v\n2021-01-01,"10,5"\n', "t\tv\n2021-01-01\t10,5\n"])
def test_a_decimal_comma_elsewhere_is_refused_with_the_fix(tmp_path, text):
    path = tmp_path / "c.csv"  # (in a tab-separated file 1,234 may be a thousand and more)
    path.write_text(text)
    with pytest.raises(DataError) as err:
        read_csv(path)
    assert str(err.value) == (f"{path}:2: value '10,5' in column 'v' is not a number (a "
                              "decimal comma? write a decimal point: '10.5')")
    path = _write(tmp_path / "d.csv", ["t", "v"], [["2021-01-01", "ten"]])
    with pytest.raises(DataError) as err:
        read_csv(path)
    assert str(err.value) == f"{path}:2: value 'ten' in column 'v' is not a number"


# ------------------------------------------------------------- the repair, named per caller

def _gappy(tmp_path):
    days = _days(30)
    rows = [[d.isoformat(), str(i)] for i, d in enumerate(days) if i != 10]
    return _write(tmp_path / "g.csv", ["t", "v"], rows)


def test_read_csv_names_the_repair_as_its_argument(tmp_path):
    with pytest.raises(NeedsRepair) as err:
        read_csv(_gappy(tmp_path))
    assert err.value.options == [(["interpolate"], "to fill the gaps"),
                                 (["ignore-gaps"], "to take the points as consecutive")]
    assert str(err.value).endswith("; pass repair=['interpolate'] to fill the gaps, or pass "
                                   "repair=['ignore-gaps'] to take the points as consecutive")


def test_a_task_config_is_told_its_task_repair_key(tmp_path):
    path = _gappy(tmp_path)
    cfg = ForecastConfig(name="forecast", data=str(path))
    with pytest.raises(TaskError) as err:
        load_source(cfg)
    after = _days(12)[11]  # the first day after the missing 11th
    assert str(err.value) == (f"{path}:12: gap before {after} (the series steps by 1 days); "
                              'set task.repair = "interpolate" to fill the gaps, or set '
                              'task.repair = "ignore-gaps" to take the points as consecutive')
    cfg.repair = "interpolate"
    series, _ = load_source(cfg)
    assert len(series) == 30 and series.values[10] == 10.0  # filled halfway between 9 and 11


def test_a_predictor_input_is_told_the_repair_option(tmp_path):
    path = _write(tmp_path / "u.csv", ["t", "v"], [["2021-01-02", "1"], ["2021-01-01", "2"]])
    cfg = ForecastConfig(name="forecast", data=str(path))
    with pytest.raises(TaskError) as err:
        read_input(path, cfg)
    assert str(err.value) == (f"{path}:3: timestamp 2021-01-01 comes before the previous one; "
                              'pass repair="sort" (--repair sort) to sort the rows')
    assert read_input(path, cfg, repair="sort").values.tolist() == [2.0, 1.0]


def test_a_task_reads_the_time_format_it_is_given(tmp_path):
    firsts = [date(2021, m, 1) for m in range(1, 13)]
    path = _write(tmp_path / "m.csv", ["month", "v"],
                  [[d.strftime("%m/%d/%Y"), str(i)] for i, d in enumerate(firsts)])
    cfg = ForecastConfig(name="forecast", data=str(path))
    with pytest.raises(TaskError, match="read in more than one way"):
        load_source(cfg)
    cfg.time_format = "%m/%d/%Y"
    series, _ = load_source(cfg)
    assert str(series.timestamps[-1]) == "2021-12"
    assert read_input(path, cfg).timestamps.dtype == np.dtype("datetime64[M]")



@pytest.mark.parametrize("layout", ["%m/%d/%Y", "%d/%m/%Y"])
def test_months_that_read_both_ways_take_the_one_way_that_steps_regularly(tmp_path, layout):
    firsts = [date(y, m, 1) for y in range(1985, 1990) for m in range(1, 13)
              if (y, m) not in {(1986, 4), (1988, 9)}]  # two months missing
    path = _write(tmp_path / "ep.csv", ["DATE", "v"],
                  [[d.strftime(layout).lstrip("0"), str(i)] for i, d in enumerate(firsts)])
    with pytest.warns(UserWarning) as caught:
        s = read_csv(path, repair=["interpolate"])
    assert str(caught[0].message) == (
        f"{path}: column 'DATE' is read as {layout} (the times read in more than one way: "
        "%d/%m/%Y or %m/%d/%Y, and this one gives times in order at the most regular step); "
        "name time_format to read them otherwise")
    np.testing.assert_array_equal(s.timestamps, np.arange("1985-01", "1990-01",
                                                          dtype="datetime64[M]"))


def test_three_times_that_read_both_ways_are_enough_to_tell_a_regular_reading(tmp_path):
    path = _write(tmp_path / "t.csv", ["t", "v"], [[f"0{m}/05/2021", "1"] for m in (1, 2, 3)])
    with pytest.warns(UserWarning, match="is read as %d/%m/%Y"):  # May 1-3, not Jan-Mar 5
        s = read_csv(path)
    np.testing.assert_array_equal(s.timestamps, np.arange("2021-05-01", "2021-05-04",
                                                          dtype="datetime64[D]"))


@pytest.mark.parametrize("dates", [
    [date(2021, m, 1) for m in range(1, 13)],  # months m/d, or 12 days d/m: both regular
    [date(2021, m, d) for m, d in ((1, 3), (2, 5), (3, 11), (4, 2), (5, 9), (6, 1), (7, 12))],
    [date(2021, m, d) for m, d in ((1, 1), (2, 1), (3, 1), (4, 1), (5, 2), (6, 3), (7, 1),
                                   (8, 1))],  # 3 of 7 steps irregular as m/d
])  # irregular as m/d, out of order as d/m
def test_times_that_read_both_ways_without_one_regular_reading_need_a_format(tmp_path, dates):
    path = _write(tmp_path / "a.csv", ["t", "v"],
                  [[d.strftime("%m/%d/%Y"), str(i)] for i, d in enumerate(dates)])
    with pytest.raises(DataError, match=r"read in more than one way \(%d/%m/%Y or %m/%d/%Y\)"):
        read_csv(path)

# ------------------------------------------------------- tables (text, long-format sequences)

def test_a_semicolon_table_reads_like_the_comma_one(tmp_path):
    from rnnkit.data.tables import read_table

    rows = [["a fine film, truly", "pos"], ["dull; and long", "neg"]]
    comma = tmp_path / "c.csv"
    comma.write_text('text,label\n"a fine film, truly",pos\ndull; and long,neg\n')
    semi = tmp_path / "s.csv"
    semi.write_text('text;label\na fine film, truly;pos\n"dull; and long";neg\n')
    for path in (comma, semi):
        table = read_table(path, ["text", "label"])
        assert [[r["text"], r["label"]] for r in table.rows] == rows, path
    bad = tmp_path / "b.csv"
    bad.write_text("text;label\ndull; and long;neg\n")
    with pytest.raises(DataError) as err:
        read_table(bad, ["text", "label"])
    assert str(err.value) == (f"{bad}:2: 3 fields, the header has 2 (a semicolon inside a "
                              "value needs quotes)")


def test_sniff_delimiter_prefers_the_comma():
    from rnnkit.data.tables import sniff_delimiter

    assert sniff_delimiter("t,v;w\n") == ","
    assert sniff_delimiter("t;v\tw\n") == ";"
    assert sniff_delimiter("t\tv\n") == "\t"
    assert sniff_delimiter("text\n") == ","


def _long(tmp_path, times, name="l.csv"):
    """A long table of one sequence 's' whose value at each row is its row number."""
    path = tmp_path / name
    path.write_text("id,t,v\n" + "".join(f"s,{t},{i}\n" for i, t in enumerate(times)))
    return path


def test_a_long_table_orders_day_month_year_times_like_iso_ones(tmp_path):
    from rnnkit.data.sequences import read_long_table

    days = _days(40)
    order = np.random.default_rng(1).permutation(40)  # rows shuffled in the file
    iso = [days[i].isoformat() for i in order]
    dmy = [days[i].strftime("%d/%m/%Y") for i in order]
    (a,) = read_long_table(_long(tmp_path, iso, "a.csv"))
    (b,) = read_long_table(_long(tmp_path, dmy, "b.csv"))
    np.testing.assert_array_equal(a.x[:, 0], np.argsort(order))  # each day's row, in day order
    np.testing.assert_array_equal(b.x, a.x)


def test_a_long_table_refuses_times_two_layouts_order_differently(tmp_path):
    from rnnkit.data.sequences import read_long_table

    path = _long(tmp_path, ["01/02/2024", "02/01/2024", "03/01/2024"])
    with pytest.raises(DataError) as err:
        read_long_table(path)
    assert str(err.value) == (f"{path}:2: column 't': the times ('01/02/2024' ...) read as "
                              "%d/%m/%Y or %m/%d/%Y, which order them differently; write ISO "
                              "8601 times (2024-01-31)")
    # two layouts that agree on the order are fine: only the order is used
    (s,) = read_long_table(_long(tmp_path, ["02/01/2024", "01/01/2024"], "ok.csv"))
    assert s.x[:, 0].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("times, message", [
    (["1", "noon"], "3: column 't': 'noon' is neither a number nor a date/time (ISO 8601, or "
                    "day/month/year as in 31/01/2024)"),
    (["1", "2024-01-01"], "2: column 't': the sequence mixes numbers and dates, or date "
                          "layouts"),
    (["2024-01-02", "31/01/2024"], "2: column 't': the sequence mixes numbers and dates, or "
                                   "date layouts"),
])
def test_a_long_table_names_a_time_it_cannot_order(tmp_path, times, message):
    from rnnkit.data.sequences import read_long_table

    path = _long(tmp_path, times)
    with pytest.raises(DataError) as err:
        read_long_table(path)
    assert str(err.value) == f"{path}:{message}"


def test_a_series_too_short_is_not_blamed_on_the_scaler(tmp_path):
    """The transform reads the ranges first: their own error comes out as it is, not under
    'task.scaler = ...' (which once prefixed every error raised while fitting)."""
    from rnnkit.tasks import TASKS
    from rnnkit.tasks.runner import config_from_raw

    path = _write(tmp_path / "s.csv", ["t", "v"], [[d.isoformat(), "1"] for d in _days(10)])
    cfg = config_from_raw({"task": {"name": "forecast", "data": str(path), "window": 4,
                                    "horizon": 3, "scaler": "log"},
                           "model": {"cell": "gru", "hidden_size": 4, "output": "quantile"}},
                          "t")
    with pytest.raises(TaskError) as bounds:
        TASKS["forecast"].setup(cfg).bounds  # noqa: B018
    with pytest.raises(TaskError) as transform:
        TASKS["forecast"].setup(cfg).transform  # noqa: B018
    assert str(transform.value) == str(bounds.value)
    assert str(bounds.value).startswith(f"{path}: 10 points")


@pytest.mark.parametrize("mark", ["NA", "N/A", "#N/A", "nan", "NaN", "null", "NULL", "None",
                                  "<NA>", "?", "", " na "])
def test_missing_value_marks_of_spreadsheets_r_and_pandas_are_missing(tmp_path, mark):
    """Each mark is a missing value: an error that asks for interpolation, which fills it."""
    path = tmp_path / "s.csv"
    path.write_text(f"t,v,w\n2020-01-01,1,5\n2020-01-02,{mark},6\n2020-01-03,3,{mark}\n"
                    "2020-01-04,4,8\n")
    with pytest.raises(NeedsRepair, match=r"s.csv:3: missing value in column 'v'"):
        read_csv(path)
    with pytest.warns(UserWarning, match=r"filled 2 missing value\(s\) by interpolation"):
        s = read_csv(path, repair=["interpolate"])
    np.testing.assert_allclose(s.values, [[1, 5], [2, 6], [3, 7], [4, 8]])


def test_a_word_that_is_no_missing_mark_is_still_not_a_number(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("t,v\n2020-01-01,1\n2020-01-02,missing\n")
    with pytest.raises(DataError, match=r"s.csv:3: value 'missing' in column 'v' is not a "
                                        "number"):
        read_csv(path, repair=["interpolate"])
