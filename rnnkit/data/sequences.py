"""Labelled numeric sequences (sensors, motion, physiological signals) from files.

Every reader returns a list of :class:`Sequence` (:mod:`rnnkit.data.labelled`): ``x``
(T_i, F) float64 (one row per time step, one column per feature/channel; lengths may
differ), ``label`` (a string, None when the file has none) and ``where`` (file and line,
for messages). Missing values (``?``, ``NaN``, an empty CSV cell; in tables also ``NA``,
``N/A``, ``null`` ...: :data:`~rnnkit.data.tables.MISSING`) are read as NaN; the task decides
what to do with them.

- UEA/UCR ``.ts`` (:func:`read_ts`), the archive's own format: ``#`` (or ``%``) comments,
  a header of ``@problemName``, ``@univariate``/``@dimensions``, ``@equalLength``/``@seriesLength``,
  ``@classLabel true <labels...>`` (or ``@targetLabel true`` for regression, ``false``
  for no label), ``@data``; then one series a line, channels separated by ``:``, values by
  ``,``, the label last. Timestamped files (``@timeStamps true``) are not read.
- ``.npz`` (:func:`read_npz`): ``X`` (N, T, F) — time before features (fewer steps than
  features is warned about: aeon and sktime keep (N, channels, time)) — or (N, T) for one
  feature; ``lengths`` (N,) optional, for variable lengths (each row of ``X`` padded to the
  longest: only the first ``lengths[i]`` steps are read; without it, steps that are NaN in
  every feature at the end of a row are padding, as tslearn writes them); ``y`` (N,) or
  (N, 1) optional, any dtype; other arrays are not read. Object arrays (ragged ``X``, strings from
  pandas' ``.values``) are refused: loading them runs pickle, which can execute code from
  the file.
- long-format CSV/TSV/JSON-lines (:func:`read_long_table`, from
  :mod:`rnnkit.data.long_tables`): one row per (sequence, time step): ``id, t, feature...,
  label``. Rows of one id form one sequence, ordered by ``t`` (numbers or dates; without a
  time column, file order); the features are ``value_columns`` (default: every column but
  the id, time and label columns).

Named sets (:func:`uea_files`, from :mod:`rnnkit.data.uea`): ``BasicMotions`` and
``JapaneseVowels`` as the official TRAIN/TEST ``.ts`` files, cached and checked against their
sha256.

    python -m rnnkit.data.sequences BasicMotions JapaneseVowels   # fill the cache from aeon
"""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np

from .datasets import DataError
from .labelled import Sequence
from .long_tables import read_long_table
from .tables import FORMATS
from .uea import UEA_SETS, uea_files

__all__ = ["UEA_SETS", "Sequence", "read_long_table", "read_npz", "read_sequences", "read_ts",
           "ts_target", "uea_files"]


