"""Interval calibration, anomaly event scoring and the anomaly threshold against answers
computed here by other means: coverage found by bisection, event scores counted by hand,
the threshold from the streaming detector's scores of the calibration range alone."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.tasks.timeseries.calibration import backtest_factors, nested
from rnnkit.tasks.timeseries.events import event_scores, events, window_indices
from rnnkit.tasks.timeseries.intervals import Bands, conformal_factors

# -- interval calibration -----------------------------------------------------------------
# Forecasts with lopsided intervals (the lower half-width three times the upper one at 80%)
# and skewed errors (large above the point, small below): a factor taken from the wrong
# side of the point, or for another coverage, gives other numbers.
LO_HALF = {80: 3.0, 95: 4.0}
HI_HALF = {80: 1.0, 95: 2.5}


def _backtest(n_origins: int, horizon: int, seed: int = 0):
    """(bands (N, H), series x, origins, end): points near 10 (each forecast its own, so no
    two errors tie although the origins' targets overlap), errors y - point with an
    exponential right tail and a short left one, every target before ``end``."""
    rng = np.random.default_rng(seed)
    origins = np.arange(n_origins)
    length = n_origins + horizon + 1
    err = np.where(rng.random(length) < 0.7, rng.exponential(1.5, length),
                   -rng.exponential(0.8, length))
    x = 10.0 + err
    point = 10.0 + rng.normal(0.0, 0.05, (n_origins, horizon))
    bands = Bands(point, {c: point - LO_HALF[c] for c in (80, 95)},
                  {c: point + HI_HALF[c] for c in (80, 95)})
    return bands, x, origins, length


def _covered_share(f, y, point, lo_half, hi_half, weights):
    inside = (y >= point - f * lo_half) & (y <= point + f * hi_half)
    return float((weights * inside).sum() / weights.sum())


def _smallest_factor(share: float, y, point, lo_half, hi_half, weights) -> float:
    """The smallest f whose interval [point - f lo_half, point + f hi_half] covers
    ``share`` of the (weighted) points, by bisection on the coverage itself."""
    lo, hi = 0.0, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2
        if _covered_share(mid, y, point, lo_half, hi_half, weights) >= share - 1e-12:
            hi = mid
        else:
            lo = mid
    return hi


def _targets(bands, x, origins, end):
    h = np.arange(1, bands.point.shape[1] + 1)
    t = origins[:, None] + h[None, :]
    keep = t < end
    lead = np.broadcast_to(h, t.shape)[keep]
    return x[t[keep]], lead, keep, bands.point[keep]


def test_factors_give_each_interval_its_nominal_coverage_on_skewed_errors():
    bands, x, origins, end = _backtest(200, 2)  # 400 points, every lead time equally often
    factors = backtest_factors(bands, x, origins, end)
    y, _, keep, point = _targets(bands, x, origins, end)
    ones = np.ones(len(y))
    for c, share in ((80, 0.80), (95, 0.95)):
        want = _smallest_factor(share, y, point, LO_HALF[c], HI_HALF[c], ones)
        assert factors[c] == pytest.approx(want, rel=1e-9)
        # the widened band covers exactly the nominal share of the backtest, on each side
        # by its own half-width
        wide = bands.widened(factors)
        assert wide.upper[c][keep] - point == pytest.approx(factors[c] * HI_HALF[c])
        assert point - wide.lower[c][keep] == pytest.approx(factors[c] * LO_HALF[c])
        inside = (y >= wide.lower[c][keep]) & (y <= wide.upper[c][keep])
        assert inside.mean() == pytest.approx(share)


def test_the_oracle_tells_the_sides_and_the_levels_apart():
    """Guards the test above: the wrong side, or 77%/92%, would give other factors."""
    bands, x, origins, end = _backtest(200, 2)
    y, _, _, point = _targets(bands, x, origins, end)
    ones = np.ones(len(y))
    for c, share in ((80, 0.80), (95, 0.95)):
        right = _smallest_factor(share, y, point, LO_HALF[c], HI_HALF[c], ones)
        swapped = _smallest_factor(share, y, point, HI_HALF[c], LO_HALF[c], ones)
        lower = _smallest_factor(share - 0.03, y, point, LO_HALF[c], HI_HALF[c], ones)
        assert abs(swapped / right - 1) > 0.05 and abs(lower / right - 1) > 0.05


def test_each_lead_time_weighs_the_same_when_the_backtest_is_cut():
    """Origins near ``end`` lose their later lead times; each lead time still counts as
    much in total (weights 1 / count at that lead)."""
    bands, x, origins, _ = _backtest(60, 4, seed=1)
    end = 40  # leads 1..4 reach 39, 38, 37, 36 origins' targets
    factors = backtest_factors(bands, x, origins, end)
    y, lead, _, point = _targets(bands, x, origins, end)
    counts = {h: int((lead == h).sum()) for h in range(1, 5)}
    assert len(set(counts.values())) == 4  # the cut leaves unequal counts
    weights = np.array([1.0 / counts[h] for h in lead])
    for c, share in ((80, 0.80), (95, 0.95)):
        want = _smallest_factor(share, y, point, LO_HALF[c], HI_HALF[c], weights)
        assert factors[c] == pytest.approx(want, rel=1e-9)


def test_backtest_never_reads_points_at_or_after_its_end():
    bands, x, origins, _ = _backtest(60, 4, seed=2)
    before = backtest_factors(bands, x, origins, 40)
    x2 = x.copy()
    x2[40:] += 1e3
    assert backtest_factors(bands, x2, origins, 40) == before


def test_conformal_factors_pick_the_split_conformal_order_statistic():
    """n = 100 points: the 80% factor covers ceil(101 * 0.8) = 81 points, the 95% one
    ceil(101 * 0.95) = 96 (the (n + 1) / n inflation of split conformal)."""
    bands, x, origins, end = _backtest(100, 1, seed=3)
    y = x[origins + 1][:, None]
    factors = conformal_factors(bands, y)
    for c, k in ((80, 81), (95, 96)):
        want = _smallest_factor(k / 100, y.ravel(), bands.point.ravel(), LO_HALF[c],
                                HI_HALF[c], np.ones(100))
        assert factors[c] == pytest.approx(want, rel=1e-9)


def test_nested_widens_the_95_band_to_hold_the_80_band():
    point = np.zeros((1, 3))
    bands = Bands(point, {80: point - [[2, 1, 1]], 95: point - [[1, 3, 1]]},
                  {80: point + [[1, 1, 4]], 95: point + [[3, 3, 2]]})
    out = nested(bands)
    assert out.lower[95].tolist() == [[-2, -3, -1]] and out.upper[95].tolist() == [[3, 3, 4]]
    assert np.array_equal(out.lower[80], bands.lower[80])
    assert np.array_equal(out.upper[80], bands.upper[80])


# -- anomaly events -----------------------------------------------------------------------

def _alarms(n, *runs):
    a = np.zeros(n, bool)
    for first, last in runs:
        a[first:last + 1] = True
    return a


@pytest.mark.parametrize("run, caught", [
    ((7, 10), True),  # ends exactly at the window's first point
    ((20, 22), True),  # starts exactly at the window's last point
    ((7, 9), False),  # ends one point before the window
    ((21, 23), False),  # starts one point after the window
    ((12, 15), True),  # inside
    ((5, 25), True),  # spans it
])
def test_a_window_is_caught_by_an_event_touching_either_end(run, caught):
    s = event_scores(_alarms(30, run), [(10, 20)])
    assert s["windows_detected"] == int(caught)
    assert s["false_positives"] == int(not caught) and s["alarm_events"] == 1
    outside = sum(1 for t in range(run[0], run[1] + 1) if not 10 <= t <= 20)
    assert s["alarm_points_outside"] == outside
    p = r = float(caught)
    assert (s["precision"], s["recall"], s["f1"]) == (p, r, p)


def test_event_scores_on_a_hand_made_case():
    """Windows (10, 20), (18, 30) (overlapping), (50, 55), (70, 70); events (3, 4) false,
    (20, 20) in both overlapping windows, (40, 41) false, (70, 71) on the last window's only
    point: precision 2/4, recall 3/4, F1 = 2 * (1/2)(3/4) / (1/2 + 3/4) = 0.6 (the
    arithmetic mean would be 0.625)."""
    windows = [(10, 20), (18, 30), (50, 55), (70, 70)]
    alarms = _alarms(80, (3, 4), (20, 20), (40, 41), (70, 71))
    assert events(alarms) == [(3, 4), (20, 20), (40, 41), (70, 71)]
    s = event_scores(alarms, windows)
    assert s["windows_detected"] == 3 and s["windows_total"] == 4
    assert s["alarm_events"] == 4 and s["false_positives"] == 2
    assert s["alarm_points_outside"] == 5  # 3, 4, 40, 41, 71
    assert s["precision"] == pytest.approx(0.5) and s["recall"] == pytest.approx(0.75)
    assert s["f1"] == pytest.approx(0.6)


def test_f1_is_the_harmonic_mean():
    """One of three events true, both windows caught: P = 1/3, R = 1, F1 = 0.5."""
    s = event_scores(_alarms(40, (0, 0), (5, 12), (30, 30)), [(6, 6), (10, 11)])
    assert (s["precision"], s["recall"]) == pytest.approx((1 / 3, 1.0))
    assert s["f1"] == pytest.approx(0.5)


def test_no_alarms_and_all_alarms():
    windows = [(3, 5), (10, 12)]
    none = event_scores(np.zeros(20, bool), windows)
    assert (none["windows_detected"], none["alarm_events"], none["false_positives"]) == (0, 0, 0)
    assert (none["precision"], none["recall"], none["f1"]) == (0.0, 0.0, 0.0)
    every = event_scores(np.ones(20, bool), windows)
    assert (every["windows_detected"], every["alarm_events"], every["false_positives"]) == (
        2, 1, 0)
    assert (every["precision"], every["recall"], every["f1"]) == (1.0, 1.0, 1.0)
    assert every["alarm_points_outside"] == 20 - 6
    nothing = event_scores(np.ones(5, bool), [])
    assert (nothing["recall"], nothing["false_positives"], nothing["precision"]) == (0.0, 1, 0.0)


def test_events_at_the_series_ends():
    assert events(np.array([1, 1, 0, 0, 1], bool)) == [(0, 1), (4, 4)]
    assert events(np.array([], bool)) == []


def test_window_indices_are_inclusive_and_drop_windows_between_points():
    t = np.datetime64("2021-03-01T00:00") + np.arange(10) * np.timedelta64(10, "m")
    at = [(t[2], t[4]), (t[2] + np.timedelta64(1, "m"), t[4] - np.timedelta64(1, "m")),
          (t[5] + np.timedelta64(1, "m"), t[5] + np.timedelta64(9, "m")), (t[9], t[9])]
    assert window_indices(t, at) == [(2, 4), (3, 3), (9, 9)]


# -- the anomaly threshold ------------------------------------------------------------------

ANOMALY = {"name": "t-ad", "seed": 0,
           "task": {"name": "anomaly", "data": "series.csv", "train_size": 300,
                    "calib_size": 0.3, "window": 24, "smooth": 1, "threshold_factor": 1.5},
           "model": {"cell": "gru", "hidden_size": 6, "output": "gaussian"},
           "train": {"steps": 1, "batch_size": 8, "progress": "off"}}
FIT_END, TRAIN_END = 210, 300  # 300 points, the last 30% calibrating


def _spiky_series(path):
    """A daily sine with spikes: a large one in the fit range, one on the fit range's last
    point, one on the calibration range's last point, one on the first scored point."""
    n = 400
    t = np.datetime64("2020-01-01T00:00") + np.arange(n) * np.timedelta64(30, "m")
    v = 10 + 5 * np.sin(2 * np.pi * np.arange(n) / 48)
    v[100] += 80.0
    v[FIT_END - 1] += 40.0
    v[TRAIN_END - 1] += 6.0
    v[TRAIN_END] += 60.0
    path.write_text("timestamp,value\n" + "".join(
        f"{str(a).replace('T', ' ')},{b:.6f}\n" for a, b in zip(t, v)))
    return t, v


def test_the_threshold_is_read_on_the_calibration_range_only(tmp_path, monkeypatch):
    """threshold = factor x the highest score in [fit_end, train_end), the scores taken
    from the streaming detector point by point; neither the fit range (which holds the
    largest spike) nor the first scored point may enter it."""
    from rnnkit.tasks import TASKS
    from rnnkit.tasks.runner import config_from_raw
    from rnnkit.tasks.timeseries.detector import StreamingDetector, threshold

    monkeypatch.chdir(tmp_path)
    t, v = _spiky_series(tmp_path / "series.csv")
    task = TASKS["anomaly"]
    ctx = task.setup(config_from_raw(ANOMALY, "test"))
    assert (ctx.fit_end, ctx.train_end) == (FIT_END, TRAIN_END)
    model = task.build_model(ctx)
    det = StreamingDetector(model, ctx.scaler, ctx.task_cfg.calendar, 1, threshold=1.0,
                            covariates=ctx.covariate_scaler)
    scores = np.array([det.update(t[i], v[i])[0] for i in range(TRAIN_END + 2)])
    want = 1.5 * scores[FIT_END:TRAIN_END].max()
    # the data tells the ranges apart, one point either side included
    for other in (scores[:TRAIN_END], scores[FIT_END - 1:TRAIN_END],
                  scores[FIT_END:TRAIN_END - 1], scores[FIT_END:TRAIN_END + 2]):
        assert abs(1.5 * other.max() - want) > 1e-3 * want
    assert threshold(model, ctx) == pytest.approx(want, rel=1e-5)


# -- calibration by replays ------------------------------------------------------------------

def test_replay_factors_score_each_replay_on_the_points_it_forecasts(tmp_path, monkeypatch):
    """Each replay's forecast (stubbed: the true values minus known skewed errors) is scored
    on ``[origin, origin + horizon)``; the factors are the smallest reaching 80%/95% of the
    pooled errors. Scoring against the points one step off gives other factors."""
    from rnnkit.tasks.runner import config_from_raw
    from rnnkit.tasks.timeseries import replays

    monkeypatch.chdir(tmp_path)
    months = np.arange("2000-01", "2012-01", dtype="datetime64[M]")
    x = 100 + np.random.default_rng(4).normal(0, 5, len(months)).cumsum()
    (tmp_path / "s.csv").write_text("month,value\n" + "".join(
        f"{m},{v:.6f}\n" for m, v in zip(months, x)))
    cfg = config_from_raw({
        "name": "r", "task": {"name": "forecast", "data": "s.csv", "test_size": 24,
                              "window": 12, "horizon": 24, "refit": True},
        "model": {"cell": "gru", "hidden_size": 4, "output": "quantile"},
        "train": {"steps": 5, "batch_size": 4, "eval_every": 5, "progress": "off"}}, "test")
    rng = np.random.default_rng(5)
    errors = {}

    def replay_bands(rcfg, origin, run_dir):
        e = np.where(rng.random(24) < 0.7, rng.exponential(1.5, 24), -rng.exponential(0.8, 24))
        errors[origin] = e
        point = (x[origin:origin + 24] - e)[None]  # (1, H): y - point = e
        return Bands(point, {c: point - LO_HALF[c] for c in (80, 95)},
                     {c: point + HI_HALF[c] for c in (80, 95)})

    monkeypatch.setattr(replays, "replay_bands", replay_bands)
    factors = replays.calibrate_by_replays(cfg)
    assert sorted(errors) == [84, 90, 96]  # 3 replays 6 apart, the last at the val start
    e = np.concatenate([errors[o] for o in sorted(errors)])
    for c, share in ((80, 0.80), (95, 0.95)):
        want = _smallest_factor(share, e, 0.0, LO_HALF[c], HI_HALF[c], np.ones(len(e)))
        assert factors[c] == pytest.approx(want, rel=1e-6)
