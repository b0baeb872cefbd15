"""Run configuration: typed dataclasses, read from TOML, written back in full.

A config has top-level ``name`` and ``seed``, ``[task]`` (its class depends on ``task.name``,
see :mod:`rnnkit.tasks`), ``[model]`` (:class:`ModelConfig`: common keys plus any keyword the
task's model accepts), ``[train]`` (:class:`TrainConfig`), and the optional ``[diagnostics]``
(:class:`DiagnosticsConfig`) and ``[logging]`` (:class:`LoggingConfig`). A ``[tune]`` table
(the search space of ``rnnkit tune``, :mod:`rnnkit.tasks.tuning`) is read by the tuner only:
training ignores it and trains the values written in the other tables.

Field metadata gives the allowed values: ``choices`` (strings) and ``min``/``max`` (numbers);
:mod:`rnnkit.training.config_io` checks them, with the file and key in every message.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def choice(default: str, *choices: str) -> Any:
    """A string field that must be one of ``choices``."""
    return field(default=default, metadata={"choices": choices})


def number(default: float, lo: float | None = None, hi: float | None = None) -> Any:
    """A numeric field within [lo, hi] (None: unbounded)."""
    return field(default=default, metadata={"min": lo, "max": hi})


@dataclass
class TaskConfig:
    """Base of every task's config: ``name`` picks the task (registry in rnnkit.tasks)."""

    name: str = "adding"


@dataclass
class ModelConfig:
    """The ``[model]`` table. Keys other than these go to ``options`` and on to the model."""

    cell: str = "lstm"  # rnn | rnn_relu | lstm | gru | lnlstm | lngru | any registered cell
    hidden_size: int = number(64, 1)
    num_layers: int = number(1, 1)
    bidirectional: bool = False
    dropout: float = number(0.0, 0.0, 1.0)
    options: dict[str, Any] = field(default_factory=dict)

    def kwargs(self) -> dict[str, Any]:
        """Constructor keywords for the model (common keys and options, flat)."""
        out = {k: v for k, v in asdict(self).items() if k != "options"}
        out.update(self.options)
        return out


@dataclass
class TrainConfig:
    """The ``[train]`` table: how long, how fast, how often, and what to do when."""

    steps: int = number(1000, 0)  # optimizer steps; 0 when ``epochs`` is set
    epochs: int = number(0, 0)  # passes over the training set; 0 when ``steps`` is set
    max_minutes: float = number(0.0, 0.0)  # > 0: stop after this much training time
    batch_size: int = number(64, 1)  # global batch (split across processes when distributed)
    optimizer: str = choice("adam", "sgd", "adam", "adamw", "rmsprop")
    lr: float = number(1e-3, 0.0)
    weight_decay: float = number(0.0, 0.0)
    momentum: float = number(0.0, 0.0, 1.0)  # sgd, rmsprop
    nesterov: bool = False  # sgd
    beta1: float = number(0.9, 0.0, 1.0)  # adam, adamw
    beta2: float = number(0.999, 0.0, 1.0)
    eps: float = number(1e-8, 0.0)
    schedule: str = choice("constant", "constant", "cosine", "step", "plateau")
    warmup_steps: int = number(0, 0)  # linear warm-up, before any schedule
    min_lr_ratio: float = number(0.0, 0.0, 1.0)  # cosine floor, as a fraction of lr
    # steps: the cosine runs over `steps` | time: over `max_minutes` of training time (the
    # decay ends when the time limit stops the run, however many steps that was)
    schedule_clock: str = choice("steps", "steps", "time")
    step_size: int = number(1000, 1)  # step schedule: multiply by gamma every step_size steps
    gamma: float = number(0.5, 0.0, 1.0)  # step and plateau factor
    plateau_patience: int = number(3, 0)  # evaluations without improvement before a cut
    clip_norm: float = number(1.0, 0.0)  # 0 = no clipping by global norm
    clip_value: float = number(0.0, 0.0)  # 0 = no clipping by value
    tbptt: int = number(0, 0)  # 0 = full BPTT; k = truncated, chunks of k steps
    # shuffle: random rows | bucket: random batches of similar lengths, padding trimmed |
    # stream: contiguous streams, tbptt steps a batch, state carried across batches
    batching: str = choice("shuffle", "shuffle", "bucket", "stream")
    eval_every: int = number(200, 1)  # steps between validations (and `last` checkpoints)
    log_every: int = number(20, 1)  # steps between training lines in metrics.jsonl
    metric: str = "loss"  # validation metric for `best`, early stopping and plateau
    metric_mode: str = choice("min", "min", "max")
    early_stopping: int = number(0, 0)  # patience in evaluations; 0 = off
    target: float = number(0.0)  # stop once the validation metric reaches it (0 = off)
    on_nonfinite: str = choice("stop", "stop", "skip")
    # on_nonfinite = "skip": this many non-finite steps in a row end the run with an error,
    # as "stop" does at the first (the loss is not coming back); 0 = no limit
    max_consecutive_skips: int = number(100, 0)
    precision: str = choice("fp32", "fp32", "bf16")  # bf16 autocast on CUDA only
    device: str = choice("auto", "auto", "cpu", "cuda")
    # auto: a bar when stderr is a terminal | on: always a bar | off: silent; the bar needs
    # rich (the `plots` extra), without it one line per validation is printed instead
    progress: str = choice("auto", "auto", "on", "off")
    threads: int = number(0, 0)  # torch CPU threads; 0 = torch's default


@dataclass
class DiagnosticsConfig:
    """The ``[diagnostics]`` table: gradient-flow records (see :mod:`rnnkit.diagnostics`)."""

    every: int = number(100, 0)  # optimizer steps between records (and step 1); 0 = off
    batch_size: int = number(32, 1)  # rows of the step's batch the record is measured on
    plots: bool = True  # draw runs/<name>/plots/ when training ends (the `plots` extra)


@dataclass
class LoggingConfig:
    """The ``[logging]`` table: where training figures go besides ``metrics.jsonl``."""

    # the scalars of metrics.jsonl also as TensorBoard events in runs/<name>/tensorboard/
    # (`tensorboard --logdir runs`); needs the `tensorboard` extra
    tensorboard: bool = False


@dataclass
class RunConfig:
    """A whole run: what ``rnnkit train CONFIG.toml`` reads and writes to ``config.toml``."""

    name: str = "run"
    seed: int = 0
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for TOML/JSON, model options flattened into ``[model]``."""
        out = asdict(self)
        options = out["model"].pop("options")
        out["model"].update(options)
        return out
