"""Runs: config file -> run directory -> trained checkpoints -> report. Used by the CLI.

``train_run`` writes ``runs/<name>/`` (config.toml, metrics.jsonl, checkpoints/, plots/,
report.md); ``train_run(..., resume=True)`` continues from ``checkpoints/last``;
``evaluate_run`` scores a finished (or interrupted) run, and
:func:`rnnkit.tasks.predictor.load` opens it for prediction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import re
import shutil
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..cells import CELLS
from ..data.datasets import expand_home, is_hidden
from ..diagnostics.callback import DiagnosticsCallback
from ..models.base import Model
from ..training import distributed
from ..training.callbacks import MetricsWriter, default_callbacks, trim_records
from ..training.checkpoint import build_model, checkpoint_exists, load_checkpoint
from ..training.config import RunConfig
from ..training.config_io import ConfigError, apply_overrides, build_config, read_toml, write_toml
from ..training.trainer import Callback, Trainer, TrainState, pick_device
from .base import TASKS, Context, Task, TaskError
from .datafiles import check_fingerprints, write_fingerprints
from .report import write_report


def _checks(cfg: RunConfig) -> list[str]:
    errors = []
    problem = run_name_problem(cfg.name)
    if problem:
        errors.append(f"name = {cfg.name!r}: {problem}")
    if cfg.model.cell not in CELLS:
        errors.append(f"model.cell = {cfg.model.cell!r}: must be one of "
                      f"{', '.join(map(repr, sorted(CELLS)))}")
    return errors + TASKS[cfg.task.name].check(cfg)


def config_from_raw(raw: dict[str, Any], source: str) -> RunConfig:
    """Check raw TOML tables against the task registry and build the typed config (the
    task's :attr:`~.base.Task.model_defaults` fill what ``[model]`` leaves out)."""
    task = raw.get("task")
    name = task.get("name", "adding") if isinstance(task, dict) else None
    model = raw.get("model", {})
    if isinstance(name, str) and name in TASKS and TASKS[name].model_defaults \
            and isinstance(model, dict):  # (a name that is not text: build_config says so)
        raw = {**raw, "model": {**TASKS[name].model_defaults, **model}}
    return build_config(
        raw, source=source, task_configs={n: t.config_class for n, t in TASKS.items()},
        model_keys=lambda name: TASKS[name].model_keys() if name in TASKS else None,
        checks=_checks)


def load_config(path: str | Path, overrides: list[str] = ()) -> RunConfig:
    """A config file with ``--set`` overrides, checked (raises ConfigError). Relative data
    paths in the file are resolved against the file's folder, those given with ``--set``
    against the current directory; the config holds them absolute."""
    raw = _absolute_paths(read_toml(path), Path(path).absolute().parent)
    raw = _absolute_paths(apply_overrides(raw, overrides), Path.cwd())
    return config_from_raw(raw, str(path))


def _absolute_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """``raw`` with the task's relative path fields (:func:`~.datafiles.path_field`) made
    absolute against ``base``."""
    table = raw.get("task")
    name = table.get("name", "adding") if isinstance(table, dict) else None
    if not isinstance(name, str) or name not in TASKS:
        return raw  # build_config names the problem
    names = {f.name for f in dataclasses.fields(TASKS[name].config_class)
             if f.metadata.get("path")}
    for key in names & set(table):
        value = table[key]
        if isinstance(value, str) and value and not expand_home(value).is_absolute():
            table[key] = str((base / expand_home(value)).resolve())
    return raw


@dataclass
class RunResult:
    run_dir: Path
    state: TrainState
    results: dict[str, dict[str, float]] = field(default_factory=dict)  # split -> figures

    @property
    def interrupted(self) -> bool:
        return self.state.stop_reason.startswith("interrupted")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _model_info(task: Task, ctx: Context, model: Model) -> dict[str, Any]:
    return {"model_class": type(model).__name__, "model_config": model.get_config(),
            "rnnkit_version": __version__, **task.info(ctx, model)}


_NAME_OK = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=@-]*")


