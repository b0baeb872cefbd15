"""rnnkit/training/callbacks.py with a stand-in trainer (issue 20): what each callback
writes, saves, prints or stops, checked against the figures worked out by hand from the
records it is given.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from rnnkit.training import ConfigError, LoggingConfig, TrainConfig, callbacks
from rnnkit.training.callbacks import (
    CheckpointSaver,
    EarlyStopping,
    MetricsLogger,
    MetricsWriter,
    Progress,
    TargetReached,
    TensorBoardWriter,
    TimeLimit,
    default_callbacks,
    tensorboard_dir,
    trim_records,
)
from rnnkit.training.distributed import DistInfo


class FakeTrainer:
    """What the callbacks read of a Trainer, and the stop requests they make."""

    def __init__(self, rank=0, world_size=1, total_steps=10, **cfg):
        self.dist = DistInfo(rank=rank, world_size=world_size)
        self.state = SimpleNamespace(step=0, elapsed=0.0, best_step=-1)
        self.total_steps, self.device, self.epoch = total_steps, "cpu", 2
        self.cfg = TrainConfig(**cfg)
        self.model = object()
        self.stops: list[str] = []

    def stop(self, reason):
        self.stops.append(reason)

    def training_state(self):
        return {"t": 1}, {"step": self.state.step}


class FakeSummaryWriter:
    def __init__(self):
        self.calls = []

    def add_scalar(self, tag, value, step):
        self.calls.append((tag, value, step))

    def flush(self):
        self.calls.append("flush")

    def close(self):
        self.calls.append("close")


def fake_tensorboard() -> TensorBoardWriter:
    tb = TensorBoardWriter.__new__(TensorBoardWriter)
    tb.writer = FakeSummaryWriter()
    return tb


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_tensorboard_dir_only_when_asked_for(tmp_path):
    assert tensorboard_dir(tmp_path, None) is None
    assert tensorboard_dir(tmp_path, LoggingConfig()) is None
    assert tensorboard_dir(str(tmp_path), LoggingConfig(tensorboard=True)) == \
        tmp_path / "tensorboard"


def test_a_missing_tensorboard_is_a_config_error_naming_the_extra(monkeypatch):
    def missing(module, extra):
        raise callbacks.MissingExtraError(f"no {module}: pip install 'rnnkit[{extra}]'")

    monkeypatch.setattr(callbacks, "require", missing)
    with pytest.raises(ConfigError, match=r"^logging.tensorboard = true: no tensorboard: "
                       r"pip install 'rnnkit\[tensorboard\]'$"):
        callbacks.require_tensorboard()
    with pytest.raises(ConfigError):
        MetricsLogger("m.jsonl", 1, tensorboard="tb")
    MetricsLogger("m.jsonl", 1)  # without TensorBoard nothing is required


def test_scalars_of_a_record():
    record = {"step": 5, "epoch": 1, "time": 2.5, "split": "val", "loss": 0.25, "acc": 1,
              "finite": True, "name": "x", "n": 3}
    got = TensorBoardWriter.scalars(record)
    assert got == {"val/loss": 0.25, "val/acc": 1.0, "val/n": 3.0}
    assert all(type(v) is float for v in got.values())
    assert TensorBoardWriter.scalars({"step": 1, "loss": 2.0}) == {"train/loss": 2.0}
    best = {"step": 1, "split": "test", "checkpoint": "best", "mse": 0.5}
    assert TensorBoardWriter.scalars(best) == {"best/test/mse": 0.5}
    assert TensorBoardWriter.scalars({"step": 1, "checkpoint": "", "x": 1.0}) == {"train/x": 1.0}


def test_tensorboard_writer_adds_each_scalar_at_the_record_s_step():
    tb = fake_tensorboard()
    tb.write({"step": 7, "split": "val", "loss": 0.5, "acc": 0.75})
    tb.flush()
    tb.close()
    assert tb.writer.calls == [("val/loss", 0.5, 7), ("val/acc", 0.75, 7), "flush", "close"]


def test_metrics_writer_appends_lines_and_passes_them_to_tensorboard(tmp_path):
    with MetricsWriter.for_run(tmp_path) as out:
        assert out.path == tmp_path / "metrics.jsonl" and out.tensorboard is None
        out.write({"step": 1, "loss": 2.0})
        out.flush()
    with MetricsWriter(tmp_path / "metrics.jsonl") as out:
        out.tensorboard = fake_tensorboard()
        out.write({"step": 2, "loss": 1.5})
        out.flush()
    assert read_jsonl(tmp_path / "metrics.jsonl") == [{"step": 1, "loss": 2.0},
                                                      {"step": 2, "loss": 1.5}]
    assert out.tensorboard.writer.calls == [("train/loss", 1.5, 2), "flush", "close"]


def test_a_torn_last_line_is_ended_before_the_next_record(tmp_path):
    """A process killed mid-write leaves half a line; the next writer must not glue its
    first record onto it (that record would be lost with the torn one)."""
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"step": 1, "loss": 2.0}\n{"step": 2, "lo')
    with MetricsWriter(path) as out:
        out.write({"step": 3, "loss": 1.0})
        out.write({"step": 4, "loss": 0.5})
    assert path.read_bytes().splitlines()[1:] == [b'{"step": 2, "lo', b'{"step": 3, "loss": 1.0}',
                                                  b'{"step": 4, "loss": 0.5}']
    path.write_bytes(b"{")  # a torn line of one byte is ended too
    with MetricsWriter(path) as out:
        out.write({"step": 1})
    assert path.read_bytes() == b'{\n{"step": 1}\n'
    path.write_bytes(b"")  # an empty file and a whole last line get no blank line
    with MetricsWriter(path) as out:
        out.write({"step": 1})
        out.write({"step": 2})
    assert path.read_bytes() == b'{"step": 1}\n{"step": 2}\n'


def test_trim_records_keeps_whole_records_up_to_the_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = ['{"step": 5, "loss": 1.0}', '{"step": 10, "split": "val", "loss": 0.9}',
             '[1, 2]', '{"split": "test", "checkpoint": "best"}', "",
             '{"step": 11, "loss": 0.8}', '{"step": 15, "lo']
    path.write_text("\n".join(lines))
    trim_records(path, 10)
    assert path.read_text() == "\n".join(lines[:2] + lines[3:4]) + "\n"
    trim_records(path, 4)
    assert path.read_text() == lines[3] + "\n"
    assert not (tmp_path / "metrics.jsonl.tmp").exists()
    trim_records(tmp_path / "none.jsonl", 3)  # no file: nothing to do, nothing written
    assert not (tmp_path / "none.jsonl").exists()
    # a torn line before whole ones is skipped, not the end; a record without a step is
    # kept from step 0 on
    path.write_text('{"step": 1, "lo\n{"step": 0, "loss": 1.0}\n{"split": "test"}\n')
    trim_records(path, 0)
    assert path.read_text() == '{"step": 0, "loss": 1.0}\n{"split": "test"}\n'


def no_space(*args, **kwargs):
    raise OSError(28, "No space left on device")  # (an OSError that names no file)


def test_a_full_disk_names_the_file_written(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n')
    monkeypatch.setattr(Path, "write_bytes", no_space)
    with pytest.raises(OSError) as err:
        trim_records(path, 1)
    assert err.value.filename == str(tmp_path / "metrics.jsonl.tmp")
    monkeypatch.setattr(callbacks, "open", no_space, raising=False)
    with pytest.raises(OSError) as err:
        MetricsWriter(path).write({"step": 2})
    assert err.value.filename == str(path)


def test_for_run_opens_tensorboard_when_logging_asks(tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(callbacks, "TensorBoardWriter", lambda d: made.append(d) or "tb")
    assert MetricsWriter.for_run(tmp_path, LoggingConfig(tensorboard=True)).tensorboard == "tb"
    assert made == [tmp_path / "tensorboard"]


def step_through(logger, trainer, losses, start=1):
    for i, loss in enumerate(losses, start):
        trainer.state.step, trainer.state.elapsed = i, i * 0.12345
        logger.on_step_end(trainer, {"step": i, "loss": loss, "samples": 8, "lr": 0.1 * i})


def test_metrics_logger_writes_the_mean_loss_of_each_window(tmp_path):
    """every = 3 of 7 steps: lines at steps 3 and 6 and at the last step; the loss is the
    mean over the window's finite losses (null, strict JSON's NaN, when none is)."""
    trainer = FakeTrainer(total_steps=7)
    logger = MetricsLogger(tmp_path / "m.jsonl", every=3)
    step_through(logger, trainer, [1.0, 2.0, 6.0, math.inf, 4.0, math.nan, 5.0])
    lines = read_jsonl(tmp_path / "m.jsonl")
    assert [r["step"] for r in lines] == [3, 6, 7]
    assert [r["loss"] for r in lines[:2]] == [3.0, 4.0]
    assert lines[2]["loss"] == 5.0 and lines[2]["lr"] == pytest.approx(0.7)
    assert [r["time"] for r in lines] == [0.37, 0.741, 0.864]  # rounded to 3 decimals
    assert all("samples" not in r for r in lines)
    step_through(logger, trainer, [math.nan, math.inf, 1.0], start=8)
    trainer.total_steps = 100
    step_through(logger, trainer, [math.nan, math.inf, 1.0], start=13)
    last = read_jsonl(tmp_path / "m.jsonl")[-1]
    assert last["step"] == 15 and last["loss"] == 1.0
    logger.on_step_end(trainer, {"step": 16, "loss": math.nan})
    trainer.state.step = 18
    logger.on_step_end(trainer, {"step": 18, "loss": math.inf})
    assert read_jsonl(tmp_path / "m.jsonl")[-1]["loss"] is None


def test_metrics_logger_validation_lines_flush_and_close(tmp_path):
    trainer = FakeTrainer()
    logger = MetricsLogger(tmp_path / "m.jsonl", every=100)
    logger.on_eval_end(trainer, {"step": 0, "split": "val", "loss": 1.0}, improved=True)
    logger._out.tensorboard = fake_tensorboard()
    trainer.state.elapsed = 1.23456
    logger.on_eval_end(trainer, {"step": 4, "split": "val", "acc": 0.5}, improved=False)
    logger.on_eval_end(trainer, {"step": 5, "split": "val", "loss": 0.5}, improved=True)
    calls = logger._out.tensorboard.writer.calls
    assert calls == [("val/loss", 0.5, 5), "flush"]  # no loss, no line
    assert read_jsonl(tmp_path / "m.jsonl") == [
        {"step": 0, "split": "val", "loss": 1.0, "time": 0.0},
        {"step": 5, "split": "val", "loss": 0.5, "time": 1.235}]
    logger.on_train_end(trainer)
    assert calls[-1] == "close" and logger._out is None
    logger.on_train_end(trainer)  # twice is harmless


def test_only_the_main_process_writes_the_loss_averaged_over_processes(tmp_path, monkeypatch):
    """The other process's window mean is 10: rank 0 writes (3 + 10) / 2."""
    devices = []
    monkeypatch.setattr(callbacks.distributed, "mean_across",
                        lambda value, dist, device: devices.append(device)
                        or (value + 10.0) / dist.world_size)
    for rank in (1, 0):
        trainer = FakeTrainer(rank=rank, world_size=2, total_steps=2)
        logger = MetricsLogger(tmp_path / "m.jsonl", every=2)
        step_through(logger, trainer, [2.0, 4.0])
        logger.on_eval_end(trainer, {"step": 2, "loss": 1.0}, improved=True)
        assert (tmp_path / "m.jsonl").exists() == (rank == 0)
    assert [r["loss"] for r in read_jsonl(tmp_path / "m.jsonl")] == [6.5, 1.0]
    assert devices == ["cpu", "cpu"]  # (the trainer's: NCCL reduces tensors on the GPU)


