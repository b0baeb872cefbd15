"""Sentiment: bucketed batches, the sentiment task on rt-polarity (skipped without
RNNKIT_DATA), predict on text with --explain, empty, long and non-UTF-8 lines."""

import json
import os

import pytest
import torch

import rnnkit
from rnnkit.cli.main import main
from rnnkit.data.batches import BucketStream, trim_padding
from rnnkit.data.tokenizers import tokenizer_from_dict
from rnnkit.models import SequenceClassifier
from rnnkit.tasks import TASKS
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.text_common import TextLine, pad_ids

needs_data = pytest.mark.skipif(not os.environ.get("RNNKIT_DATA"),
                                reason="real data absent: set RNNKIT_DATA=../shared/data")


def test_bucketed_batches_have_similar_lengths_and_no_spare_padding():
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 60, (400,), generator=g)
    x = torch.arange(1, 61).repeat(400, 1) * (torch.arange(60)[None] < lengths[:, None])
    data = {"x": x, "lengths": lengths, "y": torch.zeros(400, dtype=torch.long)}
    stream = BucketStream(data, 20, seed=3, pool=10)
    seen = []
    for step in range(stream.steps_per_epoch):
        b = stream.batch(step)
        assert b["x"].shape[1] == int(b["lengths"].max())  # trimmed to the longest row
        assert int(b["lengths"].max() - b["lengths"].min()) < 20  # similar lengths
        seen += b["x"][:, 0].tolist()
    assert len(seen) == 400  # every row once an epoch
    assert torch.equal(BucketStream(data, 20, seed=3, pool=10).batch(5)["x"], stream.batch(5)["x"])


def test_trim_keeps_targets_with_their_own_lengths():
    batch = {"x": torch.ones(2, 9), "lengths": torch.tensor([3, 2]),
             "y": torch.ones(2, 9), "y_lengths": torch.tensor([5, 4])}
    out = trim_padding(batch)
    assert out["x"].shape == (2, 3) and out["y"].shape == (2, 5)


def test_padding_never_changes_a_prediction():
    torch.manual_seed(0)
    model = SequenceClassifier(num_classes=2, vocab_size=20, hidden_size=8,
                               bidirectional=True, pooling="attention").eval()
    ids, lengths = pad_ids([[4, 5, 6], [7, 8, 9, 10, 11, 12]])
    out = model(ids, lengths)
    alone = model(torch.tensor([[4, 5, 6]]), torch.tensor([3]))
    assert torch.allclose(out.logits[0], alone.logits[0], atol=1e-6)
    assert float(out.weights[0, 3:].detach().abs().sum()) == 0.0  # no attention on padding


def test_pad_ids_pads_each_row_to_the_longest_and_counts_empty_rows_as_one():
    ids, lengths = pad_ids([[3, 4], [], [5, 6, 7]], pad=9)
    assert ids.tolist() == [[3, 4, 9], [9, 9, 9], [5, 6, 7]] and ids.dtype == torch.long
    assert lengths.tolist() == [2, 1, 3]
    ids, lengths = pad_ids([])
    assert ids.shape == (0, 1) and lengths.shape == (0,)


def _context(**task):
    cfg = config_from_raw({"task": {"name": "sentiment", **task}}, "test")
    return TASKS["sentiment"].setup(cfg)


@needs_data
def test_splits_are_disjoint_and_folds_work():
    parts = _context().items
    assert (len(parts["train"]) + len(parts["val"]), len(parts["test"])) == (9_596, 1_066)
    texts = {p: {s.text for s in parts[p]} for p in parts}
    assert not texts["test"] & (texts["train"] | texts["val"])  # no leaks
    fold = _context(folds=10, fold=3).items
    assert len(fold["test"]) in (1066, 1067)
    tok = _context().tokenizer
    assert tok.vocab.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]


