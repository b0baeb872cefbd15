"""Batches from in-memory tensors, in an order fixed by (seed, epoch, step).

The batch at optimizer step ``s`` depends only on the seed and ``s``: a resumed run reads
exactly the batches the uninterrupted run would have. Under data parallelism each process
takes its contiguous share of the same global batch (as ``DistributedSampler`` shards).
"""

from __future__ import annotations

import torch
from torch import Tensor

Data = dict[str, Tensor]  # equal first dims: one row per sample


def num_samples(data: Data) -> int:
    sizes = {v.shape[0] for v in data.values()}
    if len(sizes) != 1:
        raise ValueError(f"all tensors of a data split need the same first dim, got {sizes}")
    return sizes.pop()


def take(data: Data, index: Tensor) -> Data:
    """Rows ``index`` of every tensor."""
    return {k: v[index] for k, v in data.items()}


class BatchStream:
    """Shuffled batches of ``batch_size`` (global), the last incomplete batch of an epoch
    dropped; ``rank``/``world_size`` select this process's share of each batch."""

    def __init__(self, data: Data, batch_size: int, seed: int = 0, rank: int = 0,
                 world_size: int = 1):
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} must be divisible by the number of "
                             f"processes {world_size}")
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.steps_per_epoch = num_samples(data) // batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"batch_size {batch_size} exceeds the {num_samples(data)} "
                             "training samples")
        self._epoch, self._order = None, None  # the epoch whose permutation is cached

    def order(self, epoch: int) -> Tensor:
        """The permutation of the samples in ``epoch``."""
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._order = epoch, torch.randperm(num_samples(self.data), generator=g)
        return self._order

    def batch(self, step: int) -> Data:
        """This process's part of the global batch read at optimizer step ``step``."""
        epoch, i = divmod(step, self.steps_per_epoch)
        local = self.batch_size // self.world_size
        start = i * self.batch_size + self.rank * local
        return take(self.data, self.order(epoch)[start:start + local])


def batches(data: Data, batch_size: int):
    """Consecutive batches in order (evaluation), the last one possibly smaller."""
    n = num_samples(data)
    for start in range(0, n, batch_size):
        yield {k: v[start:start + batch_size] for k, v in data.items()}


def trim_padding(batch: Data) -> Data:
    """Cut the padding columns no row of ``batch`` needs: ``x`` (and any key aligned with it,
    dim 1 of the same width, without a length key of its own) to ``lengths.max()``, ``y`` to
    ``y_lengths.max()`` where given."""
    out = dict(batch)
    if "lengths" in batch and "x" in batch and batch["x"].dim() >= 2:
        width, n = batch["x"].shape[1], int(batch["lengths"].max())
        for k, v in batch.items():
            if v.dim() >= 2 and v.shape[1] == width and k != "lengths":
                out[k] = v[:, :n]
    if "y_lengths" in batch and "y" in batch:  # (y with its own lengths: cut to those instead)
        out["y"] = batch["y"][:, : int(batch["y_lengths"].max())]
    return out


class BucketStream(BatchStream):
    """Shuffled batches of similar lengths, trimmed to their longest row: little padding.

    Each epoch's permutation is cut into pools of ``pool`` batches; a pool is sorted by
    ``lengths`` and cut into batches, and all the epoch's batches are shuffled. Like
    :class:`BatchStream`, the batch at step ``s`` depends only on the seed and ``s``.
    """

    def __init__(self, data: Data, batch_size: int, seed: int = 0, rank: int = 0,
                 world_size: int = 1, pool: int = 50):
        if "lengths" not in data:
            raise ValueError("bucketed batches need a 'lengths' entry in the data")
        super().__init__(data, batch_size, seed, rank, world_size)
        self.pool = pool

    def order(self, epoch: int) -> Tensor:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(num_samples(self.data), generator=g)
            B, size = self.batch_size, self.batch_size * self.pool
            usable = perm[: self.steps_per_epoch * B]
            sorted_parts = []
            for start in range(0, len(usable), size):
                part = usable[start:start + size]
                keys = self.data["lengths"][part]
                sorted_parts.append(part[torch.sort(keys, stable=True).indices])
            rows = torch.cat(sorted_parts).view(self.steps_per_epoch, B)
            rows = rows[torch.randperm(self.steps_per_epoch, generator=g)]
            self._epoch, self._order = epoch, rows.flatten()
        return self._order

    def batch(self, step: int) -> Data:
        return trim_padding(super().batch(step))


class ContiguousStreams:
    """Contiguous text for truncated BPTT with the state carried across batches.

    The rows of the ``time_keys`` of ``data`` are concatenated into one sequence, cut into
    ``batch_size`` streams of equal length (B, L); step ``i`` of an epoch reads columns
    ``offset + i*k .. offset + (i+1)*k`` of every stream (k = ``seq_len``), so each batch
    continues the previous one row by row. The offset in [0, k) changes each epoch (fixed by
    the seed) so chunk boundaries move; :meth:`starts_epoch` says when the carried state must
    start again from zeros. As for :class:`BatchStream`, the batch at step ``s`` depends only
    on the seed and ``s``; a process reads its share of the streams.
    """

    def __init__(self, data: Data, batch_size: int, seq_len: int, time_keys: tuple[str, ...],
                 seed: int = 0, rank: int = 0, world_size: int = 1):
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} must be divisible by the number of "
                             f"processes {world_size}")
        extra = set(data) - set(time_keys)
        if extra:
            raise ValueError(f"streamed batches take only the time keys {time_keys}; the data "
                             f"also has {sorted(extra)}")
        self.batch_size, self.seq_len, self.seed = batch_size, seq_len, seed
        self.rank, self.world_size = rank, world_size
        flat = {k: data[k].reshape(-1, *data[k].shape[2:]) for k in time_keys}  # (N, ...)
        n = min(len(v) for v in flat.values())
        length = n // batch_size
        self.steps_per_epoch = (length - seq_len) // seq_len
        if self.steps_per_epoch < 1:
            raise ValueError(f"{n} steps of data cannot feed {batch_size} streams of "
                             f"at least {2 * seq_len} steps")
        self.data = {k: v[: length * batch_size].reshape(batch_size, length, *v.shape[1:])
                     for k, v in flat.items()}  # (B, L, ...)

    def offset(self, epoch: int) -> int:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return int(torch.randint(self.seq_len, (1,), generator=g))

    def starts_epoch(self, step: int) -> bool:
        return step % self.steps_per_epoch == 0

    def batch(self, step: int) -> Data:
        epoch, i = divmod(step, self.steps_per_epoch)
        start = self.offset(epoch) + i * self.seq_len
        local = self.batch_size // self.world_size
        rows = slice(self.rank * local, (self.rank + 1) * local)
        return {k: v[rows, start:start + self.seq_len] for k, v in self.data.items()}
