"""What the checkpoint module's writers and checks do, each pinned by its own expectation
(issue 20: mutants of rnnkit/training/checkpoint.py that the other tests let through).

The optimizer and RNG states are compared with torch's, Python's and NumPy's own after a
round trip through the files; every refusal is matched on its own message, so a check that
fires for the wrong reason (or a message that loses its subject) fails.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from _tiny import TinyTagger
from torch import nn

import rnnkit.models  # noqa: F401 - fills the model registry
from rnnkit.models import MODELS
from rnnkit.models.base import Model
from rnnkit.training import checkpoint as ck
from rnnkit.training.checkpoint import (
    CheckpointError,
    build_model,
    checkpoint_exists,
    load_checkpoint,
    optimizer_from_files,
    optimizer_to_files,
    rng_from_files,
    rng_to_files,
    save_checkpoint,
)


def _save(path: Path, model: nn.Module | None = None, name: str = "TinyTagger",
          **extra) -> Path:
    torch.manual_seed(0)
    model = model if model is not None else TinyTagger()
    info = {"model_class": name, "model_config": model.get_config(), **extra}
    return save_checkpoint(path, model, info)


def _reseal(path: Path) -> None:
    """manifest.json made to agree with the folder's files as they are now."""
    manifest = {f.name: {"bytes": f.stat().st_size,
                         "sha256": hashlib.sha256(f.read_bytes()).hexdigest()}
                for f in path.iterdir() if f.name != "manifest.json"}
    (path / "manifest.json").write_text(json.dumps(manifest))


def _edit_manifest(path: Path, edit) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    edit(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def _through_json(tensors: dict, meta: dict, tmp_path: Path) -> tuple[dict, dict]:
    """What a save then a load hands back: the tensors via safetensors, the rest via JSON."""
    save_checkpoint(tmp_path / "rt", nn.Linear(1, 1), {}, tensors, meta)
    loaded = load_checkpoint(tmp_path / "rt")
    return loaded.tensors, loaded.state


def _assert_same_state(a: dict, b: dict) -> None:
    assert a["param_groups"] == b["param_groups"]
    assert sorted(a["state"]) == sorted(b["state"])
    for idx, entry in a["state"].items():
        assert sorted(entry) == sorted(b["state"][idx])
        for name, value in entry.items():
            other = b["state"][idx][name]
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, other), (idx, name)
            else:
                assert value == other and type(value) is type(other), (idx, name)


# -- optimizer state ----------------------------------------------------------------------

