"""Calibration replays (rnnkit/tasks/timeseries/replays.py) in detail: the origins at the
edge of what fits and the message past it, every field of a replay's config (the batch
capped at the replay's own window count, worked out by hand for differencing and level
normalisation), and a replay's forecast made from the last point before its origin, which
the points from the origin on cannot change (found by mutation testing,
benchmarks/mutation.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.predictor import open_checkpoint
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.timeseries.calibration import forecast_bands
from rnnkit.tasks.timeseries.replays import replay_bands, replay_config, replay_origins


def _write(path, values, covariate=None):
    months = np.datetime64("2000-01", "M") + np.arange(len(values))
    head = "month,value" + (",cal" if covariate is not None else "")
    rows = [f"{m},{v:.6f}" + (f",{covariate[i]:.4f}" if covariate is not None else "")
            for i, (m, v) in enumerate(zip(months, values))]
    path.write_text(head + "\n" + "\n".join(rows) + "\n")


def _config(tmp_path, values, covariate=None, **task):
    _write(tmp_path / "s.csv", values, covariate)
    extra = {"covariate_columns": ["cal"], "value_columns": ["value"]} \
        if covariate is not None else {}
    raw = {"name": "r", "seed": 3,
           "task": {"name": "forecast", "data": str(tmp_path / "s.csv"), "test_size": 12,
                    "window": 6, "horizon": 12, "season": 12, "difference": True,
                    "refit": True, "replays": 2, "replay_every": 6, **extra, **task},
           "model": {"cell": "gru", "hidden_size": 4, "output": "quantile"},
           "train": {"steps": 4, "eval_every": 4, "batch_size": 64, "threads": 1,
                     "progress": "off"},
           "diagnostics": {"every": 5}}
    return config_from_raw(raw, "test")


def _series(n=96):
    t = np.arange(n)
    return 100 + 10 * np.sin(2 * np.pi * t / 12) + t + np.random.default_rng(0).normal(0, 2, n)


def test_origins_and_the_first_one_that_fits(tmp_path):
    """First origin (window 6 after a season of differences): 17; a replay needs a window
    and its horizon before it: origins 30 and later fit, 29 does not."""
    values = _series(96)
    cfg = _config(tmp_path, values)
    ctx = TASKS["forecast"].setup(cfg)
    assert (ctx.val_start, ctx.test_start) == (72, 84)
    assert replay_origins(ctx) == [66, 72]
    fits = _config(tmp_path, values, replays=8, replay_every=6)  # 30, 36, ..., 72
    assert replay_origins(TASKS["forecast"].setup(fits)) == list(range(30, 73, 6))
    edge = _config(tmp_path, values, replays=2, replay_every=42)  # 30: just fits
    assert replay_origins(TASKS["forecast"].setup(edge)) == [30, 72]
    too_early = _config(tmp_path, values, replays=2, replay_every=43)  # 29 = 17 + 12
    with pytest.raises(TaskError) as err:
        replay_origins(TASKS["forecast"].setup(too_early))
    assert str(err.value) == (
        "task.replays: origins [29, 72] with horizon 12 do not fit between the first "
        "training window and the test range (point 84); the validation range must be at "
        "least horizon long")


@pytest.mark.parametrize("anchor, first", [("difference", 17), ("level", 11)])
def test_a_replay_config_cuts_trains_like_the_deployed_model_and_caps_the_batch(
        tmp_path, anchor, first):
    """difference: first origin 12 + 6 - 1 = 17; level: max(6, 12) - 1 = 11. At origin 40
    with horizon 12 the training windows are the origins first .. 40 - 1 - 12."""
    task = {"difference": anchor == "difference", "level": anchor == "level"}
    # a base config unlike a replay's in every field the replay sets
    cfg = _config(tmp_path, _series(96), **task, refit=False, calibrate=True,
                  evaluation="rolling", test_size=20.0)
    cfg = replace(cfg, train=replace(cfg.train, progress="on"))
    r = replay_config(cfg, 40)
    assert r.name == "r-replay-40"
    assert (r.task.cutoff, r.task.test_size, r.task.val_size) == (52, 12.0, 12.0)
    assert r.task.refit is True and r.task.calibrate is False
    assert r.train.progress == "off" and r.diagnostics.every == 0
    assert r.train.batch_size == 40 - 1 - 12 - first + 1
    small = replace(cfg, train=replace(cfg.train, batch_size=8))
    assert replay_config(small, 40).train.batch_size == 8  # the config's batch when it fits
    assert (r.train.steps, r.seed, r.model) == (cfg.train.steps, cfg.seed, cfg.model)


def test_a_replay_forecasts_from_the_point_before_its_origin_and_never_reads_past_it(
        tmp_path):
    values = _series(96)
    cal = np.cos(2 * np.pi * np.arange(96) / 12)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cfg = _config(tmp_path / "a", values, covariate=cal)
    bands = replay_bands(cfg, 60, tmp_path / "a" / "run")
    # by hand: the trained replay's forecast from point 59 (covariates included)
    _, _, model = open_checkpoint(tmp_path / "a" / "run")
    rctx = TASKS["forecast"].setup(replay_config(cfg, 60))
    want = forecast_bands(model, rctx.transform, rctx.z, np.array([59]), 6, zc=rctx.zc)
    np.testing.assert_allclose(bands.point, want.point)
    blind = forecast_bands(model, rctx.transform, rctx.z, np.array([59]), 6,
                           zc=rctx.zc * 0 - 3.0)
    assert not np.allclose(blind.point, want.point)  # the covariates count
    assert bands.point.shape == (1, 12)
    # other values from the origin on: the same replay forecast
    changed = values.copy()
    changed[60:] *= 1.5
    other = replay_bands(_config(tmp_path / "b", changed, covariate=cal), 60,
                         tmp_path / "b" / "run")
    np.testing.assert_allclose(other.point, bands.point)
    for c in (80, 95):
        np.testing.assert_allclose(other.lower[c], bands.lower[c])
