"""The Optuna study behind ``rnnkit tune`` (rnnkit/tasks/tuning/study.py) on its own: where
the study lives, how it is seeded and pruned, what a trial trains and reads back, the line
printed per trial, the worker loop and its processes (found by mutation testing,
benchmarks/mutation.py). Trials run a stand-in for ``train_run`` except in one tiny real
study; the expected figures are worked out by hand or with Optuna's and NumPy's own API."""

from __future__ import annotations

import datetime
import json
import re
import signal
import sys
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

optuna = pytest.importorskip("optuna", reason="rnnkit tune needs optuna (the tune extra)")

import torch  # noqa: E402
from _tune_configs import tiny_adding_toml  # noqa: E402

from rnnkit._optional import MissingExtraError  # noqa: E402
from rnnkit.cli.main import main  # noqa: E402
from rnnkit.tasks import load_config  # noqa: E402
from rnnkit.tasks.runner import RunResult  # noqa: E402
from rnnkit.tasks.tuning import PruningCallback, open_study, prepare_tuning, run_tuning  # noqa: E402
from rnnkit.tasks.tuning import study as S  # noqa: E402
from rnnkit.training.config_io import ConfigError  # noqa: E402
from rnnkit.training.trainer import Callback, NonFiniteLossError, TrainState  # noqa: E402

BASE = tiny_adding_toml(seed=0)

SPACE = """
[tune]
sampler_startup_trials = 3
"model.hidden_size" = [4, 8]
"train.lr" = {low = 1e-3, high = 1e-1, log = true}
"""

TrialState = optuna.trial.TrialState
D = optuna.distributions


def write(folder: Path, tune: str = SPACE, base: str = BASE, name: str = "tiny.toml") -> Path:
    path = folder / name
    path.write_text(base + tune)
    return path


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def no_outputs(monkeypatch):
    """run_tuning without best.toml, report.md and plots (report.py's own tests)."""
    calls = []
    monkeypatch.setattr("rnnkit.tasks.tuning.report.write_outputs",
                        lambda t, study, result: calls.append((study, result)))
    return calls


def result(step=4, reason="finished", val=None) -> RunResult:
    return RunResult(Path("unused"), TrainState(step=step, stop_reason=reason),
                     {"val": {"mse": 0.25} if val is None else val})


class FakeTrain:
    """A stand-in for train_run: records each call; each outcome is a RunResult, an
    exception to raise, or a list of (step, mse) validations fed to the callbacks (as the
    trainer would) before returning what they left."""

    def __init__(self, *outcomes, total_steps=6):
        self.outcomes, self.calls, self.total_steps = list(outcomes), [], total_steps
        self.sigint = []

    def __call__(self, cfg, run_dir, **kw):
        self.calls.append(SimpleNamespace(cfg=cfg, run_dir=run_dir, **kw))
        self.sigint.append(signal.getsignal(signal.SIGINT))
        out = self.outcomes.pop(0)
        if isinstance(out, BaseException):
            raise out
        if not isinstance(out, list):
            return out
        stops = []
        state = TrainState()
        trainer = SimpleNamespace(state=state, total_steps=self.total_steps, stop=stops.append)
        for step, mse in out:
            state.step = step
            for cb in kw["callbacks"]:
                cb.on_eval_end(trainer, {"mse": mse, "loss": 9.0}, False)
            if stops:
                break
        state.stop_reason = stops[0] if stops else "finished"
        return RunResult(Path(run_dir), state, {"val": {"mse": out[-1][1], "loss": 9.0}})


def use(monkeypatch, fake: FakeTrain) -> FakeTrain:
    monkeypatch.setattr(S, "train_run", fake)
    return fake


def states(study):
    return [t.state.name for t in study.get_trials(deepcopy=False)]


# -- prepare_tuning: the config, the space, the name, where the study lives -----------------

def test_prepare_defaults_name_root_sqlite_storage_metric_and_direction(here):
    t = prepare_tuning(Path("tiny.toml") if write(here) else None)
    assert (t.name, t.root, t.source) == ("tiny-tune", Path("runs/tiny-tune"), "tiny.toml")
    assert t.storage == f"sqlite:///{here / 'runs' / 'tiny-tune' / 'study.db'}"
    assert (t.metric, t.direction) == ("mse", "minimize")
    assert "tune" not in t.raw and t.raw["model"] == {"hidden_size": 8}
    assert t.base == load_config(write(here, tune="", name="plain.toml"))
    assert [p.key for p in t.spec.space] == ["model.hidden_size", "train.lr"]
    assert t.spec.settings.sampler_startup_trials == 3
    open_study(t)  # the default storage is the file runs/<name>/study.db
    assert (here / "runs" / "tiny-tune" / "study.db").is_file()


def test_prepare_with_name_storage_runs_dir_overrides_and_settings(here):
    tune = SPACE + 'metric = "loss"\ndirection = "maximize"\n'
    t = prepare_tuning(write(here, tune), ["model.hidden_size=16", "seed=3"], name="s1",
                       storage="sqlite:///elsewhere.db", runs_dir=here / "out")
    assert (t.name, t.root, t.storage) == ("s1", here / "out" / "s1", "sqlite:///elsewhere.db")
    assert (t.metric, t.direction) == ("loss", "maximize")
    assert (t.base.model.hidden_size, t.base.seed) == (16, 3)


def test_direction_follows_the_metric_mode(here):
    base = BASE.replace('metric = "mse"', 'metric = "mse"\nmetric_mode = "max"')
    t = prepare_tuning(write(here, base=base))
    assert t.direction == "maximize"
    t = prepare_tuning(write(here, SPACE + 'direction = "minimize"\n', base=base))
    assert t.direction == "minimize"


