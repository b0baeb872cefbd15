"""Forecast task: transforms invert exactly, ranges never leak, sine forecasts, interval
coverage, metrics and baselines, CLI output = the predictor's records, the stream = predict
on the growing history. Real-data checks skip without RNNKIT_DATA."""

import csv
import json
import os

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli.main import main
from rnnkit.data.timeseries import Scaler
from rnnkit.tasks import TASKS, TaskError, evaluate_run
from rnnkit.tasks.timeseries import metrics as fm
from rnnkit.tasks.timeseries.calibration import backtest_factors
from rnnkit.tasks.timeseries.intervals import conformal_factors, predict_bands
from rnnkit.tasks.timeseries.transform import Transform, range_origins, train_origins

HAS_DATA = os.environ.get("RNNKIT_DATA") and os.path.isdir(os.environ["RNNKIT_DATA"])


@pytest.mark.parametrize("kind", ["standard", "minmax", "log", "none"])
@pytest.mark.parametrize("anchor", ["none", "difference", "level"])
def test_transform_inverts_exactly(kind, anchor):
    x = np.random.default_rng(0).uniform(50, 500, size=80)
    t = Transform.fit(x[:60], kind, 12, anchor == "difference", anchor == "level")
    z = t.scaled(x)
    origins = np.arange(t.first_origin(6), 80 - 24)
    _, y = t.windows(z, origins, 6, 24)
    back = t.to_original(y, t.anchors(z, origins, 24))
    np.testing.assert_allclose(back, x[origins[:, None] + np.arange(1, 25)], rtol=1e-10)
    t2 = Transform.from_dict(json.loads(json.dumps(t.to_dict())))
    np.testing.assert_array_equal(t2.scaled(x), z)


def test_level_normalisation_by_hand():
    """``level``: window and targets minus the mean of the last season, computed by hand."""
    x = np.random.default_rng(1).uniform(1, 9, size=40)
    t = Transform(Scaler("none"), season=4, level=True)
    assert t.first_origin(2) == 3 and t.first_origin(6) == 5  # a full season and window
    inputs, targets = t.windows(x, np.array([10, 17]), 6, 3)
    for row, o in enumerate((10, 17)):
        level = (x[o - 3] + x[o - 2] + x[o - 1] + x[o]) / 4
        np.testing.assert_allclose(inputs[row], x[o - 5:o + 1] - level, rtol=1e-12)
        np.testing.assert_allclose(targets[row], x[o + 1:o + 4] - level, rtol=1e-12)
    with pytest.raises(ValueError, match="choose one"):
        Transform(Scaler("none"), season=4, difference=True, level=True)


@pytest.mark.parametrize("anchor", ["difference", "level"])
def test_training_windows_never_read_the_validation_or_test_range(anchor):
    t = Transform(Scaler("none"), season=12, difference=anchor == "difference",
                  level=anchor == "level")
    x = np.arange(144.0)
    origins = train_origins(t.first_origin(36), 96, 24)
    inputs, targets = t.windows(x, origins, 36, 24)
    assert origins.max() + 24 <= 95  # the last target index
    # x[i] = i: every value read (targets + anchors, inputs + levels) lies before 96
    assert (targets + t.anchors(x, origins, 24)).max() < 96
    assert np.nanmax(inputs + t.levels(x, origins)[:, None]) < 96
    assert t.levels(x, origins).max() < 96
    assert range_origins(120, 144, 24, "multistep").tolist() == [119]
    assert range_origins(120, 144, 1, "rolling").tolist() == list(range(119, 143))


def test_metrics_and_baselines():
    y, pred = np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 2.0])
    m = fm.point_metrics(y, pred, train=np.array([0.0, 1.0, 3.0, 6.0]), season=1)
    assert m["rmse"] == pytest.approx(np.sqrt(5 / 3)) and m["mae"] == pytest.approx(1.0)
    assert m["mape"] == pytest.approx(100 * (0 + 0.5 + 0.5) / 3)
    assert m["smape"] == pytest.approx(100 * (0 + 2 / 5 + 4 / 6) / 3)
    assert m["mase"] == pytest.approx(1.0 / 2.0)  # in-sample naive MAE = (1 + 2 + 3) / 3
    assert fm.coverage(y, y - 1, y + 0.5) == 1.0 and fm.coverage(y, y + 1, y + 2) == 0.0
    assert fm.pinball(np.array([1.0]), np.array([0.0]), 0.9) == pytest.approx(0.9)
    h = np.arange(1.0, 25.0)
    np.testing.assert_array_equal(fm.seasonal_naive(h, 14, 12), np.r_[h[12:], h[12:14]])
    np.testing.assert_array_equal(fm.naive(h, 2), [24.0, 24.0])
    np.testing.assert_allclose(fm.drift(h, 2), [25.0, 26.0])


