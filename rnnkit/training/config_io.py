"""Read, override, check and write run configs (TOML <-> :class:`RunConfig`).

Every problem is reported before training starts, all at once, each naming the file, the
key, the value and what is allowed (with the nearest key for a typo).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import tomli_w

from .._files import naming
from .config import (
    DiagnosticsConfig,
    LoggingConfig,
    ModelConfig,
    RunConfig,
    TaskConfig,
    TrainConfig,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


# the tables of a run config; every other top-level key is a field of RunConfig itself
SECTIONS = ("task", "model", "train", "diagnostics", "logging")
# tables a config file may hold for other commands: training ignores them (a tuning config
# trains as it is, from the values written outside its search space)
OTHER_TABLES = {"tune": "rnnkit tune"}


class ConfigError(ValueError):
    """A config that cannot be run; the message lists every problem found."""


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """The raw tables of a TOML file, with a clear error for a missing or broken file."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; give a config file (.toml)") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {e.object[e.start]:#04x} at "
                          f"offset {e.start}); save the config as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=3e-4"`` -> (["train", "lr"], 0.0003); a bare word stays a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected section.key=value, e.g. train.lr=3e-4")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return key.strip().split("."), parsed


def _steps_or_epochs(table: dict[str, Any], keys: Iterable[str]) -> None:
    """Setting one of train.steps / train.epochs (and not the other) clears the other."""
    keys = set(keys)
    if "epochs" in keys and "steps" not in keys:
        table["steps"] = 0
    elif "steps" in keys and "epochs" not in keys:
        table["epochs"] = 0


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of ``raw`` with each ``--set key=value`` applied."""
    return _set_paths(raw, [(*parse_override(text), f"--set {text!r}") for text in overrides])


def set_values(raw: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``raw`` with ``{"section.key": value}`` set (``train.steps`` and
    ``train.epochs`` replace each other as with ``--set``)."""
    return _set_paths(raw, [(key.split("."), value, key) for key, value in values.items()])


def _set_paths(raw: dict[str, Any], items: list[tuple[list[str], Any, str]]) -> dict[str, Any]:
    """A copy of ``raw`` with each (path, value, where) set; ``where`` names it in errors."""
    raw = copy.deepcopy(raw)
    train_keys = []
    for path, value, where in items:
        table = raw
        for part in path[:-1]:
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{where}: {part!r} is not a section")
        table[path[-1]] = value
        if path[:1] == ["train"] and len(path) == 2:
            train_keys.append(path[1])
    if train_keys:
        _steps_or_epochs(raw.setdefault("train", {}), train_keys)
    return raw


def nearest(key: str, allowed: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``allowed``, or ""."""
    return _nearest(key, allowed)


def _nearest(key: str, allowed: Iterable[str]) -> str:
    near = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.5)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _check_value(f: dataclasses.Field, where: str, value: Any) -> tuple[Any, str | None]:
    """(value converted to the field's type, or an error message)."""
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
    }.get(kind, True)
    if not ok:
        return value, f"{where} = {value!r}: expected {kind}, got {type(value).__name__}"
    if kind == "float":
        value = float(value)
        if not math.isfinite(value):  # NaN slips through every range check
            return value, f"{where} = {value!r}: must be a finite number"
    choices, lo, hi = (f.metadata.get(k) for k in ("choices", "min", "max"))
    if choices and value not in choices:
        allowed = ", ".join(map(repr, choices))
        return value, f"{where} = {value!r}: must be one of {allowed}{_nearest(value, choices)}"
    if lo is not None and value < lo:
        return value, f"{where} = {value!r}: must be >= {lo}"
    if hi is not None and value > hi:
        return value, f"{where} = {value!r}: must be <= {hi}"
    return value, None


def build_table(cls: type, table: Any, section: str, errors: list[str]):
    """Dataclass ``cls`` filled from ``table`` (a TOML table named ``section``), its
    fields checked as a config's are; problems are appended to ``errors``."""
    return _build(cls, table, section, errors)[0]


def _build(cls: type, table: Any, section: str, errors: list[str], extra=None):
    """Fill dataclass ``cls`` from ``table``; ``extra(key)`` says whether to keep an unknown
    key (returned in a dict) instead of reporting it."""
    prefix = f"{section}." if section else ""
    if not isinstance(table, dict):
        errors.append(f"{section} = {table!r}: expected a table [{section}]")
        return cls(), {}
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "options"}
    values, unknown = {}, {}
    for key, value in table.items():
        if key in fields:
            values[key], problem = _check_value(fields[key], prefix + key, value)
            if problem:
                errors.append(problem)
        elif extra is not None and extra(key):
            unknown[key] = value
        else:
            allowed = sorted({*fields, *(extra.allowed if extra is not None else ())})
            errors.append(f"unknown key {prefix + key!r}{_nearest(key, allowed)}; "
                          f"allowed: {', '.join(allowed)}")
    return cls(**values), unknown


class _ModelExtras:
    """Which extra ``[model]`` keys pass through to the model (None: any)."""

    def __init__(self, allowed: Iterable[str] | None):
        self.allowed = set(allowed) if allowed is not None else set()
        self.any = allowed is None

    def __call__(self, key: str) -> bool:
        return self.any or key in self.allowed


def build_config(
    raw: dict[str, Any],
    *,
    source: str,
    task_configs: dict[str, type[TaskConfig]],
    model_keys: Callable[[str], Iterable[str] | None] = lambda task: None,
    checks: Callable[[RunConfig], list[str]] = lambda cfg: [],
) -> RunConfig:
    """Check ``raw`` (tables from TOML + overrides) and build the typed config.

    ``task_configs`` maps task names to their config classes; ``model_keys(task)`` lists the
    extra ``[model]`` keys the task's model takes; ``checks(cfg)`` adds cross-field problems.
    Raises :class:`ConfigError` naming ``source`` and every problem.
    """
    errors: list[str] = []
    top, _ = _build(RunConfig, {k: v for k, v in raw.items()
                                if k not in SECTIONS and k not in OTHER_TABLES}, "", errors)
    for key, command in OTHER_TABLES.items():
        if key in raw and not isinstance(raw[key], dict):
            errors.append(f"{key} = {raw[key]!r}: expected a table [{key}] (read by {command})")
    task_table = raw.get("task", {})
    task_name = task_table.get("name", TaskConfig.name) if isinstance(task_table, dict) else ""
    if not isinstance(task_name, str) or task_name not in task_configs:
        names = ", ".join(map(repr, sorted(task_configs)))
        errors.append(f"task.name = {task_name!r}: must be one of {names}"
                      f"{_nearest(str(task_name), task_configs)}")
        task_cls = TaskConfig
        task_name = task_name if isinstance(task_name, str) else ""  # (a list is no key)
    else:
        task_cls = task_configs[task_name]
    task, _ = _build(task_cls, task_table, "task", errors)
    model, options = _build(ModelConfig, raw.get("model", {}), "model", errors,
                            extra=_ModelExtras(model_keys(task_name)))
    model.options = options
    train_table = raw.get("train", {})  # not a table: _build names it
    if isinstance(train_table, dict):
        train_table = dict(train_table)
        if "epochs" in train_table and "steps" not in train_table:
            train_table["steps"] = 0
    train, _ = _build(TrainConfig, train_table, "train", errors)
    diagnostics, _ = _build(DiagnosticsConfig, raw.get("diagnostics", {}), "diagnostics", errors)
    logging, _ = _build(LoggingConfig, raw.get("logging", {}), "logging", errors)
    cfg = RunConfig(name=top.name, seed=top.seed, task=task, model=model, train=train,
                    diagnostics=diagnostics, logging=logging)
    if not errors:
        if cfg.train.steps == 0 and cfg.train.epochs == 0:
            errors.append("train.steps and train.epochs are both 0: set one of them")
        if cfg.train.schedule_clock == "time" and not cfg.train.max_minutes:
            errors.append('train.schedule_clock = "time" runs the schedule over '
                          "train.max_minutes: set train.max_minutes > 0")
        errors += checks(cfg)
    if errors:
        raise ConfigError(f"{source}: invalid config:\n  " + "\n  ".join(errors))
    return cfg


def write_toml(cfg: RunConfig, path: str | os.PathLike) -> None:
    """The resolved config, every default filled in (atomic write)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with naming(tmp), open(tmp, "wb") as f:
        tomli_w.dump(cfg.to_dict(), f)
    os.replace(tmp, path)
