"""Forecast accuracy, coverage and the classical baselines on numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.tasks.timeseries import metrics as fm


def test_point_metrics_by_hand():
    """y = (1, 2, 4), forecast (2, 2, 1): errors (1, 0, -3)."""
    train = np.array([1.0, 3.0, 2.0, 6.0])
    m = fm.point_metrics(np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 1.0]), train, 2)
    assert m["rmse"] == pytest.approx(math.sqrt(10 / 3))
    assert m["mae"] == pytest.approx(4 / 3)
    assert m["mape"] == pytest.approx(100 * (1 / 1 + 0 / 2 + 3 / 4) / 3)
    assert m["smape"] == pytest.approx(100 * (2 * 1 / 3 + 0 + 2 * 3 / 5) / 3)
    # seasonal-naive MAE in sample, m = 2: |2 - 1|, |6 - 3| -> 2
    assert m["mase"] == pytest.approx((4 / 3) / 2)


def test_mase_scale_falls_back_to_the_naive_lag_on_a_short_history():
    train = np.array([1.0, 3.0, 2.0, 6.0])
    assert fm.seasonal_naive_scale(train, 1) == pytest.approx((2 + 1 + 4) / 3)
    assert fm.seasonal_naive_scale(train, 4) == pytest.approx((2 + 1 + 4) / 3)  # m >= len
    assert fm.seasonal_naive_scale(train, 3) == pytest.approx(5 / 1)  # |6 - 1|
    flat = fm.point_metrics(np.array([1.0]), np.array([2.0]), np.ones(5), 1)
    assert flat["mase"] is None  # a constant history has no scale


def test_mape_skips_zero_targets_and_smape_counts_both_zero_as_exact():
    m = fm.point_metrics(np.array([0.0, 2.0, 0.0]), np.array([1.0, 3.0, 0.0]),
                         np.array([0.0, 1.0]), 1)
    assert m["mape"] == pytest.approx(100 * 0.5)  # only y = 2: |1| / 2
    assert m["smape"] == pytest.approx(100 * (2 * 1 / 1 + 2 * 1 / 5 + 0) / 3)
    assert fm.point_metrics(np.zeros(2), np.ones(2), np.arange(3.0), 1)["mape"] is None


def test_coverage_counts_both_bounds_as_inside():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    lower, upper = np.array([1.0, 0.0, 3.5, 0.0]), np.array([2.0, 1.0, 4.0, 4.0])
    assert fm.coverage(y, lower, upper) == 0.5  # 1 on its lower bound, 4 on its upper


def test_pinball_weighs_under_and_over_forecasts_by_the_level():
    y, q = np.array([1.0, 5.0]), np.array([2.0, 2.0])  # one over by 1, one under by 3
    assert fm.pinball(y, q, 0.9) == pytest.approx((0.1 * 1 + 0.9 * 3) / 2)
    assert fm.pinball(y, q, 0.1) == pytest.approx((0.9 * 1 + 0.1 * 3) / 2)


def test_baselines_by_hand():
    assert fm.naive(np.array([1.0, 2.0, 7.0]), 3).tolist() == [7, 7, 7]
    assert fm.seasonal_naive(np.array([1.0, 2, 3, 4, 5]), 5, 2).tolist() == [4, 5, 4, 5, 4]
    assert fm.seasonal_naive(np.array([1.0, 2, 3, 4, 5, 6]), 4, 3).tolist() == [4, 5, 6, 4]
    assert fm.drift(np.array([1.0, 3.0, 9.0]), 2).tolist() == [13, 17]  # slope (9 - 1) / 2
    assert fm.drift(np.array([5.0]), 2).tolist() == [5, 5]


def test_gaussian_bands_use_the_normal_quantiles_and_give_back_their_std():
    from statistics import NormalDist

    from rnnkit.tasks.timeseries.intervals import bands_from

    point, std = np.array([[1.0, -2.0]]), np.array([[0.5, 3.0]])
    bands = bands_from(point, std=std)
    for c, q in ((80, 0.90), (95, 0.975)):
        z = NormalDist().inv_cdf(q)
        np.testing.assert_allclose(bands.upper[c], point + z * std, rtol=1e-12)
        np.testing.assert_allclose(bands.lower[c], point - z * std, rtol=1e-12)
    np.testing.assert_allclose(bands.std(), std, rtol=1e-12)


def test_quantile_bands_are_uncrossed_and_centred_on_their_median():
    from rnnkit.tasks.timeseries.intervals import LEVELS, bands_from

    levels = list(LEVELS)[::-1]  # given in any order
    q = np.array([[[9.0, 1.0, 5.0, 2.0, 0.0]]])  # at 0.975, 0.9, 0.5, 0.1, 0.025: crossed
    bands = bands_from(np.zeros((1, 1)), q, levels)
    # sorted: 0, 1, 2, 5, 9 at 0.025, 0.1, 0.5, 0.9, 0.975
    assert bands.point.tolist() == [[2.0]]
    assert (bands.lower[80].item(), bands.upper[80].item()) == (1.0, 5.0)
    assert (bands.lower[95].item(), bands.upper[95].item()) == (0.0, 9.0)
    # the matched Gaussian: the mean of the stds the two intervals imply
    from statistics import NormalDist

    s80, s95 = 4 / (2 * NormalDist().inv_cdf(0.9)), 9 / (2 * NormalDist().inv_cdf(0.975))
    assert bands.std().item() == pytest.approx((s80 + s95) / 2)


def _forecast_context(tmp_path, x, **task):
    from rnnkit.tasks import TASKS
    from rnnkit.tasks.runner import config_from_raw

    months = np.datetime64("2000-01", "M") + np.arange(len(x))
    (tmp_path / "s.csv").write_text("month,value\n" + "".join(
        f"{m},{v:.6f}\n" for m, v in zip(months, x)))
    cfg = config_from_raw({
        "name": "b", "task": {"name": "forecast", "data": str(tmp_path / "s.csv"),
                              "test_size": 6, "window": 8, "horizon": 6, "season": 4, **task},
        "model": {"cell": "gru", "hidden_size": 4, "output": "quantile"},
        "train": {"progress": "off"}}, "test")
    return TASKS["forecast"].setup(cfg)


@pytest.mark.parametrize("evaluation", ["multistep", "rolling"])
def test_baseline_intervals_are_the_textbook_ones(tmp_path, evaluation):
    """FPP3 5.5: from the in-sample residual sd σ of each method, the h-step half-width is
    z σ sqrt(h) (naive) and z σ sqrt(floor((h - 1) / m) + 1) (seasonal naive, m = 4)."""
    from statistics import NormalDist

    from rnnkit.tasks.timeseries.scoring import baseline_bands

    x = 50 + np.random.default_rng(6).normal(0, 2, 60).cumsum()
    ctx = _forecast_context(tmp_path, x, evaluation=evaluation)
    start, end = ctx.range("test")
    assert (start, end) == (54, 60)
    train = x[:start]
    bands = baseline_bands(ctx, "test")
    for name, lag in (("persistence", 1), ("seasonal_naive", 4)):
        res = train[lag:] - train[:-lag]
        sigma = math.sqrt(np.mean((res - res.mean()) ** 2))
        if evaluation == "multistep":  # one forecast of the 6 test points from 53
            h = np.arange(1, 7)
            point = x[53] if lag == 1 else x[50:54][(h - 1) % 4]
        else:  # one step ahead from 53 .. 58
            h = np.ones(6, int)
            point = x[53:59] if lag == 1 else x[50:56]
        k = h if lag == 1 else (h - 1) // 4 + 1
        b = bands[name]
        np.testing.assert_allclose(b.point, point, rtol=1e-6)
        for c, q in ((80, 0.9), (95, 0.975)):
            half = NormalDist().inv_cdf(q) * sigma * np.sqrt(k)
            np.testing.assert_allclose(b.upper[c] - b.point, half, rtol=1e-6)
            np.testing.assert_allclose(b.point - b.lower[c], half, rtol=1e-6)
