"""Optional behaviour of the Trainer, one callback each.

:func:`default_callbacks` assembles what ``rnnkit train`` uses from a TrainConfig (and the
run's LoggingConfig). Only the main process (rank 0) writes files or the display.
"""

from __future__ import annotations

import json
import math
import numbers
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._files import naming, strict
from .._optional import MissingExtraError, require
from . import distributed
from .checkpoint import save_checkpoint
from .config import LoggingConfig
from .config_io import ConfigError
from .trainer import Callback, Trainer


def tensorboard_dir(run_dir: str | Path, logging: LoggingConfig | None) -> Path | None:
    """``run_dir/tensorboard`` when ``[logging] tensorboard = true``, else None."""
    return Path(run_dir) / "tensorboard" if logging is not None and logging.tensorboard else None


def require_tensorboard() -> None:
    """A :class:`ConfigError` naming the ``tensorboard`` extra when it is not installed."""
    try:
        require("tensorboard", "tensorboard")
    except MissingExtraError as e:
        raise ConfigError(f"logging.tensorboard = true: {e}") from e


class TensorBoardWriter:
    """The scalars of metrics.jsonl as TensorBoard events (``torch.utils.tensorboard``).

    Each numeric field of a record becomes the scalar ``<split>/<field>`` at the record's
    step (``train/loss``, ``train/lr``, ``val/mse`` ...); the best checkpoint's final figures
    (records with ``"checkpoint": "best"``) become ``best/<split>/<field>``. ``step``,
    ``epoch`` and ``time`` are axes, not scalars. Values are stored as float32.
    """

    AXES = ("step", "epoch", "time")

    def __init__(self, log_dir: str | Path):
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(str(self.log_dir))

    @classmethod
    def scalars(cls, record: dict[str, Any]) -> dict[str, float]:
        """``{tag: value}`` for one metrics.jsonl record."""
        prefix = f"{record.get('split', 'train')}/"
        if record.get("checkpoint"):
            prefix = f"{record['checkpoint']}/{prefix}"
        numeric = {k: v for k, v in record.items()
                   if isinstance(v, numbers.Real) and not isinstance(v, bool)}
        return {prefix + k: float(v) for k, v in numeric.items() if k not in cls.AXES}

    def write(self, record: dict[str, Any]) -> None:
        for tag, value in self.scalars(record).items():
            self.writer.add_scalar(tag, value, record["step"])

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class MetricsWriter:
    """Appends records to ``metrics.jsonl`` and, with a ``tensorboard`` folder, writes the
    same scalars there (:class:`TensorBoardWriter`). A context manager; :meth:`for_run`
    opens the files of a run directory."""

    def __init__(self, path: str | Path, tensorboard: str | Path | None = None):
        self.path = Path(path)
        self.tensorboard = TensorBoardWriter(tensorboard) if tensorboard is not None else None
        self._checked = False  # whether the file's last line is known to be whole

    @classmethod
    def for_run(cls, run_dir: str | Path, logging: LoggingConfig | None = None) -> MetricsWriter:
        """``run_dir/metrics.jsonl``, plus ``run_dir/tensorboard/`` when
        ``[logging] tensorboard = true``."""
        return cls(Path(run_dir) / "metrics.jsonl", tensorboard_dir(run_dir, logging))

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` as one line of strict JSON: a NaN or infinite figure (a
        diverged loss) is null, never the bare ``NaN`` that jq or ``JSON.parse`` reject. A
        torn last line (a process killed mid-write) is ended first, so it stays one
        unreadable line instead of swallowing this one."""
        with naming(self.path), open(self.path, "a+b") as f:
            if not self._checked:
                self._checked = True
                if f.seek(0, 2) > 0 and f.seek(-1, 2) >= 0 and f.read(1) != b"\n":
                    f.write(b"\n")
            f.write((json.dumps(strict(record), allow_nan=False) + "\n").encode())
        if self.tensorboard is not None:
            self.tensorboard.write(record)

    def flush(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.flush()

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def trim_records(path: str | Path, last_step: int) -> None:
    """Keep the readable records of ``path`` (metrics.jsonl) up to ``last_step``: what a
    resumed run redoes (the steps logged after its checkpoint) and torn lines go. The file
    is replaced in one rename."""
    path = Path(path)
    if not path.exists():
        return
    kept = []
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except ValueError:  # torn or not UTF-8
            continue
        if isinstance(record, dict) and not record.get("step", 0) > last_step:
            kept.append(line + b"\n")
    tmp = path.with_name(path.name + ".tmp")
    with naming(tmp):
        tmp.write_bytes(b"".join(kept))
    tmp.replace(path)


class MetricsLogger(Callback):
    """Appends one JSON object per logged train step and per validation to metrics.jsonl,
    and the same scalars as TensorBoard events to the folder ``tensorboard`` when given. The
    train ``loss`` is the mean over the steps since the last logged one; the other train
    figures are the logged step's. A run that stops between two logged steps (Ctrl-C, a
    time limit, early stopping) logs its last steps at the step it stopped at, so a resumed
    run's loss curve leaves no step out."""

    def __init__(self, path: str | Path, every: int, tensorboard: str | Path | None = None):
        self.path, self.every, self.tensorboard = Path(path), every, tensorboard
        self._window: list[float] = []
        self._out: MetricsWriter | None = None
        if tensorboard is not None:  # a missing package is reported before training starts
            require_tensorboard()

    def _write(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if trainer.dist.is_main:
            if self._out is None:
                self._out = MetricsWriter(self.path, self.tensorboard)
            self._out.write(record)

    def on_step_end(self, trainer, record):
        self._window.append(record["loss"])
        self._last = record
        if trainer.state.step % self.every and trainer.state.step != trainer.total_steps:
            return
        self._log_window(trainer, record)

    def _log_window(self, trainer, record):
        finite = [v for v in self._window if math.isfinite(v)]
        mean = sum(finite) / len(finite) if finite else float("nan")
        record = {**record, "loss": distributed.mean_across(mean, trainer.dist, trainer.device),
                  "time": round(trainer.state.elapsed, 3)}
        record.pop("samples", None)
        self._window = []
        self._write(trainer, record)

    def on_eval_end(self, trainer, record, improved):
        if "loss" in record:
            self._write(trainer, {**record, "time": round(trainer.state.elapsed, 3)})
            if self._out is not None:
                self._out.flush()

    def on_train_end(self, trainer):
        if self._window:  # stopped between two logged steps
            self._log_window(trainer, self._last)
        if self._out is not None:
            self._out.close()
            self._out = None


class CheckpointSaver(Callback):
    """``last`` at each validation and at the end (also on interruption); ``best`` when
    the validation metric improves. ``info`` (model class, config, task ...) -> model.json."""

    def __init__(self, directory: str | Path, info: Callable[[], dict[str, Any]]):
        self.directory, self.info = Path(directory), info

    def save(self, trainer: Trainer, name: str) -> None:
        if trainer.dist.is_main:
            tensors, state = trainer.training_state()
            info = {**self.info(), "step": trainer.state.step, "epoch": trainer.epoch}
            save_checkpoint(self.directory / name, trainer.model, info, tensors, state)
        distributed.barrier(trainer.dist)

    def on_eval_end(self, trainer, record, improved):
        if improved:
            self.save(trainer, "best")
        self.save(trainer, "last")

    def on_train_end(self, trainer):
        self.save(trainer, "last")
        if not (self.directory / "best").exists():
            self.save(trainer, "best")


class EarlyStopping(Callback):
    """Stop after ``patience`` validations without improvement of ``train.metric``."""

    def __init__(self, patience: int):
        self.patience = patience

    def on_eval_end(self, trainer, record, improved):
        evals_since = (trainer.state.step - trainer.state.best_step) // trainer.cfg.eval_every
        if not improved and evals_since >= self.patience:
            trainer.stop(f"early stopping: no improvement of {trainer.cfg.metric} in "
                         f"{self.patience} validations")


class TargetReached(Callback):
    """Stop once the validation metric reaches ``target`` (steps-to-target measurements)."""

    def __init__(self, target: float):
        self.target = target

    def on_eval_end(self, trainer, record, improved):
        value = record.get(trainer.cfg.metric)
        if value is None:
            return
        if (value <= self.target) if trainer.cfg.metric_mode == "min" else (value >= self.target):
            trainer.stop(f"target reached: {trainer.cfg.metric} = {value:.4g}")


class TimeLimit(Callback):
    """Stop after ``minutes`` of training time (``train.max_minutes``)."""

    def __init__(self, minutes: float):
        self.seconds = minutes * 60

    def on_step_end(self, trainer, record):
        if trainer.state.elapsed >= self.seconds:
            trainer.stop(f"time limit: {self.seconds / 60:g} minutes")


class Progress(Callback):
    """A progress bar on stderr (loss, samples/s, ETA) when ``bar`` is set and rich (the
    ``plots`` extra) is installed; otherwise one line per validation."""

    def __init__(self, bar: bool):
        self.bar, self._progress, self._samples, self._t0 = bar, None, 0, 0.0
        self._timed = False

    def on_train_start(self, trainer):
        self._t0, self._samples, self._start = time.perf_counter(), 0, trainer.state.step
        if self.bar and trainer.dist.is_main:
            try:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                )
            except ImportError:  # a plain install: the per-validation lines below
                return
            self._progress = Progress(
                TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=False)
            self._progress.start()
            # a time-clocked run ends at max_minutes: the bar counts training seconds
            self._timed = trainer.cfg.schedule_clock == "time"
            total, done = ((trainer.cfg.max_minutes * 60, trainer.state.elapsed) if self._timed
                           else (trainer.total_steps, trainer.state.step))
            self._task = self._progress.add_task("train", total=total, completed=done, info="")

    def on_step_end(self, trainer, record):
        self._samples += record.get("samples", 0) * trainer.dist.world_size
        if self._progress is not None:
            rate = self._samples / max(time.perf_counter() - self._t0, 1e-9)
            info = f"loss {record['loss']:.4g}  {rate:,.0f} samples/s"
            if self._timed:
                info = f"step {trainer.state.step:,}  {info}"
            done = trainer.state.elapsed if self._timed else trainer.state.step
            self._progress.update(self._task, completed=done, info=info)

    def on_eval_end(self, trainer, record, improved):
        if self._progress is not None or not trainer.dist.is_main or "loss" not in record:
            return
        done, total = trainer.state.step, trainer.total_steps
        spent = time.perf_counter() - self._t0
        eta = spent / max(done - self._start, 1) * (total - done)
        limit = trainer.cfg.max_minutes
        if limit:  # the time limit ends the run first (e.g. schedule_clock = "time")
            eta = min(eta, max(limit * 60 - trainer.state.elapsed, 0.0))
        figures = "  ".join(f"{k} {v:.4g}" for k, v in record.items()
                            if k not in ("step", "epoch", "split") and isinstance(v, float))
        print(f"step {done}/{total}  val {figures}  "
              f"{self._samples / max(spent, 1e-9):,.0f} samples/s  ETA {eta:,.0f}s",
              file=sys.stderr, flush=True)

    def on_train_end(self, trainer):
        if self._progress is not None:
            self._progress.stop()


def default_callbacks(trainer_cfg, run_dir: Path | None, info: Callable[[], dict],
                      logging: LoggingConfig | None = None) -> list:
    """What ``rnnkit train`` attaches: metrics (metrics.jsonl, and TensorBoard events when
    ``logging.tensorboard``), checkpoints, progress and the stops. Raises
    :class:`ConfigError` when TensorBoard is asked for and not installed."""
    cbs: list[Callback] = []
    if run_dir is not None:
        cbs += [MetricsLogger(Path(run_dir) / "metrics.jsonl", trainer_cfg.log_every,
                              tensorboard_dir(run_dir, logging)),
                CheckpointSaver(run_dir / "checkpoints", info)]
    if trainer_cfg.early_stopping:
        cbs.append(EarlyStopping(trainer_cfg.early_stopping))
    if trainer_cfg.target:
        cbs.append(TargetReached(trainer_cfg.target))
    if trainer_cfg.max_minutes:
        cbs.append(TimeLimit(trainer_cfg.max_minutes))
    if trainer_cfg.progress != "off":
        cbs.append(Progress(bar=trainer_cfg.progress == "on" or sys.stderr.isatty()))
    return cbs
