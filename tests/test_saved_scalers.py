"""Evaluate, ``train --resume`` and a predictor's context read a time-series run's scalers
from its model.json (forecast's transform, anomaly's scaler), not fitted again from a
series changed since: the figures on the unchanged test range stay as they were (but for
those scaled by the training range itself, MASE's); a run whose model.json lacks them
(older versions) still fits them."""

import warnings

import numpy as np
import pytest
from _saved_runs import TRAIN, as_old_run, evaluate_changed, model_json

import rnnkit
from rnnkit.tasks import TASKS, evaluate_run, train_run
from rnnkit.tasks.runner import config_from_raw


def _raw(task: dict, **model) -> dict:
    return {"name": "t", "task": task, "train": dict(TRAIN), "diagnostics": {"every": 0},
            "model": {"cell": "gru", "hidden_size": 8, **model}}


def _resume(raw: dict, run) -> None:
    raw["train"]["steps"] += 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        train_run(config_from_raw(raw, "t"), run, resume=True)


def _csv(path, values, labels=None) -> str:
    """A daily series (with a 0/1 ``label`` column where ``labels`` are given)."""
    days = np.arange("2020-01-01", len(values), dtype="datetime64[D]")
    if labels is None:
        rows = [f"{d},{v:.4f}" for d, v in zip(days, values)]
    else:
        rows = [f"{d},{v:.4f},{k}" for d, v, k in zip(days, values, labels)]
    path.write_text(f"day,v{',label' * (labels is not None)}\n" + "\n".join(rows) + "\n")
    return str(path)


def _series(n: int) -> np.ndarray:
    return 10 + np.sin(np.arange(n) / 3) + 0.1 * np.random.default_rng(0).normal(size=n)


def _unscaled(figures: dict) -> dict:
    """The figures that read no training values (MASE is scaled by the training range's
    naive errors, a step, the baselines' differ by it alone)."""
    return {k: v for k, v in figures.items() if "mase" not in k and k not in ("step",
                                                                              "baselines")}


# -- forecast ----------------------------------------------------------------------------------
def test_forecast_evaluates_resumes_and_predicts_with_the_transform_it_saved(tmp_path):
    values = _series(80)
    task = {"name": "forecast", "data": _csv(tmp_path / "s.csv", values), "test_size": 12,
            "val_size": 12, "window": 6, "horizon": 3}
    raw = _raw(task, output="quantile")
    train_run(config_from_raw(raw, "t"), tmp_path / "run")
    before = evaluate_run(tmp_path / "run")
    saved = model_json(tmp_path / "run")["transform"]
    changed = values.copy()
    changed[:20] += 50  # the first training points only: fitted again, another scaler
    _csv(tmp_path / "s.csv", changed)
    assert TASKS["forecast"].setup(config_from_raw(raw, "t")).transform.to_dict() != saved
    after = evaluate_changed(tmp_path / "run")
    assert _unscaled(after) == pytest.approx(_unscaled(before))
    p = rnnkit.load(tmp_path / "run")  # its interval factors: the saved transform's too
    assert p.context.transform.to_dict() == saved
    _resume(raw, tmp_path / "run")
    assert model_json(tmp_path / "run", "last")["transform"] == saved
    _csv(tmp_path / "s.csv", values)
    before = evaluate_run(tmp_path / "run")
    as_old_run(tmp_path / "run", "transform")  # an older run: fitted again, as before
    assert evaluate_run(tmp_path / "run") == before


# -- anomaly -----------------------------------------------------------------------------------
def test_anomaly_evaluates_resumes_and_detects_with_the_scaler_it_saved(tmp_path):
    values, labels = _series(240), np.zeros(240, int)
    values[200:204] += 5  # something to find
    labels[200:204] = 1
    task = {"name": "anomaly", "data": _csv(tmp_path / "s.csv", values, labels),
            "train_size": 120, "window": 8}
    raw = _raw(task)
    train_run(config_from_raw(raw, "t"), tmp_path / "run")
    before = evaluate_run(tmp_path / "run")
    threshold = rnnkit.load(tmp_path / "run").threshold
    saved = model_json(tmp_path / "run")["scaler"]
    changed = values.copy()
    changed[:40] += 50  # the first fitting points only: fitted again, another scaler
    _csv(tmp_path / "s.csv", changed, labels)
    assert TASKS["anomaly"].setup(config_from_raw(raw, "t")).scaler.to_dict() != saved
    assert evaluate_changed(tmp_path / "run") == pytest.approx(before)
    # the predictor's threshold (its calibration range scored through its context) too
    assert rnnkit.load(tmp_path / "run").threshold == pytest.approx(threshold)
    _resume(raw, tmp_path / "run")
    assert model_json(tmp_path / "run", "last")["scaler"] == saved
    _csv(tmp_path / "s.csv", values, labels)
    before = evaluate_run(tmp_path / "run")
    as_old_run(tmp_path / "run", "scaler")  # an older run: fitted again, as before
    assert evaluate_run(tmp_path / "run") == before
