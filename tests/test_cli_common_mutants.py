"""What the subcommands share (``rnnkit/cli/common.py``): user errors as one line and an exit
code, JSON lines written in flushed blocks, CSV columns with defined cells (found by
mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import argparse
import io
import json
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from rnnkit._optional import MissingExtraError
from rnnkit.cli import common
from rnnkit.cli.common import add_command, print_records, say, write_columns
from rnnkit.data.datasets import DataError
from rnnkit.tasks import TaskError
from rnnkit.training import CheckpointError, ConfigError, NonFiniteLossError


def _parser(run):
    parser = argparse.ArgumentParser(prog="rnnkit")
    sub = parser.add_subparsers(dest="command")
    add_command(sub, "demo", "Shows 100% of it.", "rnnkit demo X", run)
    return parser, sub


@pytest.mark.parametrize("error, code", [
    (ConfigError("bad key"), 2), (CheckpointError("bad key"), 1), (TaskError("bad key"), 1),
    (NonFiniteLossError("bad key"), 1), (FileNotFoundError("bad key"), 1),
    (DataError("bad key"), 1), (MissingExtraError("bad key"), 1)])
def test_a_user_error_is_one_line_on_stderr_and_an_exit_code(error, code, capsys):
    def run(args):
        raise error
    parser, _ = _parser(run)
    args = parser.parse_args(["demo"])
    assert args.run(args) == code
    out, err = capsys.readouterr()
    assert out == "" and err == "rnnkit demo: error: bad key\n"


def test_other_errors_are_not_hidden_and_a_result_passes_through(capsys):
    def run(args):
        if args.command == "demo":
            raise RuntimeError("a bug")
    parser, _ = _parser(run)
    args = parser.parse_args(["demo"])
    with pytest.raises(RuntimeError, match="a bug"):
        args.run(args)
    parser, _ = _parser(lambda args: 7)
    args = parser.parse_args(["demo"])
    assert args.run(args) == 7


def test_the_help_shows_the_text_and_ends_with_the_example(capsys):
    parser, sub = _parser(lambda args: 0)
    demo = sub.choices["demo"]
    assert demo.description == "Shows 100% of it."
    assert demo.epilog == "example:\n  rnnkit demo X"
    assert isinstance(demo.formatter_class, type)
    assert issubclass(demo.formatter_class, argparse.RawDescriptionHelpFormatter)
    parser.print_help()  # the % in the help line is escaped for argparse
    assert "Shows 100% of it." in capsys.readouterr().out


def test_say_writes_to_stderr_and_flushes_it(capsys, monkeypatch):
    say("a", 1)
    assert capsys.readouterr() == ("", "a 1\n")
    err = Recorder()
    monkeypatch.setattr(sys, "stderr", err)
    say("progress")
    assert err.flushed == ["progress\n"]


class Recorder(io.StringIO):
    def __init__(self):
        super().__init__()
        self.flushed = []  # the text written so far at each flush

    def flush(self):
        self.flushed.append(self.getvalue())


def test_records_are_json_lines_written_in_blocks_of_256(monkeypatch):
    out = Recorder()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(common, "time", SimpleNamespace(monotonic=lambda: 0.0))  # stopped
    seen = []

    def records():
        for i in range(300):
            seen.append(out.getvalue().count("\n"))  # lines written before record i
            yield {"i": i, "text": "é"}
    print_records(records())
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["i"] for line in lines] == list(range(300))
    assert lines[0] == '{"i": 0, "text": "é"}'  # not escaped
    assert seen[256] == 256 and seen[255] == 0  # the first block went out whole
    assert [s.count("\n") for s in out.flushed] == [256, 300]


def test_records_are_flushed_when_time_passes(monkeypatch):
    out = Recorder()
    monkeypatch.setattr(sys, "stdout", out)
    clock = iter(np.arange(0, 100, 0.06))  # each record 0.06 s after the last
    monkeypatch.setattr(common, "time", SimpleNamespace(monotonic=lambda: float(next(clock))))
    print_records({"i": i} for i in range(5))
    assert [s.count("\n") for s in out.flushed] == [2, 4, 5]
    out = Recorder()  # exactly `every` after the last write: written
    monkeypatch.setattr(sys, "stdout", out)
    ticks = iter([0.0, 0.05, 0.1, 0.1, 0.15, 9.0])  # (9.0: the empty call below)
    monkeypatch.setattr(common, "time", SimpleNamespace(monotonic=lambda: next(ticks)))
    print_records({"i": i} for i in range(3))
    assert [s.count("\n") for s in out.flushed] == [2, 3]
    out = Recorder()
    monkeypatch.setattr(sys, "stdout", out)
    print_records(iter([]))
    assert out.getvalue() == "" and out.flushed == [""]


def test_columns_go_to_stdout_or_a_file_with_defined_cells(tmp_path, capsys):
    columns = {"t": [np.datetime64("2020-01-02T03:04"), np.datetime64("2020-01-03")],
               "value": [1.23456789, np.float32(0.5)], "alarm": [True, np.bool_(False)],
               "n": [3, None], "name": ["a,b", "c"]}
    assert write_columns(None, columns) == "2 rows"
    assert capsys.readouterr().out == ("t,value,alarm,n,name\n2020-01-02 03:04,1.23457,1,3,"
                                       '"a,b"\n2020-01-03,0.5,0,,c\n')
    path = tmp_path / "new" / "folders" / "out.csv"
    assert write_columns(path, columns) == f"wrote {path}"
    assert path.read_bytes() == (b"t,value,alarm,n,name\r\n2020-01-02 03:04,1.23457,1,3,"
                                 b'"a,b"\r\n2020-01-03,0.5,0,,c\r\n')
    assert write_columns(str(tmp_path / "e.csv"), {"x": []}) == f"wrote {tmp_path / 'e.csv'}"
    assert (tmp_path / "e.csv").read_text() == "x\n"


def test_a_write_that_fails_halfway_leaves_the_earlier_file_whole(tmp_path, monkeypatch):
    """A full disk (or Ctrl-C) while the CSV is written: the error names the output file,
    an earlier file of that name is kept as it was, and no part file is left behind."""
    import csv

    path = tmp_path / "out.csv"
    write_columns(path, {"x": [1, 2]})
    before = path.read_bytes()

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def writerow(self, row):
            self.f.write("half a line")

        def writerows(self, rows):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(csv, "writer", FullDisk)
    with pytest.raises(OSError) as e:
        write_columns(path, {"x": [3, 4]})
    assert e.value.filename == str(path) and e.value.errno == 28
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_link_such_as_dev_stdout_is_written_through_and_stays_a_link(tmp_path):
    target, link = tmp_path / "target.csv", tmp_path / "link.csv"
    target.write_text("old\n")
    link.symlink_to(target)
    assert write_columns(link, {"x": [1]}) == f"wrote {link}"
    assert link.is_symlink() and target.read_bytes() == b"x\r\n1\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "target.csv"]


def test_an_os_error_is_one_line_but_a_closed_pipe_is_left_to_main(capsys):
    def run(args):
        raise OSError(28, "No space left on device", "runs/x/metrics.jsonl")
    parser, _ = _parser(run)
    args = parser.parse_args(["demo"])
    assert args.run(args) == 1
    assert capsys.readouterr().err == ("rnnkit demo: error: [Errno 28] No space left on "
                                       "device: 'runs/x/metrics.jsonl'\n")

    def closed(args):
        raise BrokenPipeError(32, "Broken pipe")
    parser, _ = _parser(closed)
    args = parser.parse_args(["demo"])
    with pytest.raises(BrokenPipeError):
        args.run(args)


def test_warnings_print_as_one_line_and_the_format_is_restored():
    """Python prints a warning with its file, line and source line; the CLI prints
    ``warning: <message>`` (a subprocess: pytest records warnings instead of printing)."""
    import subprocess

    code = ("import warnings, rnnkit.cli.evaluate as e\n"
            "from rnnkit.cli.main import main\n"
            "shown = warnings.formatwarning\n"
            "e.run = lambda args: warnings.warn('the file has 2 blank lines') or 0\n"
            "assert main(['evaluate', 'x']) == 0\n"
            "assert warnings.formatwarning is shown\n"
            "warnings.warn('after main')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert lines[0] == "warning: the file has 2 blank lines"
    assert lines[1].endswith("UserWarning: after main")  # Python's own format again
