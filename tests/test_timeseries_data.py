"""A user's series CSV (DESIGN.md, "A user's own data"): a time column, one or more value
columns, optional covariate columns (their known future as rows with the values blank),
read to exactly the expected arrays; every malformed case an error naming the file, the row
and the column; the config keys (the former task.csv / value_column still read), relative
paths that follow the config file, consecutive train/val/test parts, per-column scaling."""

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.datasets import DataError
from rnnkit.data.timeseries import MAX_ABS, Scaler, read_csv
from rnnkit.tasks import TASKS, TaskError, load_config
from rnnkit.tasks.timeseries.source import load_source, read_input
from rnnkit.tasks.timeseries.transform import Transform, model_inputs
from rnnkit.training.config_io import ConfigError

TWO = """date,a,b,temp
2020-01-01,1.5,10,20.5
2020-01-02,2.5,11,21.0
2020-01-03,3.5,12,19.5
2020-01-04,,,18.0
2020-01-05,,,17.5
"""


def _write(tmp_path, text, name="s.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_two_value_columns_and_a_covariate_read_to_the_expected_arrays(tmp_path):
    s = read_csv(_write(tmp_path, TWO), "date", value_columns=["a", "b"],
                 covariate_columns=["temp"])
    assert s.columns == ("a", "b") and s.covariate_columns == ("temp",)
    np.testing.assert_array_equal(s.timestamps, np.arange("2020-01-01", "2020-01-04",
                                                          dtype="datetime64[D]"))
    np.testing.assert_array_equal(s.values, [[1.5, 10], [2.5, 11], [3.5, 12]])
    # the rows with the values blank: the covariate's known future (2 points ahead)
    np.testing.assert_array_equal(s.covariates, [[20.5], [21.0], [19.5], [18.0], [17.5]])
    assert len(s) == 3 and s.ahead == 2 and s.width == 2
    # defaults: the time is the first column, the values every other one but the covariates
    d = read_csv(_write(tmp_path, TWO), covariate_columns=["temp"])
    np.testing.assert_array_equal(d.values, s.values)
    # one value column: values (N,), as before
    one = read_csv(_write(tmp_path, "t,v\n2020-01-01,1\n2020-01-02,2\n"))
    assert one.values.shape == (2,) and one.columns == ("v",) and one.covariates is None


@pytest.mark.parametrize("text,kw,match", [
    # a value that is not finite, or too large to scale safely: rejected naming the row and
    # column (these were accepted, and a forecast from them looked ordinary)
    ("t,v\n2020-01-01,1\n2020-01-02,inf\n", {}, r"s.csv:3: value inf in column 'v' is not "
                                                 r"finite"),
    ("t,v\n2020-01-01,1e300\n2020-01-02,1\n", {}, r"s.csv:2: value 1e\+300 in column 'v' is "
                                                   r"beyond \+-1e\+15"),
    ("t,a,b\n2020-01-01,1,2\n2020-01-02,3,-inf\n", {}, r"s.csv:3: value -inf in column 'b'"),
    ("t,v\n2020-01-01,1\n2020-01-02,nan\n2020-01-03,1\n", {},
     r"s.csv:3: missing value in column 'v'"),
    (TWO.replace("21.0", "warm"), {"covariate_columns": ["temp"]},
     r"s.csv:3: value 'warm' in column 'temp' is not a number"),
    (TWO.replace("18.0", ""), {"covariate_columns": ["temp"]},
     r"s.csv:5: missing value in column 'temp'"),
    (TWO, {"covariate_columns": ["wind"]}, r"s.csv: no covariate column 'wind'.*\['date'"),
    (TWO, {"value_columns": ["a", "x"]}, r"s.csv: no value column 'x'"),
    (TWO, {"value_columns": ["a"], "covariate_columns": ["a"]}, r"\['a'\] named twice"),
    ("", {}, r"s.csv: the file is empty"),
])
def test_bad_series_files_name_the_file_row_and_column(tmp_path, text, kw, match):
    with pytest.raises(DataError, match=match):
        read_csv(_write(tmp_path, text), **kw)


def test_invalid_values_are_repaired_only_on_request(tmp_path):
    path = _write(tmp_path, "t,v\n2020-01-01,1\n2020-01-02,inf\n2020-01-03,3\n2020-01-04,"
                            f"{10 * MAX_ABS}\n2020-01-05,5\n")
    with pytest.raises(DataError, match="invalid-as-missing"):
        read_csv(path, repair=["interpolate"])  # interpolate alone fills gaps, not these
    s = read_csv(path, repair=["invalid-as-missing", "interpolate"])
    np.testing.assert_array_equal(s.values, [1, 2, 3, 4, 5])


def test_blank_lines_are_skipped_and_reported_with_their_numbers(tmp_path):
    path = _write(tmp_path, "t,v\n2020-01-01,1\n\n2020-01-02,2\n,\n2020-01-03,3\n")
    with pytest.warns(UserWarning, match=r"s.csv: skipped 2 blank line\(s\) \(line 3, 5\)"):
        s = read_csv(path)
    np.testing.assert_array_equal(s.values, [1, 2, 3])
    with pytest.warns(UserWarning), pytest.raises(DataError, match=r"s.csv:6: duplicated"):
        read_csv(_write(tmp_path, "t,v\n2020-01-01,1\n\n2020-01-02,2\n\n2020-01-02,3\n"))


def test_header_only_file_is_an_empty_series(tmp_path):
    s = read_csv(_write(tmp_path, "t,a,b\n"))
    assert len(s) == 0 and s.width == 2  # the tasks say how many points they need


def test_scaler_per_column_round_trip():
    x = np.array([[1.0, 100.0], [3.0, 300.0], [5.0, 100.0]])
    for kind in Scaler.KINDS:
        s = Scaler(kind).fit(x)
        back = Scaler.from_dict(json.loads(json.dumps(s.to_dict())))
        z = back.transform(x)
        np.testing.assert_allclose(back.inverse(z), x, rtol=1e-12)
        for k in range(2):  # each column scaled as it would be alone
            np.testing.assert_allclose(z[:, k], Scaler(kind).fit(x[:, k]).transform(x[:, k]),
                                       rtol=1e-12)
    assert Scaler("standard").fit(np.ones((3, 2))).b.tolist() == [1.0, 1.0]  # constant


@pytest.mark.parametrize("anchor", ["none", "difference", "level"])
def test_multicolumn_windows_are_each_columns_windows_side_by_side(anchor):
    x = np.random.default_rng(0).uniform(50, 500, size=(80, 3))
    t = Transform.fit(x[:60], "log", 12, anchor == "difference", anchor == "level")
    z = t.scaled(x)
    assert z.shape == (3, 80)
    origins = np.arange(t.first_origin(6), 80 - 24)
    inputs, targets = t.windows(z, origins, 6, 24)
    assert inputs.shape == (len(origins), 6, 3) and targets.shape == (len(origins), 24, 3)
    for k in range(3):
        tk = Transform.fit(x[:60, k], "log", 12, anchor == "difference", anchor == "level")
        zk = tk.scaled(x[:, k])
        ik, yk = tk.windows(zk, origins, 6, 24)
        np.testing.assert_allclose(inputs[..., k], ik, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(targets[..., k], yk, rtol=1e-12, atol=1e-12)
    back = t.to_original(targets, t.anchors(z, origins, 24))
    np.testing.assert_allclose(back, x[origins[:, None] + np.arange(1, 25)], rtol=1e-10)


def test_model_inputs_put_the_covariates_after_the_targets():
    t = Transform(Scaler("none"), season=1)
    z = np.arange(20.0)
    zc = np.stack([100 + np.arange(23.0), 200 + np.arange(23.0)], 1)  # known 3 points ahead
    data = model_inputs(t, z, zc, np.array([4, 10]), window=3, horizon=2)
    np.testing.assert_array_equal(data["x"][0], [[2, 102, 202], [3, 103, 203], [4, 104, 204]])
    np.testing.assert_array_equal(data["future"][1], [[111, 211], [112, 212]])
    np.testing.assert_array_equal(data["y"], [[5, 6], [11, 12]])
    with pytest.raises(ValueError, match="covariates known for 23 points"):
        model_inputs(t, z, zc, np.array([19]), window=3, horizon=4, with_targets=False)


FC = """
name = "fc"
[task]
name = "forecast"
{data}
test_size = 6
window = 4
horizon = 3
[model]
cell = "gru"
hidden_size = 4
output = "quantile"
[train]
steps = 2
batch_size = 4
progress = "off"
"""


def _series_csv(path, n=60, start="2020-01-01", extra=""):
    days = np.datetime64(start) + np.arange(n)
    path.write_text("day,load" + extra.split("|")[0] + "\n" + "".join(
        f"{d},{10 + np.sin(i / 3):.4f}{extra.split('|')[1] if extra else ''}\n"
        for i, d in enumerate(days)))
    return path


def test_former_keys_still_read_and_written_back_under_the_new_names(tmp_path):
    _series_csv(tmp_path / "s.csv")
    (tmp_path / "old.toml").write_text(FC.format(data='csv = "s.csv"\nvalue_column = "load"'))
    cfg = load_config(tmp_path / "old.toml")
    assert cfg.task.data == str(tmp_path / "s.csv") and cfg.task.csv == ""
    assert cfg.task.value_columns == ["load"] and cfg.task.value_column == ""
    (tmp_path / "both.toml").write_text(FC.format(data='csv = "s.csv"\ndata = "s.csv"'))
    with pytest.raises(ConfigError, match="task.csv is the former name of task.data"):
        load_config(tmp_path / "both.toml")
    for bad, match in (('value_columns = "load"', "expected a list of column names"),
                       ("split_seed = 3", "split by time"),
                       ('repair = "sort,fix"', "unknown repair"),
                       ('data = "nowhere.csv"', "no such file")):
        (tmp_path / "bad.toml").write_text(FC.format(data=f'data = "s.csv"\n{bad}'
                                                     if "data =" not in bad else bad))
        with pytest.raises(ConfigError, match=match):
            load_config(tmp_path / "bad.toml")


def test_every_time_series_example_config_loads():
    root = Path(__file__).parent.parent / "examples"
    names = [p for p in sorted(root.glob("*.toml"))
             if re.search(r'name = "(forecast|anomaly)"', p.read_text())]
    assert {"forecast-grid.toml", "anomaly-sensors.toml", "airline.toml"} <= {
        p.name for p in names}
    for path in names:
        cfg = load_config(path)
        assert not cfg.task.csv and not cfg.task.value_column


def test_consecutive_parts_make_one_series_and_set_the_ranges(tmp_path):
    days = np.datetime64("2020-01-01") + np.arange(40)
    rows = [f"{d},{i}.5\n" for i, d in enumerate(days)]
    (tmp_path / "train.csv").write_text("day,v\n" + "".join(rows[:28]))
    (tmp_path / "val.csv").write_text("day,v\n" + "".join(rows[28:34]))
    (tmp_path / "test.csv").write_text("day,v\n" + "".join(rows[34:]))
    (tmp_path / "p.toml").write_text(FC.format(
        data='train_data = "train.csv"\nval_data = "val.csv"\ntest_data = "test.csv"')
        .replace("test_size = 6\n", ""))
    cfg = load_config(tmp_path / "p.toml")
    series, parts = load_source(cfg.task)
    np.testing.assert_array_equal(series.values, np.arange(40) + 0.5)
    assert parts == {"val": 6, "test": 6}
    ctx = TASKS["forecast"].setup(cfg)
    assert (ctx.val_start, ctx.test_start) == (28, 34)
    (tmp_path / "test.csv").write_text("day,v\n" + "".join(rows[35:]))  # a day missing
    with pytest.raises(TaskError, match="test_data.*not one step after"):
        load_source(load_config(tmp_path / "p.toml").task)
    (tmp_path / "test.csv").write_text("day,v\n" + "".join(rows[20:]))  # overlapping
    with pytest.raises(TaskError, match="not after"):
        load_source(load_config(tmp_path / "p.toml").task)


def test_predictor_input_is_read_by_the_run_s_column_names(tmp_path):
    from rnnkit.tasks.forecast import ForecastConfig

    cfg = ForecastConfig()
    cols = {"time": "", "values": ["b", "a"], "covariates": []}
    path = _write(tmp_path, "date,a,b,c\n2020-01-01,1,2,3\n2020-01-02,4,5,6\n")
    np.testing.assert_array_equal(read_input(path, cfg, cols).values, [[2, 1], [5, 4]])
    renamed = _write(tmp_path, "date,x,y,z\n2020-01-01,1,2,3\n", "r.csv")  # by position
    np.testing.assert_array_equal(read_input(renamed, cfg, cols).values, [[1, 2]])
    with pytest.raises(TaskError, match="1 value column.*the run reads 2"):
        read_input(_write(tmp_path, "date,x\n2020-01-01,1\n", "one.csv"), cfg, cols)


def test_repairs_report_the_rows_they_drop_or_fill(tmp_path):
    path = _write(tmp_path, "t,v\n2020-01-01,1\n2020-01-01,9\n2020-01-02,\n2020-01-04,4\n")
    with pytest.warns(UserWarning) as seen:
        s = read_csv(path, repair=["drop-duplicates", "interpolate"])
    np.testing.assert_array_equal(s.values, [1, 2, 3, 4])
    text = [str(w.message) for w in seen]
    assert any("dropped 1 row(s) with a duplicated timestamp (line 3)" in m for m in text)
    assert any("filled 2 missing value(s) by interpolation (line 4, a gap)" in m for m in text)


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


CELLS = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                  st.sampled_from(["", " ", "x", "1e400", "-0", "nan", "2020-01-01"]))
TIMES = st.one_of(st.integers(1, 28).map(lambda d: f"2020-01-{d:02d}"),
                  st.sampled_from(["", "2020-13-01", "noon", "2020-01-01 00:30"]))
ROWS = st.lists(st.tuples(TIMES, CELLS, CELLS).map(",".join), max_size=12).map(
    lambda rows: "\n".join(rows) + "\n")
RAW = st.text(alphabet=st.sampled_from(list("0123456789-,.:eEinfa\n T\"")), max_size=120)


@hypothesis.settings(max_examples=200, deadline=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(text=st.one_of(ROWS, RAW),
                  repair=st.lists(st.sampled_from(["sort", "drop-duplicates", "interpolate",
                                                   "ignore-gaps", "keep-order",
                                                   "invalid-as-missing"]), max_size=3),
                  covariates=st.booleans())
@hypothesis.example(text="2020-01-01,0.0,0.0\n2020-01-02,0.0,0.0\n,0.0,0.0\n",
                    repair=["interpolate"], covariates=False)  # an empty time: NaT
def test_any_file_reads_to_a_series_or_a_data_error(tmp_path, text, repair, covariates):
    """Whatever the rows, the reader returns a series of finite values within the limit,
    or raises a DataError: never another exception."""
    path = _write(tmp_path, "t,v,c\n" + text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = read_csv(path, repair=repair, covariate_columns=["c"] if covariates else ())
    except DataError:
        return
    assert len(s.timestamps) == len(s.values)
    assert (np.abs(s.values) <= MAX_ABS).all()
    if covariates:
        assert len(s.covariates) >= len(s) and (np.abs(s.covariates) <= MAX_ABS).all()


@pytest.mark.parametrize("cell", ["", "NaT"])
def test_a_row_without_a_time_is_a_data_error_naming_its_line(tmp_path, cell):
    path = _write(tmp_path, f"t,v\n2020-01-01,1\n2020-01-02,2\n{cell},3\n")
    for repair in ([], ["interpolate"], ["sort", "ignore-gaps"]):
        with pytest.raises(DataError, match=r"s\.csv:4: (cannot read a time|no time in column)"):
            read_csv(path, repair=repair)


def test_a_user_file_without_test_size_tests_on_its_last_test_fraction(tmp_path):
    _series_csv(tmp_path / "s.csv", n=60)
    (tmp_path / "f.toml").write_text(FC.format(data='data = "s.csv"\ntest_fraction = 0.2')
                                     .replace("test_size = 6\n", ""))
    ctx = TASKS["forecast"].setup(load_config(tmp_path / "f.toml"))
    assert (ctx.val_start, ctx.test_start) == (36, 48)  # 12 test points, as many validating
