"""rnnkit.load(run).predict / generate equal what the CLI prints for the synthetic tasks
(copy, sine), and both equal the model run by hand."""

import json

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli.main import main

COPY = """
name = "tiny-copy"
[task]
name = "copy"
num_symbols = 4
copy_length = 3
delay = 4
train_size = 64
val_size = 16
test_size = 16
[model]
cell = "gru"
hidden_size = 8
[train]
steps = 6
batch_size = 16
eval_every = 3
progress = "off"
"""

SINE = """
name = "tiny-sine"
[task]
name = "sine"
window = 12
horizon = 3
train_size = 64
val_size = 16
test_size = 16
[model]
cell = "gru"
hidden_size = 8
output = "point"
[train]
steps = 6
batch_size = 16
eval_every = 3
progress = "off"
"""


def _train(tmp_path, text, name):
    (tmp_path / f"{name}.toml").write_text(text)
    assert main(["train", str(tmp_path / f"{name}.toml"), "--run-dir", str(tmp_path / name)]) == 0
    return tmp_path / name


def test_copy_predict_equals_the_cli_and_the_model_by_hand(tmp_path, capsys):
    run = _train(tmp_path, COPY, "copy")
    seqs = [[1, 2, 3], [4, 4, 1]]
    (tmp_path / "in.json").write_text(json.dumps(seqs))
    capsys.readouterr()
    assert main(["predict", str(run), "--input", str(tmp_path / "in.json")]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    p = rnnkit.load(run)
    assert printed == p.predict(seqs)
    x = torch.zeros(2, 2 * 3 + 4, dtype=torch.long)
    x[:, :3] = torch.tensor(seqs)
    x[:, 3 + 4 - 1] = 5  # the "go" marker
    with torch.no_grad():
        by_hand = p.model(x).logits.argmax(-1)[:, -3:].tolist()
    assert [r["prediction"] for r in printed] == by_hand
    with pytest.raises(rnnkit.tasks.TaskError, match="whole numbers in 1..4"):
        p.predict([[0, 1, 2]])


def test_sine_predict_and_generate_equal_the_cli(tmp_path, capsys):
    run = _train(tmp_path, SINE, "sine")
    p = rnnkit.load(run)
    windows = [np.sin(np.arange(12) / 3).round(4).tolist(), np.cos(np.arange(12) / 3).tolist()]
    (tmp_path / "w.json").write_text(json.dumps(windows))
    capsys.readouterr()
    assert main(["predict", str(run), "--input", str(tmp_path / "w.json")]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == p.predict(windows)
    with torch.no_grad():
        by_hand = p.model.predict(torch.tensor(windows, dtype=torch.float32)[..., None]).point
    assert np.allclose([r["forecast"] for r in printed], by_hand.reshape(2, -1), atol=1e-6)
    assert main(["generate", str(run), "--max-new", "7", "--prompt", "15"]) == 0
    assert json.loads(capsys.readouterr().out) == p.generate(prompt="15", max_new=7)
    assert main(["generate", str(run), "--prompt", "abc"]) == 1
    assert "period" in capsys.readouterr().err
