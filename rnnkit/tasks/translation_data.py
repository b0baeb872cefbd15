"""Translation's data: a parallel corpus read and split by source sentence, the
tokenizers fitted on its training part (the config keys are
:class:`~rnnkit.tasks.translation.TranslationConfig`'s), and the files a predictor
translates (:func:`read_inputs`)."""

from __future__ import annotations

import warnings
from pathlib import Path

from ..data.datasets import DataError
from ..data.text import load_eng_fra, read_parallel, split_by_source
from ..data.tokenizers import SubwordTokenizer, WordTokenizer
from .base import TaskError
from .datafiles import uses_own_data
from .text_common import TextLine, read_lines

HELD_OUT = ("val", "test")
ENG_FRA_HELD_OUT = {"test": 2000, "val": 500}  # eng-fra's test and validation sources
Tokenizer = WordTokenizer | SubwordTokenizer
Pairs = list[tuple[str, str]]
Held = list[tuple[str, list[str]]]  # (source, every reference)
UNSPACED_SCRIPTS = (  # code point ranges of scripts written without spaces between words
    (0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF),  # Thai and Lao, Myanmar, Khmer
    (0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F),  # Japanese kana
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x323AF))  # Han


def read_pairs(path: str | Path, reverse: bool) -> Pairs:
    """The pairs of a TSV parallel corpus (blank lines skipped with a warning)."""
    try:
        text = read_parallel(path, reverse=reverse)
    except DataError as e:
        raise TaskError(str(e)) from None
    if text.note():
        warnings.warn(text.note(), stacklevel=2)
    return text.pairs


def grouped(pairs: Pairs) -> Held:
    """(source, [every target]) per distinct source, in order of first appearance."""
    refs: dict[str, list[str]] = {}
    for src, tgt in pairs:
        refs.setdefault(src, []).append(tgt)
    return list(refs.items())


def split_pairs(cfg) -> dict[str, list]:
    """``train``: (source, target) pairs; ``val``/``test``: (source, [every reference]) per
    held-out source (deterministic given ``split_seed``)."""
    builtin = not uses_own_data(cfg)
    val: Held | None = None
    if cfg.train_data:
        train = read_pairs(cfg.train_data, cfg.reverse)
        test = grouped(read_pairs(cfg.test_data, cfg.reverse))
        if cfg.val_data:
            val = grouped(read_pairs(cfg.val_data, cfg.reverse))
    else:
        if builtin:
            whole = [(b, a) if cfg.reverse else (a, b) for a, b in load_eng_fra()]
        else:
            whole = read_pairs(cfg.data, cfg.reverse)
        n = cfg.test_sources or (ENG_FRA_HELD_OUT["test"] if builtin else
                                 held_out_count(cfg, "test", whole))
        train, test = split_by_source(whole, n, cfg.split_seed)
    if val is None:
        n = cfg.val_sources or (ENG_FRA_HELD_OUT["val"] if builtin else
                                held_out_count(cfg, "val", train))
        train, val = split_by_source(train, n, cfg.split_seed + 1)
    out = {"train": train, "val": val, "test": test}
    for split, items in out.items():
        if not items:
            raise TaskError(f"the {split} part holds no sentence pairs: give more data, or "
                            "lower task.test_sources / task.val_sources (fractions: "
                            "task.test_fraction / task.val_fraction)")
    if not builtin:
        for note in script_notes(cfg, train):
            warnings.warn(note, stacklevel=2)
    trained = {s for s, _ in train}
    for split in HELD_OUT:
        leaked = sum(s in trained for s, _ in out[split])
        if leaked:
            warnings.warn(f"{leaked} of the {len(out[split])} {split} sources also appear in "
                          "task.train_data: their scores are not those of unseen sentences",
                          stacklevel=2)
    return out


def held_out_count(cfg, split: str, pairs: Pairs) -> int:
    """``task.<split>_fraction`` of the distinct sources of ``pairs``, rounded (a
    :class:`TaskError` when that is none of some)."""
    sources = len({s for s, _ in pairs})
    fraction = getattr(cfg, f"{split}_fraction")
    n = round(fraction * sources)
    if sources and not n:
        raise TaskError(f"the {split} part holds no sentence pairs: task.{split}_fraction = "
                        f"{fraction} of the {sources} distinct sources rounds to none; give "
                        f"more data, raise task.{split}_fraction or set task.{split}_sources")
    return n


