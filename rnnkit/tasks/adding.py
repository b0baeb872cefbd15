"""The adding problem: remember two marked values across a long sequence, output their sum.

Many-to-one regression (``SequenceRegressor``, MSE). Always predicting 1 scores 0.167;
a model that solves the task scores below 0.01.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..data.synthetic import adding_problem
from ..training.config import TaskConfig, number
from .base import SPLITS, Task, TaskError, register


@dataclass
class AddingConfig(TaskConfig):
    name: str = "adding"
    sequence_length: int = number(100, 2)
    train_size: int = number(10000, 1)
    val_size: int = number(1000, 1)
    test_size: int = number(2000, 1)


class AddingTask(Task):
    name = "adding"
    config_class = AddingConfig
    model_class = "SequenceRegressor"

    def data(self, cfg: AddingConfig, seed: int):
        sizes = (cfg.train_size, cfg.val_size, cfg.test_size)
        return {split: adding_problem(n, cfg.sequence_length, seed=seed * 10 + i)
                for i, (split, n) in enumerate(zip(SPLITS, sizes))}

    def model_args(self, cfg: AddingConfig) -> dict[str, Any]:
        return {"input_size": 2, "output_size": 1}

    def extra_metrics(self, model, data, batch_size):
        y = data["y"]
        return {"baseline_mse": float(((y - 1.0) ** 2).mean())}  # always predicting 1

    def predict(self, model, inputs, cfg):
        """``inputs`` (N, T, 2) or one sequence (T, 2): [value, marker] per step."""
        if inputs.dim() == 2:
            inputs = inputs[None]
        if inputs.dim() != 3 or inputs.shape[-1] != 2:
            raise TaskError(f"adding inputs must be (N, T, 2) or (T, 2) [value, marker] per "
                            f"step, got shape {tuple(inputs.shape)}")
        with torch.no_grad():
            pred = model.predict(inputs.to(next(model.parameters()).device))  # (N, 1)
        return {"predictions": pred[:, 0].tolist()}


register(AddingTask())
