"""The attention of a translation as a heat map: source tokens across, target tokens down
(the ``plots`` extra)."""

from __future__ import annotations

from pathlib import Path

from .._optional import pyplot


def plot_attention(source: list[str], target: list[str], weights: list[list[float]],
                   path: str | Path) -> Path:
    """Heat map of attention weights: source words across, target words down."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1 + 0.5 * max(len(source), 2), 1 + 0.4 * max(len(target), 2)))
    ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0, vmax=1)
    ax.set_xticks(range(len(source)), source, rotation=45, ha="right")
    ax.set_yticks(range(len(target)), target)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