def test_a_run_stopped_between_two_logged_steps_logs_its_last_steps_at_the_end(tmp_path):
    """every = 4, stopped after step 6 of 10: the end logs steps 5-6's mean at step 6."""
    trainer = FakeTrainer(total_steps=10)
    logger = MetricsLogger(tmp_path / "m.jsonl", every=4)
    step_through(logger, trainer, [1.0, 2.0, 3.0, 4.0, 5.0, 8.0])
    logger.on_train_end(trainer)
    lines = read_jsonl(tmp_path / "m.jsonl")
    assert [(r["step"], r["loss"]) for r in lines] == [(4, 2.5), (6, 6.5)]
    assert lines[1]["time"] == 0.741 and lines[1]["lr"] == pytest.approx(0.6)
    assert "samples" not in lines[1] and logger._out is None
    step_through(logger, trainer, [1.0, 2.0, 3.0, 4.0], start=7)  # ends on a logged step
    logger.on_train_end(trainer)
    assert [r["step"] for r in read_jsonl(tmp_path / "m.jsonl")] == [4, 6, 8, 10]


def test_checkpoint_saver_saves_best_and_last(tmp_path, monkeypatch):
    saved, barriers = [], []
    monkeypatch.setattr(callbacks, "save_checkpoint",
                        lambda path, model, info, tensors, state: saved.append(
                            (path.name, model, info, tensors, state)))
    monkeypatch.setattr(callbacks.distributed, "barrier", barriers.append)
    trainer = FakeTrainer()
    saver = CheckpointSaver(tmp_path, lambda: {"model_class": "M"})
    trainer.state.step = 4
    saver.on_eval_end(trainer, {}, improved=True)
    trainer.state.step = 6
    saver.on_eval_end(trainer, {}, improved=False)
    info4 = {"model_class": "M", "step": 4, "epoch": 2}
    assert saved == [("best", trainer.model, info4, {"t": 1}, {"step": 4}),
                     ("last", trainer.model, info4, {"t": 1}, {"step": 4}),
                     ("last", trainer.model, {**info4, "step": 6}, {"t": 1}, {"step": 6})]
    assert barriers == [trainer.dist] * 3
    saved.clear()
    saver.on_train_end(trainer)  # no best folder yet: the end is also the best
    assert [s[0] for s in saved] == ["last", "best"]
    saved.clear()
    (tmp_path / "best").mkdir()
    saver.on_train_end(trainer)
    assert [s[0] for s in saved] == ["last"]
    other = FakeTrainer(rank=1, world_size=2)
    saved.clear()
    CheckpointSaver(tmp_path, dict).on_eval_end(other, {}, improved=True)
    assert saved == [] and barriers[-2:] == [other.dist] * 2  # waits for rank 0's saves


