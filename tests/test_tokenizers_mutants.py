"""rnnkit.data.tokenizers on hand-made cases (issue 20): vocabulary order worked out by hand,
each tokenizer's defaults (lower-casing, saved forms without the ``lower`` key), detokenized
punctuation, whole error messages, and the subword model checked against what sentencepiece
itself reads back from it (its trainer spec, its pieces, its normaliser). Every subword model
is trained inside the test that uses it, small (a few milliseconds)."""

from __future__ import annotations

import io

import pytest

from rnnkit.data.tokenizers import (
    SPECIALS,
    SubwordTokenizer,
    Vocabulary,
    WordTokenizer,
    detokenize,
    tokenizer_from_dict,
)

TRAIN = ["I am cold.", "I am hungry.", "He is tall.", "She is here.", "We are late.",
         "They are at home.", "The cat is on the table.", "Where is the station?"] * 10


def test_vocabulary_counts_then_alphabet_with_min_freq_and_max_size():
    lists = [["b", "a", "c", "b"], ["c", "b", "d"], ["<pad>", "e"], ["e"]]
    # counts: b 3, c 2, e 2, a 1, d 1 (the special <pad> keeps id 0 and is not counted again)
    assert Vocabulary.build(lists).itos == [*SPECIALS, "b", "c", "e", "a", "d"]
    assert Vocabulary.build(lists, min_freq=2).itos == [*SPECIALS, "b", "c", "e"]
    assert Vocabulary.build(lists, max_size=2).itos == [*SPECIALS, "b", "c"]
    v = Vocabulary(["x", "<unk>", "y"])
    assert v.itos == [*SPECIALS, "x", "y"] and v.stoi == {t: i for i, t in enumerate(v.itos)}
    assert v.encode(["y", "zz", "x"]) == [5, 1, 4] and v.decode([5, 0, 4]) == ["y", "<pad>", "x"]


def test_word_tokenizer_lower_cases_unless_told_not_to():
    vocab = Vocabulary(["le", "chat", "Paris"])
    assert WordTokenizer(vocab).encode("Le CHAT") == [4, 5]  # lower by default
    kept = WordTokenizer(vocab, lower=False)
    assert kept.encode("Paris le Le") == [6, 4, 1]
    assert WordTokenizer.fit(["Le Chat", "le"]).vocab.itos[4:] == ["le", "chat"]
    old = tokenizer_from_dict({"kind": "word", "tokens": ["le", "chat"]})  # no "lower" key
    assert old.lower is True and old.encode("LE Chat") == [4, 5]


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match=r"^unknown tokenizer kind 'bpe'$"):
        tokenizer_from_dict({"kind": "bpe", "tokens": []})


def test_detokenize_attaches_punctuation_and_elisions():
    words = ["(", "a", ",", "b", ")", "[", "c", "]", "{", "d", "}", "l'", "homme", "!"]
    assert detokenize(words) == "(a, b) [c] {d} l'homme!"


def _spec(tok: SubwordTokenizer):
    pb = pytest.importorskip("sentencepiece.sentencepiece_model_pb2")
    proto = pb.ModelProto()
    proto.ParseFromString(tok.model)
    return proto


def test_subword_model_records_the_documented_training_settings():
    """sentencepiece's own reading of the saved model: BPE by default, byte fallback, no
    normalisation, one thread, the four specials at ids 0-3 (the default upper bound of 8000
    pieces is checked by the error message below: the spec records the pieces trained)."""
    pytest.importorskip("sentencepiece")
    proto = _spec(SubwordTokenizer.fit(TRAIN))
    spec = proto.trainer_spec
    assert spec.model_type == spec.BPE and spec.vocab_size == len(proto.pieces) < 8000
    assert not spec.hard_vocab_limit and spec.byte_fallback and spec.num_threads == 1
    assert spec.character_coverage == pytest.approx(0.9995)
    assert [(spec.pad_id, spec.pad_piece), (spec.unk_id, spec.unk_piece),
            (spec.bos_id, spec.bos_piece), (spec.eos_id, spec.eos_piece)] == list(
                zip(range(4), SPECIALS))
    assert proto.normalizer_spec.name == "identity"
    unigram = _spec(SubwordTokenizer.fit(TRAIN, vocab_size=300, model_type="unigram"))
    assert unigram.trainer_spec.model_type == spec.UNIGRAM


def test_subword_training_prints_nothing(capfd):
    spm = pytest.importorskip("sentencepiece")
    spm.set_min_log_level(0)  # sentencepiece's default (the level is global: reset it)
    SubwordTokenizer.fit(TRAIN, vocab_size=300)
    assert capfd.readouterr().err == ""


def test_subword_keeps_compatibility_characters():
    """No NFKC: a ligature, a circled digit, a full-width letter and an ellipsis come back as
    they were (NFKC would give fi, 1, A and ...)."""
    pytest.importorskip("sentencepiece")
    tok = SubwordTokenizer.fit(TRAIN, vocab_size=300)
    text = "\ufb01 \u2460 \uff21 \u2026"
    assert tok.decode(tok.encode(text)) == text


