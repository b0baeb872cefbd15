import pytest

from rnnkit.tasks import load_config
from rnnkit.training import ConfigError, apply_overrides, read_toml, write_toml
from rnnkit.training.config_io import parse_override

BASE = """
name = "x"
seed = 0
[task]
name = "adding"
sequence_length = 20
[model]
cell = "lstm"
hidden_size = 8
[train]
steps = 100
lr = 1e-3
"""


def _write(tmp_path, text=BASE, name="cfg.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(tmp_path, text, overrides=()):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path, list(overrides))
    msg = str(e.value)
    assert str(path) in msg
    return msg


def test_defaults_are_filled_and_round_trip(tmp_path):
    cfg = load_config(_write(tmp_path))
    assert cfg.task.sequence_length == 20 and cfg.task.train_size == 10000
    assert cfg.train.optimizer == "adam" and cfg.train.clip_norm == 1.0
    write_toml(cfg, tmp_path / "resolved.toml")
    raw = read_toml(tmp_path / "resolved.toml")
    assert raw["train"]["tbptt"] == 0 and raw["model"]["bidirectional"] is False
    assert load_config(tmp_path / "resolved.toml") == cfg


def test_every_example_config_loads():
    from pathlib import Path

    from rnnkit.tasks.datafiles import files_not_needed, missing_files

    examples = sorted(Path(__file__).parents[1].joinpath("examples").glob("*.toml"))
    assert {p.stem for p in examples} >= {"adding", "copy", "sine"}
    for path in examples:
        with files_not_needed():
            cfg = load_config(path)
        # data an example reads ships with it, or its comments say which script makes it
        for problem in missing_files(cfg.task):
            assert "make_" in path.read_text(), f"{path.name}: {problem}"


def test_unknown_key_suggests_the_nearest(tmp_path):
    msg = _error(tmp_path, BASE.replace("lr = 1e-3", "lrr = 1e-3"))
    assert "train.lrr" in msg and "did you mean 'lr'" in msg
    msg = _error(tmp_path, BASE.replace('cell = "lstm"', 'cel = "lstm"'))
    assert "did you mean 'cell'" in msg
    msg = _error(tmp_path, BASE.replace("hidden_size = 8", "hidden_size = 8\npoolin = 'mean'"))
    assert "did you mean 'pooling'" in msg


def test_wrong_type_out_of_range_and_choices(tmp_path):
    msg = _error(tmp_path, BASE.replace("steps = 100", 'steps = "many"'))
    assert "train.steps = 'many'" in msg and "expected int" in msg
    msg = _error(tmp_path, BASE.replace("lr = 1e-3", "lr = -1.0"))
    assert "train.lr = -1.0" in msg and ">= 0" in msg
    msg = _error(tmp_path, BASE, ["train.optimizer=adamm"])
    assert "train.optimizer = 'adamm'" in msg and "'sgd', 'adam', 'adamw', 'rmsprop'" in msg
    assert "did you mean 'adam'" in msg
    msg = _error(tmp_path, BASE.replace('name = "adding"', 'name = "addin"'))
    assert "task.name = 'addin'" in msg and "did you mean 'adding'" in msg
    msg = _error(tmp_path, BASE.replace('cell = "lstm"', 'cell = "lstn"'))
    assert "model.cell = 'lstn'" in msg and "'gru'" in msg


def test_all_problems_are_reported_together(tmp_path):
    msg = _error(tmp_path, BASE.replace("lr = 1e-3", "lr = -1.0\nbatch_sise = 3"))
    assert "train.lr" in msg and "batch_sise" in msg and "batch_size" in msg


def test_model_keys_the_task_model_lacks(tmp_path):
    text = BASE.replace('name = "adding"', 'name = "sine"').replace("sequence_length = 20", "")
    msg = _error(tmp_path, text.replace("hidden_size = 8", "hidden_size = 8\nbidirectional = true"))
    assert "model.bidirectional = True" in msg and "Forecaster" in msg
    assert load_config(_write(tmp_path, text), ["model.mode=autoregressive"]).model.options == {
        "mode": "autoregressive"}


def test_overrides_and_steps_or_epochs(tmp_path):
    path = _write(tmp_path)
    cfg = load_config(path, ["train.lr=3e-4", "model.cell=gru", "name=other", "seed=7"])
    assert (cfg.train.lr, cfg.model.cell, cfg.name, cfg.seed) == (3e-4, "gru", "other", 7)
    cfg = load_config(path, ["train.epochs=2"])
    assert (cfg.train.steps, cfg.train.epochs) == (0, 2)
    cfg = load_config(_write(tmp_path, BASE.replace("steps = 100", "epochs = 3")))
    assert (cfg.train.steps, cfg.train.epochs) == (0, 3)
    raw = apply_overrides({"train": {"steps": 0, "epochs": 3}}, ["train.steps=9"])
    assert raw["train"] == {"steps": 9, "epochs": 0}
    assert parse_override("model.bidirectional=true") == (["model", "bidirectional"], True)
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("train.lr")
    _error(tmp_path, BASE.replace("steps = 100", "steps = 0"))


def test_missing_or_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")
    msg = _error(tmp_path, "name = [unclosed")
    assert "not valid TOML" in msg


def test_unknown_metric_is_rejected_before_training(tmp_path):
    from rnnkit.tasks import train_run

    cfg = load_config(_write(tmp_path), ["train.metric=accuracy", "task.train_size=8",
                                         "task.val_size=4", "task.test_size=4"])
    with pytest.raises(ConfigError, match="train.metric = 'accuracy'.*'mse'"):
        train_run(cfg, tmp_path / "run")


@pytest.mark.parametrize("key, value", [("train.lr", "nan"), ("train.weight_decay", "nan"),
                                        ("train.clip_norm", "nan"), ("train.max_minutes", "nan"),
                                        ("model.dropout", "nan"), ("train.lr", "inf"),
                                        ("train.max_minutes", "-inf")])
def test_non_finite_numbers_are_refused_by_name(tmp_path, key, value):
    (tmp_path / "c.toml").write_text(BASE)
    with pytest.raises(ConfigError, match=f"{key} = {value}: must be a finite number"):
        load_config(tmp_path / "c.toml", [f"{key}={value}"])


def test_time_clock_without_a_time_limit_is_a_config_error(tmp_path):
    (tmp_path / "c.toml").write_text(BASE)
    with pytest.raises(ConfigError, match="set train.max_minutes > 0"):
        load_config(tmp_path / "c.toml", ["train.schedule_clock=time"])


def test_an_unknown_model_key_lists_each_allowed_key_once(tmp_path):
    """[model] keys come from the config and from the model class; shared ones (hidden_size,
    cell ...) are named once in the error."""
    path = tmp_path / "c.toml"
    path.write_text('[task]\nname = "sine"\n[model]\nhiden_size = 8\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    line = next(s for s in str(err.value).splitlines() if "hiden_size" in s)
    allowed = line.split("allowed: ")[1].split(", ")
    assert "hidden_size" in allowed and len(allowed) == len(set(allowed)), allowed


def test_a_task_s_model_defaults_fill_what_the_config_leaves_out(tmp_path):
    """A forecast needs intervals (output "quantile") and an anomaly score a spread
    ("gaussian"); the Forecaster's own default, "point", has neither, so a minimal config
    gets the task's default, recorded in the resolved config. A value given is kept."""
    from rnnkit.tasks.runner import config_from_raw

    for task, default in (("forecast", "quantile"), ("anomaly", "gaussian")):
        cfg = config_from_raw({"task": {"name": task}}, "t")
        assert cfg.model.options["output"] == default
        cfg = config_from_raw({"task": {"name": task}, "model": {"output": "gaussian"
                               if default == "quantile" else "quantile", "hidden_size": 8}}, "t")
        assert cfg.model.options["output"] != default and cfg.model.hidden_size == 8
        write_toml(config_from_raw({"task": {"name": task}}, "t"), tmp_path / "c.toml")
        assert read_toml(tmp_path / "c.toml")["model"]["output"] == default
    assert "output" not in config_from_raw({"task": {"name": "sine"}}, "t").model.options
    with pytest.raises(ConfigError, match="model.output = 'point'"):
        config_from_raw({"task": {"name": "forecast"}, "model": {"output": "point"}}, "t")
