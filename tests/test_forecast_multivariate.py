"""Forecasting several value columns at once with covariates known in advance: the model
reads the covariates over the window and the horizon, the records name each column, and
``rnnkit.load(run).predict`` equals what ``rnnkit forecast`` prints; the stream equals
predict on the growing history."""

import csv
import json

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli.main import main
from rnnkit.data.timeseries import Series
from rnnkit.models import ForecastEnsemble, Forecaster
from rnnkit.tasks import TASKS, TaskError

MV = """
name = "mv"
[task]
name = "forecast"
data = "data/mv.csv"
value_columns = ["a", "b"]
covariate_columns = ["temp", "off"]
test_size = 6
window = 8
horizon = 6
season = 7
[model]
cell = "gru"
hidden_size = 8
output = "quantile"
[train]
steps = 40
batch_size = 8
eval_every = 20
lr = 1e-2
progress = "off"
"""
COLUMNS = ["timestamp"] + [f"{k}_{c}" for c in ("a", "b") for k in (
    "forecast", "lower_80", "upper_80", "lower_95", "upper_95")]


def _mv_csv(n=120, ahead=12, seed=0):
    rng = np.random.default_rng(seed)
    days = np.datetime64("2021-03-01") + np.arange(n + ahead)
    temp = 15 + 5 * np.sin(np.arange(n + ahead) / 9) + rng.normal(0, 1, n + ahead)
    off = (np.arange(n + ahead) % 7 >= 5).astype(int)
    a = 100 + 2 * temp - 15 * off + rng.normal(0, 1, n + ahead)
    b = 40 - temp + 5 * off + rng.normal(0, 0.5, n + ahead)
    rows = [f"{days[i]},{a[i]:.3f},{b[i]:.3f}" if i < n else f"{days[i]},,"
            for i in range(n + ahead)]
    return "day,a,b,temp,off\n" + "".join(f"{r},{temp[i]:.2f},{off[i]}\n"
                                          for i, r in enumerate(rows))


@pytest.fixture(scope="module")
def mv_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("mv")
    (root / "data").mkdir()
    (root / "data" / "mv.csv").write_text(_mv_csv())
    (root / "mv.toml").write_text(MV)
    assert main(["train", str(root / "mv.toml"), "--run-dir", str(root / "runs" / "mv")]) == 0
    return root / "runs" / "mv"


def _cli_rows(capsys, args):
    capsys.readouterr()
    assert main(args) == 0
    return list(csv.DictReader(capsys.readouterr().out.splitlines()))


def _same_as_cli(record, rows):
    cols = record["columns"]
    assert list(rows[0]) == list(cols) == COLUMNS and len(rows) == len(cols["timestamp"])
    for i, row in enumerate(rows):
        assert row["timestamp"] == cols["timestamp"][i]
        for k in COLUMNS[1:]:
            assert float(row[k]) == float(f"{cols[k][i]:.6g}"), (i, k)


def test_run_reads_both_columns_and_the_covariates(mv_run):
    info = json.loads((mv_run / "checkpoints/best/model.json").read_text())
    assert info["columns"] == {"time": "", "values": ["a", "b"], "covariates": ["temp", "off"]}
    assert info["model_config"]["input_size"] == 4 and info["model_config"]["output_size"] == 2
    assert info["model_config"]["covariates"] == 2
    assert len(info["transform"]["scaler"]["a"]) == 2  # one scale per value column
    p = rnnkit.load(mv_run)
    data = TASKS["forecast"].make_splits(p.context)
    assert data["train"]["x"].shape[1:] == (8, 4) and data["train"]["y"].shape[1:] == (6, 2)
    assert data["train"]["future"].shape[1:] == (6, 2)  # the horizon's covariates
    # the covariates are the last 2 inputs, scaled; the future is the next 6 points' values
    zc = p.context.zc
    np.testing.assert_allclose(data["train"]["x"][0, :, 2:].numpy(), zc[:8], rtol=1e-6)
    np.testing.assert_allclose(data["train"]["future"][0].numpy(), zc[8:14], rtol=1e-6)
    assert p.context.series.ahead == 12  # the rows with the values blank


