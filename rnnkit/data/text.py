"""The text data sets, split as their READMEs prescribe."""

from __future__ import annotations

import random
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .datasets import DataError, fetch


def load_shakespeare(root: Path | None = None) -> tuple[str, str]:
    """Tiny Shakespeare with nanoGPT's split: first 90% of characters train, last 10% val."""
    (path,) = fetch("shakespeare", root=root)
    text = path.read_text(encoding="utf-8")
    cut = int(len(text) * 0.9)
    return text[:cut], text[cut:]


@dataclass
class Labelled:
    text: str
    label: int  # 1 positive, 0 negative


def load_rt_polarity(root: Path | None = None) -> list[Labelled]:
    """The 10,662 sentences of sentence polarity v1.0 (Latin-1; lines split on \\n only,
    because byte 0x85 is an ellipsis there, not a line break)."""
    pos, neg = fetch("rt-polarity", root=root)
    items = []
    for path, label in ((pos, 1), (neg, 0)):
        lines = path.read_bytes().decode("latin-1").split("\n")
        lines = [s.strip() for s in lines if s.strip()]
        if len(lines) != 5331:
            raise DataError(f"{path}: expected 5,331 sentences, found {len(lines)}")
        items += [Labelled(s, label) for s in lines]
    return items


def split_rt_polarity(items: list[Labelled], *, seed: int = 0, test_fraction: float = 0.1,
                      folds: int | None = None, fold: int = 0):
    """A fixed seeded 90/10 split, or fold ``fold`` of ``folds``-fold cross-validation.

    Returns (train, test) lists; the shuffle depends only on ``seed``.
    """
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    if folds:
        if not 0 <= fold < folds:
            raise ValueError(f"fold must be in [0, {folds}), got {fold}")
        test_idx = set(order[fold::folds])
    else:
        test_idx = set(order[: int(round(len(items) * test_fraction))])
    train = [items[i] for i in order if i not in test_idx]
    test = [items[i] for i in order if i in test_idx]
    return train, test


@dataclass
class ParallelText:
    """Sentence pairs read from a TSV parallel corpus, with the file line of each pair and
    the blank lines skipped."""

    path: Path
    pairs: list[tuple[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)

    def note(self) -> str:
        """What was skipped, for the user ("" when nothing was)."""
        if not self.skipped:
            return ""
        shown = ", ".join(map(str, self.skipped[:10])) + (" ..." if len(self.skipped) > 10
                                                          else "")
        return f"{self.path}: skipped {len(self.skipped)} blank line(s) (line {shown})"


ARCHIVES = {b"PK\x03\x04": "a zip archive", b"\x1f\x8b": "gzip-compressed",
            b"\xfd7zXZ\x00": "xz-compressed", b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive"}


def not_text(raw: bytes) -> str:
    """What the first bytes of a file say it is when it is an archive, not text: "a zip
    archive, not a text file: extract ..."; "" otherwise."""
    kind = next((kind for magic, kind in ARCHIVES.items() if raw.startswith(magic)), "")
    return f"{kind}, not a text file: extract the text file it holds and name that" if kind else ""


def read_parallel(path: str | Path, *, reverse: bool = False) -> ParallelText:
    """``source<TAB>target[<TAB>ignored...]`` lines (the Tatoeba/Anki layout), UTF-8, no
    header, ending with LF, CRLF or CR; ``reverse`` swaps the two columns. Sentences are
    stripped and put in Unicode NFC (a sentence written composed and decomposed is one).
    Blank lines are skipped and listed; a line without a tab, with an empty side, or with
    bytes that are not UTF-8 is a :class:`DataError` naming the file and line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    if not_text(raw):
        raise DataError(f"{path}: {not_text(raw)}")
    out = ParallelText(path)
    # a line ends with LF, CRLF, or CR alone (Excel for Mac's "Tab Delimited Text")
    lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    for n, line in enumerate(lines, 1):
        # a UTF-8 byte-order mark: the file's, or another's where files were concatenated
        line = line.removeprefix(b"\xef\xbb\xbf")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{path}:{n}: not valid UTF-8 (byte {line[e.start]:#04x} at "
                            f"column {e.start + 1}); save the file as UTF-8") from None
        if not text.strip():
            if n < len(lines):  # not the end of the last line
                out.skipped.append(n)
            continue
        parts = text.split("\t")
        if len(parts) < 2:
            raise DataError(f"{path}:{n}: no tab; expected 'source<TAB>target', got "
                            f"{text[:60]!r}")
        source, target = (unicodedata.normalize("NFC", part.strip()) for part in parts[:2])
        for side, value in (("source (column 1)", source), ("target (column 2)", target)):
            if not value:
                raise DataError(f"{path}:{n}: empty {side}; every line needs a sentence on "
                                "both sides of the tab")
        out.pairs.append((target, source) if reverse else (source, target))
        out.lines.append(n)
    if not out.pairs:
        raise DataError(f"{path}: no sentence pairs")
    return out


def load_eng_fra(root: Path | None = None) -> list[tuple[str, str]]:
    """English -> French pairs (tab-separated lines)."""
    (path,) = fetch("eng-fra", root=root)
    return read_parallel(path).pairs


def split_by_source(pairs: list[tuple[str, str]], held_out: int, seed: int = 0):
    """Hold out ``held_out`` source sentences (seeded) with *all* their targets.

    Returns (train_pairs, held) where held is a list of (source, [every target]) sorted by
    source; no held-out source appears in training.
    """
    refs: dict[str, list[str]] = defaultdict(list)
    for src, tgt in pairs:
        refs[src].append(tgt)
    sources = sorted(refs)
    random.Random(seed).shuffle(sources)
    held = set(sources[:held_out])
    train = [(src, tgt) for src, tgt in pairs if src not in held]
    return train, [(src, refs[src]) for src in sorted(held)]


def split_eng_fra(pairs: list[tuple[str, str]], *, test_sources: int = 2000, seed: int = 0):
    """Hold out ``test_sources`` English sentences with *all* their French translations
    (:func:`split_by_source`): (train_pairs, [(english, [french references])])."""
    return split_by_source(pairs, test_sources, seed)