def test_subword_case_is_kept_by_default_and_folded_when_asked():
    pytest.importorskip("sentencepiece")
    tok = SubwordTokenizer.fit(TRAIN, vocab_size=300)
    assert tok.decode(tok.encode("HE IS")) == "HE IS" and tok.lower is False
    for again in (SubwordTokenizer(tok.model),
                  tokenizer_from_dict({"kind": "subword", "model": tok.to_dict()["model"]})):
        assert again.lower is False and again.encode("HE IS") == tok.encode("HE IS")
    low = SubwordTokenizer.fit(["Hello World"] * 5, vocab_size=300, lower=True)
    pieces = [p for p in low.vocab.itos[4:] if not (p.startswith("<0x") and p.endswith(">"))]
    assert pieces and all(p == p.lower() for p in pieces)  # trained on lower-cased lines
    assert low.split("HELLO World") == low.split("hello world") == ["▁hello", "▁world"]


def test_a_model_without_the_specials_first_is_refused():
    spm = pytest.importorskip("sentencepiece")
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(  # sentencepiece's own ids: <unk> 0, <s> 1, </s> 2
        sentence_iterator=iter(TRAIN), model_writer=out, vocab_size=60, hard_vocab_limit=False,
        minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=out.getvalue())
    first = [sp.id_to_piece(i) for i in range(4)]
    assert first[:3] == ["<unk>", "<s>", "</s>"]
    with pytest.raises(ValueError) as e:
        SubwordTokenizer(out.getvalue())
    assert str(e.value) == f"a subword model must start with {SPECIALS}, got {first}"


def test_subword_fit_errors_are_whole(monkeypatch):
    spm = pytest.importorskip("sentencepiece")
    with pytest.raises(ValueError, match=r"^no text to train a subword model on$"):
        SubwordTokenizer.fit(["", " \t "])

    def fail(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(spm.SentencePieceTrainer, "train", fail)
    with pytest.raises(ValueError) as e:
        SubwordTokenizer.fit(["a b", "", "c"])
    assert str(e.value) == "cannot train a subword model of 8000 pieces on 2 sentences: boom"


def test_unspaced_scripts_split_per_character_with_their_marks():
    """split_unspaced: a Thai vowel sign or tone mark stays on the consonant before it, Han
    characters stand alone and the Latin letters around them stay one token each."""
    split = WordTokenizer.split
    # กินข้าว: ก+ิ, น, ข+้, า, ว (ิ U+0E34 and ้ U+0E49 are combining marks)
    assert split("กินข้าว abc我def", split_unspaced=True) == [
        "ก\u0e34", "น", "ข\u0e49", "า", "ว", "abc", "我", "def"]
    assert split("a 我爱你 b", split_unspaced=True) == ["a", "我", "爱", "你", "b"]
    assert split("a 我爱你 b") == ["a", "我爱你", "b"]  # off by default


def test_split_unspaced_is_kept_by_fit_words_and_the_saved_form():
    tok = WordTokenizer.fit(["我爱你 你"], split_unspaced=True)
    assert tok.split_unspaced is True and tok.vocab.itos[4:] == ["你", "我", "爱"]  # 你 twice
    assert tok.words("他爱我") == ["他", "爱", "我"] and tok.encode("他爱我") == [1, 6, 5]
    saved = tok.to_dict()
    assert saved == {"kind": "word", "tokens": ["你", "我", "爱"], "lower": True,
                     "split_unspaced": True}
    again = tokenizer_from_dict(saved)
    assert again.split_unspaced is True and again.words("他爱我") == ["他", "爱", "我"]
    plain = WordTokenizer(Vocabulary(["我爱你"]))
    assert plain.split_unspaced is False and plain.words("我爱你") == ["我爱你"]
    assert "split_unspaced" not in plain.to_dict()
    old = tokenizer_from_dict({"kind": "word", "tokens": ["我爱你"], "lower": True})
    assert old.split_unspaced is False and old.encode("我爱你") == [4]


def test_what_runs_on_after_a_match_at_the_edges_of_each_range():
    """A flag's two letters at both ends of the regional indicators (🇿🇦: Z, A), both ends of
    the skin tones, the letters after a mark inside a word (नमस्ते: स+्, then ते), and what
    is not joined: a letter after a skin tone, a letter after a mark on punctuation."""
    split = WordTokenizer.split
    zz, aa = "\U0001f1ff", "\U0001f1e6"
    light, dark = "\U0001f3fb", "\U0001f3ff"
    assert split(f"{zz}{aa} \U0001f44d{light} \U0001f44d{dark}") == [
        zz + aa, "\U0001f44d" + light, "\U0001f44d" + dark]
    assert split("नमस्ते") == ["नमस्ते"]
    assert split(f"a{light}b") == ["a" + light, "b"]
    assert split(".\u0301a") == [".\u0301", "a"]
