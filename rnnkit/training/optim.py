"""Optimizers, learning-rate schedules and gradient clipping, built from a TrainConfig.

The schedule is a small object with JSON state (no pickle in checkpoints): the learning
rate at step s is ``lr * warmup(s) * shape(s) * plateau_scale``. With ``schedule_clock =
"time"`` the cosine's progress is training time / ``max_minutes`` instead of steps / total,
so runs stopped by the time limit all end their decay, whatever their speed (warm-up stays
in steps).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn

from .config import TrainConfig


def build_optimizer(params: Iterable[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), Adam, AdamW or RMSprop with the config's settings."""
    params = list(params)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               nesterov=cfg.nesterov, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, eps=cfg.eps,
                                   weight_decay=cfg.weight_decay)
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[cfg.optimizer]
    return cls(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
               weight_decay=cfg.weight_decay)


class Schedule:
    """Warm-up, then constant / cosine / step decay, times a reduce-on-plateau factor."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int):
        if cfg.schedule_clock == "time" and not cfg.max_minutes:
            raise ValueError('train.schedule_clock = "time" needs train.max_minutes > 0')
        self.optimizer, self.cfg, self.total = optimizer, cfg, max(total_steps, 1)
        self.plateau_scale, self.best, self.bad = 1.0, None, 0

    def factor(self, step: int, elapsed: float = 0.0) -> float:
        """Multiplier of the base lr for optimizer step ``step`` (0-based), taken after
        ``elapsed`` seconds of training (read with ``schedule_clock = "time"`` only)."""
        cfg = self.cfg
        f = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
        if cfg.schedule == "cosine":
            if cfg.schedule_clock == "time":
                t = min(elapsed / (60 * cfg.max_minutes), 1.0)
            else:
                span = max(self.total - cfg.warmup_steps, 1)
                t = min(max(step - cfg.warmup_steps, 0) / span, 1.0)
            f *= cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))
        elif cfg.schedule == "step":
            f *= cfg.gamma ** (step // cfg.step_size)
        return f * self.plateau_scale

    def apply(self, step: int, elapsed: float = 0.0) -> float:
        """Set the optimizer's lr for ``step`` (after ``elapsed`` seconds); returns it."""
        lr = self.cfg.lr * self.factor(step, elapsed)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def observe(self, value: float, mode: str) -> None:
        """Reduce-on-plateau: after ``plateau_patience`` evaluations without improvement,
        multiply the lr by ``gamma``."""
        if self.cfg.schedule != "plateau":
            return
        better = self.best is None or (value < self.best if mode == "min" else value > self.best)
        if better:
            self.best, self.bad = value, 0
        else:
            self.bad += 1
            if self.bad > self.cfg.plateau_patience:
                self.plateau_scale *= self.cfg.gamma
                self.bad = 0

    def state_dict(self) -> dict:
        return {"plateau_scale": self.plateau_scale, "best": self.best, "bad": self.bad,
                "total": self.total}

    def load_state_dict(self, state: dict) -> None:
        self.plateau_scale, self.best = state["plateau_scale"], state["best"]
        self.bad = state["bad"]


def clip_gradients(params: Iterable[Tensor], clip_norm: float, clip_value: float) -> float:
    """Clip by value (each element to [-v, v]) then by global norm; returns the global norm
    before norm clipping (0 settings switch a clip off)."""
    params = [p for p in params if p.grad is not None]
    if clip_value > 0 and params:  # (torch's clip_grad_value_ fails on an empty list)
        torch.nn.utils.clip_grad_value_(params, clip_value)
    if clip_norm > 0:
        return float(torch.nn.utils.clip_grad_norm_(params, clip_norm))
    if not params:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])))
