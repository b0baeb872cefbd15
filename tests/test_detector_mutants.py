"""The streaming anomaly detector (rnnkit/tasks/timeseries/detector.py) against hand-run
NumPy references: features, raw and smoothed scores, the alarm rule with its release level
and hold, the state carried across pushes, and a run's threshold and labelled windows (found
by mutation testing, benchmarks/mutation.py).

The scores are checked on stand-in forecasters whose forecasts follow a recurrence written
out again here in NumPy, so every number has a reference that does not come from the code
under test; a tiny untrained :class:`~rnnkit.models.Forecaster` checks that the stream and
the whole-series pass of a real model agree."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import rnnkit.tasks.timeseries.detector as det
from rnnkit.data.datasets import DataError
from rnnkit.data.timeseries import Scaler, Series
from rnnkit.models import Forecaster
from rnnkit.models.forecast_outputs import Forecast
from rnnkit.tasks.timeseries.detector import (
    Alarm,
    StreamingDetector,
    batch_scores,
    combined,
    feature_rows,
    features,
    raw_from,
    raw_scores,
    sensor_scores,
    smooth_scores,
)
from rnnkit.tasks.timeseries.events import event_scores

T0 = np.datetime64("2021-03-04T05:06:07", "s")
LEVELS = (0.025, 0.1, 0.5, 0.9, 0.975)
Z = {0.025: -1.959963984540054, 0.1: -1.2815515655446004, 0.5: 0.0,
     0.9: 1.2815515655446004, 0.975: 1.959963984540054}


# -- references ---------------------------------------------------------------------------
def _calendar(times) -> np.ndarray:
    """(N, 4): sin, cos of the time of day, then of the time of week."""
    sec = (np.asarray(times).astype("datetime64[s]") - np.datetime64(0, "s")).astype(float)
    day, week = 2 * np.pi * sec / 86400.0, 2 * np.pi * sec / (7 * 86400.0)
    return np.stack([np.sin(day), np.cos(day), np.sin(week), np.cos(week)], axis=1)


def _feats(values, times=None, cov=None, a=0.0, b=1.0, ca=0.0, cb=1.0) -> np.ndarray:
    v = np.asarray(values, float)
    cols = [((v - a) / b).reshape(len(v), -1)]
    if cov is not None:
        cols.append((np.asarray(cov, float).reshape(len(v), -1) - ca) / cb)
    if times is not None:
        cols.append(_calendar(times))
    return np.concatenate(cols, axis=1)


def _trailing(x, k) -> np.ndarray:
    return np.array([np.mean(x[max(0, t - k + 1):t + 1]) for t in range(len(x))])


def _alarms_by_hand(scores, threshold, release, hold) -> list[bool]:
    """On above the threshold; off at the first point that ends a run of more than ``hold``
    points at or below the release level (the run's first ``hold`` points stay on)."""
    out, on, quiet = [], False, 0
    for s in scores:
        if not on:
            on = bool(s > threshold)
        else:
            quiet = quiet + 1 if s <= release else 0
            if quiet == hold + 1:
                on, quiet = False, 0
        out.append(on)
    return out


class Leaky(torch.nn.Module):
    """A stand-in forecaster of K targets from F features: the state is a leaky sum
    ``s <- 0.5 s + x[:K]`` and a count n; after a point the forecast is
    ``point = s + sum_j w_j x[K + j]`` and ``std = 0.5 + 0.25 |x[:K]| + 0.1 n``, through
    ``one_step`` (``mode``: None for no such attribute, as an ensemble has none);
    ``quantile`` forecasts the Gaussian's quantiles at LEVELS (shuffled) instead of its
    std."""

    def __init__(self, k=1, f=1, mode=None, quantile=False):
        super().__init__()
        self.output_size, self.quantile = k, quantile
        if mode is not None:
            self.mode = mode
        self.w = torch.nn.Parameter(torch.linspace(0.3, 1.1, max(f - k, 1))[:f - k].double())
        self.calls = {"one_step": 0, "step": 0}
        self.out = SimpleNamespace(summary=self._summary)

    def _advance(self, x_t, state):  # x_t (1, F) -> point, std (1, K), state
        k = self.output_size
        s, n = (torch.zeros(1, k, dtype=torch.float64), 0) if state is None else state
        x_t = x_t.double()
        s, n = 0.5 * s + x_t[:, :k], n + 1
        point = s + (x_t[:, k:] * self.w).sum(1, keepdim=True)
        std = 0.5 + 0.25 * x_t[:, :k].abs() + 0.1 * n
        return point, std, (s, n)

    def _forecast(self, point, std):  # (1, T, 1, K) each
        if not self.quantile:
            return Forecast(point.float(), None, None, std.float())
        order = [3, 0, 4, 2, 1]  # the levels in a shuffled order: the bands sort them
        levels = tuple(LEVELS[i] for i in order)
        q = torch.stack([point + Z[v] * std for v in levels], -1)
        return Forecast(point.float() + 7.0, q.float(), levels, None)  # point: the median

    def one_step(self, x, state=None):  # x (1, T, F)
        self.calls["one_step"] += 1
        points, stds = [], []
        for t in range(x.shape[1]):
            point, std, state = self._advance(x[:, t], state)
            points.append(point)
            stds.append(std)
        point = torch.stack(points, 1)[:, :, None]  # (1, T, 1, K)
        return self._forecast(point, torch.stack(stds, 1)[:, :, None]), state

    def _summary(self, params):
        return self._forecast(params[..., 0][:, :, None], params[..., 1][:, :, None])


class Stepping(Leaky):
    """Leaky with a direct Forecaster's ``step`` and ``out.summary`` as well."""

    def step(self, x_t, state=None):  # x_t (1, F) -> params (1, 1, K, 2)
        self.calls["step"] += 1
        point, std, state = self._advance(x_t, state)
        return torch.stack([point, std], -1)[:, None], state


def _leaky_by_hand(feats, k, w) -> tuple[np.ndarray, np.ndarray]:
    """Leaky's raw scores by hand: (combined (N,), per sensor (N, K)), point 0 scoring 0."""
    s, n, prev = np.zeros(k), 0, None
    raw = np.zeros((len(feats), k))
    for t, f in enumerate(feats):
        if prev is not None:
            raw[t] = np.abs(f[:k] - prev[0]) / prev[1]
        s, n = 0.5 * s + f[:k], n + 1
        prev = (s + np.dot(f[k:], w), 0.5 + 0.25 * np.abs(f[:k]) + 0.1 * n)
    return np.sqrt((raw ** 2).mean(1)), raw


def _leaky_scores(feats, k, w, smooth):
    comb, raw = _leaky_by_hand(feats, k, w)
    return _trailing(comb, smooth), np.stack([_trailing(raw[:, i], smooth) for i in range(k)],
                                             1)


def _weights(model) -> np.ndarray:
    return model.w.detach().numpy()


def _series(n, k=1, seed=0, spikes=()):
    rng = np.random.default_rng(seed)
    v = 3 + np.sin(np.arange(n) / 3.0)[:, None] + rng.normal(0, 0.4, (n, k))
    for i in spikes:
        v[i] += 6
    return v[:, 0] if k == 1 else v


# -- features -----------------------------------------------------------------------------
def test_features_are_scaled_values_covariates_then_the_calendar():
    times = T0 + np.arange(7) * np.timedelta64(97, "m")
    v = np.array([[1.0, 10], [2, 20], [3, 30], [4, 40], [5, 50], [6, 60], [7, 70]])
    cov = np.arange(18, dtype=float).reshape(9, 2)  # two points past the values
    s = Series(times, v, covariates=cov)
    scaler = Scaler("standard", np.array([1.0, 5.0]), np.array([2.0, 4.0]))
    cs = Scaler("standard", np.array([3.0, -1.0]), np.array([0.5, 8.0]))
    got = features(s, scaler, True, cs)
    want = _feats(v, times, cov[:7], np.array([1.0, 5.0]), np.array([2.0, 4.0]),
                  np.array([3.0, -1.0]), np.array([0.5, 8.0]))
    assert got.shape == (7, 8) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # without a covariate scaler the covariates are not read; without calendar no times
    np.testing.assert_allclose(features(s, scaler, False), _feats(v, None, None, np.array(
        [1.0, 5.0]), np.array([2.0, 4.0])), rtol=1e-12)
    one = Series(times, v[:, 0])
    np.testing.assert_allclose(features(one, Scaler("standard", 2.0, 0.5), True),
                               _feats(v[:, 0], times, None, 2.0, 0.5), rtol=1e-12, atol=1e-12)


def test_feature_rows_read_any_time_unit_and_integer_values():
    minutes = np.array(["2021-03-04T05:06", "2021-03-07T23:59"], dtype="datetime64[m]")
    got = feature_rows(minutes, np.array([3, 4]), None, Scaler("standard", 1.0, 2.0), True,
                       None)
    np.testing.assert_allclose(got, _feats([3, 4], minutes, None, 1.0, 2.0), atol=1e-12)
    assert got.dtype == np.float64
    # finer than seconds: the calendar of the whole second
    ms = np.array(["2021-03-04T05:06:07.250", "2021-03-05T00:00:00.999"],
                  dtype="datetime64[ms]")
    got = feature_rows(ms, np.array([1.0, 2.0]), None, Scaler("none"), True, None)
    np.testing.assert_allclose(got[:, 1:], _calendar(ms.astype("datetime64[s]")), atol=1e-12)
    # float64 whatever the values' type (the log scaler keeps float32's)
    v32 = np.array([1.0, 2.0], np.float32)
    got = feature_rows(np.arange(2), v32, None, Scaler("log", 0.0, 1.0), False, None)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got[:, 0], np.log1p([1.0, 2.0]), rtol=1e-6)
    # the day's and the week's phases: at 06:00 on a Thursday (1970-01-01 was one)
    six = feature_rows(np.array([np.datetime64("1970-01-01T06:00", "s")]), np.array([0.0]),
                       None, Scaler("none"), True, None)
    np.testing.assert_allclose(six[0, 1:], [1.0, 0.0, np.sin(np.pi / 14), np.cos(np.pi / 14)],
                               atol=1e-12)


