"""What save_checkpoint writes and what its leftover cleaning keeps, each against its own
expectation (issue 20: mutants of rnnkit/training/checkpoint.py's writer that the other tests
let through): sizes and sha256 as hashlib computes them, the files' contents as given, JSON
that is byte-identical for equal content, folders of crashed saves removed and nothing else."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import safetensors
import torch
from _tiny import TinyTagger
from torch import nn

from rnnkit.training import checkpoint as ck
from rnnkit.training.checkpoint import load_checkpoint, save_checkpoint


def _save(path: Path, **extra) -> Path:
    torch.manual_seed(0)
    model = TinyTagger()
    info = {"model_class": "TinyTagger", "model_config": model.get_config(), **extra}
    return save_checkpoint(path, model, info)


def test_a_save_writes_each_file_with_its_size_and_hashlib_s_sha256(tmp_path):
    torch.manual_seed(0)
    model = TinyTagger()
    extra = {"rng.torch": torch.get_rng_state(), "w": torch.arange(6.0).reshape(2, 3)}
    path = save_checkpoint(tmp_path / "a" / "b" / "ck", model,
                           {"model_class": "TinyTagger", "k": [1]}, extra, {"s": {"t": 2}})
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["ck"]  # no leftovers
    manifest = json.loads((path / "manifest.json").read_text())
    assert sorted(manifest) == sorted(ck.FILES)
    for name, entry in manifest.items():
        data = (path / name).read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert json.loads((path / "model.json").read_text()) == {
        "format": "rnnkit-checkpoint", "format_version": 1, "model_class": "TinyTagger", "k": [1]}
    assert json.loads((path / "state.json").read_text()) == {"s": {"t": 2}}
    loaded = load_checkpoint(path)
    assert sorted(loaded.tensors) == sorted(extra)
    assert all(torch.equal(loaded.tensors[k], v) for k, v in extra.items())
    state = model.state_dict()
    assert sorted(loaded.weights) == sorted(state)
    assert all(torch.equal(loaded.weights[k], v) for k, v in state.items())


def test_a_large_file_is_hashed_whole(tmp_path):
    blob = os.urandom(3 * (1 << 20) + 5)  # more than one read block
    (tmp_path / "blob").write_bytes(blob)
    assert ck._sha256(tmp_path / "blob") == hashlib.sha256(blob).hexdigest()


def test_a_save_over_an_existing_checkpoint_replaces_it(tmp_path):
    _save(tmp_path / "ck", step=1)
    _save(tmp_path / "ck", step=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
    assert load_checkpoint(tmp_path / "ck").info["step"] == 2
    empty = save_checkpoint(tmp_path / "e", nn.Linear(1, 1), {})
    assert load_checkpoint(empty).tensors == {} and load_checkpoint(empty).state == {}


def test_a_stale_previous_copy_of_this_pid_is_replaced(tmp_path):
    _save(tmp_path / "ck", step=1)
    _save(tmp_path / "x", step=0).rename(tmp_path / f".old-ck-{os.getpid()}")  # a crash's
    _save(tmp_path / "ck", step=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
    assert load_checkpoint(tmp_path / "ck").info["step"] == 2


def test_json_files_are_sorted_and_one_entry_per_line(tmp_path):
    a = save_checkpoint(tmp_path / "a", nn.Linear(1, 1), {"x": 1, "b": {"z": 1, "y": 2}})
    b = save_checkpoint(tmp_path / "b", nn.Linear(1, 1), {"b": {"y": 2, "z": 1}, "x": 1})
    assert (a / "model.json").read_bytes() == (b / "model.json").read_bytes()  # same sha256
    lines = (a / "model.json").read_text().splitlines()
    assert len(lines) == 9 and lines[1].startswith(' "b"')  # one key a line, keys sorted


def test_a_stale_temporary_folder_of_this_pid_is_replaced(tmp_path):
    stale = tmp_path / f".tmp-ck-{os.getpid()}"
    stale.mkdir()
    (stale / "model.json").write_text("{")
    _save(tmp_path / "ck", step=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
    assert load_checkpoint(tmp_path / "ck").info["step"] == 5


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_leftover_cleaning_keeps_what_is_not_a_crashed_save_s(tmp_path):
    pid = _dead_pid()
    (tmp_path / f".tmp-file-{pid}").write_text("a file of that name")
    notes = tmp_path / f".tmp-notes-{pid}"
    notes.mkdir()
    (notes / "model.json").write_text("{")
    (notes / "notes.txt").write_text("not a checkpoint file")
    target = _save(tmp_path / "target")
    (tmp_path / f".tmp-link-{pid}").symlink_to(target, target_is_directory=True)
    _save(tmp_path / "ck")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["ck", "target", f".tmp-file-{pid}", f".tmp-notes-{pid}", f".tmp-link-{pid}"])
    assert sorted(p.name for p in target.iterdir()) == sorted([*ck.FILES, "manifest.json"])


def test_a_leftover_removed_meanwhile_by_another_save_is_no_error(tmp_path, monkeypatch):
    pid = _dead_pid()
    crashed = _save(tmp_path / "x").rename(tmp_path / f".tmp-ck-{pid}")  # a crashed save's
    real = ck.shutil.rmtree

    def racing(path, *args, **kwargs):  # another process's cleaning gets there first
        if Path(path) == crashed:
            real(crashed)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ck.shutil, "rmtree", racing)
    _save(tmp_path / "ck", step=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_a_failed_write_keeps_the_checkpoint_saved_before_and_leaves_nothing(tmp_path,
                                                                             monkeypatch):
    """A full disk during a save: a CheckpointError that says why, the partial copy gone,
    and the previous checkpoint at the same path still whole."""
    path = _save(tmp_path / "last", note="before")
    writes = []

    def full(tensors, filename, *args, **kwargs):
        writes.append(Path(filename).name)
        if len(writes) == 2:  # the second file: state.safetensors
            raise safetensors.SafetensorError(
                "Error while serializing: I/O error: No space left on device (os error 28)")
        Path(filename).write_bytes(b"partial")

    monkeypatch.setattr(ck.safetensors.torch, "save_file", full)
    with pytest.raises(ck.CheckpointError) as err:
        _save(tmp_path / "last", note="after")
    assert str(err.value) == (f"cannot save the checkpoint {path}: I/O error: No space left on "
                              "device (os error 28); the checkpoint saved before is kept")
    assert writes == ["model.safetensors", "state.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    monkeypatch.undo()
    assert load_checkpoint(path).info["note"] == "before"

    def denied(tensors, filename, *args, **kwargs):
        raise PermissionError(13, "Permission denied", filename)

    monkeypatch.setattr(ck.safetensors.torch, "save_file", denied)
    with pytest.raises(ck.CheckpointError) as err:  # nothing saved before at this path
        _save(tmp_path / "new")
    assert str(err.value) == f"cannot save the checkpoint {tmp_path / 'new'}: Permission denied"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
