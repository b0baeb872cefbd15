"""The generic Trainer: it knows batches, losses and optimizers, not models or tasks.

``Trainer(model, cfg, train_data, val_data).fit()`` runs ``cfg.steps`` optimizer steps
(or ``cfg.epochs`` passes), each on one batch, with full or truncated BPTT
(:mod:`rnnkit.training.tbptt`), clipping, the lr schedule, periodic validation and the
callbacks (progress, metrics.jsonl, checkpoints, early stopping, time limit ...). The model
provides ``compute_loss(batch, state) -> StepOutput`` and ``time_keys``.

``cfg.batching`` picks the batches: ``"shuffle"`` (random rows), ``"bucket"`` (random batches
of similar lengths, padding trimmed) or ``"stream"`` (contiguous streams, ``cfg.tbptt`` steps
per optimizer step, the final state of a step carried, detached, into the next: char-rnn's
truncated BPTT across batches; the carried state is saved with the training state).
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ..data.batches import BatchStream, BucketStream, ContiguousStreams, Data, batches
from ..models.base import StepOutput
from . import distributed
from .checkpoint import (
    Checkpoint,
    optimizer_from_files,
    optimizer_to_files,
    rng_from_files,
    rng_to_files,
)
from .config import TrainConfig
from .config_io import ConfigError
from .optim import Schedule, build_optimizer, clip_gradients
from .tbptt import detach_state, flatten_state, run_batch, unflatten_state


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or Inf (``on_nonfinite = "stop"``)."""


@dataclass
class TrainState:
    """Counters saved in checkpoints (JSON)."""

    step: int = 0  # optimizer steps done
    elapsed: float = 0.0  # seconds of training, over all sessions
    best: float | None = None  # best validation metric so far
    best_step: int = -1
    skipped: int = 0  # steps skipped for a non-finite loss
    skipped_in_a_row: int = 0  # the latest of them, up to this step (train.max_consecutive_skips)
    stop_reason: str = ""


class Callback:
    """Hooks for everything optional; each gets the trainer and may call ``trainer.stop``."""

    def on_train_start(self, trainer: Trainer) -> None: ...
    def on_step_end(self, trainer: Trainer, record: dict[str, Any]) -> None: ...
    def on_eval_end(self, trainer: Trainer, record: dict[str, Any], improved: bool) -> None: ...
    def on_train_end(self, trainer: Trainer) -> None: ...


def pick_device(name: str, info: distributed.DistInfo | None = None) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    elif name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device = 'cuda', but torch {torch.__version__} sees no CUDA "
                          "GPU on this machine: set train.device = \"auto\" (the GPU when "
                          "there is one) or \"cpu\"")
    if name == "cuda" and info is not None and info.enabled:
        return torch.device("cuda", info.local_rank)
    return torch.device(name)


