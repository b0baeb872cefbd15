"""Value tests of rnnkit/tasks/translation.py against independent references.

A dictionary "model" translates word by word (in the source's order or reversed), attending
mostly to the source word it translates, so every translation, every ``<unk>`` copy and
every decoding call is known by hand; a hand-made corpus in train/val/test files fixes the
splits; BLEU and chrF are checked against sacrebleu called directly.
"""

from __future__ import annotations

import struct
from dataclasses import asdict, replace

import pytest
import torch
from torch import nn

from rnnkit.data.tokenizers import UNK, SubwordTokenizer, WordTokenizer
from rnnkit.models.seq2seq import DecodeResult
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.text_common import TextLine
from rnnkit.tasks.translation import (
    TranslationPredictor,
    bleu_chrf,
    plot_attention,
    to_tensors,
    translate,
)

WORDS = {"the": "le", "a": "un", "cat": "chat", "dog": "chien", "bird": "oiseau",
         "sees": "voit", ".": ".", "|": "|"}


class Dictionary(nn.Module):
    """Translates each source word through WORDS (anything else: <unk>), in the source's
    order or ``reverse``d; target token t gives weight 0.7 to the source word it translates
    and spreads 0.3 evenly. Records every ``beam_search`` call."""

    def __init__(self, src, tgt, *, reverse=False, attention=True):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.src, self.tgt, self.reverse, self.attention = src, tgt, reverse, attention
        self.calls = []

    def beam_search(self, x, lengths, beam_size, max_len, length_penalty):
        self.calls.append(dict(shape=tuple(x.shape), beam_size=beam_size, max_len=max_len,
                               length_penalty=length_penalty, training=self.training))
        tokens, attention = [], []
        unk = self.tgt.vocab.stoi[UNK]
        for row, n in zip(x.tolist(), lengths.tolist()):
            words = self.src.vocab.decode(row[:n])
            ids = [self.tgt.vocab.stoi.get(WORDS.get(w, UNK), unk) for w in words]
            eye = torch.eye(n)
            if self.reverse:
                ids, eye = ids[::-1], eye.flip(0)
            tokens.append(ids)
            attention.append(0.7 * eye + 0.3 / n)
        scores = torch.zeros(len(tokens))
        return DecodeResult(tokens, scores, scores, attention if self.attention else None)


SRC = WordTokenizer.fit(["the cat sees the dog .", "a bird ."])
TGT = WordTokenizer.fit(["le chat voit le chien .", "un oiseau ."], lower=False)


# -- translate: the <unk> copy ---------------------------------------------------------------

def test_each_unk_copies_the_source_word_it_attends_to_with_its_case():
    model = Dictionary(SRC, TGT, reverse=True)
    (out,) = translate(model, SRC, TGT, ["The Oslo sees Zanzibar ."], beam=2)
    # reversed: . <unk> voit <unk> le; token 1 attends to source word 3, token 3 to word 1
    assert out.target_tokens == [".", "Zanzibar", "voit", "Oslo", "le"]
    assert out.text == ". Zanzibar voit Oslo le"
    assert out.source_tokens == ["the", "oslo", "sees", "zanzibar", "."]  # lower-cased
    assert out.truncated is False
    n = 5
    want = [[0.7 * (s == n - 1 - t) + 0.3 / n for s in range(n)] for t in range(n)]
    torch.testing.assert_close(torch.tensor(out.attention), torch.tensor(want))


def test_a_cut_sentence_copies_from_its_first_limit_words():
    model = Dictionary(SRC, TGT, reverse=True)
    (out,) = translate(model, SRC, TGT, ["The cat sees Zanzibar and Oslo ."], limit=4)
    assert out.target_tokens == ["Zanzibar", "voit", "chat", "le"]
    assert out.text == "Zanzibar voit chat le"
    assert out.source_tokens == ["the", "cat", "sees", "zanzibar"] and out.truncated is True


