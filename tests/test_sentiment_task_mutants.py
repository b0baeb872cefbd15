"""Task ``sentiment`` (rnnkit/tasks/sentiment.py) unit by unit: the rows of the user's tables
and of rt-polarity's split worked out by hand, the exact messages, the tokenizer and tensors,
the config checks, the pretrain stage's arguments and record, the report of a model whose
outputs are known, and the predictor's records (found by mutation testing,
benchmarks/mutation.py)."""

from __future__ import annotations

import io
import json
import random
import re
import sys
from types import SimpleNamespace

import pytest
import torch

import rnnkit.tasks.sentiment as smod
from rnnkit.data.text import Labelled
from rnnkit.models import ClassifierEnsemble, SequenceClassifier
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.sentiment import LABELS, SentimentPredictor, to_tensors
from rnnkit.tasks.text_common import TextLine
from rnnkit.training import ConfigError

TASK = TASKS["sentiment"]

TRAIN = [("good fun", "pos"), ("bad  ", "neg"), ("  good good day", "pos"), ("awful", "neg"),
         ("meh", "mid")]
TEST = [("good", "pos"), ("bad day", "neg")]
VAL = [("fun", "mid")]


def _csv(path, rows, text="body", label="topic"):
    lines = [f"{text},{label}"] + [f'"{t}",{lab}' for t, lab in rows]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _raw(task, model=None, train=None):
    return {"name": "s", "seed": 7, "task": {"name": "sentiment", **task},
            "model": {"cell": "gru", "hidden_size": 4, "embedding_dim": 4, **(model or {})},
            "train": {"steps": 2, "batch_size": 3, "threads": 1, "progress": "off",
                      **(train or {})},
            "diagnostics": {"every": 0}}


def _files(tmp_path, train=TRAIN, val=VAL, test=TEST):
    return {"train_data": _csv(tmp_path / "train.csv", train),
            "val_data": _csv(tmp_path / "val.csv", val),
            "test_data": _csv(tmp_path / "test.csv", test),
            "text_column": "body", "label_column": "topic"}


def _ctx(tmp_path, files=None, **task):
    files = _files(tmp_path) if files is None else files
    return TASK.setup(config_from_raw(_raw({**files, **task}), "t"))


# -- rows, labels, items --------------------------------------------------------------------
def test_own_tables_read_to_stripped_rows_sorted_labels_and_indices(tmp_path):
    ctx = _ctx(tmp_path)
    assert ctx.rows == {"train": [("good fun", "pos"), ("bad", "neg"), ("good good day", "pos"),
                                  ("awful", "neg"), ("meh", "mid")],
                        "val": [("fun", "mid")], "test": [("good", "pos"), ("bad day", "neg")]}
    assert ctx.labels == ["mid", "neg", "pos"]
    assert ctx.items["train"] == [Labelled("good fun", 2), Labelled("bad", 1),
                                  Labelled("good good day", 2), Labelled("awful", 1),
                                  Labelled("meh", 0)]
    assert ctx.items["test"] == [Labelled("good", 2), Labelled("bad day", 1)]
    assert ctx.unlabelled == []


def test_one_file_is_split_by_the_seeds(tmp_path):
    rows = [(f"w{i}", "ab"[i % 2]) for i in range(20)]
    path = _csv(tmp_path / "all.csv", rows)
    ctx = _ctx(tmp_path, {"data": path, "text_column": "body", "label_column": "topic"},
               split_seed=4, test_fraction=0.2, val_fraction=0.25)
    order = list(range(20))
    random.Random(4).shuffle(order)
    test = sorted(order[:4])
    assert ctx.rows["test"] == [rows[i] for i in order if i in test]
    rest = [rows[i] for i in order if i not in test]
    val = torch.randperm(16, generator=torch.Generator().manual_seed(5)).tolist()[:4]
    assert ctx.rows["val"] == [rest[i] for i in val]
    assert sorted(ctx.rows["train"]) == sorted(r for i, r in enumerate(rest) if i not in val)


