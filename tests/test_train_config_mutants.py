"""The run config's dataclasses (rnnkit/training/config.py) against a table written out here:
every field's default, every range's limits (the limit itself allowed, one past it refused
with a message naming the key), every choice, model options and ``to_dict`` (found by
mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import dataclasses

import pytest

from rnnkit.tasks.runner import config_from_raw
from rnnkit.training.config import (
    DiagnosticsConfig,
    LoggingConfig,
    ModelConfig,
    RunConfig,
    TaskConfig,
    TrainConfig,
    choice,
    number,
)
from rnnkit.training.config_io import ConfigError, apply_overrides, build_table

# key -> (default, min, max); None: unbounded
RANGES = {
    "train": {
        "steps": (1000, 0, None), "epochs": (0, 0, None), "max_minutes": (0.0, 0.0, None),
        "batch_size": (64, 1, None), "lr": (1e-3, 0.0, None),
        "weight_decay": (0.0, 0.0, None), "momentum": (0.0, 0.0, 1.0),
        "beta1": (0.9, 0.0, 1.0), "beta2": (0.999, 0.0, 1.0), "eps": (1e-8, 0.0, None),
        "warmup_steps": (0, 0, None), "min_lr_ratio": (0.0, 0.0, 1.0),
        "step_size": (1000, 1, None), "gamma": (0.5, 0.0, 1.0),
        "plateau_patience": (3, 0, None), "clip_norm": (1.0, 0.0, None),
        "clip_value": (0.0, 0.0, None), "tbptt": (0, 0, None), "eval_every": (200, 1, None),
        "log_every": (20, 1, None), "early_stopping": (0, 0, None),
        "max_consecutive_skips": (100, 0, None),
        "target": (0.0, None, None), "threads": (0, 0, None)},
    "model": {"hidden_size": (64, 1, None), "num_layers": (1, 1, None),
              "dropout": (0.0, 0.0, 1.0)},
    "diagnostics": {"every": (100, 0, None), "batch_size": (32, 1, None)},
}
# key -> (default, the allowed values in order)
CHOICES = {
    "optimizer": ("adam", ("sgd", "adam", "adamw", "rmsprop")),
    "schedule": ("constant", ("constant", "cosine", "step", "plateau")),
    "schedule_clock": ("steps", ("steps", "time")),
    "batching": ("shuffle", ("shuffle", "bucket", "stream")),
    "metric_mode": ("min", ("min", "max")),
    "on_nonfinite": ("stop", ("stop", "skip")),
    "precision": ("fp32", ("fp32", "bf16")),
    "device": ("auto", ("auto", "cpu", "cuda")),
    "progress": ("auto", ("auto", "on", "off")),
}
# fields with neither a range nor choices: key -> default
PLAIN = {
    "train": {"nesterov": False, "metric": "loss"},
    "model": {"cell": "lstm", "bidirectional": False, "options": {}},
    "diagnostics": {"plots": True},
    "logging": {"tensorboard": False},
}
CLASSES = {"train": TrainConfig, "model": ModelConfig, "diagnostics": DiagnosticsConfig,
           "logging": LoggingConfig}


def _defaults(section):
    out = {k: v[0] for k, v in RANGES.get(section, {}).items()}
    if section == "train":
        out.update({k: v[0] for k, v in CHOICES.items()})
    return {**out, **PLAIN[section]}


@pytest.mark.parametrize("section", list(CLASSES))
def test_every_field_s_default(section):
    got = dataclasses.asdict(CLASSES[section]())
    assert got == _defaults(section)
    for key, value in got.items():
        assert type(value) is type(_defaults(section)[key]), key  # 0 is not 0.0


def test_the_run_s_defaults_and_sections():
    cfg = RunConfig()
    assert (cfg.name, cfg.seed) == ("run", 0)
    assert cfg.task == TaskConfig() and cfg.task.name == "adding"
    for section, cls in CLASSES.items():
        assert getattr(cfg, section) == cls()
    other = RunConfig()  # each run its own tables
    assert other.model is not cfg.model and other.train is not cfg.train
    assert other.model.options is not cfg.model.options
    assert other.diagnostics is not cfg.diagnostics and other.logging is not cfg.logging


def _check(section, table):
    errors: list[str] = []
    got = build_table(CLASSES[section], table, section, errors)
    return got, errors


def _cases():
    for section, keys in RANGES.items():
        for key, (_, lo, hi) in keys.items():
            yield section, key, lo, hi


@pytest.mark.parametrize("section, key, lo, hi", list(_cases()))
def test_each_range_allows_its_limits_and_names_the_key_past_them(section, key, lo, hi):
    is_int = isinstance(_defaults(section)[key], int)
    step = 1 if is_int else 0.25
    if lo is not None:
        got, errors = _check(section, {key: lo})
        assert errors == [] and getattr(got, key) == lo
        below = lo - step
        assert _check(section, {key: below})[1] == [
            f"{section}.{key} = {below!r}: must be >= {lo!r}"]
    else:  # unbounded below
        assert _check(section, {key: -1e30})[1] == []
    if hi is not None:
        got, errors = _check(section, {key: hi})
        assert errors == [] and getattr(got, key) == hi
        above = hi + step
        assert _check(section, {key: above})[1] == [
            f"{section}.{key} = {above!r}: must be <= {hi!r}"]
    else:  # unbounded above
        big = 10 ** 9 if is_int else 1e30
        got, errors = _check(section, {key: big})
        assert errors == [] and getattr(got, key) == big


@pytest.mark.parametrize("key", list(CHOICES))
def test_each_choice_is_allowed_and_anything_else_named(key):
    _, allowed = CHOICES[key]
    for value in allowed:
        got, errors = _check("train", {key: value})
        assert errors == [] and getattr(got, key) == value
    listed = ", ".join(repr(v) for v in allowed)
    assert _check("train", {key: "zzzz"})[1] == [
        f"train.{key} = 'zzzz': must be one of {listed}"]
    upper = allowed[-1].upper()
    assert _check("train", {key: upper})[1][0].startswith(
        f"train.{key} = {upper!r}: must be one of {listed}")


def test_fields_without_limits_take_any_value_of_their_type():
    got, errors = _check("train", {"metric": "anything", "nesterov": True})
    assert errors == [] and (got.metric, got.nesterov) == ("anything", True)
    got, errors = _check("model", {"cell": "my_cell", "bidirectional": True})
    assert errors == [] and (got.cell, got.bidirectional) == ("my_cell", True)
    cfg = config_from_raw({"name": "x", "seed": -7, "train": {"steps": 3}}, "c.toml")
    assert (cfg.name, cfg.seed) == ("x", -7)


def test_a_whole_config_names_every_key_out_of_range():
    raw = {"task": {"name": "adding"},
           "train": {"steps": 5, "batch_size": 0, "momentum": 1.5, "optimizer": "lion"},
           "model": {"num_layers": 0, "hidden_size": 1}, "diagnostics": {"batch_size": 0}}
    with pytest.raises(ConfigError) as err:
        config_from_raw(raw, "c.toml")
    assert str(err.value).split("\n  ") == [
        "c.toml: invalid config:",
        "model.num_layers = 0: must be >= 1",
        "train.batch_size = 0: must be >= 1",
        "train.momentum = 1.5: must be <= 1.0",  # in the table's order
        "train.optimizer = 'lion': must be one of 'sgd', 'adam', 'adamw', 'rmsprop'",
        "diagnostics.batch_size = 0: must be >= 1"]


def test_overrides_set_the_values_checked_as_the_file_s_are():
    raw = apply_overrides({"train": {"steps": 5}},
                          ["train.optimizer=sgd", "train.momentum=1", "model.dropout=0.5",
                           "diagnostics.every=0", "logging.tensorboard=true", "seed=9"])
    cfg = config_from_raw(raw, "c.toml")
    assert (cfg.train.optimizer, cfg.train.momentum, cfg.model.dropout) == ("sgd", 1.0, 0.5)
    assert type(cfg.train.momentum) is float
    assert (cfg.diagnostics.every, cfg.logging.tensorboard, cfg.seed) == (0, True, 9)
    assert cfg.train.lr == 1e-3 and cfg.train.batch_size == 64  # the rest: the defaults
    with pytest.raises(ConfigError) as err:
        config_from_raw(apply_overrides(raw, ["train.gamma=2"]), "c.toml")
    assert str(err.value) == "c.toml: invalid config:\n  train.gamma = 2.0: must be <= 1.0"


def test_model_kwargs_are_the_common_keys_then_the_options():
    m = ModelConfig(cell="gru", hidden_size=8, num_layers=2, bidirectional=True, dropout=0.25,
                    options={"output": "gaussian", "horizon": 3})
    got = m.kwargs()
    assert list(got.items()) == [("cell", "gru"), ("hidden_size", 8), ("num_layers", 2),
                                 ("bidirectional", True), ("dropout", 0.25),
                                 ("output", "gaussian"), ("horizon", 3)]
    assert m.options == {"output": "gaussian", "horizon": 3}  # not changed
    assert ModelConfig().kwargs() == {"cell": "lstm", "hidden_size": 64, "num_layers": 1,
                                      "bidirectional": False, "dropout": 0.0}
    assert ModelConfig(options={"dropout": 0.5}).kwargs()["dropout"] == 0.5  # options last


def test_to_dict_flattens_the_model_options_into_the_model_table():
    cfg = RunConfig(name="r", seed=4, model=ModelConfig(hidden_size=16,
                                                        options={"output": "quantile"}))
    got = cfg.to_dict()
    assert got == {
        "name": "r", "seed": 4, "task": {"name": "adding"},
        "model": {"cell": "lstm", "hidden_size": 16, "num_layers": 1, "bidirectional": False,
                  "dropout": 0.0, "output": "quantile"},
        "train": _defaults("train"), "diagnostics": _defaults("diagnostics"),
        "logging": {"tensorboard": False}}
    assert list(got) == ["name", "seed", "task", "model", "train", "diagnostics", "logging"]
    assert cfg.model.options == {"output": "quantile"}  # the config itself keeps them
    got["model"]["hidden_size"] = 99
    assert cfg.model.hidden_size == 16  # a copy


def test_the_field_helpers_record_the_allowed_values():
    f = number(5)
    assert (f.default, dict(f.metadata)) == (5, {"min": None, "max": None})
    f = number(0.5, 0.0, 2.0)
    assert (f.default, dict(f.metadata)) == (0.5, {"min": 0.0, "max": 2.0})
    f = number(3, lo=1)
    assert dict(f.metadata) == {"min": 1, "max": None}
    f = choice("b", "a", "b", "c")
    assert (f.default, dict(f.metadata)) == ("b", {"choices": ("a", "b", "c")})

    @dataclasses.dataclass
    class Own:
        n: int = number(2, 1, 4)
        kind: str = choice("x", "x", "y")

    assert Own() == Own(2, "x")
    errors: list[str] = []
    build_table(Own, {"n": 5, "kind": "z"}, "own", errors)
    assert errors == ["own.n = 5: must be <= 4", "own.kind = 'z': must be one of 'x', 'y'"]