def test_evaluate_scores_each_column_and_their_mean(mv_run, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(mv_run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["columns"]) == {"a", "b"}
    for key in ("rmse", "mase", "coverage_95"):
        assert out[key] == pytest.approx((out["columns"]["a"][key] + out["columns"]["b"][key])
                                         / 2)
    assert set(out["baselines"]) == {"seasonal_naive", "persistence"}
    assert "rnnkit: a" in (mv_run / "report.md").read_text()


def test_predictor_records_are_what_the_forecast_cli_prints(mv_run, capsys):
    p = rnnkit.load(mv_run)
    csv_path = str(mv_run.parent.parent / "data" / "mv.csv")
    record = p.predict(p.default_inputs(), horizon=6)[0]
    assert record["targets"] == ["a", "b"] and set(record["truth"]) == {"a", "b"}
    _same_as_cli(record, _cli_rows(capsys, ["forecast", str(mv_run), "--horizon", "6"]))
    for horizon in (6, 7):  # direct, then sample paths (the 12 known covariate rows suffice)
        (history,) = p.read_file(csv_path)
        record = p.predict([history], horizon=horizon, samples=200)[0]
        assert record["columns"]["timestamp"][0] == "2021-06-29"  # after the last value
        rows = _cli_rows(capsys, ["forecast", str(mv_run), "--horizon", str(horizon),
                                  "--samples", "200", "--input", csv_path])
        _same_as_cli(record, rows)
        cols = record["columns"]
        for c in ("a", "b"):
            lo95, lo80, f, hi80, hi95 = (np.array(cols[f"{k}_{c}"]) for k in (
                "lower_95", "lower_80", "forecast", "upper_80", "upper_95"))
            assert (lo95 <= lo80).all() and (lo80 <= f).all() and (f <= hi80).all()
            assert (hi80 <= hi95).all()
    json.dumps(record)
    p.plot(record, mv_run / "mv.png")
    with pytest.raises(TaskError, match="covariates known for 12 points.*needs 17"):
        p.predict([history], horizon=12)  # sample paths read 12 + 6 - 1 covariate points


def test_the_covariates_change_the_forecast(mv_run):
    """The model reads the horizon's covariates: other future temperatures, another
    forecast (and the same ones, the same forecast)."""
    p = rnnkit.load(mv_run)
    (h,) = p.default_inputs()
    base = p.predict([h])[0]["columns"]["forecast_a"]
    assert p.predict([h])[0]["columns"]["forecast_a"] == base
    cov = h.covariates.copy()
    cov[len(h):, 0] += 10  # warmer days ahead
    warm = Series(h.timestamps, h.values, covariates=cov)
    assert p.predict([warm])[0]["columns"]["forecast_a"] != base


def test_stream_with_covariates_equals_predict_on_the_growing_history(mv_run):
    p = rnnkit.load(mv_run)
    (series,) = p.read_file(str(mv_run.parent.parent / "data" / "mv.csv"))
    with pytest.raises(TaskError, match="stream\\(covariates"):
        p.stream()
    s = p.stream(covariates=series.covariates)
    for n in range(1, 30):
        out = s.push((series.timestamps[n - 1], series.values[n - 1]))
        if n < p.min_points:
            assert out["columns"] is None
            continue
        history = Series(series.timestamps[:n], series.values[:n],
                         covariates=series.covariates)
        assert out == p.predict([history])[0], n


def test_values_alone_need_the_run_s_columns(mv_run):
    p = rnnkit.load(mv_run)
    with pytest.raises(TaskError, match="covariate"):
        p.predict([np.zeros((40, 2))])  # no covariates
    with pytest.raises(TaskError, match="1 value column.*the run reads 2"):
        p.predict([np.zeros(40)])


@pytest.mark.parametrize("mode", ["direct", "autoregressive"])
def test_forecaster_reads_the_horizon_s_covariates(mode):
    torch.manual_seed(0)
    model = Forecaster(horizon=3, input_size=4, output_size=2, covariates=2, cell="gru",
                       hidden_size=6, mode=mode, output="quantile",
                       quantiles=(0.1, 0.5, 0.9)).eval()
    x, future = torch.randn(5, 7, 4), torch.randn(5, 3, 2)
    f = model.predict(x, future=future)
    assert f.quantiles.shape == (5, 3, 2, 3)
    other = future.clone()
    other[:, 2] += 1  # only the last step's covariates
    g = model.predict(x, future=other)
    assert not torch.allclose(f.point, g.point)
    if mode == "autoregressive":  # step h reads only the covariates up to h
        torch.testing.assert_close(f.point[:, :2], g.point[:, :2])
    with pytest.raises(ValueError, match="give future of shape"):
        model.predict(x)
    loss = model.train().compute_loss({"x": x, "y": torch.randn(5, 3, 2), "future": future})
    assert loss.loss.isfinite()
    if mode == "direct":  # one_step: the forecast after each step, each with its horizon
        steps = torch.randn(5, 7, 3, 2)
        out, _ = model.eval().one_step(x, future=steps)
        p = model.predict(x[:, :4], future=steps[:, 3])
        torch.testing.assert_close(out.point[:, 3], p.point, rtol=1e-5, atol=1e-6)
        ens = ForecastEnsemble(members=2, seed=0, horizon=3, input_size=4, output_size=2,
                               covariates=2, hidden_size=6)
        assert ens.predict(x, future=future).point.shape == (5, 3, 2)


def test_the_example_data_is_what_its_script_writes():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).parent.parent / "examples" / "data"
    spec = importlib.util.spec_from_file_location("make_timeseries", root / "make_timeseries.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    assert (root / "grid-load.csv").read_text() == make.grid_load()
    assert (root / "plant-sensors.csv").read_text() == make.plant_sensors()


def test_the_multivariate_example_trains_end_to_end(tmp_path, capsys):
    from pathlib import Path

    config = Path(__file__).parent.parent / "examples" / "forecast-grid.toml"
    run = tmp_path / "grid"
    assert main(["train", str(config), "--run-dir", str(run), "--set", "train.steps=10",
                 "--set", "train.eval_every=10"]) == 0
    assert "rnnkit: north" in (run / "report.md").read_text()
    rows = _cli_rows(capsys, ["forecast", str(run), "--horizon", "14", "--input",
                              str(config.parent / "data" / "grid-load.csv")])
    assert len(rows) == 14 and rows[0]["timestamp"] == "2024-01-02"  # after 2024-01-01
