"""Forecast metrics and anomaly event scoring, each against a reference written out by hand
(plain loops, closed forms, hand-made cases with their boundaries); intervals and their
calibration are in tests/test_intervals.py. Pure NumPy and fast: benchmarks/mutation.py
runs these per mutant."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from rnnkit.tasks.timeseries import events as ev
from rnnkit.tasks.timeseries import metrics as fm

# -- metrics ------------------------------------------------------------------------------


def test_point_metrics_match_hand_loops_and_warn_nothing_on_zero_targets():
    y = [0.0, 2.0, -4.0, 5.0]
    p = [1.0, 2.5, -1.0, 5.0]
    train = [1.0, 3.0, 2.0, 6.0, 4.0]  # season 2: |2-1|, |6-3|, |4-2| -> 2
    e = [b - a for a, b in zip(y, p)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the y = 0 point divides by zero, silently
        m = fm.point_metrics(np.array(y), np.array(p), np.array(train), season=2)
    assert m["rmse"] == pytest.approx(math.sqrt(sum(v * v for v in e) / 4))
    assert m["mae"] == pytest.approx(sum(abs(v) for v in e) / 4)
    apes = [abs(v) / abs(t) for v, t in zip(e, y) if t != 0]
    assert m["mape"] == pytest.approx(100 * sum(apes) / len(apes))
    sapes = [2 * abs(v) / (abs(t) + abs(q)) for v, t, q in zip(e, y, p)]
    assert m["smape"] == pytest.approx(100 * sum(sapes) / 4)
    assert m["mase"] == pytest.approx(m["mae"] / 2.0)


def test_point_metrics_undefined_cases():
    # every target 0: no MAPE; 0/0 in sMAPE counts as 0; a constant history: no MASE
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0/0 is expected here, not a warning
        m = fm.point_metrics(np.zeros(3), np.zeros(3), np.ones(4), season=1)
    assert m["mape"] is None and m["smape"] == 0.0 and m["mase"] is None
    # a scale below 1 still gives a MASE (only 0 does not)
    m = fm.point_metrics(np.array([1.0]), np.array([2.0]), np.array([0.0, 0.5, 1.0]), 1)
    assert m["mase"] == pytest.approx(1.0 / 0.5)


def test_seasonal_naive_scale_falls_back_to_lag_one_on_short_history():
    x = np.array([1.0, 4.0, 2.0, 8.0])
    assert fm.seasonal_naive_scale(x, 2) == pytest.approx((1 + 4) / 2)
    assert fm.seasonal_naive_scale(x, 4) == pytest.approx((3 + 2 + 6) / 3)  # 4 points: m=1
    assert fm.seasonal_naive_scale(x, 7) == pytest.approx((3 + 2 + 6) / 3)


def test_unsigned_integer_inputs_do_not_wrap_around():
    u = np.array([5, 3, 9], dtype=np.uint8)
    assert fm.seasonal_naive_scale(u, 1) == pytest.approx((2 + 6) / 2)
    assert fm.pinball(np.array([1], np.uint8), np.array([3], np.uint8), 0.9) == \
        pytest.approx(0.1 * 2)
    np.testing.assert_allclose(fm.drift(np.array([9, 3], np.uint8), 2), [-3.0, -9.0])


def test_coverage_counts_both_bounds_as_inside():
    y = np.array([0.0, 1.0, 2.0, 3.0, -1.0])
    assert fm.coverage(y, np.full(5, 0.0), np.full(5, 2.0)) == pytest.approx(3 / 5)


@pytest.mark.parametrize("q", [0.1, 0.5, 0.8])
def test_pinball_is_the_quantile_loss(q):
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([1.5, 1.0, 3.0, 2.5])
    ref = [q * (a - b) if a >= b else (1 - q) * (b - a) for a, b in zip(y, pred)]
    assert fm.pinball(y, pred, q) == pytest.approx(sum(ref) / 4)


def test_baselines():
    h = np.array([1.0, 2.0, 5.0, 3.0, 4.0])
    np.testing.assert_array_equal(fm.naive(h, 3), [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(fm.seasonal_naive(h, 5, season=2), [3.0, 4.0, 3.0, 4.0, 3.0])
    np.testing.assert_allclose(fm.drift(h, 2), [4.75, 5.5])  # slope (4 - 1) / 4
    np.testing.assert_allclose(fm.drift(np.array([1.0, 3.0]), 2), [5.0, 7.0])
    np.testing.assert_allclose(fm.drift(np.array([2.0]), 2), [2.0, 2.0])
    ints = np.array([1, 2, 3])  # an integer history still gives float forecasts
    for f in (fm.naive(ints, 2), fm.seasonal_naive(ints, 2, 2), fm.drift(ints, 2)):
        assert f.dtype == np.float64


# -- anomaly events -----------------------------------------------------------------------


def test_events_boundaries():
    a = np.array([1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    assert ev.events(a) == [(0, 1), (4, 4), (6, 8)]
    assert ev.events(np.zeros(4, bool)) == []
    assert ev.events([True]) == [(0, 0)]
    assert ev.events(np.array([0.0, 0.7, 0.2, 0.0, 1.0])) == [(1, 2), (4, 4)]  # scores: != 0


def test_event_scores_on_hand_made_events_and_windows():
    alarms = np.zeros(30, dtype=bool)
    alarms[[2, 3]] = True          # event (2, 3): ends at window (3, 6)'s first point -> hit
    alarms[10] = True              # (10, 10): one past window (7, 9)'s end -> false positive
    alarms[[12, 13]] = True        # (12, 13): the last point of window (13, 15) -> hit
    alarms[20] = True              # (20, 20): outside -> false positive
    windows = [(3, 6), (7, 9), (13, 15), (25, 28)]
    s = ev.event_scores(alarms, windows)
    precision, recall = 2 / 4, 2 / 4
    assert s["alarm_events"] == 4 and s["false_positives"] == 2
    assert s["windows_detected"] == 2 and s["windows_total"] == 4
    assert s["alarm_points_outside"] == 4  # 2, 10, 12, 20
    assert s["precision"] == pytest.approx(precision) and s["recall"] == pytest.approx(recall)
    # harmonic mean, not arithmetic: differ once precision != recall
    s = ev.event_scores(alarms, windows[:3])
    p, r = 2 / 4, 2 / 3
    assert s["f1"] == pytest.approx(2 * p * r / (p + r))


def test_an_event_starting_on_a_window_s_last_point_detects_it():
    alarms = np.zeros(12, dtype=float)  # 0/1 floats are alarms too
    alarms[[6, 7]] = 1.0  # (6, 7) starts on window (3, 6)'s last point
    alarms[9] = 1.0       # inside window (9, 10)... on its first point
    s = ev.event_scores(alarms, [(3, 6), (9, 10)])
    assert s["windows_detected"] == 2 and s["false_positives"] == 0
    assert s["alarm_points_outside"] == 1  # only 7: 6 is the window's last point


def test_event_scores_without_events_or_windows():
    s = ev.event_scores(np.zeros(5, bool), [(1, 2)])
    assert (s["precision"], s["recall"], s["f1"]) == (0.0, 0.0, 0.0)
    s = ev.event_scores(np.array([0, 1, 0], bool), [])
    assert (s["precision"], s["recall"], s["f1"], s["false_positives"]) == (0.0, 0.0, 0.0, 1)


def test_one_event_over_two_windows_detects_both():
    alarms = np.zeros(12, bool)
    alarms[2:9] = True
    s = ev.event_scores(alarms, [(1, 3), (8, 10)])
    assert s["windows_detected"] == 2 and s["precision"] == 1.0 and s["f1"] == 1.0


def test_window_indices_are_inclusive_and_drop_empty_windows():
    t = np.datetime64("2020-01-01T00:00") + np.arange(6) * np.timedelta64(5, "m")
    w = [(t[1], t[3]),                                             # exact points
         (t[3] + np.timedelta64(1, "m"), t[4] + np.timedelta64(1, "m")),  # between points
         (t[4] + np.timedelta64(1, "m"), t[4] + np.timedelta64(2, "m"))]  # holds no point
    assert ev.window_indices(t, w) == [(1, 3), (4, 4)]


def test_nab_windows_reads_the_labels(tmp_path, monkeypatch):
    labels = {"realKnownCause/cpu.csv": [["2014-02-19 10:50:00", "2014-02-19 12:00:00"]]}
    (tmp_path / "w.json").write_text(json.dumps(labels))
    monkeypatch.setattr(ev, "fetch", lambda name: [tmp_path / {"nab-windows": "w.json"}[name]])
    assert ev.nab_windows("cpu") == [(np.datetime64("2014-02-19T10:50:00"),
                                      np.datetime64("2014-02-19T12:00:00"))]
    with pytest.raises(ev.DataError, match="'disk'"):
        ev.nab_windows("disk")


def test_rolling_zscore_against_a_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40) * 3 + 10
    x[20:26] = 4.0  # a flat stretch: std 0 -> z 0
    w = 6
    z = ev.rolling_zscore(x, w)
    ref = np.zeros_like(x)
    for t in range(w, len(x)):
        prev = x[t - w:t]
        sd = prev.std(ddof=1)
        ref[t] = (x[t] - prev.mean()) / sd if sd > 1e-9 else 0.0
    np.testing.assert_allclose(z, ref, atol=1e-6)
    small = x / 100  # std below 1: still scored
    np.testing.assert_allclose(ev.rolling_zscore(small, w), ref, atol=1e-6)
    counts = np.array([3, 200, 7, 9, 250, 4, 6, 255], dtype=np.uint8)  # no integer wrap-around
    np.testing.assert_allclose(ev.rolling_zscore(counts, 3),
                               ev.rolling_zscore(counts.astype(float), 3))
