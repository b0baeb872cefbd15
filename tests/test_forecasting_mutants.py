"""Forecasts past the model's horizon (``rnnkit/tasks/timeseries/forecasting.py``): sample
paths drawn one step at a time from the model's predictive distribution.

The model here is a stub whose distribution is known (a Gaussian with a point linear in
the window's last feature and the covariates), and the reference is the transform's
equations written out per step (``tasks/timeseries/transform.py``'s docstring), drawing
the same seeded normals in the same order; a closed form (a random walk's quantiles)
checks the sampler without sharing its random numbers.
"""

from __future__ import annotations

import warnings
from statistics import NormalDist

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.data.timeseries import Scaler
from rnnkit.models.forecast_outputs import Forecast
from rnnkit.tasks.base import TaskError
from rnnkit.tasks.timeseries.forecasting import covariates_needed, forecast_history
from rnnkit.tasks.timeseries.intervals import LEVELS
from rnnkit.tasks.timeseries.transform import Transform


class Gaussian(nn.Module):
    """point_h = a * (last window feature) + c_h [+ d * last past covariate + b * the
    horizon's covariate at h], std_h = s_h; each of K targets alike."""

    def __init__(self, horizon, a, c, s, k=1, b=0.0, d=0.0):
        super().__init__()
        self.horizon, self.k = horizon, k
        self.a, self.b, self.d = a, b, d
        self.c = torch.tensor(c, dtype=torch.float32)  # (H,)
        self.s = torch.tensor(s, dtype=torch.float32)
        self.weight = nn.Parameter(torch.zeros(1))  # (a device to read)

    def predict(self, x, lengths=None, future=None):
        last = x[:, -1, :self.k]  # (B, K)
        point = self.a * last[:, None, :] + self.c[None, :, None]  # (B, H, K)
        if x.shape[-1] > self.k:
            point = point + self.d * x[:, -1, self.k][:, None, None]
        if future is not None:
            point = point + self.b * future[:, :, :1]
        std = self.s[None, :, None].expand_as(point)
        if self.k == 1:
            return Forecast(point[..., 0], std=std[..., 0])
        return Forecast(point, std=std)


def reference(model, scaler, season, mode, history, window, steps, samples, seed, factors,
              zc=None):
    """The paths by the equations, one target column at a time: ``z`` scaled; the feature
    of step t-1 is ``z[t-1] - z[t-1-m]`` (difference), ``z[t-1] - L`` (level: L the mean of
    the last m values) or ``z[t-1]``; the next value is its anchor (``z[t-m]``, ``L`` or 0)
    plus the model's point plus its std (the 80% and 95% widening factors averaged) times
    a normal draw."""
    z = scaler.transform(np.asarray(history, dtype=np.float64))
    z = z[:, None] if z.ndim == 1 else z  # (T, K)
    n, k = z.shape
    a, c0, s0 = model.a, float(model.c[0]), float(model.s[0])
    spread = s0 * (factors.get(80, 1.0) + factors.get(95, 1.0)) / 2
    paths = np.repeat(z[None], samples, axis=0)  # (S, T, K)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        t = paths.shape[1]
        level = paths[:, t - season:t].mean(axis=1) if mode == "level" else 0.0  # (S, K)
        if mode == "difference":
            feature, anchor = paths[:, t - 1] - paths[:, t - 1 - season], paths[:, t - season]
        else:
            feature, anchor = paths[:, t - 1] - level, level + 0 * paths[:, t - 1]
        mean = a * feature + c0
        if zc is not None:
            mean = mean + model.d * zc[t - 1, 0] + model.b * zc[t, 0]
        draw = mean + spread * rng.standard_normal((samples, k))  # (S, 1): the same as (S,)
        paths = np.concatenate([paths, (anchor + draw)[:, None]], axis=1)
    q = np.quantile(paths[:, n:], LEVELS, axis=0)  # (5, steps, K)
    q = scaler.inverse(q if k > 1 else q[..., 0])
    return dict(zip(("lower_95", "lower_80", "forecast", "upper_80", "upper_95"), q))


HISTORY = 10 + np.sin(np.arange(40) * 2 * np.pi / 4) + 0.1 * np.arange(40)


@pytest.mark.parametrize("mode", ["difference", "level", "none"])
@pytest.mark.parametrize("kind", ["standard", "log"])
def test_sample_paths_follow_the_transform_s_equations(mode, kind):
    scaler = Scaler(kind).fit(HISTORY[:30])
    transform = Transform(scaler, season=4, difference=mode == "difference",
                          level=mode == "level")
    model = Gaussian(horizon=2, a=0.5, c=[0.05, -0.3], s=[0.2, 0.7])
    factors = {80: 1.5, 95: 0.5}
    got = forecast_history(model, transform, 6, factors, HISTORY, steps=7, samples=300, seed=3)
    want = reference(model, scaler, 4, mode, HISTORY, 6, 7, 300, 3, factors)
    assert set(got) == set(want)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-6, err_msg=key)
    assert (np.diff(np.stack([got[k] for k in ("lower_95", "lower_80", "forecast",
                                                "upper_80", "upper_95")]), axis=0) > 0).all()