def test_early_stopping_counts_validations_since_the_best(monkeypatch):
    trainer = FakeTrainer(eval_every=10, metric="acc")
    stop = EarlyStopping(patience=2)
    trainer.state.best_step = 20
    for step, improved, stops in ((30, False, 0), (39, False, 0), (40, False, 1),
                                  (50, True, 1), (60, False, 2)):
        trainer.state.step = step
        stop.on_eval_end(trainer, {}, improved)
        assert len(trainer.stops) == stops, step
    assert trainer.stops[0] == "early stopping: no improvement of acc in 2 validations"


@pytest.mark.parametrize("mode, values, stop_at", [
    ("min", [0.5, 0.3, 0.2, 0.1], 2), ("max", [0.5, 0.7, 0.8, 0.9], 2)])
def test_target_reached_in_either_direction(mode, values, stop_at):
    trainer = FakeTrainer(metric="m", metric_mode=mode)
    target = TargetReached(0.2 if mode == "min" else 0.8)
    for i, v in enumerate(values):
        target.on_eval_end(trainer, {"m": v}, improved=True)
        assert len(trainer.stops) == (i >= stop_at) * (i - stop_at + 1)
    assert trainer.stops[0] == f"target reached: m = {values[stop_at]:.4g}"
    target.on_eval_end(trainer, {"other": 0.0}, improved=True)  # metric absent: nothing
    assert len(trainer.stops) == len(values) - stop_at


