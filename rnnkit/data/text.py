"""The text data sets, split as their READMEs prescribe."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
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


def load_eng_fra(root: Path | None = None) -> list[tuple[str, str]]:
    """English -> French pairs (tab-separated lines)."""
    (path,) = fetch("eng-fra", root=root)
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise DataError(f"{path}:{n}: expected 'english<TAB>french', got {line[:60]!r}")
        pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


def split_eng_fra(pairs: list[tuple[str, str]], *, test_sources: int = 2000, seed: int = 0):
    """Hold out ``test_sources`` English sentences with *all* their French translations.

    Returns (train_pairs, test) where test is a list of (english, [french references]);
    no English sentence of the test set appears in training.
    """
    refs: dict[str, list[str]] = defaultdict(list)
    for en, fr in pairs:
        refs[en].append(fr)
    sources = sorted(refs)
    random.Random(seed).shuffle(sources)
    held = set(sources[:test_sources])
    train = [(en, fr) for en, fr in pairs if en not in held]
    test = [(en, refs[en]) for en in sorted(held)]
    return train, test
