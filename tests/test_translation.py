"""Translation: a tiny Seq2Seq overfits a handful of pairs, beam 1 = greedy, unknown words,
multi-reference BLEU; the predictor of a saved run against the CLI (predict, translate,
attention plots); the translation task end to end on a slice of eng-fra (skipped without
RNNKIT_DATA); a user's TSV corpus: read to exactly its pairs, malformed lines named, split by
source with every reference, reversed columns, subword tokenizers fitted on the training side
only, and a run on a generated toy pair whose predictor equals the CLI."""

import json
import os
import random
import re
import sys
from dataclasses import asdict, replace

import pytest
import torch
from _tiny import overfit_seq2seq

import rnnkit
from rnnkit._optional import MissingExtraError
from rnnkit.cli.main import main
from rnnkit.data.datasets import DataError
from rnnkit.data.text import read_parallel
from rnnkit.data.tokenizers import SubwordTokenizer
from rnnkit.models import Seq2Seq
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.translation import bleu_chrf, to_tensors, translate
from rnnkit.training import save_checkpoint
from rnnkit.training.config_io import write_toml

PAIRS = [("I am cold.", "J'ai froid."), ("I am hungry.", "J'ai faim."),
         ("He is tall.", "Il est grand."), ("She is here.", "Elle est ici."),
         ("We are late.", "Nous sommes en retard."), ("Go away!", "Va-t'en !")]


@pytest.fixture(scope="module")
def tiny():
    return overfit_seq2seq(PAIRS)


def test_tiny_model_overfits_and_translates_exactly(tiny):
    model, src, tgt, loss = tiny
    assert loss < 0.01
    out = translate(model, src, tgt, [en for en, _ in PAIRS], beam=5)
    # exact up to spacing before punctuation ("Va-t'en!" for "Va-t'en !"), which BLEU's
    # tokenizer and chrF ignore
    assert [tgt.split(t.text, False) for t in out] == [tgt.split(fr, False) for _, fr in PAIRS]
    assert bleu_chrf([t.text for t in out], [[fr] for _, fr in PAIRS])["bleu"] == pytest.approx(100)
    att = torch.tensor(out[0].attention)  # (target tokens, source tokens)
    assert att.shape == (len(out[0].target_tokens), len(out[0].source_tokens))
    assert torch.allclose(att.sum(1), torch.ones(att.shape[0]), atol=1e-5)


def test_beam_one_equals_greedy(tiny):
    model, src, tgt, _ = tiny
    x = to_tensors(PAIRS, src, tgt, 50)
    greedy = model.greedy(x["x"], x["lengths"], max_len=20).tokens
    beam = model.beam_search(x["x"], x["lengths"], beam_size=1, max_len=20).tokens
    assert beam == greedy
    noisy = torch.randint(4, len(src.vocab), (3, 5))
    assert (model.beam_search(noisy, beam_size=1, max_len=8).tokens
            == model.greedy(noisy, max_len=8).tokens)


def test_unknown_words_pass_through(tiny):
    model, src, tgt, _ = tiny
    (out,) = translate(model, src, tgt, ["Zorglub is xyzzy here."], beam=3)
    assert isinstance(out.text, str)  # no crash; a <unk> output copies an attended word
    assert "<unk>" not in out.text


def test_bleu_uses_every_reference():
    hyps = ["Il fait froid.", "Va !"]
    one = bleu_chrf(hyps, [["Il fait froid."], ["Pars !"]])["bleu"]
    both = bleu_chrf(hyps, [["Il fait froid."], ["Pars !", "Va !"]])["bleu"]
    assert both == pytest.approx(100) and one < both


def _save_run(path, model, src, tgt, **model_options):
    """A run directory holding ``model`` as its best checkpoint (what training writes)."""
    cfg = config_from_raw({"task": {"name": "translation", "beam": 3},
                           "model": {"cell": "gru", **model_options}}, "test")
    path.mkdir(parents=True)
    write_toml(cfg, path / "config.toml")
    save_checkpoint(path / "checkpoints" / "best", model, {
        "model_class": "Seq2Seq", "model_config": model.get_config(), "task": asdict(cfg.task),
        "source_tokenizer": src.to_dict(), "target_tokenizer": tgt.to_dict()})
    return path