def test_time_limit_stops_at_the_limit():
    trainer = FakeTrainer()
    limit = TimeLimit(1.5)
    for elapsed, stops in ((89.9, 0), (90.0, 1), (95.0, 2)):
        trainer.state.elapsed = elapsed
        limit.on_step_end(trainer, {})
        assert len(trainer.stops) == stops
    assert trainer.stops[0] == "time limit: 1.5 minutes"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_lines_give_rate_and_eta(monkeypatch, capsys):
    """Steps 4..10 of 20 took 7 s with 3 samples a step on 2 processes: 42 samples in
    7 s = 6 samples/s; ETA 7 s / 6 steps * 10 steps left ≈ 12 s."""
    clock = Clock()
    monkeypatch.setattr(callbacks.time, "perf_counter", clock)
    trainer = FakeTrainer(world_size=2, total_steps=20)
    trainer.state.step = 4
    bar = Progress(bar=False)
    bar.on_train_start(trainer)
    for step in range(5, 11):
        trainer.state.step = step
        bar.on_step_end(trainer, {"loss": 1.0, "samples": 3.5})
    clock.now += 7.0
    bar.on_eval_end(trainer, {"step": 10.0, "epoch": 1.0, "split": "val", "loss": 0.123456,
                              "acc": 0.5, "n": 3}, improved=True)  # axes are not figures
    assert capsys.readouterr().err == (
        "step 10/20  val loss 0.1235  acc 0.5  6 samples/s  ETA 12s\n")
    trainer.cfg.max_minutes, trainer.state.elapsed = 1.0, 55.0  # 5 s of the limit left
    bar.on_eval_end(trainer, {"loss": 0.5}, improved=False)
    assert capsys.readouterr().err.endswith("ETA 5s\n")
    trainer.state.elapsed = 70.0  # past the limit
    bar.on_eval_end(trainer, {"loss": 0.5}, improved=False)
    assert capsys.readouterr().err.endswith("ETA 0s\n")
    bar.on_eval_end(trainer, {"acc": 0.5}, improved=False)  # no loss: no line
    trainer.dist = DistInfo(rank=1, world_size=2)
    bar.on_eval_end(trainer, {"loss": 0.5}, improved=False)  # not rank 0: no line
    assert capsys.readouterr().err == ""
    bar.on_train_end(trainer)