def test_a_context_is_built_per_run_and_the_task_holds_no_state():
    a, b = _context(), _context(min_freq=2)
    assert a is not b and a.cfg.task.min_freq == 1 and b.cfg.task.min_freq == 2
    assert vars(TASKS["sentiment"]) == {}  # nothing stored on the registered task


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    if not os.environ.get("RNNKIT_DATA"):
        pytest.skip("real data absent: set RNNKIT_DATA=../shared/data")
    tmp = tmp_path_factory.mktemp("sentiment")
    args = ["train", "examples/sentiment.toml", "--run-dir", str(tmp / "run"),
            "--set", "train.epochs=0", "--set", "train.steps=30", "--set", "train.eval_every=15",
            "--set", "model.hidden_size=16", "--set", "model.embedding_dim=16",
            "--set", "train.progress=off"]
    assert main(args) == 0
    return tmp / "run"


def test_evaluate_and_reload_give_the_same_predictions(run_dir, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert {"accuracy", "loss"} <= set(figures) and 0 <= figures["accuracy"] <= 1
    assert "Misclassified test sentences" in (run_dir / "report.md").read_text()
    a, b = rnnkit.load(run_dir), rnnkit.load(run_dir)
    lines = ["a gripping, beautifully acted film", "dull and tedious"]
    assert a.predict(lines) == b.predict([TextLine(t) for t in lines])
    assert a.task == "sentiment" and a.config.task.name == "sentiment"


def test_load_predict_equals_what_the_cli_prints(run_dir, tmp_path, capsys):
    texts = ["a gripping, beautifully acted film", "dull and tedious", "", "ok"]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    capsys.readouterr()
    assert main(["predict", str(run_dir), "--input", str(tmp_path / "in.txt"),
                 "--explain"]) == 1  # (the empty line gets an error record)
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    p = rnnkit.load(run_dir)
    assert printed == p.predict(texts, explain=True)
    assert printed == p.predict_file(tmp_path / "in.txt", explain=True)
    # the probability is the softmax of the model's logits for the printed label
    tok_ids = tokenizer_from_dict(p.info["tokenizer"]).vocab.encode(printed[0]["tokens"])
    logits = p.model(torch.tensor([tok_ids]), torch.tensor([len(tok_ids)])).logits[0]
    probs = torch.softmax(logits, -1)
    assert printed[0]["probability"] == pytest.approx(float(probs.max()), abs=1e-6)
    assert printed[0]["label"] == ["negative", "positive"][int(probs.argmax())]


def test_predict_text_stdin_explain_and_edge_cases(run_dir, monkeypatch, capsys):
    capsys.readouterr()
    assert main(["predict", str(run_dir), "--text", "a gripping, beautifully acted film",
                 "--explain"]) == 0
    (rec,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rec["label"] in ("positive", "negative") and 0.5 <= rec["probability"] <= 1
    assert len(rec["weights"]) == len(rec["tokens"]) == 6
    assert sum(rec["weights"]) == pytest.approx(1.0, abs=1e-4)

    class Stdin:
        buffer = __import__("io").BytesIO(b"fine film\n\n\xc3\x28 broken\n" + b"long " * 3000)
    monkeypatch.setattr("sys.stdin", Stdin)
    assert main(["predict", str(run_dir), "--input", "-"]) == 1  # (the empty line)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"][:4] for r in records] == ["fine", "", "\ufffd( b", "long"]
    assert records[1]["label"] is None and "empty" in records[1]["error"]
    assert "UTF-8" in records[2]["warning"] and records[2]["label"] is not None
    assert "400 of 3000" in records[3]["truncated"]


def test_batched_predict_equals_each_text_alone_in_input_order(run_dir):
    """Texts run sorted by length in padded batches (here 3 a batch), records in input
    order, equal to predicting each text alone."""
    p = rnnkit.load(run_dir)
    p.batch_size = 3
    texts = ["dull", "a gripping , beautifully acted film that never lets go", "",
             "ok then", "the plot is thin but the acting is superb", "bad bad bad",
             "an overlong and tedious mess", "fun"]
    batched = p.predict(texts, explain=True)
    alone = [p.predict([t], explain=True)[0] for t in texts]
    assert [r["text"] for r in batched] == texts
    for b, a in zip(batched, alone):
        assert b["label"] == a["label"] and b.get("tokens") == a.get("tokens")
        if a["label"] is not None:
            assert b["probability"] == pytest.approx(a["probability"], abs=2e-6)
            assert b["weights"] == pytest.approx(a["weights"], abs=2e-6)