def test_relative_data_paths_resolve_against_the_file_and_overrides_against_cwd(here):
    (here / "sub").mkdir()
    path = here / "sub" / "c.toml"
    path.write_text('name = "c"\n[task]\nname = "classify"\ndata = "d.csv"\n'
                    '[tune]\n"model.hidden_size" = [4, 8]\n')
    with pytest.raises(ConfigError) as err:
        prepare_tuning(Path("sub/c.toml"), ["task.val_data=v.csv"])
    message = str(err.value)
    assert message.startswith("sub/c.toml: invalid config:")
    assert f"task.data = '{here / 'sub' / 'd.csv'}': no such file" in message
    assert f"task.val_data = '{here / 'v.csv'}': no such file" in message


@pytest.mark.parametrize("name, problem", [
    ("a/b", "use letters, digits and _ . + = @ - only"),
    ("x" * 129, "at most 128 characters"),
])
def test_a_bad_study_name_is_refused(here, name, problem):
    with pytest.raises(ConfigError) as err:
        prepare_tuning(write(here), name=name)
    assert str(err.value).startswith(f"--name {name!r}: {problem}")
    assert not (here / "runs").exists()


def test_a_bad_default_name_is_refused_too(here):
    with pytest.raises(ConfigError) as err:
        prepare_tuning(write(here, base=BASE.replace('"tiny"', '"' + "y" * 124 + '"')))
    assert str(err.value) == f"--name {'y' * 124 + '-tune'!r}: at most 128 characters"


def test_without_a_tune_table_or_with_a_bad_point(here):
    write(here, tune="")
    with pytest.raises(ConfigError, match=r"^tiny.toml: no \[tune\] table"):
        prepare_tuning("tiny.toml")
    with pytest.raises(ConfigError, match=r"tiny.toml \[tune\] 'model.hidden_size' = 0"):
        prepare_tuning(write(here, '[tune]\n"model.hidden_size" = [4, 0]\n'))


def test_config_fills_in_values_and_fixed_keys(here):
    t = prepare_tuning(write(here))
    cfg = t.config({"model.hidden_size": 4, "train.lr": 0.05}, **{"train.progress": "off"})
    assert (cfg.model.hidden_size, cfg.train.lr, cfg.train.progress) == (4, 0.05, "off")
    assert cfg.name == "tiny" and t.raw["model"]["hidden_size"] == 8  # raw not changed


def test_config_errors_name_the_config_file(here):
    t = prepare_tuning(Path("tiny.toml") if write(here) else None)
    with pytest.raises(ConfigError, match=r"^tiny.toml: invalid config"):
        t.config({"model.hidden_size": 0})


# -- the storage and the study ---------------------------------------------------------------

def test_without_optuna_the_error_names_the_tune_extra(monkeypatch):
    from rnnkit._optional import MissingExtraError

    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[tune\]'"):
        S._optuna()


def test_optuna_is_quiet_and_its_experimental_warnings_ignored():
    optuna.logging.set_verbosity(optuna.logging.INFO)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        assert S._optuna() is optuna
        warnings.warn("x", optuna.exceptions.ExperimentalWarning, stacklevel=1)
        warnings.warn("y", UserWarning, stacklevel=1)
    assert optuna.logging.get_verbosity() == optuna.logging.ERROR
    assert [str(w.message) for w in seen] == ["y"]


def test_sqlite_storage_waits_for_locks_and_heartbeats(here):
    t = prepare_tuning(write(here))
    t.root.mkdir(parents=True)
    storage = S._storage(t)
    assert isinstance(storage, optuna.storages.RDBStorage)
    assert storage.engine_kwargs["connect_args"] == {"timeout": 60}
    assert (storage.heartbeat_interval, storage.grace_period) == (30, 120)
    assert storage.url == t.storage


def test_other_databases_get_no_sqlite_connect_args(here, monkeypatch):
    seen = []
    monkeypatch.setattr(optuna.storages, "RDBStorage",
                        lambda url, **kw: seen.append((url, kw)) or "storage")
    t = prepare_tuning(write(here), storage="postgresql://host/db")
    assert S._storage(t) == "storage"
    assert seen == [("postgresql://host/db",
                     {"engine_kwargs": {}, "heartbeat_interval": 30, "grace_period": 120})]


class FakeDBError(Exception):
    pass


FakeDBError.__module__ = "sqlalchemy.exc"


@pytest.mark.parametrize("failures, sleeps, raised", [
    (0, [], False), (2, [0.5, 1.0], False), (4, [0.5, 1.0, 1.5, 2.0], False),
    (5, [0.5, 1.0, 1.5, 2.0], True)])
def test_open_study_retries_database_errors_four_times(monkeypatch, failures, sleeps, raised):
    calls, slept = [], []

    def opener(t, worker):
        calls.append((t, worker))
        if len(calls) <= failures:
            raise FakeDBError(f"race {len(calls)}")
        return "study"

    monkeypatch.setattr(S, "_open_study", opener)
    monkeypatch.setattr(S.time, "sleep", slept.append)
    t = SimpleNamespace(storage="sqlite:///s.db")
    if raised:  # then a config error that names the storage and the database's reason
        with pytest.raises(ConfigError, match=re.escape(
                "storage sqlite:///s.db: cannot open the study (race 5); give an SQLAlchemy "
                "URL whose database can be reached, e.g. sqlite:///runs/study.db or "
                "postgresql://user@host/db") + "$"):
            open_study(t, 3)
    else:
        assert open_study(t, 3) == "study"
    assert slept == sleeps and calls == [(t, 3)] * min(failures + 1, 5)


