"""The charlm task's text checks (rnnkit/tasks/charlm.py) on hand-made files: where a bad
byte is (line and column counted from the file's start, a newline first), the too-short
message naming every file or none, the unknown-character warning of the validation part
(once, the first 20 distinct characters, at the caller's line); found by mutation testing
(benchmarks/mutation.py)."""

from __future__ import annotations

import linecache

import pytest

from rnnkit.data.datasets import DataError
from rnnkit.data.text import load_shakespeare
from rnnkit.tasks import TASKS
from rnnkit.tasks.charlm import _first_bad_byte, read_text
from rnnkit.tasks.runner import config_from_raw

TASK = TASKS["charlm"]
TRAIN = "the cat sat on the mat\n" * 10  # 230 characters


def _cfg(**task):
    return config_from_raw({"task": {"name": "charlm", "window": 8, "val_streams": 2, **task}},
                           "t")


@pytest.mark.parametrize("raw, line, column", [
    (b"\nab\nc\xff\n\n\n", 3, 2),  # newlines before it, at index 0, and after it
    (b"\nc\xff", 2, 2),  # the only newline before it is the file's first byte
    (b"ab\xff", 1, 3)])
def test_a_bad_byte_is_placed_by_the_newlines_before_it(tmp_path, raw, line, column):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(raw)
    with pytest.raises(DataError) as e:
        read_text(str(bad))
    assert str(e.value) == (f"task.text = {str(bad)!r}, line {line}, column {column}: byte "
                            "0xff is not UTF-8; save the file as UTF-8")


def test_a_file_that_reads_as_utf8_after_all_has_just_a_bad_byte(tmp_path):
    good = tmp_path / "good.txt"  # (what the message says when the file changed meanwhile)
    good.write_bytes(b"\xef\xbb\xbfplain text\n")
    assert _first_bad_byte(str(good)) == "a byte"


def test_too_short_names_every_file_given_or_none(tmp_path):
    (tmp_path / "train.txt").write_text("abcdef", encoding="utf-8")
    (tmp_path / "val.txt").write_text("abc", encoding="utf-8")
    train, val = str(tmp_path / "train.txt"), str(tmp_path / "val.txt")
    with pytest.raises(DataError) as e:
        TASK.make_splits(TASK.setup(_cfg(train_data=train, val_data=val)))
    assert str(e.value) == (
        f"task.train_data = {train!r}, task.val_data = {val!r}: the text is too short: 6 "
        "training characters (need more than task.window = 8) and 3 validation characters "
        "(need more than task.val_streams = 2); give a longer text, or lower task.window and "
        "task.val_streams")
    whole, held = load_shakespeare()  # tiny Shakespeare: no file named
    with pytest.raises(DataError) as e:
        TASK.make_splits(TASK.setup(_cfg(window=len(whole), val_streams=len(held))))
    assert str(e.value) == (
        f"the text is too short: {len(whole)} training characters (need more than task.window "
        f"= {len(whole)}) and {len(held)} validation characters (need more than "
        f"task.val_streams = {len(held)}); give a longer text, or lower task.window and "
        "task.val_streams")


def test_unknown_validation_characters_are_warned_once_at_the_caller(tmp_path):
    (tmp_path / "train.txt").write_text(TRAIN, encoding="utf-8")
    (tmp_path / "val.txt").write_text("ABCDEFGHIJKLMNOPQRSTUVWXYZ\n" * 2, encoding="utf-8")
    ctx = TASK.setup(_cfg(train_data=str(tmp_path / "train.txt"),
                          val_data=str(tmp_path / "val.txt")))  # test part: the validation one
    with pytest.warns(UserWarning) as caught:
        TASK.make_splits(ctx)
    assert [str(w.message) for w in caught] == [
        "the validation text holds 52 of its 54 characters (26 distinct: "
        "'ABCDEFGHIJKLMNOPQRST') that the training text lacks: they are read as <unk>, which "
        "the model never learns to predict"]
    # (under mutmut two trampoline frames stand between make_splits and this test: level 2
    # is the inner one, whose line calls make_splits itself; the outer calls the inner)
    code, (w,) = type(TASK).make_splits.__code__, caught
    if code.co_filename.endswith("trampoline.py"):
        assert w.filename == code.co_filename
        assert "func(*call_args" in linecache.getline(w.filename, w.lineno)
    else:
        assert w.filename == __file__
