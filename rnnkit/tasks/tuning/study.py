"""``rnnkit tune``: an Optuna study over a config's ``[tune]`` space.

Each trial trains the config with the trial's values into ``runs/<study>/trials/<number>/``
(:func:`~rnnkit.tasks.runner.train_run` with ``validation_only``: the test split is never
evaluated) and scores the best checkpoint on the validation split. TPE proposes the values
(seeded from the config's seed), and a pruner stops trials whose validation figure, reported
at every validation by :class:`PruningCallback`, falls behind the others'.

The study lives in an Optuna storage — SQLite at ``runs/<study>/study.db`` unless a
SQLAlchemy URL is given — so that worker processes (``--jobs``), other machines sharing a
database, and a rerun after Ctrl-C all continue the same study: ``trials`` counts the
finished (complete or pruned) trials the study holds, so a rerun runs only what is missing.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..._optional import require
from ...training.config import RunConfig
from ...training.config_io import ConfigError, apply_overrides, read_toml, set_values
from ...training.trainer import Callback, NonFiniteLossError, stop_signal
from ..runner import _absolute_paths, config_from_raw, run_name_problem, train_run
from .space import TuneSpec, check_space, parse_tune_table

FINISHED = ("COMPLETE", "PRUNED")


class TuneInterrupted(Exception):
    """Ctrl-C (or SIGTERM) during a trial: the trial is recorded as failed, the study kept."""


@dataclass
class Tuning:
    """A checked study: the config without its ``[tune]`` table, the space and settings,
    where the study lives."""

    source: str
    raw: dict[str, Any]  # the config's tables, overrides applied, [tune] removed
    base: RunConfig
    spec: TuneSpec
    name: str
    root: Path  # runs/<name>
    storage: str
    metric: str
    direction: str  # minimize | maximize

    def config(self, values: dict[str, Any], **fixed: Any) -> RunConfig:
        """The run config with ``values`` (``{"section.key": value}``) filled in."""
        return config_from_raw(set_values(self.raw, {**values, **fixed}), self.source)


@dataclass
class TuneResult:
    """What a tuning session ended with (also written to ``report.md``)."""

    name: str
    root: Path
    storage: str
    finished: int = 0
    pruned: int = 0
    failed: int = 0
    best_number: int | None = None
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_config: Path | None = None
    report: Path | None = None
    signum: int = 0  # the signal that stopped the session (SIGINT: Ctrl-C, SIGTERM); 0: none
    errors: list[str] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        return bool(self.signum)


def prepare_tuning(path: str | Path, overrides: list[str] = (), *, name: str | None = None,
                   storage: str | None = None, runs_dir: str | Path = "runs") -> Tuning:
    """Read ``path`` and its ``[tune]`` table, check the whole space (raises ConfigError
    before any trial runs)."""
    raw = read_toml(path)
    raw = _absolute_paths(raw, Path(path).absolute().parent)
    raw = _absolute_paths(apply_overrides(raw, overrides), Path.cwd())
    table = raw.pop("tune", None)
    spec = parse_tune_table(table, source=str(path))
    base = config_from_raw(raw, str(path))
    check_space(raw, spec.space, config_from_raw, source=str(path))
    name = name or f"{base.name}-tune"
    problem = run_name_problem(name)
    if problem:
        raise ConfigError(f"--name {name!r}: {problem}")
    root = Path(runs_dir) / name
    if storage is None:
        storage = f"sqlite:///{(root / 'study.db').absolute()}"
    s = spec.settings
    direction = s.direction or ("minimize" if base.train.metric_mode == "min" else "maximize")
    return Tuning(str(path), raw, base, spec, name, root, storage, s.metric or base.train.metric,
                  direction)


def _optuna():
    optuna = require("optuna", "tune")
    # our own line per trial instead; errors that end a study are raised to the caller
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def _storage(t: Tuning):
    optuna = _optuna()
    kwargs = {"connect_args": {"timeout": 60}} if t.storage.startswith("sqlite") else {}
    # heartbeats: a trial whose process died (kill -9, a lost machine) is marked failed
    # after the grace period instead of counting as running forever
    return optuna.storages.RDBStorage(t.storage, engine_kwargs=kwargs, heartbeat_interval=30,
                                      grace_period=120)


def open_study(t: Tuning, worker: int = 0):
    """The study (created on first use), with a TPE sampler seeded from the config's seed,
    the number of trials already in the study and the worker's index (a rerun or a second
    worker does not repeat the first one's random start)."""
    for attempt in range(5):
        try:
            return _open_study(t, worker)
        except Exception as e:  # noqa: BLE001 - only the database's own errors are retried
            # processes opening a new storage together race to create its tables (one gets
            # an IntegrityError on alembic_version); the tables exist when it tries again
            if type(e) is ImportError:  # optuna's: the URL's database driver is missing
                raise ConfigError(f"storage {t.storage}: {e} (e.g. pip install "
                                  "psycopg2-binary for postgresql://, pymysql for "
                                  "mysql+pymysql://)") from None
            if not type(e).__module__.startswith("sqlalchemy"):
                raise
            from sqlalchemy.exc import ArgumentError  # (a URL no dialect reads)

            if attempt == 4 or isinstance(e, ArgumentError):
                reason = str(e).strip().splitlines()[0]
                raise ConfigError(f"storage {t.storage}: cannot open the study ({reason}); "
                                  "give an SQLAlchemy URL whose database can be reached, e.g. "
                                  "sqlite:///runs/study.db or postgresql://user@host/db"
                                  ) from None
            time.sleep(0.5 * (attempt + 1))


