"""report.md and the loss-curve plot of a run directory."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .._files import naming
from .._optional import MissingExtraError
from ..diagnostics.records import read_jsonl
from ..training.config import RunConfig
from ..training.trainer import TrainState


def read_metrics(run_dir: Path) -> list[dict]:
    """The records of metrics.jsonl ([] without one; a torn line is skipped)."""
    return read_jsonl(Path(run_dir) / "metrics.jsonl")


def plot_losses(run_dir: Path) -> Path | None:
    """plots/loss.png: training and validation loss against steps (None without loss
    records, or without matplotlib, the ``plots`` extra)."""
    records = read_metrics(run_dir)
    try:
        from ..diagnostics.plots import loss_records, plot_loss
    except MissingExtraError:
        return None
    if not loss_records(records):
        return None
    return plot_loss(records, Path(run_dir) / "plots" / "loss.png")


def write_report(run_dir: Path, cfg: RunConfig, state: TrainState, results: dict,
                 model: nn.Module, sections: list[str] = ()) -> Path:
    """report.md: what was trained, how it ended, the best checkpoint's figures, plots."""
    plot = plot_losses(run_dir)
    params = sum(p.numel() for p in model.parameters())
    task_opts = ", ".join(f"{k}={v}" for k, v in vars(cfg.task).items() if k != "name")
    lines = [
        f"# Run `{cfg.name}`", "",
        f"- task: `{cfg.task.name}` ({task_opts})",
        f"- model: `{type(model).__name__}`, cell `{cfg.model.cell}`, hidden "
        f"{cfg.model.hidden_size}, layers {cfg.model.num_layers}, "
        f"bidirectional {cfg.model.bidirectional}, {params:,} parameters",
        f"- training: {state.step} steps in {state.elapsed / 60:.2f} min, optimizer "
        f"`{cfg.train.optimizer}` lr {cfg.train.lr:g}, batch {cfg.train.batch_size}, "
        f"tbptt {cfg.train.tbptt or 'off (full BPTT)'}, seed {cfg.seed}",
        f"- ended: {state.stop_reason}"
        + (f"; {state.skipped} steps skipped (non-finite loss)" if state.skipped else ""),
        f"- best validation `{cfg.train.metric}`: {state.best} at step {state.best_step}", "",
        "## Best checkpoint", "", "| split | " + " | ".join(_keys(results)) + " |",
        "|---" * (len(_keys(results)) + 1) + "|",
    ]
    for split, figures in results.items():
        lines.append(f"| {split} | " + " | ".join(f"{figures.get(k, float('nan')):.5g}"
                                                  for k in _keys(results)) + " |")
    if plot is not None:
        lines += ["", "## Plots", "", f"![loss](plots/{plot.name})"]
    if sections:
        lines += ["", *sections]
    lines += ["", "Files: `config.toml` (resolved), `metrics.jsonl`, `checkpoints/{last,best}/`."]
    path = Path(run_dir) / "report.md"
    with naming(path):
        path.write_text("\n".join(lines) + "\n")
    return path


def _keys(results: dict) -> list[str]:
    keys: list[str] = []
    for figures in results.values():
        keys += [k for k in figures if k not in keys]
    return keys
