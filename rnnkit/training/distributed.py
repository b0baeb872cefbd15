"""Data parallelism under ``torchrun``: process group, DDP wrapping, rank-0 duties.

Nothing here starts processes: ``torchrun --nproc-per-node N -m rnnkit.cli.main train ...``
does, and sets RANK / WORLD_SIZE / LOCAL_RANK. Without them everything is a no-op, one
process. gloo on CPU, nccl on CUDA. The data is sharded by
:class:`rnnkit.data.batches.BatchStream` (each rank its share of each global batch).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only rank 0 writes checkpoints, metrics and reports."""
        return self.rank == 0


def init_distributed(device_type: str) -> DistInfo:
    """Join the process group that torchrun describes in the environment (if any)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend)
    return info


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def mean_across(value: float, info: DistInfo, device: torch.device) -> float:
    """The mean of ``value`` over all processes (every process must call it)."""
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t) / info.world_size


def any_across(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every process if it is True on any (e.g. a stop request)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


class LossModule(nn.Module):
    """``forward(batch, state)`` = ``loss_fn(model, batch, state)`` (default: the model's
    ``compute_loss``), so DDP sees the call it syncs on."""

    def __init__(self, model: nn.Module, loss_fn=None):
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, batch, state=None):
        if self.loss_fn is None:
            out = self.model.compute_loss(batch, state)
        else:
            out = self.loss_fn(self.model, batch, state)
        return out.loss, out.metrics, out.count, out.state


def wrap(model: nn.Module, info: DistInfo, device: torch.device, loss_fn=None) -> nn.Module:
    """The loss module, in DDP when there are several processes."""
    module = LossModule(model, loss_fn)
    if not info.enabled:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def sync_context(module: nn.Module):
    """``context(last)`` for truncated BPTT: skip DDP's all-reduce on all but the last chunk."""
    def context(last: bool):
        if last or not isinstance(module, nn.parallel.DistributedDataParallel):
            return contextlib.nullcontext()
        return module.no_sync()
    return context
