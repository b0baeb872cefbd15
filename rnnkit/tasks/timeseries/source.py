"""Where a series comes from, shared by the forecasting and anomaly tasks: the config keys
that name it (:class:`SeriesSourceConfig`), reading it, its test range, and timestamps
(future ones, and as the strings a prediction record holds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...data.datasets import DataError
from ...data.timeseries import REPAIRS, SERIES, Series, load_series, read_csv
from ...training.config import TaskConfig
from ..base import TaskError


@dataclass
class SeriesSourceConfig(TaskConfig):
    """The ``[task]`` keys that name a series: a named one (``series``) or a user's CSV
    (``csv``, read with ``time_column``, ``value_column`` and ``repair``). The keys stay flat
    (``task.series``, ``task.csv`` ...); each time-series task sets its own default
    ``series``."""

    series: str = ""  # a named series (rnnkit.data.timeseries.SERIES)
    csv: str = ""  # or a user's CSV file (then set the task's test or training size)
    time_column: str = ""  # CSV columns; "" = the first / second column
    value_column: str = ""
    repair: str = ""  # comma-separated read_csv repairs: sort, drop-duplicates, interpolate ...


@dataclass
class History(Series):
    """A series to forecast from, with the values known to follow it (``future``: shown as
    the truth by plots; never read by the forecast)."""

    future: np.ndarray = field(default_factory=lambda: np.zeros(0))


def parse_repair(text: str) -> list[str]:
    """``"sort, interpolate"`` -> ``["sort", "interpolate"]`` (checked)."""
    repairs = [r.strip() for r in text.split(",") if r.strip()]
    bad = [r for r in repairs if r not in REPAIRS]
    if bad:
        raise TaskError(f"task.repair: unknown repair {bad}; choose from {REPAIRS}")
    return repairs


def load_source(cfg: SeriesSourceConfig) -> Series:
    """The series a task config names: ``csv`` (a user's file, with ``time_column``,
    ``value_column`` and ``repair``) when set, else the named ``series``."""
    try:
        if cfg.csv:
            return read_csv(cfg.csv, cfg.time_column or None, cfg.value_column or None,
                            repair=parse_repair(cfg.repair))
        return load_series(cfg.series)
    except (DataError, OSError) as e:
        raise TaskError(str(e)) from None


def read_input(path: str | Path, cfg: SeriesSourceConfig, repair: str | None = None) -> Series:
    """A user's CSV read with the run's column names and ``repair`` (default: the run's
    ``task.repair``); bad rows give errors naming the row."""
    try:
        return read_csv(path, cfg.time_column or None, cfg.value_column or None,
                        repair=parse_repair(cfg.repair if repair is None else repair))
    except (DataError, OSError) as e:
        raise TaskError(str(e)) from None


def test_points(n: int, size: float, series: str, csv_path: str) -> int:
    """Points in the test range: ``size`` points (>= 1) or a fraction (< 1); 0: the named
    series' standard test range (data README)."""
    if size == 0:
        if csv_path or series not in SERIES:
            raise TaskError("task.test_size must be set for a CSV series")
        size = SERIES[series]
    count = int(size) if size >= 1 else int(np.ceil(n * size))
    if not 0 < count < n:
        raise TaskError(f"a test range of {count} points does not fit a series of {n}")
    return count


def time_step(timestamps: np.ndarray) -> np.timedelta64:
    """The series' usual step (median difference), in its own unit."""
    unit = np.datetime_data(timestamps.dtype)[0]
    if len(timestamps) < 2:
        return np.timedelta64(1, unit)
    step = int(np.median(np.diff(timestamps).astype(np.int64)))
    return np.timedelta64(max(step, 1), unit)


def future_times(timestamps: np.ndarray, n: int) -> np.ndarray:
    """``n`` timestamps continuing ``timestamps`` at its usual step (positions: the next
    ``n`` positions)."""
    if not np.issubdtype(np.asarray(timestamps).dtype, np.datetime64):
        return len(timestamps) + np.arange(n)
    return timestamps[-1] + time_step(timestamps) * np.arange(1, n + 1)


def time_labels(timestamps) -> list[str]:
    """Timestamps as a record holds them: ``2020-01-01 00:30:00``, ``1959-01``; integer
    positions (a series without times) as their decimal digits."""
    return [str(t).replace("T", " ") for t in np.asarray(timestamps)]


def parse_times(labels: list[str]) -> np.ndarray:
    """:func:`time_labels` back to ``datetime64``, or to integers where every label is one
    (positions; a yearly series' years, which plot the same)."""
    if all(s.strip().lstrip("-").isdigit() for s in labels):
        return np.array([int(s) for s in labels])
    return np.array([np.datetime64(s.strip().replace(" ", "T")) for s in labels])


def as_series(data, what: str) -> Series:
    """A :class:`Series` as it is, or values alone (any sequence of numbers) as a series
    whose timestamps are the positions 0, 1, ... ."""
    if isinstance(data, Series):
        return data
    try:
        values = np.asarray(data, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise TaskError(f"{what}: not a sequence of numbers ({e})") from None
    if not np.isfinite(values).all():
        raise TaskError(f"{what}: holds NaN or infinite values")
    return Series(np.arange(len(values)), values)
