"""A keyword classifier's confusion matrix: counted over a split, drawn (plots/confusion.png)
and added to the run's report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .._optional import pyplot
from ..data.batches import batches

DIGITS = [str(d) for d in range(10)]


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


def plot_confusion(counts: np.ndarray, path: Path, title: str,
                   labels: list[str] | None = None) -> Path:
    plt = pyplot()
    n = len(counts)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.4 * n), max(4.5, 0.36 * n)))
    ax.imshow(counts, cmap="Blues")
    for (i, j), c in np.ndenumerate(counts):
        if c:
            ax.text(j, i, str(c), ha="center", va="center", fontsize=8,
                    color="white" if c > counts.max() / 2 else "black")
    names = labels or [str(i) for i in range(n)]
    ax.set_xticks(range(n), names, rotation=90 if max(map(len, names)) > 2 else 0)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("spoken")
    ax.set_title(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def confusion_plot(model, data: dict[str, torch.Tensor], run_dir: str | Path,
                   batch_size: int = 64, labels: list[str] | None = None) -> Path:
    """``run_dir``/plots/confusion.png: the confusion matrix of ``model`` on ``data``
    (``labels``: the class names; default the digits)."""
    labels = labels or DIGITS
    counts = confusion(model, data, batch_size, len(labels))
    acc = np.trace(counts) / max(counts.sum(), 1)
    path = Path(run_dir) / "plots" / "confusion.png"
    return plot_confusion(counts, path, f"test: {acc:.2%} of {counts.sum()} correct", labels)


CONFUSION_MARK = "<!-- rnnkit speech-digits confusion -->"


def add_report_section(report: Path, lines: list[str]) -> Path:
    """Append (or replace) this task's section at the end of ``report``."""
    text = report.read_text() if report.exists() else ""
    text = text.split(CONFUSION_MARK)[0].rstrip("\n")
    report.write_text(text + "\n\n" + CONFUSION_MARK + "\n" + "\n".join(lines) + "\n")
    return report
