"""The anomaly task (rnnkit/tasks/anomaly.py) in detail, on untrained models (no training
run): the ranges worked out by hand at the edge of what fits and the exact message past it,
the scalers fitted on the fit range only, the features and the windows of each split
against the series, the model's arguments, the config checks, and the predictor's records,
threshold, stream and plot (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import rnnkit.tasks.anomaly as amod
from rnnkit.data.timeseries import Series
from rnnkit.models import Forecaster
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.anomaly import (
    AnomalyConfig,
    AnomalyContext,
    AnomalyPredictor,
    AnomalyStream,
    min_points,
    ranges,
)
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.timeseries.detector import Alarm, sensor_scores

TASK = TASKS["anomaly"]
T0 = np.datetime64("2020-01-01T00:00", "s")
STEP = np.timedelta64(30, "m")


def _values(n, seed=0, k=1):
    t = np.arange(n)
    v = 10 + 5 * np.sin(2 * np.pi * t / 48)[:, None] + np.random.default_rng(seed).normal(
        0, 0.3, (n, k))
    return v[:, 0] if k == 1 else v


def _times(n):
    return T0 + np.arange(n) * STEP


def _write(path, values, covariate=None):
    v = np.asarray(values, float).reshape(len(values), -1)
    names = ["value"] if v.shape[1] == 1 else ["a", "b", "c"][:v.shape[1]]
    head = ",".join(["timestamp", *names] + (["load"] if covariate is not None else []))
    rows = []
    for i, t in enumerate(_times(len(v))):
        cells = [str(t).replace("T", " "), *(f"{x:.6f}" for x in v[i])]
        if covariate is not None:
            cells.append(f"{covariate[i]:.6f}")
        rows.append(",".join(cells))
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return str(path)


def _raw(task, model=None):
    return {"name": "ad", "seed": 3,
            "task": {"name": "anomaly", "window": 6, "train_size": 60, "calib_size": 0.3,
                     **task},
            "model": {"cell": "gru", "hidden_size": 5, "output": "gaussian", **(model or {})},
            "train": {"steps": 1, "batch_size": 8, "threads": 1, "progress": "off"},
            "diagnostics": {"every": 0}}


def _config(tmp_path, n=100, values=None, covariate=None, model=None, **task):
    values = _values(n) if values is None else values
    data = _write(tmp_path / "s.csv", values, covariate)
    return config_from_raw(_raw({"data": data, **task}, model), "test")


def _ctx(tmp_path, n=100, **kw):
    return TASK.setup(_config(tmp_path, n, **kw))


def _error(ctx):
    with pytest.raises(TaskError) as err:
        ctx.bounds  # noqa: B018
    return str(err.value)


def _cfg(**kw):
    return SimpleNamespace(**{"train_size": 0.5, "calib_size": 0.3, "window": 4, **kw})


def _calendar(times):
    sec = (times - np.datetime64(0, "s")).astype(np.float64)
    cols = []
    for period in (86400.0, 7 * 86400.0):
        a = 2 * np.pi * sec / period
        cols += [np.sin(a), np.cos(a)]
    return np.stack([cols[0], cols[1], cols[2], cols[3]], axis=1)


# -- ranges -------------------------------------------------------------------------------

@pytest.mark.parametrize("n, kw, parts, bounds", [
    (100, {}, {}, (35, 50)),  # 50 points, the last int(15) calibrating
    (101, {}, {}, (35, 50)),  # int(50.5) = 50
    (100, {"train_size": 60}, {}, (42, 60)),  # points: int(18) calibrate
    (100, {"train_size": 61.9}, {}, (43, 61)),  # int(61.9) = 61; int(18.3) = 18
    (100, {"train_size": 1.0}, {}, (1, 1)),  # 1 point (not the whole series)
    (100, {"train_size": 0.99}, {}, (70, 99)),  # int(29.7) = 29
    (100, {"calib_size": 0.25}, {}, (38, 50)),  # int(12.5) = 12
    (100, {}, {"test": 20, "val": 10}, (70, 80)),  # the files set both
    (100, {}, {"test": 20}, (56, 80)),  # no val file: calib_size of 80, int(24)
    (100, {"calib_size": 0.25}, {"test": 30}, (53, 70)),  # int(17.5) = 17
    (100, {}, {"test": 20, "val": 0}, (56, 80)),
])
def test_ranges_by_hand(n, kw, parts, bounds):
    assert ranges(_cfg(**kw), n, parts) == bounds


def _shortest(cfg, limit=2000):
    """The shortest series whose ranges fit, by trying every length, the ranges by hand."""
    for n in range(1, limit):
        train_end = int(cfg.train_size) if cfg.train_size >= 1 else int(n * cfg.train_size)
        fit_end = train_end - int(train_end * cfg.calib_size)
        if cfg.window < fit_end < train_end < n:
            return n
    return None


@pytest.mark.parametrize("kw", [
    {}, {"window": 10}, {"window": 2}, {"train_size": 0.2, "window": 2},
    {"train_size": 0.05, "calib_size": 0.5, "window": 3},
    {"train_size": 0.9, "calib_size": 0.1, "window": 20},
    {"train_size": 0.3, "calib_size": 0.9, "window": 7},
    {"train_size": 0.5, "calib_size": 0.1, "window": 4},
    {"train_size": 0.5, "calib_size": 0.0, "window": 4},
    {"train_size": 0.999, "calib_size": 0.3, "window": 4},
    # one point to calibrate needs a longer series than a fit range above the window
    {"train_size": 0.5, "calib_size": 0.05, "window": 4},  # 40 (20 train, 1 calibrates)
    {"train_size": 0.2, "calib_size": 0.01, "window": 3},
    {"train_size": 0.9, "calib_size": 0.02, "window": 30},
])
def test_min_points_of_a_fraction_is_the_shortest_series_that_fits(kw):
    cfg = _cfg(**kw)
    assert min_points(cfg, {}) == _shortest(cfg, 20000)


def test_min_points_matches_trying_every_length_on_a_grid():
    for train in (0.05, 0.13, 0.3, 0.5, 0.77, 0.95):
        for calib in (0.01, 0.07, 0.1, 0.3, 0.5, 0.9):
            for window in (2, 5, 17, 40):
                cfg = _cfg(train_size=train, calib_size=calib, window=window)
                assert min_points(cfg, {}) == _shortest(cfg, 20000), cfg


def test_min_points_by_hand_and_where_no_length_fits():
    assert min_points(_cfg(window=10), {}) == 30  # 15 points: fit 11 > 10, 4 calibrate
    assert min_points(_cfg(train_size=60, window=24), {}) == 61  # fit 42 > 24
    assert min_points(_cfg(train_size=60, window=41), {}) == 61
    assert min_points(_cfg(train_size=60, window=42), {}) is None  # fit 42 = the window
    assert min_points(_cfg(train_size=60, calib_size=0.0), {}) is None  # nothing calibrates
    assert min_points(_cfg(train_size=1.0, window=2), {}) is None
    assert min_points(_cfg(train_size=0.0), {}) is None
    assert min_points(_cfg(calib_size=1.0), {}) is None  # nothing fits
    assert min_points(_cfg(), {"test": 5}) is None
    assert min_points(_cfg(train_size=60, window=24), {"test": 5, "val": 3}) is None


def test_the_shortest_series_fits_and_one_point_less_says_so(tmp_path):
    src = str(tmp_path / "s.csv")
    ok = _ctx(tmp_path, 61)
    assert ok.bounds == (42, 60) and (ok.fit_end, ok.train_end) == (42, 60)
    assert _error(_ctx(tmp_path, 60)) == (
        f"{src}: 60 points; window 6 needs at least 61: a training range whose first part "
        "(more than the window) fits the model and whose last task.calib_size calibrates the "
        "threshold, and points after it to score (here: training range 60, fit 42)")
    # a fraction: 29 points train, 21 of them fit; one point less, 28 and 20
    frac = {"train_size": 0.5, "window": 20}
    assert _ctx(tmp_path, 58, **frac).bounds == (21, 29)
    assert "needs at least 58: " in _error(_ctx(tmp_path, 57, **frac))
    assert "(here: training range 28, fit 20)" in _error(_ctx(tmp_path, 57, **frac))
    # the fit range must hold more than the window
    assert _ctx(tmp_path, 61, window=41).bounds == (42, 60)
    assert _error(_ctx(tmp_path, 100, window=42)).startswith(
        f"{src}: 100 points; window 42 needs at least more: ")
    # no calibration range
    assert "(here: training range 60, fit 60)" in _error(_ctx(tmp_path, 100, calib_size=0.0))


def test_the_message_names_the_parts_or_the_named_series(tmp_path):
    values = _values(70)
    for key, lo, hi in (("train", 0, 50), ("val", 50, 60), ("test", 60, 70)):
        s = Series(_times(70)[lo:hi], values[lo:hi])
        (tmp_path / f"{key}.csv").write_text("timestamp,value\n" + "".join(
            f"{str(t).replace('T', ' ')},{v:.6f}\n" for t, v in zip(s.timestamps, s.values)))
    parts = {f"{k}_data": str(tmp_path / f"{k}.csv") for k in ("train", "val", "test")}
    ctx = TASK.setup(config_from_raw(_raw(parts), "test"))
    assert ctx.source[1] == {"val": 10, "test": 10}
    assert ctx.bounds == (50, 60)
    short = TASK.setup(config_from_raw(_raw({**parts, "window": 50}), "test"))
    assert _error(short) == (
        f"{tmp_path / 'train.csv'}: 70 points; window 50 needs at least more: a training "
        "range whose first part (more than the window) fits the model and whose last "
        "task.calib_size calibrates the threshold, and points after it to score (here: "
        "training range 60, fit 50)")
    named = TASK.setup(config_from_raw(_raw({"series": "my_series"}), "test"))
    named.__dict__["source"] = (Series(_times(30), _values(30)), {})
    assert _error(named).startswith("my_series: 30 points; window 6 needs at least 61: ")


@pytest.mark.parametrize("n, task, ok", [
    (61, {}, True), (60, {}, False),  # train_end < n
    (100, {"window": 41}, True), (100, {"window": 42}, False),  # window < fit_end
    (100, {"calib_size": 1 / 60 + 1e-9}, True),  # 1 point calibrates
    (100, {"calib_size": 0.0}, False),  # fit_end < train_end
])
def test_each_inequality_of_the_ranges(tmp_path, n, task, ok):
    ctx = _ctx(tmp_path, n, **task)
    if ok:
        assert ctx.bounds[1] == 60
    else:
        _error(ctx)


# -- scalers, features, splits ------------------------------------------------------------

def test_the_scalers_are_fitted_on_the_fit_range_only(tmp_path):
    values = _values(100)
    values[42:] += 100.0  # the calibration and scored ranges: far off
    cov = np.arange(100) / 7.0
    ctx = _ctx(tmp_path, values=values, covariate=cov, value_columns=["value"],
               covariate_columns=["load"])
    v = np.round(values[:42], 6)
    d = ctx.scaler.to_dict()
    assert d["kind"] == "standard"
    assert np.ravel(d["a"])[0] == pytest.approx(v.mean())
    assert np.ravel(d["b"])[0] == pytest.approx(v.std())
    c = np.round(cov[:42], 6)
    cd = ctx.covariate_scaler.to_dict()
    assert cd["kind"] == "standard"
    assert np.ravel(cd["a"])[0] == pytest.approx(c.mean())
    assert np.ravel(cd["b"])[0] == pytest.approx(c.std())
    mm = _ctx(tmp_path, values=values, scaler="minmax").scaler.to_dict()
    assert mm["kind"] == "minmax" and np.ravel(mm["a"])[0] == pytest.approx(v.min())
    assert _ctx(tmp_path).covariate_scaler is None


def _features_by_hand(values, times, mean, std, cov=None, cmean=0.0, cstd=1.0,
                      calendar=True):
    v = np.asarray(values, float).reshape(len(values), -1)
    cols = [(v - mean) / std]
    if cov is not None:
        cols.append((np.asarray(cov, float).reshape(len(cov), -1) - cmean) / cstd)
    if calendar:
        cols.append(_calendar(times))
    return np.concatenate(cols, axis=1)


def test_features_are_the_scaled_values_covariates_and_calendar(tmp_path):
    values = np.round(_values(100), 6)
    cov = np.round(np.arange(100) / 7.0, 6)
    ctx = _ctx(tmp_path, values=values, covariate=cov, value_columns=["value"],
               covariate_columns=["load"])
    f = ctx.features(ctx.series)
    want = _features_by_hand(values, _times(100), values[:42].mean(), values[:42].std(),
                             cov, cov[:42].mean(), cov[:42].std())
    assert f.shape == (100, 6)
    np.testing.assert_allclose(f, want, rtol=1e-9, atol=1e-9)
    plain = _ctx(tmp_path, values=values, calendar=False)
    f = plain.features(plain.series)
    np.testing.assert_allclose(f, (values[:, None] - values[:42].mean()) / values[:42].std(),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2])
def test_windows_of_each_split_by_hand(tmp_path, k):
    values = np.round(_values(100, k=k), 6)
    ctx = _ctx(tmp_path, values=values)
    w = 6
    f = _features_by_hand(values, _times(100), values[:42].mean(0), values[:42].std(0))
    data = TASK.make_splits(ctx)
    assert set(data) == {"train", "val", "test"}
    for split, (lo, hi) in (("train", (0, 42)), ("val", (42 - w, 60)),
                            ("test", (60 - w, 100))):
        starts = range(lo, hi - w)
        x, y = data[split]["x"], data[split]["y"]
        assert x.dtype == torch.float32 and y.dtype == torch.float32
        assert x.shape == (len(starts), w, k + 4)
        assert y.shape == ((len(starts), 1) if k == 1 else (len(starts), 1, k))
        for i, s in enumerate(starts):
            np.testing.assert_allclose(x[i].numpy(), f[s:s + w], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(y[i].numpy().reshape(-1), f[s + w, :k], rtol=1e-5,
                                       atol=1e-6)


# -- model, checks, info, hooks -----------------------------------------------------------

def test_model_args_and_the_model_built(tmp_path):
    assert TASK.model_args(_ctx(tmp_path)) == {
        "input_size": 5, "output_size": 1, "horizon": 1, "mode": "direct",
        "quantiles": [0.025, 0.1, 0.5, 0.9, 0.975]}
    ctx = _ctx(tmp_path, values=_values(100, k=2), covariate=np.arange(100.0),
               covariate_columns=["load"], calendar=False)
    args = TASK.model_args(ctx)
    assert (args["input_size"], args["output_size"]) == (3, 2)
    model = TASK.build_model(ctx)
    assert type(model) is Forecaster
    assert (model.output_size, model.horizon, model.mode) == (2, 1, "direct")
    assert model.get_config()["hidden_size"] == 5 and model.get_config()["cell"] == "gru"


def test_the_task_s_declarations():
    assert TASK.name == "anomaly" and TASK.model_class == "Forecaster"
    assert TASK.config_class is AnomalyConfig and TASK.context_class is AnomalyContext
    assert TASK.capabilities == {"detect", "stream", "plot", "report"}
    keys = TASK.model_keys()
    for fixed in ("input_size", "output_size", "horizon", "mode", "quantiles",
                  "interval_factors", "covariates"):
        assert fixed not in keys
    assert {"hidden_size", "cell", "output"} <= keys


def test_config_defaults():
    c = AnomalyConfig()
    assert (c.name, c.series, c.train_size, c.calib_size, c.window, c.scaler, c.calendar,
            c.smooth, c.threshold_factor, c.release_factor, c.hold) == (
        "anomaly", "nyc_taxi", 0.15, 0.3, 96, "standard", True, 1, 1.0, 1.0, 0)


OUTPUT = "model.output: the anomaly score needs a spread; use \"gaussian\" or \"quantile\""


def test_check_refuses_point_forecasts_bidirectional_models_and_unread_keys(tmp_path):
    cfg = _config(tmp_path)
    assert TASK.check(cfg) == []
    quantile = replace(cfg, model=replace(cfg.model, options={**cfg.model.options,
                                                              "output": "quantile"}))
    assert TASK.check(quantile) == []
    for output in ("point", "XX"):
        bad = replace(cfg, model=replace(cfg.model, options={**cfg.model.options,
                                                             "output": output}))
        assert OUTPUT in TASK.check(bad)
    none = replace(cfg, model=replace(cfg.model, options={
        k: v for k, v in cfg.model.options.items() if k != "output"}))
    assert TASK.check(none) == [OUTPUT]
    bi = replace(cfg, model=replace(cfg.model, bidirectional=True))
    assert "model.bidirectional: a streaming detector reads forward only" in TASK.check(bi)
    t = cfg.task
    for key, value in (("split_seed", 3), ("val_fraction", 0.2), ("test_fraction", 0.2)):
        assert TASK.check(replace(cfg, task=replace(t, **{key: value}))) == [
            f"task.{key} = {value!r}: a series is split by time, never shuffled; this key "
            "is not read (leave it out)"]
    assert TASK.check(replace(cfg, task=replace(t, value_columns=["value"],
                                                value_column="value"))) == [
        "task.value_column is the former name of task.value_columns: set one"]
    bad_model = replace(cfg, model=replace(cfg.model, options={**cfg.model.options,
                                                               "nonsense": 1}))
    assert any("nonsense" in e for e in TASK.check(bad_model))
    every = replace(cfg, task=replace(t, split_seed=3), model=replace(
        cfg.model, bidirectional=True, options={**cfg.model.options, "nonsense": 1,
                                                "output": "point"}))
    assert TASK.check(every) == [  # the model's keys, the source's, then the task's own
        "model.bidirectional = True: Forecaster (task 'anomaly') does not take it",
        "model.nonsense = 1: Forecaster (task 'anomaly') does not take it",
        "task.split_seed = 3: a series is split by time, never shuffled; this key is not "
        "read (leave it out)", OUTPUT,
        "model.bidirectional: a streaming detector reads forward only"]


def test_info_records_the_scalers_and_columns(tmp_path):
    ctx = _ctx(tmp_path)
    info = TASK.info(ctx, TASK.build_model(ctx))
    assert info["scaler"] == ctx.scaler.to_dict()
    assert info["columns"] == {"time": "", "values": ["value"], "covariates": []}
    assert "covariate_scaler" not in info and info["task"]["window"] == 6
    ctx = _ctx(tmp_path, covariate=np.arange(100.0), value_columns=["value"],
               covariate_columns=["load"])
    info = TASK.info(ctx, TASK.build_model(ctx))
    assert info["columns"] == {"time": "", "values": ["value"], "covariates": ["load"]}
    assert info["covariate_scaler"] == ctx.covariate_scaler.to_dict()
    assert info["covariate_scaler"]["kind"] == "standard"


def test_hooks_pass_the_model_context_and_run_on(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(amod, "evaluate_detection", lambda *a: seen.append(a) or {"f1": 1.0})
    monkeypatch.setattr(amod, "detection_section", lambda *a: seen.append(a) or "report.md")
    ctx, model = "ctx", "model"
    assert TASK.extra_metrics(ctx, model, "train") == {}
    assert TASK.extra_metrics(ctx, model, "val") == {}
    assert TASK.extra_metrics(ctx, model, "test") == {"f1": 1.0}
    assert TASK.after_training(ctx, model, "run") is None
    assert seen == [(model, ctx), (model, ctx, "run")]


# -- the predictor ------------------------------------------------------------------------

def _predictor(tmp_path, n=100, run_dir=None, seed=0, **kw):
    ctx = _ctx(tmp_path, n, **kw)
    torch.manual_seed(seed)
    model = TASK.build_model(ctx)
    p = TASK.predictor(ctx, model, TASK.info(ctx, model), run_dir)
    assert type(p) is AnomalyPredictor
    assert (p.context, p.model, p.run_dir, p.task) == (ctx, model, run_dir, "anomaly")
    return p


def _threshold_by_hand(p, factor):
    ctx = p.context
    v = ctx.series.values[:60]
    v = v.reshape(60, -1)
    f = _features_by_hand(v, ctx.series.timestamps[:60], v[:42].mean(0), v[:42].std(0),
                          calendar=ctx.task_cfg.calendar)
    scores, _ = sensor_scores(p.model, f, ctx.task_cfg.smooth)
    return factor * scores[42:60].max()


def test_the_threshold_is_the_factor_times_the_calibration_maximum(tmp_path):
    p = _predictor(tmp_path, threshold_factor=0.75, smooth=3)
    assert p.threshold == pytest.approx(_threshold_by_hand(p, 0.75), rel=1e-6)
    # the scalers come from model.json
    assert p.scaler.to_dict() == p.context.scaler.to_dict()
    assert p.covariate_scaler is None and p.sensors == ["value"]


def _record_by_hand(p, values, times, smooth, factor, release=1.0, hold=0):
    """Scores, per-sensor scores, the threshold and the alarms: none in the warm-up (the
    first window + smooth - 1 points), then the alarm rule from off."""
    v = np.asarray(values, float).reshape(len(values), -1)
    s = p.context.scaler
    f = _features_by_hand(v, times, s.a, s.b, calendar=p.config.task.calendar)
    scores, sensors = sensor_scores(p.model, f, smooth)
    limit = _threshold_by_hand(p, factor)
    w = p.config.task.window + smooth - 1
    alarms = np.zeros(len(scores), dtype=bool)
    alarms[w:] = Alarm(limit, release * limit, hold).run(scores[w:])
    return scores, sensors, limit, alarms


def test_a_record_holds_the_values_scores_and_alarms_by_hand(tmp_path, monkeypatch):
    p = _predictor(tmp_path, threshold_factor=0.4, smooth=2, release_factor=0.5, hold=2)
    s = p.context.series
    scores, _, limit, alarms = _record_by_hand(p, s.values, s.timestamps, 2, 0.4, 0.5, 2)
    assert alarms.any() and not alarms.all()
    assert (alarms != (scores > limit)).any()  # the release level and hold act
    (r,) = p.predict([s])
    assert list(r) == ["columns", "threshold", "alarm_points", "warmup_points", "windows"]
    cols = r["columns"]
    assert list(cols) == ["timestamp", "value", "score", "is_anomaly", "warmup"]
    assert cols["warmup"] == [i < 7 for i in range(100)]  # window 6 + smooth 2 - 1
    assert r["warmup_points"] == 7 and p.predict([s.head(5)])[0]["warmup_points"] == 5
    assert cols["timestamp"][:2] == ["2020-01-01 00:00:00", "2020-01-01 00:30:00"]
    assert cols["value"] == [float(x) for x in s.values]
    np.testing.assert_allclose(cols["score"], scores, rtol=1e-6)
    assert cols["is_anomaly"] == alarms.tolist()
    assert r["threshold"] == pytest.approx(limit, rel=1e-6)
    assert r["alarm_points"] == int(alarms.sum()) and r["windows"] == []
    assert all(type(x) is float for x in cols["score"] + cols["value"])
    assert all(type(x) is bool for x in cols["is_anomaly"] + cols["warmup"])
    assert type(r["alarm_points"]) is int
    # streamed point by point (through the stream): the same record
    calls = []
    update = AnomalyStream.detector_update
    monkeypatch.setattr(AnomalyStream, "detector_update",
                        lambda self, *a: calls.append(1) or update(self, *a))
    (streamed,) = p.predict([s], stream=True)
    assert len(calls) == 100
    np.testing.assert_allclose(streamed["columns"]["score"], cols["score"], rtol=1e-4,
                               atol=1e-5)
    assert streamed["columns"]["is_anomaly"] == cols["is_anomaly"]
    assert streamed["columns"]["warmup"] == cols["warmup"]
    assert streamed["columns"]["value"] == cols["value"]
    assert streamed["alarm_points"] == r["alarm_points"]
    # several series: one record each, in order
    two = p.predict([s.head(50), s])
    assert len(calls) == 100  # the batch pass: no stream
    assert len(two) == 2 and len(two[0]["columns"]["score"]) == 50
    assert two[1]["columns"]["score"] == cols["score"]


def test_values_alone_without_calendar_features(tmp_path):
    p = _predictor(tmp_path, calendar=False, threshold_factor=0.5)
    v = p.context.series.values
    (r,) = p.predict([v[:30].tolist()])
    scores, _, limit, alarms = _record_by_hand(p, v[:30], np.arange(30), 1, 0.5)
    assert r["columns"]["timestamp"] == [str(i) for i in range(30)]
    np.testing.assert_allclose(r["columns"]["score"], scores, rtol=1e-6)
    assert r["columns"]["is_anomaly"] == alarms.tolist()
    assert r["windows"] == []
    (streamed,) = p.predict([v[:30]], stream=True)
    np.testing.assert_allclose(streamed["columns"]["score"], scores, rtol=1e-4, atol=1e-5)


def test_labelled_windows_are_read_only_for_timed_series(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(amod, "labelled_windows",
                        lambda ctx, t: seen.append((ctx, len(t))) or [(3, 5), (8, 8)])
    p = _predictor(tmp_path, calendar=False)
    s = p.context.series
    (r,) = p.predict([s])
    assert r["windows"] == [[3, 5], [8, 8]] and seen == [(p.context, 100)]
    (r,) = p.predict([s.values])  # positions: no times to place the windows at
    assert r["windows"] == [] and len(seen) == 1
    json_safe = p.predict([s], stream=True)[0]
    assert json_safe["windows"] == [[3, 5], [8, 8]]


def test_inputs_are_checked(tmp_path):
    p = _predictor(tmp_path)
    s = p.context.series
    with pytest.raises(TaskError) as err:
        p.predict(s)
    assert str(err.value) == "predict takes a list of series; wrap one in a list"
    with pytest.raises(TaskError) as err:
        p.predict([s, s.values])
    assert str(err.value) == ("series 1: the run reads calendar features; give timestamps "
                              "(a Series, or read_file(csv))")
    one = Series(s.timestamps[:1], s.values[:1])
    one.name = "one"
    for stream in (False, True):
        with pytest.raises(TaskError) as err:
            p.predict([s, s, one], stream=stream)
        assert str(err.value) == ("series 2 (one): 1 point(s); scoring needs at least 2 (the "
                                  "first point has no forecast to score against)")
    (r,) = p.predict([s.head(2)])
    assert len(r["columns"]["score"]) == 2 and r["columns"]["score"][0] == 0.0
    plain = _predictor(tmp_path, calendar=False)
    with pytest.raises(TaskError, match="series 0: not a sequence"):
        plain.predict([["x", "y"]])
    assert len(plain.predict([[1.0, 2.0]])[0]["columns"]["score"]) == 2


def _sensors(tmp_path, **kw):
    values = _values(100, k=2)
    load = np.where(np.arange(100) % 48 < 24, 1.0, 0.0)
    return _predictor(tmp_path, values=values, covariate=load, value_columns=["b", "a"],
                      covariate_columns=["load"], calendar=False, **kw), values, load


def test_several_sensors_and_a_covariate(tmp_path):
    p, values, load = _sensors(tmp_path, threshold_factor=0.5)
    assert p.sensors == ["b", "a"] and p.model.output_size == 2
    cs = p.covariate_scaler.to_dict()
    assert cs == p.context.covariate_scaler.to_dict()
    s = p.context.series
    np.testing.assert_allclose(s.values, np.round(values[:, ::-1], 6))
    (r,) = p.predict([s])
    cols = r["columns"]
    assert list(cols) == ["timestamp", "value_b", "value_a", "score_b", "score_a", "score",
                          "is_anomaly", "warmup"]
    assert r["sensors"] == ["b", "a"] and list(r)[-1] == "sensors"
    sc = p.context.scaler
    f = np.concatenate([(s.values - sc.a) / sc.b,
                        (s.covariates - load[:42].mean()) / load[:42].std()], axis=1)
    scores, sensors = sensor_scores(p.model, f, 1)
    np.testing.assert_allclose(cols["score"], scores, rtol=1e-6)
    np.testing.assert_allclose(cols["score_b"], sensors[:, 0], rtol=1e-6)
    np.testing.assert_allclose(cols["score_a"], sensors[:, 1], rtol=1e-6)
    assert cols["value_b"] == [float(x) for x in s.values[:, 0]]
    assert cols["value_a"] == [float(x) for x in s.values[:, 1]]
    (streamed,) = p.predict([s], stream=True)
    for key in ("score", "score_a", "score_b"):
        np.testing.assert_allclose(streamed["columns"][key], cols[key], rtol=1e-4, atol=1e-5)
    assert streamed["columns"]["is_anomaly"] == cols["is_anomaly"]
    # values alone: no covariates, which the run reads
    with pytest.raises(TaskError, match="series 0: the run reads 1 covariate column"):
        p.predict([s.values])
    # the stream pushes rows of the two values, and the covariate
    stream = p.stream()
    with pytest.raises(TaskError) as err:
        stream.push((s.timestamps[0], s.values[0]))
    assert str(err.value) == "the run reads covariates: push (timestamp, value, covariates)"
    assert stream.points == 0
    pushed = [stream.push((t, list(v), list(c)))
              for t, v, c in zip(s.timestamps, s.values, s.covariates)]
    assert stream.points == 100
    assert list(pushed[0]) == ["timestamp", "value_b", "value_a", "score_b", "score_a",
                               "score", "alarm", "warmup"]
    assert pushed[1]["timestamp"] == "2020-01-01 00:30:00"
    assert [x["value_a"] for x in pushed] == cols["value_a"]
    for key in ("score", "score_a", "score_b"):
        np.testing.assert_allclose([x[key] for x in pushed], cols[key], rtol=1e-4, atol=1e-5)
    assert [x["alarm"] for x in pushed] == cols["is_anomaly"]
    assert [x["warmup"] for x in pushed] == cols["warmup"] == [i < 6 for i in range(100)]


def test_the_stream_of_one_sensor(tmp_path):
    p = _predictor(tmp_path, threshold_factor=0.5, smooth=2)
    s = p.context.series
    (r,) = p.predict([s])
    stream = p.stream()
    assert isinstance(stream, AnomalyStream) and stream.predictor is p and stream.points == 0
    out = [stream.push((str(t).replace("T", " "), float(v)))
           for t, v in zip(s.timestamps[:40], s.values[:40])]
    assert list(out[0]) == ["timestamp", "value", "score", "alarm", "warmup"]
    assert out[0] == {"timestamp": "2020-01-01 00:00:00", "value": float(s.values[0]),
                      "score": 0.0, "alarm": False, "warmup": True}
    assert [o["warmup"] for o in out] == [i < 7 for i in range(40)]
    assert all(type(o["warmup"]) is bool for o in out)
    assert stream.points == 40
    np.testing.assert_allclose([o["score"] for o in out], r["columns"]["score"][:40],
                               rtol=1e-4, atol=1e-5)
    assert [o["alarm"] for o in out] == r["columns"]["is_anomaly"][:40]
    assert all(type(o["score"]) is float and type(o["alarm"]) is bool for o in out)
    # a list pair, and a three-element tuple (no covariates: the third is ignored)
    stream.reset()
    assert stream.points == 0
    first = stream.push([s.timestamps[0], s.values[0]])
    assert first == out[0]
    second = stream.push((s.timestamps[1], s.values[1], None))
    assert second["score"] == pytest.approx(out[1]["score"], rel=1e-5)
    for bad in ((s.timestamps[0],), (s.timestamps[0], 1.0, None, 4)):
        with pytest.raises(TaskError) as err:
            stream.push(bad)
        assert str(err.value) == (f"push: {bad!r}: give (timestamp, value[, covariates]) or "
                                  "the value alone")
    with pytest.raises(TaskError) as err:
        stream.push(1.0)
    assert str(err.value) == "the run reads calendar features: push (timestamp, value)"
    with pytest.raises(TaskError, match="is not a time"):
        stream.push(("soon", 1.0))
    assert stream.points == 2


def test_the_stream_without_calendar_features_counts_the_points(tmp_path):
    p = _predictor(tmp_path, calendar=False)
    v = p.context.series.values
    (r,) = p.predict([v[:20]])
    stream = p.stream()
    out = [stream.push(float(x)) for x in v[:20]]
    assert [o["timestamp"] for o in out] == [str(i) for i in range(20)]
    np.testing.assert_allclose([o["score"] for o in out], r["columns"]["score"], rtol=1e-4,
                               atol=1e-5)
    assert [o["value"] for o in out] == [float(x) for x in v[:20]]
    stream.reset()
    pair = stream.push(("2020-01-01 00:00", float(v[0])))  # the time: shown, never read
    assert pair["timestamp"] == "2020-01-01 00:00" and pair["score"] == 0.0
    later = stream.push(("row 2", float(v[1])))  # any label: not parsed as a time
    assert later["timestamp"] == "row 2"
    assert later["score"] == pytest.approx(out[1]["score"], rel=1e-5)
    with pytest.raises(TaskError, match=r"push: \[1.0, 2.0, 3.0, 4.0\]: give"):
        stream.push([1.0, 2.0, 3.0, 4.0])  # one sensor: a list is a pair


def test_read_file_and_default_inputs(tmp_path):
    p = _predictor(tmp_path)
    assert p.default_inputs() == [p.context.series]
    path = tmp_path / "in.csv"
    path.write_text("timestamp,x,value\n2020-01-01 00:30:00,9,3\n2020-01-01 00:00:00,9,1\n")
    with pytest.raises(TaskError, match="sort"):
        p.read_file(path)
    (s,) = p.read_file(path, repair="sort")  # by the name the run recorded
    np.testing.assert_allclose(s.values, [1, 3])
    assert s.name == str(path)


def test_plot_draws_the_record(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(amod, "plot_detection", lambda *a, **kw: seen.append((a, kw)) or a[0])
    p = _predictor(tmp_path, threshold_factor=0.5)
    (r,) = p.predict([p.context.series])
    r["windows"] = [[3, 5]]
    assert p.plot(r, "d.png") == "d.png"
    (path, t, values, scores, alarms, limit, windows), kw = seen[-1]
    assert path == "d.png" and kw == {"title": "ad", "sensors": None, "names": None,
                                      "warmup": r["warmup_points"]}
    assert r["warmup_points"] > 0
    np.testing.assert_array_equal(t, p.context.series.timestamps)
    np.testing.assert_allclose(values, r["columns"]["value"])
    np.testing.assert_allclose(scores, r["columns"]["score"])
    assert alarms.dtype == bool and alarms.tolist() == r["columns"]["is_anomaly"]
    assert limit == r["threshold"] and windows == [(3, 5)]
    named = _predictor(tmp_path, run_dir=tmp_path / "my-run", calendar=False)
    (r,) = named.predict([[1.0, 2.0, 3.0]])
    r["columns"]["score"][1] = None  # null: a gap
    r["columns"]["value"][2] = None
    named.plot(r, "e.png")
    (_, t, values, scores, _, _, _), kw = seen[-1]
    assert kw["title"] == "my-run" and t.tolist() == [0, 1, 2]
    assert scores.dtype == np.float64 and np.isnan(scores).tolist() == [False, True, False]
    assert values.dtype == np.float64 and np.isnan(values).tolist() == [False, False, True]
    many, _, _ = _sensors(tmp_path)
    (r,) = many.predict([many.context.series])
    r["columns"]["value_a"][3] = None
    r["columns"]["score_b"][4] = None
    many.plot(r, "f.png")
    (_, _, values, _, _, _, _), kw = seen[-1]
    assert kw["names"] == ["b", "a"] and values.shape == (100, 2)
    assert values.dtype == np.float64 and kw["sensors"].dtype == np.float64
    assert np.flatnonzero(np.isnan(values[:, 1])).tolist() == [3]
    assert np.flatnonzero(np.isnan(kw["sensors"][:, 0])).tolist() == [4]
    np.testing.assert_allclose(np.delete(values[:, 1], 3),
                               np.delete(np.array(r["columns"]["value_a"], float), 3))
    np.testing.assert_allclose(np.delete(kw["sensors"][:, 0], 4),
                               np.delete(np.array(r["columns"]["score_b"], float), 4))
    np.testing.assert_allclose(kw["sensors"][:, 1], r["columns"]["score_a"])


def test_a_real_plot_is_written(tmp_path):
    p = _predictor(tmp_path)
    out = p.plot(p.predict(p.default_inputs())[0], tmp_path / "d.png")
    assert out.stat().st_size > 0


def test_write_report_needs_a_run_directory(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(amod, "detection_section",
                        lambda *a: seen.append(a) or tmp_path / "report.md")
    p = _predictor(tmp_path)
    with pytest.raises(TaskError) as err:
        p.write_report()
    assert str(err.value) == "write_report needs the predictor of a run directory"
    q = _predictor(tmp_path, run_dir=tmp_path)
    assert q.write_report() == tmp_path / "report.md"
    assert seen == [(q.model, q.context, tmp_path)]