def run_name_problem(name: str) -> str:
    """Why ``name`` cannot name a run folder under ``runs/`` ("" when it can): one path
    component of letters, digits and ``_ . + = @ -``, not starting with a dot or a dash."""
    if not name:
        return "a run needs a name (it names the folder runs/<name>)"
    if len(name) > 128:
        return "at most 128 characters"
    if not _NAME_OK.fullmatch(name):
        return ("use letters, digits and _ . + = @ - only, starting with a letter, digit or "
                "_ (the name is a folder under runs/, never a path)")
    return ""


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds an rnnkit run: its config.toml and a checkpoint manifest."""
    return (path / "config.toml").is_file() and any(
        (path / "checkpoints").glob("*/manifest.json"))


# what a run writes before its first checkpoint (the config, data fingerprints, a pretrain
# stage's record, the first metrics lines, diagnostics snapshots, TensorBoard events)
_EARLY_NAMES = frozenset({"config.toml", "data.json", "pretrain.json", "metrics.jsonl",
                          "checkpoints", "diagnostics.jsonl", "tensorboard"})


def stopped_before_first_checkpoint(path: Path) -> bool:
    """Whether ``path`` holds a run that ended (was interrupted, or failed) before it saved
    any checkpoint, e.g. during a pretrain stage: its config.toml, no checkpoint manifest,
    and nothing but what such a run writes. There is nothing to resume; ``--overwrite``
    starts it again."""
    return ((path / "config.toml").is_file()
            and not any((path / "checkpoints").glob("*/manifest.json"))
            and all(p.name in _EARLY_NAMES or is_hidden(p) for p in path.iterdir()))


_START_AGAIN = ("the run stopped before its first checkpoint (e.g. interrupted during its "
                "pretrain stage): start it again with --overwrite")


def _check_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """Refuse what would lose or mix data, before anything is written."""
    if resume:
        if not checkpoint_exists(run_dir / "checkpoints" / "last"):
            early = run_dir.is_dir() and stopped_before_first_checkpoint(run_dir)
            raise ConfigError(f"{run_dir}: nothing to resume (no checkpoints/last)"
                              + (f"; {_START_AGAIN}" if early else ""))
        return
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir} is a file, not a run directory")
    if (run_dir / "checkpoints").exists() or (run_dir / "config.toml").exists():
        if stopped_before_first_checkpoint(run_dir):
            if not overwrite:
                raise ConfigError(f"{run_dir}: {_START_AGAIN}, or pass --run-dir DIR or "
                                  "--set name=NEW")
            return
        if not overwrite:
            raise ConfigError(f"{run_dir} already holds a run: continue it with "
                              f"`rnnkit train --resume {run_dir}`, or pass --overwrite, "
                              "--run-dir DIR or --set name=NEW")
        if not is_run_dir(run_dir):
            raise ConfigError(f"--overwrite deletes only an rnnkit run (config.toml and "
                              f"checkpoints/*/manifest.json); {run_dir} is not one: "
                              "remove it yourself or choose another --run-dir")
    elif run_dir.is_dir() and overwrite and any(run_dir.iterdir()):
        raise ConfigError(f"--overwrite deletes only an rnnkit run; {run_dir} holds other "
                          "files: choose another --run-dir")


def _prepare_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    _check_dir(run_dir, resume, overwrite)
    if not resume and overwrite and (is_run_dir(run_dir)
                                     or stopped_before_first_checkpoint(run_dir)):
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def run_lock(run_dir: Path):
    """An exclusive lock on ``run_dir`` for one training (``.<name>.lock`` beside it, so
    that ``--overwrite`` keeps it): a second training into the same directory fails at once
    with the other process named. The operating system releases it when the process ends,
    whatever ends it."""
    from filelock import FileLock, Timeout

    run_dir = run_dir.absolute()
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    path = run_dir.parent / f".{run_dir.name}.lock"
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = _read_holder(path.with_suffix(".lock.json"))
        raise ConfigError(f"{run_dir} is in use by another training{holder}; wait for it to "
                          "end, or train into another --run-dir") from None
    info = path.with_suffix(".lock.json")
    info.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                "started": time.strftime("%Y-%m-%d %H:%M:%S")}))
    try:
        yield
    finally:
        info.unlink(missing_ok=True)
        lock.release()


def _read_holder(path: Path) -> str:
    try:
        h = json.loads(path.read_text())
        return f" (process {h['pid']} on {h['host']}, since {h['started']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def train_run(cfg: RunConfig, run_dir: str | Path | None = None, *, resume: bool = False,
              overwrite: bool = False, callbacks: list[Callback] = (),
              validation_only: bool = False) -> RunResult:
    """Train ``cfg`` into ``run_dir`` (default ``runs/<name>``), or continue it.

    ``validation_only``: the test split is never evaluated — the final figures are the
    validation split's, and the task's report sections and after-training work (which read
    the test split) are skipped. A tuning trial runs this way (``rnnkit tune``)."""
    run_dir = Path(run_dir) if run_dir is not None else Path("runs") / cfg.name
    info = distributed.init_distributed(pick_device(cfg.train.device).type)
    with contextlib.ExitStack() as stack:
        if info.is_main:
            _check_dir(run_dir, resume, overwrite)
            stack.enter_context(run_lock(run_dir))
        return _train_locked(cfg, run_dir, info, resume, overwrite, callbacks,
                             validation_only)


def _train_locked(cfg, run_dir, info, resume, overwrite, callbacks,
                  validation_only=False) -> RunResult:
    """Everything is built and checked against the data (metric, batch size ...) before the
    run directory is touched, so a config that cannot train writes nothing."""
    try:
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        seed_everything(cfg.seed)
        task = TASKS[cfg.task.name]
        ctx = task.setup(cfg)
        if resume:
            ctx.saved = load_checkpoint(run_dir / "checkpoints" / "last",
                                        training_state=False).info
        data = task.batches(ctx)
        try:
            model = task.build_model(ctx)
        except TaskError:  # data read on first use (a manifest line ...): it says where
            raise
        except ValueError as e:  # a range the model's constructor checks (label_smoothing ...)
            raise ConfigError(f"model: {e}; change [model]") from None
        _check_metric(task, ctx, model, data["val"])
        cbs = default_callbacks(cfg.train, run_dir, lambda: _model_info(task, ctx, model),
                                logging=cfg.logging)
        if cfg.diagnostics.every > 0 and info.is_main:
            cbs.append(DiagnosticsCallback.from_config(cfg.diagnostics, run_dir))
        try:
            trainer = Trainer(model, cfg.train, data["train"], data["val"], seed=cfg.seed,
                              callbacks=[*cbs, *callbacks], dist=info,
                              loss_fn=lambda m, b, s: task.loss(ctx, m, b, s))
        except TaskError:
            raise
        except ValueError as e:  # batch size vs data size, tbptt without a time axis ...
            raise ConfigError(f"train: {e}; change [train] (e.g. a smaller batch_size) or "
                              "give more data") from None
        if info.is_main:
            _prepare_dir(run_dir, resume, overwrite)
            write_toml(cfg, run_dir / "config.toml")
            write_fingerprints(run_dir, cfg.task)
        distributed.barrier(info)
        if resume:
            ckpt = load_checkpoint(run_dir / "checkpoints" / "last")
            _load_resumed_weights(model, ckpt)
            trainer.load_training_state(ckpt)
            if info.is_main:  # the steps after the checkpoint are logged again
                trim_records(run_dir / "metrics.jsonl", trainer.state.step)
        else:  # every rank runs the same seeded stage, so the replicas stay equal
            task.pretrain(ctx, model, run_dir,
                          say=_say if info.is_main and cfg.train.progress != "off" else _quiet)
        state = trainer.fit()
        result = RunResult(run_dir, state)
        if info.is_main:
            best = _best_model(run_dir, cfg)
            splits = ("val",) if validation_only else ("val", "test")
            result.results = _final_figures(task, ctx, best, run_dir, splits)
            sections = [] if validation_only else task.report_sections(ctx, best)
            write_report(run_dir, cfg, state, result.results, model, sections)
            if not validation_only:
                task.after_training(ctx, best, run_dir)
        return result
    finally:
        distributed.shutdown(info)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _quiet(line: str) -> None:
    pass


def _load_resumed_weights(model: Model, ckpt) -> None:
    """The last checkpoint's weights into the model the saved config builds, or an error
    naming what differs (config.toml edited by hand after training started)."""
    saved = ckpt.info.get("model_config", {})
    now = model.get_config()
    diff = [f"{k}: checkpoint {saved.get(k)!r}, config {now.get(k)!r}"
            for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)]
    try:
        model.load_state_dict(ckpt.weights)
    except RuntimeError as e:
        why = "; ".join(diff) if diff else str(e).splitlines()[0]
        raise ConfigError(f"{ckpt.path} does not fit the model the run's config.toml "
                          f"describes ({why}); was config.toml edited? Restore it, or "
                          "start a new run") from None


def _check_metric(task: Task, ctx: Context, model: Model, val) -> None:
    """train.metric must be one the model reports (checked on two samples, before training)."""
    cfg = ctx.cfg
    with torch.no_grad():
        model.eval()
        names = ["loss", *task.loss(ctx, model, {k: v[:2] for k, v in val.items()}).metrics]
    if cfg.train.metric not in names:
        raise ConfigError(f"train.metric = {cfg.train.metric!r}: {type(model).__name__} "
                          f"reports {', '.join(map(repr, names))}")


def _best_model(run_dir: Path, cfg: RunConfig) -> Model:
    ckpt = load_checkpoint(run_dir / "checkpoints" / "best", training_state=False)
    return build_model(ckpt).to(pick_device(cfg.train.device)).eval()


def _final_figures(task: Task, ctx: Context, model: Model, run_dir: Path,
                   splits=("val", "test")) -> dict[str, dict]:
    """The best checkpoint on ``splits``, appended to metrics.jsonl."""
    step = load_checkpoint(run_dir / "checkpoints" / "best", training_state=False).info
    results = {}
    with MetricsWriter.for_run(run_dir, ctx.cfg.logging) as out:
        for split in splits:
            figures = task.evaluate(ctx, model, split)
            results[split] = figures
            record = {"step": step["step"], "epoch": step.get("epoch"), "split": split,
                      "checkpoint": "best", **figures}
            out.write(record)
    return results


def resume_config(run_dir: str | Path, overrides: list[str] = ()) -> RunConfig:
    """The run's saved config with ``overrides``; the model, task and seed must not change."""
    path = Path(run_dir) / "config.toml"
    saved = read_toml(path)
    cfg = config_from_raw(apply_overrides(saved, overrides), f"{path} (with --set)")
    old = config_from_raw(saved, str(path))
    for part in ("task", "model", "seed"):
        if getattr(cfg, part) != getattr(old, part):
            raise ConfigError(f"{path}: --set cannot change {part!r} when resuming "
                              "(the checkpoint was trained with the saved values)")
    return cfg


def evaluate_run(run_dir: str | Path, split: str = "test", checkpoint: str = "best") -> dict:
    """``{"split", "checkpoint", "step", "loss", <metrics>}`` for one split of a run."""
    from .predictor import open_checkpoint

    cfg, ckpt, model = open_checkpoint(run_dir, checkpoint)
    check_fingerprints(Path(run_dir))
    task = TASKS[cfg.task.name]
    if split not in ("train", "val", "test"):
        raise ConfigError(f"unknown split {split!r}; choose one of ['test', 'train', 'val']")
    ctx = task.setup(cfg)
    ctx.saved = ckpt.info
    return {"split": split, "checkpoint": checkpoint, "step": ckpt.info.get("step"),
            **task.evaluate(ctx, model, split)}
