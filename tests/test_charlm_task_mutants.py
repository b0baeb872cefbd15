"""The charlm task (rnnkit/tasks/charlm.py) in detail, on untrained models (no training
run): the text's 90/10 split and the exact message when it is too short, the rows of each
split, the config's bounds, the model's arguments and info, evaluation in nats and bits,
the report's sample, and the predictor's predict, stream and generate against hand-run
model calls (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnnkit.tasks.charlm as cmod
from rnnkit.data.datasets import DataError
from rnnkit.data.tokenizers import CharTokenizer
from rnnkit.models.sampling import sample_logits
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.charlm import (
    CharLMConfig,
    CharLMContext,
    CharLMPredictor,
    CharStream,
    read_text,
    rows,
    top_chars,
    unknown_chars,
)
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.text_common import TextLine
from rnnkit.training.config_io import ConfigError

TASK = TASKS["charlm"]
TEXT = "the cat sat on the mat. " * 4  # 96 characters: 86 train, 10 validation


def _config(path, model=None, **task):
    return config_from_raw({
        "name": "lm", "seed": 0,
        "task": {"name": "charlm", "text": str(path), "window": 8, "val_streams": 2, **task},
        "model": {"hidden_size": 6, "embedding_dim": 4, **(model or {})},
        "train": {"steps": 1, "batch_size": 3, "threads": 1, "progress": "off"},
        "diagnostics": {"every": 0}}, "test")


def _ctx(tmp_path, text=TEXT, model=None, **task):
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    return TASK.setup(_config(path, model, **task))


def _model(ctx, seed=0):
    torch.manual_seed(seed)
    return TASK.build_model(ctx)


def _predictor(tmp_path, text=TEXT, seed=0, **task) -> CharLMPredictor:
    ctx = _ctx(tmp_path, text, **task)
    model = _model(ctx, seed)
    return TASK.predictor(ctx, model, TASK.info(ctx, model))


# -- the text, the config and the context --------------------------------------------------
def test_read_text_splits_90_10_and_reads_shakespeare_without_a_path(tmp_path, monkeypatch):
    path = tmp_path / "t.txt"
    path.write_text("abcdefghijklmnopqrstuvwxy", encoding="utf-8")  # 25: cut at int(22.5)
    assert read_text(str(path)) == ("abcdefghijklmnopqrstuv", "wxy")
    path.write_text("é" * 10 + "z" * 10, encoding="utf-8")  # characters, not bytes
    assert read_text(str(path)) == ("é" * 10 + "z" * 8, "zz")
    monkeypatch.setattr(cmod, "load_shakespeare", lambda: ("TRAIN", "VAL"))
    assert read_text("") == ("TRAIN", "VAL")


def test_read_text_reads_utf8_whatever_the_locale(tmp_path, monkeypatch):
    """The file is decoded as UTF-8 by name, not with the locale's encoding."""
    encodings = []

    class SpyPath(type(tmp_path)):
        def read_text(self, encoding=None, errors=None):
            encodings.append(encoding)
            return super().read_text(encoding=encoding, errors=errors)

    path = tmp_path / "t.txt"
    path.write_text("é" * 20, encoding="utf-8")
    monkeypatch.setattr(cmod, "Path", SpyPath)
    assert read_text(str(path)) == ("é" * 18, "éé")
    assert [e.lower().replace("-", "") for e in encodings] == ["utf8sig"]  # (a BOM is dropped)


