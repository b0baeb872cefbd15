"""Prediction intervals and their calibration against hand computations: bands from
quantiles and Gaussian heads, split conformal and backtest factors with their ranks and
weights, widening and nesting, covariates and the per-model cache. Pure NumPy and a fake
forecaster: fast enough for benchmarks/mutation.py to run per mutant."""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rnnkit.data.timeseries import Scaler
from rnnkit.tasks.timeseries import calibration as cal
from rnnkit.tasks.timeseries import intervals as iv
from rnnkit.tasks.timeseries.transform import Transform

# -- intervals ----------------------------------------------------------------------------

def _bands():
    point = np.array([[0.0, 1.0]])
    lo = {80: np.array([[-1.0, 0.0]]), 95: np.array([[-3.0, -1.0]])}
    hi = {80: np.array([[2.0, 1.5]]), 95: np.array([[4.0, 3.0]])}
    return iv.Bands(point, lo, hi)


def test_bands_widened_map_and_std():
    b = _bands().widened({80: 2.0})
    np.testing.assert_allclose(b.lower[80], [[-2.0, -1.0]])
    np.testing.assert_allclose(b.upper[80], [[4.0, 2.0]])
    np.testing.assert_allclose(b.lower[95], [[-3.0, -1.0]])  # factor absent: unchanged
    np.testing.assert_allclose(b.upper[95], [[4.0, 3.0]])
    m = _bands().map(lambda a: 2 * a + 1)
    np.testing.assert_allclose(m.point, [[1.0, 3.0]])
    np.testing.assert_allclose(m.lower[95], [[-5.0, -1.0]])
    np.testing.assert_allclose(m.upper[80], [[5.0, 4.0]])
    s80 = np.array([[3.0, 1.5]]) / (2 * 1.2815515655446004)
    s95 = np.array([[7.0, 4.0]]) / (2 * 1.959963984540054)
    np.testing.assert_allclose(_bands().std(), (s80 + s95) / 2)
    flat = iv.Bands(np.zeros((1, 1)), {80: np.zeros((1, 1)), 95: np.zeros((1, 1))},
                    {80: np.zeros((1, 1)), 95: np.zeros((1, 1))})
    assert flat.std()[0, 0] == 1e-12


