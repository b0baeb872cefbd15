"""Rebuilding a checkpoint's model on the meta device, and file names on Windows (issue 20:
mutants of rnnkit/training/checkpoint.py that tests/test_checkpoint_mutants.py lets
through): initialisers are skipped there whichever way torch hands them their tensor,
counting a model's size touches no CUDA generator, and a Windows path separator is refused
while plain names are not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from _tiny import TinyTagger
from torch import nn

import rnnkit.models  # noqa: F401 - fills the model registry
from rnnkit.models import MODELS
from rnnkit.models.base import Model
from rnnkit.training import checkpoint as ck
from rnnkit.training.checkpoint import CheckpointError, build_model, load_checkpoint


def _save(path: Path, name: str, config: dict) -> Path:
    return ck.save_checkpoint(path, nn.Linear(1, 1), {"model_class": name,
                                                      "model_config": config})


@pytest.mark.parametrize("call", ["positional", "keyword"])
def test_an_initialiser_on_the_meta_device_gives_back_its_tensor(call):
    with torch.device("meta"):
        t = torch.empty(3)
    budget = ck._CallBudget(5)
    if call == "positional":  # (kwargs None: how __torch_function__ may be called)
        out = budget.__torch_function__(nn.init.constant_, (), (t, 0.5), None)
    else:  # how torch's nn.init hands it over today
        out = budget.__torch_function__(nn.init.constant_, (), (), {"tensor": t, "val": 0.5})
    assert out is t and budget.left == 4


class _KaimingVector(Model):
    """A weight vector initialised with kaiming_uniform_, which needs at least 2 dims: its
    constructor fails wherever the initialiser really runs."""

    def __init__(self, n: int = 5):
        super().__init__()
        self.n = n
        self.w = nn.Parameter(torch.empty(n))
        nn.init.kaiming_uniform_(self.w)

    def get_config(self) -> dict:
        return {"n": self.n}


def test_initialisers_are_not_run_while_the_size_is_counted(tmp_path, monkeypatch):
    """The size is counted with the initialisers skipped: a model over the bound is refused
    for its size, before its own constructor could fail."""
    monkeypatch.setitem(MODELS, "KaimingVector", _KaimingVector)
    path = _save(tmp_path / "ck", "KaimingVector", {"n": 5})
    monkeypatch.setattr(ck, "MAX_PARAMETERS", 4)
    with pytest.raises(CheckpointError, match="describes a KaimingVector of 5 parameters, "
                                              "more than the 4"):
        build_model(load_checkpoint(path))
    monkeypatch.setattr(ck, "MAX_PARAMETERS", 5)  # within the bound: the real build fails
    with pytest.raises(CheckpointError, match="model.json: model_config does not build a "
                                              "KaimingVector: Fan in and fan out"):
        build_model(load_checkpoint(path))


def test_counting_the_size_touches_no_cuda_generator(tmp_path, monkeypatch):
    """On a machine with GPUs (faked: two), loading a checkpoint must not read or set
    their generators (that would initialise CUDA on every device, and warn)."""
    touched = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state",
                        lambda device="cuda": touched.append(("get", device))
                        or torch.zeros(8, dtype=torch.uint8))
    monkeypatch.setattr(torch.cuda, "set_rng_state",
                        lambda state, device="cuda": touched.append(("set", device)))
    torch.manual_seed(0)
    path = ck.save_checkpoint(tmp_path / "ck", TinyTagger(), {
        "model_class": "TinyTagger", "model_config": TinyTagger().get_config()})
    assert isinstance(build_model(load_checkpoint(path)), TinyTagger)
    assert touched == []


@pytest.mark.parametrize("name, plain", [
    ("model.json", True), ("state.safetensors", True), ("a/b", False), ("a\\b", False),
    ("..", False), ("manifest.json", False)])
def test_file_names_with_windows_separators(monkeypatch, name, plain):
    monkeypatch.setattr(os, "sep", "\\")
    monkeypatch.setattr(os, "altsep", "/")  # as on Windows
    assert ck._plain_name(name) is plain