def test_an_eta_before_any_step_counts_one(monkeypatch, capsys):
    clock = Clock()
    monkeypatch.setattr(callbacks.time, "perf_counter", clock)
    trainer = FakeTrainer(total_steps=10)
    bar = Progress(bar=False)
    bar.on_train_start(trainer)
    clock.now += 2.0
    bar.on_eval_end(trainer, {"loss": 1.0}, improved=False)  # 2 s / max(0, 1) * 10
    assert capsys.readouterr().err == "step 0/10  val loss 1  0 samples/s  ETA 20s\n"


@pytest.mark.parametrize("clock_kind", ["steps", "time"])
def test_progress_bar_counts_steps_or_training_seconds(monkeypatch, capsys, clock_kind):
    clock = Clock()
    monkeypatch.setattr(callbacks.time, "perf_counter", clock)
    trainer = FakeTrainer(total_steps=50, max_minutes=2.0, schedule_clock=clock_kind,
                          world_size=2)
    trainer.state.step, trainer.state.elapsed = 10, 30.0
    bar = Progress(bar=True)
    bar.on_train_start(trainer)
    task = bar._progress.tasks[0]
    timed = clock_kind == "time"
    assert (task.total, task.completed) == ((120.0, 30.0) if timed else (50, 10))
    trainer.state.step, trainer.state.elapsed = 11, 33.0
    clock.now += 4.0
    bar.on_step_end(trainer, {"loss": 0.25, "samples": 1000})
    assert task.completed == (33.0 if timed else 11)
    want = "loss 0.25  500 samples/s"  # 1000 samples on each of 2 processes in 4 s
    assert task.fields["info"] == (f"step 11  {want}" if timed else want)
    bar.on_eval_end(trainer, {"loss": 0.5}, improved=False)  # the bar replaces the lines
    bar.on_train_end(trainer)
    assert bar._progress.finished or not bar._progress.live.is_started
    assert "val loss" not in capsys.readouterr().err


def test_progress_bar_only_on_the_main_process():
    trainer = FakeTrainer(rank=1, world_size=2)
    bar = Progress(bar=True)
    bar.on_train_start(trainer)
    assert bar._progress is None