@pytest.fixture(scope="module")
def tiny_run(tiny, tmp_path_factory):
    model, src, tgt, _ = tiny
    return _save_run(tmp_path_factory.mktemp("tiny") / "run", model, src, tgt, hidden_size=32,
                     embedding_dim=16, attention="bahdanau")


def _records(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_load_predict_equals_what_the_cli_prints(tiny, tiny_run, tmp_path, capsys):
    model, src, tgt, _ = tiny
    texts = ["I am cold.", "", "We are late.", "Zorglub is here."]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    p = rnnkit.load(tiny_run)
    assert p.task == "translation" and {"translate", "explain", "plot"} <= p.capabilities
    capsys.readouterr()
    assert main(["predict", str(tiny_run), "--input", str(tmp_path / "in.txt"),
                 "--explain"]) == 1  # (the empty line gets an error record)
    printed = _records(capsys)
    assert printed == p.predict(texts, explain=True)
    assert printed == p.predict_file(tmp_path / "in.txt", explain=True)
    assert main(["predict", str(tiny_run), "--text", texts[0], "--text", texts[2]]) == 0
    plain = _records(capsys)
    assert plain == p.predict([texts[0], texts[2]])
    assert set(plain[0]) == {"source", "translation"}
    # the records hold the beam search's output (the run's beam, task.beam = 3)
    (ref,) = translate(model, src, tgt, ["I am cold."], beam=3)
    record = dict(printed[0])
    # the CLI decoded "I am cold." together with "We are late." (same length), translate()
    # alone: the bridge's matrix product may differ in the last bit between 1 and 2 rows
    attention = torch.tensor(record.pop("attention"))
    torch.testing.assert_close(attention, torch.tensor(ref.attention), rtol=0, atol=1e-6)
    assert record == {"source": "I am cold.", "translation": ref.text,
                      "source_tokens": ref.source_tokens, "target_tokens": ref.target_tokens}
    assert printed[0]["translation"] == "J'ai froid."  # the model learnt its pairs
    assert printed[1] == {"source": "", "translation": None,
                          "error": "empty line: nothing to translate"}
    for beam in (1, 2):
        assert main(["translate", str(tiny_run), "We are late.", "--beam", str(beam)]) == 0
        (record,) = p.predict(["We are late."], beam=beam, explain=True)
        assert capsys.readouterr().out == record["translation"] + "\n"
    with pytest.raises(TaskError, match="beam"):
        p.predict(["I am cold."], beam=0)


def test_a_file_in_the_training_layout_translates_its_sources(tiny, tiny_run, tmp_path):
    pairs = PAIRS[:3]
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{en}\t{fr}\tCC-BY 2.0 (France)\r\n" for en, fr in pairs))
    p = rnnkit.load(tiny_run)
    records = p.predict_file(path)
    # the sources' records (the targets are not translated), each with its reference
    alone = p.predict([en for en, _ in pairs])
    assert records == [{**r, "reference": fr} for r, (_, fr) in zip(alone, pairs)]
    assert [list(r) for r in records] == [["source", "reference", "translation"]] * 3
    assert [line.reference for line in p.read_file(path)] == [fr for _, fr in pairs]
    assert [r["translation"] for r in records] == [fr for _, fr in pairs]  # learnt
    # (references on every line or none: tests/test_translation_references.py)


def test_a_reversed_run_reads_the_second_column_as_its_source(tiny, tmp_path):
    model, src, tgt, _ = tiny  # (trained en -> fr; only which column is read matters here)
    run = _save_run(tmp_path / "rev", model, src, tgt, hidden_size=32, embedding_dim=16,
                    attention="bahdanau")
    text = (run / "config.toml").read_text()
    assert text.count("reverse = false") == 1
    (run / "config.toml").write_text(text.replace("reverse = false", "reverse = true"))
    p = rnnkit.load(run)
    assert p.config.task.reverse is True
    (line,) = p.read_file(_write(tmp_path / "p.tsv", "J'ai froid.\tI am cold.\n"))
    assert (line.text, line.reference) == ("I am cold.", "J'ai froid.")


def _write(path, text):
    path.write_text(text)
    return path


def test_plot_draws_the_attention_of_a_record(tiny_run, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    p = rnnkit.load(tiny_run)
    (record,) = p.predict(["He is tall."], explain=True)
    path = p.plot(record, tmp_path / "a.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(["translate", str(tiny_run), "He is tall.", "--attention-plot",
                 str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "b.png").is_file() and "attention plot" in capsys.readouterr().err
    with pytest.raises(TaskError, match="explain=True"):
        p.plot(p.predict(["He is tall."])[0], tmp_path / "c.png")
    with pytest.raises(TaskError, match="empty line"):
        p.plot(p.predict([""], explain=True)[0], tmp_path / "c.png")
    with pytest.raises(TaskError, match="empty"):
        p.plot({**record, "translation": "", "target_tokens": [], "attention": []},
               tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


def test_a_model_without_attention_translates_but_has_nothing_to_plot(tiny, tmp_path, capsys):
    _, src, tgt, _ = tiny
    torch.manual_seed(1)
    model = Seq2Seq(src_vocab_size=len(src.vocab), tgt_vocab_size=len(tgt.vocab), cell="gru",
                    hidden_size=8, embedding_dim=8, attention="none").eval()
    run = _save_run(tmp_path / "run", model, src, tgt, hidden_size=8, embedding_dim=8,
                    attention="none")
    (record,) = rnnkit.load(run).predict(["I am cold."], explain=True)
    assert isinstance(record["translation"], str) and record["attention"] is None
    with pytest.raises(TaskError, match='model.attention = "none"'):
        rnnkit.load(run).plot(record, tmp_path / "a.png")
    capsys.readouterr()
    assert main(["translate", str(run), "I am cold.", "--attention-plot",
                 str(tmp_path / "a.png")]) == 1
    out = capsys.readouterr()
    assert out.out == record["translation"] + "\n" and "no attention" in out.err


def test_missing_extras_name_what_to_install(tiny_run, tmp_path, monkeypatch, capsys):
    p = rnnkit.load(tiny_run)
    (record,) = p.predict(["He is tall."], explain=True)
    monkeypatch.setitem(sys.modules, "sacrebleu", None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"rnnkit\[text\]"):
        bleu_chrf(["Va !"], [["Va !"]])
    capsys.readouterr()
    # evaluation goes on without BLEU (training still finishes and reports)
    assert TASKS["translation"].extra_metrics(p.context, p.model, "test") == {}
    assert "rnnkit[text]" in capsys.readouterr().err
    with pytest.raises(MissingExtraError, match=r"rnnkit\[plots\]"):
        p.plot(record, tmp_path / "a.png")
    assert main(["translate", str(tiny_run), "He is tall.", "--attention-plot",
                 str(tmp_path / "a.png")]) == 1
    assert "rnnkit[plots]" in capsys.readouterr().err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    if not os.environ.get("RNNKIT_DATA"):
        pytest.skip("real data absent: set RNNKIT_DATA=../shared/data")
    tmp = tmp_path_factory.mktemp("translation")
    args = ["train", "examples/translate.toml", "--run-dir", str(tmp / "run"),
            "--set", "train.steps=4", "--set", "train.eval_every=4", "--set", "train.max_minutes=0",
            "--set", "model.hidden_size=16", "--set", "model.embedding_dim=8",
            "--set", "task.bleu_sentences=10", "--set", "task.beam=2",
            "--set", "task.test_sources=100", "--set", "task.val_sources=50",
            "--set", "train.progress=off"]
    assert main(args) == 0
    return tmp / "run"


def test_run_evaluates_translates_and_plots(run_dir, tmp_path, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert {"bleu", "chrf", "loss"} <= set(figures)
    assert "Example test translations" in (run_dir / "report.md").read_text()
    plot = tmp_path / "att.png"
    rc = main(["translate", str(run_dir), "I am cold.", "--beam", "2",
               "--attention-plot", str(plot)])
    out = capsys.readouterr()
    (record,) = rnnkit.load(run_dir).predict(["I am cold."], beam=2, explain=True)
    assert out.out == record["translation"] + "\n"  # one line, the predictor's translation
    if record["translation"]:  # an untrained model may translate to nothing: no plot then
        assert rc == 0 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert rc == 1 and "empty" in out.err and not plot.exists()
    assert main(["translate", str(run_dir), "   "]) == 1
    assert "empty" in capsys.readouterr().err
    assert main(["predict", str(run_dir), "--text", "Qwzx blorp!", "--text", ""]) == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert isinstance(records[0]["translation"], str) and records[1]["translation"] is None
    assert records == rnnkit.load(run_dir).predict(["Qwzx blorp!", ""])


@pytest.mark.skipif(not os.environ.get("RNNKIT_DATA"),
                    reason="real data absent: set RNNKIT_DATA=../shared/data")
def test_context_splits_hold_out_sources_with_all_references():
    cfg = config_from_raw({"task": {"name": "translation", "test_sources": 100,
                                    "val_sources": 50, "bleu_sentences": 7}}, "test")
    ctx = TASKS["translation"].setup(cfg)
    pairs = ctx.pairs
    assert len(pairs["test"]) == 100 and len(pairs["val"]) == 50
    train_sources = {en for en, _ in pairs["train"]}
    assert not train_sources & {en for en, _ in pairs["test"] + pairs["val"]}  # no leaks
    assert ctx.pairs is pairs and ctx.source_tokenizer is ctx.source_tokenizer
    refs = sum(len(r) for _, r in pairs["test"])
    assert ctx.splits["test"]["x"].shape[0] == refs  # a row per reference
    sources, references = ctx.bleu_set("test")
    assert sources == [en for en, _ in pairs["test"][:7]] and len(references) == 7
    assert vars(TASKS["translation"]) == {}  # nothing stored on the registered task


@pytest.mark.skipif(not os.environ.get("RNNKIT_DATA"),
                    reason="real data absent: set RNNKIT_DATA=../shared/data")
def test_reverse_translates_french_to_english_from_eng_fra():
    from rnnkit.data.text import load_eng_fra

    cfg = config_from_raw({"task": {"name": "translation", "reverse": True}}, "test")
    pairs = TASKS["translation"].setup(cfg).pairs
    assert len(pairs["test"]) == 2000 and len(pairs["val"]) == 500  # eng-fra's defaults
    english = {en for en, _ in load_eng_fra()}
    french = {fr for _, fr in load_eng_fra()}
    assert {s for s, _ in pairs["test"]} <= french
    assert {t for _, r in pairs["test"] for t in r} <= english
    trained = {s for s, _ in pairs["train"]}
    assert trained <= french and not trained & {s for s, _ in pairs["test"] + pairs["val"]}


# -- a user's parallel corpus (TSV) ---------------------------------------------------------

def test_tsv_is_read_to_exactly_the_pairs(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes("\ufeffGo.\tVa !\tCC-BY 2.0 (France) Attribution\r\n"
                     "Hi.\t Salut. \n\n  \t \nHi.\tSalut !\n東京\tTokyo 🙂\n".encode())
    text = read_parallel(path)
    assert text.pairs == [("Go.", "Va !"), ("Hi.", "Salut."), ("Hi.", "Salut !"),
                          ("東京", "Tokyo 🙂")]
    assert text.lines == [1, 2, 5, 6] and text.skipped == [3, 4]
    assert text.note() == f"{path}: skipped 2 blank line(s) (line 3, 4)"
    assert read_parallel(path, reverse=True).pairs == [(t, s) for s, t in text.pairs]


@pytest.mark.parametrize("content, line, message", [
    (b"Go.\tVa !\nHi. Salut.\n", 2, "no tab; expected 'source<TAB>target'"),
    (b"Go.\tVa !\n\n \tSalut.\n", 3, "empty source (column 1)"),
    (b"Go.\t \n", 1, "empty target (column 2)"),
    (b"Go.\tVa !\nCaf\xe9.\tCaf\xe9.\n", 2, "not valid UTF-8 (byte 0xe9 at column 4)"),
])
def test_malformed_lines_name_the_file_and_line(tmp_path, content, line, message):
    path = tmp_path / "bad.tsv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=re.escape(f"{path}:{line}: {message}")):
        read_parallel(path)
    cfg = config_from_raw({"task": {"name": "translation", "data": str(path)}}, "test")
    with pytest.raises(TaskError, match=re.escape(f"{path}:{line}: {message}")):
        _ = TASKS["translation"].setup(cfg).pairs


def test_a_file_without_pairs_is_an_error(tmp_path):
    (tmp_path / "empty.tsv").write_text("\n \n")
    with pytest.raises(DataError, match="no sentence pairs"):
        read_parallel(tmp_path / "empty.tsv")


def toy_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` made-up sources, some with two translations: a verb-final toy language."""
    rng = random.Random(seed)
    nouns = {"cat": "gató", "dog": "kano", "bird": "ucél", "book": "libro", "house": "kasa"}
    verbs = {"sees": ("vedá",), "likes": ("amó", "plasé"), "finds": ("trová",)}
    who = {"He": "lo", "She": "la", "Anna": "Anna"}
    seen, out = set(), []
    while len(seen) < n:
        key = (rng.choice(list(who)), rng.choice(list(verbs)), rng.choice(list(nouns)),
               rng.random() < 0.5)
        if key in seen:
            continue
        seen.add(key)
        w, v, noun, plural = key
        for target in verbs[v]:
            out.append((f"{w} {v} the {noun}{'s' * plural}.",
                        f"{who[w]} {nouns[noun]}{'i' * plural} {target}."))
    return out


def write_tsv(path, pairs):
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return path


def test_own_file_is_split_by_source_with_all_references(tmp_path):
    pairs = toy_pairs(60)
    path = write_tsv(tmp_path / "toy.tsv", pairs)
    raw = {"task": {"name": "translation", "data": str(path), "test_fraction": 0.2,
                    "val_fraction": 0.25, "split_seed": 3}}
    split = TASKS["translation"].setup(config_from_raw(raw, "test")).pairs
    refs = {}
    for s, t in pairs:
        refs.setdefault(s, []).append(t)
    assert len(split["test"]) == 12 and len(split["val"]) == 12  # 0.2 * 60, 0.25 * 48
    trained = {s for s, _ in split["train"]}
    assert len(trained) == 36
    for part in ("val", "test"):
        assert not trained & {s for s, _ in split[part]}
        assert all(sorted(r) == sorted(refs[s]) for s, r in split[part])  # every reference
    assert sorted(split["train"]) == sorted((s, t) for s, t in pairs if s in trained)
    again = TASKS["translation"].setup(config_from_raw(raw, "test")).pairs
    assert again == split
    raw["task"].update(test_sources=5, val_sources=7)  # counts instead of fractions
    counted = TASKS["translation"].setup(config_from_raw(raw, "test")).pairs
    assert len(counted["test"]) == 5 and len(counted["val"]) == 7
    raw["task"].update(reverse=True)
    rev = TASKS["translation"].setup(config_from_raw(raw, "test")).pairs
    assert {s for s, _ in rev["train"]} <= {t for _, t in pairs}  # targets are now sources


def test_train_and_test_files_and_a_leak_warning(tmp_path):
    pairs = toy_pairs(40)
    train = write_tsv(tmp_path / "train.tsv", pairs[:50])
    test = write_tsv(tmp_path / "test.tsv", pairs[45:])
    raw = {"task": {"name": "translation", "train_data": str(train), "test_data": str(test)}}
    with pytest.warns(UserWarning, match=r"of the \d+ test sources also appear in task.train"):
        split = TASKS["translation"].setup(config_from_raw(raw, "test")).pairs
    test_refs = {}
    for s, t in pairs[45:]:
        test_refs.setdefault(s, []).append(t)
    assert split["test"] == list(test_refs.items())
    assert sorted(split["train"] + [(s, t) for s, r in split["val"] for t in r]) == \
        sorted(pairs[:50])
    errors = TASKS["translation"].check(_unchecked(
        train_data=str(train), test_data=str(test), test_sources=5, data=str(train)))
    assert any("task.data names the whole set" in e for e in errors)
    assert any("task.test_sources" in e for e in errors)


def _unchecked(**task):
    """A run config whose task section is not checked (to call ``check`` on it)."""
    cfg = config_from_raw({"task": {"name": "translation"}}, "test")
    return replace(cfg, task=replace(cfg.task, **task))


def test_subword_tokenizers_are_fitted_on_the_training_side_only(tmp_path, monkeypatch):
    pairs = toy_pairs(60)
    path = write_tsv(tmp_path / "toy.tsv", pairs)
    seen = []
    fit = SubwordTokenizer.fit.__func__

    def spy(cls, texts, **kw):
        texts = list(texts)
        seen.append(texts)
        return fit(cls, texts, **kw)

    monkeypatch.setattr(SubwordTokenizer, "fit", classmethod(spy))
    cfg = config_from_raw({"task": {"name": "translation", "data": str(path),
                                    "tokenizer": "subword", "vocab_size": 300}}, "test")
    ctx = TASKS["translation"].setup(cfg)
    _ = ctx.source_tokenizer, ctx.target_tokenizer
    train = ctx.pairs["train"]
    assert seen == [[s for s, _ in train], [t for _, t in train]]
    held = {s for part in ("val", "test") for s, _ in ctx.pairs[part]}
    held_refs = {t for part in ("val", "test") for _, r in ctx.pairs[part] for t in r}
    assert held and not held & set(seen[0])
    assert not (held_refs - {t for _, t in train}) & set(seen[1])
    assert ctx.splits["train"]["x"].shape[0] == len(train)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """A run trained by the CLI on a generated toy pair, with subword tokens, from a config
    that names its TSV relative to itself."""
    tmp = tmp_path_factory.mktemp("toy")
    write_tsv(tmp / "toy.tsv", toy_pairs(60))
    (tmp / "toy.toml").write_text(
        'name = "toy"\n[task]\nname = "translation"\ndata = "toy.tsv"\ntokenizer = "subword"\n'
        'vocab_size = 300\nbeam = 3\n[model]\ncell = "gru"\nhidden_size = 16\n'
        'embedding_dim = 8\n[train]\nsteps = 6\neval_every = 3\nbatch_size = 8\n'
        'progress = "off"\n[diagnostics]\nevery = 0\n')
    assert main(["train", str(tmp / "toy.toml"), "--run-dir", str(tmp / "run")]) == 0
    return tmp


def test_toy_run_predicts_what_the_cli_prints(toy_run, capsys):
    run = toy_run / "run"
    p = rnnkit.load(run)
    info = json.loads((run / "checkpoints" / "best" / "model.json").read_text())
    for key in ("source_tokenizer", "target_tokenizer"):
        assert info[key]["kind"] == "subword"
    # the saved tokenizers are the ones fitted on the run's training part
    ctx = TASKS["translation"].setup(p.config)
    assert p.source_tokenizer.model == ctx.source_tokenizer.model
    assert p.target_tokenizer.vocab.itos == ctx.target_tokenizer.vocab.itos
    assert p.config.task.data == str(toy_run / "toy.tsv")  # recorded absolute
    texts = ["Anna likes the cats.", "Élodie voit 東京 🙂!", ""]
    records = p.predict(texts, explain=True)
    capsys.readouterr()
    for text, record in zip(texts[:2], records):
        assert main(["translate", str(run), text]) == 0
        assert capsys.readouterr().out == record["translation"] + "\n"
        assert isinstance(record["translation"], str) and "<unk>" not in record["source_tokens"]
        (ref,) = translate(p.model, p.source_tokenizer, p.target_tokenizer, [text], beam=3)
        assert record["translation"] == ref.text == p.target_tokenizer.decode(
            p.target_tokenizer.vocab.encode(ref.target_tokens))
        assert record["source_tokens"] == p.source_tokenizer.split(text)
    assert records[2]["error"] == "empty line: nothing to translate"
    assert main(["predict", str(run), "--text", texts[0], "--text", texts[1]]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == \
        p.predict(texts[:2])
    assert main(["evaluate", str(run), "--json"]) == 0
    assert {"bleu", "chrf", "loss"} <= set(json.loads(capsys.readouterr().out))
    assert "Example test translations" in (run / "report.md").read_text()
