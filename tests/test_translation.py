"""Translation: a tiny Seq2Seq overfits a handful of pairs, beam 1 = greedy, unknown words,
multi-reference BLEU, and the translation task end to end on a slice of eng-fra (skipped
without RNNKIT_DATA)."""

import json
import os

import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.data.tokenizers import WordTokenizer
from rnnkit.models import Seq2Seq
from rnnkit.tasks.translation import bleu_chrf, to_tensors, translate

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
    assert main(["translate", str(run_dir), "   "]) == 1
    assert "empty" in capsys.readouterr().err
    assert main(["predict", str(run_dir), "--text", "Qwzx blorp!", "--text", ""]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert isinstance(records[0]["translation"], str) and records[1]["translation"] is None
