"""Where a series comes from, shared by the forecasting and anomaly tasks: the config keys
that name it (:class:`SeriesSourceConfig`), reading it (one file, or consecutive parts),
reading a predictor's input with the run's columns, its test range, and timestamps (future
ones, and as the strings a prediction record holds)."""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...data.datasets import DataError
from ...data.tables import delimiter_of
from ...data.timeseries import (
    MAX_ABS,
    REPAIRS,
    NeedsRepair,
    Series,
    load_series,
    read_csv,
)
from ...training.config import TaskConfig
from ..base import TaskError
from ..datafiles import DataFilesConfig, data_errors, path_field, uses_own_data
from .timestamps import (  # noqa: F401 (kept importable from here)
    future_times,
    parse_times,
    pushed_time,
    same_step,
    time_labels,
    time_step,
)


@dataclass
class SeriesSourceConfig(DataFilesConfig, TaskConfig):
    """The ``[task]`` keys that name a series: a named one (``series``), or a user's CSV
    (DESIGN.md, "A user's own data"): ``data`` (one file), or ``train_data`` /
    ``val_data`` / ``test_data``, consecutive parts of one series (each continues the one
    before; the parts set the ranges). Columns: ``time_column`` (default: the first),
    ``value_columns`` (default: every other column but the covariates; several = a
    multivariate series), ``covariate_columns`` (values known in advance, e.g. calendar or a
    temperature forecast; rows at the end of a file with the values blank and the
    covariates given are their known future). ``repair``: comma-separated read_csv repairs;
    ``time_format``: a ``strptime`` format for times that are not ISO 8601 and not in a
    layout read_csv finds by itself (``TIME_FORMATS``), or ``"unix"``, ``"unix_ms"`` or
    ``"step"`` for a column of numbers (a column of numbers other than 4-digit years is
    read as step numbers: integers, or decimal numbers such as seconds since a start).
    A series is split by time, never shuffled: ``split_seed`` and ``val_fraction`` are not
    read. The former keys ``csv`` (= ``data``) and ``value_column`` (= a one-column
    ``value_columns``) are still read, and written back under the new names."""

    series: str = ""  # a named series (rnnkit.data.timeseries.SERIES)
    csv: str = path_field()  # the former name of task.data
    time_column: str = ""  # "" = the first column
    value_columns: list[str] = field(default_factory=list)  # [] = every other column
    value_column: str = ""  # the former name of a one-column value_columns
    covariate_columns: list[str] = field(default_factory=list)  # known in advance
    repair: str = ""  # comma-separated read_csv repairs: sort, drop-duplicates, interpolate ...
    time_format: str = ""  # "" = found by reading; a strptime format, "unix", "unix_ms", "step"

    def __post_init__(self):
        if self.csv and not (self.data or self.train_data):
            self.data, self.csv = self.csv, ""
        if self.value_column and not self.value_columns:
            self.value_columns, self.value_column = [self.value_column], ""


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


def source_errors(cfg: SeriesSourceConfig, unread: tuple[str, ...]) -> list[str]:
    """Config-time problems of the series keys; ``unread``: the data-file keys the task
    does not read (set away from their defaults, they are errors)."""
    errors = data_errors(cfg)
    if cfg.csv:  # left beside task.data / train_data
        errors.append("task.csv is the former name of task.data: set one of them")
    if cfg.value_column:
        errors.append("task.value_column is the former name of task.value_columns: set one")
    lists = {}
    for key in ("value_columns", "covariate_columns"):
        v = getattr(cfg, key)
        if isinstance(v, list) and all(isinstance(c, str) and c for c in v):
            lists[key] = v
        else:
            errors.append(f"task.{key} = {v!r}: expected a list of column names, e.g. "
                          '["a", "b"]')
    named = [cfg.time_column] * bool(cfg.time_column) + sum(lists.values(), [])
    twice = sorted({c for c in named if named.count(c) > 1})
    if twice:
        errors.append(f"column(s) {twice} named twice in task.time_column / value_columns / "
                      "covariate_columns")
    defaults = {f.name: f.default for f in dataclasses.fields(DataFilesConfig)}
    for key in unread:
        if getattr(cfg, key) != defaults[key]:
            errors.append(f"task.{key} = {getattr(cfg, key)!r}: a series is split by time, "
                          "never shuffled; this key is not read (leave it out)")
    try:
        parse_repair(cfg.repair)
    except TaskError as e:
        errors.append(str(e))
    return errors


def _read(path, cfg: SeriesSourceConfig, value_columns=None, repair=None) -> Series:
    return read_csv(path, cfg.time_column or None,
                    value_columns=value_columns or cfg.value_columns or _values(path, cfg),
                    covariate_columns=cfg.covariate_columns,
                    repair=parse_repair(cfg.repair if repair is None else repair),
                    time_format=cfg.time_format or None)


