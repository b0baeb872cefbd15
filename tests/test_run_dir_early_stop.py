"""A run that ends before its first checkpoint (interrupted in a pretrain stage) leaves a
directory that neither --resume nor a plain train can use: both say to start it again
with --overwrite, which does."""

import pytest

from rnnkit.tasks import TASKS, load_config, train_run
from rnnkit.tasks.runner import stopped_before_first_checkpoint
from rnnkit.training.config_io import ConfigError

SETTINGS = ["task.train_size=64", "task.val_size=32", "task.test_size=32",
            "task.sequence_length=8", "model.hidden_size=4", "train.steps=2",
            "train.batch_size=16", "train.eval_every=2", "train.progress=off",
            "diagnostics.every=0"]


def _interrupted_run(tmp_path, monkeypatch):
    cfg = load_config("examples/adding.toml", SETTINGS)
    task = TASKS[cfg.task.name]

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(type(task), "pretrain", stop)
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, tmp_path / "run")
    monkeypatch.undo()
    return cfg, tmp_path / "run"


def test_an_interrupted_pretrain_is_started_again_with_overwrite(tmp_path, monkeypatch):
    cfg, run = _interrupted_run(tmp_path, monkeypatch)
    assert (run / "config.toml").is_file() and stopped_before_first_checkpoint(run)
    with pytest.raises(ConfigError, match="nothing to resume.*start it again with --overwrite"):
        train_run(cfg, run, resume=True)
    with pytest.raises(ConfigError, match="before its first checkpoint.*--overwrite"):
        train_run(cfg, run)
    (run / "pretrain.json").write_text('{"stale": true}')  # the stage's record of the old run
    assert stopped_before_first_checkpoint(run)
    result = train_run(cfg, run, overwrite=True)
    assert not (run / "pretrain.json").exists()
    assert result.state.step == 2
    assert (run / "checkpoints" / "last" / "manifest.json").is_file()
    assert not stopped_before_first_checkpoint(run)


def test_a_file_managers_hidden_file_leaves_an_early_stopped_run_as_it_was(tmp_path,
                                                                           monkeypatch):
    cfg, run = _interrupted_run(tmp_path, monkeypatch)
    (run / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    assert stopped_before_first_checkpoint(run)
    assert train_run(cfg, run, overwrite=True).state.step == 2


def test_a_folder_with_other_files_is_still_not_deleted(tmp_path, monkeypatch):
    cfg, run = _interrupted_run(tmp_path, monkeypatch)
    (run / "notes.txt").write_text("mine")
    assert not stopped_before_first_checkpoint(run)
    with pytest.raises(ConfigError, match="deletes only an rnnkit run"):
        train_run(cfg, run, overwrite=True)
    assert (run / "notes.txt").read_text() == "mine"
    with pytest.raises(ConfigError, match=r"nothing to resume \(no checkpoints/last\)$"):
        train_run(cfg, run, resume=True)
