"""Anomaly task: event-level scoring, calibration ranges, streaming = batch, detect CLI =
the predictor's records."""

import csv
import json

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli.main import main
from rnnkit.data.timeseries import Series
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.timeseries.detector import Alarm, StreamingDetector, batch_scores, features
from rnnkit.tasks.timeseries.events import event_scores, events, rolling_zscore, window_indices


def test_events_are_runs_of_consecutive_alarm_points():
    a = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    assert events(a) == [(1, 2), (5, 5), (7, 9)]
    s = event_scores(a, windows=[(2, 4), (9, 9), (20, 30)])  # inclusive windows
    assert (s["windows_detected"], s["windows_total"], s["false_positives"]) == (2, 3, 1)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["alarm_points_outside"] == 4  # points 1, 5, 7, 8


def test_windows_are_inclusive_point_ranges():
    t = np.arange("2020-01-01T00:00", "2020-01-01T05:00", 60, dtype="datetime64[m]")
    w = window_indices(t, [(np.datetime64("2020-01-01T01:00"),
                            np.datetime64("2020-01-01T02:00"))])
    assert w == [(1, 2)]


def test_rolling_zscore_uses_only_the_trailing_window():
    x = np.r_[np.random.default_rng(0).normal(size=50), 100.0, 0.0]
    z = rolling_zscore(x, 20)
    assert (z[:20] == 0).all() and z[50] > 3
    tail = x[30:50]
    assert z[50] == pytest.approx((100 - tail.mean()) / tail.std(ddof=1))


def test_alarm_hysteresis_and_hold_on_a_hand_made_score():
    s = np.array([0, 2.5, 1.5, 2.5, 0.5, 0, 1.5, 0, 0, 0, 3, 0])
    plain = Alarm(2.0).run(s)
    assert plain.tolist() == (s > 2.0).tolist()
    # on above 2, off only at or below 1: the dip to 1.5 does not end the alarm
    hyst = Alarm(2.0, release=1.0).run(s)
    assert np.flatnonzero(hyst).tolist() == [1, 2, 3, 10]
    # hold 2: the alarm stays on for two quiet points after it falls to the release level
    held = Alarm(2.0, release=1.0, hold=2).run(s)
    assert np.flatnonzero(held).tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11]
    assert len(events(held)) == 2 and len(events(plain)) == 3
    with pytest.raises(ValueError, match="release <= threshold"):
        Alarm(1.0, release=2.0)


def _series(n=1200, anomaly=1000):
    t = np.arange(n) * np.timedelta64(30, "m") + np.datetime64("2020-01-01T00:00")
    v = 10 + 5 * np.sin(2 * np.pi * np.arange(n) / 48)
    v[anomaly:anomaly + 6] += 20
    return t, v


TINY = """
name = "tiny-ad"
[task]
name = "anomaly"
csv = "series.csv"
train_size = 600
calib_size = 0.3
window = 24
smooth = 4
[model]
cell = "gru"
hidden_size = 8
output = "gaussian"
[train]
steps = 60
batch_size = 32
eval_every = 30
lr = 1e-2
progress = "off"
"""


@pytest.fixture
def ad_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t, v = _series()
    (tmp_path / "series.csv").write_text(
        "timestamp,value\n" + "".join(f"{str(a).replace('T', ' ')},{b:.4f}\n"
                                      for a, b in zip(t, v)))
    (tmp_path / "tiny.toml").write_text(TINY)
    assert main(["train", "tiny.toml"]) == 0
    return tmp_path / "runs" / "tiny-ad"


def test_training_and_calibration_never_read_the_scored_range(ad_run):
    from rnnkit.tasks.timeseries.detector import threshold

    p = rnnkit.load(ad_run)
    ctx = p.context
    assert (ctx.fit_end, ctx.train_end) == (420, 600)
    data = TASKS["anomaly"].make_splits(ctx)
    # the training windows' inputs and targets all lie before fit_end; the feature value of
    # the last target of each split is the scaled series at its index
    n_train = data["train"]["x"].shape[0]
    assert n_train + 24 == ctx.fit_end  # starts 0 .. fit_end - 25, targets up to fit_end - 1
    assert data["val"]["x"].shape[0] + 24 == ctx.train_end - (ctx.fit_end - 24)
    # the threshold is a function of the training range only: changing later points
    before = threshold(p.model, ctx)
    assert p.threshold == before
    ctx.series.values[ctx.train_end:] += 1000.0
    try:
        assert threshold(p.model, ctx) == before
    finally:
        ctx.series.values[ctx.train_end:] -= 1000.0


