"""The ``[tune]`` table's parser (rnnkit/tasks/tuning/space.py) on its own: every message
in full, each range rule at its boundary, what a dimension reports of itself and what it
asks Optuna for (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import pytest

optuna = pytest.importorskip("optuna", reason="rnnkit tune needs optuna (the tune extra)")

from rnnkit.tasks.tuning.space import Param, check_space, parse_tune_table  # noqa: E402
from rnnkit.training.config_io import ConfigError  # noqa: E402

HEADER = "c.toml: invalid [tune] table:\n  "


def _error(table) -> str:
    with pytest.raises(ConfigError) as err:
        parse_tune_table(table, source="c.toml")
    return str(err.value)


@pytest.mark.parametrize("value, problem", [
    ({"low": 1}, "a range needs low and high"),
    ({"high": 1}, "a range needs low and high"),
    ({"low": 0, "high": float("inf")}, "low, high and step must be finite numbers"),
    ({"low": True, "high": 3}, "low, high and step must be finite numbers"),
    ({"low": "1", "high": 3}, "low, high and step must be finite numbers"),
    ({"low": 1, "high": 3, "step": float("nan")}, "low, high and step must be finite numbers"),
    ({"low": 2, "high": 2}, "low (2) must be below high (2)"),
    ({"low": 0.1, "high": 1.0, "log": "yes"}, "log = 'yes': expected true or false"),
    ({"low": 0.0, "high": 1.0, "log": True}, "log = true needs low > 0 (got 0.0)"),
    ({"low": 0.1, "high": 1.0, "log": True, "step": 0.1},
     "step and log = true do not go together (Optuna samples either)"),
    ({"low": 0, "high": 4, "step": 0}, "step = 0: must be > 0"),
    ({"low": 0.0, "high": 4.0, "step": -0.5}, "step = -0.5: must be > 0"),
    ({"low": 0, "high": 4, "step": 0.5}, "step = 0.5: an integer range takes an integer step"),
    ({"low": 1, "high": 3, "lg": True}, "unknown key 'lg' (did you mean 'log'?)"),
])
def test_each_range_rule_has_its_message(value, problem):
    assert _error({"train.x": value}) == HEADER + f"tune 'train.x': {problem}"


@pytest.mark.parametrize("value, problem", [
    ([], ": an empty list of choices"),
    ([1, [2]], " = [1, [2]]: choices must be numbers, strings or booleans"),
    ([1, 2, 1], " = [1, 2, 1]: a choice is repeated"),
    (3, " = 3: expected a list of choices or a range table {low = ..., high = ...}"),
])
def test_each_choice_rule_has_its_message(value, problem):
    assert _error({"train.x": value}) == HEADER + f"tune 'train.x'{problem}"


def test_values_just_inside_the_rules_pass():
    spec = parse_tune_table({
        "train.a": {"low": 1, "high": 2},  # low < high by one
        "train.b": {"low": 1, "high": 8, "step": 1},  # the smallest integer step
        "train.c": {"low": 0.0, "high": 1.0, "step": 0.25},  # a float step below 1
        "train.d": {"low": 1e-3, "high": 1.0, "log": False, "step": 0.5},
        "train.e": [1, 1.5, "1", True]}, source="c.toml")  # repr tells them apart
    kinds = {p.key: p.kind for p in spec.space}
    assert kinds == {"train.a": "int", "train.b": "int", "train.c": "float",
                     "train.d": "float", "train.e": "categorical"}


def test_every_problem_is_listed_at_once_each_on_its_line():
    message = _error({"train.x": [], "train.y": {"low": 3, "high": 1}, "seed": [1, 2]})
    assert message == HEADER + "\n  ".join([
        "tune 'seed': not searched (every trial uses the config's seed, so all see the "
        "same data)",
        "tune 'train.x': an empty list of choices",
        "tune 'train.y': low (3) must be below high (1)"])


@pytest.mark.parametrize("table", [{}, None, [1, 2]])
def test_no_table_says_what_to_write(table):
    with pytest.raises(ConfigError) as err:
        parse_tune_table(table, source="c.toml")
    assert str(err.value) == (
        "c.toml: no [tune] table: write the search space there, e.g.\n"
        '  [tune]\n  "model.hidden_size" = [32, 64, 128]\n'
        '  "train.lr" = {low = 1e-4, high = 1e-2, log = true}')


def test_settings_only_names_no_key_and_bad_settings_are_named():
    assert _error({"trials": 3}) == HEADER + (
        'the [tune] table names no config key to search (e.g. "model.hidden_size" = [32, 64])')
    message = _error({"trials": 0, "train.lr": [0.1]})
    assert message.startswith(HEADER + "tune.trials") and "\n" not in message[len(HEADER):]


def test_a_range_table_is_not_a_section_even_with_one_bound():
    """{low, high} (or either alone) is a range; a section's table nests keys."""
    assert _error({"train": {"lr": {"high": 0.1}}}) == \
        HEADER + "tune 'train.lr': a range needs low and high"
    assert _error({"train": {"lr": {"low": 0.1}}}) == \
        HEADER + "tune 'train.lr': a range needs low and high"
    spec = parse_tune_table({"model": {"hidden_size": [4, 8]}}, source="c.toml")
    assert [p.key for p in spec.space] == ["model.hidden_size"]


def test_describe_and_corners():
    assert Param("m.h", choices=(4, "a")).describe() == "one of 4, 'a'"
    assert Param("m.h", choices=(4, 8)).corners() == [4, 8]
    assert Param("t.lr", low=1e-4, high=0.1, log=True).describe() == "float 0.0001..0.1, log"
    assert Param("t.b", low=16, high=64, step=16).describe() == "int 16..64, step 16"
    assert Param("t.d", low=0.0, high=0.5).describe() == "float 0.0..0.5"
    assert Param("t.d", low=0.0, high=0.5).corners() == [0.0, 0.5]


def test_suggest_asks_optuna_for_the_declared_distribution():
    D = optuna.distributions
    params = [Param("a", low=1, high=64, log=True), Param("b", low=0.0, high=1.0, step=0.25),
              Param("c", low=2, high=10, step=4), Param("d", low=1e-3, high=1.0, log=True)]
    trial = optuna.create_study().ask()
    for p in params:
        p.suggest(trial)
    assert trial.distributions == {
        "a": D.IntDistribution(1, 64, log=True), "b": D.FloatDistribution(0.0, 1.0, step=0.25),
        "c": D.IntDistribution(2, 10, step=4), "d": D.FloatDistribution(1e-3, 1.0, log=True)}


def test_check_space_names_every_failing_dimension_once():
    seen = []

    def build(raw, where):
        seen.append(where)
        if raw["model"]["hidden_size"] > 100 or raw["train"]["lr"] < 0:
            raise ConfigError(f"{where}: out of range")

    raw = {"model": {"hidden_size": 8}, "train": {"lr": 0.1}}
    space = [Param("model.hidden_size", choices=(200, 300)),
             Param("train.lr", low=-1.0, high=0.1)]
    with pytest.raises(ConfigError) as err:
        check_space(raw, space, build, source="c.toml")
    assert str(err.value) == ("c.toml [tune] 'model.hidden_size' = 200: out of range\n"
                              "c.toml [tune] 'train.lr' = -1.0: out of range")
    assert seen == ["c.toml [tune] 'model.hidden_size' = 200", "c.toml [tune] 'train.lr' = -1.0"]
