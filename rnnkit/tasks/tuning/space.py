"""The ``[tune]`` table of a config: the search space and the tuner's settings.

A key with a dot names a config key to search, its value says how::

    [tune]
    "model.hidden_size" = [32, 64, 128]                   # a list: one of these (categorical)
    "train.lr" = {low = 1e-3, high = 1e-2, log = true}    # floats: a range, log-uniform
    "train.batch_size" = {low = 32, high = 128, step = 32} # ints (low and high ints): a range
    trials = 20                                           # bare keys: the settings below

(TOML's unquoted ``model.hidden_size = [...]`` and a ``[tune.model]`` table mean the same.)
A range table takes ``low``, ``high``, ``log`` (sample the logarithm uniformly; low > 0) and
``step`` (a grid from ``low``; not with ``log``); it is an integer range when ``low`` and
``high`` are integers. Every point of the space is checked like a config before any trial
runs, so a typo (``model.hiden_size``) or a value out of range fails at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ...training.config import choice, number
from ...training.config_io import SECTIONS, ConfigError, build_table, nearest, set_values


@dataclass
class TuneSettings:
    """The bare keys of ``[tune]``: how long to search, what to optimise, when to prune."""

    trials: int = number(20, 1)  # trials the study holds when done (--trials overrides)
    timeout: float = number(0.0, 0.0)  # minutes; no new trial starts after (0 = none)
    metric: str = ""  # validation figure to optimise; "" = train.metric
    direction: str = choice("", "", "minimize", "maximize")  # "" = from train.metric_mode
    sampler_startup_trials: int = number(10, 0)  # random trials before TPE models the space
    # median: stop a trial whose validation figure is worse than the median of the finished
    # trials at the same step | halving: successive halving (asynchronous) | none
    pruner: str = choice("median", "median", "halving", "none")
    pruner_startup_trials: int = number(5, 0)  # median: finished trials before any pruning
    # optimizer steps before a trial may be pruned: keep it past a plateau every run crosses
    # (the adding problem sits near MSE 0.16 for its first ~1000 steps)
    pruner_warmup_steps: int = number(0, 0)
    halving_min_steps: int = number(0, 0)  # halving: steps of the first rung (0 = Optuna's)
    halving_reduction_factor: int = number(3, 2)  # halving: 1/factor of trials go on


NOT_TUNED = {"name": "every trial is a run under runs/<study>/trials/",
             "seed": "every trial uses the config's seed, so all see the same data"}


@dataclass(frozen=True)
class Param:
    """One dimension: ``choices`` (categorical) or the range ``low``..``high``."""

    key: str  # "section.key"
    choices: tuple = ()
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None

    @property
    def kind(self) -> str:
        if self.choices:
            return "categorical"
        return "int" if isinstance(self.low, int) and isinstance(self.high, int) else "float"

    def suggest(self, trial) -> Any:
        """The trial's value (Optuna's ``suggest_*``; the parameter is named ``key``)."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, self.low, self.high, step=self.step or 1,
                                     log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def corners(self) -> list:
        """The values that bound the dimension (each checked before any trial)."""
        return list(self.choices) if self.choices else [self.low, self.high]

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(map(repr, self.choices))
        extra = (", log" if self.log else "") + (f", step {self.step}" if self.step else "")
        return f"{self.kind} {self.low}..{self.high}{extra}"


@dataclass
class TuneSpec:
    settings: TuneSettings = field(default_factory=TuneSettings)
    space: list[Param] = field(default_factory=list)


RANGE_KEYS = ("low", "high", "log", "step")
SCALARS = (bool, int, float, str)


def _flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"hidden_size": [...]}}`` -> ``{"model.hidden_size": [...]}``; a table
    with ``low``/``high`` is a range, not a section."""
    out = {}
    for key, value in table.items():
        name = prefix + key
        if isinstance(value, dict) and not ({"low", "high"} & set(value)) and (
                prefix or key in SECTIONS):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _param(key: str, value: Any, errors: list[str]) -> Param | None:
    where = f"tune {key!r}"
    if isinstance(value, list):
        if not value:
            errors.append(f"{where}: an empty list of choices")
        elif not all(isinstance(v, SCALARS) for v in value):
            errors.append(f"{where} = {value!r}: choices must be numbers, strings or booleans")
        elif len(set(map(repr, value))) < len(value):
            errors.append(f"{where} = {value!r}: a choice is repeated")
        else:
            return Param(key, choices=tuple(value))
        return None
    if not isinstance(value, dict):
        errors.append(f"{where} = {value!r}: expected a list of choices or a range table "
                      "{low = ..., high = ...}")
        return None
    unknown = sorted(set(value) - set(RANGE_KEYS))
    problems = [f"unknown key {k!r}{nearest(k, RANGE_KEYS)}" for k in unknown]
    low, high, log, step = (value.get(k) for k in RANGE_KEYS)
    numbers = [v for v in (low, high, step) if v is not None]
    if low is None or high is None:
        problems.append("a range needs low and high")
    elif not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                 for v in numbers):
        problems.append("low, high and step must be finite numbers")
    elif not low < high:
        problems.append(f"low ({low}) must be below high ({high})")
    elif log is not None and not isinstance(log, bool):
        problems.append(f"log = {log!r}: expected true or false")
    elif log and low <= 0:
        problems.append(f"log = true needs low > 0 (got {low})")
    elif log and step is not None:
        problems.append("step and log = true do not go together (Optuna samples either)")
    elif step is not None and step <= 0:
        problems.append(f"step = {step}: must be > 0")
    elif step is not None and isinstance(low, int) and isinstance(high, int) \
            and not isinstance(step, int):
        problems.append(f"step = {step}: an integer range takes an integer step")
    if problems:
        errors += [f"{where}: {p}" for p in problems]
        return None
    return Param(key, low=low, high=high, log=bool(log), step=step)


def parse_tune_table(table: Any, *, source: str) -> TuneSpec:
    """Settings and space from the ``[tune]`` table (raises ConfigError naming ``source``
    and every problem)."""
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{source}: no [tune] table: write the search space there, e.g.\n"
                          '  [tune]\n  "model.hidden_size" = [32, 64, 128]\n'
                          '  "train.lr" = {low = 1e-4, high = 1e-2, log = true}')
    errors: list[str] = []
    flat = _flatten(table)
    bare = {k: v for k, v in flat.items() if "." not in k}
    for key in sorted(set(bare) & set(NOT_TUNED)):
        errors.append(f"tune {key!r}: not searched ({NOT_TUNED[key]})")
    settings = build_table(TuneSettings, {k: v for k, v in bare.items() if k not in NOT_TUNED},
                           "tune", errors)
    space = [_param(k, v, errors) for k, v in flat.items() if "." in k]
    if not errors and not space:
        errors.append('the [tune] table names no config key to search (e.g. '
                      '"model.hidden_size" = [32, 64])')
    if errors:
        raise ConfigError(f"{source}: invalid [tune] table:\n  " + "\n  ".join(errors))
    return TuneSpec(settings, [p for p in space if p is not None])


def check_space(raw: dict, space: list[Param], build, *, source: str) -> None:
    """Build the config at every corner of every dimension (``build(raw, where)`` checks
    like ``rnnkit train``), so that an unknown key or a value out of range is reported, all
    at once, before any trial runs."""
    problems = []
    for p in space:
        for value in p.corners():
            try:
                build(set_values(raw, {p.key: value}), f"{source} [tune] {p.key!r} = {value!r}")
            except ConfigError as e:
                problems.append(str(e))
                break  # one message per dimension
    if problems:
        raise ConfigError("\n".join(problems))
