"""Spoken-digit recognition (isolated words) on the Free Spoken Digit Dataset.

A bidirectional recurrent :class:`~rnnkit.models.SequenceClassifier` over MFCC (+ deltas)
or log-mel frames (``task.features``, :mod:`rnnkit.data.audio`). Splits:

- ``split = "official"``: recordings with index 0..4 are the test set (300), the next
  ``val_count`` indices (5..9) validation, the rest training;
- ``split = "speaker"``: leave one speaker out, ``test_speaker``'s 500 recordings are the
  test set (a measure of how the model does on a voice it never heard); validation is
  index 0..``val_count``-1 of the other speakers.

``evaluate`` reports ``accuracy`` (and ``errors``); when training ends,
:meth:`SpeechDigitsTask.after_training` draws the test confusion matrix into the run's
``plots/confusion.png`` and links it from ``report.md``.

Predictor: ``predict(files or arrays)`` -> ``{"file", "text": the digit, "probability"}``
per input (``rnnkit transcribe RUN FILE.wav``). A recording holds one word, so there is
nothing to search: ``beam`` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._optional import MissingExtraError, pyplot
from ..data.audio import FEATURES, SPEAKERS, features
from ..data.batches import batches
from ..training.config import TaskConfig, choice, number
from .base import SPLITS, Task, TaskError, register
from .speech_common import FSDDContext, SpeechPredictor, pad


@dataclass
class SpeechDigitsConfig(TaskConfig):
    name: str = "speech-digits"
    features: str = choice("mfcc", *FEATURES)
    split: str = choice("official", "official", "speaker")
    test_speaker: str = choice("george", *SPEAKERS)  # split = "speaker"
    val_count: int = number(5, 1, 45)  # recording indices per digit/speaker for validation


def split_of(rec, cfg: SpeechDigitsConfig) -> str:
    """Which split a recording belongs to under ``cfg``."""
    if cfg.split == "speaker":
        if rec.speaker == cfg.test_speaker:
            return "test"
        return "val" if rec.index < cfg.val_count else "train"
    if rec.index < 5:
        return "test"
    return "val" if rec.index < 5 + cfg.val_count else "train"


class SpeechDigitsContext(FSDDContext):
    @cached_property
    def features(self) -> list[np.ndarray]:
        """Every recording's frames (T, F) of kind ``task.features``."""
        return [features(s, self.task_cfg.features) for s in self.signals]


def confusion(model, data: dict[str, torch.Tensor], batch_size: int,
              num_classes: int = 10) -> np.ndarray:
    """Counts (true class, predicted class) over ``data``."""
    model.eval()
    device = next(model.parameters()).device
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    with torch.no_grad():
        for batch in batches(data, batch_size):
            pred = model(batch["x"].to(device), batch["lengths"]).logits.argmax(-1).cpu()
            np.add.at(counts, (batch["y"].numpy(), pred.numpy()), 1)
    return counts


def plot_confusion(counts: np.ndarray, path: Path, title: str) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(counts, cmap="Blues")
    for (i, j), n in np.ndenumerate(counts):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", fontsize=8,
                    color="white" if n > counts.max() / 2 else "black")
    ax.set_xticks(range(len(counts)))
    ax.set_yticks(range(len(counts)))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("spoken digit")
    ax.set_title(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def confusion_plot(model, data: dict[str, torch.Tensor], run_dir: str | Path,
                   batch_size: int = 64) -> Path:
    """``run_dir``/plots/confusion.png: the confusion matrix of ``model`` on ``data``."""
    counts = confusion(model, data, batch_size)
    acc = np.trace(counts) / max(counts.sum(), 1)
    path = Path(run_dir) / "plots" / "confusion.png"
    return plot_confusion(counts, path, f"test: {acc:.2%} of {counts.sum()} correct")


CONFUSION_MARK = "<!-- rnnkit speech-digits confusion -->"


def add_report_section(report: Path, lines: list[str]) -> Path:
    """Append (or replace) this task's section at the end of ``report``."""
    text = report.read_text() if report.exists() else ""
    text = text.split(CONFUSION_MARK)[0].rstrip("\n")
    report.write_text(text + "\n\n" + CONFUSION_MARK + "\n" + "\n".join(lines) + "\n")
    return report


class SpeechDigitsTask(Task):
    name = "speech-digits"
    config_class = SpeechDigitsConfig
    model_class = "SequenceClassifier"
    context_class = SpeechDigitsContext
    capabilities = frozenset({"transcribe"})
    fixed_model_args = frozenset({"num_classes", "input_size"})

    def make_splits(self, ctx: SpeechDigitsContext):
        recs, feats = ctx.recordings, ctx.features
        out = {}
        for split in SPLITS:
            rows = [i for i, r in enumerate(recs) if split_of(r, ctx.task_cfg) == split]
            x, lengths = pad([feats[i] for i in rows])
            out[split] = {"x": x, "lengths": lengths,
                          "y": torch.tensor([recs[i].digit for i in rows])}
        return out

    def model_args(self, ctx) -> dict[str, Any]:
        return {"num_classes": 10, "input_size": FEATURES[ctx.task_cfg.features]}

    def extra_metrics(self, ctx, model, split):
        counts = confusion(model, self.batches(ctx)[split], ctx.cfg.train.batch_size)
        return {"errors": float(counts.sum() - np.trace(counts))}

    def after_training(self, ctx, model, run_dir) -> None:
        """plots/confusion.png (the best checkpoint on the test split), linked from
        report.md; skipped without matplotlib, like the other plots."""
        try:
            path = confusion_plot(model, self.batches(ctx)["test"], run_dir,
                                  ctx.cfg.train.batch_size)
        except MissingExtraError:
            return
        add_report_section(Path(run_dir) / "report.md",
                           ["## Confusion matrix (test split, best checkpoint)", "",
                            f"![confusion matrix](plots/{path.name})"])

    def predictor(self, ctx, model, info, run_dir=None):
        return SpeechDigitsPredictor(self, ctx, model, info, run_dir)


class SpeechDigitsPredictor(SpeechPredictor):
    """Record: ``{"file", "text": the digit ("0".."9"), "probability"}`` (the model's
    probability of that digit), or ``{"file", "error"}``."""

    @property
    def width(self) -> int:
        return FEATURES[self.config.task.features]

    def frames(self, signal: np.ndarray) -> np.ndarray:
        return features(signal, self.config.task.features)

    def predict(self, inputs, beam: int | None = None, **options) -> list[dict[str, Any]]:
        if beam is not None:
            raise TaskError("--beam applies to speech-ctc runs only: a speech-digits model "
                            "hears one word per recording, there is no sequence to search")

        def heard(x: torch.Tensor) -> dict[str, Any]:
            probs = self.model.predict_proba(x)[0]  # (10,)
            digit = int(probs.argmax())
            return {"text": str(digit), "probability": round(float(probs[digit]), 4)}

        return self.records(inputs, heard)


register(SpeechDigitsTask())