def unspaced(texts: list[str]) -> bool:
    """Whether most letters of ``texts`` (the first 2,000) are of scripts written without
    spaces between words: Chinese, Japanese, Thai, Lao, Khmer, Myanmar."""
    letters = found = 0
    for text in texts[:2000]:
        for char in text:
            if char.isalpha():
                letters += 1
                found += any(lo <= ord(char) <= hi for lo, hi in UNSPACED_SCRIPTS)
    return 2 * found > letters


def script_notes(cfg, train: Pairs) -> list[str]:
    """Warnings for a side written without spaces between words: word tokens would be whole
    phrases, and BLEU's 13a (or intl, none) tokens whole sentences (BLEU 0 however good)."""
    notes = []
    sides = {"source": [s for s, _ in train], "target": [t for _, t in train]}
    for side, texts in sides.items():
        if cfg.tokenizer == "word" and unspaced(texts):
            notes.append(f"the {side} sentences are written without spaces between words (e.g. "
                         f"{texts[0]!r}): task.tokenizer = 'word' makes each phrase one token; "
                         "set task.tokenizer = 'subword'")
    if cfg.bleu_tokenize not in ("zh", "char") and unspaced(sides["target"]):
        notes.append("the target sentences are written without spaces between words: "
                     f"task.bleu_tokenize = {cfg.bleu_tokenize!r} reads each as about one word, "
                     "so BLEU is 0 even for exact translations; set task.bleu_tokenize = 'zh' "
                     "(Chinese) or 'char' (Japanese, Thai, ...)")
    return notes


def fit_tokenizer(cfg, texts: list[str], lower: bool) -> Tokenizer:
    """The tokenizer ``task.tokenizer`` names, fitted on ``texts`` (one language)."""
    if cfg.tokenizer == "word":
        return WordTokenizer.fit(texts, min_freq=cfg.min_freq, max_size=cfg.max_vocab or None,
                                 lower=lower)
    try:
        return SubwordTokenizer.fit(texts, vocab_size=cfg.vocab_size, lower=lower,
                                    model_type=cfg.subword_model)
    except ValueError as e:
        raise TaskError(f"task.vocab_size = {cfg.vocab_size}: {e}") from None


def read_inputs(path: str | Path, reverse: bool) -> list[TextLine]:
    """What ``predict_file`` translates. A file without a tab: a sentence a line
    (:func:`~rnnkit.tasks.text_common.read_lines`; ``-`` = stdin; a blank line is an input
    that gets an ``error`` record). A file with a tab on any line is in the training layout,
    ``source<TAB>target[<TAB>ignored...]`` (columns swapped by ``reverse``; the number of
    ignored columns may vary): one input per pair, its source (stripped) translated and its
    target kept as the line's ``reference``; blank lines are skipped with one warning naming
    them; a line without a tab, or with an empty source or target, is a
    :class:`TaskError` naming the file and line."""
    lines = read_lines(str(path))
    tabbed = next((n for n, line in enumerate(lines, 1) if "\t" in line.text), 0)
    if not tabbed:
        return lines
    where = "<stdin>" if str(path) == "-" else path
    columns = {"source": 2, "target": 1} if reverse else {"source": 1, "target": 2}
    out, blank = [], []
    for n, line in enumerate(lines, 1):
        if not line.text.strip():
            blank.append(n)
            continue
        if "\t" not in line.text:
            raise TaskError(f"{where}:{n}: no tab, but line {tabbed} has one: a file with "
                            "references needs 'source<TAB>target' on every line (give the "
                            "sources alone, one a line, to translate without references)")
        first, second = (part.strip() for part in line.text.split("\t")[:2])
        source, target = (second, first) if reverse else (first, second)
        for side, value in (("source", source), ("target", target)):
            if not value:
                raise TaskError(f"{where}:{n}: empty {side} (column {columns[side]}); every "
                                "line of a file with references needs a sentence on both "
                                "sides of the tab")
        out.append(TextLine(source, line.problem, target))
    if blank:
        shown = ", ".join(map(str, blank[:10])) + (" ..." if len(blank) > 10 else "")
        warnings.warn(f"{where}: skipped {len(blank)} blank line(s) (line {shown})",
                      stacklevel=3)
    return out