# -- raw scores ---------------------------------------------------------------------------
def test_raw_from_is_the_standardised_absolute_error():
    point = np.array([[[1.0]], [[2.0]], [[-1.0]]])  # (N, K=1, 1)
    std = np.array([[[0.5]], [[4.0]], [[2.0]]])
    np.testing.assert_allclose(raw_from(point, None, None, std, np.array([2.0, 0.0, 2.0])),
                               [2.0, 0.5, 1.5])
    got = raw_from(np.array([[[1.0], [5.0]]]), None, None, np.array([[[2.0], [0.5]]]),
                   np.array([[0.0, 6.0]]))  # (N=1, K=2)
    np.testing.assert_allclose(got, [[0.5, 2.0]])
    # quantiles: the std of the Gaussian with those 80% and 95% intervals, about the median
    mid, sd = np.array([1.0, -2.0]), np.array([2.0, 0.25])
    q = np.stack([mid + Z[v] * sd for v in LEVELS], -1)[:, None]  # (2, 1, 5)
    got = raw_from(mid[:, None, None] + 100, q, LEVELS, None, np.array([4.0, -2.5]))
    np.testing.assert_allclose(got, [1.5, 2.0], rtol=1e-9)


def test_raw_scores_read_a_one_step_forecast_of_one_sequence():
    point = torch.tensor([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    std = torch.tensor([1.0, 0.5, 2.0]).reshape(1, 3, 1, 1)
    got = raw_scores(Forecast(point, None, None, std), np.array([0.0, 3.0, 0.0]))
    assert got.shape == (3,) and got.dtype == np.float64
    np.testing.assert_allclose(got, [1.0, 2.0, 1.5])
    point2 = torch.tensor([[1.0, 0.0], [0.0, 4.0]]).reshape(1, 2, 1, 2)
    std2 = torch.tensor([[2.0, 1.0], [0.5, 4.0]]).reshape(1, 2, 1, 2)
    got = raw_scores(Forecast(point2, None, None, std2), np.array([[2.0, -3.0], [1.0, 0.0]]))
    np.testing.assert_allclose(got, [[0.5, 3.0], [2.0, 1.0]])
    mid = torch.tensor([0.0, 10.0])
    q = torch.stack([mid + Z[v] * 2.0 for v in LEVELS], -1).reshape(1, 2, 1, 1, 5)
    f = Forecast(mid.reshape(1, 2, 1, 1), q, LEVELS, None)
    np.testing.assert_allclose(raw_scores(f, np.array([1.0, 4.0])), [0.5, 3.0], rtol=1e-6)


def test_combined_is_the_root_mean_square_of_the_sensors():
    np.testing.assert_array_equal(combined(np.array([[3.0], [0.5]])), [3.0, 0.5])
    # one sensor: its score itself, also where its square would underflow or overflow
    np.testing.assert_array_equal(combined(np.array([[1e-170], [1e170]])), [1e-170, 1e170])
    np.testing.assert_allclose(combined(np.array([[3.0, 4.0], [1.0, 0.0]])),
                               [np.sqrt(12.5), np.sqrt(0.5)])
    np.testing.assert_allclose(combined(np.array([[1.0, 2.0, 2.0]])), [np.sqrt(3.0)])


def test_smooth_scores_are_trailing_means_with_fewer_points_at_the_start():
    x = np.array([4.0, 2.0, 6.0, 0.0, 8.0])
    np.testing.assert_allclose(smooth_scores(x, 1), x)
    np.testing.assert_allclose(smooth_scores(x, 2), [4.0, 3.0, 4.0, 3.0, 4.0])
    np.testing.assert_allclose(smooth_scores(x, 3), [4.0, 3.0, 4.0, 8 / 3, 14 / 3])
    np.testing.assert_allclose(smooth_scores(x, 9), [4.0, 3.0, 4.0, 3.0, 4.0])


# -- whole-series scores --------------------------------------------------------------------
@pytest.mark.parametrize("k, smooth, quantile", [(1, 1, False), (1, 3, True), (2, 2, False),
                                                 (3, 40, True)])
def test_sensor_scores_equal_the_hand_run_recurrence(k, smooth, quantile):
    n = 30
    times = T0 + np.arange(n) * np.timedelta64(1, "h")
    feats = _feats(_series(n, k, seed=k, spikes=(9, 20)), times, np.linspace(-1, 1, n))
    model = Leaky(k, feats.shape[1], quantile=quantile).train()
    scores, sensors = sensor_scores(model, feats, smooth)
    assert not model.training
    want, want_sensors = _leaky_scores(feats, k, _weights(model), smooth)
    assert scores.shape == (n,) and sensors.shape == (n, k) and scores[0] == 0.0
    np.testing.assert_allclose(scores, want, rtol=1e-5)
    np.testing.assert_allclose(sensors, want_sensors, rtol=1e-5)
    np.testing.assert_allclose(batch_scores(model, feats, smooth), want, rtol=1e-5)
    assert model.calls["one_step"] == 2  # one pass over the whole series each


# -- the alarm ----------------------------------------------------------------------------
def test_alarm_on_strictly_above_the_threshold_and_off_at_the_release_level():
    s = [1.0, 2.0, 2.0001, 1.5, 1.0, 1.5, 2.5, 0.9, 3.0]
    assert Alarm(2.0).run(np.array(s)).tolist() == [False, False, True, False, False, False,
                                                    True, False, True]
    # release 1: stays on until a score <= 1 (1.0 itself releases)
    assert Alarm(2.0, release=1.0).run(np.array(s)).tolist() == [
        False, False, True, True, False, False, True, False, True]
    assert Alarm(2.0, 1.0).release == 1.0 and Alarm(2.0).release == 2.0


def test_the_hold_keeps_the_alarm_on_for_that_many_quiet_points():
    s = np.array([3.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0, 1.5, 0.0])
    assert Alarm(2.0, 1.0, hold=0).run(s).tolist() == [
        True, False, False, True, False, False, False, False, False, False]
    assert Alarm(2.0, 1.0, hold=1).run(s).tolist() == [
        True, True, False, True, True, False, False, False, False, False]
    # a score above the release level inside the hold starts the count again
    s2 = np.array([3.0, 0.0, 1.5, 0.0, 0.0, 0.0, 0.0])
    assert Alarm(2.0, 1.0, hold=2).run(s2).tolist() == [True, True, True, True, True, False,
                                                        False]
    a = Alarm(2.0, 1.0, hold=2)
    assert [a.update(v) for v in (3.0, 0.0, 0.0)] == [True, True, True]
    assert (a.on, a.quiet) == (True, 2)
    assert a.update(0.0) is False and a.quiet == 3
    assert a.update(2.5) is True and a.quiet == 0  # on again: the count starts afresh
    assert [a.update(v) for v in (0.0, 1.2, 0.0, 0.0, 0.0)] == [True, True, True, True, False]


def test_run_goes_on_from_the_current_state_and_gives_bools():
    rng = np.random.default_rng(5)
    s = rng.uniform(0, 3, 200)
    whole = Alarm(2.0, 0.8, hold=3).run(s)
    assert whole.dtype == np.bool_ and whole.shape == (200,)
    assert whole.tolist() == _alarms_by_hand(s, 2.0, 0.8, 3)
    a = Alarm(2.0, 0.8, hold=3)
    parts = np.concatenate([a.run(s[:77]), a.run(s[77:150]), a.run(s[150:])])
    np.testing.assert_array_equal(parts, whole)
    for release, hold in ((2.0, 0), (1.0, 1), (0.3, 5)):
        assert Alarm(2.0, release, hold).run(s).tolist() == _alarms_by_hand(s, 2.0, release,
                                                                           hold)
    assert Alarm(1.0).run(np.array([], float)).dtype == np.bool_


def test_a_release_above_the_threshold_or_a_negative_hold_is_refused():
    for kw in ({"release": 2.5}, {"hold": -1}):
        with pytest.raises(ValueError) as err:
            Alarm(2.0, **kw)
        release, hold = kw.get("release", 2.0), kw.get("hold", 0)
        assert str(err.value) == (f"need release <= threshold and hold >= 0, got release "
                                  f"{release}, threshold 2.0, hold {hold}")
    a = Alarm(2.0, 2.0, 0)  # the limits themselves are allowed
    assert (a.threshold, a.release, a.hold, a.on, a.quiet) == (2.0, 2.0, 0, False, 0)


def test_the_config_s_alarm_scales_the_release_with_the_threshold():
    a = det.alarm(SimpleNamespace(release_factor=0.25, hold=3), 8.0)
    assert (a.threshold, a.release, a.hold) == (8.0, 2.0, 3)


# -- the stream -----------------------------------------------------------------------------
def _stream_all(d, times, values, cov=None):
    out = []
    for i in range(len(values)):
        c = None if cov is None else cov[i]
        score, alarm = d.update(times[i], values[i], c)
        out.append((score, alarm, d.sensors.copy()))
    return out


@pytest.mark.parametrize("mode, cls", [("", Stepping), (None, Leaky), ("direct", Stepping),
                                       ("direct", Leaky)])
@pytest.mark.parametrize("k, smooth, quantile", [(1, 1, False), (1, 4, True), (2, 3, False),
                                                 (2, 50, True)])
def test_streamed_scores_and_alarms_equal_the_hand_run_reference(mode, cls, k, smooth,
                                                                  quantile):
    n = 40
    times = T0 + np.arange(n) * np.timedelta64(45, "m")
    values = _series(n, k, seed=3, spikes=(12, 13, 30))
    cov = np.cos(np.arange(n) / 5.0)[:, None] * np.array([1.0, -2.0])  # J = 2
    a, b = (0.5, 2.0) if k == 1 else (np.array([0.5, -1.0]), np.array([2.0, 0.5]))
    ca, cb = np.array([0.1, 0.2]), np.array([1.5, 3.0])
    feats = _feats(values, times, cov, a, b, ca, cb)
    model = cls(k, feats.shape[1], mode=mode, quantile=quantile).train()
    want, want_sensors = _leaky_scores(feats, k, _weights(model), smooth)
    limit = float(np.quantile(want, 0.8))
    d = StreamingDetector(model, Scaler("standard", a, b), True, smooth, limit,
                          alarm=Alarm(limit, 0.5 * limit, hold=2),
                          covariates=Scaler("standard", ca, cb))
    assert not model.training and d.threshold == limit
    np.testing.assert_array_equal(d.sensors, np.zeros(k))
    out = _stream_all(d, times, values, cov)
    np.testing.assert_allclose([o[0] for o in out], want, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(np.array([o[2] for o in out]), want_sensors, rtol=1e-5,
                               atol=1e-12)
    assert [o[1] for o in out] == _alarms_by_hand(want, limit, 0.5 * limit, 2)
    assert all(type(o[0]) is float and type(o[1]) is bool for o in out)
    # each point is one step, through step (direct) or one_step (anything else)
    stepped = mode == "direct" and cls is Stepping
    assert model.calls == ({"one_step": 0, "step": n} if stepped
                           else {"one_step": n, "step": 0})
    # the running sums add as smooth_scores' cumulative sums do: the very same numbers
    assert [o[0] for o in out] == batch_scores(model, feats, smooth).tolist()


@pytest.mark.parametrize("k", [1, 2])
def test_a_point_s_values_may_come_as_any_array_of_k_numbers(k):
    n = 10
    values = _series(n, k, seed=6)
    feats = _feats(values)
    want, _ = _leaky_scores(feats, k, _weights(Leaky(k, k)), 2)
    for shape in ((k,), (1, k), (k, 1)):
        d = StreamingDetector(Leaky(k, k), Scaler("none"), False, 2, 1.0)
        got = [d.update(i, np.reshape(v, shape))[0] for i, v in enumerate(values)]
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_the_default_alarm_is_plain_score_above_the_threshold():
    n = 30
    values = _series(n, 1, seed=8, spikes=(10, 22))
    feats = _feats(values)
    model = Leaky(1, 1)
    want, _ = _leaky_scores(feats, 1, _weights(model), 2)
    limit = float(np.sort(want)[-6])
    d = StreamingDetector(model, Scaler("none"), False, 2, limit)
    assert (d.alarm.threshold, d.alarm.release, d.alarm.hold) == (limit, limit, 0)
    out = _stream_all(d, np.arange(n), values)
    assert [o[1] for o in out] == (want > limit).tolist() and sum(want > limit) == 5
    np.testing.assert_allclose([o[0] for o in out], want, rtol=1e-6)


def test_the_stream_carries_the_state_and_equals_the_whole_series_of_a_real_forecaster():
    torch.manual_seed(0)
    n, k = 36, 2
    times = T0 + np.arange(n) * np.timedelta64(20, "m")
    values = _series(n, k, seed=4, spikes=(25,))
    cov = np.sin(np.arange(n) / 4.0)
    scaler = Scaler("standard", np.array([3.0, 2.5]), np.array([1.5, 0.75]))
    cs = Scaler("standard", 0.2, 2.0)
    feats = _feats(values, times, cov, scaler.a, scaler.b, 0.2, 2.0)
    for output in ("gaussian", "quantile"):
        kw = {"quantiles": LEVELS} if output == "quantile" else {}
        model = Forecaster(horizon=1, input_size=feats.shape[1], output_size=k, cell="gru",
                           hidden_size=6, output=output, **kw)
        # the whole series' raw scores by hand from one pass of the model
        f, _ = model.one_step(torch.as_tensor(feats, dtype=torch.float32)[None])
        if output == "gaussian":
            pt, sd = f.point[0, :, 0].double().numpy(), f.std[0, :, 0].double().numpy()
        else:
            q = np.sort(f.quantiles[0, :, 0].double().numpy(), -1)  # (N, K, 5)
            pt = q[..., 2]
            sd = ((q[..., 3] - q[..., 1]) / (2 * Z[0.9]) + (q[..., 4] - q[..., 0])
                  / (2 * Z[0.975])) / 2
        raw = np.concatenate([np.zeros((1, k)), np.abs(feats[1:, :k] - pt[:-1]) / sd[:-1]])
        want = _trailing(np.sqrt((raw ** 2).mean(1)), 3)
        np.testing.assert_allclose(batch_scores(model, feats, 3), want, rtol=1e-4, atol=1e-6)
        d = StreamingDetector(model, scaler, True, 3, 1.0, covariates=cs)
        out = _stream_all(d, times, values, cov)
        np.testing.assert_allclose([o[0] for o in out], want, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(np.array([o[2] for o in out]),
                                   np.stack([_trailing(raw[:, i], 3) for i in range(k)], 1),
                                   rtol=1e-4, atol=1e-6)
        # a fresh state (a new detector) does not score the points as a carried one does
        fresh = StreamingDetector(model, scaler, True, 3, 1.0, covariates=cs)
        late = _stream_all(fresh, times[18:], values[18:], cov[18:])
        assert late[0][0] == 0.0
        assert not np.allclose([o[0] for o in late[4:]], want[22:], rtol=1e-3)


def test_the_stream_reads_the_calendar_of_each_point_s_time():
    n = 12
    times = T0 + np.arange(n) * np.timedelta64(7, "h")
    values = _series(n, 1, seed=2)
    feats = _feats(values, times, None, 1.0, 2.0)
    model = Leaky(1, feats.shape[1])
    want, _ = _leaky_scores(feats, 1, _weights(model), 1)
    d = StreamingDetector(model, Scaler("standard", 1.0, 2.0), True, 1, 10.0)
    got = [d.update(str(t), v)[0] for t, v in zip(times, values)]  # times as text
    np.testing.assert_allclose(got, want, rtol=1e-6)


# -- a run's threshold, detection and windows -------------------------------------------------
class Fixed(torch.nn.Module):
    """Forecasts 0 with std 1 after every point: the raw score of a point is |x|."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))
        self.output_size, self.mode = 1, ""

    def one_step(self, x, state=None):
        z = torch.zeros(1, x.shape[1], 1, 1)
        return Forecast(z, None, None, z + 1), state


def _ctx(values, fit_end, train_end, smooth=1, factor=1.0, release_factor=1.0, hold=0,
         window=1, **cfg):
    n = len(values)
    series = Series(T0 + np.arange(n) * np.timedelta64(1, "h"), np.asarray(values, float))
    read = []

    def feats(s):
        read.append(len(s))
        return s.values[:, None].copy()

    task_cfg = SimpleNamespace(smooth=smooth, threshold_factor=factor, window=window,
                               release_factor=release_factor, hold=hold,
                               **{"series": "s", "data": "", "train_data": "", **cfg})
    return SimpleNamespace(series=series, fit_end=fit_end, train_end=train_end,
                           features=feats, task_cfg=task_cfg, read=read)


def test_the_threshold_is_the_factor_times_the_calibration_range_s_highest_score():
    #      0  1  2  3  4  5  6  7  8  9
    v = [0, 9, 1, 5, 2, 1, 3, 9, 40, 9]  # fit_end 3, train_end 7: [3, 7) holds 5, 2, 1, 3
    ctx = _ctx(v, 3, 7, factor=1.5)
    assert det.threshold(Fixed(), ctx) == 7.5 and ctx.read == [7]
    v = [0, 9, 1, 2, 2, 1, 6, 9, 40, 9]  # the highest at the range's last point
    assert det.threshold(Fixed(), _ctx(v, 3, 7, factor=2.0)) == 12.0
    # smoothed over 2: [3.0, 3.5, 1.5, 2.0] on [3, 7)
    ctx = _ctx([0, 9, 1, 5, 2, 1, 3, 9, 40, 9], 3, 7, smooth=2)
    assert det.threshold(Fixed(), ctx) == pytest.approx(3.5)
    assert type(det.threshold(Fixed(), ctx)) is float


def test_detect_scores_the_series_and_alarms_on_the_config_s_rule():
    v = [0, 1, 4, 1, 0.5, 0, 0, 3, 0, 2.5, 0.2, 0.1]
    ctx = _ctx(v, 1, 4, factor=0.75, release_factor=0.5, hold=1)  # threshold 3
    got = det.detect(Fixed(), ctx)
    assert list(got) == ["score", "sensors", "is_anomaly"]
    np.testing.assert_allclose(got["score"], [0, *v[1:]])
    np.testing.assert_allclose(got["sensors"], np.array([[0, *v[1:]]]).T)
    assert got["is_anomaly"].tolist() == _alarms_by_hand([0, *v[1:]], 3.0, 1.5, 1)
    assert got["is_anomaly"].tolist() == [False, False, True, True, False, False, False, False,
                                          False, False, False, False]
    # another series: scored on its own, against the run's threshold
    other = Series(np.arange(4), np.array([0.0, 3.5, 0.0, 0.0]))
    got = det.detect(Fixed(), ctx, other)
    assert got["is_anomaly"].tolist() == [False, True, True, False]


def test_detect_raises_no_alarm_in_the_warm_up_and_starts_the_alarm_from_off_after_it():
    #      0  1  2  3  4  5  6  7  8    9  10 11
    v = [0, 5, 3, 8, 0, 9, 1, 0, 0, 0.5, 6, 0]
    ctx = _ctx(v, 1, 3, window=4, smooth=1, factor=1.0, release_factor=0.5, hold=1)
    got = det.detect(Fixed(), ctx)  # threshold 5 (the highest of 5, 3), release 2.5
    np.testing.assert_allclose(got["score"], [0, *v[1:]])  # every point scored
    # points 0-3 (window 4, smooth 1) are the warm-up: no alarm, though 3 scores 8; the
    # spike at 5 right after it alarms, held one quiet point (6); 10 alarms again
    assert np.flatnonzero(got["is_anomaly"]).tolist() == [5, 6, 10, 11]
    assert got["is_anomaly"].dtype == bool  # (the warm-up's False too)
    # the state machine starts from off at point 4, not carried over from the warm-up: an
    # alarm raised at 1 would be held through 4 (release 2, hold 1)
    assert det.alarms(ctx.task_cfg, 4.0, np.array([0, 9.0, 9, 9, 0, 0])).tolist() == \
        [False] * 6
    # smooth 2: the score of point t averages points t-1 and t, so the warm-up is 0..4
    cfg = SimpleNamespace(window=4, smooth=2, release_factor=1.0, hold=0)
    assert det.warmup(cfg) == 5
    assert np.flatnonzero(det.alarms(cfg, 1.0, np.full(8, 2.0))).tolist() == [5, 6, 7]


def test_the_stream_alarms_as_detect_after_the_same_warm_up():
    n = 40
    values = _series(n, 1, seed=8, spikes=(3, 9, 25))
    feats = _feats(values)
    model = Leaky(1, 1)
    want, _ = _leaky_scores(feats, 1, _weights(model), 3)
    limit = float(np.sort(want)[-9:-7].mean())  # between two scores: no float ties
    cfg = SimpleNamespace(window=7, smooth=3, release_factor=0.5, hold=2)
    expected = det.alarms(cfg, limit, want)
    assert not expected[:9].any() and expected[9:].any() and (want[:9] > limit).any()
    d = StreamingDetector(model, Scaler("none"), False, 3, limit, det.alarm(cfg, limit),
                          warmup=det.warmup(cfg))
    assert d.points == 0
    out = []
    for i, v in enumerate(values):
        score, on = d.update(i, v)
        out.append((score, on, d.in_warmup))
    assert [o[1] for o in out] == expected.tolist() and d.points == n
    assert [o[2] for o in out] == [i < 9 for i in range(n)]
    np.testing.assert_allclose([o[0] for o in out], want, rtol=1e-6)
    # without a warm-up (the default) the stream alarms from the first point
    plain = StreamingDetector(Leaky(1, 1), Scaler("none"), False, 3, limit)
    first = []
    for i, v in enumerate(values):
        first.append(plain.update(i, v)[1])
        assert plain.in_warmup is False  # (point 0 too)
    assert first == _alarms_by_hand(want, limit, limit, 0) and any(first[:9])
    # point 0 scores 0 (no forecast): below a negative threshold it alarms at once
    assert StreamingDetector(Leaky(1, 1), Scaler("none"), False, 3, -1.0).update(0, 1.0) \
        == (0.0, True)


def test_evaluation_ignores_alarms_before_the_scored_range(monkeypatch):
    v = [0, 5, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 7, 0]
    ctx = _ctx(v, 2, 5, factor=1.0)  # threshold 0 on [2, 5): every nonzero point alarms
    times = ctx.series.timestamps
    monkeypatch.setattr(det, "nab_windows", lambda name: [(times[3], times[6]),
                                                          (times[10], times[12])])
    got = det.evaluate_detection(Fixed(), ctx)
    alarms = np.array(v) > 0
    alarms[:5] = False
    want = event_scores(alarms, [(5, 6), (10, 12)])
    assert got == {**want, "threshold": 0.0}


def test_labelled_windows_are_nab_s_for_a_named_series_only(monkeypatch):
    ctx = _ctx(np.zeros(10), 2, 5)
    times = ctx.series.timestamps
    asked = []
    monkeypatch.setattr(det, "nab_windows", lambda name: asked.append(name) or [
        (times[1], times[2]), (times[4], times[6]), (times[7], times[9])])
    ctx2 = SimpleNamespace(task_cfg=ctx.task_cfg)
    assert det.labelled_windows(ctx2, times) == [(1, 2), (4, 6), (7, 9)] and asked == ["s"]
    # cut to the scored range [5, 10): the first ends before it, the second is cut
    assert det.scored_windows(ctx) == [(5, 6), (7, 9)]
    ctx.train_end = 6
    assert det.scored_windows(ctx) == [(6, 6), (7, 9)]
    ctx.train_end = 7
    assert det.scored_windows(ctx) == [(7, 9)]
    for own in ({"data": "x.csv"}, {"train_data": "t.csv"}):  # a user's: its label column
        mine = SimpleNamespace(task_cfg=SimpleNamespace(**{**vars(ctx.task_cfg), **own}),
                               series=ctx.series, train_end=5, labels=None)
        assert det.labelled_windows(mine, times) is None and det.scored_windows(mine) == []
        mine.labels = np.array([0, 1, 1, 0, 0, 0, 1, 0, 0, 1], bool)
        assert det.labelled_windows(mine, times) == [(1, 2), (6, 6), (9, 9)]
        assert det.labelled_windows(mine, times[5:]) == [(1, 1), (4, 4)]
        assert det.scored_windows(mine) == [(6, 6), (9, 9)]
    assert asked == ["s"] * 4

    def missing(name):
        raise DataError("no such series")

    monkeypatch.setattr(det, "nab_windows", missing)
    assert det.labelled_windows(ctx2, times) is None and det.scored_windows(ctx) == []