def test_a_storage_url_no_dialect_reads_or_without_its_driver_fails_at_once(monkeypatch):
    from sqlalchemy.exc import NoSuchModuleError

    slept = []
    monkeypatch.setattr(S.time, "sleep", slept.append)
    t = SimpleNamespace(storage="nosuch://x")
    for error, message in (
            (NoSuchModuleError("Can't load plugin: sqlalchemy.dialects:nosuch\nmore"),
             "storage nosuch://x: cannot open the study (Can't load plugin: "
             "sqlalchemy.dialects:nosuch); give an SQLAlchemy URL"),
            (ImportError("Failed to import DB access module"),
             "storage nosuch://x: Failed to import DB access module (e.g. pip install "
             "psycopg2-binary for postgresql://, pymysql for mysql+pymysql://)")):
        monkeypatch.setattr(S, "_open_study", lambda t, w, e=error: (_ for _ in ()).throw(e))
        with pytest.raises(ConfigError, match="^" + re.escape(message)):
            open_study(t)
    assert slept == []
    monkeypatch.setattr(S, "_open_study", lambda t, w: (_ for _ in ()).throw(
        MissingExtraError("optuna is not installed")))  # not a driver: raised as it is
    with pytest.raises(MissingExtraError):
        open_study(t)


@pytest.mark.parametrize("timeout", [-1.0, float("nan")])
def test_a_negative_or_nan_timeout_is_refused_before_the_study_opens(here, timeout,
                                                                     monkeypatch):
    t = prepare_tuning(write(here))
    monkeypatch.setattr(S, "open_study", lambda *a: pytest.fail("the study was opened"))
    with pytest.raises(ConfigError, match=re.escape(f"--timeout {timeout}: minutes must be "
                                                    "a number >= 0 (0: no limit)")):
        run_tuning(t, 1, timeout)


def test_open_study_raises_other_errors_at_once(monkeypatch):
    slept = []
    monkeypatch.setattr(S.time, "sleep", slept.append)
    monkeypatch.setattr(S, "_open_study", lambda t, w: (_ for _ in ()).throw(KeyError("k")))
    with pytest.raises(KeyError):
        open_study("t")
    assert slept == []


def first_draws(sampler, n=2):
    """What ``sampler`` proposes for the first n trials of a fresh in-memory study."""
    study = optuna.create_study(sampler=sampler)
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append((trial.suggest_float("x", 0.0, 1.0), trial.suggest_int("k", 0, 1000)))
        study.tell(trial, 1.0)
    return out


def reference_sampler(seed, done, worker, startup):
    state = np.random.SeedSequence([seed, done, worker]).generate_state(1)[0]
    return optuna.samplers.TPESampler(seed=int(state), n_startup_trials=startup,
                                      multivariate=True, constant_liar=True)


def test_the_sampler_is_tpe_seeded_from_seed_done_and_worker(here):
    t = prepare_tuning(write(here))
    study = open_study(t)
    sampler = study.sampler
    assert isinstance(sampler, optuna.samplers.TPESampler)
    assert (sampler._n_startup_trials, sampler._multivariate, sampler._constant_liar) == (
        3, True, True)
    assert first_draws(sampler) == first_draws(reference_sampler(0, 0, 0, 3))
    assert first_draws(open_study(t, worker=2).sampler) == first_draws(
        reference_sampler(0, 0, 2, 3))
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))
    assert first_draws(open_study(t, worker=2).sampler) == first_draws(
        reference_sampler(0, 2, 2, 3))
    t7 = prepare_tuning(write(here), ["seed=7"], name="other")
    assert first_draws(open_study(t7, 1).sampler) == first_draws(reference_sampler(7, 0, 1, 3))


def test_the_sampler_is_asked_for_the_constant_liar(here, monkeypatch):
    """Workers running trials side by side: each running trial counts as a bad result, so
    they do not all propose the same point (Optuna's default only from version 5)."""
    seen = []
    real = optuna.samplers.TPESampler
    monkeypatch.setattr(optuna.samplers, "TPESampler",
                        lambda **kw: seen.append(kw) or real(**kw))
    open_study(prepare_tuning(write(here)))
    assert (seen[0]["multivariate"], seen[0]["constant_liar"]) == (True, True)


def test_a_workers_trials_are_sampled_with_its_index(here, monkeypatch, no_outputs):
    t = prepare_tuning(write(here))
    use(monkeypatch, FakeTrain(result()))
    S._Worker(t, 1, None, 2).run()
    ref = optuna.create_study(sampler=reference_sampler(0, 0, 2, 3)).ask()
    expected = {"model.hidden_size": ref.suggest_categorical("model.hidden_size", [4, 8]),
                "train.lr": ref.suggest_float("train.lr", 1e-3, 1e-1, log=True)}
    assert open_study(t).trials[0].params == expected


def test_the_study_is_named_directed_and_reopened(here):
    t = prepare_tuning(write(here, base=BASE.replace('metric = "mse"',
                                                     'metric = "mse"\nmetric_mode = "max"')))
    study = open_study(t)
    study.add_trial(optuna.trial.create_trial(state=TrialState.COMPLETE, value=1.0))
    again = open_study(t)
    assert (again.study_name, again.direction) == (
        "tiny-tune", optuna.study.StudyDirection.MAXIMIZE)
    assert states(again) == ["COMPLETE"]
    other = optuna.storages.RDBStorage(t.storage)
    assert [s.study_name for s in other.get_all_studies()] == ["tiny-tune"]
    assert not S._exists(other, "tiny") and S._exists(other, "tiny-tune")


