"""Reading and checking run configs (rnnkit/training/config_io.py): every message in full,
each rule at its boundary, the sections that may be missing or malformed, and ``--set``
overrides (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from rnnkit.tasks.runner import config_from_raw
from rnnkit.training.config import TaskConfig
from rnnkit.training.config_io import (
    ConfigError,
    apply_overrides,
    build_config,
    build_table,
    nearest,
    parse_override,
    set_values,
)

BASE = {"task": {"name": "adding"}, "train": {"steps": 5}}


def _problems(raw) -> list[str]:
    with pytest.raises(ConfigError) as err:
        config_from_raw(raw, "c.toml")
    head, *lines = str(err.value).split("\n  ")
    assert head == "c.toml: invalid config:"
    return lines


def test_a_config_with_no_tables_is_the_default_task_and_sections():
    cfg = config_from_raw({"train": {"steps": 3}}, "c.toml")
    assert cfg.task.name == "adding" and cfg.model.hidden_size == 64
    assert cfg.diagnostics.every == 100 and cfg.logging.tensorboard is False
    cfg = config_from_raw({**BASE, "diagnostics": {"every": 7}, "logging": {"tensorboard": True}},
                          "c.toml")
    assert cfg.diagnostics.every == 7 and cfg.logging.tensorboard is True


def test_no_train_table_trains_with_the_defaults():
    cfg = config_from_raw({"task": {"name": "adding"}}, "c.toml")
    assert cfg.train.steps > 0 and cfg.train.lr > 0


def test_options_is_not_a_model_key_a_config_may_set():
    with pytest.raises(ConfigError, match="unknown key 'model.options'"):
        build_config({"model": {"options": {"a": 1}}, "train": {"steps": 1}}, source="c",
                     task_configs={"adding": TaskConfig}, model_keys=lambda task: ["bar"])


def test_sections_that_are_not_tables_are_named():
    assert _problems({**BASE, "diagnostics": 5}) == [
        "diagnostics = 5: expected a table [diagnostics]"]
    assert _problems({**BASE, "logging": "on"}) == ["logging = 'on': expected a table [logging]"]
    assert _problems({**BASE, "tune": 3}) == [
        "tune = 3: expected a table [tune] (read by rnnkit tune)"]
    assert config_from_raw({**BASE, "tune": {"trials": 3}}, "c.toml").name == "run"
    assert _problems({"task": "adding", "train": {"steps": 5}}) == [
        "task.name = '': must be one of " + _task_names(),
        "task = 'adding': expected a table [task]"]
    # (was silently trained with the default [train] before)
    assert _problems({"task": {"name": "adding"}, "train": 5}) == [
        "train = 5: expected a table [train]"]


def _task_names():
    from rnnkit.tasks import TASKS

    return ", ".join(map(repr, sorted(TASKS)))


def test_unknown_keys_are_named_with_their_section_and_the_nearest_one():
    lines = _problems({**BASE, "sede": 1})
    assert lines == ["unknown key 'sede' (did you mean 'seed'?); allowed: diagnostics, "
                     "logging, model, name, seed, task, train"]
    lines = _problems({"task": {"name": "adding"}, "train": {"steps": 5, "lrate": 0.1}})
    assert lines[0].startswith("unknown key 'train.lrate' (did you mean 'lr'?); allowed: ")
    lines = _problems({**BASE, "zzzz": 1})
    assert lines[0].startswith("unknown key 'zzzz'; allowed: ")  # nothing near
    assert _problems({"task": {"name": "addin"}, "train": {"steps": 5}}) == [
        "task.name = 'addin': must be one of " + _task_names() + " (did you mean 'adding'?)"]


@pytest.mark.parametrize("section, key, value, message", [
    ("train", "lr", "x", "train.lr = 'x': expected float, got str"),
    ("train", "lr", True, "train.lr = True: expected float, got bool"),
    ("train", "lr", math.nan, "train.lr = nan: must be a finite number"),
    ("train", "batch_size", 1.5, "train.batch_size = 1.5: expected int, got float"),
    ("train", "batch_size", False, "train.batch_size = False: expected int, got bool"),
    ("diagnostics", "plots", 1, "diagnostics.plots = 1: expected bool, got int"),
    ("model", "cell", 3, "model.cell = 3: expected str, got int"),
    ("model", "dropout", 1.5, "model.dropout = 1.5: must be <= 1.0"),
    ("model", "dropout", -0.5, "model.dropout = -0.5: must be >= 0.0"),
    ("train", "optimizer", "adamm", "train.optimizer = 'adamm': must be one of 'sgd', 'adam', "
                                    "'adamw', 'rmsprop' (did you mean 'adam'?)"),
])
def test_each_value_rule_has_its_message(section, key, value, message):
    raw = {"task": {"name": "adding"}, "train": {"steps": 5}}
    raw.setdefault(section, {})[key] = value
    lines = _problems(raw)
    assert len(lines) == 1 and lines[0].startswith(message)


def test_bounds_are_inclusive_and_ints_become_floats():
    cfg = config_from_raw({**BASE, "model": {"dropout": 1.0},
                           "train": {"steps": 5, "lr": 1, "momentum": 0.0}}, "c.toml")
    assert cfg.model.dropout == 1.0 and cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert config_from_raw({**BASE, "model": {"dropout": 0.0}}, "c.toml").model.dropout == 0.0


def test_steps_and_epochs():
    assert _problems({"task": {"name": "adding"}, "train": {"steps": 0}}) == [
        "train.steps and train.epochs are both 0: set one of them"]
    cfg = config_from_raw({"task": {"name": "adding"}, "train": {"epochs": 2}}, "c.toml")
    assert (cfg.train.steps, cfg.train.epochs) == (0, 2)
    assert _problems({**BASE, "train": {"steps": 5, "schedule_clock": "time"}}) == [
        'train.schedule_clock = "time" runs the schedule over train.max_minutes: set '
        "train.max_minutes > 0"]


def test_a_config_error_lists_every_problem_each_on_its_line():
    lines = _problems({"task": {"name": "adding"}, "train": {"steps": 5, "lr": "x"},
                       "model": {"dropout": 2.0}, "diagnostics": {"every": -1}})
    assert lines == ["model.dropout = 2.0: must be <= 1.0",
                     "train.lr = 'x': expected float, got str",
                     "diagnostics.every = -1: must be >= 0"]


def test_model_keys_pass_through_as_the_task_allows():
    tasks = {"adding": TaskConfig}
    cfg = build_config({"model": {"foo": 1}, "train": {"steps": 1}}, source="c",
                       task_configs=tasks)  # model_keys None: any extra key passes
    assert cfg.model.options == {"foo": 1}
    with pytest.raises(ConfigError, match="unknown key 'model.foo'"):
        build_config({"model": {"foo": 1}, "train": {"steps": 1}}, source="c",
                     task_configs=tasks, model_keys=lambda task: ["bar"])


def test_build_table_checks_plain_typed_dataclasses():
    Plain = dataclasses.make_dataclass("Plain", [("n", int, 1), ("items", list, None),
                                                 ("x", float, 0.0)])
    errors: list[str] = []
    got = build_table(Plain, {"n": 3, "items": ["a"], "x": 2}, "p", errors)
    assert errors == [] and (got.n, got.items, got.x) == (3, ["a"], 2.0)
    build_table(Plain, {"n": "3", "x": "y"}, "p", errors)
    assert errors == ["p.n = '3': expected int, got str", "p.x = 'y': expected float, got str"]
    errors = []
    build_table(Plain, {"n": 2, "m": 3}, "", errors)
    assert errors == ["unknown key 'm'; allowed: items, n, x"]
    errors = []
    build_table(Plain, {"itemz": 2}, "p", errors)
    assert errors == ["unknown key 'p.itemz' (did you mean 'items'?); allowed: items, n, x"]


def test_overrides():
    assert parse_override("train.lr=3e-4") == (["train", "lr"], 3e-4)
    assert parse_override(" name = a=b ") == (["name"], "a=b")  # the first = splits
    assert parse_override("task.columns=[\"a\", \"b\"]") == (["task", "columns"], ["a", "b"])
    for bad in ("train.lr", "=3", " =3"):
        with pytest.raises(ConfigError) as err:
            parse_override(bad)
        assert str(err.value) == (f"--set {bad!r}: expected section.key=value, e.g. "
                                  "train.lr=3e-4")
    raw = {"train": {"epochs": 3, "lr": 0.1}, "model": {"hidden_size": 8}}
    out = apply_overrides(raw, ["train.steps=10", "model.num_layers=2", "seed=4"])
    assert out["train"] == {"epochs": 0, "lr": 0.1, "steps": 10}
    assert out["model"] == {"hidden_size": 8, "num_layers": 2} and out["seed"] == 4
    assert raw == {"train": {"epochs": 3, "lr": 0.1}, "model": {"hidden_size": 8}}  # a copy
    assert apply_overrides({"train": {"steps": 9}}, ["train.epochs=2"])["train"] == {
        "steps": 0, "epochs": 2}
    both = apply_overrides({"train": {"steps": 9}}, ["train.epochs=2", "train.steps=5"])
    assert both["train"] == {"steps": 5, "epochs": 2}  # both set: both kept
    other = apply_overrides({"train": {"steps": 9}, "task": {}}, ["task.steps=2"])
    assert other["train"] == {"steps": 9}  # a key named steps elsewhere clears nothing
    assert apply_overrides({}, ["train.lr=0.5"]) == {"train": {"lr": 0.5}}
    assert set_values({}, {"task.columns.x": 1}) == {"task": {"columns": {"x": 1}}}
    with pytest.raises(ConfigError) as err:
        apply_overrides({"train": {"lr": 0.1}}, ["train.lr.x=1"])
    assert str(err.value) == "--set 'train.lr.x=1': 'lr' is not a section"
    assert nearest("hiden_size", ["hidden_size", "cell"]) == " (did you mean 'hidden_size'?)"
    assert nearest("zzz", ["hidden_size"]) == ""


def test_a_task_name_that_is_not_text_is_named_not_a_type_error():
    # (found by the config fuzz test: a list was looked up as a dict key)
    for name in ([], {"a": 1}, 3):
        problems = _problems({"task": {"name": name}})
        assert problems[0] == f"task.name = {name!r}: must be one of " + _task_names()


def test_a_config_file_whose_task_name_is_not_text_is_a_config_error(tmp_path):
    """(load_config makes the task's data paths absolute first: it must not look a list up
    in the task registry either)"""
    from rnnkit.tasks import load_config

    for text in ('["a"]', "{ a = 1 }", "3"):
        path = tmp_path / "c.toml"
        path.write_text(f"[task]\nname = {text}\n[model]\nhidden_size = 4\n")
        with pytest.raises(ConfigError, match="task.name = "):
            load_config(path)
