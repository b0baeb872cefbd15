"""Plots of a run (matplotlib, Agg, PNG into ``run_dir/plots/``; the ``plots`` extra:
importing this module without matplotlib raises :class:`~rnnkit._optional.MissingExtraError`).

- ``gradient_flow.png``: heatmap of log10 ||dL/dh_t||, time step x training step, per layer;
- ``layer_grad_norms.png``: gradient norm per layer over training;
- ``gate_saturation.png``: saturated fraction per gate over training, per layer;
- ``spectral_radius.png``: spectral radius of each recurrent weight block over training;
- ``loss.png``: train and validation loss from ``metrics.jsonl``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .._files import naming
from .._optional import pyplot
from .records import read_jsonl, series

plt = pyplot()


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with naming(path):
        fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _layers(records: list[dict], key: str) -> list[str]:
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r.get(key, {})))
    return list(names)


def plot_gradient_flow(records: list[dict], path: Path) -> Path:
    """Heatmap per layer: rows = records (training steps), columns = time steps."""
    layers = _layers(records, "hidden_grad_norms")
    fig, axes = plt.subplots(len(layers), 1, figsize=(8, 2.6 * len(layers) + 0.6), squeeze=False,
                             layout="constrained")
    for ax, layer in zip(axes[:, 0], layers):
        rows = [r["hidden_grad_norms"].get(layer, []) for r in records]
        width = max(len(row) for row in rows)
        grid = np.full((len(rows), width), np.nan)
        for i, row in enumerate(rows):
            values = np.asarray(row, dtype=float)
            with np.errstate(divide="ignore"):
                grid[i, : len(values)] = np.where(values > 0, np.log10(values), np.nan)
        steps = [r["step"] for r in records]
        image = ax.imshow(grid, aspect="auto", origin="lower", interpolation="nearest",
                          extent=(-0.5, width - 0.5, -0.5, len(rows) - 0.5), cmap="viridis")
        ticks = np.linspace(0, len(rows) - 1, min(len(rows), 6)).round().astype(int)
        ax.set_yticks(ticks, [str(steps[i]) for i in ticks])
        ax.set_ylabel("training step")
        ax.set_title(f"log10 ||dL/dh_t||  ({layer})")
        fig.colorbar(image, ax=ax)
    axes[-1, 0].set_xlabel("time step t")
    return _save(fig, path)


def _lines(ax, records: list[dict], key: str, pick=lambda v: v, log: bool = False) -> None:
    for name in _layers(records, key):
        steps, values = [], []
        for r in records:
            value = pick(r.get(key, {}).get(name))
            if value is not None:
                steps.append(r["step"])
                values.append(value)
        ax.plot(steps, values, marker=".", label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.legend(fontsize="small")


def plot_layer_grad_norms(records: list[dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    _lines(ax, records, "layer_grad_norms", log=True)
    ax.set_ylabel("||dL/dθ|| per layer")
    ax.set_title("gradient norm per layer")
    return _save(fig, path)


def plot_gate_saturation(records: list[dict], path: Path) -> Path:
    layers = _layers(records, "saturation") or ["(none)"]
    fig, axes = plt.subplots(len(layers), 1, figsize=(7, 2.8 * len(layers) + 0.6), squeeze=False,
                             layout="constrained")
    for ax, layer in zip(axes[:, 0], layers):
        gates = [r.get("saturation", {}).get(layer, {}) for r in records]
        names = list(dict.fromkeys(k for d in gates for k in d))
        for gate in names:
            kept = [(r["step"], d[gate]) for r, d in zip(records, gates)
                    if d.get(gate) is not None]
            ax.plot([k[0] for k in kept], [k[1] for k in kept], marker=".", label=gate,
                    linewidth=2.5 if gate in ("sigmoid", "tanh") else 1.0)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("saturated fraction")
        ax.set_title(f"gate saturation ({layer})")
        if names:
            ax.legend(fontsize="small", ncol=2)
    axes[-1, 0].set_xlabel("training step")
    return _save(fig, path)


def plot_spectral_radius(records: list[dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    _lines(ax, records, "spectral_radius")
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
    ax.set_ylabel("spectral radius")
    ax.set_title("recurrent weights: spectral radius")
    return _save(fig, path)


def loss_records(metrics: list[dict]) -> list[dict]:
    """The records of the loss curves: training and validation losses logged during
    training (not the best checkpoint's figures, which a run appends at its end)."""
    return [r for r in metrics if r.get("split") in ("train", "val") and "loss" in r
            and r.get("checkpoint") is None]


def plot_loss(metrics: list[dict], path: Path) -> Path:
    """Train and validation loss against steps (a log scale when every loss is > 0; a
    Gaussian or quantile head's loss can be negative)."""
    metrics = loss_records(metrics)
    fig, ax = plt.subplots(figsize=(7, 4))
    for split in ("train", "val"):
        steps, values = series(metrics, "loss", split)
        if steps:
            ax.plot(steps, values, marker="." if split == "val" else None, label=split)
    values = [v for v in series(metrics, "loss")[1] if math.isfinite(v)]
    if values and min(values) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    ax.set_title("loss")
    ax.legend()
    return _save(fig, path)


def draw_plots(run_dir: str | Path) -> list[Path]:
    """(Re)draw every plot the run's files allow; returns the paths written."""
    run_dir = Path(run_dir)
    out_dir = run_dir / "plots"
    written = []
    diags = read_jsonl(run_dir / "diagnostics.jsonl")
    if diags:
        written += [
            plot_gradient_flow(diags, out_dir / "gradient_flow.png"),
            plot_layer_grad_norms(diags, out_dir / "layer_grad_norms.png"),
            plot_gate_saturation(diags, out_dir / "gate_saturation.png"),
            plot_spectral_radius(diags, out_dir / "spectral_radius.png"),
        ]
    metrics = read_jsonl(run_dir / "metrics.jsonl")
    if loss_records(metrics):
        written.append(plot_loss(metrics, out_dir / "loss.png"))
    return written