@pytest.mark.parametrize("settings, cls, kwargs", [
    ("", optuna.pruners.MedianPruner, dict(n_startup_trials=5, n_warmup_steps=0)),
    ('pruner_startup_trials = 2\npruner_warmup_steps = 7\n', optuna.pruners.MedianPruner,
     dict(n_startup_trials=2, n_warmup_steps=7)),
    ('pruner = "halving"\n', optuna.pruners.SuccessiveHalvingPruner,
     dict(min_resource="auto", reduction_factor=3)),
    ('pruner = "halving"\nhalving_min_steps = 4\nhalving_reduction_factor = 2\n',
     optuna.pruners.SuccessiveHalvingPruner, dict(min_resource=4, reduction_factor=2)),
    ('pruner = "none"\n', optuna.pruners.NopPruner, {}),
])
def test_the_pruner_is_the_tables(here, settings, cls, kwargs):
    study = open_study(prepare_tuning(write(here, SPACE + settings)))
    assert type(study.pruner) is cls
    assert vars(study.pruner) == vars(cls(**kwargs))


# -- the pruning callback --------------------------------------------------------------------

class Trial:
    def __init__(self, prune=True):
        self.prune, self.reported = prune, []

    def report(self, value, step):
        self.reported.append((step, value))

    def should_prune(self):
        return self.prune


def trainer(step, total=10):
    stops = []
    return SimpleNamespace(state=SimpleNamespace(step=step), total_steps=total,
                           stop=stops.append, stops=stops)


def test_pruning_reports_every_validation_and_stops_only_before_the_last():
    trial = Trial(prune=False)
    cb = PruningCallback(trial, "mse")
    tr = trainer(9)
    cb.on_eval_end(tr, {"mse": np.float32(0.5), "loss": 1.0}, False)
    assert trial.reported == [(9, 0.5)] and type(trial.reported[0][1]) is float
    assert (cb.pruned_at, tr.stops) == (None, [])
    trial.prune = True
    cb.on_eval_end(tr, {"mse": 0.25}, True)
    assert (cb.pruned_at, tr.stops) == (9, ["pruned by the tuner at step 9"])
    last = trainer(11, total=10)  # past the end (a resumed run): never pruned either
    cb2 = PruningCallback(Trial(), "mse")
    cb2.on_eval_end(last, {"mse": 0.1}, False)
    assert (cb2.pruned_at, last.stops, cb2.trial.reported) == (None, [], [(11, 0.1)])


def test_pruning_skips_a_validation_without_the_metric():
    trial = Trial()
    cb = PruningCallback(trial, "acc")
    tr = trainer(2)
    cb.on_eval_end(tr, {"mse": 0.5}, False)
    assert (trial.reported, cb.pruned_at, tr.stops) == ([], None, [])


def test_pruning_stops_the_run_when_asked_to_stop():
    flag = []
    cb = PruningCallback(Trial(), "mse", lambda: bool(flag))
    tr = trainer(1)
    cb.on_step_end(tr, {})
    assert tr.stops == []
    flag.append(1)
    cb.on_step_end(tr, {})
    assert tr.stops == ["interrupted (rnnkit tune)"]
    default = PruningCallback(Trial(), "mse")
    default.on_step_end(tr, {})
    assert tr.stops == ["interrupted (rnnkit tune)"]


# -- a trial: what it trains and what it returns ---------------------------------------------

def test_a_trial_trains_its_values_validation_only_and_returns_the_val_figure(
        here, monkeypatch, no_outputs):
    t = prepare_tuning(write(here))
    extra = Callback()
    fake = use(monkeypatch, FakeTrain(result(step=4, val={"mse": 0.375, "loss": 2.0})))
    run_tuning(t, trials=1, callbacks=[extra])
    (call,) = fake.calls
    trial = open_study(t).trials[0]
    assert (trial.state.name, trial.value) == ("COMPLETE", 0.375)
    assert (call.cfg.model.hidden_size, call.cfg.train.lr) == (
        trial.params["model.hidden_size"], trial.params["train.lr"])
    assert call.cfg.train.progress == "off" and call.cfg.name == "tiny"
    assert Path(call.run_dir) == Path("runs/tiny-tune/trials/0")
    assert (call.overwrite, call.validation_only) == (True, True)
    assert isinstance(call.callbacks[0], PruningCallback) and call.callbacks[1:] == [extra]
    assert call.callbacks[0].metric == "mse" and call.callbacks[0].trial.number == 0
    import os
    import socket
    assert trial.user_attrs == {"run_dir": str(Path("runs/tiny-tune/trials/0")),
                                "process": f"{socket.gethostname()}:{os.getpid()}",
                                "steps": 4, "ended": "finished"}
    assert trial.distributions == {"model.hidden_size": D.CategoricalDistribution([4, 8]),
                                   "train.lr": D.FloatDistribution(1e-3, 1e-1, log=True)}


def test_the_objective_reads_the_tune_metric_and_names_a_missing_one(here, monkeypatch,
                                                                       no_outputs):
    t = prepare_tuning(write(here, SPACE + 'metric = "loss"\n'))
    use(monkeypatch, FakeTrain(result(val={"mse": 0.5, "loss": 1.25})))
    run_tuning(t, trials=1)
    assert open_study(t).trials[0].value == 1.25
    t = prepare_tuning(write(here, SPACE + 'metric = "acc"\n'), name="acc")
    use(monkeypatch, FakeTrain(result(val={"mse": 0.5, "loss": 1.25})))
    with pytest.raises(ConfigError) as err:
        run_tuning(t, trials=1)
    assert str(err.value) == ("tune metric 'acc': the validation split reports 'mse', "
                              "'loss'")


def test_a_diverging_trial_is_pruned_with_the_reason(here, monkeypatch, no_outputs):
    t = prepare_tuning(write(here))
    use(monkeypatch, FakeTrain(NonFiniteLossError("loss is nan at step 3; lower train.lr"),
                               result(val={"mse": 0.5})))
    run_tuning(t, trials=2)
    bad, good = open_study(t).trials
    assert (bad.state.name, good.state.name) == ("PRUNED", "COMPLETE")
    assert bad.user_attrs["ended"] == "loss is nan at step 3"
    assert "steps" not in bad.user_attrs


