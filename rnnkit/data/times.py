"""Times in the text of delimited files: ISO 8601, or the day/month/year layouts that
spreadsheets write, found by reading a whole column (a series CSV's time column, one
sequence's rows of a long table)."""

from __future__ import annotations

import re
import warnings
from datetime import datetime

import numpy as np

from .datasets import DataError

# Time formats read without being named, tried when a time column is not ISO 8601
# (2024-01-31, 2024-01-31 13:45:00, 2024-01); a column that two of them read in every row
# (all days <= 12) is ambiguous and needs ``time_format``.
TIME_FORMATS = tuple(date + clock for date in ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d",
                                               "%d-%m-%Y", "%m-%d-%Y")
                     for clock in ("", " %H:%M", " %H:%M:%S"))


# time_format values that are not strptime formats: the column holds numbers, read as step
# numbers (integers: 0, 1, 2 ... or 1, 5, 10 ...; decimal numbers: 0.0, 0.5, 1.0 ..., such as
# seconds since a start) or as Unix times (seconds or milliseconds since 1970-01-01 UTC)
NUMBER_FORMATS = {"step": None, "unix": "s", "unix_ms": "ms"}
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # (no nan, no inf)
_YEAR = re.compile(r"\d{4}")
# Unix times of 1980-2100, in seconds and in milliseconds: a step column in these ranges
# is more likely Unix times (read as steps, with a warning naming the fix)
_UNIX_RANGES = (("unix", 315_532_800, 4_102_444_800),
                ("unix_ms", 315_532_800_000, 4_102_444_800_000))


def parse_iso(text: str) -> np.datetime64:
    """One ISO 8601 time (``2024-01-31``, ``2024-01-31 13:45``, ``2024-01``, a trailing
    ``Z``); a ValueError for anything else, an empty cell included."""
    value = np.datetime64(text.strip().replace(" ", "T").rstrip("Z"))
    if np.isnat(value):  # an empty cell (or "NaT") parses to not-a-time, which sorts nowhere
        raise ValueError(f"no time in {text!r}")
    if value.astype("datetime64[Y]") > np.datetime64("9999", "Y"):  # a number as a year:
        raise ValueError(f"year beyond 9999 in {text!r}")  # Unix time? (nothing prints it)
    return value


def column_times(path, rows, col, name: str, lines, time_format: str | None) -> np.ndarray:
    """The time column as datetime64: ISO 8601, else ``time_format``, else the one format
    of :data:`TIME_FORMATS` that reads every row. A column of integers is a column of step
    numbers (int64), unless every one has 4 digits (years, as ISO 8601 reads ``1949``); a
    column of numbers some of which have decimals (``0.0, 0.5, 1.0``) is a column of step
    numbers too (float64, such as seconds since a start); ``time_format`` ``"step"``,
    ``"unix"`` or ``"unix_ms"`` (:data:`NUMBER_FORMATS`) names how to read a column of
    numbers."""
    cells = [row[col] if col < len(row) else "" for row in rows]
    if not cells:
        return np.zeros(0, dtype="datetime64[s]")
    if time_format in NUMBER_FORMATS:
        return _number_times(path, cells, name, lines, rows, time_format)
    stripped = [c.strip() for c in cells]
    integers = all(_INTEGER.fullmatch(c) for c in stripped)
    if (integers and not all(_YEAR.fullmatch(c) for c in stripped)) or \
            (not integers and all(_DECIMAL.fullmatch(c) for c in stripped)):
        return _steps(path, cells, name, lines, rows)
    if time_format:
        return coarsest(np.array([_strptime(path, cell, time_format, n, rows[i])
                                  for i, (cell, n) in enumerate(zip(cells, lines))]))
    try:
        with warnings.catch_warnings(record=True) as caught:  # numpy's, on a UTC offset
            warnings.simplefilter("always")
            t = np.array([parse_iso(c) for c in cells])
    except ValueError:
        pass
    else:  # dates (whole days) in their calendar unit: 2024-01-01, 2024-02-01 are months
        if any("timezone" in str(w.message) for w in caught):
            warnings.warn(f"{path}: column {name!r}: times with a UTC offset are read as UTC "
                          "(and written so)", stacklevel=3)
        return coarsest(t) if (t.astype("datetime64[D]") == t).all() else t
    fits = readings(cells)
    if len(fits) == 1:
        return coarsest(np.array([np.datetime64(t) for t in fits[0][1]]))
    if len(fits) > 1:
        irregular = [_irregular(t) for _, t in fits]  # steps off the usual one
        best = min(irregular)
        if irregular.count(best) == 1 and best <= 0.1:
            # 1/1/1985, 2/1/1985 ...: months as m/d/Y, not 12 days a year as d/m/Y
            fmt, t = fits[irregular.index(best)]
            warnings.warn(f"{path}: column {name!r} is read as {fmt} (the times read in "
                          f"more than one way: {' or '.join(f for f, _ in fits)}, and this "
                          "one gives times in order at the most regular step); name "
                          "time_format to read them otherwise", stacklevel=3)
            return coarsest(np.array([np.datetime64(v) for v in t]))
        raise DataError(f"{path}: the times ({cells[0]!r} ...) read in more than one way "
                        f"({' or '.join(f for f, _ in fits)}); name the format with "
                        "time_format (task.time_format in a task config)")
    for i, (cell, n) in enumerate(zip(cells, lines)):
        if not cell.strip():
            raise DataError(f"{path}:{n}: no time in column {name!r} (row {rows[i]!r})")
        try:
            parse_iso(cell)
        except ValueError:
            number = (" (a column of numbers is read as step numbers; for Unix times name "
                      "time_format = 'unix' or 'unix_ms')") if _is_number(cell) else ""
            raise DataError(f"{path}:{n}: cannot read a time from {cell!r}{number} (row "
                            f"{rows[i]!r}); write ISO 8601 times (2024-01-31, 2024-01-31 "
                            "13:45:00, 2024-01), or name their format with time_format "
                            "(task.time_format in a task config; a strptime format such as "
                            "'%d/%m/%Y')") from None
    raise AssertionError("unreachable: some cell failed to parse")


