"""What the subcommands share: the errors they turn into one-line messages."""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import json
import signal
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._files import naming, strict
from .._optional import MissingExtraError
from ..data.datasets import DataError
from ..tasks import TaskError
from ..training import CheckpointError, ConfigError, NonFiniteLossError

USER_ERRORS = (ConfigError, CheckpointError, TaskError, NonFiniteLossError, FileNotFoundError,
               DataError, MissingExtraError)


def add_command(sub, name: str, help: str, example: str, run) -> argparse.ArgumentParser:
    """A subcommand whose help ends with an example and whose errors are one clean message."""
    parser = sub.add_parser(name, help=help.replace("%", "%%"), description=help,
                            epilog=f"example:\n  {example}",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(run=functools.partial(_guarded, run))
    return parser


class Interrupted(KeyboardInterrupt):
    """A command stopped by a signal: SIGTERM (``kill``), or SIGINT (Ctrl-C) given a
    ``note`` (what was kept, how to go on)."""

    def __init__(self, signum: int = signal.SIGINT, note: str = ""):
        super().__init__(signum, note)
        self.signum, self.note = signum, note


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM raises :class:`Interrupted` as Ctrl-C raises KeyboardInterrupt, so that
    ``kill`` ends a command as cleanly (the trainer's own handler takes over while it
    trains)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _guarded(run, args) -> int:
    try:
        with _sigterm_interrupts():
            return run(args)
    except BrokenPipeError:  # the reader of stdout left: main() ends quietly
        raise
    except (*USER_ERRORS, OSError) as e:  # OSError: the machine's (a full disk, no access)
        print(f"rnnkit {args.command}: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, ConfigError) else 1
    except KeyboardInterrupt as e:  # one line and the shell's code (130, 143), no traceback
        signum, note = getattr(e, "signum", signal.SIGINT), getattr(e, "note", "")
        print(f"rnnkit {args.command}: interrupted by {signal.Signals(signum).name}{note}",
              file=sys.stderr)
        return 128 + signum


def say(*parts) -> None:
    """Human output: always stderr (stdout is for JSON)."""
    print(*parts, file=sys.stderr, flush=True)


def print_json(value) -> None:
    """One JSON object on stdout (a ``--json`` output), strict: non-finite numbers are null
    (an anomaly run without labelled windows has no precision, a diverged one no loss)."""
    print(json.dumps(strict(value), allow_nan=False), flush=True)


def print_records(records: Iterable[dict[str, Any]], every: float = 0.1) -> None:
    """One JSON object a line on stdout. Lines are written in blocks, flushed at least
    every ``every`` seconds and at the end (a reader of a pipe sees records as they come,
    without one system call a record)."""
    dumps, out, block = json.JSONEncoder(ensure_ascii=False).encode, sys.stdout, []
    last = time.monotonic()
    for record in records:
        block.append(dumps(record))
        if len(block) >= 256 or time.monotonic() - last >= every:
            out.write("\n".join(block) + "\n")
            out.flush()
            block, last = [], time.monotonic()
    if block:
        out.write("\n".join(block) + "\n")
    out.flush()


def write_columns(path: str | Path | None, columns: dict[str, list]) -> str:
    """Columns of equal length -> CSV with a header, to ``path`` (None: stdout); returns
    what to tell the user."""
    names = list(columns)
    rows = [[_cell(v) for v in row] for row in zip(*(columns[k] for k in names))]
    if path is None:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(names)
        w.writerows(rows)
        sys.stdout.flush()
        return f"{len(rows)} rows"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # /dev/stdout (a link), a named pipe, a device: written through as it is
    special = path.is_symlink() or (path.exists() and not path.is_file())
    part = path if special else path.with_name(f".{path.name}.part")  # renamed when whole:
    try:  # a full disk or Ctrl-C never leaves a cut file, nor spoils an earlier one
        with naming(path), open(part, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(names)
            w.writerows(rows)
        if not special:
            part.replace(path)
    finally:
        if not special:
            part.unlink(missing_ok=True)
    return f"wrote {path}"


def _cell(v) -> str:
    if v is None:  # a value the model could not give (strict JSON's null): an empty cell
        return ""
    if isinstance(v, np.datetime64):
        return str(v).replace("T", " ")
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)