def test_the_median_pruner_stops_a_trial_worse_than_the_median(here, monkeypatch,
                                                                no_outputs):
    """Trial 0 finishes with validations 0.5, 0.4, 0.3; trial 1's 0.9 at step 2 is worse
    than 0.5 (the median of one trial) and is pruned there; with one start-up trial."""
    t = prepare_tuning(write(here, SPACE + "pruner_startup_trials = 1\n"))
    fake = use(monkeypatch, FakeTrain([(2, 0.5), (4, 0.4), (6, 0.3)], [(2, 0.9), (4, 0.1),
                                                                        (6, 0.1)]))
    result_ = run_tuning(t, trials=2)
    good, bad = open_study(t).trials
    assert (good.state.name, good.value, good.intermediate_values) == (
        "COMPLETE", 0.3, {2: 0.5, 4: 0.4, 6: 0.3})
    assert (bad.state.name, bad.intermediate_values, bad.last_step) == ("PRUNED", {2: 0.9}, 2)
    assert bad.user_attrs["ended"] == "pruned by the tuner at step 2"
    assert bad.user_attrs["steps"] == 2 and good.user_attrs["steps"] == 6
    assert fake.calls[1].callbacks[0].pruned_at == 2 and result_.interrupted is False


def test_warmup_and_startup_trials_hold_the_pruner_back(here, monkeypatch, no_outputs):
    t = prepare_tuning(write(here, SPACE + "pruner_startup_trials = 1\n"
                                           "pruner_warmup_steps = 3\n"))
    use(monkeypatch, FakeTrain([(2, 0.5), (4, 0.4), (6, 0.3)], [(2, 0.9), (4, 0.95),
                                                                 (6, 0.1)]))
    run_tuning(t, trials=2)
    bad = open_study(t).trials[1]
    assert (bad.state.name, bad.last_step) == ("PRUNED", 4)  # not at 2: the warm-up
    t = prepare_tuning(write(here, SPACE + "pruner_startup_trials = 2\n"), name="b")
    use(monkeypatch, FakeTrain([(2, 0.5), (4, 0.4), (6, 0.3)], [(2, 0.9), (4, 0.95),
                                                                 (6, 0.7)]))
    run_tuning(t, trials=2)
    assert states(open_study(t)) == ["COMPLETE", "COMPLETE"]  # one finished trial: too few


def test_an_interrupted_trial_fails_and_stops_the_session(here, monkeypatch, no_outputs,
                                                          capsys):
    t = prepare_tuning(write(here))
    fake = use(monkeypatch, FakeTrain(result(step=3, reason="interrupted (Ctrl-C)"),
                                      result()))
    out = run_tuning(t, trials=2)
    assert out.interrupted and len(fake.calls) == 1
    assert states(open_study(t)) == ["FAIL"]
    err = capsys.readouterr().err
    assert ("trial 0 interrupted (Ctrl-C): recorded as failed; the study is kept and the "
            "same command continues it") in err


def test_a_trial_stopped_by_sigterm_stops_the_session_with_sigterm(here, monkeypatch,
                                                                   no_outputs, capsys):
    """The trainer's handler saw the signal: the worker takes it from the stop reason."""
    t = prepare_tuning(write(here))
    use(monkeypatch, FakeTrain(result(step=3, reason="interrupted by SIGTERM"), result()))
    out = run_tuning(t, trials=2)
    assert out.signum == signal.SIGTERM and out.interrupted
    assert "trial 0 interrupted by SIGTERM: recorded as failed" in capsys.readouterr().err


def test_signals_are_caught_during_trials_and_restored_after(here, monkeypatch, no_outputs):
    t = prepare_tuning(write(here))
    fake = use(monkeypatch, FakeTrain(result(), result()))
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    worker = S._Worker(t, 1, None, 0)
    assert worker.run() is False
    assert fake.sigint[0] == worker._on_signal
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    worker._on_signal(signal.SIGTERM, None)
    assert worker.stop and worker._stop and worker.signum == signal.SIGTERM
    worker._on_signal(signal.SIGINT, None)  # the first signal is the one that stopped it
    assert worker.signum == signal.SIGTERM


def test_a_signal_stops_the_worker_after_the_trial(here, monkeypatch, no_outputs):
    t = prepare_tuning(write(here))
    holder = {}

    def train(cfg, run_dir, **kw):
        holder["w"]._on_signal(signal.SIGTERM, None)
        assert kw["callbacks"][0].stop_requested() is True
        return result()

    monkeypatch.setattr(S, "train_run", train)
    worker = holder["w"] = S._Worker(t, 5, None, 0)
    assert worker.run() is True
    assert states(open_study(t)) == ["COMPLETE"]


def test_the_parents_event_stops_a_worker(here, monkeypatch, no_outputs):
    t = prepare_tuning(write(here))
    fake = use(monkeypatch, FakeTrain(result()))
    event = threading.Event()
    worker = S._Worker(t, 3, None, 0, stop_event=event)
    assert worker.stop is False
    event.set()
    assert worker.stop is True and worker.run() is True and fake.calls == []


