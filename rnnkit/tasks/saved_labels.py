"""A trained run's class names read back from its model.json (``Context.saved``) when
evaluate or ``train --resume`` reads its data again: the class order is the run's (the
outputs its model learnt), not one fitted again from data or by rules changed since. An
example of a class the run was not trained on (one added to the data since) has no output
to score or train, so it is left out, with a warning that counts and names them.

    labels = saved_labels(ctx.saved)                        # None: fit them (older runs)
    parts = known_classes(parts, labels, label_of, "texts") # {split: [items]} filtered
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def saved_labels(saved: dict[str, Any]) -> list[str] | None:
    """The class names a run saved (``labels`` in its model.json), or None (none saved:
    a run of an older version, or a context that serves no trained run)."""
    labels = saved.get("labels")
    return None if labels is None else [str(name) for name in labels]


def known_classes(parts: dict[str, list[T]], labels: list[str], label_of: Callable[[T], str],
                  what: str) -> dict[str, list[T]]:
    """``parts`` ({split: items}) without the items whose label (``label_of``) is not one
    of ``labels``, each part's left out counted in a warning (``what``: the items' name)."""
    known = set(labels)
    out = {}
    for split, items in parts.items():
        kept = [item for item in items if label_of(item) in known]
        if len(kept) < len(items):
            new = sorted({label_of(item) for item in items} - known)
            shown = f"{new}" if len(new) <= 10 else f"{new[:10]} ... ({len(new)} in all)"
            warnings.warn(f"the {split} part has {len(items) - len(kept)} {what} of class(es) "
                          f"{shown} that the run was not trained on (the data changed since?): "
                          "left out, as the model has no output for them", stacklevel=3)
        out[split] = kept
    return out
