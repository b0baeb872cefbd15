"""``task.refit``: the final model trains on training + validation (every point before the
test range) for a fixed step count, and its intervals are calibrated on replays trained up
to origins inside that range; neither reads a test point (asserted on indices)."""

import json

import numpy as np
import pytest
import torch

from rnnkit.tasks import TASKS, evaluate_run, load_config, train_run
from rnnkit.tasks.timeseries.replays import (
    calibrate_by_replays,
    replay_config,
    replay_origins,
)
from rnnkit.training.config_io import ConfigError


def context(cfg):
    return TASKS["forecast"].setup(cfg)

TOML = """
name = "refit"
[task]
name = "forecast"
csv = "{csv}"
test_size = 24
window = 12
horizon = 24
season = 12
scaler = "{scaler}"
difference = {difference}
refit = true
[model]
cell = "gru"
hidden_size = 8
output = "quantile"
[train]
steps = 60
batch_size = 8
lr = 1e-2
eval_every = 60
threads = 1
progress = "off"
"""


def _write(tmp_path, values, scaler="log", difference="true"):
    months = np.arange("2000-01", "2012-01", dtype="datetime64[M]")
    (tmp_path / "series.csv").write_text(
        "month,value\n" + "".join(f"{m},{v:.6f}\n" for m, v in zip(months, values)))
    (tmp_path / "refit.toml").write_text(TOML.format(  # an absolute path: each config
        csv=tmp_path / "series.csv", scaler=scaler, difference=difference))  # names its file


def _seasonal(n=144, test=None):
    t = np.arange(n)
    x = 100 + 10 * np.sin(2 * np.pi * t / 12) + t + np.random.default_rng(0).normal(0, 3, n)
    if test is not None:
        x[-24:] = test
    return x


def test_refit_trains_on_every_point_before_the_test_range_and_no_test_point(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, np.arange(144.0) + 1000, scaler="none", difference="false")
    task = TASKS["forecast"]
    for refit, end in ((True, 120), (False, 96)):  # test range [120, 144); val [96, 120)
        cfg = load_config("refit.toml", [f"task.refit={str(refit).lower()}",
                                         "task.calibrate=false"])
        ctx = context(cfg)
        assert (ctx.val_start, ctx.test_start) == (96, 120)
        train = task.make_splits(ctx)["train"]
        # x[i] = 1000 + i unscaled: the values are the indices read
        read = np.concatenate([train["x"].numpy().ravel(), train["y"].numpy().ravel()]) - 1000
        assert read.max() == end - 1  # right up to the end of the range, nothing after
        assert read.min() == 0


def test_refit_needs_a_step_count_fixed_in_advance(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, _seasonal())
    for bad, word in (("train.eval_every=10", "eval_every"),
                      ("train.early_stopping=2", "early_stopping"),
                      ("task.replays=0", "replays")):
        with pytest.raises(ConfigError, match=word):
            load_config("refit.toml", [bad])
    load_config("refit.toml", ["task.refit=false", "train.eval_every=10"])  # fine without


def test_calibration_replays_never_read_the_test_range(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, _seasonal())
    cfg = load_config("refit.toml")
    ctx = context(cfg)
    origins = replay_origins(ctx)
    assert origins == [84, 90, 96]  # 3 replays 6 apart, the last at the validation start
    for o in origins:
        rcfg = replay_config(cfg, o)
        rctx = context(rcfg)
        assert len(rctx.series) == o + 24 <= ctx.test_start  # nothing after is loaded
        assert rctx.test_start == o  # the replay trains on [0, o) and forecasts [o, o + 24)
        assert not rcfg.task.calibrate  # no nested replays
    torch.manual_seed(7)
    before = torch.get_rng_state(), np.random.get_state()[1].copy()
    factors = calibrate_by_replays(cfg)
    assert all(np.isfinite(f) and f > 0 for f in factors.values())
    # the replays reseed as runs do; the caller's random state is restored after them
    assert torch.equal(torch.get_rng_state(), before[0])
    assert (np.random.get_state()[1] == before[1]).all()
    # other values in the test range: the same factors (the replays never read them)
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "b")
    _write(tmp_path / "b", _seasonal(test=np.linspace(500, 900, 24)))
    assert calibrate_by_replays(load_config("refit.toml")) == factors
    # a change inside the replays' range does change them (the check can fail)
    (tmp_path / "c").mkdir()
    monkeypatch.chdir(tmp_path / "c")
    x = _seasonal()
    x[100:110] += 30
    _write(tmp_path / "c", x)
    assert calibrate_by_replays(load_config("refit.toml")) != factors


def test_refit_run_records_the_replay_factors_and_evaluates_with_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, _seasonal())
    cfg = load_config("refit.toml")
    train_run(cfg, tmp_path / "run")
    info = json.loads((tmp_path / "run/checkpoints/best/model.json").read_text())
    factors = calibrate_by_replays(cfg)  # deterministic: the same replays again
    assert info["model_config"]["interval_factors"] == pytest.approx([factors[80],
                                                                      factors[95]])
    assert info["step"] == cfg.train.steps  # best = the last step
    result = evaluate_run(tmp_path / "run")
    assert 0 <= result["coverage_95"] <= 1 and np.isfinite(result["rmse"])
    plain = load_config("refit.toml", ["task.calibrate=false"])
    train_run(plain, tmp_path / "plain")
    raw = evaluate_run(tmp_path / "plain")
    assert raw["rmse"] == pytest.approx(result["rmse"])  # the replays leave the model alone
