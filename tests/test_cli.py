import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from rnnkit.cli.main import main

CONFIG = """
name = "tiny"
[task]
name = "adding"
sequence_length = 10
train_size = 128
val_size = 32
test_size = 32
[model]
cell = "gru"
hidden_size = 8
[train]
steps = 10
batch_size = 16
eval_every = 5
lr = 1e-2
"""


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(CONFIG)
    assert main(["train", "tiny.toml"]) == 0
    return tmp_path / "runs" / "tiny"


def test_train_writes_the_run_directory(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.toml", "metrics.jsonl", "checkpoints", "plots", "report.md"} <= names
    assert (run_dir / "plots" / "loss.png").stat().st_size > 0
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"step", "epoch", "split", "loss"} <= set(records[0])
    assert {r["split"] for r in records} == {"train", "val", "test"}
    info = json.loads((run_dir / "checkpoints" / "best" / "model.json").read_text())
    assert info["model_class"] == "SequenceRegressor" and info["task"]["name"] == "adding"
    assert "rnnkit_version" in info and info["model_config"]["cell"] == "gru"


def test_evaluate_json_is_one_object_on_stdout(run_dir, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--split", "val", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["split"] == "val" and {"loss", "mse", "step"} <= set(out)
    assert main(["evaluate", str(run_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "mse" in captured.err


def test_predict_generate_and_errors(run_dir, tmp_path, capsys):
    (tmp_path / "in.json").write_text(json.dumps([[[0.5, 1], [0.2, 0], [0.3, 1]]]))
    capsys.readouterr()
    assert main(["predict", str(run_dir), "--input", str(tmp_path / "in.json")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert main(["generate", str(run_dir)]) == 1
    assert "does not generate" in capsys.readouterr().err
    for verb, extra in (("translate", ["hi"]), ("transcribe", ["a.wav"]),
                        ("caption", ["a.png"]), ("detect", []),
                        ("forecast", ["--horizon", "2"])):
        assert main([verb, str(run_dir), *extra]) == 1
        assert "task 'adding' does not" in capsys.readouterr().err
    assert main(["predict", str(run_dir), "--text", "hello"]) == 1
    assert "does not read text" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nowhere")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["train", "tiny.toml"]) == 2  # the run exists already
    assert "--resume" in capsys.readouterr().err


def test_load_predict_equals_what_the_cli_prints(run_dir, tmp_path, capsys):
    """rnnkit.load(run).predict == `rnnkit predict`, and both equal the model run by hand on
    each sequence alone (the predictor pads a batch of different lengths)."""
    import numpy as np
    import torch

    import rnnkit

    rng = np.random.default_rng(0)
    seqs = [rng.random((t, 2)).round(3).tolist() for t in (3, 7, 5)]
    (tmp_path / "in.json").write_text(json.dumps(seqs))
    capsys.readouterr()
    assert main(["predict", str(run_dir), "--input", str(tmp_path / "in.json")]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    p = rnnkit.load(run_dir)
    assert p.task == "adding" and p.config.name == "tiny"
    assert printed == p.predict(seqs) == p.predict_file(tmp_path / "in.json")
    with torch.no_grad():
        alone = [float(p.model(torch.tensor([s], dtype=torch.float32)).logits[0, 0]) for s in seqs]
    assert [r["prediction"] for r in printed] == pytest.approx(alone, abs=1e-6)
    with pytest.raises(rnnkit.tasks.TaskError, match="input 1 must have shape"):
        p.predict([seqs[0], [[1.0, 2.0, 3.0]]])
    with pytest.raises(rnnkit.tasks.TaskError, match="does not stream"):
        p.stream()


def test_resume_to_a_new_end(run_dir, capsys):
    assert main(["train", "--resume", str(run_dir), "--set", "train.steps=14"]) == 0
    info = json.loads((run_dir / "checkpoints" / "last" / "model.json").read_text())
    assert info["step"] == 14
    assert main(["train", "--resume", str(run_dir), "--set", "model.hidden_size=9"]) == 2
    assert "cannot change 'model'" in capsys.readouterr().err


def test_bad_config_message(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text(CONFIG.replace("lr = 1e-2", "lrr = 1e-2"))
    assert main(["train", str(tmp_path / "bad.toml")]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "train.lrr" in err and "did you mean 'lr'" in err


def test_version_and_help_with_examples(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "rnnkit 0.1.0" in capsys.readouterr().out
    for command in ("train", "evaluate", "predict", "generate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "example:" in capsys.readouterr().out


def test_sigint_saves_last_and_exits_cleanly(tmp_path):
    (tmp_path / "long.toml").write_text(CONFIG.replace("steps = 10", "steps = 100000"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnkit.cli.main", "train", "long.toml"], cwd=tmp_path,
        stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "runs" / "tiny" / "metrics.jsonl"
    deadline = time.time() + 300  # generous: a loaded machine starts python and torch slowly
    while not metrics.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert metrics.exists(), "the run never logged a step"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "interrupted by SIGINT" in err and "Traceback" not in err
    assert (tmp_path / "runs" / "tiny" / "checkpoints" / "last" / "model.json").exists()


def test_root_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for name in ("train", "evaluate", "forecast", "detect", "caption", "diagnose", "bench"):
        assert f"    {name}" in out


def test_bench_json_compares_with_torch(capsys):
    code = main(["bench", "--cell", "lstm", "--batch", "2", "--seq", "5", "--input", "3",
                 "--hidden", "4", "--repeats", "1", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["path"] == "torch's fused kernel" and result["ratio"] > 0
    code = main(["bench", "--cell", "lstm", "--layer-norm", "--batch", "2", "--seq", "5",
                 "--input", "3", "--hidden", "4", "--repeats", "1", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["path"] == "rnnkit engine" and result["ratio"] > 0
    assert main(["bench", "--batch", "0"]) == 1


@pytest.mark.parametrize("option, message", [
    (["--recurrent-dropout", "1.5"], "recurrent_dropout must be a number in [0, 1), got 1.5"),
    (["--zoneout", "-1"], "zoneout must be a number in [0, 1), got -1.0"),
    (["--threads", "-2"], "--threads must be >= 0 (0: torch's default), got -2")])
def test_bench_options_out_of_range_are_one_line_errors(option, message, capsys):
    threads = torch.get_num_threads()
    assert main(["bench", "--batch", "2", "--seq", "3", *option]) == 1
    assert capsys.readouterr().err == f"rnnkit bench: error: {message}\n"
    assert torch.get_num_threads() == threads  # nothing was changed before the check


def test_a_diverged_model_prints_strict_json_with_a_warning(run_dir, tmp_path, capsys):
    import torch

    import rnnkit

    p = rnnkit.load(run_dir)
    with torch.no_grad():
        for param in p.model.parameters():
            param.fill_(float("nan"))
    (rec,) = p.predict([[[0.5, 1.0], [0.2, 0.0]]])
    assert rec["prediction"] is None and "prediction" in rec["warning"]
    json.loads(json.dumps(rec, allow_nan=False))  # strict JSON


def test_strings_in_a_json_input_are_a_clear_error(run_dir, tmp_path, capsys):
    (tmp_path / "in.json").write_text(json.dumps([[["0.5", "x"], [0.2, 0]]]))
    capsys.readouterr()
    assert main(["predict", str(run_dir), "--input", str(tmp_path / "in.json")]) == 1
    err = capsys.readouterr().err
    assert "in.json: cannot read inputs" in err and "Traceback" not in err
