"""Training: the generic Trainer, truncated BPTT, optimizers and schedules, callbacks
(metrics.jsonl and TensorBoard, checkpoints, progress, stops), checkpoints without pickle,
configs, and data parallelism under torchrun."""

from .callbacks import (
    CheckpointSaver,
    EarlyStopping,
    MetricsLogger,
    MetricsWriter,
    Progress,
    TargetReached,
    TensorBoardWriter,
    TimeLimit,
    default_callbacks,
)
from .checkpoint import Checkpoint, CheckpointError, build_model, load_checkpoint, save_checkpoint
from .config import (
    DiagnosticsConfig,
    LoggingConfig,
    ModelConfig,
    RunConfig,
    TaskConfig,
    TrainConfig,
)
from .config_io import ConfigError, apply_overrides, build_config, read_toml, write_toml
from .optim import Schedule, build_optimizer, clip_gradients
from .tbptt import chunks, detach_state, run_batch
from .trainer import Callback, NonFiniteLossError, Trainer, TrainState, evaluate_model

__all__ = [
    "Callback", "Checkpoint", "CheckpointError", "CheckpointSaver", "ConfigError",
    "DiagnosticsConfig", "EarlyStopping", "LoggingConfig", "MetricsLogger", "MetricsWriter",
    "ModelConfig", "NonFiniteLossError", "Progress", "RunConfig", "Schedule", "TargetReached",
    "TaskConfig", "TensorBoardWriter", "TimeLimit", "TrainConfig", "TrainState", "Trainer",
    "apply_overrides", "build_config", "build_model", "build_optimizer", "chunks",
    "clip_gradients", "default_callbacks", "detach_state", "evaluate_model", "load_checkpoint",
    "read_toml", "run_batch", "save_checkpoint", "write_toml",
]