@pytest.mark.parametrize("column, message", [
    ("topic", "empty 'topic': every text needs a label"),
    ("body", "empty 'body': no words to classify")])
def test_an_empty_text_or_label_is_named_with_its_line(tmp_path, column, message):
    rows = list(TRAIN)
    rows[2] = ("  ", "pos") if column == "body" else ("fine", "  ")
    files = _files(tmp_path, train=rows)
    with pytest.raises(TaskError, match=re.escape(f"{files['train_data']}:4: {message}")):
        _ = _ctx(tmp_path, files).rows


def test_a_table_error_becomes_a_task_error_and_blank_lines_a_warning(tmp_path):
    files = _files(tmp_path)
    (tmp_path / "test.csv").write_text("text,label\nx,y\n")
    with pytest.raises(TaskError, match=r"test\.csv.*body"):
        _ = _ctx(tmp_path, files).rows
    files = _files(tmp_path)
    (tmp_path / "val.csv").write_text("body,topic\n\nfun,mid\n")
    with pytest.warns(UserWarning) as caught:
        assert _ctx(tmp_path, files).rows["val"] == [("fun", "mid")]
    assert [str(w.message) for w in caught] == [
        f"{files['val_data']}: skipped 1 blank line(s) (line 2)"]
    # stacklevel 2: the caller's line (under mutmut's trampoline, the trampoline's), never
    # sentiment.py itself
    assert not caught[0].filename.endswith("sentiment.py")


def test_one_training_class_and_unseen_labels_are_errors(tmp_path):
    files = _files(tmp_path, train=[(t, "pos") for t, _ in TRAIN])
    with pytest.raises(TaskError, match=re.escape(
            "the training part has 1 class(es) (['pos']); a classifier needs at least 2")):
        _ = _ctx(tmp_path, files).labels
    files = _files(tmp_path, val=[("a", "zz"), ("b", "pos")], test=TEST + [("c", "x"),
                                                                           ("d", "y")])
    with pytest.raises(TaskError, match=re.escape(
            f"{files['val_data']}:2: the val part has label(s) ['zz'] that no training text "
            "has ('zz': line 2); the training part's classes are ['mid', 'neg', 'pos']: give "
            "training texts of every class, or leave these rows out of the val part")):
        _ = _ctx(tmp_path, files).labels
    files = _files(tmp_path, test=TEST + [("c", "y"), ("d", "x"), ("e", "y")])
    with pytest.raises(TaskError, match=re.escape("the test part has label(s) ['x', 'y']")):
        _ = _ctx(tmp_path, files).labels


# -- rt-polarity ----------------------------------------------------------------------------
def _polarity(n=40):
    return [Labelled(f"text {i}", i % 2) for i in range(n)]


def test_rt_polarity_is_split_by_the_seed_and_the_validation_part_by_seed_plus_1(
        tmp_path, monkeypatch):
    items = _polarity()
    monkeypatch.setattr(smod, "load_rt_polarity", lambda: items)
    ctx = TASK.setup(config_from_raw(_raw({"split_seed": 3, "test_fraction": 0.25,
                                           "val_fraction": 0.2}), "t"))
    order = list(range(40))
    random.Random(3).shuffle(order)
    held = set(order[:10])
    train = [items[i] for i in order if i not in held]
    val = torch.randperm(30, generator=torch.Generator().manual_seed(4)).tolist()
    assert ctx.rows["test"] == [(items[i].text, LABELS[items[i].label]) for i in order
                                if i in held]
    assert ctx.rows["val"] == [(train[i].text, LABELS[train[i].label]) for i in val[:6]]
    assert ctx.rows["train"] == [(train[i].text, LABELS[train[i].label]) for i in val[6:]]
    assert ctx.labels == ["negative", "positive"]


