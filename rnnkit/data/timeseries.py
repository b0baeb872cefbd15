"""Time series: CSV reading with clear errors, scaling, seasonal differencing, windows.

Everything fitted (scaler statistics) is fitted on the training range only and saved with
the checkpoint (``to_dict``), so predictions come back in the original units.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import DataError, fetch

# named series: (data set, test range: an int count of points or a float fraction)
SERIES = {
    "airline-passengers": 24,
    "daily-min-temperatures": 365,
    "monthly-sunspots": 0.1,
    "nyc_taxi": 0.1,
    "machine_temperature_system_failure": 0.1,
    "ambient_temperature_system_failure": 0.1,
}
REPAIRS = ("sort", "drop-duplicates", "interpolate", "ignore-gaps", "keep-order")


@dataclass
class Series:
    timestamps: np.ndarray  # datetime64, increasing
    values: np.ndarray  # float64 (N,)
    name: str = "series"

    def __len__(self) -> int:
        return len(self.values)

    def split(self, test: int | float) -> int:
        """Index where the test range starts: the last ``test`` points (or fraction)."""
        n = test if isinstance(test, int) else int(math.ceil(len(self) * test))
        if not 0 < n < len(self):
            raise ValueError(f"test range of {n} points does not fit a series of {len(self)}")
        return len(self) - n


def load_series(name: str, root: Path | None = None) -> Series:
    """A named series, read as published: the temperature file misses two leap-year
    31 Decembers, NAB's files have gaps and (machine temperature, row 10151) a clock that
    steps back; their points are taken in file order as consecutive steps, as NAB scores
    them (``repair=["ignore-gaps", "keep-order"]``)."""
    if name not in SERIES:
        raise DataError(f"unknown series {name!r}; known: {sorted(SERIES)}")
    (path,) = fetch(name, root=root)
    series = read_csv(path, repair=["ignore-gaps", "keep-order"])
    series.name = name
    return series


def _parse_time(text: str) -> np.datetime64:
    return np.datetime64(text.strip().replace(" ", "T").rstrip("Z"))


def read_csv(path, time_column: str | None = None, value_column: str | None = None,
             repair: list[str] | tuple[str, ...] = ()) -> Series:
    """Read ``time_column,value_column`` from a CSV (default: the first two columns).

    Errors name the row (1 = the header): missing column, unparsable time, non-numeric or
    missing value, unsorted or duplicated timestamps, gaps in a regular series. ``repair``
    asks instead for: ``sort``, ``drop-duplicates`` (keep the first), ``interpolate`` (fill
    missing values and gaps linearly), ``ignore-gaps`` (treat points as consecutive),
    ``keep-order`` (take rows in file order, unchecked).
    """
    bad = [r for r in repair if r not in REPAIRS]
    if bad:
        raise ValueError(f"unknown repair {bad}; choose from {REPAIRS}")
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise DataError(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0]]
    tcol = _column(path, header, time_column, 0, "time")
    vcol = _column(path, header, value_column, 1, "value")
    times, values = [], []
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            times.append(_parse_time(row[tcol]))
        except (ValueError, IndexError):
            raise DataError(f"{path}:{n}: cannot read a time from {row!r}") from None
        try:
            values.append(float(row[vcol]) if row[vcol].strip() else math.nan)
        except (ValueError, IndexError):
            raise DataError(
                f"{path}:{n}: value {row[vcol] if vcol < len(row) else ''!r} in column "
                f"{header[vcol]!r} is not a number"
            ) from None
    t, v = np.array(times), np.array(values, dtype=np.float64)
    if "keep-order" not in repair:
        t, v = _check_order(path, t, v, repair)
        t, v = _check_gaps(path, t, v, repair)
    if np.isnan(v).any():
        if "interpolate" not in repair:
            raise DataError(f"{path}:{int(np.isnan(v).argmax()) + 2}: missing value; "
                            "pass repair=['interpolate'] (--repair interpolate) to fill it")
        v = _interpolate(v)
    return Series(t, v, name=path.stem)


def _column(path, header, name, default, what) -> int:
    if name is None:
        if len(header) <= default:
            raise DataError(f"{path}: needs at least 2 columns (time, value), got {header}")
        return default
    if name not in header:
        raise DataError(f"{path}: no {what} column {name!r}; the columns are {header}")
    return header.index(name)


def _check_order(path, t, v, repair):
    diffs = np.diff(t)
    if (diffs < np.timedelta64(0)).any():
        if "sort" not in repair:
            row = int(np.argmax(diffs < np.timedelta64(0))) + 3
            raise DataError(f"{path}:{row}: timestamp {t[row - 2]} comes before the previous "
                            "one; pass repair=['sort'] to sort the rows")
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        diffs = np.diff(t)
    if (diffs == np.timedelta64(0)).any():
        if "drop-duplicates" not in repair:
            row = int(np.argmax(diffs == np.timedelta64(0))) + 3
            raise DataError(f"{path}:{row}: duplicated timestamp {t[row - 2]}; pass "
                            "repair=['drop-duplicates'] to keep the first")
        keep = np.concatenate([[True], diffs != np.timedelta64(0)])
        t, v = t[keep], v[keep]
    return t, v


def _check_gaps(path, t, v, repair):
    if len(t) < 3 or "ignore-gaps" in repair:
        return t, v
    diffs = np.diff(t)
    step = np.median(diffs.astype(np.int64)).astype(np.int64)
    gaps = diffs.astype(np.int64) != step
    if not gaps.any():
        return t, v
    if "interpolate" not in repair:
        row = int(np.argmax(gaps)) + 3
        raise DataError(f"{path}:{row}: gap before {t[row - 2]} (the series steps by "
                        f"{np.timedelta64(step, np.datetime_data(t.dtype)[0])}); pass "
                        "repair=['interpolate'] to fill gaps or ['ignore-gaps']")
    unit = np.datetime_data(t.dtype)[0]
    full = np.arange(t[0], t[-1] + np.timedelta64(step, unit), np.timedelta64(step, unit))
    filled = np.full(len(full), np.nan)
    filled[((t - t[0]).astype(np.int64) // step)] = v
    return full, filled


def _interpolate(v: np.ndarray) -> np.ndarray:
    idx = np.arange(len(v))
    ok = ~np.isnan(v)
    return np.interp(idx, idx[ok], v[ok])


class Scaler:
    """``standard`` (z-score), ``minmax`` (to [0, 1]), ``log`` (log1p, then z-score) or
    ``none``; fitted on the training range only."""

    KINDS = ("standard", "minmax", "log", "none")

    def __init__(self, kind: str = "standard", a: float = 0.0, b: float = 1.0):
        if kind not in self.KINDS:
            raise ValueError(f"scaler must be one of {self.KINDS}, got {kind!r}")
        self.kind, self.a, self.b = kind, a, b  # y = (f(x) - a) / b

    def fit(self, x: np.ndarray) -> Scaler:
        if self.kind == "log" and (x <= -1).any():
            raise ValueError("the log scaler needs values > -1")
        fx = self._f(x)
        if self.kind == "minmax":
            self.a, self.b = float(fx.min()), float(fx.max() - fx.min()) or 1.0
        elif self.kind in ("standard", "log"):
            self.a, self.b = float(fx.mean()), float(fx.std()) or 1.0
        return self

    def _f(self, x):
        return np.log1p(x) if self.kind == "log" else np.asarray(x, dtype=np.float64)

    def transform(self, x):
        return (self._f(x) - self.a) / self.b

    def inverse(self, y):
        fx = np.asarray(y) * self.b + self.a
        return np.expm1(fx) if self.kind == "log" else fx

    def scale_only(self, dy):
        """A spread (std, interval half-width) back in original units (not for ``log``)."""
        return np.asarray(dy) * self.b

    def to_dict(self) -> dict:
        return {"kind": self.kind, "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(d["kind"], d["a"], d["b"])


def difference(x: np.ndarray, lag: int) -> np.ndarray:
    """Seasonal differencing: d[i] = x[i + lag] - x[i], length N - lag."""
    return x[lag:] - x[:-lag]


def undifference(diffs: np.ndarray, history: np.ndarray, lag: int) -> np.ndarray:
    """Invert :func:`difference` for values following ``history`` (its last ``lag`` points
    at least): x[t] = d[t] + x[t - lag], recursively."""
    out = list(history[-lag:])
    for d in diffs:
        out.append(d + out[-lag])
    return np.asarray(out[lag:])


def window_starts(start: int, end: int, window: int, horizon: int, stride: int = 1) -> np.ndarray:
    """Starts s of windows x[s:s+window] whose targets x[s+window:s+window+horizon] lie
    entirely inside [start, end): nothing outside the range is read."""
    last = end - window - horizon
    return np.arange(start, last + 1, stride) if last >= start else np.zeros(0, dtype=int)


def make_windows(x: np.ndarray, starts: np.ndarray, window: int, horizon: int):
    """Inputs (N, window) and targets (N, horizon) for the given window starts."""
    idx = starts[:, None] + np.arange(window + horizon)[None, :]
    chunk = x[idx]
    return chunk[:, :window], chunk[:, window:]
