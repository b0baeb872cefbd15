"""Reading a user's tables: CSV, TSV and JSON-lines (a .json file may instead hold one JSON
array of objects), with errors that name the file, the line and the column, and blank
lines counted rather than dropped silently.

    table = read_table("reviews.csv", ["text", "label"])
    table.rows        # list of dicts (column -> str), one per data row
    table.lines       # the file line of each row (1-based, the header is line 1)
    table.skipped     # lines skipped on purpose (blank), reported by the caller
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .datasets import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "tsv", ".jsonl": "jsonl",
           ".ndjson": "jsonl", ".json": "jsonl"}

# what spreadsheets, R and pandas write for a missing number (compared in lower case)
MISSING = frozenset({"", "?", "na", "n/a", "#n/a", "nan", "null", "none", "<na>"})


def is_missing(cell: str | None) -> bool:
    """Whether a table cell holds no number: empty, ``?`` (the UEA archive's mark), or
    ``NA``, ``N/A``, ``#N/A``, ``NaN``, ``null``, ``None``, ``<NA>`` in any case."""
    return cell is None or cell.strip().lower() in MISSING


def unnamed_and_blank(name: str, cells) -> bool:
    """Whether a column has no name and no value on any row (``None``: a row too short to
    reach it): what a separator at the end of every line (``a,b,c,`` as some spreadsheets
    export) makes. It is no column of data: never a default feature or value column."""
    return not name.strip() and all(c is None or not c.strip() for c in cells)


@dataclass
class Table:
    path: Path
    columns: list[str]
    rows: list[dict[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # blank lines
    decimal_comma: bool = False  # fields separated by semicolons: 10,5 is 10.5

    def note(self) -> str:
        """What was skipped, for the user ("" when nothing was)."""
        if not self.skipped:
            return ""
        shown = ", ".join(map(str, self.skipped[:10])) + (" ..." if len(self.skipped) > 10
                                                          else "")
        return f"{self.path}: skipped {len(self.skipped)} blank line(s) (line {shown})"


def table_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unknown table format {path.suffix!r}; use .csv, .tsv or "
                        ".jsonl (one JSON object a line)")
    return fmt


def read_table(path: str | Path, required: list[str], optional: list[str] = (),
               keys: str = "task.text_column / task.label_column ...") -> Table:
    """The rows of a CSV/TSV file with a header line, or of a JSON-lines file; every row
    must have each ``required`` column (a :class:`DataError` names the line otherwise); an
    ``optional`` column must be in the table but may be missing (JSON null or absent) on a
    row. ``keys``: the config keys that name the columns, for the message when one is
    missing."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a .csv, .tsv or .jsonl file")
    fmt = table_format(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = e.object[:e.start].count(b"\n") + 1  # (e.start counts after a BOM)
        raise DataError(f"{path}:{line}: not valid UTF-8 (byte {e.object[e.start]:#04x}); save the "
                        "file as UTF-8") from None
    table = _read_jsonl(path, text) if fmt == "jsonl" else _read_delimited(path, text, fmt)
    missing = [c for c in [*required, *optional] if c not in table.columns]
    if missing:
        raise DataError(f"{path}: no column {', '.join(map(repr, missing))}; the columns are "
                        f"{', '.join(map(repr, table.columns)) or 'none'} (name the right ones "
                        f"with {keys})")
    for row, line in zip(table.rows, table.lines):
        for c in required:
            if row.get(c) is None:  # (JSON-lines: absent, or null)
                raise DataError(f"{path}:{line}: column {c!r} is "
                                f"{'null' if c in row else 'missing'} on this row")
    if not table.rows:
        raise DataError(f"{path}: no data rows")
    return table


_SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}


_COMMA_NUMBER = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?")


def to_number(text: str, decimal_comma: bool = False) -> float:
    """``float(text)``; with ``decimal_comma`` (a file whose fields are separated by
    semicolons, as spreadsheets set to a decimal comma write them) ``10,5`` is 10.5 too
    (not in tab-separated files, where ``1,234`` may be a thousand and more). A ValueError
    for anything else (``1.234,5``: thousands marks are not read)."""
    try:
        return float(text)
    except ValueError:
        if decimal_comma and _COMMA_NUMBER.fullmatch(text.strip()):
            return float(text.replace(",", "."))
        raise


def sniff_delimiter(first_line: str) -> str:
    """A CSV's field separator from its header line: a comma, else a semicolon or a tab
    where the line has one and no comma (spreadsheets set to a decimal comma write
    semicolons)."""
    if "," not in first_line:
        for d in (";", "\t"):
            if d in first_line:
                return d
    return ","


def delimiter_of(f) -> str:
    """The field separator of the open text file ``f`` (rewound after), by
    :func:`sniff_delimiter` on its first non-blank line."""
    first = next((line for line in f if line.strip()), "")
    f.seek(0)
    return sniff_delimiter(first)


def _read_delimited(path: Path, text: str, fmt: str) -> Table:
    """A CSV's quotes quote (a quoted value may hold separators, line breaks and doubled
    quotes); a record that runs over several lines must then be quoted properly, or a stray
    quote would make the rows after it one value (an error naming the line it opens). A TSV
    is read the same way when the whole file is quoted properly (a spreadsheet's export);
    else its quotes are text, one row a line (GLUE/SST-style corpora)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if fmt == "tsv" else sniff_delimiter(first)
    lines = io.StringIO(text, newline="").readlines()  # (split as csv splits them)
    quoting = csv.QUOTE_MINIMAL
    if fmt == "tsv" and not _quoted_properly(lines, delimiter):
        quoting = csv.QUOTE_NONE
    reader = csv.reader(lines, delimiter=delimiter, quoting=quoting)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        header = []
    except csv.Error as e:
        raise DataError(f"{path}:1: cannot read the header: {e}") from None
    if not any(header):
        raise DataError(f"{path}: empty, or the first line (the header) is blank")
    dupes = {h for h in header if header.count(h) > 1}
    if dupes:
        raise DataError(f"{path}:1: the header repeats column(s) {sorted(dupes)}")
    table = Table(path, header, decimal_comma=delimiter == ";")
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:  # (a value past csv's size limit)
            _check_quotes(path, lines, start, reader.line_num, delimiter)
            raise DataError(f"{path}:{reader.line_num}: {e}") from None
        line = reader.line_num
        _check_quotes(path, lines, start, line, delimiter)
        if not any(cell.strip() for cell in row):
            table.skipped.append(line)
            continue
        if len(row) != len(header):
            raise DataError(f"{path}:{line}: {len(row)} fields, the header has {len(header)} "
                            f"(a {_SEPARATORS[delimiter]} inside a value needs quotes)")
        table.rows.append(dict(zip(header, row)))
        table.lines.append(line)
    return table


def _check_quotes(path: Path, lines: list[str], start: int, end: int, delimiter: str) -> None:
    """A :class:`DataError` when the record on lines ``start``-``end`` runs over several
    lines because of a quote that is not closed properly (a stray quote)."""
    if end > start and not _quoted_properly(lines[start - 1:end], delimiter):
        raise DataError(
            f"{path}:{start}: a quote opens a value here and is not closed properly before "
            f"line {end}, so lines {start}-{end} would be read as one value; inside a quoted "
            'value write a quote twice (""), or quote the whole value')


def _quoted_properly(lines: list[str], delimiter: str) -> bool:
    """Whether ``lines`` read as CSV with every quoted value closed, right before a
    separator or the end of its line (csv's ``strict`` reading)."""
    try:
        for _ in csv.reader(lines, delimiter=delimiter, strict=True):
            pass
    except csv.Error:
        return False
    return True


def _json_array(path: Path, text: str) -> list[tuple[int, object]]:
    """(line, item) for each item of a file holding one JSON array (a .json export)."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(items, list):
        raise DataError(f"{path}: expected a JSON array of objects or one object a line")
    decoder, out, at = json.JSONDecoder(), [], text.index("[") + 1
    for _ in items:  # each item's line: decoded again from where it starts
        at += len(text[at:]) - len(text[at:].lstrip(" \t\r\n,"))
        obj, end = decoder.raw_decode(text, at)
        out.append((text.count("\n", 0, at) + 1, obj))
        at = end
    return out


def _json_lines(path: Path, text: str, skipped: list[int]) -> list[tuple[int, object]]:
    """(line, item) for each non-blank line of a JSON-lines file (blank ones to ``skipped``)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it adds none
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            skipped.append(n)
            continue
        try:
            out.append((n, json.loads(line)))
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{n}: not valid JSON ({e.msg})") from None
    return out


def _read_jsonl(path: Path, text: str) -> Table:
    table = Table(path, [])
    seen: dict[str, None] = {}
    array = path.suffix.lower() == ".json" and text.lstrip().startswith("[")
    for n, obj in _json_array(path, text) if array else _json_lines(path, text, table.skipped):
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{n}: expected one JSON object a line, got "
                            f"{type(obj).__name__}")
        row = {}
        for k, v in obj.items():
            seen.setdefault(k)
            row[k] = v if v is None or isinstance(v, str) else json.dumps(v) if isinstance(
                v, (list, dict)) else str(v)
        table.rows.append(row)
        table.lines.append(n)
    table.columns = list(seen)
    return table