def _values(path, cfg: SeriesSourceConfig) -> list[str] | None:
    """The default value columns of a file with the task's label column (an anomaly run's
    ``task.label_column``): every column but the time, covariate and label ones. None (every
    other column, read_csv's default) for a file without it."""
    label, header = getattr(cfg, "label_column", ""), _header(path)
    if not label or label not in header:
        return None
    time = cfg.time_column if cfg.time_column in header else header[0]
    return [h for h in header if h not in (time, label, *cfg.covariate_columns)] or None


def _parts(cfg: SeriesSourceConfig) -> list[tuple[str, str]]:
    """(key, file) of each part of a user's series given as files of their own."""
    return [(k, getattr(cfg, f"{k}_data")) for k in ("train", "val", "test")
            if getattr(cfg, f"{k}_data")]


def load_labels(cfg: SeriesSourceConfig, column: str, series: Series,
                lengths: dict[str, int]) -> np.ndarray | None:
    """Per-point labels (True: anomalous) from the ``column`` of the run's files, read with
    the same repairs as the values, so row i labels point i of ``series`` (``series`` and
    ``lengths``: what :func:`load_source` returned); a part without the column is
    unlabelled (False). None when no file has it (or the run reads a named series)."""
    if not column or not uses_own_data(cfg):
        return None
    files = [cfg.data] if cfg.data else [path for _, path in _parts(cfg)]
    sizes = [len(series) - sum(lengths.values()), *lengths.values()]  # points of each file
    parts, found = [], False
    for path, points in zip(files, sizes):
        if column not in _header(path):
            parts.append(np.zeros(points, bool))
            continue
        found = True
        try:  # (the label column as the only value column)
            labels = read_csv(path, cfg.time_column or None, value_columns=[column],
                              covariate_columns=cfg.covariate_columns,
                              repair=parse_repair(cfg.repair), time_format=cfg.time_format
                              or None).values
        except (NeedsRepair, DataError, OSError) as e:  # (the values' read passed: so a
            # missing or non-numeric label)
            problem = e.problem if isinstance(e, NeedsRepair) else str(e)
            raise TaskError(f"{problem}: task.label_column = {column!r} needs 1 (an "
                            "anomalous point) or 0 (a normal one) on every row") from None
        if len(labels) != points:
            raise TaskError(f"task.label_column = {column!r}: {len(labels)} labelled rows for "
                            f"{points} points (rows with no value, the covariates' future, "
                            "take no label)")
        parts.append(np.nan_to_num(labels, nan=0.0) != 0)
    return np.concatenate(parts) if found else None


def load_source(cfg: SeriesSourceConfig) -> tuple[Series, dict[str, int]]:
    """The series a task config names, and the lengths of the parts given as files of
    their own (``{"val": n, "test": m}``: from ``val_data`` and ``test_data``; {} for one
    file or a named series)."""
    try:
        if not uses_own_data(cfg):
            return load_series(cfg.series), {}
        if cfg.data:
            return _read(cfg.data, cfg), {}
        parts = [(k, _read(path, cfg)) for k, path in _parts(cfg)]
    except NeedsRepair as e:
        raise TaskError(f"{e.problem}; {e.hint(_config_repair)}") from None
    except (DataError, OSError) as e:
        raise TaskError(str(e)) from None
    series = parts[0][1]
    for (_, a), (key, b) in zip(parts, parts[1:]):
        series = _join(series, a, b, f"task.{key}_data", parse_repair(cfg.repair))
    return series, {k: len(s) for k, s in parts if k != "train"}


def _config_repair(repairs: list[str]) -> str:
    """A repair as a config sets it: ``task.repair = "sort, interpolate"``."""
    return f'set task.repair = "{", ".join(repairs)}"'


def _option_repair(repairs: list[str]) -> str:
    """A repair as a predictor's ``read_file`` (and the CLI's ``--repair``) takes it."""
    return f'pass repair="{",".join(repairs)}" (--repair {",".join(repairs)})'


def _join(series: Series, last: Series, part: Series, key: str, repair) -> Series:
    """``series`` (ending with the part ``last``) continued by ``part``."""
    if series.ahead:
        raise TaskError(f"{last.name}: rows past its last value (covariates only) come "
                        f"before {key}; only the last part may hold the covariates' future")
    if part.columns != last.columns or part.covariate_columns != last.covariate_columns:
        raise TaskError(f"{key} ({part.name}) has the columns {list(part.columns)} + "
                        f"{list(part.covariate_columns)}; the part before it "
                        f"{list(last.columns)} + {list(last.covariate_columns)}")
    if len(part) and len(series):
        gap = part.timestamps[0] - series.timestamps[-1]
        step = time_step(np.concatenate([series.timestamps, part.timestamps]))
        zero = np.zeros((), np.asarray(gap).dtype)  # (timedelta64, or a number for steps)
        if gap <= zero or (not same_step(gap, step, part.timestamps) and
                           not {"ignore-gaps", "keep-order"} & set(repair)):
            where = "not after" if gap <= zero else "not one step after"
            raise TaskError(f"{key} ({part.name}) starts at {part.timestamps[0]}, {where} the "
                            f"part before it ends ({series.timestamps[-1]}): the parts must "
                            "be consecutive pieces of one series")
    cov = None
    if part.covariates is not None:
        cov = np.concatenate([series.covariates, part.covariates])
    return Series(np.concatenate([series.timestamps, part.timestamps]),
                  np.concatenate([series.values, part.values]), series.name, series.columns,
                  cov, series.covariate_columns)


