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


def test_anchors_are_the_last_observed_point_of_the_same_season_by_hand():
    """a_h = T - m + 1 + (h - 1) mod m: for T = 20, m = 12, h = 1..15 the points 9..20, then
    9, 10, 11 again (never a point after the origin)."""
    t = Transform(Scaler("none"), season=12, difference=True)
    idx = t.anchor_index(np.array([20, 30]), 15)
    assert idx[0].tolist() == list(range(9, 21)) + [9, 10, 11]
    assert idx[1].tolist() == list(range(19, 31)) + [19, 20, 21]
    z = np.arange(100.0) ** 1.5
    x, y = t.windows(z, np.array([40]), window=5, horizon=15)
    want_y = [z[40 + h] - z[40 - 12 + 1 + (h - 1) % 12] for h in range(1, 16)]
    np.testing.assert_allclose(y[0], want_y)
    want_x = [z[i] - z[i - 12] for i in range(36, 41)]
    np.testing.assert_allclose(x[0], want_x)
    back = t.to_original(y, t.anchors(z, np.array([40]), 15))
    np.testing.assert_allclose(back[0], z[41:56])


def test_features_are_nan_before_a_full_season_and_first_origins():
    t = Transform(Scaler("none"), season=4, difference=True)
    f = t.features(np.arange(10.0) ** 2)
    assert np.isnan(f[:4]).all()
    np.testing.assert_allclose(f[4:], [(i**2 - (i - 4) ** 2) for i in range(4, 10)])
    assert t.first_origin(6) == 4 + 6 - 1
    plain = Transform(Scaler("none"), season=4)
    assert plain.first_origin(6) == 5 and plain.first_origin(1) == 0
    level = Transform(Scaler("none"), season=12, level=True)
    assert level.first_origin(3) == 11 and level.first_origin(20) == 19
    with pytest.raises(ValueError) as err:
        t.windows(np.arange(30.0), np.array([8, 20]), window=6, horizon=2)
    assert str(err.value) == "origin 8 has less than a full window of history"


def test_several_columns_scale_time_last_and_quantiles_map_back():
    t = Transform.fit(np.arange(1.0, 41.0).reshape(20, 2), "standard", 1, False)
    z = t.scaled(np.arange(1.0, 41.0).reshape(20, 2))
    assert z.shape == (2, 20)  # (K, N): time last
    one = Transform.fit(np.arange(1.0, 21.0), "standard", 1, False).scaled(np.arange(1.0, 5.0))
    assert one.shape == (4,)
    anchors = np.array([[1.0, 2.0]])  # (N, H)
    y = np.array([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]])  # (N, H, Q)
    back = Transform(Scaler("none"), season=1).to_original(y, anchors)
    np.testing.assert_array_equal(back, [[[1.0, 2.0, 3.0], [5.0, 6.0, 7.0]]])


def test_local_levels_by_hand_with_origins_as_floats():
    t = Transform(Scaler("none"), season=3, level=True)
    z = np.arange(10.0) ** 2
    np.testing.assert_allclose(t.levels(z, np.array([5.0, 8.0])),
                               [np.mean(z[3:6]), np.mean(z[6:9])])
    np.testing.assert_array_equal(Transform(Scaler("none"), season=3).levels(z, [5, 8]),
                                  [0.0, 0.0])


def test_training_origins_end_a_horizon_before_the_end():
    from rnnkit.tasks.timeseries.transform import train_origins

    np.testing.assert_array_equal(train_origins(5, 20, 3), np.arange(5, 17))  # 16 + 3 = 19
    np.testing.assert_array_equal(train_origins(5, 9, 3), [5])  # exactly one fits
    for none in (train_origins(5, 8, 3), train_origins(5, 2, 3)):
        assert none.shape == (0,) and none.dtype == np.int64
