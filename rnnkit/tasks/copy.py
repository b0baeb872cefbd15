"""The copy task: read symbols, wait through a delay of blanks, reproduce the symbols.

Aligned many-to-many (``SequenceTagger``, cross-entropy per step), so truncated BPTT
applies (``train.tbptt``). ``copy_accuracy`` scores the reproduced symbols only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..data.batches import batches
from ..data.synthetic import copy_task
from ..training.config import TaskConfig, number
from .base import SPLITS, Task, TaskError, register


@dataclass
class CopyConfig(TaskConfig):
    name: str = "copy"
    num_symbols: int = number(8, 1)
    copy_length: int = number(10, 1)
    delay: int = number(20, 1)
    train_size: int = number(10000, 1)
    val_size: int = number(1000, 1)
    test_size: int = number(1000, 1)


class CopyTask(Task):
    name = "copy"
    config_class = CopyConfig
    model_class = "SequenceTagger"

    def data(self, cfg: CopyConfig, seed: int):
        sizes = (cfg.train_size, cfg.val_size, cfg.test_size)
        return {split: copy_task(n, cfg.num_symbols, cfg.copy_length, cfg.delay,
                                 seed=seed * 10 + i)
                for i, (split, n) in enumerate(zip(SPLITS, sizes))}

    def model_args(self, cfg: CopyConfig) -> dict[str, Any]:
        # tags: 0 blank + symbols; inputs also hold the "go" marker
        return {"num_tags": cfg.num_symbols + 1, "vocab_size": cfg.num_symbols + 2}

    def info(self, cfg):
        vocab = ["<blank>"] + [str(i) for i in range(1, cfg.task.num_symbols + 1)] + ["<go>"]
        return {**super().info(cfg), "vocab": vocab}

    @torch.no_grad()
    def extra_metrics(self, model, data, batch_size):
        model.eval()
        k = int((data["y"][0] != 0).sum()) or data["y"].shape[1]
        device = next(model.parameters()).device
        correct = total = 0
        for batch in batches(data, batch_size):
            logits = model(batch["x"].to(device)).logits[:, -k:]  # (B, k, C)
            correct += int((logits.argmax(-1).cpu() == batch["y"][:, -k:]).sum())
            total += batch["y"][:, -k:].numel()
        return {"copy_accuracy": correct / max(total, 1)}

    def predict(self, model, inputs, cfg: CopyConfig):
        """``inputs`` (N, copy_length) or (copy_length,): symbols in 1..num_symbols."""
        inputs = inputs.long()
        if inputs.dim() == 1:
            inputs = inputs[None]
        if inputs.dim() != 2 or inputs.shape[1] != cfg.copy_length:
            raise TaskError(f"copy inputs must be sequences of {cfg.copy_length} symbols, "
                            f"got shape {tuple(inputs.shape)}")
        if bool(((inputs < 1) | (inputs > cfg.num_symbols)).any()):
            raise TaskError(f"copy symbols must lie in 1..{cfg.num_symbols}")
        n, k = inputs.shape
        x = torch.zeros(n, 2 * k + cfg.delay, dtype=torch.long)
        x[:, :k] = inputs
        x[:, k + cfg.delay - 1] = cfg.num_symbols + 1
        out = model.decode(x.to(next(model.parameters()).device))
        return {"inputs": inputs.tolist(), "predictions": [row[-k:] for row in out]}


register(CopyTask())