def test_rt_polarity_folds(tmp_path, monkeypatch):
    items = _polarity()
    monkeypatch.setattr(smod, "load_rt_polarity", lambda: items)
    ctx = TASK.setup(config_from_raw(_raw({"folds": 4, "fold": 1, "val_fraction": 0.1}), "t"))
    order = list(range(40))
    random.Random(0).shuffle(order)
    assert ctx.rows["test"] == [(items[i].text, LABELS[items[i].label]) for i in order
                                if i in set(order[1::4])]
    assert len(ctx.rows["train"]) == 27 and len(ctx.rows["val"]) == 3
    for fold in (4, 5):
        ctx = TASK.setup(config_from_raw(_raw({"folds": 4, "fold": fold}), "t"))
        with pytest.raises(TaskError, match=re.escape(
                f"task.fold = {fold}: must be < task.folds = 4")):
            _ = ctx.rows
    ctx = TASK.setup(config_from_raw(_raw({"fold": 3, "test_fraction": 0.1}), "t"))
    assert len(ctx.rows["test"]) == 4  # folds = 0: fold is not read


# -- unlabelled text, tokenizer, tensors ----------------------------------------------------
def test_unlabelled_text_from_lines_or_a_table_column(tmp_path):
    (tmp_path / "more.TXT").write_text("  new words here \n\n   \nmore, text\n")
    ctx = _ctx(tmp_path, unlabelled_data=str(tmp_path / "more.TXT"), pretrain_epochs=1)
    assert ctx.unlabelled == ["new words here", "more, text"]
    _csv(tmp_path / "more.CSV", [("alpha beta", "x"), (" ", "y"), ("gamma", "z")])
    ctx = _ctx(tmp_path, unlabelled_data=str(tmp_path / "more.CSV"), pretrain_epochs=1)
    assert ctx.unlabelled == ["alpha beta", "gamma"]
    (tmp_path / "u.jsonl").write_text('{"body": " delta "}\n')
    ctx = _ctx(tmp_path, unlabelled_data=str(tmp_path / "u.jsonl"), pretrain_epochs=1)
    assert ctx.unlabelled == ["delta"]
    (tmp_path / "empty.txt").write_text("\n  \n")
    ctx = _ctx(tmp_path, unlabelled_data=str(tmp_path / "empty.txt"), pretrain_epochs=1)
    with pytest.raises(TaskError, match=re.escape(
            f"task.unlabelled_data = {str(tmp_path / 'empty.txt')!r}: no text in it")):
        _ = ctx.unlabelled
    (tmp_path / "bad.csv").write_text("words\nx\n")
    ctx = _ctx(tmp_path, unlabelled_data=str(tmp_path / "bad.csv"), pretrain_epochs=1)
    with pytest.raises(TaskError, match=r"bad\.csv.*body"):
        _ = ctx.unlabelled


def test_the_tokenizer_is_fitted_on_training_and_unlabelled_text(tmp_path):
    ctx = _ctx(tmp_path)
    words = ctx.tokenizer.vocab.itos[4:]
    assert sorted(words) == ["awful", "bad", "day", "fun", "good", "meh"]
    assert ctx.tokenizer.lower
    (tmp_path / "u.txt").write_text("zebra Good\nzebra\n")
    ctx = _ctx(tmp_path, unlabelled_data=str(tmp_path / "u.txt"), pretrain_epochs=1,
               min_freq=2)
    assert sorted(ctx.tokenizer.vocab.itos[4:]) == ["good", "zebra"]
    ctx = _ctx(tmp_path, max_vocab=1)
    assert ctx.tokenizer.vocab.itos[4:] == ["good"]
    assert TASK.model_args(ctx) == {"num_classes": 3, "vocab_size": 5}


