"""Time series: CSV reading with clear errors, scaling, seasonal differencing, windows.

A series CSV (DESIGN.md, "A user's own data") has a time column, one or more value columns
and optional covariate columns (values known in advance: calendar, a temperature
forecast); rows at its end with every value blank and the covariates given are the known
future of the covariates. Everything fitted (scaler statistics) is fitted on the training
range only and saved with the checkpoint (``to_dict``), so predictions come back in the
original units.
"""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .datasets import DataError, fetch
from .scaling import Scaler  # noqa: F401 (kept importable from here)
from .tables import delimiter_of, is_missing, to_number, unnamed_and_blank
from .times import column_times, decimals, step_tolerance
from .windows import difference, make_windows, undifference, window_starts  # noqa: F401 (kept importable from here)

# named series: (data set, test range: an int count of points or a float fraction)
SERIES = {
    "airline-passengers": 24,
    "daily-min-temperatures": 365,
    "monthly-sunspots": 0.1,
    "nyc_taxi": 0.1,
    "machine_temperature_system_failure": 0.1,
    "ambient_temperature_system_failure": 0.1,
}
REPAIRS = ("sort", "drop-duplicates", "interpolate", "ignore-gaps", "keep-order",
           "invalid-as-missing")
# The largest magnitude a value may have: past 2**53 (9.0e15) float64 no longer holds a unit
# step, and a value this far out is a sentinel or a typo far more often than a measurement;
# below it the scalers' sums of squares stay far from overflow.
MAX_ABS = 1e15


class NeedsRepair(DataError):
    """A series file breaks a rule that a ``read_csv`` repair fixes: ``problem`` says what
    and where, ``options`` the ways to fix it, each (repairs used together, what they do).
    The message names them as ``read_csv``'s ``repair`` argument; a task names its config
    key instead (:meth:`hint`)."""

    def __init__(self, problem: str, options: list[tuple[list[str], str]]):
        self.problem, self.options = problem, options
        super().__init__(f"{problem}; {self.hint(lambda r: f'pass repair={r}')}")

    def hint(self, form) -> str:
        """How to fix it, each option's repairs written by ``form`` (a list -> text)."""
        return ", or ".join(f"{form(repairs)} {effect}" for repairs, effect in self.options)


@dataclass
class Series:
    """``values`` (N,) for one value column, (N, K) for several (``columns`` names them);
    ``covariates`` (N + F, J) or None: the covariate columns, known for F points past the
    last value."""

    timestamps: np.ndarray  # datetime64, or step numbers: int64 (positions 0, 1 ... or a
    # file's integer time column) or float64 (a time column of decimal numbers); increasing
    values: np.ndarray  # float64 (N,) or (N, K)
    name: str = "series"
    columns: tuple[str, ...] = ()
    covariates: np.ndarray | None = None
    covariate_columns: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.values)

    @property
    def width(self) -> int:
        """The number of value columns K."""
        return 1 if self.values.ndim == 1 else self.values.shape[1]

    @property
    def ahead(self) -> int:
        """Points past the last value for which the covariates are known."""
        return 0 if self.covariates is None else len(self.covariates) - len(self)

    def head(self, n: int, ahead: int | None = None) -> Series:
        """The first ``n`` points, with the covariates of ``ahead`` more (None: all known)."""
        cov = self.covariates
        if cov is not None:
            cov = cov[:len(cov) if ahead is None else n + ahead]
        return replace(self, timestamps=self.timestamps[:n], values=self.values[:n],
                       covariates=cov)

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


