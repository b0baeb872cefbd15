"""Run directories are safe to use (issue 19, items 1, 2 and the edited-config resume): a run
name is one folder under runs/, --overwrite deletes only an rnnkit run, two trainings never
share a run directory, and --resume after config.toml was edited says so."""

import json
import subprocess
import sys
import time

import pytest
from _tiny import tiny_adding_toml

from rnnkit.cli.main import main
from rnnkit.tasks.runner import run_name_problem

CONFIG = tiny_adding_toml()


@pytest.fixture
def here(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (work / "tiny.toml").write_text(CONFIG)
    return work


@pytest.mark.parametrize("name", ["", "../../elsewhere", "a/b", "..", ".hidden", "-x",
                                  "a\\b", "x" * 129, "spa ce"])
def test_a_run_name_that_is_not_one_folder_is_refused_before_anything_is_written(
        here, capsys, name):
    before = sorted(p.name for p in here.parent.iterdir())
    assert main(["train", "tiny.toml", "--set", f"name={name!r}".replace("'", '"')]) == 2
    err = capsys.readouterr().err
    assert f"name = {name!r}" in err
    assert not (here / "runs").exists()
    assert sorted(p.name for p in here.parent.iterdir()) == before


def test_ordinary_names_pass():
    for name in ("adding-lstm", "run_1", "a.b", "lr=3e-4", "x+y@2"):
        assert run_name_problem(name) == ""


def test_overwrite_deletes_only_an_rnnkit_run(here, capsys):
    precious = here / "precious"
    (precious / "checkpoints").mkdir(parents=True)
    (precious / "notes.txt").write_text("keep me")
    assert main(["train", "tiny.toml", "--run-dir", str(precious), "--overwrite"]) == 2
    assert "is not one" in capsys.readouterr().err
    assert (precious / "notes.txt").read_text() == "keep me"
    other = here / "other"
    other.mkdir()
    (other / "data.csv").write_text("1,2\n")
    assert main(["train", "tiny.toml", "--run-dir", str(other), "--overwrite"]) == 2
    assert (other / "data.csv").exists()
    # a real run is replaced
    assert main(["train", "tiny.toml"]) == 0
    (here / "runs" / "tiny" / "stale.txt").write_text("old")
    assert main(["train", "tiny.toml", "--overwrite"]) == 0
    assert not (here / "runs" / "tiny" / "stale.txt").exists()
    assert (here / "runs" / "tiny" / "checkpoints" / "best" / "manifest.json").exists()


HOLD = """
import sys, time
from pathlib import Path
from rnnkit.tasks.runner import run_lock
with run_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_training_into_a_locked_run_directory_fails_naming_the_other(here, capsys):
    run_dir = here / "runs" / "tiny"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        for args in (["train", "tiny.toml"], ["train", "tiny.toml", "--overwrite"]):
            assert main(args) == 2
            err = capsys.readouterr().err
            assert "in use by another training" in err and f"process {holder.pid}" in err
        assert not (run_dir / "config.toml").exists()  # nothing written or deleted
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert main(["train", "tiny.toml"]) == 0  # released when its holder died


def test_resume_after_config_toml_was_edited_names_the_difference(here, capsys):
    assert main(["train", "tiny.toml"]) == 0
    config = here / "runs" / "tiny" / "config.toml"
    config.write_text(config.read_text().replace("hidden_size = 8", "hidden_size = 9"))
    capsys.readouterr()
    assert main(["train", "--resume", "runs/tiny", "--set", "train.steps=6"]) == 2
    err = capsys.readouterr().err
    assert "hidden_size: checkpoint 8, config 9" in err and "config.toml edited" in err


def test_a_batch_larger_than_the_training_set_is_a_clear_error_that_writes_nothing(here, capsys):
    assert main(["train", "tiny.toml", "--set", "train.batch_size=100"]) == 2
    err = capsys.readouterr().err
    assert "batch_size 100 exceeds the 64 training samples" in err and "smaller" in err
    assert not (here / "runs" / "tiny").exists()


def test_cuda_asked_for_without_a_gpu_is_refused_before_anything_is_written(here, capsys,
                                                                            monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["train", "tiny.toml", "--set", 'train.device="cuda"']) == 2
    err = capsys.readouterr().err
    assert "train.device = 'cuda'" in err and "no CUDA GPU" in err and '"cpu"' in err
    assert not (here / "runs").exists()


def test_a_run_trained_for_a_gpu_loads_and_predicts_on_a_machine_without_one(here,
                                                                             monkeypatch):
    import torch

    import rnnkit

    assert main(["train", "tiny.toml"]) == 0
    want = rnnkit.load("runs/tiny").predict([[[0.5, 1.0], [0.2, 0.0], [0.3, 1.0]]])
    config = here / "runs" / "tiny" / "config.toml"
    text = config.read_text()
    assert 'device = "auto"' in text
    config.write_text(text.replace('device = "auto"', 'device = "cuda"'))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    predictor = rnnkit.load("runs/tiny")
    assert predictor.device == torch.device("cpu")
    assert predictor.predict([[[0.5, 1.0], [0.2, 0.0], [0.3, 1.0]]]) == want


def test_resume_after_a_torn_metrics_line_drops_it_and_the_steps_it_redoes(here, capsys):
    """A run killed while writing metrics.jsonl, after steps its last checkpoint does not
    hold: the resumed run finishes and reports, each step is logged once, and the torn line
    is gone."""
    assert main(["train", "tiny.toml", "--set", "train.log_every=1"]) == 0
    metrics = here / "runs" / "tiny" / "metrics.jsonl"
    with metrics.open("a") as f:  # logged after the checkpoint at step 4, then killed
        f.write('{"step": 5, "split": "train", "loss": 9.0}\n{"step": 6, "split": "tr')
    assert main(["train", "--resume", "runs/tiny", "--set", "train.steps=6"]) == 0
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    train_steps = [r["step"] for r in records if r.get("split") == "train"]
    assert train_steps == [1, 2, 3, 4, 5, 6]
    assert all(r["loss"] != 9.0 for r in records)
    assert "6 steps" in (here / "runs" / "tiny" / "report.md").read_text()


def test_a_full_disk_during_training_is_one_line_and_the_run_resumes(here, capsys,
                                                                   monkeypatch):
    """The checkpoints of step 4 cannot be written: exit 1 with the reason, the step-2
    checkpoints kept, and --resume finishes the run once there is room again."""
    import safetensors.torch

    save_file = safetensors.torch.save_file

    calls = []

    def full(tensors, filename, *args, **kwargs):  # 2 files a checkpoint, best and last
        calls.append(filename)
        if len(calls) > 4:  # after step 2's
            raise safetensors.SafetensorError("Error while serializing: I/O error: No space "
                                              "left on device (os error 28)")
        return save_file(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    assert main(["train", "tiny.toml"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rnnkit train: error: cannot save the checkpoint ")
    assert err[-1].endswith("No space left on device (os error 28); the checkpoint saved "
                            "before is kept")
    monkeypatch.setattr(safetensors.torch, "save_file", save_file)  # room again
    assert main(["train", "--resume", "runs/tiny"]) == 0
    assert "4 steps" in (here / "runs" / "tiny" / "report.md").read_text()
