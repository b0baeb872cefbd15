"""Character, word and subword tokenizers, saved as plain dicts (JSON, no pickle) inside a
checkpoint's model.json."""

from __future__ import annotations

import base64
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from .._optional import require

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)  # ids 0, 1, 2, 3 in every vocabulary

# words, numbers with inner apostrophes/hyphens (aujourd'hui, c'est -> c' est), punctuation
_WORD = re.compile(r"\w+(?:[-’']\w+)*|[^\w\s]", re.UNICODE)
_WORD_CHAR = re.compile(r"\w")
_ELISION = re.compile(r"^([cdjlmnst]|qu|jusqu|lorsqu|puisqu)['’](\w)", re.IGNORECASE)
_ZWJ = "\u200d"  # zero-width joiner: an emoji sequence goes on
_SKIN_TONES = ("\U0001f3fb", "\U0001f3ff")  # emoji modifiers, first and last
_FLAG_LETTERS = ("\U0001f1e6", "\U0001f1ff")  # regional indicators: two make a flag
# punctuation written against the word before it / after it: Latin, the Devanagari danda,
# Arabic and Urdu marks, CJK and fullwidth forms, the ellipsis; Spanish inverted marks
_CLOSING = re.escape(".,!?;:)]}…।॥،؛؟۔。、，．！？：；）」』】〉》")
_OPENING = re.escape("([{¿¡（「『【〈《")
# scripts written without spaces between words: Han (CJK ideographs and their extensions),
# Hiragana, Katakana (and half-width), Thai, Lao, Myanmar, Khmer
_UNSPACED = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
                       "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"
                       "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]")


class Vocabulary:
    """Tokens <-> ids, with the four specials first."""

    def __init__(self, tokens: Iterable[str]):
        self.itos = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, token_lists: Iterable[Iterable[str]], *, min_freq: int = 1,
              max_size: int | None = None) -> Vocabulary:
        """Most frequent tokens first (ties alphabetical), keeping those seen >= min_freq."""
        counts = Counter(t for tokens in token_lists for t in tokens)
        kept = sorted((t for t, n in counts.items() if n >= min_freq),
                      key=lambda t: (-counts[t], t))
        return cls(kept[:max_size])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        unk = self.stoi[UNK]
        return [self.stoi.get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]


class CharTokenizer:
    """One token per character; unknown characters map to ``<unk>``."""

    kind = "char"

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab

    @classmethod
    def fit(cls, text: str) -> CharTokenizer:
        return cls(Vocabulary(sorted(set(text))))

    def encode(self, text: str) -> list[int]:
        return self.vocab.encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(t for t in self.vocab.decode(ids) if t not in SPECIALS)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "tokens": self.vocab.itos[len(SPECIALS):]}


