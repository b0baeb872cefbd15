"""Translation: a tiny Seq2Seq overfits a handful of pairs, beam 1 = greedy, unknown words,
multi-reference BLEU; the predictor of a saved run against the CLI (predict, translate,
attention plots); and the translation task end to end on a slice of eng-fra (skipped
without RNNKIT_DATA)."""

import json
import os
import sys
from dataclasses import asdict

import pytest
import torch

import rnnkit
from rnnkit._optional import MissingExtraError
from rnnkit.cli.main import main
from rnnkit.data.tokenizers import WordTokenizer
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
    torch.manual_seed(0)
    src = WordTokenizer.fit([en for en, _ in PAIRS])
    tgt = WordTokenizer.fit([fr for _, fr in PAIRS], lower=False)
    model = Seq2Seq(src_vocab_size=len(src.vocab), tgt_vocab_size=len(tgt.vocab), cell="gru",
                    hidden_size=32, embedding_dim=16, attention="bahdanau")
    batch = to_tensors(PAIRS, src, tgt, 50)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(100):
        opt.zero_grad()
        loss = model.compute_loss(batch).loss
        loss.backward()
        opt.step()
    return model.eval(), src, tgt, loss.item()


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
                 "--explain"]) == 0
    printed = _records(capsys)
    assert printed == p.predict(texts, explain=True)
    assert printed == p.predict_file(tmp_path / "in.txt", explain=True)
    assert main(["predict", str(tiny_run), "--text", texts[0], "--text", texts[2]]) == 0
    plain = _records(capsys)
    assert plain == p.predict([texts[0], texts[2]])
    assert set(plain[0]) == {"source", "translation"}
    # the records hold the beam search's output (the run's beam, task.beam = 3)
    (ref,) = translate(model, src, tgt, ["I am cold."], beam=3)
    assert printed[0] == {"source": "I am cold.", "translation": ref.text,
                          "source_tokens": ref.source_tokens,
                          "target_tokens": ref.target_tokens, "attention": ref.attention}
    assert printed[0]["translation"] == "J'ai froid."  # the model learnt its pairs
    assert printed[1] == {"source": "", "translation": None,
                          "error": "empty line: nothing to translate"}
    for beam in (1, 2):
        assert main(["translate", str(tiny_run), "We are late.", "--beam", str(beam)]) == 0
        (record,) = p.predict(["We are late."], beam=beam, explain=True)
        assert capsys.readouterr().out == record["translation"] + "\n"
    with pytest.raises(TaskError, match="beam"):
        p.predict(["I am cold."], beam=0)


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
    assert rc in (0, 1) and out.out.count("\n") == 1  # one line; empty output cannot be plotted
    assert plot.exists() or "empty" in out.err
    (record,) = rnnkit.load(run_dir).predict(["I am cold."], beam=2, explain=True)
    assert out.out == record["translation"] + "\n"
    assert main(["translate", str(run_dir), "   "]) == 1
    assert "empty" in capsys.readouterr().err
    assert main(["predict", str(run_dir), "--text", "Qwzx blorp!", "--text", ""]) == 0
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
