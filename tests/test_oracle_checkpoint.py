"""The checkpoint writer, tested as a writer: a save cut short at any of its file operations
leaves a ``last`` that loads (the old one or the new one, never a mix), and the next save
clears what the cut left; a resumed run continues every random generator (torch, NumPy,
Python) exactly where the uninterrupted run is, checked by drawing from each."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from _tiny import TinyTagger, tiny_data

from rnnkit.training import Callback, TrainConfig, Trainer
from rnnkit.training import checkpoint as ck
from rnnkit.training.callbacks import CheckpointSaver
from rnnkit.training.checkpoint import (
    CheckpointError,
    checkpoint_exists,
    load_checkpoint,
    save_checkpoint,
)


class Crash(BaseException):
    """The process dying at this point (not an Exception, so nothing on the way catches it)."""


def _model(version: int) -> TinyTagger:
    torch.manual_seed(version)
    return TinyTagger()


def _save(path: Path, version: int) -> None:
    save_checkpoint(path, _model(version), {"model_class": "TinyTagger", "v": version},
                    {"rng.torch": torch.get_rng_state()}, {"v": version})


def _version(path: Path) -> int:
    """The version a checkpoint holds, after checking its parts agree with one another."""
    ckpt = load_checkpoint(path)
    v = ckpt.info["v"]
    assert ckpt.state == {"v": v}
    for name, w in _model(v).state_dict().items():
        assert torch.equal(ckpt.weights[name], w), f"weights of version {v} mixed with others"
    return v


OPERATIONS = [  # (owner, attribute): every file operation save_checkpoint makes
    (os, "replace"), (os, "rename"), (os, "fsync"), (shutil, "rmtree"), (Path, "mkdir"),
    (safetensors.torch, "save_file"), (ck, "_write_json"), (ck, "_remove_leftovers"),
]


def _inject(monkeypatch, fail_at: int | None, exc):
    """Count the operations; raise ``exc`` instead of the ``fail_at``-th. Returns the count."""
    calls = [0]

    def wrap(fn):
        def wrapped(*args, **kwargs):
            calls[0] += 1
            if calls[0] == fail_at:
                raise exc
            return fn(*args, **kwargs)
        return wrapped

    for owner, name in OPERATIONS:
        monkeypatch.setattr(owner, name, wrap(getattr(owner, name)))
    return calls


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _count_operations(tmp_path, monkeypatch) -> int:
    path = tmp_path / "count" / "last"
    _save(path, 1)
    with monkeypatch.context() as m:
        calls = _inject(m, None, None)
        _save(path, 2)
    return calls[0]


@pytest.mark.parametrize("restart", ["new pid", "same pid"])
def test_a_save_cut_at_any_operation_leaves_a_loadable_last(tmp_path, monkeypatch, restart):
    """The crash happens in a process that then dies: readers find version 1 or 2, and the
    restarted run's next save leaves only ``last``, whether the restarted process has
    another pid or (as in a container started afresh) the same one."""
    total = _count_operations(tmp_path, monkeypatch)
    assert total >= 8  # two files, two JSONs, two renames, folders ... all counted
    dead = _dead_pid()
    seen = set()
    for k in range(1, total + 1):
        folder = tmp_path / f"cut-{k}"
        _save(folder / "last", 1)
        with monkeypatch.context() as m:
            if restart == "new pid":
                m.setattr(os, "getpid", lambda: dead)  # the save of a process about to die
            _inject(m, k, Crash(f"crash before operation {k}"))
            try:
                _save(folder / "last", 2)
            except Crash:
                pass
        assert checkpoint_exists(folder / "last"), k
        seen.add(v := _version(folder / "last"))
        assert v in (1, 2), k
        _save(folder / "last", 3)  # the restarted run's next save
        assert _version(folder / "last") == 3
        assert sorted(p.name for p in folder.iterdir()) == ["last"], k
    assert seen == {1, 2}  # both sides of the swap were reached


def test_a_failed_save_in_a_live_process_keeps_last_and_the_next_save_works(
        tmp_path, monkeypatch):
    """The save raises (disk full ...; at the rmtree calls: a folder left undeleted) and the
    process goes on: ``last`` still loads, and the same process's next save succeeds and
    leaves only ``last``."""
    exc = OSError(28, "No space left on device")
    total = _count_operations(tmp_path, monkeypatch)
    for k in range(1, total + 1):
        folder = tmp_path / f"fail-{k}"
        _save(folder / "last", 1)
        with monkeypatch.context() as m:
            _inject(m, k, exc)
            try:
                _save(folder / "last", 2)
            except (OSError, CheckpointError):  # (a write that fails: CheckpointError)
                pass
        assert _version(folder / "last") in (1, 2), k
        _save(folder / "last", 3)
        assert _version(folder / "last") == 3, k
        assert sorted(p.name for p in folder.iterdir()) == ["last"], k


# -- resume restores every random generator ------------------------------------------------

class Draws(Callback):
    """After every step, one number from each global generator (as augmentation, dropout or
    a user's callback would draw)."""

    def __init__(self):
        self.by_step: dict[int, tuple[float, float, float]] = {}

    def on_step_end(self, trainer, record):
        self.by_step[trainer.state.step] = (random.random(), float(np.random.random()),
                                            float(torch.rand(())))


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, record):
        if trainer.state.step == self.step:
            trainer.stop("cut by the test")


def _run(run_dir: Path, stop: int | None = None, resume: bool = False) -> Draws:
    draws = Draws()
    model = TinyTagger()
    callbacks = [draws, CheckpointSaver(run_dir, lambda: {"model_class": "TinyTagger"})]
    cfg = TrainConfig(steps=8, batch_size=8, eval_every=4, progress="off", device="cpu")
    trainer = Trainer(model, cfg, tiny_data(32, 6), callbacks=callbacks + (
        [StopAt(stop)] if stop else []))
    if resume:  # what `rnnkit train --resume` does after seeding
        saved = load_checkpoint(run_dir / "last")
        model.load_state_dict(saved.weights)
        trainer.load_training_state(saved)
    trainer.fit()
    return draws


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def test_resume_continues_every_random_generator(tmp_path):
    _seed(1)
    full = _run(tmp_path / "full")
    _seed(1)
    cut = _run(tmp_path / "cut", stop=3)
    assert sorted(cut.by_step) == [1, 2, 3]
    _seed(1)  # the resumed process seeds as a fresh run does, then restores the checkpoint's
    resumed = _run(tmp_path / "cut", resume=True)
    assert sorted(resumed.by_step) == [4, 5, 6, 7, 8]
    for i, name in enumerate(("python random", "numpy", "torch")):
        got = [resumed.by_step[s][i] for s in range(4, 9)]
        want = [full.by_step[s][i] for s in range(4, 9)]
        assert got == want, f"{name}: the resumed run draws other numbers"
    a, b = load_checkpoint(tmp_path / "full" / "last"), load_checkpoint(tmp_path / "cut" / "last")
    for name, w in a.weights.items():
        assert torch.equal(w, b.weights[name])
