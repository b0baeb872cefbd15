"""Character language model: streamed batches with carried state, the charlm task, generate
and predict on text (generated text; tiny Shakespeare when RNNKIT_DATA is set)."""

import json
import os
from pathlib import Path

import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.data.batches import ContiguousStreams
from rnnkit.models import LanguageModel
from rnnkit.tasks import TASKS
from rnnkit.tasks.charlm import CharLMConfig
from rnnkit.training import TrainConfig, Trainer, load_checkpoint, save_checkpoint

needs_data = pytest.mark.skipif(not os.environ.get("RNNKIT_DATA"),
                                reason="real data absent: set RNNKIT_DATA=../shared/data")


def _tokens(n=2000, seed=0):
    ids = torch.randint(0, 9, (n + 1,), generator=torch.Generator().manual_seed(seed))
    return {"x": ids[:-1].view(-1, 50), "y": ids[1:].view(-1, 50)}


def test_streams_continue_each_row_across_batches():
    data = _tokens()
    s = ContiguousStreams(data, batch_size=4, seq_len=10, time_keys=("x", "y"), seed=1)
    flat = data["x"].reshape(-1)
    length = flat.numel() // 4
    off = s.offset(0)
    a, b = s.batch(0), s.batch(1)
    for r in range(4):
        row = flat[r * length:(r + 1) * length]
        assert torch.equal(torch.cat([a["x"][r], b["x"][r]]), row[off:off + 20])
    assert torch.equal(a["y"][:, :-1], a["x"][:, 1:])  # y is x shifted, still aligned
    assert s.starts_epoch(0) and not s.starts_epoch(1) and s.starts_epoch(s.steps_per_epoch)
    with pytest.raises(ValueError, match="only the time keys"):
        ContiguousStreams({**data, "w": torch.ones(40)}, 4, 10, ("x", "y"))


def _lm():
    torch.manual_seed(0)
    return LanguageModel(vocab_size=9, hidden_size=8, embedding_dim=4)


def _cfg(steps):
    return TrainConfig(steps=steps, batch_size=4, tbptt=10, batching="stream", lr=1e-2,
                       eval_every=100, progress="off")


def test_streaming_trainer_carries_state_and_resumes_exactly(tmp_path):
    full = Trainer(_lm(), _cfg(6), _tokens(), seed=2)
    full.fit()
    assert full.carry is not None and not full.carry[0].requires_grad
    half = Trainer(_lm(), _cfg(6), _tokens(), seed=2)
    half.total_steps = 3
    half.fit()
    tensors, state = half.training_state()
    save_checkpoint(tmp_path / "ck", half.model, {"model_class": "LanguageModel",
                    "model_config": half.model.get_config()}, tensors, state)
    ckpt = load_checkpoint(tmp_path / "ck")
    model = _lm()
    model.load_state_dict(ckpt.weights)
    resumed = Trainer(model, _cfg(6), _tokens(), seed=2)
    resumed.load_training_state(ckpt)
    resumed.fit()
    for a, b in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="tbptt"):
        Trainer(_lm(), TrainConfig(batching="stream"), _tokens())


def test_carried_state_changes_training():
    """Carrying the state is not a no-op: step 2 differs from a fresh-state step 2."""
    a = Trainer(_lm(), _cfg(2), _tokens(), seed=2)
    a.fit()
    b = Trainer(_lm(), _cfg(2), _tokens(), seed=2)
    b.train_step(b.stream.batch(0))
    b.carry = None
    b.state.step = 1
    b.train_step(b.stream.batch(1))
    assert any(not torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))


def test_step_mode_equals_the_whole_prefix():
    model = _lm().eval()
    ids = torch.randint(0, 9, (2, 12))
    whole = model(ids).logits  # (2, 12, V)
    state = None
    for t in range(12):
        logits, state = model.step(ids[:, t], state)
        assert torch.allclose(logits, whole[:, t], atol=1e-5)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A tiny charlm run on a generated text file (no real data needed)."""
    tmp = tmp_path_factory.mktemp("charlm")
    (tmp / "text.txt").write_text("the cat sat on the mat. " * 200, encoding="utf-8")
    (tmp / "cfg.toml").write_text(f"""
name = "tiny-charlm"
[task]
name = "charlm"
text = "{tmp / 'text.txt'}"
window = 32
val_streams = 2
[model]
hidden_size = 16
embedding_dim = 8
[train]
steps = 40
batch_size = 4
batching = "stream"
tbptt = 16
lr = 1e-2
eval_every = 20
progress = "off"
threads = 1
[diagnostics]
every = 0
""")
    assert main(["train", str(tmp / "cfg.toml"), "--run-dir", str(tmp / "run")]) == 0
    return tmp / "run"


def test_charlm_run_evaluates_generates_and_predicts(text_run, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(text_run), "--split", "val", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["bits_per_char"] == pytest.approx(figures["loss"] / 0.6931471805599453)
    assert figures["loss"] < 1.5  # the repeated sentence is learnt quickly
    info = json.loads((text_run / "checkpoints/best/model.json").read_text())
    assert info["tokenizer"]["kind"] == "char" and "t" in info["tokenizer"]["tokens"]
    assert "## Sample" in (text_run / "report.md").read_text()
    args = ["generate", str(text_run), "--prompt", "the ", "--max-new", "40",
            "--temperature", "0.8", "--top-k", "3", "--seed", "7"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first and first.startswith("the ")
    assert len(first) == len("the ") + 40 + 1  # prompt, 40 characters, newline
    assert main(["generate", str(text_run), "--max-new", "-1"]) == 1
    assert "--max-new" in capsys.readouterr().err


def test_predict_text_edge_cases(text_run, tmp_path, capsys):
    path = tmp_path / "in.txt"
    path.write_bytes(b"the cat\n\n\xff\xfe bad bytes\n" + b"the mat " * 5000 + b"\n")
    capsys.readouterr()
    assert main(["predict", str(text_run), "--input", str(path)]) == 0
    out = capsys.readouterr()
    records = [json.loads(line) for line in out.out.splitlines()]
    assert len(records) == 4
    assert records[0]["bits_per_char"] > 0 and records[1]["error"].startswith("empty")
    assert "UTF-8" in records[2]["warning"] and "UTF-8" in out.err
    assert records[3]["chars"] == 40000
    assert main(["predict", str(text_run)]) == 1  # neither --input nor --text


@needs_data
def test_shakespeare_split_and_tokenizer():
    task = TASKS["charlm"]
    data = task.data(CharLMConfig(window=128, val_streams=16), 0)
    assert task.model_args(CharLMConfig())["vocab_size"] == 65 + 4  # 65 symbols + specials
    assert data["val"]["x"].shape == (16, 111_539 // 16)
    assert data["train"]["x"].shape == (1_003_853 // 128, 128)
    assert Path(os.environ["RNNKIT_DATA"]).is_dir()
