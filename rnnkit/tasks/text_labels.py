"""The class names of a text classification run, checked as a user's files come: a label
that the validation or test part has and training lacks is an error naming the file, its
lines, the training part's classes and the way out (a label written differently from a
training class, a split that left a class out of training, a class training lacks); training
labels that differ only in case, spaces or how a number is written are named in a warning,
and so are test texts that training also has (:func:`repeated_texts_warning`).
"""

from __future__ import annotations

import ast
import math
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import TaskError

# rows of a file as (text, label, file line), and a note on what was skipped
ReadRows = Callable[[Path], tuple[list[tuple[str, str, int]], str]]


def spelling(label: str) -> str:
    """What two spellings of one class share: no case, no surrounding spaces, a number as
    its value (``4``, ``4.0``, ``+4`` alike)."""
    try:
        value = float(label)
    except ValueError:
        return label.strip().casefold()
    return repr(value) if math.isfinite(value) else label.strip().casefold()


def respelled_classes_warning(cfg: Any, labels: list[str]) -> None:
    """Warn when training labels differ only as :func:`spelling` ignores (``Positive`` and
    ``positive``, ``4`` and ``4.0``): they stay apart, as written, but are named."""
    counts = Counter(labels)
    groups: dict[str, list[str]] = {}
    for name in sorted(counts):
        groups.setdefault(spelling(name), []).append(name)
    alike = [names for names in groups.values() if len(names) > 1]
    if not alike:
        return
    listed = "; ".join(" and ".join(f"{n!r} ({counts[n]} text{'s' * (counts[n] > 1)})"
                                    for n in names) for names in alike)
    warnings.warn(f"{cfg.train_data or cfg.data}: labels written differently are different "
                  f"classes: {listed}; if each group is one class, write its labels alike",
                  stacklevel=4)  # (the code reading ctx.labels)


def _shown(names: list[str], limit: int = 20) -> str:
    return f"{names}" if len(names) <= limit else f"{names[:limit]} ... ({len(names)} in all)"


def unseen_labels_error(cfg: Any, split: str, unseen: list[str], names: list[str],
                        read: ReadRows) -> TaskError:
    """The error for labels of ``split`` (``val``/``test``) that training lacks; the file
    the part came from is read again (by ``read``) for their lines."""
    own = getattr(cfg, f"{split}_data")
    from_training = not own  # the part was split off the file training reads
    path = Path(own or cfg.data or cfg.train_data)
    lines: dict[str, list[int]] = {}
    for _, label, line in read(path)[0]:
        if label in unseen:
            lines.setdefault(label, []).append(line)
    where = "; ".join(f"{label!r}: line {', '.join(map(str, found[:5]))}"
                      + (f" ... ({len(found)})" if len(found) > 5 else "")
                      for label, found in sorted(lines.items(), key=lambda kv: kv[1][0]))
    first = min((found[0] for found in lines.values()), default=None)
    at = f"{path}:{first}" if first else f"{path}"
    training = {spelling(name): name for name in names}
    respelled = {u: training[spelling(u)] for u in unseen if spelling(u) in training}
    advice = []
    if respelled:
        advice.append("; ".join(f"{u!r} is the training class {t!r} written differently"
                                for u, t in respelled.items())
                      + ": write each label as the training file does")
    if len(respelled) < len(unseen):
        advice.append("the split put every text of the class(es) outside the training part: "
                      "give more texts of them, or try another task.split_seed"
                      if from_training else "give training texts of every class, or leave "
                      f"these rows out of the {split} part")
    return TaskError(f"{at}: the {split} part has label(s) {unseen} that no training text has"
                     f"{f' ({where})' if where else ''}; the training part's classes are "
                     f"{_shown(names)}: " + "; ".join(advice))


def repeated_texts_warning(rows: dict[str, list[tuple[str, str]]]) -> None:
    """Warn when test texts are also training texts (the same words, as the word tokenizer
    reads them: case, runs of spaces and Unicode composition ignored)."""
    def key(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).casefold().split())

    seen = {key(text) for text, _ in rows["train"]}
    repeats = [text for text, _ in rows["test"] if key(text) in seen]
    if repeats:
        first = repeats[0] if len(repeats[0]) <= 60 else repeats[0][:57] + "..."
        warnings.warn(f"{len(repeats)} of the {len(rows['test'])} test texts are also "
                      "training texts (the same words, ignoring case and spaces; first: "
                      f"{first!r}): the test figures overstate how the model does on new "
                      "text; leave the repeats out of the test part", stacklevel=4)



def is_label_list(label: str) -> bool:
    """Whether ``label`` is a list (``[3, 27]``: a JSON-lines row's list; ``['a', 'b']``: a
    multi-label column pandas wrote to a CSV as Python writes lists)."""
    if not (label.startswith("[") and label.endswith("]")):
        return False
    try:
        return isinstance(ast.literal_eval(label), list)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return False
