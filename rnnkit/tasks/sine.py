"""Sine-wave forecasting: a window of a (noisy) sine in, the next ``horizon`` values out.

``Forecaster`` (direct or autoregressive, ``[model] mode``), MSE. ``generate`` rolls a
fresh sine forward ``--max-new`` steps, feeding the forecasts back in.

Predictor: each input is a window of the series (W,) or (W, 1), any length; the record is
``{"forecast": [the next horizon values]}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ..data.synthetic import sine_windows
from ..training.config import TaskConfig, number
from .base import SPLITS, Task, TaskError, register
from .predictor import Predictor, as_sequences


@dataclass
class SineConfig(TaskConfig):
    name: str = "sine"
    window: int = number(50, 1)
    horizon: int = number(10, 1)
    noise: float = number(0.0, 0.0)  # std of Gaussian noise added to the series
    train_size: int = number(10000, 1)
    val_size: int = number(1000, 1)
    test_size: int = number(1000, 1)


class SineTask(Task):
    name = "sine"
    config_class = SineConfig
    model_class = "Forecaster"

    capabilities = frozenset({"generate"})

    def make_splits(self, ctx):
        cfg, seed = ctx.task_cfg, ctx.cfg.seed
        sizes = (cfg.train_size, cfg.val_size, cfg.test_size)
        return {split: sine_windows(n, cfg.window, cfg.horizon, cfg.noise, seed=seed * 10 + i)
                for i, (split, n) in enumerate(zip(SPLITS, sizes))}

    def model_args(self, ctx) -> dict[str, Any]:
        return {"input_size": 1, "output_size": 1, "horizon": ctx.task_cfg.horizon}

    fixed_model_args = frozenset({"input_size", "output_size", "horizon"})

    def extra_metrics(self, ctx, model, split):
        data = self.batches(ctx)[split]
        last = data["x"][:, -1:, :]  # (N, 1, 1): repeat the last value
        return {"baseline_mse": float(((data["y"] - last) ** 2).mean())}

    def predictor(self, ctx, model, info, run_dir=None):
        return SinePredictor(self, ctx, model, info, run_dir)


class SinePredictor(Predictor):
    @torch.no_grad()
    def _forecast(self, window: torch.Tensor, lengths=None) -> torch.Tensor:
        point = self.model.predict(window.to(self.device), lengths).point  # (N, H[, 1])
        return point.reshape(window.shape[0], -1).cpu()  # (N, H)

    def predict(self, inputs, **options):
        """``inputs``: windows of the series, (W,) or (W, 1) each."""
        x, lengths = as_sequences(inputs, features=1, what="sine windows")
        return [{"forecast": row} for row in self._forecast(x, lengths).tolist()]

    def generate(self, prompt=None, max_new: int = 100, **options):
        """Roll a fresh sine (period 20, or ``prompt`` = the period) ``max_new`` steps."""
        window_size = self.config.task.window
        try:
            period = float(prompt or 20)
        except ValueError:
            raise TaskError(f"sine: the prompt is the period in steps, got {prompt!r}") from None
        if not math.isfinite(period) or period <= 0:
            raise TaskError(f"sine: the period must be a positive number, got {prompt!r}")
        t = torch.arange(window_size, dtype=torch.float32)
        series = torch.sin(2 * math.pi * t / period)
        window = series.view(1, -1, 1)
        produced: list[float] = []
        while len(produced) < max_new:
            step = self._forecast(window)[0]  # (H,)
            produced += step.tolist()
            window = torch.cat([window[:, len(step):], step.view(1, -1, 1)], dim=1)
        return {"seed": series.tolist(), "generated": produced[:max_new]}


register(SineTask())