def _train(model, x, y, steps=300, lr=1e-2):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        model.compute_loss({"x": x, "y": y}).loss.backward()
        opt.step()
    return model.eval()


def test_noiseless_sine_forecast_is_near_exact():
    from rnnkit.models import Forecaster

    s = np.sin(2 * np.pi * np.arange(400) / 20)
    t = Transform.fit(s[:300], "standard", 1, False)
    z = t.scaled(s)
    origins = train_origins(19, 300, 5)
    x, y = t.windows(z, origins, 20, 5)
    # a quantile head: with no noise a Gaussian head's NLL drives its std to 0 and training
    # is unstable (max error 0.02-0.22 over seeds); pinball loss stays well posed
    torch.manual_seed(0)
    model = Forecaster(horizon=5, cell="gru", hidden_size=16, output="quantile",
                       quantiles=(0.025, 0.1, 0.5, 0.9, 0.975))
    _train(model, torch.tensor(x, dtype=torch.float32)[..., None],
           torch.tensor(y, dtype=torch.float32), steps=400, lr=3e-3)
    test = np.arange(320, 390)
    bands = predict_bands(model, t.windows(z, test, 20, 5, with_targets=False)[0])
    pred = t.to_original(bands.point, t.anchors(z, test, 5))
    truth = s[test[:, None] + np.arange(1, 6)]
    assert np.abs(pred - truth).max() < 0.05


def test_interval_coverage_is_close_to_nominal_on_a_gaussian_process():
    from rnnkit.models import Forecaster

    rng = np.random.default_rng(0)
    n = 3000
    e = rng.normal(size=n)
    s = np.zeros(n)
    for i in range(1, n):  # AR(1): the one-step predictive is N(0.7 s[t-1], 1)
        s[i] = 0.7 * s[i - 1] + e[i]
    t = Transform.fit(s[:2000], "none", 1, False)
    x, y = t.windows(s, train_origins(7, 2000, 1), 8, 1)
    model = Forecaster(horizon=1, cell="gru", hidden_size=8, output="quantile",
                       quantiles=(0.025, 0.1, 0.5, 0.9, 0.975))
    _train(model, torch.tensor(x, dtype=torch.float32)[..., None],
           torch.tensor(y, dtype=torch.float32), steps=300, lr=2e-2)
    val, test = np.arange(1999, 2499), np.arange(2499, 2999)
    val_bands = predict_bands(model, t.windows(s, val, 8, 1)[0])
    truth = s[test + 1][:, None]
    for factors in (conformal_factors(val_bands, s[val + 1][:, None]),
                    backtest_factors(val_bands, s, val, 2500)):
        bands = predict_bands(model, t.windows(s, test, 8, 1)[0]).widened(factors)
        for c, lo, hi in ((80, 0.74, 0.86), (95, 0.91, 0.985)):
            assert lo <= fm.coverage(truth, bands.lower[c], bands.upper[c]) <= hi


def test_backtest_factors_weigh_lead_times_equally_and_read_nothing_after_the_end():
    from rnnkit.tasks.timeseries.intervals import Bands

    # origins 0..9, horizon 10, scored on points < 11: lead h has 11 - h forecasts. Errors
    # are 3 half-widths at leads 1-2 (19 of 55 points) and 0.5 at leads 3-10.
    x = np.random.default_rng(0).normal(size=30)
    origins, h = np.arange(10), np.arange(1, 11)
    t = np.minimum(origins[:, None] + h[None, :], len(x) - 1)  # (10, 10) targets
    ratio = np.where(h <= 2, 3.0, 0.5)[None, :]
    point = x[t] - ratio  # errors above the point, half-width 1
    bands = Bands(point, {c: point - 1 for c in (80, 95)}, {c: point + 1 for c in (80, 95)})
    f = backtest_factors(bands, x, origins, end=11)
    # leads weigh equally: 80% of the weight at 0.5 -> the 80% factor is 0.5 (unweighted,
    # 19/55 = 35% of the ratios are 3 and it would be 3); the 95% factor is 3
    assert f == pytest.approx({80: 0.5, 95: 3.0})
    x2 = x.copy()
    x2[11:] = 1e9  # points at or after the end are never read
    assert backtest_factors(bands, x2, origins, end=11) == f