def test_a_worker_off_the_main_thread_leaves_the_handlers_alone(here, monkeypatch,
                                                                 no_outputs):
    t = prepare_tuning(write(here))
    fake = use(monkeypatch, FakeTrain(result()))
    before = signal.getsignal(signal.SIGINT)
    out = []
    thread = threading.Thread(target=lambda: out.append(S._Worker(t, 1, None, 0).run()))
    thread.start()
    thread.join()
    assert out == [False] and fake.sigint == [before]


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_the_worker_runs_until_the_study_holds_total_finished_or_running(here, monkeypatch,
                                                                          no_outputs):
    """Finished (complete, pruned) and running trials count, failed ones do not; a running
    trial whose process died is failed (Optuna's heartbeat check) before counting."""
    t = prepare_tuning(write(here))
    study = open_study(t)
    for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL):
        study.add_trial(optuna.trial.create_trial(
            state=state, value=0.5 if state == TrialState.COMPLETE else None,
            params={"model.hidden_size": 4},
            distributions={"model.hidden_size": D.CategoricalDistribution([4, 8])}))
    study.ask()  # another worker's trial in progress (trial 3)
    fake = use(monkeypatch, FakeTrain(*[result() for _ in range(5)]))
    assert S._Worker(t, 5, None, 0).run() is False
    assert len(fake.calls) == 2
    assert states(open_study(t)) == ["COMPLETE", "PRUNED", "FAIL", "RUNNING", "COMPLETE",
                                     "COMPLETE"]


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_a_dead_workers_trial_is_failed_before_counting(here, monkeypatch, no_outputs):
    t = prepare_tuning(write(here))
    study = open_study(t)
    study.add_trial(optuna.trial.create_trial(state=TrialState.COMPLETE, value=0.5))
    study.ask()  # trial 1: its process is gone
    dead = study.get_trials(deepcopy=False)[1]._trial_id
    storage = S._storage(t)

    def fail_stale(study_):
        if storage.get_trial(dead).state == TrialState.RUNNING:
            storage.set_trial_state_values(dead, TrialState.FAIL)

    monkeypatch.setattr(optuna.storages, "fail_stale_trials", fail_stale)
    fake = use(monkeypatch, FakeTrain(result(), result()))
    assert S._Worker(t, 2, None, 0).run() is False
    assert len(fake.calls) == 1
    assert states(open_study(t)) == ["COMPLETE", "FAIL", "COMPLETE"]


def test_no_new_trial_after_the_deadline(here, monkeypatch, no_outputs):
    t = prepare_tuning(write(here))
    fake = use(monkeypatch, FakeTrain(result(), result()))
    monkeypatch.setattr(S.time, "time", lambda: 1000.0)
    assert S._Worker(t, 2, 1000.0, 0).run() is False and fake.calls == []
    assert S._Worker(t, 1, 1000.5, 0).run() is False and len(fake.calls) == 1


def test_run_tuning_passes_totals_deadline_and_callbacks(here, monkeypatch, no_outputs):
    seen = []

    class Worker:
        def __init__(self, t, total, deadline, worker, callbacks=()):
            seen.append((total, deadline, worker, list(callbacks)))

        def run(self):
            return False

    monkeypatch.setattr(S, "_Worker", Worker)
    monkeypatch.setattr(S.time, "time", lambda: 100.0)
    t = prepare_tuning(write(here, SPACE + "trials = 4\ntimeout = 2.5\n"))
    cb = Callback()
    res = run_tuning(t, callbacks=[cb])
    assert seen == [(4, 100.0 + 150.0, 0, [cb])]
    assert (res.name, res.root, res.storage, res.interrupted) == (
        "tiny-tune", t.root, t.storage, False)
    assert no_outputs[0][1] is res and no_outputs[0][0].study_name == "tiny-tune"
    run_tuning(t, trials=2, timeout=0.5)
    assert seen[-1][:3] == (2, 130.0, 0)
    t = prepare_tuning(write(here), name="n")
    run_tuning(t, trials=1)
    assert seen[-1][:2] == (1, None)  # timeout 0: none


def test_run_tuning_turns_ctrl_c_into_an_interrupted_result(here, monkeypatch, no_outputs):
    class Worker:
        def __init__(self, *a, **k):
            pass

        def run(self):
            raise KeyboardInterrupt

    monkeypatch.setattr(S, "_Worker", Worker)
    assert run_tuning(prepare_tuning(write(here)), trials=1).interrupted is True


def _interrupt(signum):
    e = KeyboardInterrupt()
    e.signum = signum  # (as the CLI's Interrupted carries SIGTERM)
    return e


@pytest.mark.parametrize("outcome, signum, want", [
    (False, 0, 0), (True, 0, signal.SIGINT), (True, signal.SIGTERM, signal.SIGTERM),
    (KeyboardInterrupt(), 0, signal.SIGINT),
    (_interrupt(signal.SIGTERM), 0, signal.SIGTERM)])
def test_run_tuning_records_the_signal_that_stopped_one_worker(here, monkeypatch, no_outputs,
                                                               outcome, signum, want):
    class Worker:
        def __init__(self, *a, **k):
            self.signum = signum

        def run(self):
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome

    monkeypatch.setattr(S, "_Worker", Worker)
    out = run_tuning(prepare_tuning(write(here)), trials=1)
    assert out.signum == want and out.interrupted is bool(want)


@pytest.mark.parametrize("trials, jobs", [(0, 1), (1, 0), (-1, 2)])
def test_trials_and_jobs_must_be_at_least_one(here, trials, jobs, no_outputs):
    t = prepare_tuning(write(here))
    with pytest.raises(ConfigError) as err:
        run_tuning(t, trials=trials, jobs=jobs)
    assert str(err.value) == f"--trials {trials} --jobs {jobs}: both must be at least 1"
    assert not t.root.exists()


