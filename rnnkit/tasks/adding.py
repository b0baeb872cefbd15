"""The adding problem: remember two marked values across a long sequence, output their sum.

Many-to-one regression (``SequenceRegressor``, MSE). Always predicting 1 scores 0.167;
a model that solves the task scores below 0.01.

Predictor: each input is one sequence (T, 2) of [value, marker] steps (any length); the
record is ``{"prediction": sum}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..data.synthetic import adding_problem
from ..training.config import TaskConfig, number
from .base import SPLITS, Task, register
from .predictor import Predictor, as_sequences


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

    def make_splits(self, ctx):
        cfg, seed = ctx.task_cfg, ctx.cfg.seed
        sizes = (cfg.train_size, cfg.val_size, cfg.test_size)
        return {split: adding_problem(n, cfg.sequence_length, seed=seed * 10 + i)
                for i, (split, n) in enumerate(zip(SPLITS, sizes))}

    def model_args(self, ctx) -> dict[str, Any]:
        return {"input_size": 2, "output_size": 1}

    def extra_metrics(self, ctx, model, split):
        y = self.batches(ctx)[split]["y"]
        return {"baseline_mse": float(((y - 1.0) ** 2).mean())}  # always predicting 1

    def predictor(self, ctx, model, info, run_dir=None):
        return AddingPredictor(self, ctx, model, info, run_dir)


class AddingPredictor(Predictor):
    @torch.no_grad()
    def predict(self, inputs, **options):
        """``inputs``: sequences (T, 2) of [value, marker] per step, any lengths."""
        x, lengths = as_sequences(inputs, features=2, what="adding inputs ([value, marker] "
                                  "per step)")
        pred = self.model.predict(x.to(self.device), lengths)  # (N, 1)
        return [{"prediction": float(v)} for v in pred[:, 0]]


register(AddingTask())