TINY = """
name = "tiny-fc"
[task]
name = "forecast"
csv = "series.csv"
test_size = 24
window = 12
horizon = 24
season = 12
scaler = "log"
difference = true
[model]
cell = "gru"
hidden_size = 8
output = "quantile"
[train]
steps = 150
batch_size = 8
eval_every = 10
progress = "off"
"""


@pytest.fixture
def fc_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    months = np.arange("2000-01", "2012-01", dtype="datetime64[M]")
    values = 100 + 10 * np.sin(2 * np.pi * np.arange(len(months)) / 12) + np.arange(len(months))
    (tmp_path / "series.csv").write_text(
        "month,passengers\n" + "".join(f"{m},{v:.3f}\n" for m, v in zip(months, values)))
    (tmp_path / "tiny.toml").write_text(TINY)
    assert main(["train", "tiny.toml"]) == 0
    return tmp_path / "runs" / "tiny-fc"


def test_evaluate_json_has_the_metrics_and_baselines(fc_run, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(fc_run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    keys = {"rmse", "mae", "mape", "smape", "mase", "coverage_80", "coverage_95"}
    assert keys <= set(out)
    assert set(out["baselines"]) == {"seasonal_naive", "persistence"}
    assert keys <= set(out["baselines"]["seasonal_naive"])
    info = json.loads((fc_run / "checkpoints" / "best" / "model.json").read_text())
    assert info["transform"]["scaler"]["kind"] == "log" and info["transform"]["season"] == 12


def test_forecast_cli_writes_the_documented_csv_and_plot(fc_run, tmp_path, capsys):
    out, plot = tmp_path / "f.csv", tmp_path / "f.png"
    for horizon in (24, 30):  # direct, then sample paths past the model's horizon
        assert main(["forecast", str(fc_run), "--horizon", str(horizon), "--output", str(out),
                     "--plot", str(plot)]) == 0
        rows = list(csv.DictReader(out.open()))
        assert list(rows[0]) == ["timestamp", "forecast", "lower_80", "upper_80", "lower_95",
                                 "upper_95"]
        assert len(rows) == horizon and rows[0]["timestamp"] == "2010-01"
        r = {k: float(v) for k, v in rows[-1].items() if k != "timestamp"}
        assert r["lower_95"] <= r["lower_80"] <= r["forecast"] <= r["upper_80"] <= r["upper_95"]
    assert plot.stat().st_size > 0
    assert main(["forecast", str(fc_run), "--horizon", "3", "--input", "series.csv",
                 "--report"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("2012-01,")
    assert "rnnkit against the baselines" in (fc_run / "report.md").read_text()


def test_forecast_cli_horizon_defaults_to_the_models(fc_run, tmp_path):
    """``rnnkit forecast RUN --input CSV --output f.csv`` (docs/how-to/forecasting.md) needs
    no ``--horizon``: it forecasts the model's horizon, as ``predict`` does."""
    out = tmp_path / "f.csv"
    assert main(["forecast", str(fc_run), "--input", "series.csv", "--output", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 24 and rows[0]["timestamp"] == "2012-01"  # TINY's horizon = 24
    assert main(["forecast", str(fc_run), "--horizon", "0"]) == 1


def test_level_model_sample_paths_start_where_its_direct_forecast_does(fc_run, capsys):
    """Past its horizon a model forecasts by sample paths, one step at a time; their first
    step must agree with the direct forecast, so the window and anchor are normalised by
    the same level both ways (``task.level``)."""
    (fc_run.parent.parent / "level.toml").write_text(  # uncalibrated: the sample paths'
        TINY.replace("difference = true", "level = true\ncalibrate = false")  # median is
        .replace("tiny-fc", "tiny-level"))  # compared with the direct point forecast
    assert main(["train", "level.toml"]) == 0
    run = fc_run.parent / "tiny-level"
    info = json.loads((run / "checkpoints" / "best" / "model.json").read_text())
    assert info["transform"]["level"] is True and info["transform"]["difference"] is False
    first = {}
    for horizon in (24, 30):  # 20,000 paths: their median is within ~0.1% of the point
        capsys.readouterr()
        assert main(["forecast", str(run), "--horizon", str(horizon), "--samples",
                     "20000"]) == 0
        first[horizon] = float(capsys.readouterr().out.splitlines()[1].split(",")[1])
    assert first[30] == pytest.approx(first[24], rel=0.005)  # unnormalised window: 1.3% off


def test_forecast_into_a_closed_pipe_exits_quietly(fc_run, monkeypatch):
    """``rnnkit forecast RUN | head -2``: the reader leaves early; exit 0, no traceback."""
    read, write = os.pipe()
    os.close(read)  # the reader has gone: every write raises BrokenPipeError
    out = open(write, "w", buffering=1)
    monkeypatch.setattr("sys.stdout", out)
    assert main(["forecast", str(fc_run), "--horizon", "24"]) == 0
    monkeypatch.undo()
    out.close()  # stdout now points at /dev/null: flushing the rest does not fail


def test_difference_and_level_together_is_a_clear_error(fc_run, capsys):
    assert main(["train", "tiny.toml", "--set", "task.level=true", "--overwrite"]) == 1
    assert "set one of them" in capsys.readouterr().err


def test_forecast_cli_bad_input_names_the_row(fc_run, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("month,passengers\n2000-01,1\n2000-02,x\n")
    assert main(["forecast", str(fc_run), "--horizon", "2", "--input", str(bad)]) == 1
    assert "bad.csv:3: value 'x'" in capsys.readouterr().err


@pytest.mark.parametrize("members", [1, 3])
def test_one_step_forecasts_equal_predict_on_windows_and_carry_the_state(members):
    """``one_step`` after step t = ``predict`` on the window ending at t (same start), and
    a sequence fed in two pieces with the carried state = one pass."""
    from rnnkit.models import ForecastEnsemble, Forecaster

    torch.manual_seed(0)
    config = dict(horizon=3, input_size=2, cell="gru", hidden_size=8, output="quantile",
                  quantiles=(0.025, 0.1, 0.5, 0.9, 0.975))
    model = (Forecaster(**config) if members == 1
             else ForecastEnsemble(members=members, seed=0, **config)).eval()
    x = torch.randn(4, 10, 2)
    f, _ = model.one_step(x)
    assert f.point.shape == (4, 10, 3, 1) and f.quantiles.shape == (4, 10, 3, 1, 5)
    for t in (0, 4, 9):
        p = model.predict(x[:, :t + 1])
        torch.testing.assert_close(f.point[:, t, :, 0], p.point, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(f.quantiles[:, t, :, 0], p.quantiles, rtol=1e-5,
                                   atol=1e-6)
    a, state = model.one_step(x[:, :6])
    b, _ = model.one_step(x[:, 6:], state)
    torch.testing.assert_close(torch.cat([a.point, b.point], 1), f.point, rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(ValueError, match="direct"):
        Forecaster(**{**config, "mode": "autoregressive"}).one_step(x)


@pytest.mark.parametrize("cell,output,covariates", [("gru", "gaussian", 0),
                                                     ("lstm", "quantile", 2)])
def test_step_point_by_point_equals_one_step_over_the_whole_sequence(cell, output,
                                                                     covariates):
    """``Forecaster.step`` (the encoder's step mode) fed point by point, its state carried,
    gives the raw outputs of ``forward`` on every prefix, and ``one_step`` at T = 1 (which
    goes the same way) the forecasts of one pass."""
    from rnnkit.models import Forecaster

    torch.manual_seed(0)
    model = Forecaster(horizon=2, input_size=3 + covariates, cell=cell, hidden_size=8,
                       num_layers=2, output=output, covariates=covariates,
                       quantiles=(0.1, 0.5, 0.9)).eval()
    x = torch.randn(2, 7, 3 + covariates)
    future = torch.randn(2, 7, 2, covariates) if covariates else None
    whole, _ = model.one_step(x, future=future)
    state, pieces = None, None
    for t in range(7):
        ahead = None if future is None else future[:, t]
        params, state = model.step(x[:, t], state, ahead)
        with torch.no_grad():  # forward on the prefix: an independent path (re-reads it)
            ref = model(x[:, :t + 1], future=ahead)
        torch.testing.assert_close(params, ref, rtol=1e-5, atol=1e-6)
        f, pieces = model.one_step(x[:, t:t + 1], pieces,
                                   None if future is None else future[:, t:t + 1])
        torch.testing.assert_close(f.point[:, 0], whole.point[:, t], rtol=1e-5, atol=1e-6)


def _cli_rows(capsys, args):
    capsys.readouterr()
    assert main(args) == 0
    return list(csv.DictReader(capsys.readouterr().out.splitlines()))


def _same_as_cli(record, rows):
    """The record's columns equal the CLI's CSV to the 6 significant digits it prints."""
    cols = record["columns"]
    assert list(rows[0]) == list(cols) and len(rows) == len(cols["timestamp"])
    for i, row in enumerate(rows):
        assert row["timestamp"] == cols["timestamp"][i]
        for k in list(cols)[1:]:
            assert float(row[k]) == float(f"{cols[k][i]:.6g}"), (i, k)


def test_predictor_records_are_what_the_forecast_cli_prints(fc_run, capsys):
    p = rnnkit.load(fc_run)
    assert p.task == "forecast" and "stream" in p.capabilities
    for horizon in (24, 30):  # direct, then sample paths
        record = p.predict(p.default_inputs(), horizon=horizon, samples=300)[0]
        assert record["method"] == ("direct" if horizon == 24 else "sample paths")
        assert len(record["truth"]) == 24  # the test range: known, shown by the plot
        _same_as_cli(record, _cli_rows(capsys, ["forecast", str(fc_run), "--horizon",
                                                str(horizon), "--samples", "300"]))
        record = p.predict(p.read_file("series.csv"), horizon=horizon, samples=300)[0]
        assert "truth" not in record and record["columns"]["timestamp"][0] == "2012-01"
        _same_as_cli(record, _cli_rows(capsys, ["forecast", str(fc_run), "--horizon",
                                                str(horizon), "--samples", "300", "--input",
                                                "series.csv"]))
    json.dumps(record)  # plain JSON


def test_stream_pushed_point_by_point_equals_predict_on_the_growing_history(fc_run):
    from rnnkit.data.timeseries import Series

    p = rnnkit.load(fc_run)
    (series,) = p.read_file("series.csv")
    s = p.stream()
    for n, (t, v) in enumerate(zip(series.timestamps, series.values), start=1):
        out = s.push((t, v))
        if n < p.min_points:  # 24: a season of differences + the window
            assert out["columns"] is None and out["needs"] == p.min_points - n
            continue
        history = Series(series.timestamps[:n], series.values[:n])
        assert out == p.predict([history])[0], n
    # values alone, past the model's horizon (sample paths, seeded per forecast)
    s = p.stream(horizon=30, samples=200)
    for n, v in enumerate(series.values[:28], start=1):
        out = s.push(v)
        if n >= p.min_points:
            assert out == p.predict([series.values[:n]], horizon=30, samples=200)[0]
    assert out["columns"]["timestamp"][0] == "28"  # positions continue the history
    s.reset()
    assert s.push(1.0)["needs"] == p.min_points - 1
    with pytest.raises(rnnkit.tasks.TaskError, match="list of histories"):
        p.predict(series.values)


@pytest.mark.skipif(not HAS_DATA, reason="needs the real series: set RNNKIT_DATA")
def test_real_series_ranges_match_the_readme():
    from rnnkit.tasks import TASKS
    from rnnkit.tasks.forecast import ForecastConfig
    from rnnkit.training.config import RunConfig

    def context(task):
        return TASKS["forecast"].setup(RunConfig(task=task))

    air = context(ForecastConfig(series="airline-passengers", window=36, horizon=24,
                                 season=12, difference=True, scaler="log"))
    assert (air.val_start, air.test_start, air.protocol) == (96, 120, "multistep")
    assert str(air.series.timestamps[air.test_start]) == "1959-01"
    temps = context(ForecastConfig(series="daily-min-temperatures", window=30, horizon=1))
    assert len(temps.series) - temps.test_start == 365 and temps.protocol == "rolling"
    sun = context(ForecastConfig(series="monthly-sunspots", window=30, horizon=1))
    assert len(sun.series) - sun.test_start == 282


# -- hardening (issue 19): intervals, data, paths, short files, option values ----------------
NEAR_TEN = """
name = "untrained"
[task]
name = "forecast"
data = "near10.csv"
test_size = 12
val_size = 24
window = 12
horizon = 6
[model]
cell = "gru"
hidden_size = 8
output = "quantile"
[train]
steps = 3
batch_size = 8
lr = 1e-4
eval_every = 3
progress = "off"
"""


def _near_ten(path, n=160, seed=1):
    rng = np.random.default_rng(seed)
    days = np.datetime64("2020-01-01") + np.arange(n)
    v = 10 + 0.3 * np.sin(np.arange(n) / 5) + rng.normal(0, 0.1, n)
    path.write_text("day,v\n" + "".join(f"{d},{x:.4f}\n" for d, x in zip(days, v)))


def test_an_untrained_model_s_crossed_quantiles_give_sane_intervals(tmp_path, monkeypatch,
                                                                    capsys):
    """Crossed quantiles (an under-trained head) on a series near 10: every interval holds
    its forecast, the 95% one the 80% one, and the bounds stay near the data (they were
    +-1e11: the median was kept unsorted and the calibration divided by negative
    half-widths)."""
    monkeypatch.chdir(tmp_path)
    _near_ten(tmp_path / "near10.csv")
    (tmp_path / "u.toml").write_text(NEAR_TEN)
    assert main(["train", "u.toml"]) == 0
    p = rnnkit.load(tmp_path / "runs" / "untrained")
    x = TASKS["forecast"].make_splits(p.context)["val"]["x"]
    raw = p.model(x)  # (B, H, 1, 5): the head's quantiles as it emits them
    assert (raw.diff(dim=-1) < 0).any()  # crossed: the case to guard against
    for factor in p.factors.values():
        assert 0 <= factor <= 100
    for horizon in (6, 9):  # direct, then sample paths
        rows = _cli_rows(capsys, ["forecast", str(p.run_dir), "--horizon", str(horizon),
                                  "--samples", "300"])
        for r in rows:
            lo95, lo80, f, hi80, hi95 = (float(r[k]) for k in (
                "lower_95", "lower_80", "forecast", "upper_80", "upper_95"))
            assert lo95 <= lo80 <= f <= hi80 <= hi95
            assert 10 - 50 < lo95 and hi95 < 10 + 50  # the data: 9.5 .. 10.5
    figures = evaluate_run(p.run_dir)
    assert np.isfinite([figures[k] for k in ("rmse", "coverage_80", "coverage_95")]).all()


def test_bands_are_sorted_and_the_point_is_their_median():
    from rnnkit.tasks.timeseries.intervals import MAX_FACTOR, bands_from, conformal_factors

    q = np.array([[[3.0, 1.0, 5.0, 2.0, 4.0]]])  # (1, 1, 5): crossed, raw median 5
    b = bands_from(np.array([[5.0]]), q, (0.025, 0.1, 0.5, 0.9, 0.975))
    assert (b.point[0, 0], b.lower[80][0, 0], b.upper[80][0, 0]) == (3.0, 2.0, 4.0)
    assert (b.lower[95][0, 0], b.upper[95][0, 0]) == (1.0, 5.0)
    flat = bands_from(np.zeros((2, 1)), np.zeros((2, 1, 5)), (0.025, 0.1, 0.5, 0.9, 0.975))
    with pytest.warns(UserWarning, match="cut to 100"):  # zero half-widths: unbounded before
        f = conformal_factors(flat, np.array([[1.0], [2.0]]))
    assert f == {80: MAX_FACTOR, 95: MAX_FACTOR}


SHORT = TINY.replace('csv = "series.csv"', 'csv = "{csv}"').replace("steps = 150", "steps = 2")


@pytest.mark.parametrize("rows", [0, 40])
def test_a_header_only_or_too_short_file_says_how_many_points_are_needed(
        tmp_path, monkeypatch, capsys, rows):
    monkeypatch.chdir(tmp_path)
    months = np.arange("2000-01", "2012-01", dtype="datetime64[M]")
    (tmp_path / "short.csv").write_text("month,passengers\n" + "".join(
        f"{m},{100 + i}\n" for i, m in enumerate(months[:rows])))
    (tmp_path / "short.toml").write_text(SHORT.format(csv="short.csv"))
    assert main(["train", "short.toml"]) == 1
    err = capsys.readouterr().err
    # window 12 after a season of differences (12) and horizon 24: 24 + 24 to train on,
    # then validation and test ranges of 24 each
    assert f"short.csv: {rows} points; window 12 and horizon 24 need at least 96" in err
    assert "Traceback" not in err


def test_forecast_from_a_header_only_or_short_history_says_the_minimum(fc_run, tmp_path,
                                                                        capsys):
    for rows in (0, 10):
        short = tmp_path / f"h{rows}.csv"
        short.write_text("month,passengers\n" + "".join(
            f"{2000 + i // 12}-{i % 12 + 1:02d},{100 + i}\n" for i in range(rows)))
        assert main(["forecast", str(fc_run), "--horizon", "3", "--input", str(short)]) == 1
        err = capsys.readouterr().err
        assert f"h{rows}.csv): {rows} points; the model forecasts from at least 24" in err
        assert "Traceback" not in err


def test_samples_and_horizon_must_be_whole_numbers_at_least_one(fc_run):
    p = rnnkit.load(fc_run)
    inputs = p.default_inputs()
    for bad in ({"samples": 0}, {"samples": 2.5}, {"samples": True}, {"horizon": 0},
                {"horizon": 30, "samples": -3}):
        with pytest.raises(rnnkit.tasks.TaskError, match="whole number >= 1"):
            p.predict(inputs, **bad)
    with pytest.raises(rnnkit.tasks.TaskError, match="samples = 0"):
        p.stream(horizon=30, samples=0)


@pytest.mark.parametrize("bad", ["inf", "1e300", "-inf"])
def test_non_finite_or_huge_values_are_refused_with_their_row(fc_run, tmp_path, capsys, bad):
    rows = ["month,passengers"] + [f"{2000 + i // 12}-{i % 12 + 1:02d},{100 + i}"
                                   for i in range(40)]
    rows[31] = rows[31].rsplit(",", 1)[0] + f",{bad}"
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(rows) + "\n")
    assert main(["forecast", str(fc_run), "--horizon", "3", "--input", str(path)]) == 1
    err = capsys.readouterr().err
    assert "bad.csv:32: value" in err and "column 'passengers'" in err
    (tmp_path / "bad.toml").write_text(SHORT.format(csv="bad.csv").replace("tiny-fc", "bad"))
    assert main(["train", str(tmp_path / "bad.toml")]) == 1
    assert "bad.csv:32: value" in capsys.readouterr().err
    p = rnnkit.load(fc_run)
    values = p.read_file("series.csv")[0].values.copy()
    values[5] = float(bad)
    with pytest.raises(rnnkit.tasks.TaskError, match="NaN, infinite or beyond"):
        p.predict([values])


def test_a_relative_data_path_follows_the_config_file_not_the_current_folder(
        tmp_path, monkeypatch, capsys):
    """``task.csv = "series.csv"`` in configs/tiny.toml is configs/series.csv from any
    folder: training and ``rnnkit evaluate`` from elsewhere read the same file (a file of
    the same name in the current folder is not read), and data.json holds its sha256."""
    import hashlib

    (tmp_path / "configs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    months = np.arange("2000-01", "2012-01", dtype="datetime64[M]")
    values = 100 + 10 * np.sin(2 * np.pi * np.arange(len(months)) / 12) + np.arange(len(months))
    real = tmp_path / "configs" / "series.csv"
    real.write_text("month,passengers\n" + "".join(
        f"{m},{v:.3f}\n" for m, v in zip(months, values)))
    (tmp_path / "elsewhere" / "series.csv").write_text("month,passengers\n" + "".join(
        f"{m},{5 * v:.3f}\n" for m, v in zip(months, values)))  # a decoy of the same name
    (tmp_path / "configs" / "tiny.toml").write_text(TINY.replace("steps = 150", "steps = 20"))
    monkeypatch.chdir(tmp_path / "elsewhere")
    run = tmp_path / "run"
    assert main(["train", "../configs/tiny.toml", "--run-dir", str(run)]) == 0
    saved = (run / "config.toml").read_text()
    assert f'data = "{real}"' in saved
    files = json.loads((run / "data.json").read_text())["files"]
    assert [{k: f[k] for k in ("key", "path", "sha256")} for f in files] == [
        {"key": "task.data", "path": str(real),
         "sha256": hashlib.sha256(real.read_bytes()).hexdigest()}]
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    here = json.loads(capsys.readouterr().out)
    monkeypatch.chdir(tmp_path / "configs")
    assert main(["evaluate", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == here  # the same file from either folder
    (p,) = rnnkit.load(run).default_inputs()
    assert p.values[0] == pytest.approx(values[0], abs=1e-3)  # not the decoy's 5x


@pytest.mark.parametrize("rows, refit, code", [(72, True, 0), (71, True, 1), (72, False, 1)])
def test_refit_needs_one_horizon_less_history(tmp_path, monkeypatch, capsys, rows, refit,
                                              code):
    """A refit model trains on the validation range, so its training windows may end in it:
    window 12 after a season of differences (24 points) and horizon 24 need 24 + 24 before
    the test range and 24 to test (72), not a separate validation range on top (96)."""
    monkeypatch.chdir(tmp_path)
    months = np.arange("2000-01", "2012-01", dtype="datetime64[M]")
    values = 100 + 10 * np.sin(2 * np.pi * np.arange(rows) / 12) + np.arange(rows)
    (tmp_path / "short.csv").write_text("month,passengers\n" + "".join(
        f"{m},{v:.3f}\n" for m, v in zip(months[:rows], values)))
    toml = (SHORT.format(csv="short.csv").replace("eval_every = 10", "eval_every = 2")
            .replace("batch_size = 8", "batch_size = 1"))  # refit at 72: one window
    if refit:
        toml = toml.replace('difference = true', 'difference = true\nrefit = true\n'
                            'calibrate = false')
    (tmp_path / "short.toml").write_text(toml)
    assert main(["train", "short.toml"]) == code
    err = capsys.readouterr().err
    if code:
        assert f"{rows} points; window 12 and horizon 24 need at least {72 if refit else 96}" \
            in err
    else:
        assert (tmp_path / "runs" / "tiny-fc").is_dir(), err


@pytest.mark.parametrize("bad, message", [
    ("x", "push: 'x' is not a number"),
    (None, "push: None is not a number"),
    (float("nan"), "push: nan: a value is NaN, infinite or beyond +-1e+15"),
    (np.ones(2), "push: array([1., 1.]): the run reads 1 value(s) a step, got 2"),
    ((1.0,), "push: (1.0,): give (timestamp, value) or the value alone"),
    (("2000-13-45", 1.0), "push: '2000-13-45' is not a time (ISO 8601"),
    (("2000-01", "y"), "push: 'y' is not a number"),
])
def test_a_bad_push_is_a_task_error_and_leaves_the_stream_as_it_was(fc_run, bad, message):
    p = rnnkit.load(fc_run)
    timed = isinstance(bad, tuple)  # (a stream takes times with every value, or never)
    s = p.stream()
    assert s.push(("2000-01", 100.0) if timed else 100.0)["needs"] == p.min_points - 1
    with pytest.raises(TaskError) as err:
        s.push(bad)
    assert str(err.value).startswith(message)
    after = s.push(("2000-02", 101.0) if timed else 101.0)
    assert after["needs"] == p.min_points - 2  # nothing half-appended


def test_a_history_of_two_columns_is_refused_by_a_one_column_run(fc_run):
    p = rnnkit.load(fc_run)
    values = 100 + np.arange(60.0)
    with pytest.raises(TaskError, match=r"values of shape \(30, 2\); the run reads one value "
                                        "column"):
        p.predict([values.reshape(30, 2)])
    # one column given as (N, 1) is that column
    assert p.predict([values[:, None]]) == p.predict([values])