def test_the_study_is_created_before_the_workers_start(here, monkeypatch, no_outputs):
    t = prepare_tuning(write(here))
    seen = []
    monkeypatch.setattr(S, "_run_processes", lambda t_, total, deadline, jobs: seen.append(
        (S._exists(S._storage(t_), t_.name), total, deadline, jobs)) or (True, ["e"]))
    monkeypatch.setattr(S.time, "time", lambda: 100.0)
    res = run_tuning(t, trials=3, timeout=1.0, jobs=2)
    assert seen == [(True, 3, 160.0, 2)] and (res.interrupted, res.errors) == (True, ["e"])


# -- the line per trial ----------------------------------------------------------------------

def frozen(number, state, value=None, params=None, seconds=None, steps=None):
    start = datetime.datetime(2024, 1, 1, 12, 0, 0)
    params = params or {}
    dists = {"train.lr": D.FloatDistribution(1e-4, 1.0, log=True),
             "model.hidden_size": D.CategoricalDistribution([4, 8, 16])}
    return optuna.trial.create_trial(
        state=state, value=value, params=params,
        distributions={k: dists[k] for k in params},
        intermediate_values=steps or {},
        user_attrs={}) if seconds is None else optuna.trial.FrozenTrial(
        number=number, state=state, value=value, datetime_start=start,
        datetime_complete=start + datetime.timedelta(seconds=seconds), params=params,
        distributions={k: dists[k] for k in params}, user_attrs={}, system_attrs={},
        intermediate_values=steps or {}, trial_id=number)


def test_trial_lines_by_hand():
    study = optuna.create_study()
    params = {"train.lr": 0.0012345678, "model.hidden_size": 8}
    study.add_trial(frozen(0, TrialState.PRUNED, params=params, seconds=2.6,
                           steps={2: 0.7, 4: 0.6}))
    assert S.trial_line(study, study.trials[0], 5) == (
        "trial 0 pruned at step 4 (1/5):   [no complete trial yet]  "
        "train.lr=0.001235 model.hidden_size=8  3s")
    study.add_trial(frozen(1, TrialState.COMPLETE, 0.123456789, params, seconds=61.4))
    assert S.trial_line(study, study.trials[1], 5) == (
        "trial 1 complete (2/5): 0.12346  [best 0.12346 (trial 1)]  "
        "train.lr=0.001235 model.hidden_size=8  61s")
    study.add_trial(frozen(2, TrialState.COMPLETE, 0.5, {"model.hidden_size": 16}))
    study.add_trial(frozen(3, TrialState.FAIL))
    study.add_trial(frozen(4, TrialState.PRUNED))
    trials = study.trials
    trials[3].datetime_complete = None  # no end recorded: 0 s
    assert S.trial_line(study, trials[2], 5) == (
        "trial 2 complete (4/5): 0.5  [best 0.12346 (trial 1)]  model.hidden_size=16  0s")
    assert S.trial_line(study, trials[3], 7) == (
        "trial 3 fail (4/7):   [best 0.12346 (trial 1)]    0s")
    assert S.trial_line(study, trials[4], 7) == (
        "trial 4 pruned (4/7):   [best 0.12346 (trial 1)]    0s")


def test_a_finished_trial_prints_its_line(here, monkeypatch, no_outputs, capsys):
    t = prepare_tuning(write(here, '[tune]\n"model.hidden_size" = [4]\n'))
    use(monkeypatch, FakeTrain(result(val={"mse": 0.0625})))
    run_tuning(t, trials=1)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("trial ")]
    assert len(lines) == 1
    assert lines[0].startswith("trial 0 complete (1/1): 0.0625  [best 0.0625 (trial 0)]  "
                               "model.hidden_size=4  ")


def test_short_values():
    assert [S._short(v) for v in (0.000123456, 2.0, 3, "gru", True)] == [
        "0.0001235", "2", "3", "gru", "True"]


# -- worker processes --------------------------------------------------------------------------

@pytest.mark.parametrize("outcome, signum, code", [
    (False, 0, 0), (True, 0, 130), (True, signal.SIGINT, 130), (True, signal.SIGTERM, 143),
    (ValueError("boom"), 0, 1)])
def test_a_worker_process_exit_status(here, monkeypatch, capsys, outcome, signum, code):
    """128 + the signal that stopped the worker; 130 when only the parent's event did."""
    seen = []

    class Worker:
        def __init__(self, t, total, deadline, worker, callbacks=(), stop_event=None):
            seen.append((t, total, deadline, worker, stop_event, torch.get_num_threads()))
            self.signum = signum

        def run(self):
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

    monkeypatch.setattr(S, "_Worker", Worker)
    threads = torch.get_num_threads()
    try:
        with pytest.raises(SystemExit) as end:
            S._work("t", 4, 9.0, 2, 3, "event")
        assert seen == [("t", 4, 9.0, 2, "event", 3)]
        torch.set_num_threads(5)
        with pytest.raises(SystemExit):
            S._work("t", 4, 9.0, 2, 0, "event")
        assert seen[-1][-1] == 5  # 0: torch's own
    finally:
        torch.set_num_threads(threads)
    assert end.value.code == code
    err = capsys.readouterr().err
    assert ("rnnkit tune: worker 2: error: boom" in err) == (code == 1)


class FakeEvent:
    def __init__(self):
        self.set_ = False

    def set(self):
        self.set_ = True


class FakeContext:
    """multiprocessing's spawn context, with processes that only record."""

    def __init__(self, codes, record):
        self.codes, self.record, self.made = list(codes), record, []

    def Event(self):
        self.event = FakeEvent()
        return self.event

    def Process(self, target, args):
        ctx = self

        class Proc:
            exitcode = None

            def __init__(self):
                self.target, self.args, self.polls = target, args, 0
                ctx.made.append(self)

            def start(self):
                ctx.record.append(("start", signal.getsignal(signal.SIGINT)))

            def is_alive(self):
                if self.polls == 0:
                    ctx.record.append(("alive", signal.getsignal(signal.SIGINT)))
                self.polls += 1
                if self.polls > 1:
                    self.exitcode = ctx.codes[ctx.made.index(self)]
                return self.polls <= 1

            def join(self, timeout):
                ctx.record.append(("join", timeout))

        return Proc()


