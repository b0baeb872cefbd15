"""rnnkit tune (issue 21): the [tune] space, pruning, the test split never evaluated, best.toml,
several processes on one SQLite study, and a rerun continuing the study."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnkit.cli.main import main
from rnnkit.tasks import TASKS, load_config, prepare_tuning, run_tuning
from rnnkit.tasks.tuning import open_study, parse_tune_table
from rnnkit.training import ConfigError
from rnnkit.training.trainer import Callback, Trainer

optuna = pytest.importorskip("optuna")

BASE = """
name = "tiny"
seed = 0
[task]
name = "adding"
sequence_length = 6
train_size = 64
val_size = 32
test_size = 32
[model]
hidden_size = 8
[train]
steps = 6
batch_size = 16
eval_every = 2
lr = 1e-2
metric = "mse"
threads = 1
[diagnostics]
every = 0
plots = false
"""

SPACE = """
[tune]
sampler_startup_trials = 2
"model.hidden_size" = [4, 8]
"train.lr" = {low = 1e-3, high = 1e-1, log = true}
"""


@pytest.fixture
def no_plots(monkeypatch):
    """Optuna's plots cost seconds of imports: drawn only where a test looks at them."""
    monkeypatch.setattr("rnnkit.tasks.tuning.report.draw_plots", lambda folder, study: {})


