"""Long-format tables of labelled sequences (CSV, TSV, JSON-lines): one row per (sequence,
time step), ``id, t, feature..., label``. Rows of one id form one sequence, ordered by ``t``
(numbers, ISO dates, or the day/month/year layouts of :mod:`rnnkit.data.times`; without a
time column, file order); the features are ``value_columns`` (default: every column but the
id, time and label columns). Read through :func:`rnnkit.data.sequences.read_sequences`."""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from .datasets import DataError
from .labelled import Sequence
from .tables import is_missing, read_table, to_number, unnamed_and_blank
from .times import is_spreadsheet_time, readings

_ONE_ID = ("(an id is one sequence with one label: if an id holds several recordings, give "
           "each its own id)")
_CLOCK = re.compile(r"\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?( ?[AaPp][Mm])?")  # 08:00:01.250


def read_long_table(path: str | Path, *, id_column: str = "id", time_column: str = "t",
                    label_column: str = "label", value_columns: list[str] | None = None,
                    whole: bool = False) -> list[Sequence]:
    """Sequences from a long table (one row per id and time step); the label column is read
    when the table has it, and must then agree on every row of an id. ``whole``: a table
    without the id column is one sequence (ordered by the time column if it has one)."""
    path = Path(path)
    required = [id_column] + ([time_column] if time_column else [])
    keys = "task.id_column, task.time_column, task.label_column, task.value_columns"
    try:
        try:
            table = read_table(path, required, list(value_columns or []), keys)  # (null: NaN)
        except DataError:
            table = read_table(path, [], list(value_columns or []), keys) if whole else None
            if table is None or id_column in table.columns:
                raise
            id_column = ""  # one sequence
            time_column = time_column if time_column in table.columns else ""
            if time_column:  # (then every row needs its time, as with an id)
                table = read_table(path, [time_column], list(value_columns or []), keys)
    except DataError as e:
        raise DataError(f"{e} (long format: {id_column or 'no id column'}, "
                        f"{time_column or 'no time column'}, "
                        f"features..., {label_column})") from None
    has_label = label_column in table.columns
    features = list(value_columns or [
        c for c in table.columns if c not in (id_column, time_column, label_column)
        and not unnamed_and_blank(c, (row.get(c) for row in table.rows))])
    if not features:
        raise DataError(f"{path}: no feature columns besides {id_column!r}, "
                        f"{time_column!r} and {label_column!r}")
    names = tuple(features)
    advice = _Advice(label_column if not has_label else "", names if not value_columns else ())
    groups: dict[str, list[int]] = {}
    for r, row in enumerate(table.rows):
        key = row[id_column].strip() if id_column else "(the whole table)"
        if not key:
            raise DataError(f"{path}:{table.lines[r]}: empty {id_column!r}")
        groups.setdefault(key, []).append(r)
    out = []
    for key, rows in groups.items():
        first = table.lines[rows[0]]  # the id's first line in the file
        if time_column:
            rows = _ordered(path, table, rows, time_column)
        x = np.array([[_cell(path, table, r, c, advice) for c in features] for r in rows])
        label = _group_label(path, table, rows, label_column) if has_label else None
        out.append(Sequence(x, label, f"{path}:{first}" + (f": {id_column} {key}"
                                                           if id_column else ""), names))
    if table.note():
        warnings.warn(table.note(), stacklevel=2)
    return out


@dataclass(frozen=True)
class _Advice:
    """What a word in a feature column may mean: the label under another name (the table
    lacks ``label_column``: "" when it has it), or a column that is no feature (``guessed``:
    the features taken as every other column; empty when the user named them)."""

    label_column: str
    guessed: tuple[str, ...]

    def __call__(self, column: str, text: str) -> str:
        point = text.replace(",", ".")
        if "," in text and _is_number(point):
            return f" (a decimal comma? write a decimal point: {point!r})"
        if not self.guessed:
            return " (leave a missing value empty, or write ? or NA)"
        if self.label_column:
            return (f"; the table has no column {self.label_column!r}: if {column!r} holds "
                    f'the labels, set task.label_column = "{column}" (or name the features '
                    "with task.value_columns)")
        others = ", ".join(f'"{c}"' for c in self.guessed if c != column)
        return (" (leave a missing value empty, or write ? or NA" + (
            f"; if {column!r} is not a feature, name the features with task.value_columns, "
            f"e.g. [{others}]" if others else "") + ")")


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _cell(path: Path, table, r: int, column: str, advice: _Advice) -> float:
    text = (table.rows[r].get(column) or "").strip()  # (JSON-lines: null or absent)
    if is_missing(text):
        return math.nan
    try:
        return to_number(text, table.decimal_comma)
    except ValueError:
        raise DataError(f"{path}:{table.lines[r]}: column {column!r}: {text!r} is not a "
                        f"number{advice(column, text)}") from None