class WordTokenizer:
    """Lower-cased words and punctuation, suited to English and French.

    Splits French elisions (``l'homme`` -> ``l'`` ``homme``) and keeps inner hyphens and
    apostrophes (``aujourd'hui``, ``don't``); normalises Unicode to NFC and typographic
    apostrophes to ``'``. A word keeps its combining marks (Devanagari vowel signs, Arabic
    harakat, Hebrew niqqud) and an emoji its whole sequence (selector, skin tone, flag,
    zero-width joins). ``split_unspaced``: each character of a script written without
    spaces between words (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) is a token, with
    its combining marks, as BERT's tokenizer reads Chinese; without it a run of such
    characters up to punctuation is one token (the text tasks' tokenizers saved before
    the option read so). ``decode`` re-joins tokens with spaces, then attaches punctuation.
    """

    kind = "word"

    def __init__(self, vocab: Vocabulary, *, lower: bool = True, split_unspaced: bool = False):
        self.vocab, self.lower, self.split_unspaced = vocab, lower, split_unspaced

    @staticmethod
    def split(text: str, lower: bool = True, split_unspaced: bool = False) -> list[str]:
        text = unicodedata.normalize("NFC", text).replace("’", "'")
        if lower:
            text = text.lower()
        tokens = []
        for token in _joined(text):
            m = _ELISION.match(token)
            if m:
                tokens += [token[: m.end(1) + 1], token[m.end(1) + 1 :]]
            elif split_unspaced and _UNSPACED.search(token):
                tokens += _characters(token)
            else:
                tokens.append(token)
        return tokens

    def words(self, text: str) -> list[str]:
        """The tokens of ``text`` as this tokenizer splits it (its ``lower`` and
        ``split_unspaced``)."""
        return self.split(text, self.lower, self.split_unspaced)

    @classmethod
    def fit(cls, texts: Iterable[str], *, min_freq: int = 1, max_size: int | None = None,
            lower: bool = True, split_unspaced: bool = False) -> WordTokenizer:
        vocab = Vocabulary.build((cls.split(t, lower, split_unspaced) for t in texts),
                                 min_freq=min_freq, max_size=max_size)
        return cls(vocab, lower=lower, split_unspaced=split_unspaced)

    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]:
        ids = self.vocab.encode(self.words(text))
        return [self.vocab.stoi[BOS]] * bos + ids + [self.vocab.stoi[EOS]] * eos

    def decode(self, ids: Iterable[int]) -> str:
        return detokenize(t for t in self.vocab.decode(ids) if t not in (PAD, BOS, EOS))

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "tokens": self.vocab.itos[len(SPECIALS):], "lower": self.lower}
        if self.split_unspaced:
            out["split_unspaced"] = True
        return out


def _characters(token: str) -> list[str]:
    """``token`` with each character of an unspaced script apart (a combining mark stays
    with the character before it); runs of other characters stay together."""
    pieces: list[str] = []
    alone = False  # whether the last piece is an unspaced character
    for char in token:
        if pieces and _is_mark(char):
            pieces[-1] += char
        elif _UNSPACED.match(char):
            pieces.append(char)
            alone = True
        elif pieces and not alone:
            pieces[-1] += char
        else:
            pieces.append(char)
            alone = False
    return pieces


def _joined(text: str) -> list[str]:
    """``_WORD``'s matches, each run together with the matches right after it that belong
    to it (:func:`_continues`)."""
    tokens: list[str] = []
    end = -1
    for m in _WORD.finditer(text):
        if tokens and m.start() == end and _continues(tokens[-1], m.group()):
            tokens[-1] += m.group()
        else:
            tokens.append(m.group())
        end = m.end()
    return tokens


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")  # Mn, Mc, Me: combining marks


def _continues(token: str, nxt: str) -> bool:
    """Whether ``nxt``, written right after ``token``, is part of it (``\\w`` matches no
    combining mark): a combining mark or variation selector (Devanagari vowel signs, Arabic
    harakat, Hebrew niqqud, the emoji selector), the letters after a word's mark (हि|न्दी),
    an emoji's skin tone, a flag's second letter, or what a zero-width joiner joins."""
    first = nxt[0]
    if _is_mark(first) or first == _ZWJ or token.endswith(_ZWJ):
        return True
    if _SKIN_TONES[0] <= first <= _SKIN_TONES[1]:
        return True
    if len(token) == 1 and all(_FLAG_LETTERS[0] <= c <= _FLAG_LETTERS[1] for c in token + first):
        return True
    return _is_mark(token[-1]) and bool(_WORD_CHAR.match(token) and _WORD_CHAR.match(first))


def detokenize(words: Iterable[str]) -> str:
    """Words joined with spaces, then punctuation attached (what ``WordTokenizer.decode``
    does with the tokens of ids)."""
    text = " ".join(words)
    text = re.sub(f" ([{_CLOSING}])", r"\1", text)  # no space before closing punctuation
    text = re.sub(f"([{_OPENING}]) ", r"\1", text)  # nor after opening punctuation
    return re.sub(r"(\b\w+') ", r"\1", text)  # l' homme -> l'homme