def read_sequences(path: str | Path, *, id_column: str = "id", time_column: str = "t",
                   label_column: str = "label", value_columns: list[str] | None = None,
                   whole: bool = False) -> list[Sequence]:
    """The sequences of a ``.ts``, ``.npz`` or long-format table (by suffix); ``whole``: a
    table without the id column is one sequence (:func:`read_long_table`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".ts":
        return read_ts(path)
    if suffix == ".npz":
        return read_npz(path)
    if suffix in FORMATS:
        return read_long_table(path, id_column=id_column, time_column=time_column,
                               label_column=label_column, value_columns=value_columns,
                               whole=whole)
    raise DataError(f"{path}: unknown sequence format {path.suffix!r}; use .ts (UEA/UCR), "
                    ".npz (X, y) or a long-format .csv/.tsv/.jsonl (id, t, features, label)")


# -- .ts ------------------------------------------------------------------------------------
_BOOLEANS = ("timestamps", "missing", "univariate", "equallength", "targetlabel")


def _text_lines(path: Path) -> list[str]:
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8-sig").split("\n")
    except UnicodeDecodeError as e:
        line = e.object[:e.start].count(b"\n") + 1  # (e.start counts after a BOM)
        raise DataError(f"{path}:{line}: not valid UTF-8 (byte {e.object[e.start]:#04x})") from None


def _ts_header(path: Path, lines: list[str]) -> tuple[dict, int]:
    """(header values, index of the first data line)."""
    head: dict = {"univariate": None, "dimensions": None, "equallength": None,
                  "serieslength": None, "classlabel": None, "classes": [],
                  "targetlabel": False, "timestamps": False}
    for i, line in enumerate(lines):
        n, tokens = i + 1, line.split()
        if not tokens or tokens[0][0] in "#%":  # comments (% as in ARFF)
            continue
        if not tokens[0].startswith("@"):
            raise DataError(f"{path}:{n}: data before the @data line (expected a @tag)")
        key, args = tokens[0][1:].lower(), tokens[1:]
        if key == "data":
            if head["timestamps"]:
                raise DataError(f"{path}: @timeStamps true: timestamped .ts files are not "
                                "read; write the values without time stamps")
            if head["classlabel"] is None and not head["targetlabel"]:
                raise DataError(f"{path}:{n}: the header says nothing of labels: add "
                                "@classLabel true <labels...>, @classLabel false or "
                                "@targetLabel true before @data")
            return head, i + 1
        if key in _BOOLEANS or key == "classlabel":
            if not args or args[0].lower() not in ("true", "false"):
                raise DataError(f"{path}:{n}: @{tokens[0][1:]} needs true or false")
            head[key] = args[0].lower() == "true"
            if key == "classlabel":
                head["classes"] = args[1:]
                if head[key] and not args[1:]:
                    raise DataError(f"{path}:{n}: @classLabel true needs the class labels")
        elif key in ("dimensions", "serieslength"):
            if len(args) != 1 or not args[0].isdigit() or int(args[0]) < 1:
                raise DataError(f"{path}:{n}: @{tokens[0][1:]} needs a positive whole number")
            head[key] = int(args[0])
    raise DataError(f"{path}: no @data line (is this a UEA/UCR .ts file?)")


def read_ts(path: str | Path) -> list[Sequence]:
    """The series of a UEA/UCR ``.ts`` file (see the module docstring)."""
    path = Path(path)
    lines = _text_lines(path)
    head, start = _ts_header(path, lines)
    labelled = bool(head["classlabel"] or head["targetlabel"])
    channels = 1 if head["univariate"] else head["dimensions"]
    out, skipped = [], []
    for i in range(start, len(lines)):
        n, line = i + 1, lines[i].strip()
        if not line:
            if i < len(lines) - 1:
                skipped.append(n)
            continue
        fields = line.split(":")
        label = fields.pop().strip() if labelled else None
        if labelled and "," in label and label not in head["classes"]:
            _no_label(path, n, label, head)
        if not fields:
            raise DataError(f"{path}:{n}: no values, only a label {label!r} (a series line is "
                            "values:values:...:label)")
        if channels is None:
            channels = len(fields)
        if len(fields) != channels:
            hint = (" (is the class label missing?)" if labelled and len(fields) == channels - 1
                    else "")
            raise DataError(f"{path}:{n}: {len(fields)} channel(s), expected {channels} "
                            f"(channels are separated by ':', the label comes last){hint}")
        values = [_values(path, n, c, f) for c, f in enumerate(fields)]
        if len({len(v) for v in values}) > 1:
            raise DataError(f"{path}:{n}: the channels of one series must be equally long, "
                            f"got {[len(v) for v in values]} values (pad the shorter ones "
                            "with ? at the end: missing values)")
        x = np.stack(values, axis=1)  # (T, F)
        if labelled:
            label = _ts_label(path, n, label, head)
        out.append(Sequence(x, label, f"{path}:{n}"))
        _check_length(path, n, len(x), head, out)
    if not out:
        raise DataError(f"{path}: no series after @data")
    _note_skipped(path, skipped)
    return out


def _no_label(path: Path, n: int, values: str, head: dict) -> None:
    """The error for a series line without its label (the last field holds values)."""
    tag, example = ("@targetLabel", "2.5") if head["targetlabel"] else ("@classLabel",
                                                                      head["classes"][0])
    shown = values if len(values) <= 40 else values[:40] + "..."
    raise DataError(f"{path}:{n}: no label: the line ends in values ({shown!r}), but the "
                    f"header says {tag} true: end each series with its label (...:{example}), "
                    f"or write {tag} false for series without labels")


def ts_target(path: str | Path) -> str | None:
    """What a ``.ts`` file's header says each series carries: ``"class"`` (``@classLabel
    true``), ``"value"`` (``@targetLabel true``, regression) or None; reads up to ``@data``."""
    path = Path(path)
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        head, _ = _ts_header(path, f)
    return "value" if head["targetlabel"] else "class" if head["classlabel"] else None


def _values(path: Path, n: int, channel: int, text: str) -> np.ndarray:
    parts = text.split(",")
    if not text.strip():
        raise DataError(f"{path}:{n}: channel {channel + 1} holds no values")
    out = []
    for j, v in enumerate(parts):
        v = v.strip()
        try:
            out.append(math.nan if v == "?" else float(v))
        except ValueError:
            raise DataError(f"{path}:{n}: channel {channel + 1}, value {j + 1}: {v!r} is not "
                            "a number (missing values are written '?')") from None
    return np.array(out)  # (floats: float64)


def _ts_label(path: Path, n: int, label: str, head: dict) -> str:
    if not label:
        raise DataError(f"{path}:{n}: empty label: every series needs one (the last "
                        "':'-separated field)")
    if head["targetlabel"]:
        try:
            float(label)
        except ValueError:
            raise DataError(f"{path}:{n}: target {label!r} is not a number "
                            "(@targetLabel true)") from None
    else:  # any case, as aeon reads it; spelt as the header does (one class, one name)
        named = {c.lower(): c for c in reversed(head["classes"])}
        if label.lower() not in named:
            raise DataError(f"{path}:{n}: label {label!r} is not one of the @classLabel "
                            f"values {head['classes']}")
        return named[label.lower()] if label not in head["classes"] else label
    return label


def _check_length(path: Path, n: int, length: int, head: dict, seen: list[Sequence]) -> None:
    if not head["equallength"]:
        return
    want = head["serieslength"] or len(seen[0].x)
    if length != want:
        raise DataError(f"{path}:{n}: {length} time steps, but the header says every series "
                        f"has {want} (@equalLength true)")


def _note_skipped(path: Path, skipped: list[int]) -> None:
    if skipped:
        shown = ", ".join(map(str, skipped[:10])) + (" ..." if len(skipped) > 10 else "")
        warnings.warn(f"{path}: skipped {len(skipped)} blank line(s) (line {shown})",
                      stacklevel=3)


# -- .npz -----------------------------------------------------------------------------------
def read_npz(path: str | Path) -> list[Sequence]:
    """The sequences of an ``.npz`` file with ``X``, optional ``lengths`` and ``y``."""
    path = Path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e}") from None
    except Exception as e:  # zipfile and NumPy raise many kinds on a damaged file
        with open(path, "rb") as f:
            start = f.read(6)
        if start and start[:2] != b"PK" and start != b"\x93NUMPY":  # (read as a pickle)
            raise DataError(f"{path}: not an .npz file (a zip archive of NumPy arrays): it "
                            f"starts with {start!r}") from None
        raise _npz_error(path, e) from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):  # (the bytes of one .npy array)
        raise DataError(f"{path}: holds one .npy array, not an .npz archive of named arrays: "
                        "save with np.savez(path, X=..., y=...)")
    arrays, name, held = {}, "X", []
    try:
        with loaded as z:
            held = sorted(z.files)
            for name in ("X", "lengths", "y"):  # (any other array, metadata, is not read)
                if name in held:
                    arrays[name] = z[name]
    except Exception as e:  # zipfile, zlib and NumPy raise many kinds on a damaged member
        raise _npz_error(path, e, name) from None
    if "X" not in arrays:
        raise DataError(f"{path}: no array 'X' (it holds {held or 'nothing'})")
    X = arrays["X"]
    if X.dtype.kind not in ("f", "i", "u", "b") or X.ndim not in (2, 3):
        raise DataError(f"{path}: X must be numbers of shape (N, T, F) or (N, T), got "
                        f"{X.dtype} {X.shape}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 2:  # one feature
        X = X[..., None]
    N, T = X.shape[:2]
    if T < X.shape[2]:  # (aeon and sktime hold collections as (N, channels, time))
        warnings.warn(f"{path}: X {X.shape} is read as (N, T, F), {T} time step(s) of "
                      f"{X.shape[2]} features each; if its axes are (N, channels, time), as "
                      "aeon and sktime keep them, save X.transpose(0, 2, 1)", stacklevel=2)
    lengths = arrays["lengths"] if "lengths" in arrays else _unpadded(path, X)
    if lengths.shape != (N,) or lengths.dtype.kind not in ("i", "u"):
        raise DataError(f"{path}: lengths must be N = {N} whole numbers, got {lengths.dtype} "
                        f"{lengths.shape}")
    for i, n in enumerate(lengths):
        if not 1 <= n <= T:
            raise DataError(f"{path}: lengths[{i}] = {n}: must be within 1..{T} (X's time "
                            "axis)")
    y = arrays.get("y")
    if y is not None and y.shape == (N, 1):  # (a column, as Keras and scikit-learn keep it)
        y = y[:, 0]
    if y is not None and y.shape != (N,):
        raise DataError(f"{path}: y must have shape ({N},) like X's first axis, got {y.shape}"
                        + (": one label per sequence (one-hot rows? save y.argmax(1))"
                           if y.ndim == 2 and y.shape[0] == N else ""))
    return [Sequence(X[i, :lengths[i]], None if y is None else _npz_label(path, i, y[i]),
                     f"{path}: X[{i}]") for i in range(N)]


def _unpadded(path: Path, X: np.ndarray) -> np.ndarray:
    """Each row's length up to its last step with a value: NaN at every feature of the last
    steps is padding (tslearn's layout for variable lengths, a pivoted long table's)."""
    N, T = X.shape[:2]
    observed = ~np.isnan(X).all(axis=2) if X.shape[2] else np.ones((N, T), bool)  # (N, T)
    if not T:
        return np.zeros(N, dtype=int)
    for i in np.flatnonzero(~observed.any(axis=1)):
        raise DataError(f"{path}: X[{i}] is NaN at every step: every sequence needs a value")
    return T - np.argmax(observed[:, ::-1], axis=1)


def _npz_error(path: Path, e: Exception, name: str = "X") -> DataError:
    if "pickle" in str(e) and name == "y":
        return DataError(f"{path}: y is an object array (as pandas' .values of strings is), "
                         "which is not read (pickle can run code from the file): save "
                         "y.astype(str)")
    if "pickle" in str(e):
        return DataError(f"{path}: holds an object array; ragged X is not read (pickle can "
                         "run code from the file): pad X to (N, T_max, F) and give `lengths`")
    return DataError(f"{path}: not a readable .npz file ({str(e) or type(e).__name__})")


def _npz_label(path: Path, i: int, value) -> str:
    value = value.item()  # (y[i] of an array: a NumPy scalar)
    label = (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)).strip()
    if not label or label == "nan":
        raise DataError(f"{path}: y[{i}] is empty: every sequence needs a label")
    return label


if __name__ == "__main__":
    for set_name in sys.argv[1:] or sorted(UEA_SETS):
        for part, file in uea_files(set_name).items():
            print(f"{set_name} {part}: {file}")
