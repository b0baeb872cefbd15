"""What the forecasting and anomaly tasks share: where a series comes from, split data that
carries its context to ``extra_metrics``, future timestamps and CSV output."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..data.datasets import DataError
from ..data.timeseries import REPAIRS, SERIES, Series, load_series, read_csv
from .base import TaskError


def parse_repair(text: str) -> list[str]:
    """``"sort, interpolate"`` -> ``["sort", "interpolate"]`` (checked)."""
    repairs = [r.strip() for r in text.split(",") if r.strip()]
    bad = [r for r in repairs if r not in REPAIRS]
    if bad:
        raise TaskError(f"task.repair: unknown repair {bad}; choose from {REPAIRS}")
    return repairs


def load_source(cfg) -> Series:
    """The series a task config names: ``csv`` (a user's file, with ``time_column``,
    ``value_column`` and ``repair``) when set, else the named ``series``."""
    try:
        if cfg.csv:
            return read_csv(cfg.csv, cfg.time_column or None, cfg.value_column or None,
                            repair=parse_repair(cfg.repair))
        return load_series(cfg.series)
    except (DataError, OSError) as e:
        raise TaskError(str(e)) from None


def read_input(path: str | Path, cfg, repair: str | None = None) -> Series:
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


class SplitData(dict):
    """A split's tensors (what the trainer reads) plus ``context``: what ``extra_metrics``
    needs to score the split in the series' original units."""

    def __init__(self, tensors: dict, context: Any = None, split: str = ""):
        super().__init__(tensors)
        self.context, self.split = context, split


class Figures(dict):
    """Nested figures (``"baselines"``): JSON as a dict; formatted (``f"{v:.4g}"`` in
    generic tables and CLI lines) as a one-line summary instead of failing."""

    def __format__(self, spec: str) -> str:
        parts = []
        for name, value in self.items():
            if isinstance(value, dict):
                inner = " ".join(f"{k} {v:.4g}" for k, v in value.items()
                                 if isinstance(v, (int, float)))
                parts.append(f"{name}: {inner}")
            else:
                parts.append(f"{name} {value:.4g}")
        return "; ".join(parts)


def time_step(timestamps: np.ndarray) -> np.timedelta64:
    """The series' usual step (median difference), in its own unit."""
    unit = np.datetime_data(timestamps.dtype)[0]
    if len(timestamps) < 2:
        return np.timedelta64(1, unit)
    step = int(np.median(np.diff(timestamps).astype(np.int64)))
    return np.timedelta64(max(step, 1), unit)


def future_times(timestamps: np.ndarray, n: int) -> np.ndarray:
    """``n`` timestamps continuing ``timestamps`` at its usual step."""
    return timestamps[-1] + time_step(timestamps) * np.arange(1, n + 1)


def write_csv(path: str | Path | None, columns: dict[str, Any]) -> Path | None:
    """Columns of equal length -> CSV with a header, to ``path`` (None: stdout)."""
    names = list(columns)
    rows = [[_cell(v) for v in row] for row in zip(*(columns[k] for k in names))]
    if path is None:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(names)
        w.writerows(rows)
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        w.writerows(rows)
    return path


def _cell(v) -> str:
    if isinstance(v, np.datetime64):
        return str(v).replace("T", " ")
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def pyplot():
    """matplotlib.pyplot on the Agg backend, or a clear error."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise TaskError("plots need matplotlib: pip install 'rnnkit[all]'") from None
    return plt
