"""The record every reader of :mod:`rnnkit.data.sequences` returns: one numeric sequence
with its label and where it was read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sequence:
    """One sequence: ``x`` (T, F) float64, its ``label`` (str or None), ``where`` it was
    read (``file:line``, ``file:line: id ...``, ``file: X[i]``) and the names of its
    ``features`` where the file gives them (a table's columns)."""

    x: np.ndarray
    label: str | None
    where: str
    features: tuple[str, ...] | None = None
