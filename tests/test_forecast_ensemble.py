"""Forecast seed ensembles: one member is the single model, the forecast is the members'
mean, and a run with ``task.ensemble = N`` saves, loads, evaluates and forecasts."""

import json

import numpy as np
import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.models import ForecastEnsemble, Forecaster
from rnnkit.tasks.timeseries.intervals import predict_bands
from rnnkit.training.checkpoint import build_model, load_checkpoint, save_checkpoint

CONFIG = dict(horizon=6, cell="gru", hidden_size=8, output="quantile",
              quantiles=(0.025, 0.1, 0.5, 0.9, 0.975))


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(32, 10, 1, generator=g), torch.randn(32, 6, generator=g)


def _train(model, steps=30):
    x, y = _data()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for i in range(steps):
        opt.zero_grad()
        model.compute_loss({"x": x[i % 4 * 8:][:8], "y": y[i % 4 * 8:][:8]}).loss.backward()
        opt.step()
    return model.eval()


def test_member_i_starts_as_the_single_model_of_seed_plus_i():
    ens = ForecastEnsemble(members=3, seed=5, **CONFIG)
    for i, member in enumerate(ens.members):
        torch.manual_seed(5 + i)
        single = Forecaster(**CONFIG)
        for a, b in zip(member.parameters(), single.parameters()):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_ensemble_of_one_trains_and_forecasts_as_the_single_model():
    ens = _train(ForecastEnsemble(members=1, seed=2, **CONFIG))
    torch.manual_seed(2)
    single = _train(Forecaster(**CONFIG))
    x, _ = _data(1)
    a, b = ens.predict(x), single.predict(x)
    torch.testing.assert_close(a.point, b.point)
    torch.testing.assert_close(a.quantiles, b.quantiles)


@pytest.mark.parametrize("output", ["quantile", "gaussian"])
def test_ensemble_forecast_is_the_mean_of_the_members_forecasts(output):
    ens = _train(ForecastEnsemble(members=3, seed=0, **{**CONFIG, "output": output}))
    x, _ = _data(1)
    parts = [m.predict(x) for m in ens.members]
    f = ens.predict(x)
    assert not torch.allclose(parts[0].point, parts[1].point)  # the members differ
    torch.testing.assert_close(f.point, torch.stack([p.point for p in parts]).mean(0))
    name = "quantiles" if output == "quantile" else "std"
    torch.testing.assert_close(getattr(f, name),
                               torch.stack([getattr(p, name) for p in parts]).mean(0))
    bands = predict_bands(ens, x.numpy())  # what the task scores and calibrates
    member_bands = [predict_bands(m, x.numpy()) for m in ens.members]
    np.testing.assert_allclose(bands.point, np.mean([b.point for b in member_bands], 0),
                               rtol=1e-5, atol=1e-6)  # float32 sums


def test_ensemble_checkpoint_round_trip(tmp_path):
    ens = _train(ForecastEnsemble(members=2, seed=0, **CONFIG))
    info = {"model_class": type(ens).__name__, "model_config": ens.get_config()}
    save_checkpoint(tmp_path / "ckpt", ens, json.loads(json.dumps(info)))
    back = build_model(load_checkpoint(tmp_path / "ckpt", training_state=False)).eval()
    assert isinstance(back, ForecastEnsemble) and len(back.members) == 2
    x, _ = _data(1)
    torch.testing.assert_close(back.predict(x).quantiles, ens.predict(x).quantiles,
                               rtol=0, atol=0)


def test_ensemble_run_evaluates_and_forecasts(tmp_path, monkeypatch, capsys):
    from test_forecast import TINY

    monkeypatch.chdir(tmp_path)
    months = np.arange("2000-01", "2012-01", dtype="datetime64[M]")
    values = 100 + 10 * np.sin(2 * np.pi * np.arange(len(months)) / 12) + np.arange(len(months))
    (tmp_path / "series.csv").write_text(
        "month,passengers\n" + "".join(f"{m},{v:.3f}\n" for m, v in zip(months, values)))
    (tmp_path / "tiny.toml").write_text(TINY.replace('window = 12', 'window = 12\nensemble = 3'))
    assert main(["train", "tiny.toml"]) == 0
    run = tmp_path / "runs" / "tiny-fc"
    info = json.loads((run / "checkpoints" / "best" / "model.json").read_text())
    assert info["model_class"] == "ForecastEnsemble"
    assert info["model_config"]["members"] == 3 and info["model_config"]["seed"] == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert np.isfinite(out["rmse"]) and 0 <= out["coverage_95"] <= 1
    for horizon in ("24", "30"):  # direct, then sample paths
        assert main(["forecast", str(run), "--horizon", horizon, "--output", "f.csv"]) == 0
        assert len((tmp_path / "f.csv").read_text().splitlines()) == int(horizon) + 1
