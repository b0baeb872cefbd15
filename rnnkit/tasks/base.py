"""What a task is: config -> data -> model -> (train) -> evaluate -> predict.

A task module defines a :class:`TaskConfig` subclass and a :class:`Task` subclass and
registers an instance with :func:`register`; ``[task] name = "..."`` then picks it.
Training itself is generic (:mod:`rnnkit.tasks.runner` and the Trainer).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..data.batches import Data
from ..models import MODELS
from ..models.base import Model
from ..training.config import ModelConfig, RunConfig, TaskConfig

TASKS: dict[str, Task] = {}
SPLITS = ("train", "val", "test")


class TaskError(ValueError):
    """A request the task cannot serve (bad input file, unsupported command ...)."""


def register(task: Task) -> Task:
    TASKS[task.name] = task
    return task


class Task:
    """Base class; subclasses set the class attributes and implement :meth:`data`,
    :meth:`model_args` and :meth:`predict`."""

    name: str = ""
    config_class: type[TaskConfig] = TaskConfig
    model_class: str = ""  # a name in rnnkit.models.MODELS

    def data(self, cfg: TaskConfig, seed: int) -> dict[str, Data]:
        """The splits ``train``, ``val`` and ``test``, deterministic given ``seed``."""
        raise NotImplementedError

    def model_args(self, cfg: TaskConfig) -> dict[str, Any]:
        """Model constructor arguments the task fixes (input size, output size ...)."""
        raise NotImplementedError

    def model_keys(self) -> set[str]:
        """The ``[model]`` keys a config may set beyond the common ones."""
        params = inspect.signature(MODELS[self.model_class]).parameters
        fixed = set(self.model_args(self.config_class()))
        return {k for k in params if k not in fixed and params[k].kind is not params[k].VAR_KEYWORD}

    def _model_kwargs(self, cfg: RunConfig) -> dict[str, Any]:
        """``[model]`` keys the model takes; common keys it lacks are dropped at defaults."""
        params = inspect.signature(MODELS[self.model_class]).parameters
        defaults = ModelConfig()
        return {k: v for k, v in cfg.model.kwargs().items()
                if k in params or getattr(defaults, k, object()) != v}

    def build_model(self, cfg: RunConfig) -> Model:
        return MODELS[self.model_class](**self.model_args(cfg.task), **self._model_kwargs(cfg))

    def check(self, cfg: RunConfig) -> list[str]:
        """Cross-field problems of a config for this task (messages, empty if fine)."""
        params = inspect.signature(MODELS[self.model_class]).parameters
        return [f"model.{k} = {v!r}: {self.model_class} (task {self.name!r}) does not take it"
                for k, v in self._model_kwargs(cfg).items() if k not in params]

    def info(self, cfg: RunConfig) -> dict[str, Any]:
        """What model.json records about the task (vocab for token tasks)."""
        return {"task": asdict(cfg.task)}

    def extra_metrics(self, model: Model, data: Data, batch_size: int) -> dict[str, float]:
        """Figures beyond the model's own metrics, added by ``evaluate``."""
        return {}

    def report_sections(self, model: Model, cfg: RunConfig, data: dict[str, Data]) -> list[str]:
        """Markdown lines report.md adds for this task (samples: generated text,
        misclassified sentences, translations ...); ``model`` is the best checkpoint."""
        return []

    def after_training(self, model: Model, cfg: RunConfig, run_dir: Path) -> None:
        """Called once after report.md is written, with the best checkpoint's model (e.g. to
        add a section comparing the test figures with the task's baselines)."""

    def predict(self, model: Model, inputs: Tensor, cfg: TaskConfig) -> dict[str, Any]:
        """JSON-able predictions for ``inputs`` read by :meth:`read_inputs`."""
        raise NotImplementedError

    def generate(self, model: Model, cfg: TaskConfig, options: dict[str, Any]) -> dict[str, Any]:
        raise TaskError(f"task {self.name!r} does not generate; "
                        "use `rnnkit predict RUN_DIR --input FILE`")

    # -- text tasks (``text_io = True``): their tokenizers live in the run's model.json -----
    text_io: bool = False  # predict reads lines of text; generate streams text to stdout

    def predict_text(self, run: Any, lines: list[Any], options: dict[str, Any]
                     ) -> list[dict[str, Any]]:
        """One JSON-able record per line (``run`` from ``open_run``, ``lines`` TextLine's)."""
        raise TaskError(f"task {self.name!r} does not read text; "
                        "use `rnnkit predict RUN_DIR --input FILE`")

    def generate_text(self, run: Any, options: dict[str, Any]) -> Iterator[str]:
        """Pieces of text, yielded as they are produced (``generate`` streams them)."""
        raise TaskError(f"task {self.name!r} does not generate text")

    def read_inputs(self, path: str | Path, dtype=torch.float32) -> Tensor:
        """Input sequences from ``.npy``, ``.json`` (a list of sequences, or one) or ``.csv``
        (one sequence: a row per step, a column per feature)."""
        path = Path(path)
        try:
            if path.suffix == ".npy":
                array = np.load(path, allow_pickle=False)
            elif path.suffix == ".json":
                array = np.asarray(json.loads(path.read_text()))
            elif path.suffix in (".csv", ".txt"):
                array = np.loadtxt(path, delimiter=",", ndmin=2)[None]
            else:
                raise TaskError(f"{path}: unknown input format {path.suffix!r} "
                                "(use .npy, .json or .csv)")
        except (OSError, ValueError) as e:
            raise TaskError(f"{path}: cannot read inputs: {e}") from None
        return torch.as_tensor(array, dtype=dtype)