def _ordered(path: Path, table, rows: list[int], column: str) -> list[int]:
    """``rows`` sorted by their time (numbers, else ISO dates, else day/month/year dates);
    a repeated time is an error."""
    texts = [table.rows[r][column].strip() for r in rows]  # (a required column: no null)
    try:
        keys: list = [float(t) for t in texts]
    except ValueError:
        try:
            keys = [datetime.fromisoformat(t) for t in texts]
        except ValueError:
            keys = _spreadsheet_times(path, table, rows, column, texts)
        if keys is None:
            bad = next((r for r, t in zip(rows, texts) if not _is_time(t)), None)
            if bad is None:  # each is a number or a date, but not all the same kind
                raise DataError(f"{path}:{table.lines[rows[0]]}: column {column!r}: the "
                                "sequence mixes numbers and dates, or date layouts") from None
            text = table.rows[bad][column]
            raise DataError(f"{path}:{table.lines[bad]}: column {column!r}: {text!r} is "
                            "neither a number nor a date/time (ISO 8601, or day/month/year "
                            "as in 31/01/2024)" + (
                                "; a time of day alone cannot be ordered across midnight: "
                                f"write the date with it (2024-01-31 {text.strip()}), or set "
                                'task.time_column = "" if the rows are in time order'
                                if _CLOCK.fullmatch(text.strip()) else "")) from None
    try:
        order = sorted(range(len(rows)), key=lambda i: keys[i])
    except TypeError:  # dates with and without a UTC offset cannot be compared
        raise DataError(f"{path}:{table.lines[rows[0]]}: column {column!r}: the sequence "
                        "mixes times with and without a UTC offset") from None
    for a, b in zip(order, order[1:]):
        if keys[a] == keys[b]:
            raise DataError(f"{path}:{table.lines[rows[b]]}: {column!r} = {texts[b]!r} repeats "
                            f"line {table.lines[rows[a]]} of the same sequence {_ONE_ID}")
    return [rows[i] for i in order]


def _spreadsheet_times(path: Path, table, rows: list[int], column: str,
                       texts: list[str]) -> list[datetime] | None:
    """One sequence's times in the layout of :data:`~rnnkit.data.times.TIME_FORMATS` that
    reads them all (None: none does). Two layouts that read them all but order them
    differently (01/02 and 02/01) are an error: only the order is used."""
    found = readings(texts)
    orders = {tuple(sorted(range(len(k)), key=k.__getitem__)) for _, k in found}
    if len(orders) > 1:
        raise DataError(f"{path}:{table.lines[rows[0]]}: column {column!r}: the times "
                        f"({texts[0]!r} ...) read as {' or '.join(f for f, _ in found)}, "
                        "which order them differently; write ISO 8601 times (2024-01-31)")
    return found[0][1] if found else None


def _is_time(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        try:
            datetime.fromisoformat(text)
            return True
        except ValueError:
            return is_spreadsheet_time(text)


def _group_label(path: Path, table, rows: list[int], column: str) -> str:
    labels = [(table.rows[r][column] or "").strip() for r in rows]
    for r, label in zip(rows, labels):
        if not label:
            raise DataError(f"{path}:{table.lines[r]}: empty {column!r}: every row of a "
                            "sequence carries its label")
        if label != labels[0]:
            raise DataError(f"{path}:{table.lines[r]}: {column!r} = {label!r}, but line "
                            f"{table.lines[rows[0]]} gives the same sequence {labels[0]!r} "
                            f"{_ONE_ID}")
    return labels[0]
