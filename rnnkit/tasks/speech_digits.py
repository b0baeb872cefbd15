"""Spoken-digit recognition (isolated words) on the Free Spoken Digit Dataset.

A bidirectional recurrent :class:`~rnnkit.models.SequenceClassifier` over MFCC (+ deltas)
frames (:mod:`rnnkit.data.audio`). Splits:

- ``split = "official"``: recordings with index 0..4 are the test set (300), the next
  ``val_count`` indices (5..9) validation, the rest training;
- ``split = "speaker"``: leave one speaker out, ``test_speaker``'s 500 recordings are the
  test set; validation is index 0..``val_count``-1 of the other speakers.

``evaluate`` reports ``accuracy`` (and ``errors``); when training ends,
:meth:`SpeechDigitsTask.after_training` draws the test confusion matrix into the run's
``plots/confusion.png`` and links it from ``report.md``. ``rnnkit transcribe RUN FILE.wav``
prints the digit heard in each file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.audio import FEATURES, SPEAKERS, AudioError, features, fsdd_recordings, read_audio
from ..data.batches import batches
from ..data.datasets import DataError
from ..training.config import TaskConfig, choice, number
from .base import Task, TaskError, register


@dataclass
class SpeechDigitsConfig(TaskConfig):
    name: str = "speech-digits"
    features: str = choice("mfcc", *FEATURES)
    split: str = choice("official", "official", "speaker")
    test_speaker: str = choice("george", *SPEAKERS)  # split = "speaker"
    val_count: int = number(5, 1, 45)  # recording indices per digit/speaker for validation


def pad(frames: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """(T_i, F) arrays -> ``x`` (N, T_max, F) zero-padded and ``lengths`` (N,)."""
    lengths = torch.tensor([len(f) for f in frames])
    x = torch.zeros(len(frames), int(lengths.max()), frames[0].shape[1])
    for i, f in enumerate(frames):
        x[i, :len(f)] = torch.from_numpy(f)
    return x, lengths


@lru_cache(maxsize=2)
def fsdd_signals() -> tuple[list, list[np.ndarray]]:
    """The FSDD recordings and their signals (read once per process)."""
    try:
        recs = fsdd_recordings()
    except DataError as e:
        raise TaskError(str(e)) from None
    return recs, [read_audio(r.path) for r in recs]


@lru_cache(maxsize=4)
def fsdd_features(kind: str) -> list[np.ndarray]:
    return [features(s, kind) for s in fsdd_signals()[1]]


def split_of(rec, cfg: SpeechDigitsConfig) -> str:
    """Which split a recording belongs to under ``cfg``."""
    if cfg.split == "speaker":
        if rec.speaker == cfg.test_speaker:
            return "test"
        return "val" if rec.index < cfg.val_count else "train"
    if rec.index < 5:
        return "test"
    return "val" if rec.index < 5 + cfg.val_count else "train"


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


CONFUSION_MARK = "<!-- rnnkit speech-digits confusion -->"


def add_report_section(report: Path, lines: list[str]) -> Path:
    """Append (or replace) this task's section at the end of ``report``."""
    text = report.read_text() if report.exists() else ""
    text = text.split(CONFUSION_MARK)[0].rstrip("\n")
    report.write_text(text + "\n\n" + CONFUSION_MARK + "\n" + "\n".join(lines) + "\n")
    return report


def read_wavs(paths: list[str]) -> list[tuple[str, np.ndarray | str]]:
    """Each path with its 8 kHz mono signal, or with the message saying why it cannot be
    read (see :func:`~rnnkit.data.audio.read_audio` for what is resampled or mixed down)."""
    out: list[tuple[str, np.ndarray | str]] = []
    for p in paths:
        try:
            out.append((p, read_audio(p)))
        except AudioError as e:
            out.append((p, str(e)))
    return out


class SpeechDigitsTask(Task):
    name = "speech-digits"
    config_class = SpeechDigitsConfig
    model_class = "SequenceClassifier"

    def data(self, cfg: SpeechDigitsConfig, seed: int):
        recs, feats = fsdd_signals()[0], fsdd_features(cfg.features)
        out = {}
        for split in ("train", "val", "test"):
            rows = [i for i, r in enumerate(recs) if split_of(r, cfg) == split]
            x, lengths = pad([feats[i] for i in rows])
            out[split] = {"x": x, "lengths": lengths,
                          "y": torch.tensor([recs[i].digit for i in rows])}
        return out

    def model_args(self, cfg: SpeechDigitsConfig) -> dict[str, Any]:
        return {"num_classes": 10, "input_size": FEATURES[cfg.features]}

    def extra_metrics(self, model, data, batch_size):
        counts = confusion(model, data, batch_size)
        return {"errors": float(counts.sum() - np.trace(counts))}

    def after_training(self, model, cfg, run_dir) -> None:
        """plots/confusion.png (the best checkpoint on the test split), linked from
        report.md; skipped without matplotlib, like the other plots."""
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return
        test = self.data(cfg.task, cfg.seed)["test"]
        (path,) = self.plots(model, test, run_dir, cfg.train.batch_size)
        add_report_section(Path(run_dir) / "report.md",
                           ["## Confusion matrix (test split, best checkpoint)", "",
                            f"![confusion matrix](plots/{path.name})"])

    def plots(self, model, data, run_dir, batch_size: int = 64) -> list[Path]:
        """plots/confusion.png: the confusion matrix on ``data`` (the test split)."""
        counts = confusion(model, data, batch_size)
        acc = np.trace(counts) / max(counts.sum(), 1)
        path = Path(run_dir) / "plots" / "confusion.png"
        return [plot_confusion(counts, path, f"test: {acc:.2%} of {counts.sum()} correct")]

    @torch.no_grad()
    def predict(self, model, inputs, cfg: SpeechDigitsConfig):
        """``inputs`` feature frames (N, T, F) or (T, F): the digit and its probability."""
        if inputs.dim() == 2:
            inputs = inputs[None]
        F = FEATURES[cfg.features]
        if inputs.dim() != 3 or inputs.shape[-1] != F:
            raise TaskError(f"speech-digits inputs must be {cfg.features} frames (N, T, {F}), "
                            f"got shape {tuple(inputs.shape)}; for audio use `rnnkit "
                            "transcribe RUN FILE.wav`")
        probs = model.predict_proba(inputs.float().to(next(model.parameters()).device)).cpu()
        return {"digits": probs.argmax(-1).tolist(), "probabilities": probs.max(-1)[0].tolist()}

    def transcribe(self, model, cfg: SpeechDigitsConfig, paths: list[str]) -> list[dict]:
        """One result per file: ``{"file", "text"}`` (the digit) or ``{"file", "error"}``."""
        results = []
        for path, signal in read_wavs(paths):
            if isinstance(signal, str):
                results.append({"file": path, "error": signal})
                continue
            pred = self.predict(model, torch.from_numpy(features(signal, cfg.features)), cfg)
            results.append({"file": path, "text": str(pred["digits"][0]),
                            "probability": round(pred["probabilities"][0], 4)})
        return results


register(SpeechDigitsTask())