def read_input(path: str | Path, cfg: SeriesSourceConfig, columns: dict | None = None,
               repair: str | None = None) -> Series:
    """A predictor's input CSV, read with the run's covariate columns and ``repair``
    (default: the run's ``task.repair``). Value columns: ``task.value_columns``, else the
    names the run trained on (``columns``: model.json's ``"columns"``) where the file has
    them all, else the columns after the time column, as many as the run has; bad rows
    give errors naming the row."""
    width = len(columns["values"]) if columns else 1
    names = None
    if not cfg.value_columns:
        header = _header(path)
        recorded = columns["values"] if columns else []
        if recorded and all(c in header for c in recorded):
            names = recorded
        elif header:
            tcol = header.index(cfg.time_column) if cfg.time_column in header else 0
            rest = [h for i, h in enumerate(header)
                    if i != tcol and h not in cfg.covariate_columns]
            names = rest[:width] if len(rest) >= width else None
    try:
        series = _read(path, cfg, names, repair)
    except NeedsRepair as e:
        raise TaskError(f"{e.problem}; {e.hint(_option_repair)}") from None
    except (DataError, OSError) as e:
        raise TaskError(str(e)) from None
    series.name = str(path)
    if series.width != width:
        raise TaskError(f"{path}: {series.width} value column(s) {list(series.columns)}; the "
                        f"run reads {width}: {columns['values'] if columns else ['value']}")
    return series


def _header(path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return [h.strip() for h in next(csv.reader(f, delimiter=delimiter_of(f)), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []  # read_csv names the problem


def column_names(series: Series, cfg: SeriesSourceConfig) -> dict:
    """What model.json records of the run's columns (``read_input`` reads inputs by them)."""
    return {"time": cfg.time_column, "values": list(series.columns) or ["value"],
            "covariates": list(series.covariate_columns)}


def test_points(n: int, size: float, default: float) -> int:
    """Points in the test range: ``size`` points (>= 1) or a fraction (< 1); 0: ``default``
    (points or a fraction likewise)."""
    size = size or default
    count = int(size) if size >= 1 else int(np.ceil(n * size))
    if not 0 < count < n:
        raise TaskError(f"a test range of {count} points does not fit a series of {n}")
    return count


def pushed_value(x, width: int):
    """One observation a stream is pushed, checked: a finite number (``width`` 1) or
    ``width`` of them (an array (width,))."""
    try:
        if x is None or isinstance(x, (str, bytes)):
            raise TypeError
        v = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TaskError(f"push: {x!r} is not a number") from None
    if v.size != width or (width == 1 and v.ndim > 1):
        raise TaskError(f"push: {x!r}: the run reads {width} value(s) a step, got {v.size}")
    if not (np.abs(v) <= MAX_ABS).all():
        raise TaskError(f"push: {x!r}: a value is NaN, infinite or beyond +-{MAX_ABS:g}")
    return float(v.reshape(-1)[0]) if width == 1 else v.reshape(width)


def as_series(data, what: str, width: int = 1, covariates: int = 0) -> Series:
    """A :class:`Series` as it is, or values alone (a sequence of numbers, or of rows of
    ``width`` numbers) as a series whose timestamps are the positions 0, 1, ...; checked:
    ``width`` value columns, every value finite and within +-MAX_ABS, and (``covariates``
    > 0) covariates given."""
    if not isinstance(data, Series):
        try:
            values = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise TaskError(f"{what}: not a sequence of numbers ({e})") from None
        if values.ndim == 0:
            raise TaskError(f"{what}: one number ({data!r}); give a sequence of numbers")
        if width == 1 and values.ndim == 2 and values.shape[1] == 1:
            values = values.reshape(-1)  # one column
        if width == 1 and values.ndim != 1:
            raise TaskError(f"{what}: values of shape {values.shape}; the run reads one "
                            "value column (a sequence of numbers)")
        data = Series(np.arange(len(values)), values)
    if data.width != width or (width > 1 and data.values.ndim != 2):
        raise TaskError(f"{what}: {data.width} value column(s); the run reads {width} "
                        f"(values of shape (N, {width}))")
    for name, a in (("value", data.values), ("covariate", data.covariates)):
        if a is not None and not (np.abs(a) <= MAX_ABS).all():
            raise TaskError(f"{what}: holds a {name} that is NaN, infinite or beyond "
                            f"+-{MAX_ABS:g}")
    if covariates and (data.covariates is None or data.covariates.shape[1:] != (covariates,)):
        raise TaskError(f"{what}: the run reads {covariates} covariate column(s): give a "
                        "Series with covariates (read_file reads them from a CSV)")
    return data