def test_without_attention_or_with_a_subword_source_nothing_is_copied():
    (out,) = translate(Dictionary(SRC, TGT, attention=False), SRC, TGT, ["The Oslo ."])
    assert out.target_tokens == ["le", "<unk>", "."] and out.text == "le <unk>."
    assert out.attention is None
    # subword source: attention columns are pieces, not words; the <unk> stays
    sub = SubwordTokenizer.fit(["the oslo ."] * 3, vocab_size=300, lower=True)
    pieces = sub.split("The Oslo .")

    class Pieces(Dictionary):
        def beam_search(self, x, lengths, beam_size, max_len, length_penalty):
            att = torch.eye(3)  # as many columns as words: only the kind stops a copy
            return DecodeResult([[TGT.vocab.stoi["le"], 1, TGT.vocab.stoi["."]]],
                                torch.zeros(1), torch.zeros(1), [att])

    (out,) = translate(Pieces(sub, TGT), sub, TGT, ["The Oslo ."])
    assert out.target_tokens == ["le", "<unk>", "."] and out.source_tokens == pieces


def test_a_subword_target_is_decoded_by_its_own_tokenizer():
    sub = SubwordTokenizer.fit(["le chat voit le chien ."] * 3, vocab_size=300)
    ids = sub.encode("le chat")

    class Fixed(Dictionary):
        def beam_search(self, x, lengths, beam_size, max_len, length_penalty):
            return DecodeResult([ids], torch.zeros(1), torch.zeros(1),
                                [torch.full((len(ids), int(lengths[0])), 0.5)])

    (out,) = translate(Fixed(SRC, sub), SRC, sub, ["the cat"])
    assert out.text == "le chat" and out.target_tokens == sub.vocab.decode(ids)


def test_sentences_of_one_length_are_decoded_together_in_order():
    model = Dictionary(SRC, TGT)
    model.train()
    sentences = ["the cat sees", "a", "the dog sees", "a bird", "the bird .", "a dog ."]
    out = translate(model, SRC, TGT, sentences, beam=3, length_penalty=0.25, batch_size=2)
    assert [t.text for t in out] == ["le chat voit", "un", "le chien voit", "un oiseau",
                                     "le oiseau.", "un chien."]
    # lengths 3 1 3 2 3 3: groups of one length (shortest first), at most 2 rows each,
    # decoding up to twice the length + 10 tokens, in eval mode
    assert model.calls == [
        dict(shape=shape, beam_size=3, max_len=2 * shape[1] + 10, length_penalty=0.25,
             training=False) for shape in ((1, 1), (1, 2), (2, 3), (2, 3))]
    alone = [translate(model, SRC, TGT, [s])[0] for s in sentences]
    assert [t.text for t in alone] == [t.text for t in out]
    assert model.calls[-1]["beam_size"] == 5 and model.calls[-1]["length_penalty"] == 0.6


# -- tensors and BLEU ------------------------------------------------------------------------

def test_to_tensors_cuts_sources_and_wraps_targets_in_bos_and_eos():
    src = WordTokenizer.fit(["a b c d"])  # ids: specials 0-3, then a b c d = 4 5 6 7
    tgt = WordTokenizer.fit(["x y"])  # x y = 4 5; <bos> 2, <eos> 3, <pad> 0
    got = to_tensors([("a b c d", "x y"), ("c", "y")], src, tgt, 2)
    assert got["x"].tolist() == [[4, 5], [6, 0]] and got["lengths"].tolist() == [2, 1]
    assert got["y"].tolist() == [[2, 4, 5, 3], [2, 5, 3, 0]]
    assert got["y_lengths"].tolist() == [4, 3]


def test_bleu_and_chrf_equal_sacrebleu_with_every_reference():
    sacrebleu = pytest.importorskip("sacrebleu")
    hyps = ["the cat sat on the mat .", "a dog ."]
    refs = [["the cat sat on a mat .", "the cat sat on the mat ."], ["the dog ."]]
    # a repeated reference changes neither BLEU nor chrF: every source gets two
    streams = [["the cat sat on a mat .", "the dog ."], ["the cat sat on the mat .", "the dog ."]]
    got = bleu_chrf(hyps, refs)
    assert got == {"bleu": pytest.approx(sacrebleu.corpus_bleu(hyps, streams).score),
                   "chrf": pytest.approx(sacrebleu.corpus_chrf(hyps, streams).score)}
    char = bleu_chrf(hyps, refs, tokenize="char")["bleu"]
    assert char == pytest.approx(sacrebleu.corpus_bleu(hyps, streams, tokenize="char").score)
    assert char != pytest.approx(got["bleu"])
    # the short hypothesis against its one reference: "" must not stand in for the missing one
    short = bleu_chrf(["dog"], [["the dog ."]])
    assert short["bleu"] == pytest.approx(sacrebleu.corpus_bleu(["dog"], [["the dog ."]]).score)