def test_tensors_are_padded_clipped_ids_with_lengths_and_labels(tmp_path):
    ctx = _ctx(tmp_path, max_tokens=2)
    splits = TASK.make_splits(ctx)
    ids = {w: i for i, w in enumerate(ctx.tokenizer.vocab.itos)}
    good, fun, bad, day = ids["good"], ids["fun"], ids["bad"], ids["day"]
    assert splits["train"]["x"].tolist() == [[good, fun], [bad, 0], [good, good],
                                             [ids["awful"], 0], [ids["meh"], 0]]
    assert splits["train"]["lengths"].tolist() == [2, 1, 2, 1, 1]
    assert splits["train"]["y"].tolist() == [2, 1, 2, 1, 0]
    assert splits["test"]["x"].tolist() == [[good, 0], [bad, day]]
    assert splits["val"]["y"].tolist() == [0]
    got = to_tensors([Labelled("day day day", 1)], ctx.tokenizer, 5)
    assert got["x"].tolist() == [[day] * 3] and got["lengths"].tolist() == [3]


# -- config checks and model ----------------------------------------------------------------
def _errors(task):
    with pytest.raises(ConfigError) as caught:
        config_from_raw(_raw(task), "t")
    return str(caught.value).split("\n  ")[1:]


def test_config_checks(tmp_path):
    files = _files(tmp_path)
    (tmp_path / "u.txt").write_text("x\n")
    assert _errors({**files, "unlabelled_data": str(tmp_path / "u.txt")}) == [
        "task.unlabelled_data is read by the pretrain stage only: set task.pretrain_epochs "
        "(e.g. 5), or drop it"]
    assert _errors({**files, "folds": 5}) == [
        "task.folds: cross-validation folds apply to rt-polarity; with your own data, split "
        "by task.split_seed and task.test_fraction"]
    assert _errors({"data": files["train_data"], "folds": 5}) == [
        "task.folds: cross-validation folds apply to rt-polarity; with your own data, split "
        "by task.split_seed and task.test_fraction"]
    assert _errors({"data": files["train_data"], "test_data": files["test_data"]})[0] \
        .startswith("task.data names the whole set")
    for good in ({"folds": 5}, {**files, "unlabelled_data": str(tmp_path / "u.txt"),
                                "pretrain_epochs": 1}):
        assert TASK.check(config_from_raw(_raw(good), "t")) == []


def test_models_and_info(tmp_path):
    ctx = _ctx(tmp_path)
    model = TASK.build_model(ctx)
    assert type(model) is SequenceClassifier
    config = model.get_config()
    assert config["num_classes"] == 3 and config["vocab_size"] == 10
    assert config["hidden_size"] == 4 and config["embedding_dim"] == 4
    ensemble = TASK.build_model(_ctx(tmp_path, ensemble=3))
    assert isinstance(ensemble, ClassifierEnsemble) and len(ensemble.members) == 3
    again = ClassifierEnsemble(members=3, seed=7, **{k: config[k] for k in config})
    for a, b in zip(ensemble.state_dict().values(), again.state_dict().values()):
        torch.testing.assert_close(a, b)
    info = TASK.info(ctx, model)
    assert info["labels"] == ["mid", "neg", "pos"] and info["task"]["name"] == "sentiment"
    assert info["tokenizer"] == ctx.tokenizer.to_dict()


# -- pretraining ----------------------------------------------------------------------------
def _fake_pretrain(calls):
    def fake(encoder, texts, **kwargs):
        calls.append((encoder, texts, kwargs))
        kwargs["on_epoch"](0, 1.25, 2.4)
        return [1.25, 0.5][:len(calls)]
    return fake


