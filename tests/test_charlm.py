"""Character language model: streamed batches with carried state, the charlm task, and its
predictor (predict, stream, generate) against the CLI and against each other (generated
text; tiny Shakespeare when RNNKIT_DATA is set)."""

import json
import math
import os
import re
from pathlib import Path

import pytest
import torch

import rnnkit
from rnnkit.cli.main import main
from rnnkit.data.batches import ContiguousStreams
from rnnkit.data.datasets import DataError
from rnnkit.models import LanguageModel
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.datafiles import fingerprints
from rnnkit.tasks.runner import config_from_raw, load_config
from rnnkit.training import ConfigError, TrainConfig, Trainer, load_checkpoint, save_checkpoint

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
    assert main(["predict", str(text_run), "--input", str(path)]) == 1  # (the empty line)
    out = capsys.readouterr()
    assert out.err.endswith("rnnkit predict: error: 1 of 4 input(s) could not be predicted "
                            "(input 2: their records hold the error)\n")
    records = [json.loads(line) for line in out.out.splitlines()]
    assert len(records) == 4
    assert records[0]["bits_per_char"] > 0 and records[1]["error"].startswith("empty")
    assert "UTF-8" in records[2]["warning"] and "UTF-8" in out.err
    assert records[3]["chars"] == 40000
    assert main(["predict", str(text_run)]) == 1  # neither --input nor --text


def _context(**task):
    return TASKS["charlm"].setup(config_from_raw({"task": {"name": "charlm", **task}}, "test"))