def test_default_callbacks_follow_the_config(tmp_path, monkeypatch):
    cfg = TrainConfig(log_every=7, early_stopping=3, target=0.25, max_minutes=1.5,
                      progress="on")
    cbs = default_callbacks(cfg, tmp_path, dict)
    assert [type(c) for c in cbs] == [MetricsLogger, CheckpointSaver, EarlyStopping,
                                      TargetReached, TimeLimit, Progress]
    log, ckpt, early, target, limit, bar = cbs
    assert (log.path, log.every, log.tensorboard) == (tmp_path / "metrics.jsonl", 7, None)
    assert ckpt.directory == tmp_path / "checkpoints" and ckpt.info is dict
    assert (early.patience, target.target, limit.seconds, bar.bar) == (3, 0.25, 90.0, True)
    assert default_callbacks(TrainConfig(progress="off"), None, dict) == []
    monkeypatch.setattr(callbacks.sys.stderr, "isatty", lambda: False, raising=False)
    assert default_callbacks(TrainConfig(), None, dict)[0].bar is False
    monkeypatch.setattr(callbacks.sys.stderr, "isatty", lambda: True, raising=False)
    assert default_callbacks(TrainConfig(), None, dict)[0].bar is True
    monkeypatch.setattr(callbacks, "require_tensorboard", lambda: None)
    tb = default_callbacks(TrainConfig(), tmp_path, dict, LoggingConfig(tensorboard=True))
    assert tb[0].tensorboard == tmp_path / "tensorboard"


def test_progress_rate_within_the_first_second_and_steps_without_a_sample_count(monkeypatch):
    """10 samples in 0.5 s: 20 samples/s (a step record without "samples" adds none); each
    line is flushed at once."""
    clock = Clock()
    monkeypatch.setattr(callbacks.time, "perf_counter", clock)

    class Stderr:
        def __init__(self):
            self.text, self.flushes = "", 0

        def write(self, text):
            self.text += text

        def flush(self):
            self.flushes += 1

    err = Stderr()
    monkeypatch.setattr(callbacks.sys, "stderr", err)
    trainer = FakeTrainer(total_steps=4)
    bar = Progress(bar=False)
    bar.on_train_start(trainer)
    for step, record in enumerate(({"samples": 4}, {"samples": 6}, {}), 1):
        trainer.state.step = step
        bar.on_step_end(trainer, {"loss": 1.0, **record})
    clock.now += 0.5
    bar.on_eval_end(trainer, {"loss": 1.0}, improved=False)
    assert err.text == "step 3/4  val loss 1  20 samples/s  ETA 0s\n" and err.flushes == 1


def test_progress_bar_rate_within_the_first_second(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(callbacks.time, "perf_counter", clock)
    trainer = FakeTrainer(total_steps=50)
    bar = Progress(bar=True)
    bar.on_train_start(trainer)
    clock.now += 0.25
    trainer.state.step = 1
    bar.on_step_end(trainer, {"loss": 0.5, "samples": 10})
    bar.on_step_end(trainer, {"loss": 0.5})
    assert bar._progress.tasks[0].fields["info"] == "loss 0.5  40 samples/s"
    bar.on_train_end(trainer)


def test_the_bar_is_drawn_on_stderr_and_stays(monkeypatch, capsys):
    """Its columns: the name, the bar, steps done / total, the info text, the time left."""
    clock = Clock()
    monkeypatch.setattr(callbacks.time, "perf_counter", clock)
    trainer = FakeTrainer(total_steps=50)
    trainer.state.step = 10
    bar = Progress(bar=True)
    bar.on_train_start(trainer)
    clock.now += 2.0
    trainer.state.step = 11
    bar.on_step_end(trainer, {"loss": 0.25, "samples": 1000})
    bar.on_train_end(trainer)
    out = capsys.readouterr()
    assert out.out == ""
    assert re.fullmatch(r"train ━+╸? +11/50 loss 0\.25  500 samples/s -:--:--\n", out.err)
    bar = Progress(bar=True)  # stopped before any step: no info text yet
    bar.on_train_start(trainer)
    bar.on_train_end(trainer)
    assert re.fullmatch(r"train ━+╸? +11/50 +-:--:--\n", capsys.readouterr().err)