# -- the task on a hand-made corpus ----------------------------------------------------------

TRAIN = [("the cat sees the dog .", "le chat voit le chien ."),
         ("a bird sees the cat .", "un oiseau voit le chat ."),
         ("the dog sees a bird .", "le chien voit un oiseau ."),
         ("The cat | the dog .", "le chat | le chien .")]
VAL = [("the bird sees a cat .", "le oiseau voit un chat .")]
NOUNS = ("cat", "dog", "bird")
# 14 test sources "a X sees a Y ." (X != Y or not), the first with two references
TEST = [(f"a {x} sees a {y} .", f"un {WORDS[x]} voit un {WORDS[y]} .")
        for x in NOUNS for y in NOUNS][:9] + [
    (f"the {x} sees the {y} .", f"le {WORDS[x]} voit le {WORDS[y]} .")
    for x, y in (("cat", "cat"), ("dog", "dog"), ("bird", "bird"), ("bird", "cat"))] + [
    ("the bird | sees .", "le oiseau | voit .")]
TEST.insert(2, ("a cat sees a cat .", "un chat voit un matou ."))


def _tsv(path, pairs):
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return str(path)


@pytest.fixture
def corpus(tmp_path):
    """A run config over the hand-made train/val/test files (every word seen once)."""
    task = {"name": "translation", "train_data": _tsv(tmp_path / "train.tsv", TRAIN),
            "val_data": _tsv(tmp_path / "val.tsv", VAL),
            "test_data": _tsv(tmp_path / "test.tsv", TEST), "min_freq": 1, "beam": 3,
            "length_penalty": 0.5, "max_tokens": 6}
    return config_from_raw({"task": task, "model": {"cell": "gru"}}, "test")


def _ctx(cfg, **task):
    return TASKS["translation"].setup(replace(cfg, task=replace(cfg.task, **task)))


def _refs():
    out = {}
    for s, t in TEST:
        out.setdefault(s, []).append(t)
    return out


def test_context_tokenizers_and_bleu_set(corpus):
    ctx = _ctx(corpus)
    assert ctx.pairs["train"] == TRAIN and ctx.pairs["val"] == [(s, [t]) for s, t in VAL]
    assert ctx.pairs["test"] == list(_refs().items())
    src, tgt = ctx.source_tokenizer, ctx.target_tokenizer
    assert src.lower is True and tgt.lower is False
    assert src.vocab.itos == WordTokenizer.fit([s for s, _ in TRAIN]).vocab.itos
    assert tgt.vocab.itos == WordTokenizer.fit([t for _, t in TRAIN], lower=False).vocab.itos
    assert "the" in src.vocab.stoi and "The" not in src.vocab.stoi
    lowered = _ctx(corpus, lower_target=True, min_freq=2).target_tokenizer
    assert lowered.lower is True
    assert lowered.vocab.itos == WordTokenizer.fit([t for _, t in TRAIN], min_freq=2).vocab.itos
    assert ctx.bleu_set("test") == (list(_refs()), list(_refs().values()))
    assert _ctx(corpus, bleu_sentences=2).bleu_set("val") == ([VAL[0][0]], [[VAL[0][1]]])
    two = _ctx(corpus, bleu_sentences=2).bleu_set("test")
    assert two == (list(_refs())[:2], list(_refs().values())[:2])


