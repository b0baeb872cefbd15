"""Runs: config file -> run directory -> trained checkpoints -> report. Used by the CLI.

``train_run`` writes ``runs/<name>/`` (config.toml, metrics.jsonl, checkpoints/, plots/,
report.md); ``train_run(..., resume=True)`` continues from ``checkpoints/last``;
``evaluate_run`` scores a finished (or interrupted) run, and
:func:`rnnkit.tasks.predictor.load` opens it for prediction.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..cells import CELLS
from ..diagnostics.callback import DiagnosticsCallback
from ..models.base import Model
from ..training import distributed
from ..training.callbacks import default_callbacks
from ..training.checkpoint import build_model, load_checkpoint
from ..training.config import RunConfig
from ..training.config_io import ConfigError, apply_overrides, build_config, read_toml, write_toml
from ..training.trainer import Callback, Trainer, TrainState, evaluate_model, pick_device
from .base import TASKS, Context, Task
from .report import write_report


def _checks(cfg: RunConfig) -> list[str]:
    errors = []
    if cfg.model.cell not in CELLS:
        errors.append(f"model.cell = {cfg.model.cell!r}: must be one of "
                      f"{', '.join(map(repr, sorted(CELLS)))}")
    return errors + TASKS[cfg.task.name].check(cfg)


def config_from_raw(raw: dict[str, Any], source: str) -> RunConfig:
    """Check raw TOML tables against the task registry and build the typed config."""
    return build_config(
        raw, source=source, task_configs={n: t.config_class for n, t in TASKS.items()},
        model_keys=lambda name: TASKS[name].model_keys() if name in TASKS else None,
        checks=_checks)


def load_config(path: str | Path, overrides: list[str] = ()) -> RunConfig:
    """A config file with ``--set`` overrides, checked (raises ConfigError)."""
    return config_from_raw(apply_overrides(read_toml(path), overrides), str(path))


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


def _prepare_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    if resume:
        if not (run_dir / "checkpoints" / "last").exists():
            raise ConfigError(f"{run_dir}: nothing to resume (no checkpoints/last)")
        return
    if (run_dir / "checkpoints").exists():
        if not overwrite:
            raise ConfigError(f"{run_dir} already holds a run: continue it with "
                              f"`rnnkit train --resume {run_dir}`, or pass --overwrite, "
                              "--run-dir DIR or --set name=NEW")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)


def train_run(cfg: RunConfig, run_dir: str | Path | None = None, *, resume: bool = False,
              overwrite: bool = False, callbacks: list[Callback] = ()) -> RunResult:
    """Train ``cfg`` into ``run_dir`` (default ``runs/<name>``), or continue it."""
    run_dir = Path(run_dir) if run_dir is not None else Path("runs") / cfg.name
    info = distributed.init_distributed(pick_device(cfg.train.device).type)
    try:
        if info.is_main:
            _prepare_dir(run_dir, resume, overwrite)
            write_toml(cfg, run_dir / "config.toml")
        distributed.barrier(info)
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        seed_everything(cfg.seed)
        task = TASKS[cfg.task.name]
        ctx = task.setup(cfg)
        data = task.batches(ctx)
        model = task.build_model(ctx)
        _check_metric(task, ctx, model, data["val"])
        cbs = default_callbacks(cfg.train, run_dir, lambda: _model_info(task, ctx, model))
        if cfg.diagnostics.every > 0 and info.is_main:
            cbs.append(DiagnosticsCallback.from_config(cfg.diagnostics, run_dir))
        trainer = Trainer(model, cfg.train, data["train"], data["val"], seed=cfg.seed,
                          callbacks=[*cbs, *callbacks], dist=info,
                          loss_fn=lambda m, b, s: task.loss(ctx, m, b, s))
        if resume:
            ckpt = load_checkpoint(run_dir / "checkpoints" / "last")
            model.load_state_dict(ckpt.weights)
            trainer.load_training_state(ckpt)
        state = trainer.fit()
        result = RunResult(run_dir, state)
        if info.is_main:
            best = _best_model(run_dir, cfg)
            result.results = _final_figures(task, ctx, best, run_dir)
            sections = task.report_sections(ctx, best)
            write_report(run_dir, cfg, state, result.results, model, sections)
            task.after_training(ctx, best, run_dir)
        return result
    finally:
        distributed.shutdown(info)


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


def _final_figures(task: Task, ctx: Context, model: Model, run_dir: Path) -> dict[str, dict]:
    """The best checkpoint on val and test, appended to metrics.jsonl."""
    step = load_checkpoint(run_dir / "checkpoints" / "best", training_state=False).info
    results = {}
    with open(run_dir / "metrics.jsonl", "a") as f:
        for split in ("val", "test"):
            figures = task.evaluate(ctx, model, split)
            results[split] = figures
            record = {"step": step["step"], "epoch": step.get("epoch"), "split": split,
                      "checkpoint": "best", **figures}
            f.write(json.dumps(record) + "\n")
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
    task = TASKS[cfg.task.name]
    if split not in ("train", "val", "test"):
        raise ConfigError(f"unknown split {split!r}; choose one of ['test', 'train', 'val']")
    return {"split": split, "checkpoint": checkpoint, "step": ckpt.info.get("step"),
            **task.evaluate(task.setup(cfg), model, split)}