def test_pretrain_gets_the_clipped_texts_and_the_run_settings(tmp_path, monkeypatch):
    calls, said = [], []
    monkeypatch.setattr(smod, "pretrain_encoder", _fake_pretrain(calls))
    (tmp_path / "u.txt").write_text("zebra good day fun\n")
    ctx = TASK.setup(config_from_raw(_raw(
        {**_files(tmp_path), "unlabelled_data": str(tmp_path / "u.txt"), "pretrain_epochs": 2,
         "pretrain_lr": 0.02, "max_tokens": 3}, model={"dropout": 0.15}), "t"))
    model = TASK.build_model(ctx)
    TASK.pretrain(ctx, model, tmp_path, say=said.append)
    ((encoder, texts, kwargs),) = calls
    assert encoder is model.encoder
    tok = ctx.tokenizer
    want = [tok.encode(t)[:3] for t in ["good fun", "bad", "good good day", "awful", "meh",
                                         "zebra good day fun"]]
    assert texts == want and len(texts[-1]) == 3
    del kwargs["on_epoch"]
    assert kwargs == {"epochs": 2, "lr": 0.02, "batch_size": 3, "seed": 7, "dropout": 0.15}
    assert said == ["pretrain epoch 1/2: language-model loss 1.250 nats a word (2 s)"]
    text = (tmp_path / "pretrain.json").read_text()
    assert json.loads(text) == {"epochs": 2, "texts": 6, "unlabelled_texts": 1, "loss": [1.25]}
    assert text.startswith('{\n "epochs": 2,\n "texts": 6,\n') and text.endswith("]\n}\n")


def test_pretrain_each_member_from_its_own_seed(tmp_path, monkeypatch):
    calls, said = [], []
    monkeypatch.setattr(smod, "pretrain_encoder", _fake_pretrain(calls))
    ctx = _ctx(tmp_path, pretrain_epochs=1, ensemble=2)
    model = TASK.build_model(ctx)
    TASK.pretrain(ctx, model, tmp_path, say=said.append)
    assert [c[0] for c in calls] == [m.encoder for m in model.members]
    assert [c[2]["seed"] for c in calls] == [7, 8]
    assert said == ["pretrain epoch 1/1 (member 1/2): language-model loss 1.250 nats a word "
                    "(2 s)", "pretrain epoch 1/1 (member 2/2): language-model loss 1.250 nats "
                    "a word (2 s)"]
    record = json.loads((tmp_path / "pretrain.json").read_text())
    assert record == {"epochs": 1, "texts": 5, "unlabelled_texts": 0,
                      "loss": [[1.25], [1.25, 0.5]]}


def test_no_pretrain_epochs_no_stage(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(smod, "pretrain_encoder", _fake_pretrain(calls))
    ctx = _ctx(tmp_path)
    TASK.pretrain(ctx, TASK.build_model(ctx), tmp_path)
    assert calls == [] and not (tmp_path / "pretrain.json").exists()


# -- report and predictor -------------------------------------------------------------------
class Stub(torch.nn.Module):
    """Logits known by hand: class c's is the count of id 4 + c among the valid ids;
    weights: (each id + 0.5) / 7 (None with weights=False)."""

    def __init__(self, classes=3, weights=True):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))
        self.classes, self.with_weights = classes, weights
        self.calls = []

    def forward(self, x, lengths):
        self.calls.append(x.shape)
        valid = torch.arange(x.shape[1])[None] < lengths[:, None]
        logits = torch.stack([((x == 4 + c) & valid).sum(1).float()
                              for c in range(self.classes)], -1)
        return SimpleNamespace(logits=logits,
                               weights=(x.float() + 0.5) / 7 if self.with_weights else None)

    def predict_proba(self, x, lengths):
        return torch.softmax(self(x, lengths).logits, -1)


