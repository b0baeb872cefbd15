"""A run's report.md and loss plot (``rnnkit/tasks/report.py``): every line from the config,
the training state and the figures, and the plot drawn from metrics.jsonl's training and
validation records only (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import json
import sys

import pytest
from torch import nn

from rnnkit.tasks import report
from rnnkit.tasks.report import plot_losses, read_metrics, write_report
from rnnkit.tasks.runner import config_from_raw
from rnnkit.training.trainer import TrainState


def _cfg(**train):
    return config_from_raw({
        "name": "demo", "seed": 3, "task": {"name": "adding", "sequence_length": 9},
        "model": {"cell": "gru", "hidden_size": 5, "num_layers": 2, "bidirectional": True},
        "train": {"steps": 7, "batch_size": 4, "lr": 0.002, "optimizer": "adamw",
                  "progress": "off", **train}}, "test")


def test_the_report_says_what_was_trained_how_it_ended_and_the_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "plot_losses", lambda run_dir: None)
    state = TrainState(step=7, elapsed=90.0, best=0.25, best_step=6, skipped=0,
                       stop_reason="reached 7 steps")
    model = nn.Linear(3, 2)  # 8 parameters
    results = {"val": {"loss": 0.25, "mse": 0.123456789}, "test": {"loss": 0.5, "acc": 1.0}}
    path = write_report(tmp_path, _cfg(), state, results, model)
    assert path == tmp_path / "report.md"
    lines = path.read_text().splitlines()
    assert lines[0] == "# Run `demo`" and lines[1] == ""
    assert lines[2].startswith("- task: `adding` (sequence_length=9, ")
    assert "name=" not in lines[2]
    assert lines[3] == ("- model: `Linear`, cell `gru`, hidden 5, layers 2, bidirectional "
                        "True, 8 parameters")
    assert lines[4] == ("- training: 7 steps in 1.50 min, optimizer `adamw` lr 0.002, batch 4, "
                        "tbptt off (full BPTT), seed 3")
    assert lines[5] == "- ended: reached 7 steps"
    assert lines[6] == "- best validation `loss`: 0.25 at step 6"
    assert lines[7:10] == ["", "## Best checkpoint", ""]
    assert lines[10:14] == ["| split | loss | mse | acc |", "|---|---|---|---|",
                            "| val | 0.25 | 0.12346 | nan |", "| test | 0.5 | nan | 1 |"]
    assert lines[14:] == ["", "Files: `config.toml` (resolved), `metrics.jsonl`, "
                          "`checkpoints/{last,best}/`."]


def test_skipped_steps_tbptt_sections_and_the_plot_are_reported(tmp_path, monkeypatch):
    plot = tmp_path / "plots" / "loss.png"
    monkeypatch.setattr(report, "plot_losses", lambda run_dir: plot if run_dir == tmp_path
                        else None)
    state = TrainState(step=3, elapsed=6.0, best=1.0, best_step=2, skipped=2,
                       stop_reason="stopped early")
    write_report(tmp_path, _cfg(tbptt=20), state, {"val": {"loss": 1.0}}, nn.Linear(1, 1),
                 ["## Extra", "", "text"])
    text = (tmp_path / "report.md").read_text()
    assert "- ended: stopped early; 2 steps skipped (non-finite loss)\n" in text
    assert ", tbptt 20, seed 3\n" in text and "in 0.10 min" in text
    assert text.endswith("\n| val | 1 |\n\n## Plots\n\n![loss](plots/loss.png)\n\n## Extra\n\n"
                         "text\n\nFiles: `config.toml` (resolved), `metrics.jsonl`, "
                         "`checkpoints/{last,best}/`.\n")


def _write_metrics(run_dir, records, tail=""):
    (run_dir / "metrics.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records) + tail)


def test_read_metrics_skips_blank_and_torn_lines(tmp_path):
    assert read_metrics(tmp_path) == []
    _write_metrics(tmp_path, [{"step": 1}, {"step": 2}], tail='\n{"step": 3, "lo')
    assert read_metrics(tmp_path) == [{"step": 1}, {"step": 2}]


class FakeAxes:
    def __init__(self):
        self.lines, self.calls = [], []

    def plot(self, xs, ys, label=None, marker=None):
        self.lines.append((label, list(xs), list(ys), marker))

    def __getattr__(self, name):
        return lambda *a, **k: self.calls.append((name, a))


class FakePlt:
    def __init__(self):
        self.ax, self.saved, self.closed = FakeAxes(), [], False

    def subplots(self, figsize):
        fig = type("Fig", (), {"savefig": lambda s, path, **k: self.saved.append(path)})()
        return fig, self.ax

    def close(self, fig):
        self.closed = True


RECORDS = [  # a resumed run: the first session's best-checkpoint figures in the middle
    {"step": 20, "split": "train", "loss": 0.5}, {"step": 10, "split": "train", "loss": 0.9},
    {"step": 10, "split": "val", "loss": 0.8}, {"step": 20, "split": "val", "acc": 0.1},
    {"step": 20, "split": "val", "checkpoint": "best", "loss": 0.1},
    {"step": 20, "split": "test", "loss": 0.2}, {"step": 30, "split": "val", "loss": 0.7}]


def test_the_loss_plot_draws_train_and_val_losses_by_step(tmp_path, monkeypatch):
    plots = pytest.importorskip("rnnkit.diagnostics.plots")
    plt = FakePlt()
    monkeypatch.setattr(plots, "plt", plt)
    _write_metrics(tmp_path, RECORDS)
    assert plot_losses(tmp_path) == tmp_path / "plots" / "loss.png"
    assert plt.ax.lines == [("train", [20, 10], [0.5, 0.9], None),
                            ("val", [10, 30], [0.8, 0.7], ".")]
    assert ("set_yscale", ("log",)) in plt.ax.calls
    assert plt.saved == [tmp_path / "plots" / "loss.png"] and plt.closed
    assert (tmp_path / "plots").is_dir()
    plt = FakePlt()  # a loss below 0 (a Gaussian head's): no log scale
    monkeypatch.setattr(plots, "plt", plt)
    _write_metrics(tmp_path, [{"step": 1, "split": "val", "loss": -0.5},
                              {"step": 1, "split": "val", "checkpoint": "best", "loss": -9}])
    assert plots.draw_plots(tmp_path) == [tmp_path / "plots" / "loss.png"]
    assert plt.ax.lines == [("val", [1], [-0.5], ".")]  # no empty train line
    assert not [c for c in plt.ax.calls if c[0] == "set_yscale"]


def test_no_loss_records_or_no_matplotlib_draw_nothing(tmp_path, monkeypatch):
    plots = pytest.importorskip("rnnkit.diagnostics.plots")
    plt = FakePlt()
    monkeypatch.setattr(plots, "plt", plt)
    assert plot_losses(tmp_path) is None and plots.draw_plots(tmp_path) == []
    _write_metrics(tmp_path, [r for r in RECORDS if r.get("checkpoint") or "loss" not in r
                              or r["split"] == "test"])
    assert plot_losses(tmp_path) is None and plots.draw_plots(tmp_path) == []
    assert plt.saved == []

    def missing():
        raise report.MissingExtraError("no matplotlib: pip install 'rnnkit[plots]'")
    monkeypatch.setattr("rnnkit._optional.pyplot", missing)
    monkeypatch.delitem(sys.modules, "rnnkit.diagnostics.plots")  # imported again: fails
    _write_metrics(tmp_path, RECORDS)
    assert plot_losses(tmp_path) is None


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_loss_plot_is_a_png_with_matplotlib(tmp_path):
    pytest.importorskip("matplotlib")
    _write_metrics(tmp_path, [{"step": 1, "split": "train", "loss": 1.0},
                              {"step": 2, "split": "val", "loss": 0.5}])
    path = plot_losses(tmp_path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