class _Counting(torch.optim.Optimizer):
    """SGD that also keeps a Python int and a tensor whose state name holds a dot."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                st["count"] = st.get("count", 0) + 1
                st["ema.fast"] = st.get("ema.fast", torch.zeros_like(p)) * 0.5 + p.grad
                p.add_(st["ema.fast"], alpha=-group["lr"])


def _stepped(make, steps: int = 2):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = make(net.parameters())
    x = torch.randn(5, 3)
    for _ in range(steps):
        opt.zero_grad()
        net(x).square().mean().backward()
        opt.step()
    return net, opt, x


@pytest.mark.parametrize("make", [
    lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.95)),
    lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    lambda p: _Counting(p),
], ids=["adam", "sgd-momentum", "int-and-dotted-state"])
def test_optimizer_state_survives_the_files_and_resumes_identically(make, tmp_path):
    net, opt, x = _stepped(make)
    tensors, meta = _through_json(*optimizer_to_files(opt), tmp_path)
    twin = copy.deepcopy(net)
    opt2 = make(twin.parameters())
    optimizer_from_files(opt2, tensors, meta)
    _assert_same_state(opt.state_dict(), opt2.state_dict())
    for model, o in ((net, opt), (twin, opt2)):  # one more step each: the same weights
        o.zero_grad()
        model(x).square().mean().backward()
        o.step()
    for a, b in zip(net.parameters(), twin.parameters()):
        assert torch.equal(a, b)


def test_optimizer_scalars_are_kept_per_parameter():
    _, opt, _ = _stepped(_Counting, steps=3)
    tensors, meta = optimizer_to_files(opt)
    assert meta["scalars"] == {str(i): {"count": 3} for i in range(4)}
    assert sorted(tensors) == sorted(f"optim.{i}.ema.fast" for i in range(4))


# -- random generators --------------------------------------------------------------------

def _draws():
    return (torch.rand(4).tolist(), [random.random() for _ in range(3)], random.gauss(0, 1),
            np.random.random_sample(3).tolist(), float(np.random.standard_normal()))


def test_every_generator_draws_the_same_numbers_after_a_restore(tmp_path):
    torch.manual_seed(1), random.seed(2), np.random.seed(3)
    random.gauss(0, 1)  # leaves a cached second normal in Python's state
    np.random.standard_normal()  # and in NumPy's
    saved = rng_to_files()
    expected = _draws()
    tensors, meta = _through_json(*saved, tmp_path)
    torch.manual_seed(9), random.seed(9), np.random.seed(9)
    rng_from_files(tensors, meta)
    assert _draws() == expected
    assert np.random.get_state()[1].dtype == np.uint32


class _FakeCuda:
    def __init__(self, monkeypatch, available: bool, initialized: bool):
        self.set_calls = []
        self.states = [torch.tensor([1, 2], dtype=torch.uint8),
                       torch.tensor([3, 4], dtype=torch.uint8)]
        monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
        monkeypatch.setattr(torch.cuda, "is_initialized", lambda: initialized)
        monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: list(self.states))
        monkeypatch.setattr(torch.cuda, "set_rng_state_all", self.set_calls.append)


def test_cuda_states_are_saved_only_once_cuda_is_initialised(monkeypatch):
    _FakeCuda(monkeypatch, available=True, initialized=False)
    assert sorted(rng_to_files()[0]) == ["rng.torch"]
    fake = _FakeCuda(monkeypatch, available=True, initialized=True)
    tensors, _ = rng_to_files()
    assert sorted(tensors) == ["rng.cuda.0", "rng.cuda.1", "rng.torch"]
    assert torch.equal(tensors["rng.cuda.0"], fake.states[0])
    assert torch.equal(tensors["rng.cuda.1"], fake.states[1])


def test_cuda_states_are_restored_in_device_order_when_saved(monkeypatch):
    tensors, meta = rng_to_files()
    fake = _FakeCuda(monkeypatch, available=True, initialized=True)
    rng_from_files(dict(tensors), meta)
    assert fake.set_calls == []  # none saved: the devices' generators are left alone
    rng_from_files({**tensors, "rng.cuda.1": fake.states[1], "rng.cuda.0": fake.states[0]},
                   meta)
    assert len(fake.set_calls) == 1
    assert [s.tolist() for s in fake.set_calls[0]] == [[1, 2], [3, 4]]


def test_more_than_ten_cuda_states_are_restored_in_device_order(monkeypatch):
    """Device 10 comes after device 9, not after device 1 (the keys sort as text)."""
    tensors, meta = rng_to_files()
    fake = _FakeCuda(monkeypatch, available=True, initialized=True)
    states = {f"rng.cuda.{i}": torch.tensor([i], dtype=torch.uint8) for i in range(12)}
    rng_from_files({**tensors, **states}, meta)
    assert [s.item() for s in fake.set_calls[0]] == list(range(12))


# -- finding the checkpoint ---------------------------------------------------------------

def test_of_two_copies_left_by_crashes_the_newest_is_read(tmp_path):
    for pid, step, mtime in (("999", 1, 1_000_000), ("111", 2, 2_000_000)):
        old = _save(tmp_path / f".old-ck-{pid}", step=step)
        os.utime(old / "manifest.json", (mtime, mtime))
    assert load_checkpoint(tmp_path / "ck").info["step"] == 2


def test_only_a_save_checkpoint_leftover_with_a_manifest_is_a_fallback(tmp_path):
    _save(tmp_path / ".old-ck-notapid")  # not save_checkpoint's naming
    (tmp_path / ".old-ck-123").mkdir()  # its naming, but no manifest
    assert not checkpoint_exists(tmp_path / "ck")
    with pytest.raises(CheckpointError, match=f"^no checkpoint at {tmp_path / 'ck'}$"):
        load_checkpoint(tmp_path / "ck")


# -- the manifest -------------------------------------------------------------------------

def test_a_manifest_that_is_not_an_object_says_so(tmp_path):
    path = _save(tmp_path / "ck")
    (path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="manifest.json is not a JSON object$"):
        load_checkpoint(path)


@pytest.mark.parametrize("name", [".", "..", "manifest.json", "a\0b", "a\\b", "a/b", ""])
def test_a_listed_name_that_is_not_a_plain_file_name_is_refused_as_such(tmp_path, name):
    path = _save(tmp_path / "ck")
    _edit_manifest(path, lambda m: m.update({name: {"bytes": 0, "sha256": "0"}}))
    with pytest.raises(CheckpointError, match="which is not a file name inside the checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("size", [True, 2.0, -1, None, "12"])
def test_a_size_that_is_not_a_count_is_refused(tmp_path, size):
    path = _save(tmp_path / "ck")
    _edit_manifest(path, lambda m: m["model.json"].update(bytes=size))
    with pytest.raises(CheckpointError, match=r"entry for model.json is not \{'bytes'"):
        load_checkpoint(path)


def test_an_empty_listed_file_passes(tmp_path):
    path = _save(tmp_path / "ck")
    (path / "notes").write_bytes(b"")
    _reseal(path)
    assert json.loads((path / "manifest.json").read_text())["notes"]["bytes"] == 0
    assert load_checkpoint(path).info["model_class"] == "TinyTagger"


def test_unlisted_and_missing_files_are_named(tmp_path):
    path = _save(tmp_path / "ck")
    _edit_manifest(path, lambda m: [m.pop("model.json"), m.pop("state.json")])
    with pytest.raises(CheckpointError, match="does not list model.json, state.json$"):
        load_checkpoint(path)
    path = _save(tmp_path / "ck2")
    (path / "state.json").unlink()
    (path / "model.json").unlink()
    with pytest.raises(CheckpointError, match="is incomplete: model.json is missing$"):
        load_checkpoint(path)


def test_a_folder_listed_as_a_file_is_not_followed(tmp_path):
    path = _save(tmp_path / "ck")
    (path / "extra").mkdir()
    _edit_manifest(path, lambda m: m.update(extra={"bytes": 0, "sha256": "0"}))
    with pytest.raises(CheckpointError,
                       match=r"extra is not a plain file \(a link or a folder is not followed\)"):
        load_checkpoint(path)


def test_model_json_of_another_format_is_refused(tmp_path):
    path = _save(tmp_path / "ck")
    info = json.loads((path / "model.json").read_text())
    (path / "model.json").write_text(json.dumps({**info, "format": "other"}))
    _reseal(path)
    with pytest.raises(CheckpointError, match="model.json is not an rnnkit checkpoint$"):
        load_checkpoint(path)


def test_state_json_that_is_not_an_object_is_refused(tmp_path):
    path = _save(tmp_path / "ck")
    (path / "state.json").write_text("[]")
    _reseal(path)
    assert load_checkpoint(path, training_state=False).state == {}
    with pytest.raises(CheckpointError, match="state.json is not a JSON object$"):
        load_checkpoint(path)


# -- rebuilding the model -----------------------------------------------------------------

def test_a_missing_model_config_means_the_defaults(tmp_path):
    path = _save(tmp_path / "ck")
    info = json.loads((path / "model.json").read_text())
    del info["model_config"]
    (path / "model.json").write_text(json.dumps(info))
    _reseal(path)
    model = build_model(load_checkpoint(path))
    assert (model.input_size, model.hidden_size) == (2, 5)  # TinyTagger's defaults


@pytest.mark.parametrize("name", ["NoSuchModel", 3])
def test_an_unknown_model_class_is_named_with_the_known_ones(tmp_path, name):
    path = _save(tmp_path / "ck", name=name)
    with pytest.raises(CheckpointError,
                       match=rf"unknown model class {name!r}; known: \[.*'TinyTagger'"):
        build_model(load_checkpoint(path))


def test_the_parameter_bound_is_inclusive(tmp_path, monkeypatch):
    path = _save(tmp_path / "ck")
    n = sum(t.numel() for t in load_checkpoint(path).weights.values())  # from the file
    monkeypatch.setattr(ck, "MAX_PARAMETERS", n)
    assert isinstance(build_model(load_checkpoint(path)), TinyTagger)
    monkeypatch.setattr(ck, "MAX_PARAMETERS", n - 1)
    with pytest.raises(CheckpointError, match=(
            rf"TinyTagger of {n:,} parameters, more than the {n - 1:,} a checkpoint may ask "
            r"for \(raise rnnkit.training.checkpoint.MAX_PARAMETERS if it is meant\)$")):
        build_model(load_checkpoint(path))


def test_weights_that_do_not_fit_are_refused(tmp_path):
    path = _save(tmp_path / "ck")
    info = json.loads((path / "model.json").read_text())
    (path / "model.json").write_text(json.dumps({**info, "model_config": {"hidden_size": 6}}))
    _reseal(path)
    with pytest.raises(CheckpointError, match=f"{path}: weights do not fit TinyTagger: "):
        build_model(load_checkpoint(path))


class _Calls(Model):
    """Makes ``n`` torch calls in its constructor; fails on a real device when ``fragile``."""

    def __init__(self, n: int = 0, fragile: bool = False):
        super().__init__()
        self.n, self.fragile = n, fragile
        for _ in range(n):
            torch.zeros(1)
        if fragile and torch.empty(0).device.type != "meta":
            raise ValueError("fragile cannot be built here\nsecond line")

    def get_config(self) -> dict:
        return {"n": self.n, "fragile": self.fragile}


@pytest.fixture
def calls_model(monkeypatch):
    monkeypatch.setitem(MODELS, "Calls", _Calls)
    return _Calls


def test_the_constructor_call_budget_counts_each_call(tmp_path, monkeypatch, calls_model):
    base = _save(tmp_path / "base", _Calls(0), name="Calls")
    monkeypatch.setattr(ck, "_MAX_BUILD_CALLS", 0)
    build_model(load_checkpoint(base))  # the class itself makes no counted call
    monkeypatch.setattr(ck, "_MAX_BUILD_CALLS", 10)
    build_model(load_checkpoint(_save(tmp_path / "ten", _Calls(10), name="Calls")))
    over = _save(tmp_path / "eleven", _Calls(11), name="Calls")
    with pytest.raises(CheckpointError, match=(
            f"^checkpoint {over}: model.json describes a _Calls too large to build "
            r"\(over 10 tensor operations in its constructor\)$")):
        build_model(load_checkpoint(over))


def test_a_constructor_failure_outside_the_meta_device_names_the_key(tmp_path, calls_model):
    model = _Calls(0)
    path = save_checkpoint(tmp_path / "ck", model,
                           {"model_class": "Calls", "model_config": {"fragile": True}})
    with pytest.raises(CheckpointError, match=(
            rf"^checkpoint {path}: model.json: model_config\['fragile'\] = True does not build "
            "a Calls: fragile cannot be built here$")):
        build_model(load_checkpoint(path))


def test_scalars_of_a_parameter_without_tensor_state_are_restored():
    p = nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([p], lr=0.1)
    groups = opt.state_dict()["param_groups"]
    optimizer_from_files(opt, {}, {"param_groups": groups, "scalars": {"0": {"count": 3}}})
    assert opt.state_dict()["state"] == {0: {"count": 3}}


class _Inits(Model):
    """``n`` weights made through nn.init, positionally and by keyword."""

    def __init__(self, n: int = 3):
        super().__init__()
        self.n = n
        self.a = nn.Parameter(nn.init.constant_(torch.empty(n), 0.5))
        self.b = nn.Parameter(nn.init.zeros_(tensor=torch.zeros(size=(n,))))

    def get_config(self) -> dict:
        return {"n": self.n}


def test_initialisers_on_the_meta_device_give_back_their_tensor(tmp_path, monkeypatch):
    monkeypatch.setitem(MODELS, "Inits", _Inits)
    path = _save(tmp_path / "ck", _Inits(4), name="Inits")
    monkeypatch.setattr(ck, "MAX_PARAMETERS", 8)  # 4 + 4 weights
    model = build_model(load_checkpoint(path))
    assert model.a.tolist() == [0.5] * 4 and model.b.tolist() == [0.0] * 4
    monkeypatch.setattr(ck, "MAX_PARAMETERS", 7)
    with pytest.raises(CheckpointError, match="describes a Inits of 8 parameters"):
        build_model(load_checkpoint(path))