def test_the_report_lists_mistakes_most_confident_first(tmp_path):
    # vocabulary by hand: ids 4.. are the training words by count, then first seen
    train = [("aa", "a"), ("bb", "b"), ("cc", "c")] * 2
    test = [("aa bb", "b"), ("cc cc cc", "a"), ("bb", "b"), ("aa | x", "c"), ("aa", "a")]
    ctx = _ctx(tmp_path, _files(tmp_path, train=train, val=[("aa", "a")], test=test))
    assert ctx.tokenizer.vocab.itos[4:7] == ["aa", "bb", "cc"]
    p_tie, p_cc = 1 / (2 + torch.e ** -1), torch.e ** 3 / (2 + torch.e ** 3)
    lines = TASK.report_sections(ctx, Stub())
    assert lines[:lines.index("## Misclassified test sentences (3 of 5)")] == [
        "## Test figures per class (macro-F1 0.356)", "",
        "| class | precision | recall | F1 | test texts |", "|---|---|---|---|---|",
        "| a | 0.333 | 0.500 | 0.400 | 2 |", "| b | 1.000 | 0.500 | 0.667 | 2 |",
        "| c | 0.000 | 0.000 | 0.000 | 1 |", ""]
    assert lines[lines.index("## Misclassified test sentences (3 of 5)"):] == [
        "## Misclassified test sentences (3 of 5)", "",
        "| true | predicted (p) | sentence |", "|---|---|---|",
        f"| a | c ({p_cc:.2f}) | cc cc cc |",
        f"| c | a ({torch.e / (2 + torch.e):.2f}) | aa \\| x |",
        f"| b | a ({p_tie:.2f}) | aa bb |"]


def test_the_report_shows_15_mistakes(tmp_path):
    train = [("aa", "a"), ("bb", "b")]
    test = [("bb", "a")] * 20
    ctx = _ctx(tmp_path, _files(tmp_path, train=train, val=[("aa", "a")], test=test))
    lines = TASK.report_sections(ctx, Stub(classes=2))
    lines = lines[lines.index("## Misclassified test sentences (20 of 20)"):]
    assert len(lines) == 4 + 15


def _predictor(tmp_path, model=None, info=None, **task):
    ctx = _ctx(tmp_path, **task)
    info = {"tokenizer": ctx.tokenizer.to_dict(), "labels": ctx.labels} if info is None \
        else info
    return SentimentPredictor(TASK, ctx, model or Stub(), info)


def test_records_come_back_in_input_order_with_every_probability(tmp_path):
    model = Stub()
    p = _predictor(tmp_path, model=model)
    # class c's logit counts id 4 + c; good (3 times in training) is id 4
    itos = p.context.tokenizer.vocab.itos
    assert itos[4] == "good"
    w5, w6 = itos[5], itos[6]
    records = p.predict([f"{w5} {w5} good", "GOOD", "", f"{w6} zzz"])
    e = torch.e
    want_probs = [[e / (1 + e + e * e), e * e / (1 + e + e * e), 1 / (1 + e + e * e)],
                  [e / (e + 2), 1 / (e + 2), 1 / (e + 2)],
                  None,
                  [1 / (e + 2), 1 / (e + 2), e / (e + 2)]]
    labels = ["mid", "neg", "pos"]
    for r, text, probs in zip(records, [f"{w5} {w5} good", "GOOD", "", f"{w6} zzz"],
                              want_probs):
        assert r["text"] == text
        if probs is None:
            assert r == {"text": "", "label": None, "probability": None,
                         "probabilities": None, "error": "empty line: no words to classify"}
            continue
        k = max(range(3), key=probs.__getitem__)
        assert r == {"text": text, "label": labels[k], "probability": round(probs[k], 6),
                     "probabilities": {n: round(q, 6) for n, q in zip(labels, probs)}}
    assert [tuple(s) for s in model.calls] == [(3, 3)]  # the empty line is not run


def test_ties_go_to_the_first_class_and_labels_default_to_rt_polaritys(tmp_path):
    p = _predictor(tmp_path, model=Stub(classes=2),
                   info={"tokenizer": _ctx(tmp_path).tokenizer.to_dict()})
    (r,) = p.predict(["unknownword"])
    assert r["label"] == "negative" and r["probabilities"] == {"negative": 0.5,
                                                               "positive": 0.5}


