"""The forecasting transform's small parts (rnnkit/tasks/timeseries/transform.py) that the
numerical round trips do not pin: the saved columns and covariate scaler a predictor reads
back, the defaults, the messages, and origins given as floats (found by mutation testing,
benchmarks/mutation.py)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.timeseries import Scaler
from rnnkit.tasks.timeseries.transform import (
    Transform,
    model_inputs,
    range_origins,
    saved_covariate_scaler,
    saved_value_columns,
)


def test_saved_columns_and_covariate_scaler_as_a_run_records_them():
    assert saved_value_columns({}) == ["value"]  # a run from before columns were recorded
    assert saved_value_columns({"columns": {"time": "t"}}) == ["value"]
    assert saved_value_columns({"columns": {"values": ["a", "b"]}}) == ["a", "b"]
    assert saved_covariate_scaler({}) is None
    assert saved_covariate_scaler({"covariate_scaler": None}) is None
    scaler = Scaler("standard", a=np.array([1.0, 2.0]), b=np.array([3.0, 4.0]))
    back = saved_covariate_scaler({"covariate_scaler": scaler.to_dict()})
    assert back.kind == "standard"
    np.testing.assert_array_equal(back.transform(np.array([[4.0, 6.0]])), [[1.0, 1.0]])


def test_to_dict_round_trips_every_field_and_old_records_have_no_level():
    for difference, level in ((True, False), (False, True), (False, False)):
        t = Transform(Scaler("standard", a=2.0, b=4.0), 7, difference, level)
        d = t.to_dict()
        assert d["season"] == 7 and d["difference"] is difference and d["level"] is level
        back = Transform.from_dict(d)
        assert (back.season, back.difference, back.level) == (7, difference, level)
        assert isinstance(back.season, int) and isinstance(back.difference, bool)
        np.testing.assert_array_equal(back.scaled(np.array([6.0, 10.0])), [1.0, 2.0])
    old = {"scaler": Scaler("none").to_dict(), "season": "12", "difference": 1}
    back = Transform.from_dict(old)
    assert back.level is False and back.season == 12 and back.difference is True


def test_fit_keeps_its_arguments_and_scales_as_float():
    t = Transform.fit([1, 2, 3, 4], "standard", 4, True)
    assert (t.season, t.difference, t.level) == (4, True, False)
    z = t.scaled(np.array([1, 2, 3, 4]))
    assert z.dtype == np.float64
    np.testing.assert_allclose(z, (np.arange(1, 5) - 2.5) / np.std(np.arange(1, 5)))
    assert Transform.fit([1.0, 2.0], "none", 1, False, True).level is True
    none = Transform(Scaler("none"), season=1).scaled(np.array([1, 2, 3]))
    assert none.dtype == np.float64


def test_messages():
    with pytest.raises(ValueError) as err:
        Transform(Scaler("none"), 12, difference=True, level=True)
    assert str(err.value) == ("difference and level both set the targets' reference point; "
                              "choose one")
    with pytest.raises(ValueError) as err:
        range_origins(10, 16, 4, "multistep")
    assert str(err.value) == "a multistep forecast of 6 points needs horizon >= 6, got 4"
    t = Transform(Scaler("none"), season=1)
    with pytest.raises(ValueError) as err:
        model_inputs(t, np.arange(20.0), np.zeros((22, 1)), np.array([15, 19]), window=3,
                     horizon=4, with_targets=False)
    assert str(err.value) == ("covariates known for 22 points; a forecast from point 19 "
                              "reads them up to point 23")


def test_origins_given_as_floats_index_as_integers():
    t = Transform(Scaler("none"), season=1)
    z, zc = np.arange(20.0), np.arange(30.0)[:, None] + 100
    a = model_inputs(t, z, zc, np.array([4.0, 10.0]), window=3, horizon=2)
    b = model_inputs(t, z, zc, np.array([4, 10]), window=3, horizon=2)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
