"""Translation's predict_file on a file with references (the training layout,
``source<TAB>target``): each record keeps its line's target as ``"reference"``,
``corpus_scores`` gives corpus BLEU and chrF equal to sacrebleu's on the same strings (each
distinct source once, with every reference) and to what ``rnnkit evaluate`` reports for the
same file as the test part, and ``rnnkit predict`` prints them on stderr; blank lines are
skipped with a warning, a line without a tab or with an empty side is an error naming the
file and line; a file of sentences alone works as before."""

import io
import json
import re
import sys
from dataclasses import asdict

import pytest
from _tiny import overfit_seq2seq

import rnnkit
from rnnkit._optional import MissingExtraError
from rnnkit.cli.main import main
from rnnkit.tasks import TaskError
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.text_common import TextLine
from rnnkit.training import save_checkpoint
from rnnkit.training.config_io import write_toml

sacrebleu = pytest.importorskip("sacrebleu")

PAIRS = [("I am cold.", "J'ai froid."), ("I am hungry.", "J'ai faim."),
         ("He is tall.", "Il est grand."), ("She is here.", "Elle est ici."),
         ("We are late.", "Nous sommes en retard.")]


def _save_run(path, *, reverse=False):
    """A run whose model has learnt PAIRS (English -> French), as training writes it."""
    model, src, tgt, _ = overfit_seq2seq(PAIRS)
    cfg = config_from_raw({"task": {"name": "translation", "beam": 3, "reverse": reverse},
                           "model": {"cell": "gru", "hidden_size": 32, "embedding_dim": 16,
                                     "attention": "bahdanau"}}, "test")
    path.mkdir(parents=True)
    write_toml(cfg, path / "config.toml")
    save_checkpoint(path / "checkpoints" / "best", model.eval(), {
        "model_class": "Seq2Seq", "model_config": model.get_config(), "task": asdict(cfg.task),
        "source_tokenizer": src.to_dict(), "target_tokenizer": tgt.to_dict()})
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return _save_run(tmp_path_factory.mktemp("refs") / "run")


# a source given twice (two references), a blank line, references that differ from the
# translations in part (BLEU neither 0 nor 100), Tatoeba's third column and CRLF endings
TSV = ("I am cold.\tJ'ai froid.\tCC-BY 2.0 (France)\r\n"
       "He is tall.\tIl est très grand.\tCC-BY 2.0 (France)\r\n"
       "\r\n"
       "I am cold.\tJ'ai très froid.\n"
       " We are late. \tNous sommes en retard.\n"
       "She is here.\tElle est là.\n")
SOURCES = ["I am cold.", "He is tall.", "I am cold.", "We are late.", "She is here."]
REFERENCES = ["J'ai froid.", "Il est très grand.", "J'ai très froid.",
              "Nous sommes en retard.", "Elle est là."]


def _write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return path


def test_records_keep_their_reference_and_the_blank_line_is_named(run, tmp_path):
    path = _write(tmp_path / "test.tsv", TSV)
    p = rnnkit.load(run)
    with pytest.warns(UserWarning, match=re.escape(f"{path}: skipped 1 blank line(s) (line 3)")):
        records = p.predict_file(path)
    assert [r["source"] for r in records] == SOURCES
    assert [r["reference"] for r in records] == REFERENCES
    assert all(list(r) == ["source", "reference", "translation"] for r in records)
    # the translations are those of the sources alone (the references are not read)
    assert [r["translation"] for r in records] == [
        r["translation"] for r in p.predict(SOURCES)]
    assert records[0]["translation"] == "J'ai froid."  # (the model learnt its pairs)
    json.dumps(records)  # JSON-serialisable, one dict per pair
    # a TextLine given to predict from Python keeps its reference too
    (record,) = p.predict([TextLine("He is tall.", "", "Il est grand.")])
    assert record == {"source": "He is tall.", "reference": "Il est grand.",
                      "translation": records[1]["translation"]}