def tokenizer_from_dict(d: dict) -> CharTokenizer | WordTokenizer | SubwordTokenizer:
    """Rebuild a tokenizer saved with ``to_dict`` (as stored in model.json)."""
    if d["kind"] == "subword":
        return SubwordTokenizer.from_dict(d)
    vocab = Vocabulary(d["tokens"])
    if d["kind"] == "char":
        return CharTokenizer(vocab)
    if d["kind"] == "word":
        return WordTokenizer(vocab, lower=d.get("lower", True),
                             split_unspaced=d.get("split_unspaced", False))
    raise ValueError(f"unknown tokenizer kind {d['kind']!r}")


def normalize(text: str, lower: bool = False) -> str:
    """What a subword tokenizer reads: Unicode NFC, optionally lower-cased, runs of any
    whitespace (tabs, no-break spaces, ...) as one space, none at the ends."""
    text = unicodedata.normalize("NFC", text)
    return " ".join((text.lower() if lower else text).split())


class SubwordTokenizer:
    """Subword pieces of a sentencepiece model trained on the given texts: byte-pair
    encoding (``model_type = "bpe"``, Sennrich et al. 2016) or a unigram language model
    (``"unigram"``, Kudo 2018).

    Works for any language and script: no word splitting by rules, and a character the
    model never saw is spelt as its UTF-8 bytes (``byte_fallback``), so ``decode(encode(t))
    == normalize(t)`` for every text and nothing becomes ``<unk>``. Ids 0-3 are the four
    specials, as in :class:`Vocabulary`. ``vocab_size`` is an upper bound: a small text gets
    the pieces it supports. The model travels in model.json as base64 of its protobuf
    (the ``text`` extra installs sentencepiece).
    """

    kind = "subword"

    def __init__(self, model: bytes, *, lower: bool = False):
        spm = require("sentencepiece", "text")
        self.model, self.lower = model, lower
        self.sp = spm.SentencePieceProcessor(model_proto=model)
        pieces = [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())]
        if tuple(pieces[:len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a subword model must start with {SPECIALS}, got {pieces[:4]}")
        self.vocab = Vocabulary(pieces[len(SPECIALS):])

    @classmethod
    def fit(cls, texts: Iterable[str], *, vocab_size: int = 8000, lower: bool = False,
            model_type: str = "bpe") -> SubwordTokenizer:
        """Train on ``texts`` (deterministic: one thread, every sentence read);
        ``model_type``: ``unigram`` or ``bpe``."""
        spm = require("sentencepiece", "text")
        lines = [t for t in (normalize(t, lower) for t in texts) if t]
        if not lines:
            raise ValueError("no text to train a subword model on")
        out = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines), model_writer=out, model_type=model_type,
                vocab_size=vocab_size, hard_vocab_limit=False, byte_fallback=True,
                character_coverage=0.9995, normalization_rule_name="identity",
                pad_id=0, unk_id=1, bos_id=2, eos_id=3, pad_piece=PAD, unk_piece=UNK,
                bos_piece=BOS, eos_piece=EOS, num_threads=1, minloglevel=2)
        except RuntimeError as e:
            raise ValueError(f"cannot train a subword model of {vocab_size} pieces on "
                             f"{len(lines)} sentences: {e}") from None
        return cls(out.getvalue(), lower=lower)

    def split(self, text: str, lower: bool | None = None) -> list[str]:
        """The pieces of ``text`` (``lower`` is the tokenizer's own; the argument exists so
        callers treat every tokenizer alike)."""
        return self.sp.encode(normalize(text, self.lower), out_type=str)

    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]:
        ids = self.sp.encode(normalize(text, self.lower))
        return [self.vocab.stoi[BOS]] * bos + ids + [self.vocab.stoi[EOS]] * eos

    def decode(self, ids: Iterable[int]) -> str:
        skip = {self.vocab.stoi[t] for t in (PAD, BOS, EOS)}
        return self.sp.decode([i for i in ids if i not in skip])

    def to_dict(self) -> dict:
        return {"kind": self.kind, "library": "sentencepiece", "lower": self.lower,
                "model": base64.b64encode(self.model).decode("ascii")}

    @classmethod
    def from_dict(cls, d: dict) -> SubwordTokenizer:
        return cls(base64.b64decode(d["model"]), lower=d.get("lower", False))
