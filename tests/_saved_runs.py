"""Helpers for the tests that a trained run's evaluate and ``train --resume`` read what
training fitted on the data (vocabularies, label lists, scalers) from its model.json."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rnnkit.tasks import evaluate_run
from rnnkit.tasks.datafiles import DataChangedWarning

# a couple of steps: the figures need not be good, only the same
TRAIN = {"steps": 2, "batch_size": 4, "eval_every": 2, "progress": "off", "threads": 1}


def model_json(run: Path, checkpoint: str = "best") -> dict:
    return json.loads((run / "checkpoints" / checkpoint / "model.json").read_text())


def evaluate_changed(run: Path, split: str = "test") -> dict:
    """evaluate_run on data changed since training (which it warns about)."""
    with pytest.warns(DataChangedWarning):
        return evaluate_run(run, split)


def assert_same(a: dict, b: dict) -> None:
    """Two evaluate_run results with the same figures."""
    assert {k: v for k, v in a.items() if k != "step"} == pytest.approx(
        {k: v for k, v in b.items() if k != "step"})


def as_old_run(run: Path, *keys: str) -> None:
    """The run as a version that saved no ``keys`` in model.json left it (the checkpoint
    manifests updated to match)."""
    for folder in (run / "checkpoints").iterdir():
        info = json.loads((folder / "model.json").read_text())
        for key in keys:
            del info[key]
        (folder / "model.json").write_text(json.dumps(info))
        manifest = json.loads((folder / "manifest.json").read_text())
        data = (folder / "model.json").read_bytes()
        manifest["model.json"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        (folder / "manifest.json").write_text(json.dumps(manifest))