def test_splits_have_a_row_per_reference_and_cut_sources(corpus):
    ctx = _ctx(corpus, max_tokens=4)
    src, tgt = ctx.source_tokenizer, ctx.target_tokenizer
    with pytest.warns(UserWarning) as record:
        splits = TASKS["translation"].make_splits(ctx)
    assert [str(w.message).split(":")[0] for w in record] == [
        "4 of the 4 training pairs", "1 of the 1 validation pairs", "15 of the 15 test pairs"]
    assert str(record[0].message).endswith(" pairs: a source of task.max_tokens = 4 tokens "
                                           "or more; longer sources are cut to it (their "
                                           "targets are not), so the model learns to say what "
                                           "it never read; raise task.max_tokens to keep them "
                                           "whole")
    rows = {"train": TRAIN, "val": VAL, "test": TEST[:1] + TEST[2:3] + TEST[1:2] + TEST[3:]}
    for split, pairs in rows.items():
        x = [[i for i in row if i] for row in splits[split]["x"].tolist()]
        y = [[i for i in row if i] for row in splits[split]["y"].tolist()]
        assert x == [src.encode(s)[:4] for s, _ in pairs], split
        assert y == [[2, *tgt.encode(t), 3] for _, t in pairs], split


def test_model_args_and_info(corpus):
    task = TASKS["translation"]
    ctx = _ctx(corpus)
    n_src = len({w for s, _ in TRAIN for w in WordTokenizer.split(s)}) + 4
    n_tgt = len({w for _, t in TRAIN for w in WordTokenizer.split(t, False)}) + 4
    assert task.model_args(ctx) == {"src_vocab_size": n_src, "tgt_vocab_size": n_tgt,
                                    "bos_id": 2, "eos_id": 3, "pad_id": 0}
    model = Dictionary(ctx.source_tokenizer, ctx.target_tokenizer)
    assert task.info(ctx, model) == {
        "task": asdict(ctx.cfg.task), "source_tokenizer": ctx.source_tokenizer.to_dict(),
        "target_tokenizer": ctx.target_tokenizer.to_dict()}


def test_check_refuses_counts_beside_files(corpus):
    task = TASKS["translation"]
    assert task.check(corpus) == []
    data_cfg = replace(corpus, task=replace(corpus.task, train_data="", val_data="",
                                            test_data="", data=corpus.task.train_data))
    counted = replace(data_cfg, task=replace(data_cfg.task, test_sources=2, val_sources=1))
    assert task.check(counted) == []
    test_msg = ("task.test_sources: task.test_data names the test sentences; set one or the "
                "other")
    val_msg = ("task.val_sources: task.val_data names the validation sentences; set one or "
               "the other")
    both = replace(corpus, task=replace(corpus.task, test_sources=2, val_sources=1))
    assert task.check(both) == [test_msg, val_msg]
    assert task.check(replace(corpus, task=replace(corpus.task, test_sources=2))) == [test_msg]
    assert task.check(replace(corpus, task=replace(corpus.task, val_sources=1))) == [val_msg]


def _hand(source: str) -> str:
    """The dictionary translation of a source, detokenised by hand."""
    words = [WORDS[w] for w in WordTokenizer.split(source)]
    return " ".join(words).replace(" .", ".")


