"""The Trainer callback that writes ``diagnostics.jsonl`` (and the plots at the end)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .._files import naming, strict
from ..training.config import DiagnosticsConfig
from ..training.trainer import Callback, Trainer
from .snapshot import take_snapshot


class DiagnosticsCallback(Callback):
    """Every ``every`` optimizer steps (and after the first), measure gradient flow, gate
    saturation, gradient norms and spectral radii on the first ``batch_size`` rows of the
    batch just trained on, and append a :class:`~rnnkit.diagnostics.snapshot.Snapshot` to
    ``run_dir/diagnostics.jsonl``. At the end of training draw ``run_dir/plots/``.

    The measurement is a separate forward and backward pass of the model on rnnkit's loop:
    the training step itself, its gradients and its random numbers are not touched.
    """

    def __init__(self, run_dir: str | Path, every: int = 100, batch_size: int = 32,
                 plots: bool = True):
        self.run_dir, self.every, self.batch_size, self.plots = (
            Path(run_dir), every, batch_size, plots)
        self.path = self.run_dir / "diagnostics.jsonl"

    @classmethod
    def from_config(cls, cfg: DiagnosticsConfig, run_dir: str | Path) -> DiagnosticsCallback:
        return cls(run_dir, cfg.every, cfg.batch_size, cfg.plots)

    def due(self, step: int) -> bool:
        return self.every > 0 and (step == 1 or step % self.every == 0)

    def on_step_end(self, trainer: Trainer, record) -> None:
        step = trainer.state.step
        if not self.due(step) or not trainer.dist.is_main:
            return
        batch = trainer.stream.batch(step - 1)  # the batch this step trained on
        batch = {k: v[: self.batch_size].to(trainer.device) for k, v in batch.items()}
        model = trainer.model
        was_training = model.training
        snap = take_snapshot(model, lambda: model.compute_loss(batch, None).loss, step=step)
        model.train(was_training)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with naming(self.path), open(self.path, "a") as f:
            f.write(json.dumps(strict(snap.to_record()), allow_nan=False) + "\n")

    def on_train_end(self, trainer: Trainer) -> None:
        if not (self.plots and self.every > 0 and trainer.dist.is_main):
            return
        try:
            from .plots import draw_plots

            draw_plots(self.run_dir)
        except ImportError as err:  # matplotlib is optional
            print(f"diagnostics: plots skipped ({err})", file=sys.stderr)