def read_csv(path, time_column: str | None = None, value_column: str | None = None,
             repair: list[str] | tuple[str, ...] = (), *, value_columns=None,
             covariate_columns=(), time_format: str | None = None) -> Series:
    """Read a series from a CSV with a header: ``time_column`` (default: the first column),
    ``value_columns`` (or one ``value_column``; default: every other column but the
    covariates and an unnamed empty one, a trailing separator's) and ``covariate_columns``
    (default: none). Fields are separated by commas, or by semicolons or tabs where the
    header has no comma. Times are ISO 8601, else in the
    one of :data:`TIME_FORMATS` that reads the whole column, else in ``time_format`` (a
    ``strptime`` format such as ``"%d/%m/%Y"``).

    A missing value is an empty cell or a mark of :data:`~rnnkit.data.tables.MISSING`
    (``NA``, ``N/A``, ``NaN``, ``null`` ...). Errors name the file, the row (1 = the header)
    and the column: missing column,
    unparsable time, non-numeric, missing, non-finite or too large (beyond :data:`MAX_ABS`)
    value, unsorted or duplicated timestamps, gaps in a regular series. Blank lines are
    skipped and reported (a warning). ``repair`` asks instead for: ``sort``,
    ``drop-duplicates`` (keep the first), ``interpolate`` (fill missing values and gaps
    linearly), ``ignore-gaps`` (treat points as consecutive), ``keep-order`` (take rows in
    file order, unchecked), ``invalid-as-missing`` (non-finite and too large values become
    missing ones, for ``interpolate`` to fill).
    """
    bad = [r for r in repair if r not in REPAIRS]
    if bad:
        raise ValueError(f"unknown repair {bad}; choose from {REPAIRS}")
    path = Path(path)
    header, rows, lines, delimiter = _read_rows(path)
    tcol = _column(path, header, time_column, 0, "time")
    ccols = [_column(path, header, c, 0, "covariate") for c in covariate_columns]
    if value_column:
        value_columns = [value_column]
    if value_columns:
        vcols = [_column(path, header, c, 1, "value") for c in value_columns]
    else:
        vcols = [i for i in range(len(header)) if i != tcol and i not in ccols
                 and not unnamed_and_blank(header[i], (r[i] if i < len(r) else None
                                                       for r in rows))]
        if not vcols:
            raise DataError(f"{path}: needs at least 2 columns (time, value), got {header}")
    taken = [tcol, *vcols, *ccols]
    twice = sorted({header[i] for i in taken if taken.count(i) > 1})
    if twice:
        raise DataError(f"{path}: column(s) {twice} named twice (time, value and covariate "
                        "columns are distinct)")
    t = column_times(path, rows, tcol, header[tcol], lines, time_format)
    table = np.array([[_number(path, header, row, c, n, delimiter == ";") for c in vcols + ccols]
                      for row, n in zip(rows, lines)], dtype=np.float64)
    table = table.reshape(len(rows), len(vcols) + len(ccols))
    lines = np.array(lines, dtype=np.int64)
    if "keep-order" not in repair:
        t, table, lines = _check_order(path, t, table, lines, repair)
        t, table, lines = _check_gaps(path, t, table, lines, repair)
    k = len(vcols)
    n = len(t)
    if ccols:  # trailing rows without values: the covariates' known future
        while n and np.isnan(table[n - 1, :k]).all():
            n -= 1
    names = [header[c] for c in vcols + ccols]
    table = _checked(path, table, lines, names, n, k, repair)
    values = np.ascontiguousarray(table[:n, 0] if k == 1 else table[:n, :k])
    return Series(t[:n], values, name=path.stem, columns=tuple(names[:k]),
                  covariates=np.ascontiguousarray(table[:, k:]) if ccols else None,
                  covariate_columns=tuple(names[k:]))


