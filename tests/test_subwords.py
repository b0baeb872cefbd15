"""The subword tokenizer (sentencepiece BPE and unigram): round trips on text it never saw
(accents, CJK, emoji), specials where every model expects them, deterministic training,
vocab_size as an upper bound, and model.json's JSON form (no pickle); the word and character
tokenizers' saved form still loads."""

import base64
import json
import sys

import pytest

from rnnkit._optional import MissingExtraError
from rnnkit.data.tokenizers import (
    SPECIALS,
    CharTokenizer,
    SubwordTokenizer,
    WordTokenizer,
    normalize,
    tokenizer_from_dict,
)

pytest.importorskip("sentencepiece")

TRAIN = ["I am cold.", "I am hungry.", "He is tall.", "She is here.", "We are late.",
         "They are at home.", "The cat is on the table.", "Where is the station?"] * 10
UNSEEN = ["Élodie a mangé une crème brûlée à Noël, n'est-ce pas ?",
          "東京の天気は晴れです。", "北京欢迎你", "Привет, как дела?", "🙂👍🏽 ok 🎉",
          "  spaces\tand\u00a0no-break\u202fspaces  ", "ÇA VA ! ça va ?", "Ωmega—dash…", "x"]


@pytest.fixture(scope="module", params=["bpe", "unigram"])
def model_type(request):
    return request.param


@pytest.fixture(scope="module")
def tok(model_type):
    return SubwordTokenizer.fit(TRAIN, vocab_size=300, model_type=model_type)


def test_normalize_is_nfc_with_whitespace_runs_as_one_space():
    assert normalize("e\u0301te\u0301 \t x\u202fy ") == "\u00e9t\u00e9 x y"
    assert normalize("ÉTÉ Été", lower=True) == "été été"


@pytest.mark.parametrize("text", UNSEEN)
def test_round_trip_on_unseen_text_without_unknown_tokens(tok, text):
    ids = tok.encode(text)
    assert tok.decode(ids) == normalize(text)
    assert tok.vocab.stoi["<unk>"] not in ids  # byte fallback spells unseen characters
    assert len(tok.split(text)) == len(ids)
    assert tok.vocab.decode(ids) == tok.split(text)


def test_specials_come_first_and_bos_eos_wrap_the_ids(tok):
    assert tuple(tok.vocab.itos[:4]) == SPECIALS
    ids = tok.encode("I am cold.", bos=True, eos=True)
    assert ids[0] == tok.vocab.stoi["<bos>"] and ids[-1] == tok.vocab.stoi["<eos>"]
    assert ids[1:-1] == tok.encode("I am cold.")
    assert tok.decode(ids + [0, 0]) == "I am cold."  # padding and markers dropped
    assert tok.encode("") == [] and tok.split("   ") == []


def test_lower_cases_what_it_reads():
    low = SubwordTokenizer.fit(TRAIN, vocab_size=300, lower=True)
    assert low.encode("I AM COLD.") == low.encode("i am cold.")
    assert low.decode(low.encode("I AM COLD.")) == "i am cold."


def test_training_is_deterministic_and_vocab_size_an_upper_bound(tok, model_type):
    assert SubwordTokenizer.fit(TRAIN, vocab_size=300, model_type=model_type).model == tok.model
    assert len(tok.vocab) <= 300
    # as many pieces as the text supports
    small = SubwordTokenizer.fit(TRAIN[:8], vocab_size=5000, model_type=model_type)
    assert len(small.vocab) < 5000
    assert small.decode(small.encode("Où est la gare ?")) == "Où est la gare ?"
    with pytest.raises(ValueError, match="cannot train a subword model of 40 pieces"):
        # fewer than the bytes and characters
        SubwordTokenizer.fit(TRAIN, vocab_size=40, model_type=model_type)
    with pytest.raises(ValueError, match="no text"):
        SubwordTokenizer.fit(["", "  "])


def test_saved_as_json_and_rebuilt_exactly(tok):
    d = json.loads(json.dumps(tok.to_dict()))  # plain JSON: what model.json holds
    assert d["kind"] == "subword" and d["library"] == "sentencepiece"
    proto = base64.b64decode(d["model"])
    assert proto == tok.model and not proto.startswith(b"\x80")  # a protobuf, not a pickle
    again = tokenizer_from_dict(d)
    assert isinstance(again, SubwordTokenizer) and again.vocab.itos == tok.vocab.itos
    for text in UNSEEN:
        assert again.encode(text) == tok.encode(text)
    lower = tokenizer_from_dict(SubwordTokenizer.fit(TRAIN, vocab_size=300, lower=True).to_dict())
    assert lower.lower and lower.encode("HE") == lower.encode("he")


def test_word_and_char_tokenizers_keep_their_saved_form():
    word = WordTokenizer.fit(["L'homme est là."], lower=False)
    assert word.to_dict() == {"kind": "word", "tokens": word.vocab.itos[4:], "lower": False}
    assert sorted(word.to_dict()["tokens"]) == sorted(["L'", "homme", "est", "là", "."])
    assert tokenizer_from_dict(word.to_dict()).encode("L'homme") == word.encode("L'homme")
    saved = {"kind": "word", "tokens": ["chat", "le"], "lower": True}  # as older runs wrote
    assert tokenizer_from_dict(saved).encode("Le chat") == [5, 4]
    chars = tokenizer_from_dict({"kind": "char", "tokens": ["a", "b"]})
    assert isinstance(chars, CharTokenizer) and chars.encode("ab?") == [4, 5, 1]


def test_missing_sentencepiece_names_the_extra(tok, monkeypatch):
    monkeypatch.setitem(sys.modules, "sentencepiece", None)
    with pytest.raises(MissingExtraError, match=r"rnnkit\[text\]"):
        SubwordTokenizer.fit(TRAIN)
    with pytest.raises(MissingExtraError, match=r"rnnkit\[text\]"):
        tokenizer_from_dict(tok.to_dict())
