"""Character and word tokenizers, saved as plain dicts inside a checkpoint's model.json."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)  # ids 0, 1, 2, 3 in every vocabulary

# words, numbers with inner apostrophes/hyphens (aujourd'hui, c'est -> c' est), punctuation
_WORD = re.compile(r"\w+(?:[-’']\w+)*|[^\w\s]", re.UNICODE)
_ELISION = re.compile(r"^([cdjlmnst]|qu|jusqu|lorsqu|puisqu)['’](\w)", re.IGNORECASE)


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
    apostrophes to ``'``. ``decode`` re-joins tokens with spaces, then attaches punctuation.
    """

    kind = "word"

    def __init__(self, vocab: Vocabulary, *, lower: bool = True):
        self.vocab, self.lower = vocab, lower

    @staticmethod
    def split(text: str, lower: bool = True) -> list[str]:
        text = unicodedata.normalize("NFC", text).replace("’", "'")
        if lower:
            text = text.lower()
        tokens = []
        for token in _WORD.findall(text):
            m = _ELISION.match(token)
            if m:
                tokens += [token[: m.end(1) + 1], token[m.end(1) + 1 :]]
            else:
                tokens.append(token)
        return tokens

    @classmethod
    def fit(cls, texts: Iterable[str], *, min_freq: int = 1, max_size: int | None = None,
            lower: bool = True) -> WordTokenizer:
        vocab = Vocabulary.build((cls.split(t, lower) for t in texts), min_freq=min_freq,
                                 max_size=max_size)
        return cls(vocab, lower=lower)

    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]:
        ids = self.vocab.encode(self.split(text, self.lower))
        return [self.vocab.stoi[BOS]] * bos + ids + [self.vocab.stoi[EOS]] * eos

    def decode(self, ids: Iterable[int]) -> str:
        return detokenize(t for t in self.vocab.decode(ids) if t not in (PAD, BOS, EOS))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "tokens": self.vocab.itos[len(SPECIALS):],
                "lower": self.lower}


def detokenize(words: Iterable[str]) -> str:
    """Words joined with spaces, then punctuation attached (what ``WordTokenizer.decode``
    does with the tokens of ids)."""
    text = " ".join(words)
    text = re.sub(r" ([.,!?;:)\]}])", r"\1", text)  # no space before closing punctuation
    text = re.sub(r"([(\[{]) ", r"\1", text)
    return re.sub(r"(\b\w+') ", r"\1", text)  # l' homme -> l'homme


def tokenizer_from_dict(d: dict) -> CharTokenizer | WordTokenizer:
    """Rebuild a tokenizer saved with ``to_dict`` (as stored in model.json)."""
    vocab = Vocabulary(d["tokens"])
    if d["kind"] == "char":
        return CharTokenizer(vocab)
    if d["kind"] == "word":
        return WordTokenizer(vocab, lower=d.get("lower", True))
    raise ValueError(f"unknown tokenizer kind {d['kind']!r}")
