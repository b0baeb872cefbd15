"""Timestamps of a series as the tasks use them: its usual step, the times after its end,
the strings a prediction record holds and back, and a time a stream is pushed. Times are
datetime64, or step numbers (int64; float64 where a file's time column has decimals)."""

from __future__ import annotations

import numpy as np

from ...data.times import decimals, parse_iso, step_tolerance
from ..base import TaskError


def same_step(gap, step, t) -> bool:
    """Whether ``gap`` is one ``step`` (up to rounding, for step numbers with decimals
    ``t``)."""
    if np.asarray(gap).dtype.kind == "f":
        return bool(abs(gap - step) <= step_tolerance(step, t))
    return bool(gap == step)


def time_step(timestamps: np.ndarray):
    """The series' usual step (median difference), in its own unit: a timedelta64, or a
    number for step numbers (an integer; a float for step numbers with decimals)."""
    timestamps = np.asarray(timestamps)
    if timestamps.dtype.kind == "f":
        return np.round(np.median(np.diff(timestamps)), decimals(timestamps)) \
            if len(timestamps) > 1 else np.float64(1.0)
    step = 1 if len(timestamps) < 2 else \
        max(int(np.median(np.diff(timestamps).astype(np.int64))), 1)
    if np.issubdtype(timestamps.dtype, np.datetime64):
        return np.timedelta64(step, np.datetime_data(timestamps.dtype)[0])
    return np.int64(step)


def future_times(timestamps: np.ndarray, n: int) -> np.ndarray:
    """``n`` timestamps continuing ``timestamps`` at its usual step (no timestamps: the
    positions 0 .. n - 1)."""
    if not len(timestamps):
        return np.arange(n)
    future = timestamps[-1] + time_step(timestamps) * np.arange(1, n + 1)
    if future.dtype.kind == "f":  # 0.3, not 0.30000000000000004, after 0.1 and 0.2
        return np.round(future, decimals(timestamps))
    return future


def time_labels(timestamps) -> list[str]:
    """Timestamps as a record holds them: ``2020-01-01 00:30:00``, ``1959-01``; integer
    positions (a series without times) as their decimal digits."""
    return [str(t).replace("T", " ") for t in np.asarray(timestamps)]


def parse_times(labels: list[str]) -> np.ndarray:
    """:func:`time_labels` back to ``datetime64``, or to integers where every label is one
    (positions; a yearly series' years, which plot the same), or to floats where every
    label is a number (step numbers with decimals)."""
    if all(s.strip().lstrip("-").isdigit() for s in labels):
        return np.array([int(s) for s in labels])
    try:
        return np.array([float(s) for s in labels])
    except ValueError:
        pass
    return np.array([np.datetime64(s.strip().replace(" ", "T")) for s in labels])


def pushed_time(t, steps: bool = False):
    """A timestamp a stream is pushed (``datetime64``, ``datetime`` or ISO 8601 text), or
    with ``steps`` a step number (int64; float64 for a number with decimals)."""
    if steps and isinstance(t, (int, float, np.integer, np.floating)) and \
            not isinstance(t, (bool, np.bool_)):
        if isinstance(t, (float, np.floating)):
            if not abs(t) < 2**62:
                raise TaskError(f"push: {t!r} is not a step number (finite, within +-2**62)")
            return np.float64(t)
        return np.int64(t)
    try:
        value = parse_iso(t) if isinstance(t, str) else np.datetime64(t)
    except (TypeError, ValueError):
        value = None
    if value is None or np.isnat(value):
        number = ", a step number" if steps else ""
        raise TaskError(f"push: {t!r} is not a time (ISO 8601 text such as '2024-01-31 "
                        f"13:45', a datetime or a numpy datetime64{number})")
    return value