def test_unreadable_text_is_a_data_error_naming_the_file(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok \xff\xfe")
    with pytest.raises(DataError) as e:
        read_text(str(bad))
    assert str(e.value) == (f"task.text = {str(bad)!r}, line 1, column 4: byte 0xff is not "
                            "UTF-8; save the file as UTF-8")
    assert e.value.__cause__ is None and e.value.__suppress_context__
    missing = tmp_path / "missing.txt"
    with pytest.raises(DataError, match=r"^task\.text = .*missing\.txt': cannot read it as "
                                        r"UTF-8 text \(.*No such file"):
        read_text(str(missing))


def test_config_defaults_and_bounds():
    cfg = CharLMConfig()
    assert (cfg.name, cfg.text, cfg.window, cfg.val_streams, cfg.max_predict_chars) == (
        "charlm", "", 128, 16, 100_000)
    bounds = {f.name: (f.metadata.get("min"), f.metadata.get("max")) for f in fields(cfg)}
    assert bounds["window"] == (2, None) and bounds["val_streams"] == (1, None)
    assert bounds["max_predict_chars"] == (1, None)
    for key, low in (("window", 2), ("val_streams", 1), ("max_predict_chars", 1)):
        config_from_raw({"task": {"name": "charlm", key: low}}, "t")
        with pytest.raises(ConfigError, match=rf"task\.{key} = {low - 1}: must be >= {low}"):
            config_from_raw({"task": {"name": "charlm", key: low - 1}}, "t")


def test_context_reads_the_text_once_and_fits_the_tokenizer_on_the_training_part(
        tmp_path, monkeypatch):
    ctx = _ctx(tmp_path, "ab" * 45 + "xyzxyzxyzx")  # the last 10 characters are validation
    assert isinstance(ctx, CharLMContext)
    calls = []
    real = cmod.read_text
    monkeypatch.setattr(cmod, "read_text", lambda p: calls.append(p) or real(p))
    assert ctx.text == ("ab" * 45, "xyzxyzxyzx") and ctx.text is ctx.text
    assert calls == [str(tmp_path / "text.txt")]
    tok = ctx.tokenizer
    assert isinstance(tok, CharTokenizer) and tok is ctx.tokenizer
    assert tok.vocab.itos == ["<pad>", "<unk>", "<bos>", "<eos>", "a", "b"]


# -- rows and splits -----------------------------------------------------------------------
def test_rows_are_next_character_pairs_cut_into_equal_rows():
    ids = torch.arange(12)  # x: 0..10 (11), y: 1..11
    out = rows(ids, 3)  # width 11 // 3 = 3, three rows; the rest dropped
    assert out["x"].tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert out["y"].tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    out = rows(ids, 0, 4)  # rows of width 4: 11 // 4 = 2
    assert out["x"].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert out["y"].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    out = rows(ids, 5, 11)  # a width wins over n
    assert out["x"].tolist() == [list(range(11))] and out["y"].tolist() == [list(range(1, 12))]
    out = rows(torch.arange(11), 2)  # x: 0..9, exactly two rows of 5
    assert out["x"].tolist() == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


def test_splits_are_rows_of_the_encoded_text(tmp_path):
    ctx = _ctx(tmp_path, window=8, val_streams=3)
    train, val = ctx.text
    tok = ctx.tokenizer
    data = ctx.splits
    assert set(data) == {"train", "val", "test"} and data["test"] is data["val"]
    t = tok.encode(train)
    n = (len(t) - 1) // 8  # 85 // 8 = 10 rows of 8
    assert data["train"]["x"].dtype == torch.long and data["val"]["x"].dtype == torch.long
    assert data["train"]["x"].tolist() == [t[i * 8:(i + 1) * 8] for i in range(n)]
    assert data["train"]["y"].tolist() == [t[i * 8 + 1:(i + 1) * 8 + 1] for i in range(n)]
    v = tok.encode(val)  # 10 characters: 9 pairs, three rows of 3
    assert data["val"]["x"].tolist() == [v[0:3], v[3:6], v[6:9]]
    assert data["val"]["y"].tolist() == [v[1:4], v[4:7], v[7:10]]


def _too_short(path, train, val, window, streams):
    return (f"task.text = {str(path)!r}: the text is too short: {train} training characters "
            f"(need more than task.window = {window}) and {val} validation characters (need "
            f"more than task.val_streams = {streams}); give a longer text, or lower "
            "task.window and task.val_streams")


def test_a_too_short_text_says_what_each_part_needs(tmp_path):
    # 96 characters: 86 train, 10 validation
    ok = _ctx(tmp_path, window=85, val_streams=9)
    assert ok.splits["train"]["x"].shape == (1, 85) and ok.splits["val"]["x"].shape == (9, 1)
    for window, streams in ((86, 9), (85, 10), (86, 10), (200, 50)):
        ctx = _ctx(tmp_path, window=window, val_streams=streams)
        with pytest.raises(DataError) as e:
            TASK.make_splits(ctx)
        assert str(e.value) == _too_short(tmp_path / "text.txt", 86, 10, window, streams)


# -- the task's hooks ----------------------------------------------------------------------
def test_task_declares_its_model_config_and_capabilities(tmp_path):
    assert TASK.name == "charlm" and TASK.config_class is CharLMConfig
    assert TASK.model_class == "LanguageModel" and TASK.context_class is CharLMContext
    assert TASK.capabilities == {"text", "generate", "stream"}
    assert TASK.fixed_model_args == {"vocab_size"}
    ctx = _ctx(tmp_path)
    assert TASK.model_args(ctx) == {"vocab_size": 4 + len(set(TEXT))}
    model = _model(ctx)
    assert model.get_config()["vocab_size"] == 4 + len(set(TEXT))
    info = TASK.info(ctx, model)
    assert info["tokenizer"] == {"kind": "char", "tokens": sorted(set(TEXT))}
    assert info["task"]["window"] == 8 and info["task"]["name"] == "charlm"
    p = TASK.predictor(ctx, model, info)
    assert isinstance(p, CharLMPredictor) and p.model is model and p.info is info
    assert p.run_dir is None and p.context is ctx
    assert TASK.predictor(ctx, model, info, tmp_path).run_dir == tmp_path
    assert p.tokenizer.vocab.itos == ctx.tokenizer.vocab.itos


def test_evaluate_gives_nats_and_bits_per_character(tmp_path):
    ctx = _ctx(tmp_path, window=8, val_streams=2)
    model = _model(ctx)
    figures = TASK.evaluate(ctx, model, "val")
    x, y = ctx.splits["val"]["x"], ctx.splits["val"]["y"]
    with torch.no_grad():
        logits = model(x).logits  # (2, 4, V)
    nats = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
    assert figures["loss"] == pytest.approx(nats, rel=1e-5)
    assert figures["bits_per_char"] == pytest.approx(nats / math.log(2), rel=1e-5)
    assert figures["bits_per_char"] == figures["loss"] / math.log(2)


def _hand_sample(model, tok, prompt, n, temperature, top_k=None, top_p=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        out = model(torch.tensor([tok.encode(prompt)]))
        logits, state, text = out.logits[:, -1], out.state, ""
        for _ in range(n):
            logits[:, :4] = float("-inf")  # never a special token (ids 0-3)
            token = sample_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p,
                                  generator=g)
            text += tok.decode([int(token[0])])
            logits, state = model.step(token, state)
    return text


def test_the_report_samples_400_characters_after_romeo_or_a_newline(tmp_path):
    text = "ROMEO: the cat sat\n" * 6  # every character of the prompt is known
    ctx = _ctx(tmp_path, text, model={"dropout": 0.0})
    model = _model(ctx)
    sections = TASK.report_sections(ctx, model)
    sample = _hand_sample(model, ctx.tokenizer, "ROMEO:", 400, 0.8, top_k=40)
    assert sections == ["## Sample (temperature 0.8, top-k 40, seed 0)", "", "```",
                        "ROMEO:" + sample, "```"]
    ctx = _ctx(tmp_path, "ROMEO the cat sat\n" * 6)  # no ':' in the text
    model = _model(ctx)
    sections = TASK.report_sections(ctx, model)
    assert sections[3] == "\n" + _hand_sample(model, ctx.tokenizer, "\n", 400, 0.8, top_k=40)


def test_sample_text_sets_eval_mode_and_repeats_with_its_seed(tmp_path):
    ctx = _ctx(tmp_path, "abcab" * 20, model={"num_layers": 2, "dropout": 0.5})
    model = _model(ctx)
    model.train()
    pieces = list(cmod.sample_text(model, ctx.tokenizer, "ab", 30, seed=5))
    assert not model.training and len(pieces) == 30
    assert "".join(pieces) == _hand_sample(model, ctx.tokenizer, "ab", 30, 1.0, seed=5)
    assert list(cmod.sample_text(model, ctx.tokenizer, "ab", 30)) == list(
        cmod.sample_text(model, ctx.tokenizer, "ab", 30, seed=0))
    assert "".join(cmod.sample_text(model, ctx.tokenizer, "ab", 30, temperature=0)) == (
        _hand_sample(model, ctx.tokenizer, "ab", 30, 0))


# -- helpers -------------------------------------------------------------------------------
def test_top_chars_are_the_most_likely_with_rounded_probabilities():
    tok = CharTokenizer.fit("abc")  # ids 4, 5, 6 after the four specials
    logits = torch.tensor([0.0, -1.0, -3.0, -4.0, 2.0, 0.5, 1.0], dtype=torch.float64)
    p = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum()
    out = top_chars(logits, tok, 3)
    assert list(out) == ["a", "c", "b"]
    assert list(out.values()) == pytest.approx([p[4], p[6], p[5]], abs=1e-6)
    assert all(type(v) is float and v == round(v, 6) for v in out.values())
    # half logits are read in float32: more than the vocabulary gives all of it
    everything = top_chars(logits.half(), tok, 50)
    assert list(everything) == ["a", "c", "b", "<pad>", "<unk>", "<bos>", "<eos>"]
    assert list(everything.values()) == pytest.approx(p[[4, 6, 5, 0, 1, 2, 3]], abs=1e-6)
    assert list(top_chars(logits, tok, 1)) == ["a"]


def test_unknown_chars_are_sorted_once_each():
    tok = CharTokenizer.fit("abc")
    assert unknown_chars(tok, "zQaQbz!") == "!Qz"
    assert unknown_chars(tok, "cab") == ""


# -- predict -------------------------------------------------------------------------------
def _nats(model, ids):
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    logp = torch.log_softmax(logits.double(), -1)
    return -sum(float(logp[t, ids[t + 1]]) for t in range(len(ids) - 1)), logits[-1]


def test_predict_scores_each_character_after_a_newline(tmp_path):
    p = _predictor(tmp_path)
    tok = p.tokenizer
    records = p.predict(["the cat", "a"], top=3)
    for text, record in zip(["the cat", "a"], records):
        ids = tok.encode("\n" + text)
        nats, last = _nats(p.model, ids)
        assert set(record) == {"text", "loss", "bits_per_char", "chars", "next"}
        assert record["text"] == text and record["chars"] == len(text)
        assert record["loss"] == pytest.approx(nats / len(text), rel=1e-5)
        assert record["bits_per_char"] == pytest.approx(record["loss"] / math.log(2), rel=1e-9)
        assert record["next"] == top_chars(last, tok, 3)
    assert len(p.predict("the cat")[0]["next"]) == 5  # top defaults to 5; a str is one text


def test_predict_warns_of_unknown_characters_and_the_line_problem(tmp_path):
    p = _predictor(tmp_path)
    (record,) = p.predict(["thQ cZt"])
    assert record["warning"] == "characters not in the training text read as <unk>: 'QZ'"
    assert record["chars"] == 7
    (record,) = p.predict([TextLine("the", "line 3: bad bytes")])
    assert record["warning"] == "line 3: bad bytes" and record["chars"] == 3
    (record,) = p.predict([TextLine("tQe", "line 3: bad bytes")])
    assert record["warning"] == ("line 3: bad bytes; characters not in the training text read "
                                 "as <unk>: 'Q'")


def test_predict_an_empty_text_is_an_error_record(tmp_path):
    p = _predictor(tmp_path)
    assert p.predict([""]) == [{"text": "", "loss": None, "bits_per_char": None,
                                "error": "empty line: nothing to score"}]
    (record,) = p.predict([TextLine("", "line 2: empty")])
    assert record == {"text": "", "warning": "line 2: empty", "loss": None,
                      "bits_per_char": None, "error": "empty line: nothing to score"}


def test_predict_scores_at_most_max_predict_chars(tmp_path):
    p = _predictor(tmp_path, max_predict_chars=5)
    tok = p.tokenizer
    (record,) = p.predict(["the cat"])
    ids = tok.encode("\nthe c")
    nats, last = _nats(p.model, ids)
    assert record["chars"] == 5 and record["truncated"] == "scored the first 5 characters"
    assert record["loss"] == pytest.approx(nats / 5, rel=1e-5)
    assert record["next"] == top_chars(last, tok, 5)
    (record,) = p.predict(["the c"])  # exactly the limit: nothing cut
    assert record["chars"] == 5 and "truncated" not in record
    assert record["loss"] == pytest.approx(nats / 5, rel=1e-5)


# -- stream --------------------------------------------------------------------------------
def test_stream_pushes_add_up_to_the_surprisal_of_the_text(tmp_path):
    p = _predictor(tmp_path)
    tok = p.tokenizer
    s = p.stream(top=2)
    assert isinstance(s, CharStream) and s.top == 2 and s.model is p.model
    ids = tok.encode("\nthe cat")
    with torch.no_grad():
        logits = p.model(torch.tensor([ids])).logits[0]  # (8, V)
    logp = torch.log_softmax(logits.double(), -1)
    # the fresh stream has read a newline
    assert s.push("") == {"text": "", "chars": 0, "nats": 0.0,
                          "next": top_chars(logits[0], tok, 2)}
    first = s.push("t")
    assert first["text"] == "t" and first["chars"] == 1
    assert first["nats"] == pytest.approx(-float(logp[0, ids[1]]), rel=1e-5)
    assert first["next"] == pytest.approx(top_chars(logits[1], tok, 2), abs=2e-6)
    rest = s.push("he cat")  # a piece of several characters in one call
    assert rest["text"] == "he cat" and rest["chars"] == 6
    assert rest["nats"] == pytest.approx(-sum(float(logp[t, ids[t + 1]]) for t in range(1, 7)),
                                         rel=1e-5)
    assert list(rest["next"]) == list(top_chars(logits[7], tok, 2))
    assert list(rest["next"].values()) == pytest.approx(
        list(top_chars(logits[7], tok, 2).values()), abs=2e-6)
    empty = s.push("")
    assert empty["chars"] == 0 and empty["nats"] == 0.0 and empty["next"] == rest["next"]
    s.reset()  # back to a newline read, whatever came before
    again = s.push("th")
    assert again["nats"] == pytest.approx(-float(logp[0, ids[1]] + logp[1, ids[2]]), rel=1e-5)
    assert list(p.stream().push("t")["next"]) == list(top_chars(logits[1], tok, 5))
    assert len(CharStream(p).push("t")["next"]) == 5  # top defaults to 5
    with pytest.raises(TaskError, match=r"^push a text \(str\), got int$"):
        s.push(3)
    with pytest.raises(TaskError, match=r"^push a text \(str\), got list$"):
        s.push(["t"])


# -- generate ------------------------------------------------------------------------------
def test_generate_yields_the_prompt_then_the_sampled_characters(tmp_path):
    p = _predictor(tmp_path)
    tok = p.tokenizer
    pieces = list(p.generate(prompt="the ", max_new=20, temperature=0.7, top_k=4, seed=3))
    assert pieces[0] == "the " and len(pieces) == 21
    assert "".join(pieces[1:]) == _hand_sample(p.model, tok, "the ", 20, 0.7, top_k=4, seed=3)
    # the defaults: a newline prompt, 100 characters at temperature 1 from all, seed 0
    assert len(list(p.generate())) == 101
    assert all(len(piece) == 1 for piece in p.generate(max_new=300, temperature=5))
    assert len(list(p.generate(max_new=None))) == 101
    default = "".join(p.generate())
    assert default == "\n" + _hand_sample(p.model, tok, "\n", 100, 1.0)
    assert "".join(p.generate(prompt=None, max_new=None, temperature=None, top_k=None,
                              top_p=None, seed=None)) == default
    assert "".join(p.generate(prompt="", top_k=0, top_p=1.0, seed=0)) == default
    nucleus = "".join(p.generate(prompt="t", max_new=30, top_p=0.3, seed=1))
    assert nucleus == "t" + _hand_sample(p.model, tok, "t", 30, 1.0, top_p=0.3, seed=1)
    assert "".join(p.generate(prompt="t", max_new=30, top_p=0.3, seed=1)) == nucleus
    top1 = "".join(p.generate(prompt="t", max_new=10, top_k=1, seed=2))
    assert top1 == "t" + _hand_sample(p.model, tok, "t", 10, 0)
    assert list(p.generate(prompt="ab", max_new=0)) == ["ab"]
    assert "".join(p.generate(max_new=7.0, seed=4.0)) == "\n" + _hand_sample(
        p.model, tok, "\n", 7, 1.0, seed=4)
    assert "".join(p.generate(max_new=7, temperature=2)) == "\n" + _hand_sample(
        p.model, tok, "\n", 7, 2.0)


def test_generate_checks_its_options(tmp_path):
    p = _predictor(tmp_path)
    with pytest.raises(TaskError, match=r"^max_new \(--max-new\) must be >= 0, got -1$"):
        p.generate(max_new=-1)
    message = (r"^need temperature >= 0, top_k >= 1 and 0 < top_p <= 1 \(--temperature, "
               r"--top-k, --top-p\)$")
    for bad in ({"temperature": -0.1}, {"temperature": float("nan")},
                {"temperature": float("inf")}, {"top_k": -1}, {"top_p": 1.5}, {"top_p": -0.2},
                {"top_p": 1.0001}, {"top_p": 0}, {"top_p": float("nan")}):
        with pytest.raises(TaskError, match=message):
            p.generate(**bad)
    for fine in ({"temperature": 0}, {"top_k": 1}, {"top_p": 1}, {"top_p": 0.01},
                 {"top_p": None}, {"max_new": 0}):
        assert list(p.generate(max_new=fine.pop("max_new", 3), **fine))[0] == "\n"


def test_generate_warns_of_unknown_prompt_characters(tmp_path, capsys):
    p = _predictor(tmp_path)
    capsys.readouterr()
    pieces = list(p.generate(prompt="QtZQ", max_new=2))
    err = capsys.readouterr().err
    assert err == ("warning: --prompt: characters not in the training text read as <unk>: "
                   "'QZ'\n")
    assert pieces[0] == "QtZQ" and len(pieces) == 3
    list(p.generate(prompt="the", max_new=2))
    assert capsys.readouterr().err == ""