def _open_study(t: Tuning, worker: int):
    optuna = _optuna()
    t.root.mkdir(parents=True, exist_ok=True)
    storage = _storage(t)
    s = t.spec.settings
    pruner = {"median": lambda: optuna.pruners.MedianPruner(
                  n_startup_trials=s.pruner_startup_trials, n_warmup_steps=s.pruner_warmup_steps),
              "halving": lambda: optuna.pruners.SuccessiveHalvingPruner(
                  min_resource=s.halving_min_steps or "auto",
                  reduction_factor=s.halving_reduction_factor),
              "none": optuna.pruners.NopPruner}[s.pruner]()
    done = (len(storage.get_all_trials(storage.get_study_id_from_name(t.name)))
            if _exists(storage, t.name) else 0)
    seed = int(np.random.SeedSequence([t.base.seed, done, worker]).generate_state(1)[0])
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=s.sampler_startup_trials,
                                         multivariate=True, constant_liar=True)
    return optuna.create_study(storage=storage, study_name=t.name, direction=t.direction,
                               sampler=sampler, pruner=pruner, load_if_exists=True)


def _exists(storage, name: str) -> bool:
    return any(s.study_name == name for s in storage.get_all_studies())


class PruningCallback(Callback):
    """Reports the validation ``metric`` to the trial at each validation (step = optimizer
    steps) and stops the run when the pruner says so (never at the last validation: the
    trial has then cost all it will and counts as complete); stops it too once
    ``stop_requested()`` (Ctrl-C between trials' signal handlers)."""

    def __init__(self, trial, metric: str, stop_requested=lambda: False):
        self.trial, self.metric, self.stop_requested = trial, metric, stop_requested
        self.pruned_at: int | None = None

    def on_step_end(self, trainer, record):
        if self.stop_requested():
            trainer.stop("interrupted (rnnkit tune)")

    def on_eval_end(self, trainer, record, improved):
        value = record.get(self.metric)
        if value is None:
            return
        self.trial.report(float(value), trainer.state.step)
        if trainer.state.step >= trainer.total_steps:
            return  # the last validation: stopping now would save nothing, keep the trial
        if self.trial.should_prune():
            self.pruned_at = trainer.state.step
            trainer.stop(f"pruned by the tuner at step {trainer.state.step}")