def test_streaming_scores_equal_batch_scores(ad_run):
    p = rnnkit.load(ad_run)
    s = p.context.series
    batch = batch_scores(p.model, features(s, p.scaler, True), 4)
    det = StreamingDetector(p.model, p.scaler, True, 4, threshold=1.0)
    stream = np.array([det.update(t, v)[0] for t, v in zip(s.timestamps[:300], s.values[:300])])
    np.testing.assert_allclose(stream, batch[:300], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("smooth", [1, 7, 500])
def test_streamed_scores_are_trailing_means_of_the_raw_scores(ad_run, smooth):
    """The stream's running sums give the trailing mean over ``smooth`` points (fewer at
    the start; 500 > the points pushed), written out here from the raw scores (smooth 1)
    of the batch pass; and the per-sensor scores likewise."""
    p = rnnkit.load(ad_run)
    s = p.context.series
    raw = batch_scores(p.model, features(s.head(200), p.scaler, True), 1)
    expected = [raw[max(0, i + 1 - smooth):i + 1].mean() for i in range(200)]
    det = StreamingDetector(p.model, p.scaler, True, smooth, threshold=1.0)
    stream, sensors = [], []
    for t, v in zip(s.timestamps[:200], s.values[:200]):
        stream.append(det.update(t, v)[0])
        sensors.append(det.sensors[0])
    np.testing.assert_allclose(stream, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sensors, expected, rtol=1e-4, atol=1e-5)


def test_streaming_alarms_with_hysteresis_and_hold_equal_batch_alarms(ad_run):
    p = rnnkit.load(ad_run)
    t, v = _series()
    batch = batch_scores(p.model, features(Series(t, v), p.scaler, True), 4)

    def level(q):  # a level the score crosses, in a gap of the scores (no float ties)
        v = np.sort(batch)[int(q * len(batch)) - 20:int(q * len(batch)) + 20]
        i = np.argmax(np.diff(v))
        return float(v[i] + v[i + 1]) / 2

    limit, release = level(0.9), level(0.6)
    expected = Alarm(limit, release, hold=5).run(batch)
    det = StreamingDetector(p.model, p.scaler, True, 4, limit, Alarm(limit, release, 5))
    stream = np.array([det.update(a, b)[1] for a, b in zip(t, v)])
    assert expected.any() and (expected != (batch > limit)).any()  # the options act
    np.testing.assert_array_equal(stream, expected)


def test_predictor_stream_pushed_point_by_point_equals_the_batch_record(ad_run):
    p = rnnkit.load(ad_run)
    assert p.task == "anomaly" and {"detect", "stream"} <= p.capabilities
    (series,) = p.read_file("series.csv")
    (batch,) = p.predict([series])
    s = p.stream()
    pushed = [s.push((t, v)) for t, v in zip(series.timestamps, series.values)]
    cols = batch["columns"]
    np.testing.assert_allclose([r["score"] for r in pushed], cols["score"], rtol=1e-4,
                               atol=1e-4)
    # the same alarms, but where a score ties the threshold to float32 rounding (here the
    # calibration maximum itself recurs: the toy series repeats every week)
    tie = np.abs(np.array(cols["score"]) - batch["threshold"]) < 1e-4
    same = np.array([r["alarm"] for r in pushed]) == np.array(cols["is_anomaly"])
    assert same[~tie].all() and tie.sum() < 5
    assert [r["timestamp"] for r in pushed] == cols["timestamp"]
    assert any(cols["is_anomaly"][1000:1010])  # the spike
    assert batch["alarm_points"] == sum(cols["is_anomaly"])
    s.reset()  # a fresh state: the same first scores again
    assert s.push((series.timestamps[0], series.values[0])) == pushed[0]
    with pytest.raises(rnnkit.tasks.TaskError, match="timestamp"):
        p.predict([series.values])  # calendar features need the times
    json.dumps(batch)


def test_predictor_records_are_what_the_detect_cli_prints(ad_run, capsys):
    p = rnnkit.load(ad_run)
    for extra in ([], ["--stream"]):
        capsys.readouterr()
        assert main(["detect", str(ad_run), "--input", "series.csv", *extra]) == 0
        out = capsys.readouterr()
        rows = list(csv.DictReader(out.out.splitlines()))
        (record,) = p.predict(p.read_file("series.csv"), stream=bool(extra))
        cols = record["columns"]
        assert list(rows[0]) == list(cols) and len(rows) == len(cols["score"]) == 1200
        for i, row in enumerate(rows):
            assert row["timestamp"] == cols["timestamp"][i]
            assert float(row["value"]) == float(f"{cols['value'][i]:.6g}")
            assert float(row["score"]) == float(f"{cols['score'][i]:.6g}"), i
            assert row["is_anomaly"] == str(int(cols["is_anomaly"][i]))
        assert f"{record['alarm_points']} alarm points" in out.err


def test_detect_cli_writes_the_documented_csv_and_flags_the_spike(ad_run, tmp_path, capsys):
    out = tmp_path / "d.csv"
    for extra in ([], ["--stream"]):
        assert main(["detect", str(ad_run), "--input", "series.csv", "--output", str(out),
                     "--plot", str(tmp_path / "d.png"), *extra]) == 0
        rows = list(csv.DictReader(out.open()))
        assert list(rows[0]) == ["timestamp", "value", "score", "is_anomaly", "warmup"]
        assert len(rows) == 1200 and rows[0]["timestamp"].startswith("2020-01-01 00:00")
        flagged = [i for i, r in enumerate(rows) if r["is_anomaly"] == "1"]
        assert any(1000 <= i < 1010 for i in flagged)
    capsys.readouterr()
    assert main(["evaluate", str(ad_run), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert {"windows_detected", "windows_total", "false_positives", "precision", "recall",
            "f1"} <= set(figures)


def test_no_alarm_in_the_warm_up_and_a_spike_right_after_it_is_flagged(ad_run, tmp_path,
                                                                       capsys):
    """The first window + smooth - 1 = 27 points are the warm-up: the forecasts their
    scores average were made from less than a window (24 points) of history. They are
    scored and marked, never alarmed, by the detect CLI, predict (batch and streamed) and
    stream().push alike; a spike at point 27 is flagged by all of them."""
    t, v = _series(100, anomaly=8)  # spikes at 8..13 (inside the warm-up)
    v[27:30] += 20  # and right after it
    (tmp_path / "early.csv").write_text(
        "timestamp,value\n" + "".join(f"{str(a).replace('T', ' ')},{b:.4f}\n"
                                      for a, b in zip(t, v)))
    p = rnnkit.load(ad_run)
    (series,) = p.read_file("early.csv")
    (batch,) = p.predict([series])
    (streamed,) = p.predict([series], stream=True)
    s = p.stream()
    pushed = [s.push((a, b)) for a, b in zip(series.timestamps, series.values)]
    cols = batch["columns"]
    alarms = cols["is_anomaly"]
    assert cols["warmup"] == [i < 27 for i in range(100)] and batch["warmup_points"] == 27
    assert not any(alarms[:27]) and max(cols["score"][8:14]) > 3 * batch["threshold"]
    assert all(alarms[27:30]) and batch["alarm_points"] == sum(alarms)
    assert streamed["columns"]["is_anomaly"] == alarms == [r["alarm"] for r in pushed]
    assert streamed["columns"]["warmup"] == cols["warmup"] == [r["warmup"] for r in pushed]
    for extra in ([], ["--stream"]):
        out = tmp_path / "alarms.csv"
        capsys.readouterr()
        assert main(["detect", str(ad_run), "--input", "early.csv", "--output", str(out),
                     *extra]) == 0
        rows = list(csv.DictReader(out.open()))
        assert [r["is_anomaly"] == "1" for r in rows] == alarms
        assert [r["warmup"] == "1" for r in rows] == cols["warmup"]
        assert "the first 27 points are the warm-up" in capsys.readouterr().err


def test_the_reports_detection_plot_shades_the_runs_warm_up(ad_run, monkeypatch):
    from rnnkit.tasks.timeseries import report

    seen = {}
    draw = report.plot_detection
    monkeypatch.setattr(report, "plot_detection",
                        lambda *a, **k: seen.setdefault("warmup", k["warmup"]) and draw(*a, **k))
    p = rnnkit.load(ad_run)
    p.write_report()
    task = p.config.task
    assert seen["warmup"] == task.window + task.smooth - 1 > 1


def test_detect_cli_rejects_a_bad_csv(ad_run, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:00:00,2\n")
    assert main(["detect", str(ad_run), "--input", str(bad)]) == 1
    assert "bad.csv:3: duplicated timestamp" in capsys.readouterr().err
    torch.manual_seed(0)


# -- several sensors, short and bad inputs ---------------------------------------------------
SENSORS = """
name = "sensors"
[task]
name = "anomaly"
data = "sensors.csv"
value_columns = ["a", "b"]
covariate_columns = ["load"]
train_size = 500
calib_size = 0.3
window = 24
smooth = 1
calendar = false
[model]
cell = "gru"
hidden_size = 8
output = "gaussian"
[train]
steps = 40
batch_size = 32
eval_every = 20
lr = 1e-2
progress = "off"
"""


def _sensors(n=800, fault=700):
    rng = np.random.default_rng(0)
    t = np.arange(n) * np.timedelta64(30, "m") + np.datetime64("2020-01-01T00:00")
    load = np.where(np.arange(n) % 48 < 24, 1.0, 0.0)
    a = 10 + 3 * load + np.sin(2 * np.pi * np.arange(n) / 48) + rng.normal(0, 0.1, n)
    b = 5 - load + rng.normal(0, 0.1, n)
    b[fault:fault + 4] += 4  # a fault on sensor b only
    return "timestamp,a,b,load\n" + "".join(
        f"{str(x).replace('T', ' ')},{u:.3f},{v:.3f},{w:.0f}\n"
        for x, u, v, w in zip(t, a, b, load))


@pytest.fixture(scope="module")
def sensors_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sensors")
    (root / "sensors.csv").write_text(_sensors())
    (root / "s.toml").write_text(SENSORS)
    assert main(["train", str(root / "s.toml"), "--run-dir", str(root / "run")]) == 0
    return root / "run"


def test_several_sensors_score_each_and_combined(sensors_run):
    p = rnnkit.load(sensors_run)
    info = json.loads((sensors_run / "checkpoints/best/model.json").read_text())
    assert info["model_config"]["input_size"] == 3 and info["model_config"]["output_size"] == 2
    (series,) = p.read_file(sensors_run.parent / "sensors.csv")
    (record,) = p.predict([series])
    cols = record["columns"]
    assert list(cols) == ["timestamp", "value_a", "value_b", "score_a", "score_b", "score",
                          "is_anomaly", "warmup"] and record["sensors"] == ["a", "b"]
    # smooth = 1: the combined score is the root mean square of the sensors' scores
    a, b = np.array(cols["score_a"]), np.array(cols["score_b"])
    np.testing.assert_allclose(cols["score"], np.sqrt((a ** 2 + b ** 2) / 2), rtol=1e-9)
    # the fault is on sensor b: its score, not a's, carries it, and the alarm goes off
    assert b[700:704].max() > 5 * a[700:704].max()
    assert any(cols["is_anomaly"][700:704])
    p.plot(record, sensors_run / "sensors.png")
    json.dumps(record)


def test_several_sensors_detect_cli_prints_the_predictor_s_record(sensors_run, capsys):
    p = rnnkit.load(sensors_run)
    path = str(sensors_run.parent / "sensors.csv")
    for extra in ([], ["--stream"]):
        capsys.readouterr()
        assert main(["detect", str(sensors_run), "--input", path, *extra]) == 0
        rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
        (record,) = p.predict(p.read_file(path), stream=bool(extra))
        cols = record["columns"]
        assert list(rows[0]) == list(cols) and len(rows) == 800
        for i, row in enumerate(rows):
            for k in list(cols)[1:-1]:
                assert float(row[k]) == float(f"{cols[k][i]:.6g}"), (i, k)
            assert row["is_anomaly"] == str(int(cols["is_anomaly"][i]))


def test_several_sensors_stream_equals_the_batch_record(sensors_run):
    p = rnnkit.load(sensors_run)
    (series,) = p.read_file(sensors_run.parent / "sensors.csv")
    (batch,) = p.predict([series])
    s = p.stream()
    with pytest.raises(rnnkit.tasks.TaskError, match="covariates"):
        s.push((series.timestamps[0], series.values[0]))
    s.reset()
    pushed = [s.push((t, v, c)) for t, v, c in zip(series.timestamps, series.values,
                                                     series.covariates)]
    for key in ("score", "score_a", "score_b", "value_b"):
        np.testing.assert_allclose([r[key] for r in pushed], batch["columns"][key],
                                   rtol=1e-4, atol=1e-4)


def test_detect_on_a_header_only_or_one_point_file_says_the_minimum(ad_run, tmp_path, capsys):
    for rows in ("", "2020-01-01 00:00:00,1\n"):
        short = tmp_path / "short.csv"
        short.write_text("timestamp,value\n" + rows)
        assert main(["detect", str(ad_run), "--input", str(short)]) == 1
        err = capsys.readouterr().err
        assert f"short.csv): {len(rows and [1])} point(s); scoring needs at least 2" in err
        assert "Traceback" not in err


def test_anomaly_training_on_a_too_short_file_says_the_minimum(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    t, v = _series(n=500)
    (tmp_path / "series.csv").write_text(
        "timestamp,value\n" + "".join(f"{str(a).replace('T', ' ')},{b:.4f}\n"
                                      for a, b in zip(t, v)))
    (tmp_path / "tiny.toml").write_text(TINY)
    assert main(["train", "tiny.toml"]) == 1  # train_size 600 of 500 points
    assert "series.csv: 500 points; window 24 needs at least 601" in capsys.readouterr().err


def test_detect_refuses_non_finite_values_with_their_row(ad_run, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:30:00,1e300\n")
    assert main(["detect", str(ad_run), "--input", str(bad)]) == 1
    assert "bad.csv:3: value 1e+300 in column 'value' is beyond" in capsys.readouterr().err


def test_the_multi_sensor_example_trains_end_to_end(tmp_path, capsys):
    from pathlib import Path

    config = Path(__file__).parent.parent / "examples" / "anomaly-sensors.toml"
    run = tmp_path / "sensors"
    assert main(["train", str(config), "--run-dir", str(run), "--set", "train.steps=10",
                 "--set", "train.eval_every=10"]) == 0
    assert "3 sensors" in (run / "report.md").read_text()
    capsys.readouterr()
    assert main(["detect", str(run)]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert len(rows) == 21 * 96 and "score_vibration" in rows[0]


@pytest.mark.parametrize("bad, message", [
    (("2020-01-01 00:00", "x"), "push: 'x' is not a number"),
    (("2020-01-01 00:00", float("inf")), "push: inf: a value is NaN, infinite"),
    (("2020-01-01 00:00", [1.0, 2.0]), "push: [1.0, 2.0]: the run reads 1 value(s) a step"),
    (("not a time", 1.0), "push: 'not a time' is not a time"),
    (("2020-01-01 00:00",), "push: ('2020-01-01 00:00',): give (timestamp, value"),
])
def test_a_bad_push_to_a_detector_is_a_task_error(ad_run, bad, message):
    p = rnnkit.load(ad_run)
    s = p.stream()
    first = s.push(("2020-01-01 00:00", 1.0))
    with pytest.raises(TaskError) as err:
        s.push(bad)
    assert str(err.value).startswith(message)
    s.reset()
    assert s.push(("2020-01-01 00:00", 1.0)) == first
