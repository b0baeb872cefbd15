"""A classifier's figures beyond accuracy: precision, recall and F1 of each class and
their macro average, which guessing the most common class cannot fake on imbalanced data.

    counts = confusion(true, predicted, len(labels))   # (C, C): rows true, columns predicted
    macro_f1(counts)                                   # as scikit-learn's f1_score(average="macro")
    per_class_lines(counts, labels)                    # a markdown table for report.md

Precision of a class never predicted, and recall of a class never true, count as 0 where
they enter the average (scikit-learn's ``zero_division=0``); the macro average is over
the classes that are true or predicted at least once (scikit-learn's default labels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion(true: Sequence[int], predicted: Sequence[int], classes: int) -> np.ndarray:
    """Counts (C, C) of (true class, predicted class)."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(true, dtype=np.int64), np.asarray(predicted, dtype=np.int64)),
              1)
    return counts


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)


def per_class(counts: np.ndarray) -> dict[str, np.ndarray]:
    """``precision``, ``recall``, ``f1`` (C,) and ``support`` (true count), ``predicted``."""
    hits = np.diag(counts).astype(float)
    support, predicted = counts.sum(1), counts.sum(0)
    precision, recall = _ratio(hits, predicted), _ratio(hits, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support,
            "predicted": predicted}


def macro_f1(counts: np.ndarray) -> float:
    """The mean F1 over the classes that are true or predicted at least once."""
    figures = per_class(counts)
    seen = (figures["support"] + figures["predicted"]) > 0
    return float(figures["f1"][seen].mean()) if seen.any() else 0.0


def per_class_lines(counts: np.ndarray, labels: Sequence[str], split: str = "test") -> list[str]:
    """Markdown: a row a class (precision, recall, F1, how many ``split`` texts have it);
    ``-`` where the class is neither true nor predicted in ``split``."""
    figures = per_class(counts)
    lines = [f"## {split.capitalize()} figures per class (macro-F1 {macro_f1(counts):.3f})", "",
             f"| class | precision | recall | F1 | {split} texts |", "|---|---|---|---|---|"]
    for c, name in enumerate(labels):
        name = str(name).replace("|", "\\|")
        n = int(figures["support"][c])
        if n + int(figures["predicted"][c]) == 0:
            lines.append(f"| {name} | - | - | - | 0 |")
            continue
        p, r, f = (figures[k][c] for k in ("precision", "recall", "f1"))
        lines.append(f"| {name} | {p:.3f} | {r:.3f} | {f:.3f} | {n} |")
    return lines