def _steps(path, cells, name, lines, rows) -> np.ndarray:
    """A column of numbers as step numbers (int64, or float64 where some have decimals), with
    a warning where they look like Unix times."""
    t = _number_times(path, cells, name, lines, rows, "step")
    for fix, low, high in _UNIX_RANGES:
        if len(t) and low <= t.min() and t.max() <= high:
            warnings.warn(f"{path}: column {name!r} is read as step numbers; if its numbers "
                          f"are Unix times, name time_format = {fix!r} (task.time_format in "
                          "a task config)", stacklevel=4)
    return t


def _number_times(path, cells, name, lines, rows, time_format: str) -> np.ndarray:
    """A column of numbers read as :data:`NUMBER_FORMATS` names: step numbers (int64; float64
    where some have decimals) or Unix times (datetime64, in the coarsest unit that holds
    them)."""
    unit = NUMBER_FORMATS[time_format]
    values = []
    for i, (cell, n) in enumerate(zip(cells, lines)):
        text = cell.strip()
        try:
            value = int(text) if _INTEGER.fullmatch(text) else \
                float(text) if unit or _DECIMAL.fullmatch(text) else None
        except ValueError:
            value = None
        if value is not None and unit:  # in microseconds
            value = value * (10**6 if unit == "s" else 10**3)
        if value is None or not abs(value) < 2**62:  # (NaN and infinity fail too)
            kind = "a step number" if unit is None else f"a Unix time ({unit})"
            raise DataError(f"{path}:{n}: time_format = {time_format!r} needs {kind} in "
                            f"column {name!r}, got {cell!r} (row {rows[i]!r})")
        values.append(round(value) if unit else value)
    if unit is None:
        decimal = any(isinstance(v, float) for v in values)
        return np.array(values, dtype=np.float64 if decimal else np.int64)
    return coarsest(np.array(values, dtype=np.int64).astype("datetime64[us]"))


def _irregular(times: list[datetime]) -> float:
    """The share of the steps between ``times`` that differ from their usual one (in the
    times' coarsest unit, so that first-of-month dates step by one month); 1 where the
    times go back or repeat, or are too few to tell."""
    t = coarsest(np.array([np.datetime64(v) for v in times]))
    steps = np.diff(t).astype(np.int64)
    if len(steps) < 2 or (steps <= 0).any():
        return 1.0
    return float((steps != np.median(steps)).mean())


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def decimals(t: np.ndarray) -> int:
    """The fewest decimal places (at most 9) that write every one of the numbers ``t``
    (step numbers with decimals, as a file writes them: ``0.1, 0.2``), so that times
    computed from them (``0.1 + 2 * 0.1``) print as the file would (``0.3``)."""
    t = np.asarray(t, dtype=np.float64)
    for places in range(9):
        if np.all(np.abs(np.round(t, places) - t) <= 8 * np.spacing(np.abs(t))):  # (ulps)
            return places
    return 9


def step_tolerance(step, t) -> float:
    """How far a difference of the decimal step numbers ``t`` may be from ``step`` and still
    be one step: a millionth of it, plus the rounding of numbers as large as ``t``'s (at
    1.7e9, seconds since 1970, a float is exact to 2.4e-7 only)."""
    return 1e-6 * abs(float(step)) + 4 * float(np.spacing(np.abs(np.asarray(t, float)).max()))


def coarsest(t: np.ndarray) -> np.ndarray:
    """Times in the coarsest unit that holds them exactly (years, months, days, hours,
    minutes, seconds, milliseconds, microseconds), as ISO 8601 text parses to:
    first-of-month dates are a monthly series, whose steps are one month, not 28-31 days;
    so are dates all on the last day of their month (2024-01-31, 2024-02-29: months
    2024-01, 2024-02)."""
    for unit in ("Y", "M", "D", "h", "m", "s", "ms", "us"):
        coarse = t.astype(f"datetime64[{unit}]")
        if (coarse == t).all():
            if unit == "D" and len(t) > 1 and _month_ends(coarse):
                return coarse.astype("datetime64[M]")
            return coarse
    return t


def _month_ends(days: np.ndarray) -> bool:
    """Whether every one of ``days`` (datetime64[D]) is the last day of its month."""
    return bool(((days + 1).astype("datetime64[M]") != days.astype("datetime64[M]")).all())


def _strptime(path, cell: str, fmt: str, line: int, row) -> np.datetime64:
    try:
        return np.datetime64(datetime.strptime(cell.strip(), fmt))
    except ValueError:
        raise DataError(f"{path}:{line}: time {cell!r} does not match time_format {fmt!r} "
                        f"(row {row!r})") from None


def readings(texts: list[str]) -> list[tuple[str, list[datetime]]]:
    """Each layout of :data:`TIME_FORMATS` that reads every one of ``texts``, with what it
    reads them as."""
    out = []
    for fmt in TIME_FORMATS:
        try:
            out.append((fmt, [datetime.strptime(t.strip(), fmt) for t in texts]))
        except ValueError:
            continue
    return out


def is_spreadsheet_time(text: str) -> bool:
    """Whether one layout of :data:`TIME_FORMATS` reads ``text``."""
    return bool(readings([text]))
