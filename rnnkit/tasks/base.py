"""What a task is: config -> context -> data -> model -> (train) -> evaluate -> predictor.

A task module defines a :class:`TaskConfig` subclass, a :class:`Task` subclass and a
:class:`~rnnkit.tasks.predictor.Predictor` subclass, and registers one instance of the task
with :func:`register`; ``[task] name = "..."`` then picks it.

The contract (``DESIGN.md``, "Task contract"): :meth:`Task.setup` builds one
:class:`Context` per run from the resolved config; every other hook receives that context.
The context is where everything fitted or loaded for the run lives (the data, tokenizers,
transforms, split indices), built lazily and at most once, so a predictor opened from a
checkpoint loads no data it does not use. The registered task object holds no state, and
no module keeps caches keyed on configs. Training itself is generic
(:mod:`rnnkit.tasks.runner` and the Trainer).

A task declares what its predictor can do in :attr:`Task.capabilities` (:data:`CAPABILITIES`);
the CLI reads those, never the task's name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.batches import Data
from ..models import MODELS
from ..models.base import Model, StepOutput
from ..training.config import ModelConfig, RunConfig, TaskConfig
from ..training.trainer import evaluate_model

if TYPE_CHECKING:
    from .predictor import Predictor

TASKS: dict[str, Task] = {}
SPLITS = ("train", "val", "test")

# What a predictor may offer beyond ``predict``/``predict_file`` (Task.capabilities):
CAPABILITIES = {
    "text": "inputs are strings (predict_file reads one a line)",
    "explain": "predict(..., explain=True) adds what the model attended to",
    "generate": "generate(**options) produces new sequences (text: pieces as they come)",
    "stream": "stream() scores or extends a sequence one step at a time",
    "translate": "predict(sentences) translates",
    "transcribe": "predict(audio files) transcribes",
    "caption": "predict(image files) captions",
    "forecast": "predict(histories, horizon=N) forecasts with intervals",
    "detect": "predict(series) scores every point for anomalies and raises alarms",
    "plot": "plot(record, path) draws one prediction",
    "report": "write_report() adds the task's test-range section to report.md",
}


class TaskError(ValueError):
    """A request the task cannot serve (bad input file, unsupported command ...)."""


def register(task: Task) -> Task:
    unknown = set(task.capabilities) - set(CAPABILITIES)
    if unknown:
        raise ValueError(f"task {task.name!r} declares unknown capabilities {sorted(unknown)}")
    TASKS[task.name] = task
    return task


class Context:
    """One run's context: the resolved config and everything built from it once.

    Subclasses add what their task needs as :func:`functools.cached_property` (data read on
    first use, then kept for the run). ``splits`` is what :meth:`Task.batches` returns.
    """

    def __init__(self, cfg: RunConfig, task: Task):
        self.cfg, self.task = cfg, task
        # a trained run's model.json (Task.info) when the context serves its checkpoint
        # (evaluate, resume): what training fitted on the data (a tokenizer ...) is read
        # from it rather than fitted again by rules that may have changed since
        self.saved: dict[str, Any] = {}

    @property
    def task_cfg(self) -> TaskConfig:
        return self.cfg.task

    @cached_property
    def splits(self) -> dict[str, Data]:
        return self.task.make_splits(self)


class Task:
    """Base class. Subclasses set the class attributes and implement :meth:`make_splits`,
    :meth:`model_args` and :meth:`predictor`; they override the other hooks where the
    defaults (generic model building, loss and evaluation) do not fit."""

    name: str = ""
    config_class: type[TaskConfig] = TaskConfig
    model_class: str = ""  # a name in rnnkit.models.MODELS
    context_class: type[Context] = Context
    capabilities: frozenset[str] = frozenset()  # keys of CAPABILITIES

    # -- set-up ----------------------------------------------------------------------------
    def setup(self, cfg: RunConfig) -> Context:
        """The run's context (cheap: what it holds is built on first use)."""
        if cfg.task.name != self.name:
            raise TaskError(f"config of task {cfg.task.name!r} given to task {self.name!r}")
        return self.context_class(cfg, self)

    def check(self, cfg: RunConfig) -> list[str]:
        """Cross-field problems of a config for this task (messages, empty if fine); runs
        before anything is written or loaded."""
        cls = MODELS[self.model_class]
        params = inspect.signature(cls).parameters
        return [f"model.{k} = {v!r}: {self.model_class} (task {self.name!r}) does not take it"
                if k not in params else f"model.{k} = {v!r}{problem}"
                for k, v in self._model_kwargs(cfg).items()
                if k not in params or (problem := cls.value_problem(k, v))]

    def model_keys(self) -> set[str]:
        """The ``[model]`` keys a config may set beyond the common ones: every keyword of
        the model class but those the data decide (:attr:`fixed_model_args`)."""
        params = inspect.signature(MODELS[self.model_class]).parameters
        return {k for k in params if k not in self.fixed_model_args
                and params[k].kind is not params[k].VAR_KEYWORD}

    fixed_model_args: frozenset[str] = frozenset({"input_size", "output_size"})
    # ``[model]`` keys whose model-class default does not suit the task, with the task's
    # own default (a config that sets them keeps its value); the resolved config records it
    model_defaults: dict[str, Any] = {}

    # -- data and model --------------------------------------------------------------------
    def make_splits(self, ctx: Context) -> dict[str, Data]:
        """The splits ``train``, ``val`` and ``test`` as tensors (one row per sample),
        deterministic given the config; called once per context (``ctx.splits``)."""
        raise NotImplementedError

    def batches(self, ctx: Context) -> dict[str, Data]:
        """The data the Trainer draws its batches from, by split (built once)."""
        return ctx.splits

    def model_args(self, ctx: Context) -> dict[str, Any]:
        """Model constructor arguments the task fixes (input size, vocabulary size ...)."""
        raise NotImplementedError

    def _model_kwargs(self, cfg: RunConfig) -> dict[str, Any]:
        """``[model]`` keys the model takes; common keys it lacks are dropped at defaults."""
        params = inspect.signature(MODELS[self.model_class]).parameters
        defaults = ModelConfig()
        return {k: v for k, v in cfg.model.kwargs().items()
                if k in params or getattr(defaults, k, object()) != v}

    def build_model(self, ctx: Context) -> Model:
        return MODELS[self.model_class](**self.model_args(ctx), **self._model_kwargs(ctx.cfg))

    def pretrain(self, ctx: Context, model: Model, run_dir: Path,
                 say: Callable[[str], None] = print) -> None:
        """A stage before training proper, on a new run only (a resumed run's weights come
        from its checkpoint): e.g. language-model pretraining of a text classifier's
        encoder. ``say`` shows progress. Default: nothing."""

    def loss(self, ctx: Context, model: Model, batch: Data, state: Any = None) -> StepOutput:
        """The training and evaluation loss of one batch: the model's own
        ``compute_loss`` (what the Trainer optimises)."""
        return model.compute_loss(batch, state)

    def info(self, ctx: Context, model: Model) -> dict[str, Any]:
        """What model.json records beside the weights (tokenizers, scalers, labels): all a
        predictor needs besides the config, so predicting loads no training data."""
        return {"task": asdict(ctx.cfg.task)}

    # -- evaluation and report -------------------------------------------------------------
    def evaluate(self, ctx: Context, model: Model, split: str) -> dict[str, Any]:
        """``loss`` and the model's metrics on ``split`` (eval mode), plus the task's own
        figures (:meth:`extra_metrics`)."""
        data = self.batches(ctx)
        if split not in data:
            raise TaskError(f"unknown split {split!r}; choose one of {sorted(data)}")
        device = next(model.parameters()).device
        figures = evaluate_model(model, data[split], ctx.cfg.train.batch_size, device,
                                 lambda m, b, s: self.loss(ctx, m, b, s))
        figures.update(self.extra_metrics(ctx, model, split))
        return figures

    def extra_metrics(self, ctx: Context, model: Model, split: str) -> dict[str, Any]:
        """Figures beyond the model's own metrics (baselines, BLEU ...)."""
        return {}

    def report_sections(self, ctx: Context, model: Model) -> list[str]:
        """Markdown lines report.md adds for this task (samples, mistakes ...); ``model`` is
        the best checkpoint."""
        return []

    def after_training(self, ctx: Context, model: Model, run_dir: Path) -> None:
        """Called once after report.md is written, with the best checkpoint's model."""

    # -- inference -------------------------------------------------------------------------
    def predictor(self, ctx: Context, model: Model, info: dict[str, Any],
                  run_dir: Path | None = None) -> Predictor:
        """The task's predictor over a trained ``model`` (``info``: its model.json)."""
        raise NotImplementedError