class Trainer:
    """Optimizes ``model`` on ``train_data`` (a dict of tensors, one row per sample).

    ``seed`` fixes the data order (batch at step s is a function of seed and s), so a run
    repeats exactly on CPU and resumes exactly from :meth:`training_state`. ``dist`` (from
    :func:`distributed.init_distributed`) shards each global batch across processes.
    """

    def __init__(self, model: nn.Module, cfg: TrainConfig, train_data: Data,
                 val_data: Data | None = None, *, seed: int = 0,
                 callbacks: list[Callback] = (), dist: distributed.DistInfo | None = None,
                 loss_fn=None):
        self.cfg, self.seed = cfg, seed
        self.dist = dist or distributed.DistInfo()
        self.device = pick_device(cfg.device, self.dist)
        if cfg.precision == "bf16" and self.device.type != "cuda":
            warnings.warn(f"train.precision = 'bf16' applies on a CUDA GPU only: training in "
                          f"fp32 on the {self.device.type}", stacklevel=2)
        self.model = model.to(self.device)
        self.loss_fn = loss_fn  # (model, batch, state) -> StepOutput; None: compute_loss
        self.module = distributed.wrap(self.model, self.dist, self.device, loss_fn)
        self.time_keys = tuple(getattr(model, "time_keys", ()))
        if cfg.tbptt and not self.time_keys:
            raise ValueError(f"train.tbptt = {cfg.tbptt}: {type(model).__name__} has no time "
                             "axis to truncate (time_keys is empty); use tbptt = 0")
        self.stream = _make_stream(cfg, train_data, self.time_keys, seed, self.dist)
        self.carry: Any = None  # the state carried across batches (batching = "stream")
        self.val_data = val_data
        self.total_steps = cfg.steps or cfg.epochs * self.stream.steps_per_epoch
        self.optimizer = build_optimizer(self.model.parameters(), cfg)
        self.schedule = Schedule(self.optimizer, cfg, self.total_steps)
        self.callbacks, self.state = list(callbacks), TrainState()
        self._stop_request = ""

    # -- control --------------------------------------------------------------------------
    def stop(self, reason: str) -> None:
        """Ask the loop to end after the current step (callbacks, signals)."""
        self._stop_request = self._stop_request or reason

    @property
    def epoch(self) -> float:
        return round(self.state.step / self.stream.steps_per_epoch, 4)

    def _call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    # -- the loop -------------------------------------------------------------------------
    def fit(self) -> TrainState:
        """Train to ``total_steps`` (or an earlier stop); returns the counters."""
        self.state.stop_reason = ""
        self._call("on_train_start")
        with _signals_stop(self):
            while self.state.step < self.total_steps:
                start = time.perf_counter()
                record = self.train_step(self.stream.batch(self.state.step))
                self.state.elapsed += time.perf_counter() - start
                self._call("on_step_end", record)
                step = self.state.step
                if step % self.cfg.eval_every == 0 or step == self.total_steps:
                    self.validate()
                if distributed.any_across(bool(self._stop_request), self.dist, self.device):
                    self.state.stop_reason = self._stop_request or "stopped by another process"
                    break
            if not self.state.stop_reason:
                self.state.stop_reason = "done"
            self._call("on_train_end")  # the last checkpoint: a second Ctrl-C does not cut it
        return self.state

    def _autocast(self):
        if self.cfg.precision == "bf16" and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _loss(self, batch, state):
        with self._autocast():
            loss, metrics, count, state = self.module(batch, state)
        return StepOutput(loss.float(), metrics, count, state)

    def train_step(self, batch: Data) -> dict[str, Any]:
        """One optimizer step on ``batch``; returns the record logged for it."""
        self.model.train()
        batch = {k: v.to(self.device) for k, v in batch.items()}
        lr = self.schedule.apply(self.state.step, self.state.elapsed)
        self.optimizer.zero_grad(set_to_none=True)
        params = [p for p in self.model.parameters() if p.requires_grad]
        streaming = isinstance(self.stream, ContiguousStreams)
        carry = None
        if streaming and not self.stream.starts_epoch(self.state.step):
            carry = self.carry
        loss, metrics, _, state = run_batch(
            self._loss, batch, self.time_keys, self.cfg.tbptt, state=carry,
            backward=lambda loss, last: loss.backward(), parameters=params,
            context=distributed.sync_context(self.module))
        if streaming:
            self.carry = detach_state(state)
        grad_norm = clip_gradients(params, self.cfg.clip_norm, self.cfg.clip_value)
        if not (math.isfinite(float(loss)) and math.isfinite(grad_norm)):
            self._nonfinite(float(loss), grad_norm)
        else:
            self.optimizer.step()
            self.state.skipped_in_a_row = 0
        self.state.step += 1
        return {"step": self.state.step, "epoch": self.epoch, "split": "train",
                "loss": float(loss), **metrics, "lr": lr, "grad_norm": grad_norm,
                "samples": next(iter(batch.values())).shape[0]}  # this process's rows

    def _nonfinite(self, loss: float, grad_norm: float) -> None:
        """Skip the step (``on_nonfinite = "skip"``) or raise :class:`NonFiniteLossError`:
        at once with ``"stop"``, and with ``"skip"`` once ``max_consecutive_skips`` steps
        in a row were non-finite (the loss is not coming back: the run would burn its whole
        budget skipping)."""
        what = f"loss = {loss}" if not math.isfinite(loss) else f"gradient norm = {grad_norm}"
        step, limit = self.state.step + 1, self.cfg.max_consecutive_skips
        if self.cfg.on_nonfinite != "skip":
            raise NonFiniteLossError(
                f"non-finite {what} at step {step}; training stopped, the last good "
                "checkpoint is kept (lower train.lr, set train.clip_norm, or "
                "train.on_nonfinite = \"skip\")")
        if limit and self.state.skipped_in_a_row + 1 >= limit:
            raise NonFiniteLossError(
                f"non-finite {what} at step {step}: {limit} consecutive steps (from step "
                f"{step - limit + 1}) had a non-finite loss or gradient (train.on_nonfinite "
                f"= \"skip\", train.max_consecutive_skips = {limit}); training stopped, the "
                "last good checkpoint is kept (lower train.lr, set train.clip_norm, or "
                "check the data for NaN or infinite values)")
        self.optimizer.zero_grad(set_to_none=True)
        self.state.skipped += 1
        self.state.skipped_in_a_row += 1

    # -- validation -----------------------------------------------------------------------
    def evaluate(self, data: Data, split: str = "val") -> dict[str, Any]:
        """Loss and metrics over a whole split (every process computes the same figures)."""
        with self._autocast():
            figures = evaluate_model(self.model, data, self.cfg.batch_size, self.device,
                                     self.loss_fn)
        return {"step": self.state.step, "epoch": self.epoch, "split": split, **figures}

    def validate(self) -> None:
        if self.val_data is None:
            self._call("on_eval_end", {"step": self.state.step, "split": "val"}, False)
            return
        record = self.evaluate(self.val_data, "val")
        value = record.get(self.cfg.metric)
        if value is None:
            raise ValueError(f"train.metric = {self.cfg.metric!r} is not among the validation "
                             f"metrics {sorted(k for k in record if k not in ('step', 'split'))}")
        best, mode = self.state.best, self.cfg.metric_mode
        # a NaN or infinite figure (the weights blew up) is never the best: the best
        # checkpoint stays the last finite one, and a NaN best would block every later one
        improved = math.isfinite(value) and (
            best is None or (value < best if mode == "min" else value > best))
        if improved:
            self.state.best, self.state.best_step = value, self.state.step
        self.schedule.observe(value, mode)
        self._call("on_eval_end", record, improved)

    # -- checkpoint state -----------------------------------------------------------------
    def training_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Optimizer, schedule, RNG and counters as (tensors, JSON) for a checkpoint."""
        opt_tensors, opt_meta = optimizer_to_files(self.optimizer)
        rng_tensors, rng_meta = rng_to_files()
        carry, layout = flatten_state(self.carry)
        carry_tensors = {f"carry.{i}": t.detach().cpu().contiguous() for i, t in enumerate(carry)}
        return {**opt_tensors, **rng_tensors, **carry_tensors}, {
            "optimizer": opt_meta, "schedule": self.schedule.state_dict(), "rng": rng_meta,
            "trainer": asdict(self.state), "carry": layout}

    def load_training_state(self, ckpt: Checkpoint) -> None:
        """Continue from a checkpoint written by :meth:`training_state`."""
        optimizer_from_files(self.optimizer, ckpt.tensors, ckpt.state["optimizer"])
        self.schedule.load_state_dict(ckpt.state["schedule"])
        rng_from_files(ckpt.tensors, ckpt.state["rng"])
        self.state = TrainState(**ckpt.state["trainer"])
        carry = [ckpt.tensors[f"carry.{i}"].to(self.device)
                 for i in range(sum(k.startswith("carry.") for k in ckpt.tensors))]
        self.carry = unflatten_state(carry, ckpt.state.get("carry"))


def _make_stream(cfg: TrainConfig, data: Data, time_keys: tuple[str, ...], seed: int,
                 dist: distributed.DistInfo):
    """The batches ``cfg.batching`` asks for (see the module docstring)."""
    args = (cfg.batch_size, seed, dist.rank, dist.world_size)
    if cfg.batching == "stream":
        if cfg.tbptt <= 0 or not time_keys:
            raise ValueError("train.batching = \"stream\" needs train.tbptt > 0 (the steps per "
                             "batch) and a model with a time axis (time_keys)")
        return ContiguousStreams(data, cfg.batch_size, cfg.tbptt, time_keys, seed, dist.rank,
                                 dist.world_size)
    if cfg.batching == "bucket":
        return BucketStream(data, *args)
    return BatchStream(data, *args)


@torch.no_grad()
def evaluate_model(model: nn.Module, data: Data, batch_size: int,
                   device: torch.device | str = "cpu", loss_fn=None) -> dict[str, float]:
    """``loss`` and the model's metrics over ``data``, averaged over items (eval mode);
    ``loss_fn(model, batch, state)`` replaces the model's ``compute_loss``."""
    model.eval()
    sums: dict[str, float] = {}
    total = 0
    for batch in batches(data, batch_size):
        batch = {k: v.to(device) for k, v in batch.items()}
        out = (loss_fn(model, batch, None) if loss_fn is not None
               else model.compute_loss(batch, None))
        total += out.count
        for name, value in {"loss": out.loss, **out.metrics}.items():
            sums[name] = sums.get(name, 0.0) + float(value) * out.count
    return {k: v / max(total, 1) for k, v in sums.items()}


def stop_signal(reason: str) -> signal.Signals:
    """The signal a stop reason names (``"interrupted by SIGTERM"``: SIGTERM); SIGINT for
    another interruption (``"interrupted (rnnkit tune)"``)."""
    name = reason.rsplit(" ", 1)[-1]
    return signal.Signals[name] if name in signal.Signals.__members__ else signal.SIGINT


@contextlib.contextmanager
def _signals_stop(trainer: Trainer):
    """SIGINT/SIGTERM end the loop after the current step; the checkpoints of the end
    (``on_train_end``) are then saved whatever signal comes next."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    def handler(signum, frame):
        trainer.stop(f"interrupted by {signal.Signals(signum).name}")
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
