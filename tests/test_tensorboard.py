"""``[logging] tensorboard = true``: the scalars of metrics.jsonl, as TensorBoard events."""

import json

import pytest

from rnnkit.training import ConfigError, LoggingConfig, MetricsWriter, default_callbacks
from rnnkit.training.config import TrainConfig

RAW = {"name": "tb", "seed": 0,
       "task": {"name": "adding", "sequence_length": 8, "train_size": 64, "val_size": 16,
                "test_size": 16},
       "model": {"cell": "lstm", "hidden_size": 4},
       "train": {"steps": 6, "batch_size": 8, "eval_every": 3, "log_every": 2,
                 "progress": "off", "metric": "mse"},
       "diagnostics": {"every": 0},
       "logging": {"tensorboard": True}}


def _scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the event files in ``log_dir``: tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})  # 0: keep all
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}


def _expected(metrics_path) -> dict[str, list[tuple[int, float]]]:
    """What TensorBoard should hold for metrics.jsonl: ``split/field`` (``best/split/field``
    for the best checkpoint's final figures) at each record's step."""
    out: dict[str, list[tuple[int, float]]] = {}
    for line in metrics_path.read_text().splitlines():
        record = json.loads(line)
        prefix = ("best/" if record.get("checkpoint") == "best" else "") + record["split"] + "/"
        for key, value in record.items():
            if key not in ("step", "epoch", "time") and isinstance(value, (int, float)) \
                    and not isinstance(value, bool):
                out.setdefault(prefix + key, []).append((record["step"], value))
    return out


def test_tensorboard_holds_the_scalars_of_metrics_jsonl(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from rnnkit.tasks.runner import config_from_raw, train_run

    cfg = config_from_raw(RAW, "test")
    assert cfg.logging.tensorboard
    run = train_run(cfg, tmp_path / "run").run_dir
    assert (run / "tensorboard").is_dir(), "train_run passes cfg.logging to default_callbacks"
    expected = _expected(run / "metrics.jsonl")
    got = _scalars(run / "tensorboard")
    assert {"train/loss", "train/lr", "train/grad_norm", "val/loss", "val/mse",
            "best/val/mse", "best/test/mse"} <= set(expected)
    assert set(got) == set(expected)
    for tag, points in expected.items():
        assert [s for s, _ in got[tag]] == [s for s, _ in points], tag
        values = [v for _, v in got[tag]]  # events hold float32
        assert values == pytest.approx([v for _, v in points], rel=1e-6, nan_ok=True), tag


def test_tensorboard_is_off_by_default_and_round_trips(tmp_path):
    from rnnkit.tasks.runner import config_from_raw
    from rnnkit.training import read_toml, write_toml

    cfg = config_from_raw({k: v for k, v in RAW.items() if k != "logging"}, "test")
    assert cfg.logging == LoggingConfig(tensorboard=False)
    write_toml(cfg, tmp_path / "config.toml")
    assert read_toml(tmp_path / "config.toml")["logging"] == {"tensorboard": False}
    with pytest.raises(ConfigError, match="logging.tensorbord.*did you mean 'tensorboard'"):
        config_from_raw({**RAW, "logging": {"tensorbord": True}}, "test")


def test_missing_tensorboard_is_a_config_error_naming_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'rnnkit\[tensorboard\]'"):
        default_callbacks(TrainConfig(), tmp_path, dict, LoggingConfig(tensorboard=True))
    default_callbacks(TrainConfig(), tmp_path, dict, LoggingConfig())  # off: not needed
    with MetricsWriter.for_run(tmp_path, LoggingConfig()) as out:  # metrics.jsonl only
        out.write({"step": 1, "split": "train", "loss": 0.5})
    assert not (tmp_path / "tensorboard").exists()
    assert json.loads((tmp_path / "metrics.jsonl").read_text()) == {
        "step": 1, "split": "train", "loss": 0.5}
