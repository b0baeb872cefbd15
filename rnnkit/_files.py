"""What the files a run writes share: an error that names the file, strict JSON."""

from __future__ import annotations

import contextlib
import math
import os

import numpy as np


@contextlib.contextmanager
def naming(path: str | os.PathLike):
    """An :class:`OSError` raised inside that names no file (``write`` on a full disk:
    ``[Errno 28] No space left on device``) names ``path``: the user learns which file of
    the run could not be written, and where."""
    try:
        yield
    except OSError as e:
        if e.filename is None and e.errno is not None and e.strerror is not None:
            e.filename = str(path)
        raise


def strict(value):
    """``value`` (nested dicts, lists, tuples) with each NaN or infinite float made None:
    what strict JSON (RFC 8259, ``JSON.parse``) reads as null, where Python's ``json``
    would write the ``NaN``/``Infinity`` that other readers reject. Used by ``--json``
    outputs and the lines of ``metrics.jsonl``."""
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value
