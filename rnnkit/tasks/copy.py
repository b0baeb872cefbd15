"""The copy task: read symbols, wait through a delay of blanks, reproduce the symbols.

Aligned many-to-many (``SequenceTagger``, cross-entropy per step), so truncated BPTT
applies (``train.tbptt``). ``copy_accuracy`` scores the reproduced symbols only.

Predictor: each input is a sequence of ``copy_length`` symbols in 1..num_symbols; the
record is ``{"input": [...], "prediction": [...]}`` (what the model reproduces after the
delay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data.batches import batches
from ..data.synthetic import copy_task
from ..training.config import TaskConfig, number
from .base import SPLITS, Task, TaskError, register
from .predictor import Predictor


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

    def make_splits(self, ctx):
        cfg, seed = ctx.task_cfg, ctx.cfg.seed
        sizes = (cfg.train_size, cfg.val_size, cfg.test_size)
        return {split: copy_task(n, cfg.num_symbols, cfg.copy_length, cfg.delay,
                                 seed=seed * 10 + i)
                for i, (split, n) in enumerate(zip(SPLITS, sizes))}

    def model_args(self, ctx) -> dict[str, Any]:
        # tags: 0 blank + symbols; inputs also hold the "go" marker
        n = ctx.task_cfg.num_symbols
        return {"num_tags": n + 1, "vocab_size": n + 2}

    fixed_model_args = frozenset({"num_tags", "vocab_size", "input_size"})

    def info(self, ctx, model):
        n = ctx.task_cfg.num_symbols
        vocab = ["<blank>"] + [str(i) for i in range(1, n + 1)] + ["<go>"]
        return {**super().info(ctx, model), "vocab": vocab}

    @torch.no_grad()
    def extra_metrics(self, ctx, model, split):
        model.eval()
        data = self.batches(ctx)[split]
        k = int((data["y"][0] != 0).sum()) or data["y"].shape[1]
        device = next(model.parameters()).device
        correct = total = 0
        for batch in batches(data, ctx.cfg.train.batch_size):
            logits = model(batch["x"].to(device)).logits[:, -k:]  # (B, k, C)
            correct += int((logits.argmax(-1).cpu() == batch["y"][:, -k:]).sum())
            total += batch["y"][:, -k:].numel()
        return {"copy_accuracy": correct / max(total, 1)}

    def predictor(self, ctx, model, info, run_dir=None):
        return CopyPredictor(self, ctx, model, info, run_dir)


class CopyPredictor(Predictor):
    @torch.no_grad()
    def predict(self, inputs, **options):
        """``inputs``: sequences of ``copy_length`` symbols in 1..num_symbols."""
        cfg = self.config.task
        rows = []
        try:  # a list of sequences, each (k,) or (k, 1); an item (N, k) holds N of them
            for item in (inputs if isinstance(inputs, (list, tuple)) else [inputs]):
                a = np.asarray(item, dtype=np.float64)
                if a.ndim >= 2 and a.shape[-1] == 1:
                    a = a[..., 0]
                rows.extend(a.reshape(-1, a.shape[-1]) if a.ndim >= 2 else [a])
            symbols = torch.as_tensor(np.stack(rows)) if rows else torch.zeros(0)
        except (TypeError, ValueError, IndexError) as e:
            raise TaskError(f"copy inputs must be sequences of {cfg.copy_length} whole "
                            f"numbers: {e}") from None
        if symbols.dim() != 2 or symbols.shape[1] != cfg.copy_length:
            raise TaskError(f"copy inputs must be sequences of {cfg.copy_length} symbols, "
                            f"got shape {tuple(symbols.shape)}")
        if bool((symbols != symbols.round()).any()
                or ((symbols < 1) | (symbols > cfg.num_symbols)).any()):
            raise TaskError(f"copy symbols must be whole numbers in 1..{cfg.num_symbols}")
        symbols = symbols.long()
        n, k = symbols.shape
        x = torch.zeros(n, 2 * k + cfg.delay, dtype=torch.long)
        x[:, :k] = symbols
        x[:, k + cfg.delay - 1] = cfg.num_symbols + 1
        out = self.model.decode(x.to(self.device))
        return [{"input": s, "prediction": row[-k:]} for s, row in zip(symbols.tolist(), out)]


register(CopyTask())