def test_corpus_scores_equal_sacrebleu_with_every_reference_of_a_source(run, tmp_path):
    p = rnnkit.load(run)
    with pytest.warns(UserWarning):
        records = p.predict_file(_write(tmp_path / "test.tsv", TSV))
    hyp = {r["source"]: r["translation"] for r in records}
    # each distinct source once, in order of first appearance; "I am cold." has two
    sources = ["I am cold.", "He is tall.", "We are late.", "She is here."]
    hyps = [hyp[s] for s in sources]
    streams = [["J'ai froid.", "Il est très grand.", "Nous sommes en retard.", "Elle est là."],
               ["J'ai très froid.", None, None, None]]
    bleu = sacrebleu.corpus_bleu(hyps, streams, tokenize="13a").score
    chrf = sacrebleu.corpus_chrf(hyps, streams).score
    scores = p.corpus_scores(records)
    assert scores == {"bleu": pytest.approx(bleu, abs=1e-9), "chrf": pytest.approx(chrf, abs=1e-9),
                      "sources": 4, "references": 5, "bleu_tokenize": "13a"}
    assert 0 < scores["bleu"] < 100
    # not the score of one line against one reference each (the source counted twice)
    per_line = sacrebleu.corpus_bleu([r["translation"] for r in records],
                                     [[r["reference"] for r in records]]).score
    assert scores["bleu"] != pytest.approx(per_line)
    # records without a reference are left out; none: no scores
    plain = p.predict(["We are late."])
    assert p.corpus_scores(records + plain) == scores
    assert p.corpus_scores(plain) == {} and p.corpus_scores([]) == {}


def test_an_untranslated_source_counts_as_an_empty_translation(run):
    p = rnnkit.load(run)
    records = [{"source": "a", "reference": "Il est grand.", "translation": "Il est grand."},
               {"source": "b", "reference": "Elle est ici.", "translation": None,
                "error": "empty line: nothing to translate"}]
    hyps, refs = ["Il est grand.", ""], [["Il est grand.", "Elle est ici."]]
    want = sacrebleu.corpus_bleu(hyps, refs).score
    assert p.corpus_scores(records)["bleu"] == pytest.approx(want, abs=1e-9)
    assert want < 100  # (the empty translation costs)


def test_the_cli_prints_the_records_and_the_scores_on_stderr(run, tmp_path, capsys):
    path = _write(tmp_path / "test.tsv", TSV)
    p = rnnkit.load(run)
    with pytest.warns(UserWarning, match="skipped 1 blank line"):
        records = p.predict_file(path)
    s = p.corpus_scores(records)
    capsys.readouterr()
    with pytest.warns(UserWarning, match="skipped 1 blank line"):
        code = main(["predict", str(run), "--input", str(path)])
    out = capsys.readouterr()
    assert [json.loads(line) for line in out.out.splitlines()] == records
    failed = [i + 1 for i, r in enumerate(records) if "error" in r]
    assert code == (1 if failed else 0)
    assert out.err == (f"corpus scores: bleu {s['bleu']:.2f}, chrf {s['chrf']:.2f}, "
                       "sources 4, references 5, bleu_tokenize 13a\n") + (
        f"rnnkit predict: error: {len(failed)} of {len(records)} input(s) could not be "
        f"predicted (input {', '.join(map(str, failed))}: their records hold the error)\n"
        if failed else "")
    # sentences alone: the records as before, no scores
    _write(tmp_path / "plain.txt", "I am cold.\n\nWe are late.\n")
    assert main(["predict", str(run), "--input", str(tmp_path / "plain.txt")]) == 1
    out = capsys.readouterr()
    plain = [json.loads(line) for line in out.out.splitlines()]
    assert plain == p.predict(["I am cold.", "", "We are late."])
    assert out.err == ("rnnkit predict: error: 1 of 3 input(s) could not be predicted "
                       "(input 2: their records hold the error)\n")  # (no scores)
    assert [set(r) for r in plain] == [{"source", "translation"},
                                       {"source", "translation", "error"},
                                       {"source", "translation"}]


def test_without_sacrebleu_the_records_come_with_a_warning(run, tmp_path, capsys, monkeypatch):
    path = _write(tmp_path / "test.tsv", "I am cold.\tJ'ai froid.\n")
    p = rnnkit.load(run)
    records = p.predict_file(path)
    monkeypatch.setitem(sys.modules, "sacrebleu", None)
    with pytest.raises(MissingExtraError, match=r"rnnkit\[text\]"):
        p.corpus_scores(records)
    capsys.readouterr()
    assert main(["predict", str(run), "--input", str(path)]) == 0
    out = capsys.readouterr()
    assert [json.loads(line) for line in out.out.splitlines()] == records
    assert out.err.startswith("warning: no corpus scores: sacrebleu is not installed")


BOTH = ("; every line of a file with references needs a sentence on both sides of the "
        "tab")