class _Worker:
    """Runs trials until the study holds ``total`` finished ones, the deadline passes or a
    signal asks to stop (after the trial in progress, which the trainer ends cleanly)."""

    def __init__(self, t: Tuning, total: int, deadline: float | None, worker: int,
                 callbacks: list[Callback] = (), stop_event=None):
        self.t, self.total, self.deadline, self.worker = t, total, deadline, worker
        self.callbacks, self.current = list(callbacks), None
        self.event, self._stop = stop_event, False  # the event: set by the parent's Ctrl-C
        self.signum = 0  # the signal that stopped it (0: none, or the parent's event)

    @property
    def stop(self) -> bool:
        return self._stop or (self.event is not None and self.event.is_set())

    def _on_signal(self, signum, frame):
        self._stop, self.signum = True, self.signum or signum

    def run(self) -> bool:
        """True when it ended by a signal."""
        optuna = _optuna()
        study = open_study(self.t, self.worker)
        main = threading.current_thread() is threading.main_thread()
        old = {s: signal.signal(s, self._on_signal)
               for s in (signal.SIGINT, signal.SIGTERM) if main}
        try:
            while not self.stop and self._room(study, optuna):
                if self.deadline is not None and time.time() >= self.deadline:
                    break
                try:
                    study.optimize(self.objective, n_trials=1, callbacks=[self._said])
                except TuneInterrupted as e:  # (the trainer's handler saw the signal)
                    say(f"trial {self.current} {e}: recorded as failed; the "
                        "study is kept and the same command continues it")
                    self._stop, self.signum = True, self.signum or stop_signal(str(e))
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        return self.stop

    def _room(self, study, optuna) -> bool:
        optuna.storages.fail_stale_trials(study)
        states = [getattr(optuna.trial.TrialState, n) for n in (*FINISHED, "RUNNING")]
        return len(study.get_trials(deepcopy=False, states=states)) < self.total

    def objective(self, trial) -> float:
        optuna = _optuna()
        self.current = trial.number
        values = {p.key: p.suggest(trial) for p in self.t.spec.space}
        cfg = self.t.config(values, **{"train.progress": "off"})
        run_dir = self.t.root / "trials" / str(trial.number)
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("process", f"{socket.gethostname()}:{os.getpid()}")
        pruning = PruningCallback(trial, self.t.metric, lambda: self.stop)
        try:
            result = train_run(cfg, run_dir, overwrite=True, validation_only=True,
                               callbacks=[pruning, *self.callbacks])
        except NonFiniteLossError as e:  # a diverging trial: pruned, with the reason
            trial.set_user_attr("ended", str(e).split(";")[0])
            raise optuna.TrialPruned(str(e)) from None
        trial.set_user_attr("steps", result.state.step)
        trial.set_user_attr("ended", result.state.stop_reason)
        if pruning.pruned_at is not None:
            raise optuna.TrialPruned(result.state.stop_reason)
        if result.interrupted:
            raise TuneInterrupted(result.state.stop_reason)
        figures = result.results["val"]
        if self.t.metric not in figures:
            raise ConfigError(f"tune metric {self.t.metric!r}: the validation split reports "
                              f"{', '.join(map(repr, figures))}")
        return float(figures[self.t.metric])

    def _said(self, study, trial) -> None:
        say(trial_line(study, trial, self.total))


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def trial_line(study, trial, total: int) -> str:
    """One line per finished trial: state, figure, best so far, values, time."""
    state = trial.state.name.lower()
    done = sum(t.state.name in FINISHED for t in study.get_trials(deepcopy=False))
    value = "" if trial.value is None else f"{trial.value:.5g}"
    if state == "pruned":
        state = f"pruned at step {trial.last_step}" if trial.last_step is not None else state
    try:
        best = f"best {study.best_value:.5g} (trial {study.best_trial.number})"
    except ValueError:  # no complete trial yet
        best = "no complete trial yet"
    params = " ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    seconds = trial.duration.total_seconds() if trial.duration else 0.0
    return (f"trial {trial.number} {state} ({done}/{total}): {value}  [{best}]  {params}  "
            f"{seconds:.0f}s")


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _work(t: Tuning, total: int, deadline: float | None, worker: int, threads: int,
          stop_event) -> None:
    """A worker process: exit status 0 done, 128 + the signal that stopped it (130 for the
    parent's event), 1 error (printed)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    try:
        w = _Worker(t, total, deadline, worker, stop_event=stop_event)
        code = 128 + (w.signum or signal.SIGINT) if w.run() else 0
    except Exception as e:  # noqa: BLE001 - reported by the parent as this worker's error
        say(f"rnnkit tune: worker {worker}: error: {e}")
        code = 1
    sys.exit(code)  # a process target's return value is not its exit status


def run_tuning(t: Tuning, trials: int | None = None, timeout: float | None = None,
               jobs: int = 1, callbacks: list[Callback] = ()) -> TuneResult:
    """Run the study until it holds ``trials`` finished trials (default: the ``[tune]``
    table's), no new trial after ``timeout`` minutes, in ``jobs`` worker processes; then
    write ``best.toml``, ``report.md`` and ``plots/``. ``callbacks`` go to every trial's
    Trainer (``jobs = 1`` only: they are not sent to other processes)."""
    from .report import write_outputs

    total = trials if trials is not None else t.spec.settings.trials
    minutes = timeout if timeout is not None else t.spec.settings.timeout
    deadline = time.time() + minutes * 60 if minutes else None
    if total < 1 or jobs < 1:
        raise ConfigError(f"--trials {total} --jobs {jobs}: both must be at least 1")
    if not minutes >= 0:  # (NaN too)
        raise ConfigError(f"--timeout {minutes}: minutes must be a number >= 0 (0: no limit)")
    open_study(t)  # created once here, so workers never race to create it
    result = TuneResult(t.name, t.root, t.storage)
    if jobs == 1:
        worker = _Worker(t, total, deadline, 0, callbacks)
        try:
            if worker.run():
                result.signum = worker.signum or signal.SIGINT
        except KeyboardInterrupt as e:  # (SIGTERM outside a trial: the CLI's Interrupted)
            result.signum = getattr(e, "signum", signal.SIGINT)
    else:
        result.signum, result.errors = _run_processes(t, total, deadline, jobs)
    write_outputs(t, open_study(t), result)
    return result


def _run_processes(t: Tuning, total: int, deadline, jobs: int) -> tuple[int, list[str]]:
    """``jobs`` spawned processes (fresh interpreters: no forked torch state). Ctrl-C
    reaches them all (one process group): a worker in a trial ends it cleanly; one still
    starting up ignores the signal (inherited SIG_IGN) and sees the parent's event instead.
    SIGTERM (``kill PID``) reaches this process alone: it is passed on to the workers as
    Ctrl-C, so that they do not go on with the study, orphaned or awaited. Returns the
    signal that stopped the session (the parent's, else a worker's; 0: none) and errors."""
    threads = t.base.train.threads or max(1, (os.cpu_count() or 1) // jobs)
    ctx = multiprocessing.get_context("spawn")
    stop, got = ctx.Event(), []
    procs = [ctx.Process(target=_work, args=(copy.deepcopy(t), total, deadline, i, threads,
                                             stop)) for i in range(jobs)]

    def on_signal(signum, frame):
        stop.set()
        got.append(signum)
        say("rnnkit tune: stopping after the trials in progress ...")
        if signum == signal.SIGTERM:
            for p in procs:
                if getattr(p, "pid", None) is not None and p.exitcode is None:
                    os.kill(p.pid, signal.SIGINT)

    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    old_term = signal.signal(signal.SIGTERM, on_signal)  # (a spawned child gets the default)
    try:
        for p in procs:
            p.start()
        signal.signal(signal.SIGINT, on_signal)
        for p in procs:
            while p.is_alive():
                p.join(0.5)
    finally:
        signal.signal(signal.SIGINT, old)
        signal.signal(signal.SIGTERM, old_term)
    codes = [p.exitcode for p in procs]
    signals = [_STOPPED[c] for c in codes if c in _STOPPED]
    errors = [f"worker {i} ended with status {c}" for i, c in enumerate(codes)
              if c not in (0, *_STOPPED)]
    return (got + signals + [0])[0], errors


# a worker's exit status when a signal stopped it: 128 + its number, or minus it (killed)
_STOPPED = {128 + s: s for s in (signal.SIGINT, signal.SIGTERM)} | {
    -s: s for s in (signal.SIGINT, signal.SIGTERM)}
