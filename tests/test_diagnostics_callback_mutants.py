"""The Trainer callback that writes ``diagnostics.jsonl`` (rnnkit/diagnostics/callback.py):
when it records, on which rows, where it writes, and when it draws the plots. A stand-in
trainer holds what the callback reads (the Trainer trains step k on ``stream.batch(k - 1)``
and then calls ``on_step_end``). Each test fails on a one-line bug that
tests/test_diagnostics.py lets through (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.diagnostics import DiagnosticsCallback, take_snapshot
from rnnkit.diagnostics import plots as plots_module
from rnnkit.training.config import DiagnosticsConfig


class _Model(nn.Module):
    """An LSTM regressor whose loss is a plain function of the rows it is given."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.rnn, self.head = rnnkit.LSTM(2, 3, batch_first=True), nn.Linear(3, 1)
        self.rows_seen: list[int] = []

    def compute_loss(self, batch, state):
        self.rows_seen.append(len(batch["x"]))
        out, _ = self.rnn(batch["x"])  # (B, T, 3)
        loss = (self.head(out[:, -1]).squeeze(-1) - batch["y"]).pow(2).mean()
        return SimpleNamespace(loss=loss)


def _batches(n: int = 6, rows: int = 10):
    g = torch.Generator().manual_seed(1)
    return [{"x": torch.randn(rows, 5, 2, generator=g), "y": torch.randn(rows, generator=g)}
            for _ in range(n)]


def _trainer(model, batches, step: int, is_main: bool = True):
    return SimpleNamespace(
        model=model, device=torch.device("cpu"), state=SimpleNamespace(step=step),
        dist=SimpleNamespace(is_main=is_main),
        stream=SimpleNamespace(batch=lambda i: batches[i]))


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_defaults_and_the_config_table(tmp_path):
    cb = DiagnosticsCallback(tmp_path)
    assert (cb.every, cb.batch_size, cb.plots) == (100, 32, True)
    assert cb.path == tmp_path / "diagnostics.jsonl" and cb.run_dir == tmp_path
    cb = DiagnosticsCallback.from_config(DiagnosticsConfig(every=7, batch_size=5, plots=False),
                                         str(tmp_path))
    assert (cb.every, cb.batch_size, cb.plots, cb.run_dir) == (7, 5, False, tmp_path)


@pytest.mark.parametrize("every, steps", [(4, [1, 4, 8, 12]), (1, list(range(1, 13))),
                                          (5, [1, 5, 10]), (0, []), (-3, [])])
def test_due_on_the_first_step_and_every_nth(tmp_path, every, steps):
    cb = DiagnosticsCallback(tmp_path, every=every)
    assert [s for s in range(1, 13) if cb.due(s)] == steps


def test_each_record_is_measured_on_the_first_rows_of_the_steps_batch(tmp_path):
    """Step 3 trained on batch 2: the record is that batch's first 4 rows, measured on the
    model as it is after the step."""
    model, batches = _Model(), _batches()
    run_dir = tmp_path / "runs" / "a"  # not there yet
    cb = DiagnosticsCallback(run_dir, every=3, batch_size=4)
    for step in range(1, 7):
        cb.on_step_end(_trainer(model, batches, step), {"step": step})
    records = _lines(run_dir / "diagnostics.jsonl")
    assert [r["step"] for r in records] == [1, 3, 6]
    assert model.rows_seen == [4, 4, 4]
    for record in records:
        rows = {k: v[:4] for k, v in batches[record["step"] - 1].items()}
        expected = take_snapshot(model, lambda rows=rows: model.compute_loss(rows, None).loss,
                                 step=record["step"])
        assert record == json.loads(json.dumps(expected.to_record()))


def test_records_are_appended_to_an_existing_file(tmp_path):
    (tmp_path / "diagnostics.jsonl").write_text('{"step": 1}\n')  # a resumed run's records
    model, batches = _Model(), _batches()
    cb = DiagnosticsCallback(tmp_path, every=2, batch_size=3)
    cb.on_step_end(_trainer(model, batches, 2), {})
    cb.on_step_end(_trainer(model, batches, 4), {})
    assert [r["step"] for r in _lines(tmp_path / "diagnostics.jsonl")] == [1, 2, 4]


def test_only_the_main_process_records(tmp_path):
    model, batches = _Model(), _batches()
    cb = DiagnosticsCallback(tmp_path, every=1)
    cb.on_step_end(_trainer(model, batches, 1, is_main=False), {})
    assert not cb.path.exists() and model.rows_seen == []


@pytest.mark.parametrize("training", [True, False])
def test_the_models_mode_is_kept(tmp_path, training):
    model, batches = _Model(), _batches()
    model.train(training)
    DiagnosticsCallback(tmp_path, every=1).on_step_end(_trainer(model, batches, 1), {})
    assert model.training is training and model.rnn.training is training


def test_the_plots_are_drawn_at_the_end_only_when_asked(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(plots_module, "draw_plots", drawn.append)
    end = SimpleNamespace(dist=SimpleNamespace(is_main=True))
    DiagnosticsCallback(tmp_path, every=5).on_train_end(end)
    DiagnosticsCallback(tmp_path / "b", every=1).on_train_end(end)
    assert drawn == [tmp_path, tmp_path / "b"]
    for cb, trainer in ((DiagnosticsCallback(tmp_path, every=5, plots=False), end),
                        (DiagnosticsCallback(tmp_path, every=0), end),
                        (DiagnosticsCallback(tmp_path, every=5),
                         SimpleNamespace(dist=SimpleNamespace(is_main=False)))):
        cb.on_train_end(trainer)
    assert drawn == [tmp_path, tmp_path / "b"]


def test_without_matplotlib_the_plots_are_skipped_with_a_note(tmp_path, monkeypatch, capsys):
    def no_matplotlib(run_dir):
        raise ImportError("No module named 'matplotlib'")

    monkeypatch.setattr(plots_module, "draw_plots", no_matplotlib)
    DiagnosticsCallback(tmp_path, every=5).on_train_end(
        SimpleNamespace(dist=SimpleNamespace(is_main=True)))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "diagnostics: plots skipped (No module named 'matplotlib')\n"
