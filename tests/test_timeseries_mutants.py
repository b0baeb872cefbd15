"""Series CSV reading, scalers, differencing and windows (rnnkit/data/timeseries.py) against
small hand-made files and hand-computed values: exact arrays, the whole error message
(file, line, column, what to pass), the rows each repair reports, scalers' closed forms."""

import math

import numpy as np
import pytest

from rnnkit.data import timeseries
from rnnkit.data.datasets import DataError
from rnnkit.data.timeseries import (
    MAX_ABS,
    Scaler,
    Series,
    difference,
    load_series,
    make_windows,
    read_csv,
    undifference,
    window_starts,
)


def _write(tmp_path, text, name="s.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(fn, *args, **kw):
    with pytest.raises(DataError) as e:
        fn(*args, **kw)
    return str(e.value)


def _days(first, n):
    return np.arange(np.datetime64(first), np.datetime64(first) + n)


# -- Series ---------------------------------------------------------------------------------
def test_series_head_split_width_and_ahead():
    t = _days("2020-01-01", 4)
    s = Series(t, np.arange(4.0), covariates=np.arange(12.0).reshape(6, 2))
    assert (len(s), s.width, s.ahead) == (4, 1, 2)
    h = s.head(2)
    assert h.values.tolist() == [0, 1] and h.timestamps.tolist() == t[:2].tolist()
    assert h.covariates.shape == (6, 2)  # every known covariate by default
    assert s.head(2, ahead=1).covariates.tolist() == [[0, 1], [2, 3], [4, 5]]
    assert s.head(3, ahead=0).covariates.shape == (3, 2)
    assert Series(t, np.zeros((4, 3))).width == 3 and Series(t, np.zeros(4)).ahead == 0
    assert Series(t, np.zeros(4)).head(1).covariates is None
    assert s.split(1) == 3 and s.split(0.5) == 2 and s.split(0.3) == 2  # ceil(1.2) = 2
    with pytest.raises(ValueError, match="^test range of 4 points does not fit a series of "
                                         "4$"):
        s.split(4)
    with pytest.raises(ValueError, match="test range of 0 points"):
        s.split(0.0)
    assert s.split(3) == 1


def test_load_series_reads_the_named_file_as_published(tmp_path, monkeypatch):
    path = _write(tmp_path, "t,v\n2020-01-01,1\n2020-01-03,2\n2020-01-02,3\n2020-01-05,4\n")
    calls = []

    def fetch(name, root=None):
        calls.append((name, root))
        return [path]

    monkeypatch.setattr(timeseries, "fetch", fetch)
    s = load_series("nyc_taxi", root=tmp_path)
    assert calls == [("nyc_taxi", tmp_path)]
    assert s.name == "nyc_taxi" and s.values.tolist() == [1, 2, 3, 4]  # file order, gaps kept
    assert _error(load_series, "nope") == (
        "unknown series 'nope'; known: ['airline-passengers', 'ambient_temperature_system_"
        "failure', 'daily-min-temperatures', 'machine_temperature_system_failure', "
        "'monthly-sunspots', 'nyc_taxi']")


# -- read_csv: columns ----------------------------------------------------------------------
def test_times_with_a_space_a_z_and_spaces_around(tmp_path):
    s = read_csv(_write(tmp_path, "t,v\n 2020-01-01 00:30Z ,1\n2020-01-01 01:30,2\n"))
    assert s.timestamps.tolist() == np.array(["2020-01-01T00:30", "2020-01-01T01:30"],
                                             dtype="datetime64[m]").tolist()
    assert s.name == "s" and s.values.tolist() == [1.0, 2.0]


def test_columns_by_name_and_by_default(tmp_path):
    path = _write(tmp_path, "v,when,w\n1,2020-01-01,5\n2,2020-01-02,6\n")
    s = read_csv(path, time_column="when", value_column="w")
    assert s.values.tolist() == [5.0, 6.0] and s.columns == ("w",)
    assert s.timestamps[0] == np.datetime64("2020-01-01")
    s = read_csv(path, "when")  # the values: every other column
    assert s.values.tolist() == [[1, 5], [2, 6]] and s.columns == ("v", "w")
    s = read_csv(path, "when", value_columns=["w", "v"])
    assert s.values.tolist() == [[5, 1], [6, 2]] and s.columns == ("w", "v")


def test_column_errors_name_the_columns(tmp_path):
    path = _write(tmp_path, "t\n2020-01-01\n")
    assert _error(read_csv, path) == f"{path}: needs at least 2 columns (time, value), got ['t']"
    path = _write(tmp_path, "t,v\n2020-01-01,1\n")
    assert _error(read_csv, path, value_columns=["t"]) == (
        f"{path}: column(s) ['t'] named twice (time, value and covariate columns are distinct)")
    assert _error(read_csv, path, covariate_columns=["v"]) == (
        f"{path}: needs at least 2 columns (time, value), got ['t', 'v']")
    assert _error(read_csv, path, "x") == (f"{path}: no time column 'x'; the columns are "
                                           "['t', 'v']")
    assert _error(read_csv, path, value_column="y") == (
        f"{path}: no value column 'y'; the columns are ['t', 'v']")
    with pytest.raises(ValueError) as e:
        read_csv(path, repair=["sort", "fix"])
    assert str(e.value) == f"unknown repair ['fix']; choose from {timeseries.REPAIRS}"


def test_header_only_and_short_rows(tmp_path):
    s = read_csv(_write(tmp_path, "t,a,b\n"))
    assert s.values.shape == (0, 2) and s.timestamps.dtype == np.dtype("datetime64[s]")
    s = read_csv(_write(tmp_path, "t,a\n"))
    assert s.values.shape == (0,)
    path = _write(tmp_path, "t,a,b\n2020-01-01,1\n2020-01-02,2,3\n")
    assert _error(read_csv, path) == (f"{path}:2: missing value in column 'b'; pass "
                                      "repair=['interpolate'] to fill it")
    path = _write(tmp_path, "a,t\n1\n")
    assert _error(read_csv, path, "t") == f"{path}:2: no time in column 't' (row ['1'])"


def test_unreadable_files(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b"t,v\n2020-01-01,\xff\n")
    assert _error(read_csv, path) == (f"{path}: not valid UTF-8 (invalid start byte); save the "
                                      "file as UTF-8")
    path.write_text("t,v\n2020-01-01," + "9" * 140_000 + "\n")
    assert _error(read_csv, path) == f"{path}: field larger than field limit (131072)"
    path.write_bytes(b"\xef\xbb\xbft,v\n2020-01-01,1\n")  # a byte order mark is not a name
    assert read_csv(path, "t", value_column="v").values.tolist() == [1.0]


# -- read_csv: values -----------------------------------------------------------------------
def test_invalid_values_messages(tmp_path):
    path = _write(tmp_path, "t,v\n2020-01-01,1\n2020-01-02,-inf\n")
    assert _error(read_csv, path) == (
        f"{path}:3: value -inf in column 'v' is not finite; pass repair="
        "['invalid-as-missing', 'interpolate'] to fill it from its neighbours (or correct it)")
    path = _write(tmp_path, "t,v\n2020-01-01,1\n2020-01-02,-2e15\n")
    assert _error(read_csv, path).startswith(
        f"{path}:3: value -2e+15 in column 'v' is beyond +-1e+15, too large to scale safely; ")
    path = _write(tmp_path, f"t,v\n2020-01-01,{MAX_ABS:.0f}\n2020-01-02,{-MAX_ABS:.0f}\n")
    assert read_csv(path).values.tolist() == [MAX_ABS, -MAX_ABS]  # the limit itself is fine
    path = _write(tmp_path, "t,v\n2020-01-01,1\n2020-01-02,x\n")
    assert _error(read_csv, path) == f"{path}:3: value 'x' in column 'v' is not a number"


def test_invalid_as_missing_reports_the_rows(tmp_path):
    path = _write(tmp_path, "t,v,c\n2020-01-01,1,0\n2020-01-02,inf,1\n2020-01-03,3,nan\n"
                            "2020-01-04,4,3\n")
    with pytest.warns(UserWarning) as w:
        s = read_csv(path, covariate_columns=["c"], repair=["invalid-as-missing", "interpolate"])
    assert [str(m.message) for m in w] == [
        f"{path}: took 1 non-finite or too large value(s) as missing (line 3)",
        f"{path}: filled 2 missing value(s) by interpolation (line 3, 4)"]
    assert s.values.tolist() == [1, 2, 3, 4] and s.covariates[:, 0].tolist() == [0, 1, 2, 3]


def test_covariates_known_ahead_are_checked_and_filled_on_every_row(tmp_path):
    text = "t,v,c\n2020-01-01,1,10\n2020-01-02,2,\n2020-01-03,,30\n2020-01-04,,inf\n"
    path = _write(tmp_path, text)
    assert _error(read_csv, path, covariate_columns=["c"]).startswith(
        f"{path}:5: value inf in column 'c' is not finite")
    path = _write(tmp_path, text.replace("inf", "40"))
    with pytest.warns(UserWarning, match=r"filled 1 missing value\(s\) by interpolation "
                                         r"\(line 3\)"):
        s = read_csv(path, covariate_columns=["c"], repair=["interpolate"])
    assert s.values.tolist() == [1, 2] and s.covariates[:, 0].tolist() == [10, 20, 30, 40]
    assert s.covariate_columns == ("c",) and s.covariates.flags["C_CONTIGUOUS"]
    path = _write(tmp_path, "t,v,c\n2020-01-01,1,\n2020-01-02,2,\n")
    with pytest.warns(UserWarning, match="filled 2"):
        assert _error(read_csv, path, covariate_columns=["c"], repair=["interpolate"]) == (
            f"{path}: column 'c' has no value to interpolate from")
    path = _write(tmp_path, "t,a,b\n2020-01-01,1,\n2020-01-02,2,\n")
    with pytest.warns(UserWarning, match="filled 2"):
        assert _error(read_csv, path, repair=["interpolate"]) == (
            f"{path}: column 'b' has no value to interpolate from")


def test_values_only_up_to_the_last_row_with_one_are_checked(tmp_path):
    # without covariates, a trailing blank value is missing, not the future
    path = _write(tmp_path, "t,v\n2020-01-01,1\n2020-01-02,\n")
    assert _error(read_csv, path).startswith(f"{path}:3: missing value in column 'v'")
    # one value of two given: the row is not the future
    path = _write(tmp_path, "t,a,b,c\n2020-01-01,1,2,0\n2020-01-02,,5,0\n")
    with pytest.warns(UserWarning):
        s = read_csv(path, covariate_columns=["c"], repair=["interpolate"])
    assert s.values.tolist() == [[1, 2], [1, 5]]  # a held flat past the last value


# -- read_csv: order, duplicates, gaps ------------------------------------------------------
def test_order_errors_and_sort(tmp_path):
    path = _write(tmp_path, "t,v\n2020-01-02,2\n2020-01-03,3\n2020-01-01,1\n")
    assert _error(read_csv, path) == (f"{path}:4: timestamp 2020-01-01 comes before the "
                                      "previous one; pass repair=['sort'] to sort the rows")
    s = read_csv(path, repair=["sort"])
    assert s.values.tolist() == [1, 2, 3] and s.timestamps[0] == np.datetime64("2020-01-01")
    s = read_csv(path, repair=["keep-order"])
    assert s.values.tolist() == [2, 3, 1]


def test_duplicates_error_or_keep_the_first_after_a_stable_sort(tmp_path):
    path = _write(tmp_path, "t,v\n2020-01-02,5\n2020-01-01,1\n2020-01-02,7\n2020-01-03,3\n"
                            "2020-01-02,9\n")
    with pytest.raises(DataError) as e:
        read_csv(path, repair=["sort"])
    assert str(e.value) == (f"{path}:4: duplicated timestamp 2020-01-02; pass "
                            "repair=['drop-duplicates'] to keep the first")
    with pytest.warns(UserWarning) as w:
        s = read_csv(path, repair=["sort", "drop-duplicates"])
    assert s.values.tolist() == [1, 5, 3]  # the first 2020-01-02 in file order
    assert [str(m.message) for m in w] == [
        f"{path}: dropped 2 row(s) with a duplicated timestamp (line 4, 6)"]


def test_gaps_error_name_the_step_and_fill_rows_reported_as_gaps(tmp_path):
    path = _write(tmp_path, "t,v\n2020-01-01 00:00,0\n2020-01-01 01:00,1\n2020-01-01 04:00,4\n"
                            "2020-01-01 05:00,5\n")
    assert _error(read_csv, path) == (
        f"{path}:4: gap before 2020-01-01T04:00 (the series steps by 60 minutes); pass "
        "repair=['interpolate'] to fill the gaps, or pass repair=['ignore-gaps'] to take the "
        "points as consecutive")
    with pytest.warns(UserWarning) as w:
        s = read_csv(path, repair=["interpolate"])
    assert s.values.tolist() == [0, 1, 2, 3, 4, 5]
    assert s.timestamps.tolist() == np.arange(np.datetime64("2020-01-01T00:00"),
                                              np.datetime64("2020-01-01T06:00"),
                                              np.timedelta64(60, "m")).tolist()
    assert [str(m.message) for m in w] == [
        f"{path}: filled 2 missing value(s) by interpolation (line a gap, a gap)"]
    assert read_csv(path, repair=["ignore-gaps"]).values.tolist() == [0, 1, 4, 5]
    two = _write(tmp_path, "t,v\n2020-01-01,0\n2020-01-05,1\n")  # 2 points: no step to judge
    assert read_csv(two).values.tolist() == [0, 1]


def test_a_missing_value_in_a_gap_row_says_so(tmp_path):
    # the filled row has no line of its own: its row number in the filled series is named
    path = _write(tmp_path, "t,v,c\n2020-01-01,1,0\n2020-01-02,2,1\n2020-01-04,4,3\n")
    assert _error(read_csv, path, covariate_columns=["c"]).startswith(
        f"{path}:4: gap before 2020-01-04")
    with pytest.raises(DataError) as e:  # (the check a gap row meets, called directly)
        timeseries._checked(path, np.array([[1.0], [math.nan], [3.0]]), np.array([2, 0, 3]),
                            ["v"], 3, 1, [])
    assert str(e.value) == (f"{path}: row 2 (a gap): missing value in column 'v'; pass "
                            "repair=['interpolate'] to fill it")


def test_blank_line_reports_list_ten_lines_then_dots(tmp_path):
    rows = "".join(f"2020-01-{d:02d},{d}\n\n" for d in range(1, 12))
    path = _write(tmp_path, "t,v\n" + rows)
    with pytest.warns(UserWarning) as w:
        read_csv(path)
    assert [str(m.message) for m in w] == [
        f"{path}: skipped 11 blank line(s) (line 3, 5, 7, 9, 11, 13, 15, 17, 19, 21 ...)"]
    path = _write(tmp_path, "t,v\n" + "".join(f"2020-01-{d:02d},{d}\n\n" for d in range(1, 11)))
    with pytest.warns(UserWarning) as w:
        read_csv(path)
    assert str(w[0].message).endswith("(line 3, 5, 7, 9, 11, 13, 15, 17, 19, 21)")


# -- scalers --------------------------------------------------------------------------------
X = np.array([1.0, 2.0, 4.0, 9.0])


def test_scalers_fit_their_closed_forms():
    s = Scaler("standard").fit(X)
    assert (s.a, s.b) == (4.0, math.sqrt(((X - 4) ** 2).mean()))
    s = Scaler("minmax").fit(X)
    assert (s.a, s.b) == (1.0, 8.0) and s.transform(X).tolist() == [0, 1 / 8, 3 / 8, 1]
    s = Scaler("log").fit(X)
    lx = np.log1p(X)
    assert s.a == pytest.approx(lx.mean(), abs=0) and s.b == pytest.approx(lx.std(), abs=0)
    np.testing.assert_allclose(s.transform(X), (lx - lx.mean()) / lx.std(), rtol=1e-15)
    np.testing.assert_allclose(s.inverse(s.transform(X)), X, rtol=1e-14)
    s = Scaler("none").fit(X)
    assert (s.a, s.b) == (0.0, 1.0) and s.transform(X).tolist() == X.tolist()
    assert Scaler().kind == "standard" and (Scaler().a, Scaler().b) == (0.0, 1.0)


def test_constant_data_scales_by_one():
    for kind in ("standard", "minmax", "log"):
        assert Scaler(kind).fit(np.full(3, 2.0)).b == 1.0
    s = Scaler("minmax").fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    assert s.a.tolist() == [1, 5] and s.b.tolist() == [2, 1]
    s = Scaler("standard").fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    assert s.a.tolist() == [2, 5] and s.b.tolist() == [1, 1]


def test_per_column_scalers_and_their_round_trip():
    x = np.array([[1.0, 10.0], [3.0, 30.0], [8.0, 20.0]])
    s = Scaler("log").fit(x)
    np.testing.assert_allclose(s.a, np.log1p(x).mean(0), rtol=1e-15)
    np.testing.assert_allclose(s.b, np.log1p(x).std(0), rtol=1e-15)
    s = Scaler("none").fit(x)
    assert s.a.tolist() == [0, 0] and s.b.tolist() == [1, 1]
    s = Scaler("minmax").fit(x)
    d = s.to_dict()
    assert d == {"kind": "minmax", "a": [1.0, 10.0], "b": [7.0, 20.0]}
    assert all(type(v) is float for v in d["a"] + d["b"])
    back = Scaler.from_dict(d)
    assert back.a.dtype == np.float64 and back.transform(x).tolist() == s.transform(x).tolist()
    assert s.scale_only([1.0, 2.0]).tolist() == [7.0, 40.0]
    one = Scaler("standard").fit(X).to_dict()
    assert type(one["a"]) is float and Scaler.from_dict(one).a == 4.0
    assert type(Scaler.from_dict(one).a) is float  # a number stays a number
    ints = Scaler.from_dict({"kind": "minmax", "a": [1, 2], "b": [3, 4]})  # hand-written JSON
    assert ints.a.dtype == ints.b.dtype == np.float64


def test_scaler_errors():
    with pytest.raises(ValueError) as e:
        Scaler("robust")
    assert str(e.value) == ("scaler must be one of ('standard', 'minmax', 'log', 'none'), "
                            "got 'robust'")
    with pytest.raises(ValueError, match=r"^the log scaler \(log1p\) needs values > -1, and "
                       r"the smallest is -1; use the 'standard' scaler for such a series$"):
        Scaler("log").fit(np.array([0.0, -1.0]))
    Scaler("log").fit(np.array([0.0, -0.5]))
    Scaler("standard").fit(np.array([-1.0, -5.0]))  # only log needs > -1


# -- differencing and windows ---------------------------------------------------------------
def test_difference_and_undifference_by_hand():
    x = np.array([1.0, 4.0, 2.0, 8.0, 5.0])
    assert difference(x, 2).tolist() == [1.0, 4.0, 3.0]
    assert difference(x, 1).tolist() == [3.0, -2.0, 6.0, -3.0]
    # following history [.., 2, 8]: x = d + x[t - 2]
    assert undifference(np.array([1.0, 1.0, 1.0]), np.array([7.0, 2.0, 8.0]), 2).tolist() == [
        3.0, 9.0, 4.0]


def test_window_starts_and_windows_by_hand():
    assert window_starts(0, 10, 3, 2).tolist() == [0, 1, 2, 3, 4, 5]
    assert window_starts(2, 10, 3, 2, stride=2).tolist() == [2, 4]
    assert window_starts(5, 10, 3, 2).tolist() == [5]
    assert window_starts(6, 10, 3, 2).tolist() == []
    none = window_starts(6, 10, 3, 2)
    assert none.dtype.kind == "i"  # window starts index arrays, even when there are none
    inputs, targets = make_windows(np.arange(10.0), none, 3, 2)
    assert inputs.shape == (0, 3) and targets.shape == (0, 2)
    x = np.arange(10.0) * 10
    inputs, targets = make_windows(x, np.array([1, 4]), 3, 2)
    assert inputs.tolist() == [[10, 20, 30], [40, 50, 60]]
    assert targets.tolist() == [[40, 50], [70, 80]]


# -- read_csv: what the first run's survivors showed untested -------------------------------
def test_a_quoted_header_cell_keeps_its_line_break_as_written(tmp_path):
    # csv reading needs the file opened with newline="": a CRLF inside quotes is the name's
    path = tmp_path / "s.csv"
    path.write_bytes(b't,"load\r\n(MW)"\r\n2020-01-01,1\r\n2020-01-02,2\r\n')
    s = read_csv(path)
    assert s.columns == ("load\r\n(MW)",) and s.values.tolist() == [1.0, 2.0]
    assert read_csv(path, value_column="load\r\n(MW)").values.tolist() == [1.0, 2.0]


def test_a_row_earlier_than_its_previous_one_is_named_not_an_earlier_duplicate(tmp_path):
    # line 3 repeats line 2's time (a duplicate), line 5 steps back: the order error is first
    path = _write(tmp_path, "t,v\n2020-01-02,1\n2020-01-02,2\n2020-01-03,3\n2020-01-01,4\n")
    assert _error(read_csv, path) == (f"{path}:5: timestamp 2020-01-01 comes before the "
                                      "previous one; pass repair=['sort'] to sort the rows")


def test_sorting_keeps_file_order_among_duplicates_in_a_long_file(tmp_path):
    # 300 rows over 20 days, shuffled: each day keeps the value of its first row in the file
    rng = np.random.default_rng(3)
    days = _days("2020-03-01", 20)[rng.integers(0, 20, 300)]
    days[:20] = _days("2020-03-01", 20)  # (every day present)
    order = rng.permutation(300)
    days = days[order]
    path = _write(tmp_path, "t,v\n" + "".join(f"{d},{i}\n" for i, d in enumerate(days)))
    first = {}
    for i, d in enumerate(days.tolist()):
        first.setdefault(d, i)
    with pytest.warns(UserWarning, match="dropped 280 row"):
        s = read_csv(path, repair=["sort", "drop-duplicates"])
    assert s.timestamps.tolist() == sorted(first)
    assert s.values.tolist() == [first[d] for d in sorted(first)]


def test_an_error_after_gap_filling_names_the_file_line_as_an_integer(tmp_path):
    path = _write(tmp_path, "t,v\n2020-01-01,1\n2020-01-02,2\n2020-01-04,inf\n2020-01-05,5\n")
    assert _error(read_csv, path, repair=["interpolate"]) == (
        f"{path}:4: value inf in column 'v' is not finite; pass repair=['invalid-as-missing', "
        "'interpolate'] to fill it from its neighbours (or correct it)")


def test_a_one_nanosecond_irregularity_is_a_gap_even_in_long_steps(tmp_path):
    # ISO times with nanoseconds, 200 days apart (1.728e16 ns: past 2**53, where float64
    # can no longer tell D + 1 from D): the late fourth point is still found
    step = 200 * 86_400 * 10**9
    t0 = np.datetime64("2000-01-01T00:00:00.000000000")
    times = [t0 + np.timedelta64(k * step + (1 if k == 3 else 0), "ns") for k in range(6)]
    path = _write(tmp_path, "t,v\n" + "".join(f"{t},{k}\n" for k, t in enumerate(times)))
    assert _error(read_csv, path).startswith(f"{path}:5: gap before {times[3]} (the series "
                                             f"steps by {step} nanoseconds)")
    assert read_csv(path, repair=["ignore-gaps"]).values.tolist() == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("future", [1, 3])
def test_every_trailing_row_without_values_is_the_covariates_future(tmp_path, future):
    rows = [f"2020-01-{d:02d},{d},{10 * d}\n" for d in range(1, 5)]
    rows += [f"2020-01-{d:02d},,{10 * d}\n" for d in range(5, 5 + future)]
    s = read_csv(_write(tmp_path, "t,v,c\n" + "".join(rows)), covariate_columns=["c"])
    assert s.values.tolist() == [1, 2, 3, 4] and s.ahead == future
    assert s.timestamps.tolist() == _days("2020-01-01", 4).tolist()
    assert s.covariates[:, 0].tolist() == [10.0 * d for d in range(1, 5 + future)]


def test_read_warnings_point_at_the_caller(tmp_path):
    """A report (blank lines, dropped duplicates, fills) is at the caller's line, never
    timeseries.py's."""
    import os

    path = _write(tmp_path, "t,v\n2020-01-01,1\n\n2020-01-01,1\n2020-01-02,\n")
    with pytest.warns(UserWarning) as w:
        read_csv(path, repair=["drop-duplicates", "interpolate"])
    assert len(w) == 3
    if "MUTANT_UNDER_TEST" not in os.environ:  # mutmut's trampoline adds frames
        assert [m.filename for m in w] == [__file__] * 3


@pytest.mark.parametrize("kind", ["standard", "minmax", "none"])
def test_float32_values_are_scaled_in_float64(kind):
    x = np.random.default_rng(4).normal(1e4, 3.0, (500, 2))
    for values in (x[:, 0], x):
        x32 = values.astype(np.float32)
        wide = Scaler(kind).fit(x32.astype(np.float64))
        s = Scaler(kind).fit(x32)
        np.testing.assert_array_equal(s.a, wide.a)
        np.testing.assert_array_equal(s.b, wide.b)
        y = s.transform(x32)
        assert y.dtype == np.float64
        np.testing.assert_array_equal(y, wide.transform(x32.astype(np.float64)))