def write(tmp_path, tune=SPACE, base=BASE, name="tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(base + tune)
    return path


def states(study):
    return {t.number: t.state.name for t in study.get_trials(deepcopy=False)}


# -- the space -------------------------------------------------------------------------------

def test_space_kinds_become_optunas_distributions():
    spec = parse_tune_table({
        "model.hidden_size": [32, 64, 128],
        "train.lr": {"low": 1e-4, "high": 1e-2, "log": True},
        "train.batch_size": {"low": 16, "high": 64, "step": 16},
        "model": {"dropout": {"low": 0.0, "high": 0.5}},  # unquoted model.dropout / [tune.model]
        "trials": 7, "pruner": "none"}, source="t")
    assert spec.settings.trials == 7 and spec.settings.pruner == "none"
    assert [p.kind for p in spec.space] == ["categorical", "float", "int", "float"]
    trial = optuna.create_study().ask()
    values = {p.key: p.suggest(trial) for p in spec.space}
    D = optuna.distributions
    assert trial.distributions == {
        "model.hidden_size": D.CategoricalDistribution([32, 64, 128]),
        "train.lr": D.FloatDistribution(1e-4, 1e-2, log=True),
        "train.batch_size": D.IntDistribution(16, 64, step=16),
        "model.dropout": D.FloatDistribution(0.0, 0.5)}
    assert isinstance(values["train.batch_size"], int) and values["train.batch_size"] % 16 == 0
    assert 1e-4 <= values["train.lr"] <= 1e-2


@pytest.mark.parametrize("tune, message", [
    ('"model.hiden_size" = [4, 8]', "did you mean 'hidden_size'"),
    ('"trian.lr" = [0.1, 0.2]', "did you mean 'train'"),
    ('"train.lr" = {low = -1.0, high = 0.1}', "train.lr = -1.0: must be >= 0"),
    ('"model.hidden_size" = {low = 1.5, high = 8.0}', "expected int"),
    ('"train.lr" = {low = 0.0, high = 0.1, log = true}', "log = true needs low > 0"),
    ('"train.lr" = {low = 0.1, high = 0.01}', "must be below high"),
    ('"train.lr" = {low = 0.01, hight = 0.1}', "did you mean 'high'"),
    ('"train.lr" = []', "empty list"),
    ('"seed" = [0, 1]', "the same data"),
    ('triels = 3\n"train.lr" = [0.1]', "did you mean 'trials'"),
    ('pruner = "medain"\n"train.lr" = [0.1]', "did you mean 'median'"),
    ("trials = 3", "names no config key"),
])
def test_a_bad_space_is_an_error_before_any_trial(tmp_path, capsys, monkeypatch, tune, message):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "[tune]\n" + tune + "\n")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("?", r"\?")):
        prepare_tuning(path)
    assert main(["tune", str(path), "--trials", "1"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_train_ignores_the_tune_table(tmp_path):
    with_tune, without = write(tmp_path), write(tmp_path, tune="", name="plain.toml")
    assert load_config(with_tune) == load_config(without)
    with pytest.raises(ConfigError, match=r"expected a table \[tune\] \(read by rnnkit tune"):
        load_config(write(tmp_path, base="tune = 3\n" + BASE, tune="", name="bad.toml"))


# -- a study ---------------------------------------------------------------------------------

def test_tune_writes_a_best_config_that_trains_to_the_same_figure(tmp_path, monkeypatch, capsys):
    """Trials see only train and val; best.toml reproduces the best trial's validation MSE
    (same seed, CPU): the value was measured on the config best.toml describes."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path)
    seen = []
    task_cls = type(TASKS["adding"])
    evaluate, trainer_evaluate = task_cls.evaluate, Trainer.evaluate
    monkeypatch.setattr(task_cls, "evaluate",
                        lambda self, ctx, model, split: seen.append(("task", split))
                        or evaluate(self, ctx, model, split))
    monkeypatch.setattr(Trainer, "evaluate", lambda self, data, split="val": seen.append(
        ("trainer", split)) or trainer_evaluate(self, data, split))
    assert main(["tune", "tiny.toml", "--trials", "2", "--json"]) == 0
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert ("task", "val") in seen and ("trainer", "val") in seen
    assert all(split == "val" for _, split in seen), seen  # the test split never evaluated
    root = tmp_path / "runs" / "tiny-tune"
    for n in (0, 1):
        splits = {json.loads(line)["split"] for line in
                  (root / "trials" / str(n) / "metrics.jsonl").read_text().splitlines()}
        assert splits == {"train", "val"}
    assert [line.startswith("trial ") for line in out.err.splitlines()].count(True) == 2
    assert {"study.db", "best.toml", "report.md", "plots", "trials"} <= {
        p.name for p in root.iterdir()}
    assert (root / "plots" / "history.png").stat().st_size > 0
    report = (root / "report.md").read_text()
    assert "plots/history.png" in report and report.count("| complete |") == 2
    best = summary["best_value"]
    study = optuna.load_study(study_name="tiny-tune", storage=summary["storage"])
    assert best == min(t.value for t in study.trials) == study.best_value

    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert "[tune]" not in (root / "best.toml").read_text()
    assert main(["train", str(root / "best.toml")]) == 0
    assert main(["evaluate", "runs/tiny-tune-best", "--split", "val", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mse"] == pytest.approx(best, rel=1e-5)


class StopAt(Callback):
    """Sends this process SIGINT (Ctrl-C) at a step of the first trial."""

    def __init__(self, step):
        self.step, self.sent = step, False

    def on_step_end(self, trainer, record):
        if trainer.state.step == self.step and not self.sent:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_keeps_the_study_and_a_rerun_continues_it(tmp_path, monkeypatch, no_plots):
    monkeypatch.chdir(tmp_path)
    t = prepare_tuning(write(tmp_path))
    result = run_tuning(t, trials=2, callbacks=[StopAt(3)])
    assert result.interrupted and result.finished == 0
    study = open_study(t)
    assert states(study) == {0: "FAIL"}  # the interrupted trial: not counted, not sampled
    run_tuning(t, trials=2)
    first = {tr.number: tr.datetime_start for tr in open_study(t).trials}
    result = run_tuning(t, trials=3)
    study = open_study(t)
    assert states(study) == {0: "FAIL", 1: "COMPLETE", 2: "COMPLETE", 3: "COMPLETE"}
    assert {tr.number: tr.datetime_start for tr in study.trials if tr.number < 3} == first
    assert result.finished == 3 and sorted(p.name for p in (t.root / "trials").glob("[0-9]*")) == [
        "0", "1", "2", "3"]


def test_the_pruner_stops_a_trial_that_falls_behind(tmp_path, monkeypatch, no_plots):
    """lr = 0 never learns: at its first validation it is worse than the finished trial at
    the same step, so the median pruner (one start-up trial) stops it there."""
    monkeypatch.chdir(tmp_path)
    tune = ('[tune]\npruner_startup_trials = 1\n"train.lr" = [0.03, 0.0]\n')
    t = prepare_tuning(write(tmp_path, tune, base=BASE.replace("steps = 6", "steps = 8")))
    study = open_study(t)
    study.enqueue_trial({"train.lr": 0.03})
    study.enqueue_trial({"train.lr": 0.0})
    result = run_tuning(t, trials=2)
    good, bad = open_study(t).trials
    assert (good.state.name, bad.state.name, result.pruned) == ("COMPLETE", "PRUNED", 1)
    step = bad.last_step
    assert bad.intermediate_values[step] > good.intermediate_values[step]  # the median rule
    assert bad.user_attrs["steps"] == step < 8 == good.user_attrs["steps"]
    assert bad.user_attrs["ended"] == f"pruned by the tuner at step {step}"
    assert result.best_number == good.number


@pytest.mark.slow
def test_two_processes_share_one_sqlite_study(tmp_path):
    """Two `rnnkit tune` processes on one storage: one study, trial numbers never repeated,
    each trial in its own run directory, and both processes ran trials."""
    write(tmp_path, base=BASE.replace("steps = 6", "steps = 40"))
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    cmd = [sys.executable, "-m", "rnnkit.cli.main", "tune", "tiny.toml", "--trials", "4",
           "--storage", db, "--name", "shared"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    trials = optuna.load_study(study_name="shared", storage=db).trials
    numbers = [t.number for t in trials]
    assert numbers == list(range(len(trials))) and 4 <= len(trials) <= 5
    assert all(t.state.name == "COMPLETE" for t in trials)
    assert {t.user_attrs["run_dir"] for t in trials} == {
        str(Path("runs/shared/trials") / str(n)) for n in numbers}
    assert len({t.user_attrs["process"] for t in trials}) == 2


@pytest.mark.slow
def test_jobs_runs_worker_processes_on_one_study(tmp_path, monkeypatch, no_plots):
    """--jobs 2: two spawned processes, one study, no trial number twice, both ran trials."""
    monkeypatch.chdir(tmp_path)
    t = prepare_tuning(write(tmp_path, base=BASE.replace("steps = 6", "steps = 20")))
    result = run_tuning(t, trials=4, jobs=2)
    trials = open_study(t).trials
    assert [tr.number for tr in trials] == list(range(len(trials)))
    assert result.finished == len(trials) >= 4 and not result.errors
    assert len({tr.user_attrs["process"] for tr in trials}) == 2
    assert all(pid.split(":")[1] != str(os.getpid())
               for pid in (tr.user_attrs["process"] for tr in trials))


@pytest.mark.slow
@pytest.mark.parametrize("jobs, signum, code", [(1, signal.SIGTERM, 143),
                                                (2, signal.SIGTERM, 143),
                                                (1, signal.SIGINT, 130)])
def test_a_signal_to_rnnkit_tune_exits_as_every_command_does(tmp_path, jobs, signum, code):
    """`kill PID` (SIGTERM, to the parent alone) ends `rnnkit tune` with 143, with --jobs 2
    too, and SIGINT with 130, as every other command; the trials in progress are recorded
    as failed and the study is kept. (Ctrl-C to a --jobs process group:
    tests/test_tuning_study_mutants.py.)"""
    write(tmp_path, base=BASE.replace("steps = 6", "steps = 1000000").replace(
        "[train]", "[train]\nprogress = \"off\""))
    cmd = [sys.executable, "-m", "rnnkit.cli.main", "tune", "tiny.toml", "--trials", "3",
           "--jobs", str(jobs)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    trials = tmp_path / "runs" / "tiny-tune" / "trials"
    deadline = time.monotonic() + 120
    try:  # every worker in its trial's training loop: past its first checkpoint
        while not all((trials / str(i) / "checkpoints" / "last").is_dir()
                      for i in range(jobs)):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.1)
        proc.send_signal(signum)
        err = proc.communicate(timeout=120)[1]
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    name = signal.Signals(signum).name
    assert f"interrupted by {name}: the study is kept in sqlite:///" in err
    study = optuna.load_study(study_name="tiny-tune",
                              storage=f"sqlite:///{tmp_path / 'runs/tiny-tune/study.db'}")
    assert sorted(t.state.name for t in study.trials) == ["FAIL"] * jobs


def test_no_trial_starts_after_the_timeout(tmp_path, monkeypatch, no_plots):
    monkeypatch.chdir(tmp_path)
    t = prepare_tuning(write(tmp_path))
    result = run_tuning(t, trials=3, timeout=1e-9)
    assert (result.finished, result.best_config) == (0, None)
    assert "No complete trial yet." in result.report.read_text()


def test_a_trial_is_never_pruned_at_its_last_validation():
    from types import SimpleNamespace

    from rnnkit.tasks.tuning import PruningCallback

    class AlwaysPrune:
        reported = []

        def report(self, value, step):
            self.reported.append((step, value))

        def should_prune(self):
            return True

    stops = []
    trainer = SimpleNamespace(state=SimpleNamespace(step=10), total_steps=10,
                              stop=stops.append)
    cb = PruningCallback(AlwaysPrune(), "mse")
    cb.on_eval_end(trainer, {"mse": 0.5}, False)
    assert (cb.pruned_at, stops, AlwaysPrune.reported) == (None, [], [(10, 0.5)])
    trainer.state.step = 4
    cb.on_eval_end(trainer, {"mse": 0.7}, False)
    assert (cb.pruned_at, stops) == (4, ["pruned by the tuner at step 4"])