@pytest.mark.parametrize("text, line, message", [
    ("I am cold.\tJ'ai froid.\n\nWe are late.\n", 3,
     "no tab, but line 1 has one: a file with references needs 'source<TAB>target' on "
     "every line (give the sources alone, one a line, to translate without references)"),
    ("I am cold.\tJ'ai froid.\n \tJ'ai faim.\n", 2, "empty source (column 1)" + BOTH),
    ("I am cold.\tJ'ai froid.\nHe is tall.\t  \tCC-BY\n", 2, "empty target (column 2)" + BOTH),
])
def test_malformed_lines_name_the_file_and_line(run, tmp_path, capsys, text, line, message):
    path = _write(tmp_path / "bad.tsv", text)
    p = rnnkit.load(run)
    with pytest.raises(TaskError) as err:
        p.predict_file(path)
    assert str(err.value) == f"{path}:{line}: {message}"
    capsys.readouterr()
    assert main(["predict", str(run), "--input", str(path)]) == 1
    out = capsys.readouterr()
    assert out.out == "" and f"{path}:{line}: {message}" in out.err


def test_stdin_is_named_in_errors(run, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Hi.\tSalut.\nGo.\n")))
    assert main(["predict", str(run), "--input", "-"]) == 1
    assert "<stdin>:2: no tab, but line 1 has one" in capsys.readouterr().err


def test_a_reversed_run_takes_column_1_as_the_reference(tmp_path):
    run = _save_run(tmp_path / "rev", reverse=True)
    p = rnnkit.load(run)
    path = _write(tmp_path / "fr-en.tsv", "J'ai froid.\tI am cold.\nIl est grand.\tHe is tall.\n")
    records = p.predict_file(path)
    assert [(r["source"], r["reference"]) for r in records] == [
        ("I am cold.", "J'ai froid."), ("He is tall.", "Il est grand.")]
    assert p.corpus_scores(records)["bleu"] == pytest.approx(100)  # it learnt en -> fr
    _write(path, "J'ai froid.\t \n")
    with pytest.raises(TaskError, match=re.escape(f"{path}:1: empty source (column 2)")):
        p.read_file(path)
    _write(path, "\tI am cold.\n")
    with pytest.raises(TaskError, match=re.escape(f"{path}:1: empty target (column 1)")):
        p.read_file(path)


def test_the_scores_equal_what_evaluate_reports_for_that_file(tmp_path, capsys):
    """A run trained with ``task.test_data``: predict_file on that file, scored, gives the
    BLEU and chrF that ``rnnkit evaluate`` computes on its test part."""
    nouns = ["cat", "dog", "bird", "book", "house", "tree"]
    toy = {"cat": "gató", "dog": "kano", "bird": "ucél", "book": "libro", "house": "kasa",
           "tree": "arbo"}
    who = {"He": "lo", "She": "la", "Anna": "Anna"}
    verbs = {"sees": ["vedá"], "likes": ["amó", "plasé"]}  # "likes": two references
    lines = [f"{w} {v} the {n}.\t{who[w]} {toy[n]} {t}.\n"
             for w in who for v in verbs for n in nouns for t in verbs[v]]
    test = [ln for ln in lines if " the tree." in ln or " the cat." in ln]
    (tmp_path / "train.tsv").write_text("".join(ln for ln in lines if ln not in test))
    (tmp_path / "test.tsv").write_text("".join(test))
    (tmp_path / "toy.toml").write_text(
        'name = "toy"\n[task]\nname = "translation"\ntrain_data = "train.tsv"\n'
        'test_data = "test.tsv"\nmin_freq = 1\nbeam = 2\n[model]\ncell = "gru"\n'
        'hidden_size = 32\nembedding_dim = 16\n[train]\nsteps = 60\neval_every = 60\n'
        'batch_size = 16\nlr = 1e-2\nprogress = "off"\n[diagnostics]\nevery = 0\n')
    assert main(["train", str(tmp_path / "toy.toml"), "--run-dir", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    p = rnnkit.load(tmp_path / "run")
    scores = p.corpus_scores(p.predict_file(tmp_path / "test.tsv"))
    assert scores["sources"] == 12 and scores["references"] == len(test) == 18
    assert scores["bleu"] == pytest.approx(figures["bleu"], abs=1e-9)
    assert scores["chrf"] == pytest.approx(figures["chrf"], abs=1e-9)
    assert scores["chrf"] > 0 and scores["bleu"] > 0


def test_corpus_scores_use_the_runs_bleu_tokenizer(run):
    sacrebleu = pytest.importorskip("sacrebleu")
    p = rnnkit.load(run)
    records = [{"source": "Il a froid.", "reference": "He is cold!", "translation": "He's cold"}]
    default = p.corpus_scores(records)
    p.config.task.bleu_tokenize = "char"
    got = p.corpus_scores(records)
    assert got["bleu_tokenize"] == "char" and default["bleu_tokenize"] == "13a"
    want = sacrebleu.corpus_bleu(["He's cold"], [["He is cold!"]], tokenize="char").score
    assert got["bleu"] == pytest.approx(want) and want != pytest.approx(default["bleu"])
