"""The forecast task (rnnkit/tasks/forecast.py) and its predictor
(rnnkit/tasks/timeseries/forecast_predictor.py) in detail: the ranges worked out by hand
at the edge of what fits and the exact messages past it, the transform and covariate
scaler fitted on the points before the test range only, the training, validation and test
windows against the series, the model's arguments, the config checks, and the predictor's
records, stream and plot (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import rnnkit.tasks.forecast as fmod
from rnnkit.data.timeseries import Series
from rnnkit.models import ForecastEnsemble, Forecaster
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.forecast import check_covariates_ahead, refit_errors, source_name
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.timeseries.forecast_predictor import (
    ForecastPredictor,
    ForecastStream,
    check_counts,
    suffixed,
)

TASK = TASKS["forecast"]


def _values(n, seed=0):
    t = np.arange(n)
    return 50 + 5 * np.sin(2 * np.pi * t / 6) + 0.2 * t + np.random.default_rng(seed).normal(
        0, 0.5, n)


def _write(path, values, covariate=None, ahead=0):
    """A monthly CSV; ``ahead`` rows after the last value hold the covariate alone."""
    days = np.datetime64("2001-01", "M") + np.arange(len(values) + ahead)
    head = "month,value" + (",cal" if covariate is not None else "")
    rows = []
    for i, m in enumerate(days):
        v = f"{values[i]:.6f}" if i < len(values) else ""
        rows.append(f"{m},{v}" + (f",{covariate[i]:.6f}" if covariate is not None else ""))
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return str(path)


def _raw(task, model=None, train=None):
    return {"name": "fc", "seed": 5,
            "task": {"name": "forecast", "window": 4, "horizon": 3, **task},
            "model": {"cell": "gru", "hidden_size": 4, "output": "quantile", **(model or {})},
            "train": {"steps": 3, "eval_every": 3, "batch_size": 16, "threads": 1,
                      "progress": "off", **(train or {})},
            "diagnostics": {"every": 0}}


def _config(tmp_path, n=60, values=None, covariate=None, ahead=0, **task):
    values = _values(n) if values is None else values
    data = _write(tmp_path / "s.csv", values, covariate, ahead)
    return config_from_raw(_raw({"data": data, **task}), "test")


def _ctx(tmp_path, n=60, **kw):
    return TASK.setup(_config(tmp_path, n, **kw))


def _error(ctx):
    with pytest.raises(TaskError) as err:
        ctx.bounds  # noqa: B018
    return str(err.value)


# -- ranges -------------------------------------------------------------------------------

@pytest.mark.parametrize("n, task, bounds", [
    (60, {}, (48, 54)),  # test_fraction 0.1: 6, the validation range like it
    (61, {}, (47, 54)),  # ceil(6.1) = 7
    (60, {"test_fraction": 0.2}, (36, 48)),
    (60, {"test_size": 5, "val_size": 8}, (47, 55)),
    (60, {"test_size": 5}, (50, 55)),
    (60, {"test_size": 0.25}, (30, 45)),  # a fraction: 15
    (60, {"test_size": 4, "val_size": 0.1}, (50, 56)),  # a fraction of the 56 before: 6
])
def test_ranges_of_one_file_by_hand(tmp_path, n, task, bounds):
    ctx = _ctx(tmp_path, n, **task)
    assert ctx.bounds == bounds
    assert (ctx.val_start, ctx.test_start) == bounds
    assert ctx.range("train") == (0, bounds[0])
    assert ctx.range("val") == bounds
    assert ctx.range("test") == (bounds[1], n)


def _parts(tmp_path, lengths=(40, 7, 9), **task):
    values = _values(sum(lengths))
    keys, start = {}, 0
    for key, m in zip(("train", "val", "test"), lengths):
        if m:
            days = np.datetime64("2001-01", "M") + np.arange(start, start + m)
            path = tmp_path / f"{key}.csv"
            path.write_text("month,value\n" + "".join(
                f"{d},{v:.6f}\n" for d, v in zip(days, values[start:start + m])))
            keys[f"{key}_data"] = str(path)
        start += m
    sizes = {k: task.pop(k) for k in ("val_size", "test_size") if k in task}
    cfg = config_from_raw(_raw({**keys, **task}), "test")  # (check refuses a size and a part:
    cfg = replace(cfg, task=replace(cfg.task, **sizes))  # the size would win)
    return TASK.setup(cfg), values


def test_parts_given_as_files_set_the_ranges_unless_a_size_or_cutoff_is_given(tmp_path):
    ctx, values = _parts(tmp_path)
    assert ctx.bounds == (40, 47) and len(ctx.series) == 56
    assert ctx.source[1] == {"val": 7, "test": 9}
    np.testing.assert_allclose(ctx.series.values, np.round(values, 6))
    ctx, _ = _parts(tmp_path, val_size=4)
    assert ctx.bounds == (43, 47)
    ctx, _ = _parts(tmp_path, test_size=5)  # the validation range: still its part
    assert ctx.bounds == (44, 51)
    ctx, _ = _parts(tmp_path, (40, 0, 9))  # no validation part: as long as the test range
    assert ctx.bounds == (31, 40)
    ctx, _ = _parts(tmp_path, cutoff=50)  # cut: the parts no longer set the ranges
    assert len(ctx.series) == 50 and ctx.bounds == (40, 45)
    assert source_name(ctx.task_cfg) == str(tmp_path / "train.csv")


def test_cutoff_keeps_the_first_points_and_no_covariates_past_them(tmp_path):
    values = _values(60)
    cov = np.arange(63) / 10
    ctx = _ctx(tmp_path, values=values, covariate=cov, ahead=3, cutoff=50,
               value_columns=["value"], covariate_columns=["cal"])
    s = ctx.series
    assert len(s) == 50 and s.ahead == 0
    np.testing.assert_allclose(s.values, np.round(values[:50], 6))
    np.testing.assert_allclose(s.covariates[:, 0], cov[:50])
    full = _ctx(tmp_path, values=values, covariate=cov, ahead=3,
                value_columns=["value"], covariate_columns=["cal"])
    assert len(full.series) == 60 and full.series.ahead == 3
    assert full.source[1] == {}


def test_the_shortest_series_that_fits_and_the_message_one_point_less(tmp_path):
    """window 4, horizon 3: first origin 3, so 3 + 1 + 3 * 3 = 13 points (refit: 10)."""
    ok = _ctx(tmp_path, 13, test_size=3, val_size=3)
    assert ok.bounds == (7, 10) and ok.protocol == "multistep"
    src = str(tmp_path / "s.csv")
    assert _error(_ctx(tmp_path, 12, test_size=3, val_size=3)) == (
        f"{src}: 12 points; window 4 and horizon 3 need at least 13: 7 to train on (a window "
        "and its horizon), and a validation and a test range of 3 each")
    refit = {"refit": True, "calibrate": False, "test_size": 3, "val_size": 3}
    assert _ctx(tmp_path, 10, **refit).bounds == (4, 7)
    assert _error(_ctx(tmp_path, 9, **refit)) == (
        f"{src}: 9 points; window 4 and horizon 3 need at least 10: 7 to train on (a window "
        "and its horizon), and a validation and a test range of 3 each (task.refit: the "
        "validation range is trained on)")
    # differencing at lag 2: first origin 2 + 4 - 1 = 5, so 15
    diff = {"difference": True, "season": 2, "test_size": 3, "val_size": 3}
    assert _ctx(tmp_path, 15, **diff).bounds == (9, 12)
    assert _error(_ctx(tmp_path, 14, **diff)) == (
        f"{src}: 14 points; window 4 and horizon 3 need at least 15: 9 to train on (a window "
        "after a season of differences and its horizon), and a validation and a test range "
        "of 3 each")
    # the level over a season of 8: first origin max(4, 8) - 1 = 7, so 17
    level = {"level": True, "season": 8, "test_size": 3, "val_size": 3}
    assert _ctx(tmp_path, 17, **level).bounds == (11, 14)
    assert "need at least 17: 11 to train on (a window and" in _error(
        _ctx(tmp_path, 16, **level))


def test_ranges_too_short_or_crowding_out_the_training_windows(tmp_path):
    src = str(tmp_path / "s.csv")
    assert _ctx(tmp_path, 22, test_size=3, val_size=12, evaluation="rolling").bounds == (7, 19)
    assert _error(_ctx(tmp_path, 21, test_size=3, val_size=12)) == (
        f"{src}: 21 points, of which 12 validate and 3 test: window 4 and horizon 3 need 7 "
        "points before the validation range and at least 3 in each of the validation and "
        "test ranges")
    assert "of which 5 validate and 2 test" in _error(
        _ctx(tmp_path, 30, test_size=2, val_size=5))
    assert "of which 2 validate and 5 test" in _error(
        _ctx(tmp_path, 30, test_size=5, val_size=2))
    refit = {"refit": True, "calibrate": False, "evaluation": "rolling"}
    assert _ctx(tmp_path, 21, test_size=3, val_size=14, **refit).bounds == (4, 18)
    assert _error(_ctx(tmp_path, 20, test_size=3, val_size=14, **refit)) == (
        f"{src}: 20 points, of which 14 validate and 3 test: window 4 and horizon 3 need 7 "
        "points before the test range (task.refit trains on the validation range), 4 before "
        "the validation range and at least 3 in each of the validation and test ranges")
    assert "of which 3 validate and 2 test" in _error(
        _ctx(tmp_path, 30, test_size=2, val_size=3, **refit))


def test_multistep_ranges_must_not_exceed_the_horizon(tmp_path):
    message = ("multistep evaluation (task.evaluation, \"auto\": when the horizon covers the "
               "test range) scores one forecast of each range from its start: the validation "
               "({} points) and test ({}) ranges must not exceed task.horizon (3); shorten "
               "them (task.val_size, task.test_size) or set task.evaluation = \"rolling\"")
    assert _error(_ctx(tmp_path, 40, test_size=3, val_size=4)) == message.format(4, 3)
    assert _error(_ctx(tmp_path, 40, test_size=4, val_size=3,
                       evaluation="multistep")) == message.format(3, 4)
    assert _error(_ctx(tmp_path, 40, test_size=3, val_size=5,
                       evaluation="multistep")) == message.format(5, 3)
    assert _ctx(tmp_path, 40, test_size=3, val_size=4, evaluation="rolling").bounds == (33, 37)
    auto = _ctx(tmp_path, 40, test_size=4, val_size=5)  # horizon 3 < 4: rolling
    assert auto.bounds == (31, 36) and auto.protocol == "rolling"
    assert _ctx(tmp_path, 40, test_size=3, val_size=3).protocol == "multistep"
    assert _ctx(tmp_path, 40, test_size=3, val_size=3,
                evaluation="rolling").protocol == "rolling"
    assert _ctx(tmp_path, 40, test_size=5, val_size=5,
                evaluation="multistep", horizon=5).protocol == "multistep"


# -- transform, scaled series, covariates -------------------------------------------------

def test_difference_and_level_together_is_an_error(tmp_path):
    ctx = _ctx(tmp_path, difference=True, level=True, season=2)
    with pytest.raises(TaskError) as err:
        ctx.shape  # noqa: B018
    assert str(err.value) == (
        "task.difference and task.level both set what the model forecasts relative to (the "
        "same season's last value, or the last season's mean); set one of them")


@pytest.mark.parametrize("anchor", ["none", "difference", "level"])
def test_the_transform_is_fitted_on_the_points_before_the_test_range(tmp_path, anchor):
    values = _values(60)
    values[54:] += 100  # the test range: far off, never read by the scaler
    task = {"difference": anchor == "difference", "level": anchor == "level", "season": 6}
    ctx = _ctx(tmp_path, values=values, **task)
    v = np.round(values, 6)
    shape = ctx.shape
    assert (shape.season, shape.difference, shape.level) == (6, task["difference"],
                                                               task["level"])
    t = ctx.transform
    assert (t.season, t.difference, t.level, t.scaler.kind) == (
        6, task["difference"], task["level"], "standard")
    assert t.scaler.a == pytest.approx(v[:54].mean())
    assert t.scaler.b == pytest.approx(v[:54].std())
    np.testing.assert_allclose(ctx.z, (v - v[:54].mean()) / v[:54].std())
    minmax = _ctx(tmp_path, values=values, scaler="minmax", **task).transform.scaler
    assert (minmax.kind, minmax.a, minmax.b) == ("minmax", pytest.approx(v[:54].min()),
                                                  pytest.approx(np.ptp(v[:54])))


def test_a_scaler_that_cannot_fit_names_the_key(tmp_path):
    values = _values(60)
    values[3] = -5.0
    ctx = _ctx(tmp_path, values=values, scaler="log")
    with pytest.raises(TaskError) as err:
        ctx.transform  # noqa: B018
    assert str(err.value) == (
        "task.scaler = 'log': the log scaler (log1p) needs values > -1, and the smallest is "
        "-5; use the 'standard' scaler for such a series")
    values = _values(60)
    values[55] = -5.0  # in the test range only: the scaler never sees it
    assert _ctx(tmp_path, values=values, scaler="log").transform.scaler.kind == "log"


def test_covariates_are_scaled_on_the_points_before_the_test_range(tmp_path):
    cov = np.cos(np.arange(62) / 3) + np.arange(62) / 20
    ctx = _ctx(tmp_path, covariate=cov, ahead=2, value_columns=["value"],
               covariate_columns=["cal"])
    c = np.round(cov, 6)
    sc = ctx.covariate_scaler
    assert sc.kind == "standard"
    assert float(sc.a[0]) == pytest.approx(c[:54].mean())
    assert float(sc.b[0]) == pytest.approx(c[:54].std())
    np.testing.assert_allclose(ctx.zc[:, 0], (c - c[:54].mean()) / c[:54].std())
    assert ctx.zc.shape == (62, 1)
    plain = _ctx(tmp_path)
    assert plain.covariate_scaler is None and plain.zc is None


def test_replay_factors_only_with_refit_and_calibrate(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(fmod, "calibrate_by_replays",
                        lambda cfg: seen.append(cfg) or {80: 1.5, 95: 2.5})
    assert _ctx(tmp_path).replay_factors is None
    assert _ctx(tmp_path, refit=True, calibrate=False).replay_factors is None
    ctx = _ctx(tmp_path, refit=True)
    assert ctx.replay_factors == {80: 1.5, 95: 2.5} and seen == [ctx.cfg]
    assert ctx.validation_factors == {}


def test_covariates_must_reach_as_far_as_scoring_the_test_range_reads(tmp_path):
    """n = 40, test 6 from point 34, horizon 3: the last rolling forecast, from point 38,
    reads the covariates of 39..41: 2 past the last value."""
    cov = np.arange(45) / 7.0
    kw = {"covariate": cov, "value_columns": ["value"], "covariate_columns": ["cal"],
          "test_size": 6}
    check_covariates_ahead(_ctx(tmp_path, 40, ahead=2, **kw))
    ctx = _ctx(tmp_path, 40, ahead=1, **kw)
    with pytest.raises(TaskError) as err:
        check_covariates_ahead(ctx)
    assert str(err.value) == (
        f"{tmp_path / 's.csv'}: scoring the test range (rolling) with horizon 3 reads the "
        "covariates 2 points past the last value; the file gives 1: add 1 rows after the "
        "last value with the values blank and the covariates given, or set "
        "task.evaluation = \"multistep\"")
    with pytest.raises(TaskError, match="no 'cal' ahead|past the last value"):
        TASK.make_splits(_ctx(tmp_path, 40, ahead=0, **kw))
    # multistep: one forecast from the end of the validation range reads nothing past it
    check_covariates_ahead(_ctx(tmp_path, 40, ahead=0, **{**kw, "test_size": 3,
                                                          "val_size": 3}))
    check_covariates_ahead(_ctx(tmp_path, 40))  # no covariates: nothing to check


def test_source_name_is_the_data_the_parts_or_the_series(tmp_path):
    cfg = _config(tmp_path).task
    assert source_name(cfg) == str(tmp_path / "s.csv")
    assert source_name(replace(cfg, data="", train_data="t.csv")) == "t.csv"
    assert source_name(replace(cfg, data="", series="sunspots")) == "sunspots"


# -- splits -------------------------------------------------------------------------------

def _windows(z, origins, window, horizon):
    x = np.stack([z[o - window + 1:o + 1] for o in origins])[..., None]
    y = np.stack([z[o + 1:o + 1 + horizon] for o in origins])
    return x, y


@pytest.mark.parametrize("fit", ["val", "train_on_val", "refit"])
def test_windows_of_each_range_by_hand(tmp_path, fit):
    """n = 60, test 6 from 54, validation 6 from 48, window 4, horizon 3, first origin 3:
    training origins 3..44 (targets before 48; train_on_val / refit: 3..50), validation
    47..50 (from the last point before it), test 53..56."""
    task = {"train_on_val": fit == "train_on_val", "refit": fit == "refit",
            "calibrate": fit != "refit", "evaluation": "rolling"}
    ctx = _ctx(tmp_path, **task)
    z = ctx.z
    splits = TASK.make_splits(ctx)
    last = 44 if fit == "val" else 50
    for split, origins in (("train", range(3, last + 1)), ("val", range(47, 51)),
                           ("test", range(53, 57))):
        x, y = _windows(z, list(origins), 4, 3)
        assert set(splits[split]) == {"x", "y"}
        assert splits[split]["x"].dtype == torch.float32
        np.testing.assert_allclose(splits[split]["x"].numpy(), x, rtol=1e-6)
        np.testing.assert_allclose(splits[split]["y"].numpy(), y, rtol=1e-6)


def test_validation_windows_start_no_earlier_than_the_first_origin(tmp_path):
    """A validation range right after the first training window: its first origin is
    max(val_start - 1, first)."""
    ctx = _ctx(tmp_path, 13, test_size=3, val_size=3)  # val 7..9, first origin 3
    splits = TASK.make_splits(ctx)
    x, y = _windows(ctx.z, [6], 4, 3)
    np.testing.assert_allclose(splits["val"]["x"].numpy(), x, rtol=1e-6)
    np.testing.assert_allclose(splits["val"]["y"].numpy(), y, rtol=1e-6)
    np.testing.assert_allclose(splits["train"]["y"].numpy(), _windows(ctx.z, [3], 4, 3)[1],
                               rtol=1e-6)
    # differencing at lag 2 (first origin 5), 16 points, validation from 9: origins 8
    ctx = _ctx(tmp_path, 16, test_size=3, val_size=4, difference=True, season=2,
               evaluation="rolling")
    assert ctx.bounds == (9, 13)
    splits = TASK.make_splits(ctx)
    assert len(splits["train"]["x"]) == 1 and len(splits["val"]["x"]) == 2


def test_splits_with_covariates_carry_the_horizon_s_covariates(tmp_path):
    cov = np.sin(np.arange(63) / 2)
    ctx = _ctx(tmp_path, covariate=cov, ahead=3, value_columns=["value"],
               covariate_columns=["cal"], evaluation="rolling")
    splits = TASK.make_splits(ctx)
    zc = ctx.zc[:, 0]
    origins = np.arange(53, 57)
    x = splits["test"]["x"].numpy()
    assert x.shape == (4, 4, 2)
    np.testing.assert_allclose(x[..., 1], np.stack([zc[o - 3:o + 1] for o in origins]),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(splits["test"]["future"].numpy()[..., 0],
                               np.stack([zc[o + 1:o + 4] for o in origins]), rtol=1e-5,
                               atol=1e-6)


def test_a_window_the_inputs_refuse_is_an_error_naming_the_range(tmp_path, monkeypatch):
    ctx = _ctx(tmp_path)

    def refuse(*args):
        raise ValueError("nothing fits")

    monkeypatch.setattr(fmod, "model_inputs", refuse)
    with pytest.raises(TaskError) as err:
        TASK.make_splits(ctx)
    assert str(err.value) == "train range: nothing fits"
    monkeypatch.setattr(fmod, "train_origins", lambda first, end, horizon: np.zeros(0, int))
    with pytest.raises(TaskError) as err:
        TASK.make_splits(_ctx(tmp_path))
    assert str(err.value) == ("no train window fits: the train range is too short for "
                              "window 4 + horizon 3")


# -- model, checks, info, hooks -----------------------------------------------------------

def test_model_args_and_the_model_built(tmp_path, monkeypatch):
    cov = np.arange(63) / 10
    ctx = _ctx(tmp_path, covariate=cov, ahead=3, value_columns=["value"],
               covariate_columns=["cal"])
    assert TASK.model_args(ctx) == {"input_size": 2, "output_size": 1, "horizon": 3,
                                    "quantiles": [0.025, 0.1, 0.5, 0.9, 0.975],
                                    "covariates": 1}
    model = TASK.build_model(ctx)
    assert type(model) is Forecaster
    assert (model.horizon, model.output_size, model.covariates) == (3, 1, 1)
    assert model.get_config()["hidden_size"] == 4 and model.get_config()["cell"] == "gru"
    assert not getattr(model, "interval_factors", None)
    monkeypatch.setattr(fmod, "calibrate_by_replays", lambda cfg: {95: 2.5, 80: 1.5})
    refit = TASK.build_model(_ctx(tmp_path, refit=True))
    assert list(refit.interval_factors) == [1.5, 2.5]


def test_an_ensemble_s_members_start_as_the_seeds_models(tmp_path):
    ctx = _ctx(tmp_path, ensemble=3)
    ens = TASK.build_model(ctx)
    assert type(ens) is ForecastEnsemble and len(ens.members) == 3
    for i, member in enumerate(ens.members):
        torch.manual_seed(5 + i)
        single = Forecaster(**TASK.model_args(ctx), **TASK._model_kwargs(ctx.cfg))
        for a, b in zip(member.parameters(), single.parameters()):
            assert torch.equal(a, b)


def _ok(tmp_path, **task):
    return _config(tmp_path, **task)


def test_check_refuses_point_forecasts_and_clashing_keys(tmp_path):
    cfg = _ok(tmp_path)
    assert TASK.check(cfg) == []
    for output in ("point", "XX"):
        bad = replace(cfg, model=replace(cfg.model, options={**cfg.model.options,
                                                             "output": output}))
        assert (f"model.output = {output!r}: forecasts carry 80% and 95% intervals; use "
                "\"quantile\" or \"gaussian\"") in TASK.check(bad)
    none = replace(cfg, model=replace(cfg.model, options={
        k: v for k, v in cfg.model.options.items() if k != "output"}))
    assert ("model.output = 'point': forecasts carry 80% and 95% intervals; use "
            "\"quantile\" or \"gaussian\"") in TASK.check(none)
    gaussian = replace(cfg, model=replace(cfg.model, options={**cfg.model.options,
                                                              "output": "gaussian"}))
    assert TASK.check(gaussian) == []
    t = cfg.task
    assert TASK.check(replace(cfg, task=replace(t, split_seed=3))) == [
        "task.split_seed = 3: a series is split by time, never shuffled; this key is not "
        "read (leave it out)"]
    assert TASK.check(replace(cfg, task=replace(t, val_fraction=0.2))) == [
        "task.val_fraction = 0.2: a series is split by time, never shuffled; this key is not "
        "read (leave it out)"]
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.csv").write_text("month,value\n2000-01,1\n")
    parts = replace(t, data="", **{f"{k}_data": str(tmp_path / f"{f}.csv")
                                   for k, f in (("train", "a"), ("val", "b"), ("test", "c"))})
    assert TASK.check(replace(cfg, task=parts)) == []
    assert TASK.check(replace(cfg, task=replace(parts, test_size=4, val_size=3))) == [
        "task.test_size and task.test_data both set the range: leave out task.test_size (the "
        "test_data file is the range)",
        "task.val_size and task.val_data both set the range: leave out task.val_size (the "
        "val_data file is the range)"]
    assert TASK.check(replace(cfg, task=replace(t, test_size=4, val_size=3))) == []
    bad_model = replace(cfg, model=replace(cfg.model, options={**cfg.model.options,
                                                               "nonsense": 1}))
    assert any("nonsense" in e for e in TASK.check(bad_model))


REFIT_WHY = "task.refit trains on the validation range, so the step count is fixed"


def test_refit_errors_each_way_to_choose_on_the_validation_range(tmp_path):
    cfg = _ok(tmp_path, refit=True)
    cfg = replace(cfg, train=replace(cfg.train, steps=10, eval_every=10))
    assert refit_errors(cfg) == [] and TASK.check(cfg) == []
    t = cfg.train
    for change, message in (
            ({"steps": 0, "epochs": 2}, "set train.steps (not epochs)"),
            ({"eval_every": 9}, "set train.eval_every >= train.steps (10) so that best = the "
                                "last step"),
            ({"early_stopping": 1}, "set train.early_stopping = 0"),
            ({"target": 0.5}, "set train.target = 0"),
            ({"target": -0.5}, "set train.target = 0"),
            ({"max_minutes": 0.5}, "set train.max_minutes = 0"),
            ({"schedule": "plateau"}, "the plateau schedule reads the validation metric")):
        bad = replace(cfg, train=replace(t, **change))
        assert refit_errors(bad) == [f"{REFIT_WHY}: {message}"]
        assert TASK.check(bad) == [f"{REFIT_WHY}: {message}"]
        assert TASK.check(replace(bad, task=replace(bad.task, refit=False))) == []
    assert refit_errors(replace(cfg, train=replace(t, eval_every=11))) == []
    assert refit_errors(replace(cfg, train=replace(t, steps=1, eval_every=1))) == []
    assert refit_errors(replace(cfg, train=replace(t, schedule="cosine"))) == []
    no_replays = replace(cfg, task=replace(cfg.task, replays=0))
    assert refit_errors(no_replays) == [
        "task.refit with calibrate needs task.replays >= 1 (the validation backtest would "
        "score points the model trained on)"]
    assert refit_errors(replace(no_replays, task=replace(no_replays.task,
                                                         calibrate=False))) == []
    assert refit_errors(replace(cfg, task=replace(cfg.task, replays=1))) == []
    point = replace(cfg, model=replace(cfg.model, options={**cfg.model.options,
                                                           "output": "point"}),
                    train=replace(t, early_stopping=2))  # every problem, not the last kind
    assert TASK.check(point) == [
        "model.output = 'point': forecasts carry 80% and 95% intervals; use \"quantile\" or "
        "\"gaussian\"", f"{REFIT_WHY}: set train.early_stopping = 0"]


def test_info_records_the_transform_columns_and_covariate_scaler(tmp_path):
    ctx = _ctx(tmp_path)
    model = TASK.build_model(ctx)
    info = TASK.info(ctx, model)
    assert info["transform"] == ctx.transform.to_dict()
    assert info["columns"] == {"time": "", "values": ["value"], "covariates": []}
    assert "covariate_scaler" not in info and info["task"]["window"] == 4
    cov = np.arange(63) / 10
    ctx = _ctx(tmp_path, covariate=cov, ahead=3, value_columns=["value"],
               covariate_columns=["cal"])
    info = TASK.info(ctx, TASK.build_model(ctx))
    assert info["columns"] == {"time": "", "values": ["value"], "covariates": ["cal"]}
    c = np.round(cov[:54], 6)
    assert info["covariate_scaler"]["kind"] == "standard"
    assert info["covariate_scaler"]["a"] == [pytest.approx(c.mean())]


def test_hooks_pass_the_model_context_and_split_on(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(fmod, "evaluate_split", lambda *a: seen.append(a) or {"rmse": 1.0})
    monkeypatch.setattr(fmod, "forecast_section", lambda *a: seen.append(a))
    ctx, model = "ctx", "model"
    assert TASK.extra_metrics(ctx, model, "train") == {}
    assert TASK.extra_metrics(ctx, model, "val") == {"rmse": 1.0}
    assert TASK.extra_metrics(ctx, model, "test") == {"rmse": 1.0}
    TASK.after_training(ctx, model, "run")
    assert seen == [(model, ctx, "val"), (model, ctx, "test"), (model, ctx, "run")]


# -- the predictor ------------------------------------------------------------------------

def _predictor(tmp_path, n=80, run_dir=None, seed=0, **task):
    ctx = _ctx(tmp_path, n, **{"calibrate": False, "evaluation": "rolling", **task})
    torch.manual_seed(seed)
    model = TASK.build_model(ctx)
    p = TASK.predictor(ctx, model, TASK.info(ctx, model), run_dir)
    assert type(p) is ForecastPredictor
    assert (p.context, p.model, p.run_dir, p.task) == (ctx, model, run_dir, "forecast")
    return p


def _by_hand(p, values, horizon=3, cov=None, future=None):
    """The direct forecast from the last window, by hand: the scaled window through the
    model, its quantiles sorted, back in original units -> {column: (H, K)}."""
    a, b = p.transform.scaler.a, p.transform.scaler.b
    v = np.asarray(values, float).reshape(len(values), -1)
    x = (v[-4:] - a) / b  # (W, K)
    kw = {}
    if cov is not None:
        x = np.concatenate([x, cov[len(values) - 4:len(values)]], axis=-1)
        kw["future"] = torch.tensor(future, dtype=torch.float32)[None]
    with torch.no_grad():
        out = p.model(torch.tensor(x, dtype=torch.float32)[None], **kw).numpy()[0]
    q = np.sort(out, axis=-1) * np.atleast_1d(b)[:, None] + np.atleast_1d(a)[:, None]
    q = q[:horizon]
    return {"forecast": q[..., 2], "lower_95": q[..., 0], "lower_80": q[..., 1],
            "upper_80": q[..., 3], "upper_95": q[..., 4]}


def _months(start, stop):
    return [str(m) for m in np.datetime64("2001-01", "M") + np.arange(start, stop)]


def test_a_direct_forecast_is_the_model_s_sorted_quantiles_in_original_units(tmp_path):
    p = _predictor(tmp_path)
    s = p.context.series
    assert p.min_points == 4 and p.factors == {80: 1.0, 95: 1.0}
    assert p.targets == ["value"] and p.covariate_scaler is None
    assert p.transform.to_dict() == p.context.transform.to_dict()
    for history, stamps in ((s, _months(80, 83)), (s.values, ["80", "81", "82"]),
                            (list(s.values), ["80", "81", "82"])):
        r = p.predict([history])[0]
        assert set(r) == {"points", "horizon", "method", "columns", "history"}
        assert (r["points"], r["horizon"], r["method"]) == (80, 3, "direct")
        assert r["columns"]["timestamp"] == stamps
        expected = _by_hand(p, s.values)
        assert list(r["columns"]) == ["timestamp", "forecast", "lower_80", "upper_80",
                                      "lower_95", "upper_95"]
        for key, e in expected.items():
            np.testing.assert_allclose(r["columns"][key], e[:, 0], rtol=1e-5)
    two = p.predict([s, s.values[:50]], horizon=2)
    assert [r["points"] for r in two] == [80, 50] and two[0]["horizon"] == 2
    np.testing.assert_allclose(two[0]["columns"]["forecast"],
                               _by_hand(p, s.values)["forecast"][:2, 0], rtol=1e-5)
    np.testing.assert_allclose(two[1]["columns"]["forecast"],
                               _by_hand(p, s.values[:50])["forecast"][:2, 0], rtol=1e-5)
    assert p.predict([]) == []


def test_the_history_shown_is_the_last_60_points_or_three_horizons(tmp_path):
    p = _predictor(tmp_path)
    s = p.context.series
    r = p.predict([s])[0]
    assert r["history"]["timestamp"] == _months(20, 80)
    np.testing.assert_allclose(r["history"]["value"], s.values[20:])
    assert set(r["history"]) == {"timestamp", "value"}
    long = p.predict([s], horizon=25, samples=7)[0]  # 75 shown
    assert (long["method"], long["samples"], long["horizon"]) == ("sample paths", 7, 25)
    assert long["history"]["timestamp"] == _months(5, 80)
    assert long["columns"]["timestamp"] == _months(80, 105)
    assert len(long["columns"]["forecast"]) == 25
    assert p.predict([s], horizon=4, samples=5)[0]["method"] == "sample paths"
    assert p.predict([s], horizon=4)[0]["samples"] == 1000  # the default


def test_calibrated_intervals_are_widened_by_the_run_s_factors(tmp_path):
    p = _predictor(tmp_path, calibrate=True)
    f = p.factors
    assert set(f) == {80, 95} and f != {80: 1.0, 95: 1.0}
    s = p.context.series
    r = p.predict([s])[0]["columns"]
    e = {k: v[:, 0] for k, v in _by_hand(p, s.values).items()}
    point = e["forecast"]
    np.testing.assert_allclose(r["forecast"], point, rtol=1e-5)
    np.testing.assert_allclose(r["upper_80"], point + f[80] * (e["upper_80"] - point),
                               rtol=1e-5)
    np.testing.assert_allclose(r["lower_80"], point - f[80] * (point - e["lower_80"]),
                               rtol=1e-5)


def test_the_default_input_is_the_series_before_the_test_range_and_its_truth(tmp_path):
    cov = np.arange(83) / 10
    p = _predictor(tmp_path, covariate=cov, ahead=3, value_columns=["value"],
                   covariate_columns=["cal"])
    s, start = p.context.series, p.context.test_start
    assert start == 72
    (h,) = p.default_inputs()
    assert (h.name, h.columns, h.covariate_columns) == (s.name, ("value",), ("cal",))
    np.testing.assert_array_equal(h.timestamps, s.timestamps[:72])
    np.testing.assert_array_equal(h.values, s.values[:72])
    np.testing.assert_array_equal(h.future, s.values[72:])
    np.testing.assert_array_equal(h.covariates, s.covariates)
    r = p.predict([h])[0]
    np.testing.assert_allclose(r["truth"], s.values[72:75])
    assert r["columns"]["timestamp"] == _months(72, 75)
    sc = p.covariate_scaler
    assert sc.kind == "standard" and sc.to_dict() == p.context.covariate_scaler.to_dict()
    zc = (np.round(cov, 6)[:, None] - sc.a) / sc.b
    e = _by_hand(p, s.values[:72], cov=zc, future=zc[72:75])
    np.testing.assert_allclose(r["columns"]["forecast"], e["forecast"][:, 0], rtol=1e-5)
    r = p.predict([h], horizon=9, samples=5)[0]
    np.testing.assert_allclose(r["truth"], s.values[72:])  # all 8 known
    assert "truth" not in p.predict([replace(h, future=np.zeros(0))])[0]


def test_a_history_without_enough_covariates_ahead_names_what_it_needs(tmp_path):
    cov = np.arange(83) / 10
    p = _predictor(tmp_path, covariate=cov, ahead=3, value_columns=["value"],
                   covariate_columns=["cal"])
    s = p.context.series
    short = s.head(70, ahead=2)
    with pytest.raises(TaskError) as err:
        p.predict([short])
    assert str(err.value) == (
        "history 0 (s): covariates known for 2 points after the history; forecasting 3 "
        "needs 3 (rows after the last value, with the values blank and the covariates "
        "given)")
    p.predict([s.head(70, ahead=3)])
    with pytest.raises(TaskError, match="forecasting 5 needs 7 "):  # sample paths: 5 + 3 - 1
        p.predict([s.head(70, ahead=6)], horizon=5, samples=3)
    p.predict([s.head(70, ahead=7)], horizon=5, samples=3)
    with pytest.raises(TaskError, match="covariate column"):
        p.predict([s.values])  # values alone: no covariates


def test_too_short_a_history_names_the_minimum(tmp_path):
    p = _predictor(tmp_path)
    p.predict([np.ones(4)])
    with pytest.raises(TaskError) as err:
        p.predict([np.ones(4), np.ones(3)])
    assert str(err.value) == ("history 1 (series): 3 points; the model forecasts from at "
                              "least 4 (a window of 4)")
    d = _predictor(tmp_path, difference=True, season=2)
    assert d.min_points == 6
    d.predict([np.arange(6.0) + 1])
    with pytest.raises(TaskError) as err:
        d.predict([np.arange(5.0) + 1])
    assert str(err.value) == ("history 0 (series): 5 points; the model forecasts from at "
                              "least 6 (a window of 4 after a season of differences)")


@pytest.mark.parametrize("history", [
    "series", [1.0, 2.0, 3.0, 4.0, 5.0], (1.0, 2.0, 3.0, 4.0, 5.0), np.arange(5.0)])
def test_one_history_not_in_a_list_is_refused(tmp_path, history):
    p = _predictor(tmp_path)
    if isinstance(history, str):
        history = p.context.series
    with pytest.raises(TaskError) as err:
        p.predict(history)
    assert str(err.value) == "predict takes a list of histories; wrap one in a list"


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2", None])
def test_horizon_and_samples_must_be_whole_numbers_at_least_one(tmp_path, bad):
    for name in ("horizon", "samples"):
        with pytest.raises(TaskError) as err:
            check_counts(**{"horizon": 1, "samples": 1, name: bad})
        assert str(err.value) == f"{name} = {bad!r}: must be a whole number >= 1"
    if bad is None:
        return
    p = _predictor(tmp_path)
    for name in ("horizon", "samples"):
        with pytest.raises(TaskError, match=f"^{name} = "):
            p.predict([np.ones(10)], **{name: bad})
        with pytest.raises(TaskError, match=f"^{name} = "):
            p.stream(**{name: bad})
    check_counts(np.int64(1), np.int64(2))
    check_counts(1, 1)


def _two(tmp_path, n=80):
    t = np.arange(n)
    a, b = _values(n), 20 + 3 * np.cos(t / 2) + np.random.default_rng(1).normal(0, 0.3, n)
    months = np.datetime64("2001-01", "M") + t
    (tmp_path / "s.csv").write_text("month,a,b\n" + "".join(
        f"{m},{x:.6f},{y:.6f}\n" for m, x, y in zip(months, a, b)))
    cfg = config_from_raw(_raw({"data": str(tmp_path / "s.csv"), "value_columns": ["a", "b"],
                                "calibrate": False, "evaluation": "rolling"}), "test")
    ctx = TASK.setup(cfg)
    torch.manual_seed(0)
    model = TASK.build_model(ctx)
    return TASK.predictor(ctx, model, TASK.info(ctx, model))


def test_two_value_columns_are_named_in_the_record(tmp_path):
    p = _two(tmp_path)
    s = p.context.series
    assert p.targets == ["a", "b"]
    (h,) = p.default_inputs()
    r = p.predict([h])[0]
    assert r["targets"] == ["a", "b"]
    e = _by_hand(p, h.values)
    for k, name in enumerate(("a", "b")):
        for key in ("forecast", "lower_80", "upper_80", "lower_95", "upper_95"):
            np.testing.assert_allclose(r["columns"][f"{key}_{name}"], e[key][:, k], rtol=1e-5)
        np.testing.assert_allclose(r["history"][f"value_{name}"], s.values[12:72, k])
        np.testing.assert_allclose(r["truth"][name], s.values[72:75, k])
    assert set(r["truth"]) == {"a", "b"} and "forecast" not in r["columns"]
    with pytest.raises(TaskError) as err:
        p.predict([s.values, s.values[:, 0]])
    assert str(err.value) == ("history 1: 1 value column(s); the run reads 2 (values of shape "
                              "(N, 2))")


def test_read_file_reads_the_run_s_columns_with_its_repair(tmp_path):
    p = _predictor(tmp_path)
    path = tmp_path / "in.csv"
    path.write_text("month,value\n2001-01,1.5\n2001-02,2.5\n2001-03,\n2001-04,4.5\n")
    with pytest.raises(TaskError, match="interpolate"):
        p.read_file(path)
    with pytest.warns(UserWarning, match="filled 1 missing"):
        (s,) = p.read_file(path, repair="interpolate")
    np.testing.assert_allclose(s.values, [1.5, 2.5, 3.5, 4.5])
    assert [str(t) for t in s.timestamps] == _months(0, 4)
    q = _predictor(tmp_path, repair="interpolate")
    with pytest.warns(UserWarning, match="filled 1 missing"):
        (s,) = q.read_file(path)
    np.testing.assert_allclose(s.values, [1.5, 2.5, 3.5, 4.5])
    two = _two(tmp_path)
    path.write_text("month,x,b,a\n2001-01,9,1,2\n2001-02,9,3,4\n")
    (s,) = two.read_file(path)  # by the names the run recorded
    np.testing.assert_allclose(s.values, [[2, 1], [4, 3]])


def test_the_stream_forecasts_from_the_points_pushed_so_far(tmp_path):
    p = _predictor(tmp_path)
    s = p.context.series
    stream = p.stream()
    assert isinstance(stream, ForecastStream)
    assert (stream.horizon, stream.samples, stream.covariates) == (None, 1000, None)
    for i in range(3):
        assert stream.push(float(s.values[i])) == {"points": i + 1, "needs": 3 - i,
                                                   "columns": None}
    r = stream.push(float(s.values[3]))
    assert r == p.predict([s.values[:4]])[0] and r["columns"]["timestamp"] == ["4", "5", "6"]
    with pytest.raises(TaskError, match="not both"):
        stream.push((str(s.timestamps[4]), 1.0))
    stream.reset()
    assert (stream.times, stream.values) == ([], [])
    timed = p.stream(horizon=5, samples=4)
    assert (timed.horizon, timed.samples) == (5, 4)
    for i in range(5):
        r = timed.push((str(s.timestamps[i]), float(s.values[i])))
    assert r["columns"]["timestamp"] == _months(5, 10) and r["samples"] == 4
    assert r == p.predict([Series(s.timestamps[:5], s.values[:5])], 5, 4)[0]
    r = timed.push([str(s.timestamps[5]), float(s.values[5])])  # a list: a pair too
    assert r["points"] == 6 and r["columns"]["timestamp"] == _months(6, 11)
    with pytest.raises(TaskError) as err:
        timed.push(1.0)
    assert str(err.value) == "push (timestamp, value) pairs or values alone, not both"
    first = p.stream()
    with pytest.raises(TaskError) as err:
        first.push(("2001-01", 1.0, 2.0))
    assert str(err.value) == ("push: ('2001-01', 1.0, 2.0): give (timestamp, value) or the "
                              "value alone")
    assert first.values == [] and first.times == []
    first.push(("2001-01", 1.0))
    assert len(first.times) == 1 and first.values == [1.0]


def test_a_stream_of_two_columns_takes_rows_and_one_with_covariates_needs_them(tmp_path):
    two = _two(tmp_path)
    s = two.context.series
    stream = two.stream()
    for i in range(4):
        r = stream.push(list(s.values[i]))  # a list of two values: not a pair
    assert r == two.predict([s.values[:4]])[0]
    cov = np.arange(83) / 10
    p = _predictor(tmp_path, covariate=cov, ahead=3, value_columns=["value"],
                   covariate_columns=["cal"])
    with pytest.raises(TaskError) as err:
        p.stream()
    assert str(err.value) == ("the run reads covariates: stream(covariates=...) gives their "
                              "values, from the first point pushed on")
    c = p.context.series.covariates
    assert p.stream(covariates=[[1], [2]]).covariates.dtype == np.float64  # whole numbers too
    stream = p.stream(covariates=c.tolist())
    np.testing.assert_array_equal(stream.covariates, c)
    v = p.context.series.values
    for i in range(6):
        r = stream.push(float(v[i]))
    assert r == p.predict([Series(np.arange(6), v[:6], covariates=c)])[0]


def test_plot_draws_each_column_s_panel_with_its_truth(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr("rnnkit.tasks.timeseries.forecast_predictor.plot_forecast",
                        lambda *a, **kw: seen.append((a, kw)) or a[0])
    p = _predictor(tmp_path)
    (h,) = p.default_inputs()
    r = p.predict([h])[0]
    assert p.plot(r, "f.png") == "f.png"
    (path, hist_t, fut_t, panels), kw = seen[-1]
    assert path == "f.png" and kw == {"title": "fc: 3 steps ahead"}
    assert [str(t) for t in hist_t] == _months(12, 72)
    assert [str(t) for t in fut_t] == _months(72, 75)
    ((name, hist, cols, truth),) = panels
    assert name is None and truth == r["truth"]
    np.testing.assert_allclose(hist, h.values[12:])
    assert set(cols) == {"forecast", "lower_80", "upper_80", "lower_95", "upper_95"}
    np.testing.assert_allclose(cols["upper_95"], r["columns"]["upper_95"])
    named = _predictor(tmp_path, run_dir=tmp_path / "my-run")
    named.plot(named.predict([h.values])[0], "g.png")
    assert seen[-1][1] == {"title": "my-run: 3 steps ahead"}
    assert seen[-1][0][3][0][3] is None  # no truth
    two = _two(tmp_path)
    r = two.predict(two.default_inputs())[0]
    two.plot(r, "h.png")
    panels = seen[-1][0][3]
    assert [panel[0] for panel in panels] == ["a", "b"]
    for (name, hist, cols, truth), k in zip(panels, (0, 1)):
        assert truth == r["truth"][name]
        np.testing.assert_allclose(hist, two.context.series.values[12:72, k])
        np.testing.assert_allclose(cols["forecast"], r["columns"][f"forecast_{name}"])


def test_a_record_s_nulls_plot_as_gaps(tmp_path, monkeypatch):
    """A diverged model's record holds null (None) for NaN: the plot reads it as NaN."""
    seen = []
    monkeypatch.setattr("rnnkit.tasks.timeseries.forecast_predictor.plot_forecast",
                        lambda *a, **kw: seen.append(a))
    p = _predictor(tmp_path)
    r = p.predict([p.context.series])[0]
    r["history"]["value"][-1] = None
    r["columns"]["upper_95"][1] = None
    p.plot(r, "f.png")
    ((_, hist, cols, _),) = seen[0][3]
    assert hist.dtype == np.float64 and np.isnan(hist[-1]) and not np.isnan(hist[:-1]).any()
    for key, a in cols.items():
        assert a.dtype == np.float64
        assert list(np.isnan(a)) == [False, key == "upper_95", False]


def test_a_real_plot_is_written(tmp_path):
    p = _predictor(tmp_path)
    out = p.plot(p.predict(p.default_inputs())[0], tmp_path / "f.png")
    assert out.stat().st_size > 0


def test_write_report_needs_a_run_directory(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr("rnnkit.tasks.timeseries.forecast_predictor.forecast_section",
                        lambda *a: seen.append(a) or tmp_path / "report.md")
    p = _predictor(tmp_path)
    with pytest.raises(TaskError) as err:
        p.write_report()
    assert str(err.value) == "write_report needs the predictor of a run directory"
    q = _predictor(tmp_path, run_dir=tmp_path)
    assert q.write_report() == tmp_path / "report.md"
    assert seen == [(q.model, q.context, tmp_path)]


def test_suffixed_names_a_column_only_for_several():
    assert suffixed("forecast", "") == "forecast"
    assert suffixed("lower_80", "b") == "lower_80_b"