def _read_rows(path: Path) -> tuple[list[str], list[list[str]], list[int], str]:
    """(header, data rows, their line numbers, the field separator); blank lines skipped
    with a warning."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            delimiter = delimiter_of(f)
            reader = csv.reader(f, delimiter=delimiter)
            rows, lines, blank = [], [], []
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append(row)
                    lines.append(reader.line_num)
                else:
                    blank.append(reader.line_num)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not valid UTF-8 ({e.reason}); save the file as UTF-8") from None
    except csv.Error as e:
        raise DataError(f"{path}: {e}") from None
    if not rows:
        raise DataError(f"{path}: the file is empty")
    _report(path, "skipped {} blank line(s)", blank)
    return [h.strip() for h in rows[0]], rows[1:], lines[1:], delimiter


def _report(path, what: str, lines) -> None:
    """Warn of rows a read skipped or repaired (``what`` formatted with their count), with
    their line numbers (0: a row the gap filling added)."""
    lines = [int(n) for n in lines]
    if lines:
        shown = ", ".join(str(n) if n else "a gap" for n in lines[:10])
        warnings.warn(f"{path}: {what.format(len(lines))} (line {shown}"
                      f"{' ...' if len(lines) > 10 else ''})", stacklevel=4)


def _number(path, header, row, col, line, decimal_comma=False) -> float:
    cell = row[col] if col < len(row) else ""
    try:
        return math.nan if is_missing(cell) else to_number(cell, decimal_comma)
    except ValueError:
        hint = ""
        if "," in cell:
            try:
                float(cell.replace(",", "."))
                hint = " (a decimal comma? write a decimal point: " \
                       f"{cell.replace(',', '.')!r})"
            except ValueError:
                pass
        raise DataError(f"{path}:{line}: value {cell!r} in column {header[col]!r} is not a "
                        f"number{hint}") from None


def _checked(path, table, lines, names, n, k, repair) -> np.ndarray:
    """``table`` (rows, columns) with its values (the first ``n`` rows of the first ``k``
    columns) and covariates (every row of the rest) checked: non-finite and too large ones
    rejected naming the row and column (``invalid-as-missing``: made missing), missing ones
    rejected (``interpolate``: filled)."""
    table = table.copy()
    used = np.zeros(table.shape, dtype=bool)
    used[:n, :k] = True
    used[:, k:] = True
    with np.errstate(invalid="ignore"):
        invalid = used & ~np.isnan(table) & ~(np.abs(table) <= MAX_ABS)
    if invalid.any():
        if "invalid-as-missing" not in repair:
            r, c = np.argwhere(invalid)[0]
            what = "is not finite" if not np.isfinite(table[r, c]) else \
                f"is beyond +-{MAX_ABS:g}, too large to scale safely"
            raise NeedsRepair(f"{path}:{lines[r]}: value {table[r, c]:g} in column "
                              f"{names[c]!r} {what}", [(["invalid-as-missing", "interpolate"],
                                "to fill it from its neighbours (or correct it)")])
        _report(path, "took {} non-finite or too large value(s) as missing",
                lines[np.argwhere(invalid)[:, 0]])
        table[invalid] = math.nan
    missing = used & np.isnan(table)
    if missing.any():
        if "interpolate" not in repair:
            r, c = np.argwhere(missing)[0]
            where = f"{path}:{lines[r]}" if lines[r] else f"{path}: row {r + 1} (a gap)"
            raise NeedsRepair(f"{where}: missing value in column {names[c]!r}",
                              [(["interpolate"], "to fill it")])
        _report(path, "filled {} missing value(s) by interpolation",
                lines[np.argwhere(missing)[:, 0]])
        for c in range(table.shape[1]):
            rows = n if c < k else len(table)
            if np.isnan(table[:rows, c]).all():
                raise DataError(f"{path}: column {names[c]!r} has no value to interpolate "
                                "from")
            table[:rows, c] = _interpolate(table[:rows, c])
    return table


def _column(path, header, name, default, what) -> int:
    if name is None:
        if len(header) <= default:
            raise DataError(f"{path}: needs at least 2 columns (time, value), got {header}")
        return default
    if name not in header:
        raise DataError(f"{path}: no {what} column {name!r}; the columns are {header}")
    return header.index(name)


def _check_order(path, t, table, lines, repair):
    diffs = np.diff(t)
    zero = np.zeros((), diffs.dtype)  # (timedelta64, or a number for step numbers)
    if (diffs < zero).any():
        if "sort" not in repair:
            i = int(np.argmax(diffs < zero)) + 1
            raise NeedsRepair(f"{path}:{lines[i]}: timestamp {t[i]} comes before the "
                              "previous one", [(["sort"], "to sort the rows")])
        order = np.argsort(t, kind="stable")
        t, table, lines = t[order], table[order], lines[order]
        diffs = np.diff(t)
    if (diffs == zero).any():
        if "drop-duplicates" not in repair:
            i = int(np.argmax(diffs == zero)) + 1
            raise NeedsRepair(f"{path}:{lines[i]}: duplicated timestamp {t[i]}",
                              [(["drop-duplicates"], "to keep the first")])
        keep = np.concatenate([[True], diffs != zero])
        _report(path, "dropped {} row(s) with a duplicated timestamp", lines[~keep])
        t, table, lines = t[keep], table[keep], lines[keep]
    return t, table, lines


def _check_gaps(path, t, table, lines, repair):
    if len(t) < 3 or "ignore-gaps" in repair:
        return t, table, lines
    diffs = np.diff(t)
    decimal = t.dtype.kind == "f"  # step numbers with decimals: equal up to rounding
    step = np.round(np.median(diffs), decimals(t)) if decimal else \
        np.median(diffs.astype(np.int64)).astype(np.int64)
    gaps = np.abs(diffs - step) > step_tolerance(step, t) if decimal else \
        diffs.astype(np.int64) != step
    if not gaps.any():
        return t, table, lines
    if "interpolate" not in repair:
        i = int(np.argmax(gaps)) + 1
        raise NeedsRepair(f"{path}:{lines[i]}: gap before {t[i]} (the series steps by "
                          f"{_delta(step, t.dtype)})",
                          [(["interpolate"], "to fill the gaps"),
                           (["ignore-gaps"], "to take the points as consecutive")])
    if decimal:
        ratio = (t - t[0]) / step
        at = np.rint(ratio).astype(np.int64)
        off = np.abs(ratio - at) * step > step_tolerance(step, t)
        full = np.round(t[0] + step * np.arange(at[-1] + 1), decimals(t))
    else:
        full = np.arange(t[0], t[-1] + _delta(step, t.dtype), _delta(step, t.dtype))
        at, rest = np.divmod((t - t[0]).astype(np.int64), step)
        off = rest != 0
    if off.any():  # a point between two steps would be moved onto one without a word
        i = int(np.argmax(off))
        raise NeedsRepair(f"{path}:{lines[i]}: timestamp {t[i]} is between two steps (the "
                          f"series steps by {_delta(step, t.dtype)} from {t[0]}), so interpolate "
                          "cannot fill the gaps (resample the file to a regular step)",
                          [(["ignore-gaps"], "to take the points as consecutive")])
    filled = np.full((len(full), table.shape[1]), np.nan)
    filled[at] = table
    where = np.zeros(len(full), dtype=np.int64)  # 0: a row the gap filling added
    where[at] = lines
    return full, filled, where


def _delta(step, dtype):
    """``step`` as a difference of times of ``dtype``: a timedelta64 in its unit, or a
    number (step numbers: an integer, or a float where they have decimals)."""
    if np.issubdtype(dtype, np.datetime64):
        return np.timedelta64(int(step), np.datetime_data(dtype)[0])
    return np.float64(step) if dtype.kind == "f" else np.int64(step)



def _interpolate(v: np.ndarray) -> np.ndarray:
    idx = np.arange(len(v))
    ok = ~np.isnan(v)
    return np.interp(idx, idx[ok], v[ok])
