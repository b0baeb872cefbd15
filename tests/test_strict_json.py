"""``--json`` outputs are strict JSON (RFC 8259): a figure that is NaN or infinite (an anomaly
run without labelled windows has no precision or recall) is null, never the bare ``NaN``
that Python's json writes and JavaScript's ``JSON.parse``, Go or Rust readers reject."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
from _tiny import tiny_adding_toml

from rnnkit.cli import evaluate as evaluate_cmd
from rnnkit.cli.common import strict
from rnnkit.cli.main import main


def _strict_loads(text: str):
    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def test_strict_makes_every_non_finite_float_null_and_keeps_the_rest():
    value = {"a": math.nan, "b": [1.5, math.inf, (-math.inf, 2)], "c": {"d": np.float32("nan"),
             "e": np.float64(0.25), "f": "NaN", "g": 3, "h": None, "i": True}}
    assert strict(value) == {"a": None, "b": [1.5, None, [None, 2]],
                             "c": {"d": None, "e": 0.25, "f": "NaN", "g": 3, "h": None,
                                   "i": True}}
    assert type(strict(np.float64(0.25))) is float


def test_evaluate_json_writes_null_for_undefined_figures(tmp_path, monkeypatch, capsys):
    # what evaluate_run gives for an anomaly run whose data has no labelled windows
    figures = {"split": "test", "checkpoint": "best", "step": 60, "loss": 0.5,
               "windows_total": math.nan, "precision": math.nan, "recall": np.float64("nan"),
               "alarm_events": 2, "threshold": 1.25, "mase": math.inf}
    monkeypatch.setattr(evaluate_cmd, "evaluate_run", lambda run, split, checkpoint: figures)
    assert main(["evaluate", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one object, one line
    assert _strict_loads(out) == {"split": "test", "checkpoint": "best", "step": 60,
                                  "loss": 0.5, "windows_total": None, "precision": None,
                                  "recall": None, "alarm_events": 2, "threshold": 1.25,
                                  "mase": None}


TINY = tiny_adding_toml(steps=6, eval_every=3, train='log_every = 1\non_nonfinite = "skip"',
                        more="[diagnostics]\nevery = 2")


def test_a_run_whose_loss_goes_non_finite_writes_strict_metrics_and_its_report(
        tmp_path, monkeypatch, capsys):
    """Steps 2 and 3 have a NaN loss (skipped): their lines in metrics.jsonl say null, never
    the bare NaN a strict reader refuses, and every reader of the file (report and loss
    plot, diagnose, resume's trimming) takes null as the non-finite figure it stands for."""
    from rnnkit.training import Trainer

    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(TINY)
    loss = Trainer._loss

    def nan_at_2_and_3(self, batch, state):
        out = loss(self, batch, state)
        if self.state.step + 1 in (2, 3):  # (the step being trained)
            out = dataclasses.replace(out, loss=out.loss * math.nan)
        return out

    monkeypatch.setattr(Trainer, "_loss", nan_at_2_and_3)
    assert main(["train", "tiny.toml"]) == 0
    run = tmp_path / "runs" / "tiny"
    lines = (run / "metrics.jsonl").read_text().splitlines()
    records = [_strict_loads(line) for line in lines]
    train = {r["step"]: r for r in records if r["split"] == "train"}
    assert [train[s]["loss"] is None for s in range(1, 7)] == [False, True, True, False,
                                                                False, False]
    assert train[2]["grad_norm"] is None  # a NaN loss's gradient is NaN too
    assert "2 steps skipped (non-finite loss)" in (run / "report.md").read_text()
    assert (run / "plots" / "loss.png").stat().st_size > 0
    capsys.readouterr()
    assert main(["diagnose", str(run), "--json"]) == 0
    summary = _strict_loads(capsys.readouterr().out)
    assert summary["train_loss"]["nonfinite_step"] == 2
    assert main(["train", "--resume", str(run), "--set", "train.steps=8"]) == 0
    resumed = [_strict_loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r for r in resumed if r["step"] <= 3 and r["split"] == "train"] == \
        [train[s] for s in (1, 2, 3)]


def test_diagnostics_of_a_diverged_model_are_strict_json_and_still_read(
        tmp_path, monkeypatch, capsys):
    """A diverged model's snapshot (NaN loss, gradient norms and saturation, an infinite
    spectral radius) is written to diagnostics.jsonl as null, and diagnose and the plots
    read those nulls as the non-finite figures they stand for."""
    from rnnkit.diagnostics import callback

    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(TINY)
    take = callback.take_snapshot

    def diverged(model, compute_loss, *, step=0):
        snap = take(model, compute_loss, step=step)
        if step >= 4:
            nan = math.nan
            layer = next(iter(snap.hidden_grad_norms))
            snap = dataclasses.replace(
                snap, loss=nan,
                hidden_grad_norms={k: [nan] * len(v) for k, v in snap.hidden_grad_norms.items()},
                saturation={k: {g: nan for g in v} for k, v in snap.saturation.items()},
                layer_grad_norms={k: math.inf for k in snap.layer_grad_norms},
                spectral_radius={**snap.spectral_radius, layer: math.inf})
        return snap

    monkeypatch.setattr(callback, "take_snapshot", diverged)
    assert main(["train", "tiny.toml"]) == 0
    run = tmp_path / "runs" / "tiny"
    records = [_strict_loads(line)
               for line in (run / "diagnostics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 4, 6]
    assert records[0]["loss"] is not None and records[-1]["loss"] is None
    assert None in records[-1]["spectral_radius"].values()
    for name in ("gradient_flow", "layer_grad_norms", "gate_saturation", "spectral_radius"):
        assert (run / "plots" / f"{name}.png").stat().st_size > 0
    capsys.readouterr()
    assert main(["diagnose", str(run), "--json"]) == 0
    summary = _strict_loads(capsys.readouterr().out)
    assert list(summary["spectral_radius_max"].values()) == [None]


class _Stand:
    """A predictor stand-in whose one record holds non-finite scores."""

    def require(self, *_):
        pass

    def read_file(self, path):
        return [path]

    def predict(self, items, **_):
        return [{"file": str(items[0]), "caption": "a dog", "text": "yes",
                 "log_prob": -math.inf, "scores": [math.nan, 0.5]}]


def test_caption_and_transcribe_json_are_strict(tmp_path, monkeypatch, capsys):
    from rnnkit.cli import caption, transcribe

    for module, verb in ((caption, "caption"), (transcribe, "transcribe")):
        monkeypatch.setattr(module, "load", lambda run, checkpoint: _Stand())
        assert main([verb, str(tmp_path), "x.wav", "--json"]) == 0
        record = _strict_loads(capsys.readouterr().out)["results"][0]
        assert (record["log_prob"], record["scores"]) == (None, [None, 0.5])