def test_bleu_of_held_out_parts_against_sacrebleu(corpus):
    sacrebleu = pytest.importorskip("sacrebleu")
    task = TASKS["translation"]
    ctx = _ctx(corpus, bleu_sentences=3)
    model = Dictionary(ctx.source_tokenizer, ctx.target_tokenizer)
    assert task.extra_metrics(ctx, model, "train") == {}
    got = task.extra_metrics(ctx, model, "test")
    sources, refs = list(_refs())[:3], list(_refs().values())[:3]
    hyps = [_hand(s) for s in sources]
    assert hyps[0] == "un chat voit un chat."
    streams = [[r[0] for r in refs], [r[-1] for r in refs]]
    assert got == {"bleu": pytest.approx(sacrebleu.corpus_bleu(hyps, streams).score),
                   "chrf": pytest.approx(sacrebleu.corpus_chrf(hyps, streams).score)}
    assert [c["beam_size"] for c in model.calls] == [3] and model.calls[0]["shape"] == (3, 6)
    assert model.calls[0]["length_penalty"] == 0.5
    val = task.extra_metrics(ctx, model, "val")
    assert val["bleu"] == pytest.approx(sacrebleu.corpus_bleu([_hand(VAL[0][0])],
                                                              [[VAL[0][1]]]).score)
    cut = task.extra_metrics(_ctx(corpus, bleu_sentences=3, max_tokens=2), model, "test")
    assert model.calls[-1]["shape"] == (3, 2) and cut["bleu"] < got["bleu"]
    # BLEU's tokenizer as the config says (the cut translations: not a perfect score)
    cut_hyps = [" ".join(_hand(s).split()[:2]) for s in sources]
    assert cut_hyps[0] == "un chat"
    char = task.extra_metrics(_ctx(corpus, bleu_sentences=3, bleu_tokenize="char",
                                   max_tokens=2), model, "test")
    assert char["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(cut_hyps, streams, tokenize="char").score)
    assert cut["bleu"] == pytest.approx(sacrebleu.corpus_bleu(cut_hyps, streams).score)
    assert char["bleu"] != pytest.approx(cut["bleu"])


def test_report_shows_the_first_twelve_test_sources(corpus):
    ctx = _ctx(corpus)
    model = Dictionary(ctx.source_tokenizer, ctx.target_tokenizer)
    lines = TASKS["translation"].report_sections(ctx, model)
    refs = _refs()
    assert len(refs) == 14
    want = [f"| {s} | {_hand(s)} | {' / '.join(r)} |" for s, r in list(refs.items())[:12]]
    assert lines == ["## Example test translations", "", "| source | rnnkit | references |",
                     "|---|---|---|", *want]
    assert want[0] == "| a cat sees a cat . | un chat voit un chat. | un chat voit un chat . / " \
        "un chat voit un matou . |"
    assert model.calls[0]["beam_size"] == 3 and model.calls[0]["length_penalty"] == 0.5
    ctx.pairs["test"][:1] = [("the bird | sees .", ["le oiseau | voit ."])]
    (row,) = TASKS["translation"].report_sections(ctx, model)[4:5]
    assert row == "| the bird \\| sees . | le oiseau \\| voit. | le oiseau \\| voit . |"
    # sources cut at task.max_tokens, as everywhere else
    cut = _ctx(corpus, max_tokens=2)
    (row,) = TASKS["translation"].report_sections(cut, model)[4:5]
    assert row == "| a cat sees a cat . | un chat | un chat voit un chat . / " \
        "un chat voit un matou . |"


# -- the predictor ---------------------------------------------------------------------------

@pytest.fixture
def predictor(corpus):
    task = TASKS["translation"]
    ctx = _ctx(corpus, max_tokens=4)
    model = Dictionary(ctx.source_tokenizer, ctx.target_tokenizer)
    return TranslationPredictor(task, ctx, model, task.info(ctx, model))


def test_predict_records(predictor):
    p = predictor
    assert p.source_tokenizer.to_dict() == p.context.source_tokenizer.to_dict()
    assert p.target_tokenizer.vocab.itos == p.context.target_tokenizer.vocab.itos
    lines = ["The cat sees.", TextLine("a dog .", "invalid UTF-8 replaced"), " ",
             "the cat sees a dog ."]
    records = p.predict(lines)
    assert records == [
        {"source": "The cat sees.", "translation": "le chat voit."},
        {"source": "a dog .", "warning": "invalid UTF-8 replaced", "translation": "un chien."},
        {"source": " ", "translation": None, "error": "empty line: nothing to translate"},
        {"source": "the cat sees a dog .", "translation": "le chat voit un",
         "truncated": "read the first 4 tokens"}]
    assert [c["beam_size"] for c in p.model.calls] == [3, 3]  # the run's task.beam
    assert {c["length_penalty"] for c in p.model.calls} == {0.5}
    (explained,) = p.predict("A bird.", beam="2", explain=True)
    assert p.model.calls[-1]["beam_size"] == 2
    attention = explained.pop("attention")
    assert explained == {"source": "A bird.", "translation": "un oiseau.",
                         "source_tokens": ["a", "bird", "."],
                         "target_tokens": ["un", "oiseau", "."]}
    want = [[0.7 * (s == t) + 0.1 for s in range(3)] for t in range(3)]
    torch.testing.assert_close(torch.tensor(attention), torch.tensor(want))
    assert p.predict(["a"], beam=1)[0]["translation"] == "un"
    with pytest.raises(TaskError, match=r"^beam must be >= 1, got 0$"):
        p.predict(["a"], beam=0)


def test_plot_refuses_records_without_attention(predictor, tmp_path, monkeypatch):
    p = predictor
    drawn = []
    monkeypatch.setattr("rnnkit.tasks.translation.plot_attention",
                        lambda *args: drawn.append(args) or args[-1])
    (record,) = p.predict(["a bird ."], explain=True)
    assert p.plot(record, tmp_path / "a.png") == tmp_path / "a.png"
    assert drawn == [(["a", "bird", "."], ["un", "oiseau", "."], record["attention"],
                      tmp_path / "a.png")]
    for bad, message in (
            ({"error": "empty line: nothing to translate"},
             "nothing to plot: empty line: nothing to translate"),
            ({"source": "a", "translation": "un"},
             "the record holds no attention: predict with explain=True"),
            ({**record, "attention": None},
             'this model has no attention (model.attention = "none")'),
            ({**record, "target_tokens": [], "attention": []},
             "the translation is empty: no attention to plot")):
        with pytest.raises(TaskError) as e:
            p.plot(bad, tmp_path / "b.png")
        assert str(e.value) == message
    assert len(drawn) == 1


def test_attention_plot_draws_the_weights_on_a_fixed_scale(tmp_path, monkeypatch):
    plt = pytest.importorskip("matplotlib.pyplot")
    figures = []
    close = plt.close
    monkeypatch.setattr(plt, "close", figures.append)
    weights = [[0.9, 0.05, 0.05], [0.2, 0.3, 0.5]]
    # the same plot whatever the user's matplotlib style says
    with plt.rc_context({"image.cmap": "gray", "savefig.dpi": 50, "image.aspect": "equal"}):
        path = plot_attention(["a", "bird", "."], ["un", "oiseau"], weights,
                              str(tmp_path / "a.png"))
    (fig,) = figures
    try:
        assert path == tmp_path / "a.png"
        # 1 + 0.5 inch per source token, 1 + 0.4 per target token (at least 2), 100 dpi
        assert tuple(fig.get_size_inches()) == pytest.approx((2.5, 1.8))
        width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the PNG header
        assert (width, height) == (250, 180)
        (ax,) = fig.axes
        (image,) = ax.images
        assert image.get_array().tolist() == weights and image.get_clim() == (0, 1)
        assert image.get_cmap().name == "viridis" and ax.get_aspect() == "auto"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "bird", "."]
        assert list(ax.get_xticks()) == [0, 1, 2] and list(ax.get_yticks()) == [0, 1]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["un", "oiseau"]
        assert {t.get_rotation() for t in ax.get_xticklabels()} == {45}
        assert {t.get_horizontalalignment() for t in ax.get_xticklabels()} == {"right"}
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("source", "translation")
        # one token each: the size of two
        small = plot_attention(["a"], ["x"], [[1.0]], tmp_path / "b.png")
        assert tuple(figures[-1].get_size_inches()) == pytest.approx((2.0, 1.8))
        assert small.is_file()
    finally:
        for f in figures:
            close(f)


def test_the_task_builds_its_predictor_over_the_run(corpus, tmp_path):
    task = TASKS["translation"]
    ctx = _ctx(corpus)
    model = Dictionary(ctx.source_tokenizer, ctx.target_tokenizer).train()
    info = task.info(ctx, model)
    p = task.predictor(ctx, model, info, tmp_path)
    assert isinstance(p, TranslationPredictor) and p.run_dir == tmp_path
    assert (p.context, p.model, p.info) == (ctx, model, info) and not model.training
    assert p.predict(["a cat ."]) == [{"source": "a cat .", "translation": "un chat."}]