def test_long_texts_are_cut_and_explained_token_by_token(tmp_path):
    p = _predictor(tmp_path, max_tokens=2)
    (r, s, two) = p.predict(["Good fun day", "bad", "bad day"], explain=True)
    ids = {w: i for i, w in enumerate(p.context.tokenizer.vocab.itos)}

    def weight(word):  # the stub's float32 weight, rounded to 6 decimals
        return round(float(torch.tensor((ids[word] + 0.5) / 7, dtype=torch.float32)), 6)

    assert r["truncated"] == "read the first 2 of 3 tokens"
    assert r["tokens"] == ["good", "fun"]
    assert r["weights"] == [weight("good"), weight("fun")]
    assert "truncated" not in s and s["tokens"] == ["bad"] and s["weights"] == [weight("bad")]
    assert "truncated" not in two and two["tokens"] == ["bad", "day"]
    assert "tokens" not in p.predict(["bad"])[0]
    p = _predictor(tmp_path, model=Stub(weights=False))
    (r, e) = p.predict(["good", ""], explain=True)
    assert r["tokens"] == ["good"] and r["weights"] is None
    assert "tokens" not in e and "weights" not in e


def test_a_lines_problem_is_its_records_warning(tmp_path):
    p = _predictor(tmp_path)
    (r, e) = p.predict([TextLine("good", "line 3: not valid UTF-8"), TextLine("", "blank")])
    assert r["warning"] == "line 3: not valid UTF-8" and e["warning"] == "blank"
    assert "warning" not in p.predict("good")[0]


def test_more_than_256_texts_run_in_batches_sorted_by_length(tmp_path):
    model = Stub()
    p = _predictor(tmp_path, model=model)
    rng = random.Random(0)
    words = ["good", "bad", "fun", "day", "meh"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 9))) for _ in range(300)]
    records = p.predict(texts)
    assert [s[0] for s in model.calls] == [256, 44]
    lengths = sorted(len(t.split()) for t in texts)
    assert [s[1] for s in model.calls] == [lengths[255], lengths[-1]]
    for r, t in zip(records, texts):
        assert r == p.predict([t])[0]


def test_read_file_reads_a_tables_text_column_or_lines(tmp_path, monkeypatch):
    p = _predictor(tmp_path)
    _csv(tmp_path / "in.CSV", [("first text", "x"), ("second", "y")])
    assert p.read_file(tmp_path / "in.CSV") == [TextLine("first text"), TextLine("second")]
    (tmp_path / "in.tsv").write_text("body\tother\nhello there\t1\n")
    assert p.read_file(str(tmp_path / "in.tsv")) == [TextLine("hello there")]
    (tmp_path / "in.txt").write_text("body,topic\nb\n")
    assert p.read_file(tmp_path / "in.txt") == [TextLine("body,topic"), TextLine("b")]
    (tmp_path / "plain").write_text("a.b\n")
    assert p.read_file(tmp_path / "plain") == [TextLine("a.b")]
    (tmp_path / "bad.jsonl").write_text('{"text": "x"}\n')
    with pytest.raises(TaskError, match=r"bad\.jsonl.*body"):
        p.read_file(tmp_path / "bad.jsonl")
    (tmp_path / "csv").write_text("no dot, so lines\n")  # a name without a suffix: lines
    assert p.read_file(str(tmp_path / "csv")) == [TextLine("no dot, so lines")]
    monkeypatch.chdir(tmp_path)
    assert p.read_file("csv") == [TextLine("no dot, so lines")]
    (tmp_path / "in.d").mkdir()  # the suffix is the name's, not the folder's
    (tmp_path / "in.d" / "t.csv").write_text("body\nfrom the table\n")
    assert p.read_file(str(tmp_path / "in.d" / "t.csv")) == [TextLine("from the table")]
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(b"from stdin\n")))
    assert p.read_file("-") == [TextLine("from stdin")]


def test_the_task_makes_its_predictor(tmp_path):
    ctx, model, info = _ctx(tmp_path), Stub(), {"labels": ["a", "b"]}
    p = TASK.predictor(ctx, model, info, tmp_path)
    assert isinstance(p, SentimentPredictor) and p.task == "sentiment"
    assert p.context is ctx and p.model is model and p.info is info and p.run_dir == tmp_path