@needs_data
def test_shakespeare_split_and_tokenizer():
    ctx = _context(window=128, val_streams=16)
    data = ctx.splits
    assert TASKS["charlm"].model_args(ctx)["vocab_size"] == 65 + 4  # 65 symbols + specials
    assert data["val"]["x"].shape == (16, 111_539 // 16)
    assert data["train"]["x"].shape == (1_003_853 // 128, 128)
    assert data["test"] is data["val"]  # nanoGPT's split has no third part
    assert Path(os.environ["RNNKIT_DATA"]).is_dir()


def test_a_context_reads_its_own_text_once(tmp_path):
    (tmp_path / "a.txt").write_text("abcabc" * 10)
    (tmp_path / "b.txt").write_text("xyz" * 10)
    a = _context(text=str(tmp_path / "a.txt"), window=8, val_streams=2)
    b = _context(text=str(tmp_path / "b.txt"), window=8, val_streams=16)
    assert a.tokenizer.vocab.itos[4:] == ["a", "b", "c"]
    assert b.tokenizer.vocab.itos[4:] == ["x", "y", "z"]
    assert a.text is a.text and a.splits is a.splits  # built once per context
    assert a.splits["train"]["x"].shape == (54 // 8, 8) and a.splits["val"]["x"].shape == (2, 2)
    with pytest.raises(DataError, match="val_streams = 16"):
        TASKS["charlm"].batches(b)  # 3 validation characters cannot make 16 rows
    assert vars(TASKS["charlm"]) == {}  # nothing stored on the registered task


def test_a_text_file_is_found_beside_the_config_by_either_key(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_bytes(("\ufeff" + "abc\r\n" * 20).encode())  # BOM, CRLF
    (tmp_path / "cfg.toml").write_text('[task]\nname = "charlm"\ntext = "data/a.txt"\n')
    monkeypatch.chdir(tmp_path / "data")  # not the config's folder
    for overrides in ([], ["task.text=", "task.data=a.txt"]):  # --set: against the cwd
        cfg = load_config(tmp_path / "cfg.toml", overrides)
        assert cfg.task.text == str(tmp_path / "data" / "a.txt") and cfg.task.data == ""
        ctx = TASKS["charlm"].setup(cfg)
        assert ctx.tokenizer.vocab.itos[4:] == ["\n", "a", "b", "c"]  # no BOM, no "\r"
    assert fingerprints(cfg.task)[0]["key"] == "task.text"


def _records(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_load_predict_equals_what_the_cli_prints(text_run, tmp_path, capsys):
    texts = ["the cat sat", "", "on the mat. the", "Qat"]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    capsys.readouterr()
    assert main(["predict", str(text_run), "--input", str(tmp_path / "in.txt")]) == 1  # ("")
    printed = _records(capsys)
    p = rnnkit.load(text_run)
    assert p.task == "charlm" and {"text", "generate", "stream"} <= p.capabilities
    assert printed == p.predict(texts) == p.predict_file(tmp_path / "in.txt")
    assert main(["predict", str(text_run), "--text", texts[0], "--text", texts[2]]) == 0
    assert _records(capsys) == p.predict([texts[0], texts[2]])
    assert printed[1]["error"].startswith("empty") and "next" not in printed[1]
    assert "<unk>" in printed[3]["warning"] and "'Q'" in printed[3]["warning"]
    # the loss is the mean surprisal of each character after a newline and the text before
    tok = p.stream().tok
    ids = tok.encode("\n" + texts[0])
    with torch.no_grad():
        logits = p.model(torch.tensor([ids])).logits[0]  # (T, V)
    logp = torch.log_softmax(logits, -1)
    nats = -sum(float(logp[t, ids[t + 1]]) for t in range(len(ids) - 1))
    assert printed[0]["loss"] == pytest.approx(nats / (len(ids) - 1), abs=1e-5)
    assert printed[0]["bits_per_char"] == pytest.approx(printed[0]["loss"] / math.log(2))
    assert printed[0]["chars"] == len(texts[0])
    best = logp[-1].exp().topk(5)
    assert list(printed[0]["next"]) == [tok.vocab.itos[int(i)] for i in best.indices]
    assert list(printed[0]["next"].values()) == pytest.approx(best.values.tolist(), abs=1e-6)


def test_stream_point_by_point_equals_predict(text_run):
    p = rnnkit.load(text_run)
    texts = ["the cat sat on the mat.", "t", "at the Qat"]
    records = p.predict(texts)
    s = p.stream()
    for text, record in zip(texts, records):
        s.reset()
        steps = [s.push(c) for c in text]
        assert [r["text"] for r in steps] == list(text) and all(r["chars"] == 1 for r in steps)
        assert sum(r["nats"] for r in steps) / len(text) == pytest.approx(record["loss"],
                                                                           abs=1e-5)
        assert list(steps[-1]["next"]) == list(record["next"])
        assert list(steps[-1]["next"].values()) == pytest.approx(
            list(record["next"].values()), abs=1e-5)
        # each step's surprisal is what the prefix's prediction gave that character
        prefix = p.predict([text[:4]])[0]
        assert sum(r["nats"] for r in steps[:4]) == pytest.approx(
            prefix["loss"] * prefix["chars"], abs=1e-5)
    # a piece at a time equals a character at a time; reset starts over
    s.reset()
    whole = s.push(texts[0])
    assert whole["chars"] == len(texts[0])
    assert whole["nats"] == pytest.approx(records[0]["loss"] * len(texts[0]), abs=1e-4)
    s.reset()
    assert s.push("t")["nats"] == pytest.approx(records[1]["loss"], abs=1e-5)
    assert s.push("")["chars"] == 0
    with pytest.raises(TaskError, match="str"):
        s.push(3)


def test_generate_equals_the_cli_repeats_and_follows_the_options(text_run, capsys):
    p = rnnkit.load(text_run)
    options = dict(prompt="the ", max_new=40, temperature=0.8, top_k=3, seed=7)
    pieces = list(p.generate(**options))
    assert pieces[0] == "the " and len(pieces) == 41 and all(len(c) == 1 for c in pieces[1:])
    assert list(p.generate(**options)) == pieces  # a fixed seed repeats
    capsys.readouterr()
    assert main(["generate", str(text_run), "--prompt", "the ", "--max-new", "40",
                 "--temperature", "0.8", "--top-k", "3", "--seed", "7"]) == 0
    assert capsys.readouterr().out == "".join(pieces) + "\n"
    seeds = {"".join(p.generate(prompt="the ", max_new=40, seed=k)) for k in range(4)}
    assert len(seeds) > 1  # the seed matters at temperature 1
    # temperature 0 is greedy: the most likely character of a hand-run step loop
    greedy = "".join(p.generate(prompt="the ", max_new=12, temperature=0, seed=3))
    tok, model = p.stream().tok, p.model
    with torch.no_grad():
        out = model(torch.tensor([tok.encode("the ")]))
        logits, state, text = out.logits[0, -1], out.state, "the "
        for _ in range(12):
            token = int(logits.argmax())
            text += tok.decode([token])
            step, state = model.step(torch.tensor([token]), state)
            logits = step[0]
    assert greedy == text
    assert "".join(p.generate(max_new=0)) == "\n"  # default prompt: a new line
    with pytest.raises(TaskError, match="max-new"):
        p.generate(max_new=-1)
    with pytest.raises(TaskError, match="top_p"):
        p.generate(top_p=1.5)


def test_the_parts_may_be_files_of_their_own(tmp_path):
    """task.train_data, val_data and test_data (DESIGN.md's convention for every task):
    each split's rows come from its own file; without val_data the training file's last
    10% validates, without test_data the validation text is also the test text."""
    from rnnkit.tasks.charlm import rows

    texts = {"train": "abcdefghij" * 30, "val": "jihgfedcba" * 5, "test": "aabbccddee" * 5}
    for name, text in texts.items():
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
    path = {k: str(tmp_path / f"{k}.txt") for k in texts}

    def splits(**task):
        cfg = config_from_raw({"task": {"name": "charlm", "window": 8, "val_streams": 2,
                                        **task}, "train": {"batch_size": 2}}, "t")
        ctx = TASKS["charlm"].setup(cfg)
        return ctx, TASKS["charlm"].batches(ctx)

    ctx, got = splits(train_data=path["train"], val_data=path["val"], test_data=path["test"])
    tok = ctx.tokenizer
    for split, text, width in (("train", texts["train"], 8), ("val", texts["val"], None),
                               ("test", texts["test"], None)):
        want = rows(torch.tensor(tok.encode(text)), 2, width)
        assert torch.equal(got[split]["x"], want["x"]), split
        assert torch.equal(got[split]["y"], want["y"]), split
    ctx, got = splits(train_data=path["train"])  # the last 10% validates and tests
    assert ctx.parts == (texts["train"][:270], texts["train"][270:], texts["train"][270:])
    assert got["test"] is got["val"]
    ctx, got = splits(train_data=path["train"], test_data=path["test"])
    assert ctx.parts[2] == texts["test"] and ctx.parts[1] == texts["train"][270:]
    for task, message in (
            ({"text": path["train"], "train_data": path["train"]},
             "task.text (or task.data) and task.train_data both name the training text: "
             "set one"),
            ({"data": path["train"], "test_data": path["test"]},
             "task.test_data needs task.train_data (the parts come together)"),
            ({"val_data": path["val"]},
             "task.val_data needs task.train_data (the parts come together)"),
            ({"text": path["train"], "data": path["val"]},
             "task.text and task.data both name the text file: set one")):
        with pytest.raises(ConfigError, match=r"\n  " + re.escape(message) + "$"):
            splits(**task)
    with pytest.raises(DataError, match=r"and 50 validation and 4 test characters \(need "
                                        r"more than task.val_streams = 8\)"):
        (tmp_path / "short.txt").write_text("abcd")
        splits(train_data=path["train"], val_data=path["val"], test_data=str(
            tmp_path / "short.txt"), val_streams=8)


def test_an_unreadable_part_names_its_key(tmp_path):
    (tmp_path / "ok.txt").write_text("abcdefghij" * 30, encoding="utf-8")
    ok, missing = str(tmp_path / "ok.txt"), str(tmp_path / "none.txt")
    for task, key in (({"train_data": missing}, "train_data"),
                      ({"train_data": missing, "val_data": ok}, "train_data"),
                      ({"train_data": ok, "val_data": missing}, "val_data"),
                      ({"train_data": ok, "test_data": missing}, "test_data"),
                      ({"text": missing}, "text")):
        cfg = config_from_raw({"task": {"name": "charlm", **task}}, "t")
        with pytest.raises(DataError, match=f"^task.{key} = {re.escape(repr(missing))}: "
                                            "cannot read it as UTF-8 text"):
            print(TASKS["charlm"].setup(cfg).parts)
