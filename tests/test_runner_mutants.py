"""A run end to end (rnnkit/tasks/runner.py) on tiny configs: run names, the run folder and
what may be written into or deleted from it, the lock beside it, what a run writes (config,
model.json, the best checkpoint's figures, the report, the task's hooks), resume, and
evaluating a finished run (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import copy
import json
import os
import random
import socket
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cells import CELLS
from rnnkit.tasks import TASKS
from rnnkit.tasks import report as report_module
from rnnkit.tasks.datafiles import DataChangedWarning, files_not_needed
from rnnkit.tasks.runner import (
    RunResult,
    _load_resumed_weights,
    _read_holder,
    config_from_raw,
    evaluate_run,
    is_run_dir,
    load_config,
    resume_config,
    run_lock,
    run_name_problem,
    seed_everything,
    stopped_before_first_checkpoint,
    train_run,
)
from rnnkit.training.callbacks import Callback
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config_io import ConfigError, apply_overrides, read_toml
from rnnkit.training.trainer import TrainState

RAW = {"name": "tiny", "seed": 0,
       "task": {"name": "adding", "sequence_length": 6, "train_size": 16, "val_size": 8,
                "test_size": 8},
       "model": {"cell": "gru", "hidden_size": 4},
       "train": {"steps": 2, "batch_size": 8, "eval_every": 1, "progress": "off"},
       "diagnostics": {"every": 0}}
ADDING = type(TASKS["adding"])


def _cfg(*overrides: str):
    return config_from_raw(apply_overrides(copy.deepcopy(RAW), list(overrides)), "test")


@pytest.fixture(autouse=True)
def _no_loss_plot(monkeypatch):
    """report.md's loss plot (matplotlib: 0.2 s a run) is not what these tests check."""
    monkeypatch.setattr(report_module, "plot_losses", lambda run_dir: None)


def _weights(run: Path, name: str = "best") -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "checkpoints" / name, training_state=False).weights


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _lines(run: Path) -> list[dict]:
    return [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]


# -- names and the config ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a", "Z", "7", "_", "_x", "9lives", "a.b", "a+b", "a=b",
                                  "a@b", "a-b", "a_b", "Zz09_.+=@-", "x" * 128])
def test_a_name_of_one_folder_passes(name):
    assert run_name_problem(name) == ""


@pytest.mark.parametrize("name", [".a", "-a", "+a", "=a", "@a", "a/b", "a b", "a:b", "a\nb",
                                  "a*", "é", "a,b"])
def test_a_name_that_is_no_plain_folder_is_refused(name):
    assert run_name_problem(name) == ("use letters, digits and _ . + = @ - only, starting "
                                      "with a letter, digit or _ (the name is a folder under "
                                      "runs/, never a path)")


def test_an_empty_or_long_name_says_why():
    assert run_name_problem("") == "a run needs a name (it names the folder runs/<name>)"
    assert run_name_problem("x" * 129) == "at most 128 characters"
    assert run_name_problem("." * 129) == "at most 128 characters"  # the length is told first


def test_every_problem_of_a_config_is_reported_at_once():
    raw = {"name": "a/b", "task": {"name": "sine"},
           "model": {"cell": "nope", "bidirectional": True}}
    with pytest.raises(ConfigError) as err:
        config_from_raw(raw, "src.toml")
    msg = str(err.value)
    cells = ", ".join(repr(c) for c in sorted(CELLS))
    assert msg.startswith("src.toml")
    assert f"name = 'a/b': {run_name_problem('a/b')}" in msg
    assert f"model.cell = 'nope': must be one of {cells}" in msg
    assert "model.bidirectional = True: Forecaster (task 'sine') does not take it" in msg


def test_model_keys_come_from_the_task_and_an_unknown_task_is_a_config_error():
    cfg = config_from_raw({"task": {"name": "sine"}, "model": {"mode": "autoregressive"}}, "s")
    assert cfg.model.options == {"mode": "autoregressive"}
    with pytest.raises(ConfigError, match="hiden_size"):
        config_from_raw({"task": {"name": "sine"}, "model": {"hiden_size": 3}}, "s")
    with pytest.raises(ConfigError, match="task.name = 'nosuch'"):
        config_from_raw({"task": {"name": "nosuch"}, "model": {"hidden_size": 3}}, "s")