def test_processes_get_the_tuning_their_index_and_threads(here, monkeypatch, capsys):
    record = []
    contexts = []
    codes = [[0, 130, 1, -signal.SIGINT], [0, 130, 1], [0], [-signal.SIGINT, 0],
             [143, 2, 0], [-signal.SIGTERM, 0]]

    def get_context(method):
        assert method == "spawn"
        contexts.append(FakeContext(codes.pop(0), record))
        return contexts[-1]

    monkeypatch.setattr(S.multiprocessing, "get_context", get_context)
    monkeypatch.setattr(S.os, "cpu_count", lambda: 9)
    t = prepare_tuning(write(here, base=BASE.replace("threads = 1\n", "")))
    before = signal.getsignal(signal.SIGINT)
    signum, errors = S._run_processes(t, 6, 55.0, 4)
    ctx = contexts[0]
    assert signum == signal.SIGINT and errors == ["worker 2 ended with status 1"]
    assert [p.target for p in ctx.made] == [S._work] * 4
    for i, p in enumerate(ctx.made):
        tp, total, deadline, index, threads, stop = p.args
        assert (total, deadline, index, threads, stop) == (6, 55.0, i, 2, ctx.event)
        assert tp is not t and tp.raw == t.raw and tp.name == t.name
    assert [r for r in record if r[0] == "start"] == [("start", signal.SIG_IGN)] * 4
    handler = [r for r in record if r[0] == "alive"][0][1]
    assert handler not in (signal.SIG_IGN, before) and ("join", 0.5) in record
    assert signal.getsignal(signal.SIGINT) == before
    capsys.readouterr()
    handler(signal.SIGINT, None)
    assert ctx.event.set_ is True
    assert capsys.readouterr().err == "rnnkit tune: stopping after the trials in progress ...\n"

    record.clear()
    t1 = prepare_tuning(write(here), name="one")  # train.threads = 1 wins over the cores
    assert S._run_processes(t1, 2, None, 3) == (signal.SIGINT, ["worker 2 ended with status 1"])
    assert [p.args[4] for p in contexts[1].made] == [1, 1, 1]
    monkeypatch.setattr(S.os, "cpu_count", lambda: None)  # unknown: one core
    t0 = prepare_tuning(write(here, base=BASE.replace("threads = 1\n", "")), name="zero")
    assert S._run_processes(t0, 2, None, 1) == (0, [])
    assert [p.args[4] for p in contexts[2].made] == [1]
    assert S._run_processes(t0, 2, None, 2) == (signal.SIGINT, [])  # killed by SIGINT
    # a worker stopped by SIGTERM (its own kill): the session's signal; status 2 an error
    assert S._run_processes(t0, 2, None, 3) == (signal.SIGTERM, ["worker 1 ended with status 2"])
    assert S._run_processes(t0, 2, None, 2) == (signal.SIGTERM, [])  # killed by SIGTERM


def test_processes_threads_share_the_cores(here, monkeypatch):
    contexts = []
    monkeypatch.setattr(S.multiprocessing, "get_context", lambda m: contexts.append(
        FakeContext([0, 0], [])) or contexts[-1])
    monkeypatch.setattr(S.os, "cpu_count", lambda: 7)
    t = prepare_tuning(write(here, base=BASE.replace("threads = 1\n", "")))
    assert S._run_processes(t, 2, None, 2) == (0, [])
    assert [p.args[4] for p in contexts[0].made] == [3, 3]
    t = prepare_tuning(write(here), name="one")
    S._run_processes(t, 2, None, 2)
    assert [p.args[4] for p in contexts[1].made] == [1, 1]


# -- a real (tiny) study ---------------------------------------------------------------------

def test_a_tiny_real_study_never_evaluates_the_test_split_and_its_best_trains(
        here, monkeypatch, capsys):
    from rnnkit.tasks import TASKS

    monkeypatch.setattr("rnnkit.tasks.tuning.report.draw_plots", lambda folder, study: {})
    write(here, '[tune]\n"model.hidden_size" = [4]\n"train.lr" = [0.01, 0.02]\n')
    study = open_study(prepare_tuning("tiny.toml"))
    study.enqueue_trial({"train.lr": 0.01})
    study.enqueue_trial({"train.lr": 0.02})
    seen = []
    task_cls = type(TASKS["adding"])
    evaluate = task_cls.evaluate
    monkeypatch.setattr(task_cls, "evaluate", lambda self, ctx, model, split: seen.append(
        split) or evaluate(self, ctx, model, split))
    assert main(["tune", "tiny.toml", "--trials", "2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert seen and set(seen) == {"val"}
    study = optuna.load_study(study_name="tiny-tune", storage=summary["storage"])
    assert summary["storage"] == f"sqlite:///{here / 'runs/tiny-tune/study.db'}"
    values = {t.params["train.lr"]: t.value for t in study.trials}
    assert sorted(values) == [0.01, 0.02] and summary["best_value"] == min(values.values())
    for n in (0, 1):
        lines = (here / "runs/tiny-tune/trials" / str(n) / "metrics.jsonl").read_text()
        assert {json.loads(line)["split"] for line in lines.splitlines()} == {"train", "val"}
    monkeypatch.undo()
    monkeypatch.chdir(here)
    assert main(["train", "runs/tiny-tune/best.toml"]) == 0
    assert main(["evaluate", "runs/tiny-tune-best", "--split", "val", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mse"] == pytest.approx(
        summary["best_value"], rel=1e-5)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
