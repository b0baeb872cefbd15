"""Applications: one module per task (config -> data -> model -> train -> evaluate ->
predict), chosen by ``[task] name`` in a run config."""

# each task module registers its task on import
from . import (  # noqa: F401
    adding,
    anomaly,
    captioning,
    charlm,
    classify,
    copy,
    forecast,
    music,
    sentiment,
    sine,
    speech_ctc,
    speech_digits,
    translation,
)
from .base import CAPABILITIES, TASKS, Context, Task, TaskError, register
from .predictor import Predictor, Stream, load
from .runner import (
    evaluate_run,
    load_config,
    resume_config,
    stopped_before_first_checkpoint,
    train_run,
)
from .tuning import prepare_tuning, run_tuning

__all__ = ["CAPABILITIES", "TASKS", "Context", "Predictor", "Stream", "Task", "TaskError",
           "evaluate_run", "load", "load_config", "prepare_tuning", "register",
           "resume_config", "run_tuning", "stopped_before_first_checkpoint", "train_run"]