CLASSIFY = """
name = "w"
[task]
name = "classify"
train_data = "data/train.csv"
test_data = "{test}"
data = ""
val_fraction = 0.25
[model]
cell = "gru"
hidden_size = 4
[train]
steps = 1
batch_size = 2
eval_every = 1
progress = "off"
[diagnostics]
every = 0
"""


def _long_csv(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{i},{t},{rng.random()!r},{'xy'[i % 2]}" for i in range(n) for t in range(3)]
    path.write_text("id,t,a,label\n" + "\n".join(rows) + "\n")


def test_relative_data_paths_resolve_against_the_file_then_the_current_folder(
        tmp_path, monkeypatch):
    conf = tmp_path.resolve() / "conf"  # (paths are resolved: no symbolic links in them)
    conf.mkdir()
    (conf / "c.toml").write_text(CLASSIFY.format(test="/abs/test.csv"))
    here = conf.parent / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    with files_not_needed():
        cfg = load_config(Path("..") / "conf" / "c.toml")
        assert cfg.task.train_data == str(conf / "data" / "train.csv")
        assert cfg.task.test_data == "/abs/test.csv"
        assert cfg.task.data == ""  # unset stays unset
        cfg = load_config(conf / "c.toml", ["task.test_data=t.csv", "task.val_data=v.csv"])
        assert cfg.task.train_data == str(conf / "data" / "train.csv")
        assert (cfg.task.test_data, cfg.task.val_data) == (str(here / "t.csv"),
                                                           str(here / "v.csv"))
        with pytest.raises(ConfigError, match="task.val_data"):
            load_config(conf / "c.toml", ["task.val_data=5"])  # not a path: the type error
    # a config without a [task] table, or with a task of no path fields, loads as it is
    (conf / "bare.toml").write_text("[model]\nhidden_size = 3\n")
    assert load_config(conf / "bare.toml").task.name == "adding"
    (conf / "odd.toml").write_text('task = "adding"\n')
    with pytest.raises(ConfigError, match="odd.toml"):
        load_config(conf / "odd.toml")


def test_a_run_on_data_files_fingerprints_them_and_evaluate_warns_when_they_change(
        tmp_path, monkeypatch):
    tmp_path = tmp_path.resolve()
    _long_csv(tmp_path / "data" / "train.csv", 8, 0)
    _long_csv(tmp_path / "test.csv", 4, 1)
    (tmp_path / "c.toml").write_text(CLASSIFY.format(test="test.csv"))
    monkeypatch.chdir(tmp_path)
    cfg = load_config("c.toml")
    train_run(cfg, tmp_path / "run")
    files = json.loads((tmp_path / "run" / "data.json").read_text())["files"]
    assert {f["key"]: f["path"] for f in files} == {
        "task.train_data": str(tmp_path / "data" / "train.csv"),
        "task.test_data": str(tmp_path / "test.csv")}
    with pytest.warns(DataChangedWarning, match="task.test_data.*changed since training"):
        (tmp_path / "test.csv").write_text((tmp_path / "test.csv").read_text() + "9,0,1.0,x\n")
        figures = evaluate_run(tmp_path / "run", "val")
    assert figures["split"] == "val" and 0 <= figures["accuracy"] <= 1


def test_run_result_is_interrupted_only_for_an_interrupted_stop():
    def result(reason):
        return RunResult(Path("r"), TrainState(stop_reason=reason))

    assert result("interrupted (Ctrl-C)").interrupted
    assert result("interrupted").interrupted
    for reason in ("done", "", "early stopping", "done, not interrupted"):
        assert not result(reason).interrupted
    assert result("done").results == {}


def test_seed_everything_seeds_python_numpy_and_torch():
    seed_everything(11)
    got = (random.random(), np.random.random(), torch.rand(3))
    assert got[0] == random.Random(11).random()
    assert got[1] == np.random.RandomState(11).random_sample()
    assert torch.equal(got[2], torch.rand(3, generator=torch.Generator().manual_seed(11)))


# -- the run folder ------------------------------------------------------------------------
def _files(path: Path, names: list[str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name in names:
        p = path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/"):
            p.mkdir(exist_ok=True)
        else:
            p.write_text("{}")
    return path


def test_what_counts_as_a_run_folder(tmp_path):
    manifest = "checkpoints/last/manifest.json"
    assert is_run_dir(_files(tmp_path / "a", ["config.toml", manifest]))
    assert is_run_dir(_files(tmp_path / "b", ["config.toml", "checkpoints/best/manifest.json"]))
    assert not is_run_dir(_files(tmp_path / "c", [manifest]))
    assert not is_run_dir(_files(tmp_path / "d", ["config.toml", "checkpoints/last/x.json"]))
    assert not is_run_dir(_files(tmp_path / "e", ["config.toml/", manifest]))
    assert not is_run_dir(tmp_path / "nothing")


def test_what_counts_as_a_run_stopped_before_its_first_checkpoint(tmp_path):
    early = ["config.toml", "data.json", "pretrain.json", "metrics.jsonl", "checkpoints/"]
    for i in range(len(early)):  # each of the early names, and all of them
        assert stopped_before_first_checkpoint(_files(tmp_path / f"a{i}", early[: i + 1]))
    assert not stopped_before_first_checkpoint(_files(tmp_path / "b", [*early, "notes.txt"]))
    assert not stopped_before_first_checkpoint(
        _files(tmp_path / "c", [*early, "checkpoints/last/manifest.json"]))
    assert not stopped_before_first_checkpoint(_files(tmp_path / "d", early[1:]))
    assert not stopped_before_first_checkpoint(_files(tmp_path / "e", ["config.toml/"]))


@pytest.fixture
def run(tmp_path):
    """A finished two-step run."""
    train_run(_cfg(), tmp_path / "run")
    return tmp_path / "run"


def _untouched(path: Path):
    return sorted((str(p.relative_to(path)), p.is_file() and p.read_bytes())
                  for p in path.rglob("*"))


def test_a_plain_train_into_a_run_says_how_to_continue_it(run):
    before = _untouched(run)
    with pytest.raises(ConfigError) as err:
        train_run(_cfg(), run)
    assert str(err.value) == (f"{run} already holds a run: continue it with `rnnkit train "
                              f"--resume {run}`, or pass --overwrite, --run-dir DIR or "
                              "--set name=NEW")
    assert _untouched(run) == before
    assert not list(run.parent.glob(".run.lock.json"))


def test_overwrite_replaces_a_run(run):
    (run / "stale.txt").write_text("old")
    result = train_run(_cfg("train.steps=1"), run, overwrite=True)
    assert not (run / "stale.txt").exists()
    assert result.state.step == 1 and [r["step"] for r in _lines(run)][0] == 1


@pytest.mark.parametrize("names", [["checkpoints/"], ["config.toml", "notes.txt"]])
def test_overwrite_refuses_a_folder_that_is_no_run(tmp_path, names):
    folder = _files(tmp_path / "run", names)
    before = _untouched(folder)
    with pytest.raises(ConfigError) as err:
        train_run(_cfg(), folder, overwrite=True)
    assert str(err.value) == (
        f"--overwrite deletes only an rnnkit run (config.toml and checkpoints/*/manifest.json);"
        f" {folder} is not one: remove it yourself or choose another --run-dir")
    assert _untouched(folder) == before


def test_a_file_or_a_folder_with_other_files(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError) as err:
        train_run(_cfg(), tmp_path / "file")
    assert str(err.value) == f"{tmp_path / 'file'} is a file, not a run directory"
    other = _files(tmp_path / "other", ["notes.txt"])
    with pytest.raises(ConfigError) as err:
        train_run(_cfg(), other, overwrite=True)
    assert str(err.value) == (f"--overwrite deletes only an rnnkit run; {other} holds other "
                              "files: choose another --run-dir")
    assert _untouched(other) == [("notes.txt", b"{}")]
    # without --overwrite a run may go into a folder of other files, which it keeps
    assert train_run(_cfg(), other).state.step == 2
    assert (other / "notes.txt").read_text() == "{}" and is_run_dir(other)
    # and --overwrite into an empty folder is fine
    (tmp_path / "empty").mkdir()
    assert train_run(_cfg(), tmp_path / "empty", overwrite=True).state.step == 2


def test_a_run_stopped_before_its_first_checkpoint(tmp_path):
    folder = _files(tmp_path / "run", ["config.toml", "metrics.jsonl"])
    start_again = ("the run stopped before its first checkpoint (e.g. interrupted during its "
                   "pretrain stage): start it again with --overwrite")
    with pytest.raises(ConfigError) as err:
        train_run(_cfg(), folder)
    assert str(err.value) == f"{folder}: {start_again}, or pass --run-dir DIR or --set name=NEW"
    with pytest.raises(ConfigError) as err:
        train_run(_cfg(), folder, resume=True)
    assert str(err.value) == (f"{folder}: nothing to resume (no checkpoints/last); "
                              f"{start_again}")
    assert (folder / "metrics.jsonl").read_text() == "{}"
    assert train_run(_cfg(), folder, overwrite=True).state.step == 2
    assert (folder / "metrics.jsonl").read_text() != "{}"


def test_resume_needs_a_last_checkpoint(tmp_path):
    for folder in (tmp_path / "none", _files(tmp_path / "other", ["notes.txt"])):
        with pytest.raises(ConfigError) as err:
            train_run(_cfg(), folder, resume=True)
        assert str(err.value) == f"{folder}: nothing to resume (no checkpoints/last)"
    assert not (tmp_path / "none").exists()


# -- the lock ------------------------------------------------------------------------------
def test_the_lock_sits_beside_the_run_names_its_holder_and_goes_with_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = Path("deep") / "er" / "run"
    info = tmp_path / "deep" / "er" / ".run.lock.json"
    with run_lock(run_dir):
        assert (tmp_path / "deep" / "er" / ".run.lock").exists()
        holder = json.loads(info.read_text())
        assert (holder["pid"], holder["host"]) == (os.getpid(), socket.gethostname())
        started = time.mktime(time.strptime(holder["started"], "%Y-%m-%d %H:%M:%S"))
        assert abs(started - time.time()) < 60
        assert not run_dir.exists()  # the lock writes nothing into the run folder
        t0 = time.monotonic()
        with pytest.raises(ConfigError) as err:
            with run_lock(tmp_path / "deep" / "er" / "run"):
                pass
        assert time.monotonic() - t0 < 0.5  # at once, no waiting
        assert str(err.value) == (
            f"{tmp_path / 'deep' / 'er' / 'run'} is in use by another training (process "
            f"{os.getpid()} on {socket.gethostname()}, since {holder['started']}); wait for "
            "it to end, or train into another --run-dir")
        with pytest.raises(ConfigError, match=f"^{tmp_path / 'deep' / 'er' / 'run'} is in use"):
            train_run(_cfg(), run_dir)
        assert not run_dir.exists()
        assert info.exists()  # the refused one left the holder's record alone
    assert not info.exists()
    with run_lock(run_dir):  # released
        assert info.exists()
    with pytest.raises(RuntimeError, match="boom"):
        with run_lock(run_dir):
            raise RuntimeError("boom")
    assert not info.exists()
    with run_lock(run_dir):  # released after an error too
        pass


def test_a_training_holds_the_lock_while_it_runs(tmp_path):
    seen = []

    class Probe(Callback):
        def on_train_start(self, trainer):
            seen.append(json.loads((tmp_path / ".run.lock.json").read_text())["pid"])

    train_run(_cfg(), tmp_path / "run", callbacks=[Probe()])
    assert seen == [os.getpid()]
    assert not (tmp_path / ".run.lock.json").exists()


@pytest.mark.parametrize("text, expected", [
    ('{"pid": 7, "host": "h", "started": "then"}', " (process 7 on h, since then)"),
    ('{"pid": 7, "host": "h"}', ""), ("not json", ""), ("[1, 2]", ""), ('"text"', ""),
    (None, "")])
def test_the_holder_is_read_or_left_out(tmp_path, text, expected):
    path = tmp_path / "x.lock.json"
    if text is not None:
        path.write_text(text)
    assert _read_holder(path) == expected


# -- what a run writes ---------------------------------------------------------------------
def test_a_run_writes_its_folder_under_runs_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _cfg("name=small", "train.steps=3")
    result = train_run(cfg, None)
    run = Path("runs") / "small"
    assert result.run_dir == run and result.state.step == 3 and not result.interrupted
    assert config_from_raw(read_toml(run / "config.toml"), "saved") == cfg
    best = load_checkpoint(run / "checkpoints" / "best", training_state=False)
    model = TASKS["adding"].build_model(TASKS["adding"].setup(cfg))
    assert best.info["model_class"] == "SequenceRegressor"
    assert best.info["model_config"] == model.get_config()
    assert best.info["rnnkit_version"] == rnnkit.__version__
    assert best.info["task"] == asdict(cfg.task)
    assert best.info["step"] == result.state.best_step
    # the best checkpoint's figures close metrics.jsonl
    *_, val, test = _lines(run)
    for record, split in ((val, "val"), (test, "test")):
        assert record == {"step": result.state.best_step, "epoch": best.info["epoch"],
                          "split": split, "checkpoint": "best", **result.results[split]}
    assert set(result.results) == {"val", "test"}
    assert "| test |" in (run / "report.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [".small.lock", "small"]


def test_model_json_holds_what_the_task_says_of_the_runs_model(tmp_path, monkeypatch):
    info = ADDING.info

    def more(task, ctx, model):
        return {**info(task, ctx, model), "parameters": sum(p.numel() for p in model.parameters())}

    monkeypatch.setattr(ADDING, "info", more, raising=False)
    train_run(_cfg("model.hidden_size=3"), tmp_path / "run")
    # a GRU of 3 units on 2 inputs (two bias vectors) and a linear head to 1 output
    expected = 3 * 3 * (2 + 3) + 2 * 3 * 3 + (3 + 1)
    for name in ("best", "last"):
        got = load_checkpoint(tmp_path / "run" / "checkpoints" / name).info
        assert got["parameters"] == expected and got["task"] == asdict(_cfg().task)


def test_the_final_figures_are_the_best_checkpoints_in_eval_mode(tmp_path):
    """Dropout between layers: the figures are those of the best checkpoint evaluated without
    it (here the best is the first validation, by a maximised loss, not the last)."""
    cfg = _cfg("model.num_layers=2", "model.dropout=0.5", "train.steps=3",
               "train.metric_mode=max")
    result = train_run(cfg, tmp_path / "run")
    run = tmp_path / "run"
    assert result.state.best_step == 1
    assert not _same(_weights(run, "best"), _weights(run, "last"))
    for split in ("val", "test"):
        figures = evaluate_run(run, split)
        assert figures.pop("step") == 1
        assert (figures.pop("split"), figures.pop("checkpoint")) == (split, "best")
        assert result.results[split] == figures
    last = evaluate_run(run, "test", "last")
    assert (last["step"], last["checkpoint"]) == (3, "last")
    assert last["loss"] != result.results["test"]["loss"]


def test_evaluate_run_names_the_splits(run):
    with pytest.raises(ConfigError) as err:
        evaluate_run(run, "dev")
    assert str(err.value) == "unknown split 'dev'; choose one of ['test', 'train', 'val']"
    figures = evaluate_run(run, "train")
    task = TASKS["adding"]
    ctx = task.setup(_cfg())
    model = task.build_model(ctx)
    model.load_state_dict(_weights(run))
    model.eval()
    assert figures == {"split": "train", "checkpoint": "best", "step": 2,
                       **task.evaluate(ctx, model, "train")}
    assert list(evaluate_run(run)) == ["split", "checkpoint", "step", "loss", "mse",
                                       "baseline_mse"]
    assert evaluate_run(run)["split"] == "test"


class _Hooks:
    """Records the task's after-training hooks (the adding task's own do nothing)."""

    def __init__(self, monkeypatch):
        self.calls, self.contexts = [], []

        def sections(task, ctx, model):
            self.calls.append(("sections", model.training, model))
            self.contexts.append(ctx)
            return ["## Extra", "", "hello from the task"]

        def after(task, ctx, model, run_dir):
            self.calls.append(("after", model.training, model, run_dir))
            self.contexts.append(ctx)

        monkeypatch.setattr(ADDING, "report_sections", sections, raising=False)
        monkeypatch.setattr(ADDING, "after_training", after, raising=False)


def test_the_tasks_report_sections_and_after_training_get_the_best_model(tmp_path,
                                                                         monkeypatch):
    hooks = _Hooks(monkeypatch)
    run = tmp_path / "run"
    cfg = _cfg("train.steps=3", "train.metric_mode=max")
    train_run(cfg, run)
    assert [ctx.cfg for ctx in hooks.contexts] == [cfg, cfg]
    (s, s_training, s_model), (a, a_training, a_model, a_dir) = hooks.calls
    assert (s, a, s_training, a_training, a_dir) == ("sections", "after", False, False, run)
    assert s_model is a_model
    assert _same(s_model.state_dict(), _weights(run, "best"))
    assert not _same(s_model.state_dict(), _weights(run, "last"))
    assert "\n## Extra\n\nhello from the task\n" in (run / "report.md").read_text()


def test_validation_only_never_reads_the_test_split(tmp_path, monkeypatch):
    hooks = _Hooks(monkeypatch)
    seen = []
    evaluate = ADDING.evaluate

    def spy(task, ctx, model, split):
        seen.append(split)
        return evaluate(task, ctx, model, split)

    monkeypatch.setattr(ADDING, "evaluate", spy, raising=False)
    result = train_run(_cfg(), tmp_path / "run", validation_only=True)
    assert set(result.results) == {"val"} and "test" not in seen
    assert hooks.calls == []
    assert [r["split"] for r in _lines(tmp_path / "run") if r.get("checkpoint")] == ["val"]
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| val |" in report and "| test |" not in report and "## Extra" not in report


def test_a_run_is_seeded_by_its_config(tmp_path):
    cfg = _cfg("seed=5")
    torch.manual_seed(123)
    random.seed(1)
    train_run(cfg, tmp_path / "a")
    torch.manual_seed(456)
    random.seed(2)
    np.random.seed(3)
    train_run(cfg, tmp_path / "b")
    assert _same(_weights(tmp_path / "a", "last"), _weights(tmp_path / "b", "last"))
    train_run(_cfg("seed=6"), tmp_path / "c")
    assert not _same(_weights(tmp_path / "a", "last"), _weights(tmp_path / "c", "last"))


def test_a_run_trains_as_the_trainer_does_with_the_configs_seed(tmp_path):
    """The run's model, data and seeds, trained by hand: the same weights."""
    from rnnkit.training.trainer import Trainer

    cfg = _cfg("seed=5", "train.steps=3")
    train_run(cfg, tmp_path / "run")
    task = TASKS["adding"]
    seed_everything(5)
    ctx = task.setup(cfg)
    data = task.batches(ctx)
    model = task.build_model(ctx)
    Trainer(model, cfg.train, data["train"], data["val"], seed=5).fit()
    assert _same(model.state_dict(), _weights(tmp_path / "run", "last"))


def test_train_run_joins_the_process_group_for_its_device_and_hands_it_to_the_trainer(
        tmp_path, monkeypatch):
    from rnnkit.training import distributed
    from rnnkit.training.distributed import DistInfo

    info, joined, seen = DistInfo(), [], []

    class Probe(Callback):
        def on_train_start(self, trainer):
            seen.append(trainer.dist)

    monkeypatch.setattr(distributed, "init_distributed",
                        lambda device_type: joined.append(device_type) or info)
    train_run(_cfg("train.device=cpu"), tmp_path / "run", callbacks=[Probe()])
    assert joined == ["cpu"] and len(seen) == 1 and seen[0] is info


def test_train_threads_sets_torchs_threads(tmp_path):
    threads = torch.get_num_threads()
    try:
        train_run(_cfg("train.threads=2"), tmp_path / "a")
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        train_run(_cfg(), tmp_path / "b")  # 0: torch's own, left as it is
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)


def test_a_model_the_config_cannot_build_writes_nothing(tmp_path, monkeypatch):
    def build(task, ctx):
        raise ValueError("label_smoothing = 2 must be below 1")

    monkeypatch.setattr(ADDING, "build_model", build, raising=False)
    with pytest.raises(ConfigError) as err:
        train_run(_cfg(), tmp_path / "run")
    assert str(err.value) == "model: label_smoothing = 2 must be below 1; change [model]"
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert not (tmp_path / "run").exists() and not (tmp_path / ".run.lock.json").exists()


def test_an_unknown_metric_or_an_untrainable_batch_writes_nothing(tmp_path):
    with pytest.raises(ConfigError) as err:
        train_run(_cfg("train.metric=accuracy"), tmp_path / "run")
    assert str(err.value) == ("train.metric = 'accuracy': SequenceRegressor reports 'loss', "
                              "'mse'")
    with pytest.raises(ConfigError) as err:
        train_run(_cfg("train.batch_size=100"), tmp_path / "run")
    msg = str(err.value)
    assert msg.startswith("train: ") and "batch_size 100 exceeds the 16 training samples" in msg
    assert msg.endswith("; change [train] (e.g. a smaller batch_size) or give more data")
    assert err.value.__suppress_context__
    assert not (tmp_path / "run").exists()
    assert train_run(_cfg("train.metric=mse"), tmp_path / "run").state.best is not None


def test_the_metric_is_checked_on_two_samples_in_eval_mode(tmp_path, monkeypatch):
    seen = []
    loss = ADDING.loss

    def spy(task, ctx, model, batch, state=None):
        seen.append((len(batch["x"]), model.training, torch.is_grad_enabled()))
        contexts.append(ctx)
        return loss(task, ctx, model, batch, state)

    contexts = []
    monkeypatch.setattr(ADDING, "loss", spy, raising=False)
    cfg = _cfg()
    train_run(cfg, tmp_path / "run")
    assert seen[0] == (2, False, False)
    assert (8, True, True) in seen  # the training steps go through the task's loss too
    assert all(ctx.cfg is cfg for ctx in contexts)


def test_truncated_bptt_hands_the_carried_state_to_the_tasks_loss(tmp_path, monkeypatch):
    copy_task = type(TASKS["copy"])
    states = []
    loss = copy_task.loss

    def spy(task, ctx, model, batch, state=None):
        if model.training:
            states.append((batch["x"].shape[1], state))
        return loss(task, ctx, model, batch, state)

    monkeypatch.setattr(copy_task, "loss", spy, raising=False)
    raw = apply_overrides(copy.deepcopy(RAW), ["train.tbptt=3", "train.steps=1"])
    raw["task"] = {"name": "copy", "num_symbols": 2, "copy_length": 2, "delay": 2,
                   "train_size": 8, "val_size": 4, "test_size": 4}
    train_run(config_from_raw(raw, "test"), tmp_path / "run")
    lengths = [t for t, _ in states]
    assert sum(lengths) == 2 * 2 + 2 and len(lengths) == 2  # one step of two chunks
    assert states[0][1] is None
    assert isinstance(states[1][1], torch.Tensor) and states[1][1].shape[-1] == 4


def test_diagnostics_are_recorded_when_asked(tmp_path):
    train_run(_cfg("diagnostics.every=1", "diagnostics.plots=false"), tmp_path / "a")
    records = (tmp_path / "a" / "diagnostics.jsonl").read_text().splitlines()
    assert [json.loads(s)["step"] for s in records] == [1, 2]
    train_run(_cfg(), tmp_path / "b")
    assert not (tmp_path / "b" / "diagnostics.jsonl").exists()


def test_the_callers_callbacks_run_after_the_runs_own(tmp_path):
    seen = []

    class Probe(Callback):
        def on_eval_end(self, trainer, record, improved):
            # the run's own callbacks came first: this validation's checkpoint is saved
            seen.append(load_checkpoint(tmp_path / "run" / "checkpoints" / "last").info["step"])

        def on_train_end(self, trainer):
            seen.append("end")

    train_run(_cfg(), tmp_path / "run", callbacks=[Probe()])
    assert seen == [1, 2, "end"]


@pytest.mark.parametrize("progress, shown", [("off", False), ("auto", True)])
def test_a_new_run_has_its_pretrain_stage_say_what_it_does(tmp_path, monkeypatch, capsys,
                                                           progress, shown):
    calls = []

    def pretrain(task, ctx, model, run_dir, say=print):
        calls.append((ctx.cfg.name, type(model).__name__, run_dir))
        say("pretraining: half way")

    monkeypatch.setattr(ADDING, "pretrain", pretrain, raising=False)
    train_run(_cfg(f"train.progress={progress}"), tmp_path / "run")
    assert calls == [("tiny", "SequenceRegressor", tmp_path / "run")]
    out = capsys.readouterr()
    assert ("pretraining: half way\n" in out.err) is shown
    assert "pretraining" not in out.out
    train_run(_cfg(f"train.progress={progress}", "train.steps=3"), tmp_path / "run",
              resume=True)
    assert len(calls) == 1  # not again on resume: the weights come from the checkpoint


def test_a_pretrain_stage_shapes_the_weights_training_starts_from(tmp_path, monkeypatch):
    def pretrain(task, ctx, model, run_dir, say=print):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(0.01)

    train_run(_cfg("train.steps=1", "train.lr=0"), tmp_path / "plain")
    monkeypatch.setattr(ADDING, "pretrain", pretrain, raising=False)
    train_run(_cfg("train.steps=1", "train.lr=0"), tmp_path / "pre")
    assert all(bool((w == 0.01).all()) for w in _weights(tmp_path / "pre").values())
    assert not _same(_weights(tmp_path / "plain"), _weights(tmp_path / "pre"))


# -- resume --------------------------------------------------------------------------------
def test_resume_continues_exactly_where_the_run_stopped(tmp_path):
    train_run(_cfg("train.steps=2"), tmp_path / "a")
    first = _lines(tmp_path / "a")
    result = train_run(_cfg("train.steps=4"), tmp_path / "a", resume=True, overwrite=True)
    assert result.state.step == 4
    train_run(_cfg("train.steps=4"), tmp_path / "b")
    assert _same(_weights(tmp_path / "a", "last"), _weights(tmp_path / "b", "last"))
    lines = _lines(tmp_path / "a")
    assert lines[: len(first)] == first  # kept, continued
    assert [r["step"] for r in lines if r["split"] == "val" and "checkpoint" not in r] == [
        1, 2, 3, 4]


def test_resume_config_keeps_the_model_task_and_seed(run):
    cfg = resume_config(run, ["train.steps=5", "train.lr=0.01"])
    assert (cfg.train.steps, cfg.train.lr) == (5, 0.01)
    assert cfg.model == _cfg().model and cfg.task == _cfg().task
    assert resume_config(str(run)) == _cfg()
    for override, part in (("model.hidden_size=5", "model"), ("task.sequence_length=7", "task"),
                           ("seed=1", "seed")):
        with pytest.raises(ConfigError) as err:
            resume_config(run, [override])
        assert str(err.value) == (f"{run / 'config.toml'}: --set cannot change {part!r} when "
                                  "resuming (the checkpoint was trained with the saved values)")
    with pytest.raises(ConfigError, match=r"config\.toml \(with --set\)"):
        resume_config(run, ["train.lr=-1"])
    (run / "config.toml").write_text((run / "config.toml").read_text()
                                     .replace('cell = "gru"', 'cell = "nope"'))
    with pytest.raises(ConfigError, match=r"config\.toml: invalid"):
        resume_config(run, ["model.cell=gru"])  # the saved one is checked too


def test_resumed_weights_that_do_not_fit_name_each_difference(run):
    model = TASKS["adding"].build_model(TASKS["adding"].setup(_cfg("model.hidden_size=5")))
    ckpt = load_checkpoint(run / "checkpoints" / "last")
    ckpt.info["model_config"]["extra"] = "x"
    with pytest.raises(ConfigError) as err:
        _load_resumed_weights(model, ckpt)
    assert str(err.value) == (
        f"{ckpt.path} does not fit the model the run's config.toml describes (extra: "
        "checkpoint 'x', config None; hidden_size: checkpoint 4, config 5); was config.toml "
        "edited? Restore it, or start a new run")
    assert err.value.__suppress_context__
    # with no difference in the configs, the first line of torch's own message
    same = SimpleNamespace(path=ckpt.path, info={"model_config": model.get_config()},
                           weights=ckpt.weights)
    with pytest.raises(ConfigError) as err:
        _load_resumed_weights(model, same)
    try:
        model.load_state_dict(ckpt.weights)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
    assert f"describes ({first}); was config.toml edited?" in str(err.value)
    # a checkpoint without a model config and weights that fit: loaded
    fits = TASKS["adding"].build_model(TASKS["adding"].setup(_cfg()))
    _load_resumed_weights(fits, SimpleNamespace(path=ckpt.path, info={}, weights=ckpt.weights))
    assert _same(fits.state_dict(), ckpt.weights)