def test_bands_from_sorts_crossed_quantiles_and_takes_their_median():
    levels = [0.5, 0.975, 0.025, 0.9, 0.1]   # unsorted levels
    q = np.array([[[9.0, 1.0, 5.0, 2.0, 3.0]]])  # values at those levels, crossed
    b = iv.bands_from(np.array([[7.0]]), q, levels)
    # reordered by level: [5, 3, 9, 2, 1] -> sorted [1, 2, 3, 5, 9]
    assert b.point[0, 0] == 3.0
    assert (b.lower[95][0, 0], b.lower[80][0, 0]) == (1.0, 2.0)
    assert (b.upper[80][0, 0], b.upper[95][0, 0]) == (5.0, 9.0)
    with pytest.raises(ValueError, match="levels"):
        iv.bands_from(np.zeros((1, 1)), np.zeros((1, 1, 3)), [0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match="point forecaster"):
        iv.bands_from(np.zeros((1, 1)))


def test_bands_from_gaussian():
    b = iv.bands_from(np.array([[1.0, 2.0]]), std=np.array([[0.5, 2.0]]))
    np.testing.assert_allclose(b.upper[95], [[1 + 1.959963984540054 * 0.5,
                                              2 + 1.959963984540054 * 2.0]])
    np.testing.assert_allclose(b.lower[80], [[1 - 1.2815515655446004 * 0.5,
                                              2 - 1.2815515655446004 * 2.0]])


def test_conformal_factors_use_the_error_s_side_and_the_split_conformal_rank():
    n = 19
    point = np.zeros((n, 1))
    lo = {c: -np.ones((n, 1)) for c in (80, 95)}
    hi = {c: 4 * np.ones((n, 1)) for c in (80, 95)}
    y = np.arange(1, n + 1, dtype=float)[:, None] * np.where(np.arange(n) % 2, 1, -1)[:, None]
    ratios = sorted(abs(v) / (4.0 if v >= 0 else 1.0) for v in y.ravel())
    f = iv.conformal_factors(iv.Bands(point, lo, hi), y)
    assert f[80] == pytest.approx(ratios[math.ceil(20 * 0.80) - 1])  # the 16th smallest
    assert f[95] == pytest.approx(ratios[min(math.ceil(20 * 0.95), n) - 1])  # the 19th


def test_bounded_clips_and_warns():
    with pytest.warns(UserWarning, match="cut"):
        out = iv.bounded({80: 1e9, 95: -2.0})
    assert out == {80: iv.MAX_FACTOR, 95: 0.0}
    with pytest.warns(UserWarning):
        assert iv.bounded({80: float("nan")}) == {80: 1.0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert iv.bounded({80: 0.0, 95: iv.MAX_FACTOR}) == {80: 0.0, 95: iv.MAX_FACTOR}


class _FakeForecaster(torch.nn.Module):
    """predict(x) -> point = the window's last value + 1 per lead step, std = 0.5 + the
    future covariate, recording each batch it was given."""

    def __init__(self, horizon=2):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.horizon, self.calls = horizon, []

    def predict(self, x, future=None):
        self.calls.append((tuple(x.shape), None if future is None else tuple(future.shape)))
        last = x[:, -1, :1]  # (B, 1)
        point = last + torch.arange(1, self.horizon + 1, dtype=x.dtype)  # (B, H)
        std = torch.full_like(point, 0.5)
        if future is not None:
            std = std + future[..., 0]
        return SimpleNamespace(point=point, quantiles=None, levels=None, std=std)


def test_predict_bands_batches_and_passes_the_future():
    m = _FakeForecaster()
    x = np.arange(10, dtype=float).reshape(5, 2)  # (N, W): last values 1, 3, 5, 7, 9
    fut = np.ones((5, 2, 1))
    b = iv.predict_bands(m, x, fut, batch_size=2)
    assert [c[0][0] for c in m.calls] == [2, 2, 1] and m.calls[0][1] == (2, 2, 1)
    np.testing.assert_allclose(b.point[:, 0], [2, 4, 6, 8, 10])
    np.testing.assert_allclose(b.upper[80] - b.point, 1.5 * 1.2815515655446004, rtol=1e-6)
    assert not m.training


# -- calibration --------------------------------------------------------------------------


def test_nested_widens_only_the_95_interval():
    b = iv.Bands(np.zeros((1, 2)), {80: np.array([[-2.0, -1.0]]), 95: np.array([[-1.0, -3.0]])},
                 {80: np.array([[1.0, 5.0]]), 95: np.array([[2.0, 4.0]])})
    n = cal.nested(b)
    np.testing.assert_array_equal(n.lower[95], [[-2.0, -3.0]])
    np.testing.assert_array_equal(n.upper[95], [[2.0, 5.0]])
    np.testing.assert_array_equal(n.lower[80], b.lower[80])


def _weighted_quantile(ratios, weights, c):
    order = sorted(range(len(ratios)), key=lambda i: ratios[i])
    total, acc = sum(weights), 0.0
    for i in order:
        acc += weights[i]
        if acc / total >= c - 1e-12:
            return ratios[i]
    return ratios[order[-1]]


def test_backtest_factors_weight_every_lead_time_equally():
    rng = np.random.default_rng(1)
    x = rng.gamma(2.0, 1.0, size=30)  # skewed
    origins = np.arange(10, 20)
    H, end = 3, 22  # the late origins' far leads reach past `end`: dropped
    point = np.full((len(origins), H), 2.0)
    lo = {80: point - 0.5, 95: point - 1.0}
    hi = {80: point + 2.0, 95: point + 3.0}
    f = cal.backtest_factors(iv.Bands(point, lo, hi), x, origins, end)
    for c in (80, 95):
        ratios, leads = [], []
        for i, o in enumerate(origins):
            for h in range(1, H + 1):
                if o + h < end:
                    err = x[o + h] - point[i, h - 1]
                    half = hi[c][i, h - 1] - point[i, h - 1] if err >= 0 else \
                        point[i, h - 1] - lo[c][i, h - 1]
                    ratios.append(abs(err) / half)
                    leads.append(h)
        w = [1.0 / leads.count(h) for h in leads]
        assert f[c] == pytest.approx(_weighted_quantile(ratios, w, c / 100))


def _identity_transform():
    return Transform(Scaler("none"), season=1)


def test_forecast_bands_widens_nests_and_maps_back():
    tr = Transform(Scaler("standard", a=10.0, b=2.0), season=1)
    z = np.arange(8, dtype=float)
    model = _FakeForecaster(horizon=2)
    b = cal.forecast_bands(model, tr, z, np.array([3, 5]), window=2,
                           factors={80: 3.0, 95: 1.0})
    np.testing.assert_allclose(b.point, 10 + 2 * np.array([[4.0, 5.0], [6.0, 7.0]]))
    half80 = 3.0 * 0.5 * 1.2815515655446004 * 2  # factor * scaled half-width * scale
    np.testing.assert_allclose(b.upper[80] - b.point, half80)
    np.testing.assert_allclose(b.point - b.lower[95], half80)  # nested: 95 >= widened 80
    plain = cal.forecast_bands(model, tr, z, np.array([3, 5]), window=2)
    np.testing.assert_allclose(plain.upper[95] - plain.point, 0.5 * 1.959963984540054 * 2)


def _ctx(calibrate=True, refit=False):
    x = np.sin(np.arange(40) / 3.0) * 5 + 20
    tr = _identity_transform()
    return SimpleNamespace(task_cfg=SimpleNamespace(calibrate=calibrate, refit=refit, window=3),
                           transform=tr, z=tr.scaled(x), zc=None, validation_factors={},
                           series=SimpleNamespace(values=x), range=lambda name: (30, 40))


def test_interval_factors_sources():
    model = _FakeForecaster(horizon=2)
    assert cal.interval_factors(model, _ctx(calibrate=False)) == {80: 1.0, 95: 1.0}
    model.interval_factors = [2.0, 500.0]
    with pytest.warns(UserWarning):
        assert cal.interval_factors(model, _ctx()) == {80: 2.0, 95: iv.MAX_FACTOR}
    model.interval_factors = None
    with pytest.raises(cal.TaskError, match=r"^a refit model is trained on the validation "
                       r"range: its intervals need the replay factors recorded at training "
                       r"\(interval_factors\)$"):
        cal.interval_factors(model, _ctx(refit=True))
    ctx = _ctx()
    got = cal.interval_factors(model, ctx)
    origins = np.arange(29, 39)
    bands = cal.forecast_bands(model, ctx.transform, ctx.z, origins, 3)
    assert got == cal.backtest_factors(bands, ctx.series.values, origins, 40)
    assert len(ctx.validation_factors) == 1
    ctx.validation_factors[next(iter(ctx.validation_factors))] = {80: -1.0}
    assert cal.interval_factors(model, ctx) == {80: -1.0}  # kept per model


# -- cases added from mutation testing (benchmarks/mutation.py) ---------------------------


def test_bands_from_flattens_several_targets():
    rng = np.random.default_rng(2)
    point = rng.normal(size=(3, 2, 2))  # (N, H, K)
    q = np.sort(rng.normal(size=(3, 2, 2, 5)), axis=-1)
    b = iv.bands_from(point, q, iv.LEVELS)
    assert b.point.shape == (3, 4)
    np.testing.assert_array_equal(b.upper[95], q[..., 4].reshape(3, 4))
    np.testing.assert_array_equal(b.point, q[..., 2].reshape(3, 4))
    g = iv.bands_from(point, std=np.ones((3, 2, 2)))
    np.testing.assert_allclose(g.lower[80], point.reshape(3, 4) - 1.2815515655446004)


def test_bands_from_needs_both_levels_of_each_interval():
    with pytest.raises(ValueError, match="needs levels"):  # 0.025 missing, 0.975 there
        iv.bands_from(np.zeros((1, 1)), np.zeros((1, 1, 4)), [0.1, 0.5, 0.9, 0.975])
    with pytest.raises(ValueError, match='use output = "quantile" or "gaussian"'):
        iv.bands_from(np.zeros((1, 1)))


def test_bounded_warning_names_the_caller():
    with pytest.warns(UserWarning, match=r"the 95% interval factor 1e\+09 is cut to 100: the "
                      r"model's intervals are far off on the calibration backtest "
                      r"\(under-trained\?\)") as record:
        iv.bounded({95: 1e9})
    assert record[0].filename != iv.__file__  # points at the caller, not into intervals.py


def test_conformal_factors_with_an_offset_point_and_narrow_bands():
    rng = np.random.default_rng(3)
    n = 129  # (n + 1) * 0.8 and (n + 1) * 0.95 are whole: the rank is exact
    point = np.full((n, 1), 5.0)
    lo = {80: point - 0.3, 95: point - 0.6}
    hi = {80: point + 0.2, 95: point + 0.5}
    y = point + rng.normal(size=(n, 1))
    f = iv.conformal_factors(iv.Bands(point, lo, hi), y)
    for c in (80, 95):
        ratios = sorted(abs(e) / ((hi[c][0, 0] - 5.0) if e >= 0 else (5.0 - lo[c][0, 0]))
                        for e in (y - point).ravel())
        assert f[c] == pytest.approx(ratios[math.ceil((n + 1) * c / 100) - 1])


def test_backtest_factors_of_several_columns_pool_their_ratios():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(20, 2)) + 3.0  # (T, K)
    origins, H, end = np.arange(4, 14), 3, 15
    point = np.full((10, H, 2), 3.0)
    lo = {80: point - [0.5, 1.0], 95: point - [1.0, 2.0]}
    hi = {80: point + [0.8, 0.4], 95: point + [1.5, 0.9]}
    f = cal.backtest_factors(iv.Bands(point, lo, hi), x, origins, end)
    for c in (80, 95):
        ratios, leads = [], []
        for i, o in enumerate(origins):
            for h in range(1, H + 1):
                for k in range(2):
                    if o + h < end:
                        e = x[o + h, k] - 3.0
                        half = hi[c][i, h - 1, k] - 3.0 if e >= 0 else 3.0 - lo[c][i, h - 1, k]
                        ratios.append(abs(e) / half)
                        leads.append(h)
        w = [1.0 / leads.count(h) for h in leads]
        assert f[c] == pytest.approx(_weighted_quantile(ratios, w, c / 100))


def test_backtest_factors_weights_and_exact_quantile_ranks():
    # one lead time, 20 points above the point: the 80% and 95% ranks fall exactly on the
    # 16th and 19th ratios (not the next ones); only the upper half-width is read
    x = np.concatenate([[0.0], 1.0 + np.arange(20) / 10])
    point = np.zeros((20, 1))
    lo = {80: point - 100.0, 95: point - 100.0}
    hi = {80: point + 2.0, 95: point + 4.0}
    f = cal.backtest_factors(iv.Bands(point, lo, hi), x, np.arange(20), 21)
    assert f[80] == pytest.approx((1.0 + 15 / 10) / 2.0)
    assert f[95] == pytest.approx((1.0 + 18 / 10) / 4.0)
    # lead 1 has two ratios (1, 2), lead 2 one (3): weights 1/4, 1/4, 1/2, so the 80%
    # quantile is 3 (weighting by the count instead, 2/5, 2/5, 1/5, would give 2)
    x = np.array([0.0, 1.0, 2.0])
    point = np.array([[0.0, -1.0], [0.0, 0.0]])
    b = iv.Bands(point, {c: point - 1.0 for c in (80, 95)}, {c: point + 1.0 for c in (80, 95)})
    f = cal.backtest_factors(b, x, np.arange(2), 3)
    assert f[80] == pytest.approx(3.0) and f[95] == pytest.approx(3.0)


def test_forecast_bands_reads_the_covariates():
    tr = Transform(Scaler("none"), season=1)
    z = np.arange(10, dtype=float)
    zc = np.linspace(0.0, 0.9, 10)[:, None]  # (T, J)
    model = _FakeForecaster(horizon=2)
    b = cal.forecast_bands(model, tr, z, np.array([3, 5]), window=2, zc=zc)
    assert model.calls[-1] == ((2, 2, 2), (2, 2, 1))  # x holds the covariate; the horizon's
    std = 0.5 + zc[np.array([[4, 5], [6, 7]]), 0]
    np.testing.assert_allclose(b.upper[80] - b.point, 1.2815515655446004 * std, rtol=1e-6)


def test_validation_factors_forecast_every_origin_of_the_validation_range():
    ctx = _ctx()
    ctx.range = lambda name: {"val": (30, 40)}[name]
    ctx.zc = np.zeros((41, 1))  # known one step past the series
    model = _FakeForecaster(horizon=2)
    cal.validation_factors(model, ctx)
    assert model.calls[-1] == ((10, 3, 2), (10, 2, 1))  # origins 29 .. 38, with covariates


def test_validation_factors_are_kept_per_model_and_per_weights():
    ctx = _ctx()
    a, b = _FakeForecaster(horizon=2), _FakeForecaster(horizon=3)
    fa, fb = cal.interval_factors(a, ctx), cal.interval_factors(b, ctx)
    assert fa == cal.validation_factors(a, _ctx()) and fb == cal.validation_factors(b, _ctx())
    assert fa != fb and len(ctx.validation_factors) == 2
    with torch.no_grad():
        a.w.add_(1.0)  # new weights: measured again
    cal.interval_factors(a, ctx)
    assert len(ctx.validation_factors) == 3
