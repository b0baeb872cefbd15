"""Sine-wave forecasting: a window of a (noisy) sine in, the next ``horizon`` values out.

``Forecaster`` (direct or autoregressive, ``[model] mode``), MSE. ``generate`` rolls a
fresh sine forward ``--max-new`` steps, feeding the forecasts back in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ..data.synthetic import sine_windows
from ..training.config import TaskConfig, number
from .base import SPLITS, Task, TaskError, register


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

    def data(self, cfg: SineConfig, seed: int):
        sizes = (cfg.train_size, cfg.val_size, cfg.test_size)
        return {split: sine_windows(n, cfg.window, cfg.horizon, cfg.noise, seed=seed * 10 + i)
                for i, (split, n) in enumerate(zip(SPLITS, sizes))}

    def model_args(self, cfg: SineConfig) -> dict[str, Any]:
        return {"input_size": 1, "output_size": 1, "horizon": cfg.horizon}

    def extra_metrics(self, model, data, batch_size):
        last = data["x"][:, -1:, :]  # (N, 1, 1): repeat the last value
        return {"baseline_mse": float(((data["y"] - last) ** 2).mean())}

    @torch.no_grad()
    def _forecast(self, model, window: torch.Tensor) -> torch.Tensor:
        device = next(model.parameters()).device
        point = model.predict(window.to(device)).point  # (N, H) or (N, H, 1)
        return point.reshape(window.shape[0], -1).cpu()  # (N, H)

    def predict(self, model, inputs, cfg: SineConfig):
        """``inputs`` (N, W, 1), (N, W) or one window (W,): the forecasts (N, horizon)."""
        if inputs.dim() == 1:
            inputs = inputs[None]
        if inputs.dim() == 2:
            inputs = inputs.unsqueeze(-1)
        if inputs.dim() != 3 or inputs.shape[-1] != 1:
            raise TaskError(f"sine inputs must be windows (N, W) or (N, W, 1), got shape "
                            f"{tuple(inputs.shape)}")
        return {"forecasts": self._forecast(model, inputs).tolist()}

    def generate(self, model, cfg: SineConfig, options: dict[str, Any]):
        """Roll a fresh sine (period 20, or ``--prompt`` = the period) ``max_new`` steps."""
        period = float(options.get("prompt") or 20)
        t = torch.arange(cfg.window, dtype=torch.float32)
        series = torch.sin(2 * math.pi * t / period)
        window = series.view(1, -1, 1)
        produced: list[float] = []
        while len(produced) < options["max_new"]:
            step = self._forecast(model, window)[0]  # (H,)
            produced += step.tolist()
            window = torch.cat([window[:, len(step):], step.view(1, -1, 1)], dim=1)
        return {"seed": series.tolist(), "generated": produced[:options["max_new"]]}


register(SineTask())