def test_several_targets_and_covariates_follow_the_equations():
    two = np.stack([HISTORY, 50 - 0.5 * HISTORY], axis=1)  # (T, 2)
    scaler = Scaler("standard").fit(two[:30])
    transform = Transform(scaler, season=4, difference=True)
    model = Gaussian(horizon=3, a=-0.4, c=[0.1, 0.0, 0.2], s=[0.3, 0.1, 0.1], k=2)
    got = forecast_history(model, transform, 5, {}, two, steps=6, samples=200, seed=1)
    want = reference(model, scaler, 4, "difference", two, 5, 6, 200, 1, {})
    for key, value in want.items():
        assert got[key].shape == (6, 2)
        np.testing.assert_allclose(got[key], value, rtol=1e-6, err_msg=key)
    zc = np.cos(np.arange(40 + covariates_needed(2, 5))).reshape(-1, 1)  # (T + F, 1)
    model = Gaussian(horizon=2, a=0.3, c=[0.0, 0.5], s=[0.2, 0.4], b=0.8, d=-0.6)
    scaler = Scaler("standard").fit(HISTORY[:30])
    transform = Transform(scaler, season=4, difference=True)
    got = forecast_history(model, transform, 6, {}, HISTORY, steps=5, samples=100, seed=2,
                           zc=zc)
    want = reference(model, scaler, 4, "difference", HISTORY, 6, 5, 100, 2, {}, zc=zc)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-6, err_msg=key)


def test_a_random_walk_s_quantiles_grow_with_the_square_root_of_the_lead():
    """Season 1, differenced, point ``c`` and std ``s``: the path is a random walk with
    drift, x[T+k] ~ N(x[T] + k c, k s^2) (identity scaler); 40,000 paths."""
    transform = Transform(Scaler("none").fit(HISTORY), season=1, difference=True)
    c, s = 0.25, 0.5
    model = Gaussian(horizon=1, a=0.0, c=[c], s=[s])
    got = forecast_history(model, transform, 3, {}, HISTORY, steps=9, samples=40000, seed=0)
    lead = np.arange(1, 10)
    for key, level in zip(("lower_95", "lower_80", "forecast", "upper_80", "upper_95"),
                          LEVELS):
        want = HISTORY[-1] + lead * c + s * np.sqrt(lead) * NormalDist().inv_cdf(level)
        np.testing.assert_allclose(got[key], want, atol=0.04 * s * np.sqrt(lead).max(),
                                   err_msg=key)


def test_defaults_seeding_and_the_shortest_history():
    transform = Transform(Scaler("standard").fit(HISTORY), season=4, difference=True)
    model = Gaussian(horizon=1, a=0.2, c=[0.1], s=[0.3])
    default = forecast_history(model, transform, 6, {}, HISTORY, steps=3)
    explicit = forecast_history(model, transform, 6, {}, HISTORY, steps=3, samples=1000, seed=0)
    other = forecast_history(model, transform, 6, {}, HISTORY, steps=3, samples=1000, seed=1)
    fewer = forecast_history(model, transform, 6, {}, HISTORY, steps=3, samples=999, seed=0)
    for key in default:
        np.testing.assert_array_equal(default[key], explicit[key])
    assert not np.allclose(default["upper_95"], other["upper_95"])
    assert not np.allclose(default["upper_95"], fewer["upper_95"])
    first = transform.first_origin(6)  # 4 + 6 - 1 = 9: a history needs 10 points
    assert first == 9
    forecast_history(model, transform, 6, {}, HISTORY[:first + 1], steps=3, samples=5)
    with pytest.raises(TaskError) as err:
        forecast_history(model, transform, 6, {}, HISTORY[:first], steps=3, samples=5)
    assert str(err.value) == "the history has 9 points; the model needs more than 9"


def test_paths_that_overflow_the_log_scale_give_inf_without_a_warning():
    transform = Transform(Scaler("log").fit(HISTORY), season=1, difference=True)
    model = Gaussian(horizon=1, a=0.0, c=[0.0], s=[1e5])
    with np.errstate(all="warn"), warnings.catch_warnings():
        warnings.simplefilter("error")
        got = forecast_history(model, transform, 3, {}, HISTORY, steps=4, samples=50)
    assert np.isinf(got["upper_95"]).any() and np.isfinite(got["lower_95"]).all()
