"""Sequence readers (rnnkit/data/sequences.py) on small hand-made files whose parsed content
is known exactly, the whole error message of each malformed input (file, line, what to do),
and the named UEA sets copied from a fake aeon installation in tmp_path."""

import hashlib
import linecache
import math
import re
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data import uea
from rnnkit.data.datasets import DataError
from rnnkit.data.sequences import (
    read_long_table,
    read_npz,
    read_sequences,
    read_ts,
    ts_target,
    uea_files,
)


def _x(items):
    return [item.x.tolist() for item in items]


def _error(fn, *args, **kw):
    with pytest.raises(DataError) as e:
        fn(*args, **kw)
    return str(e.value)


def _nan_equal(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert (math.isnan(g) and math.isnan(w)) or g == w


# -- dispatch and file errors ---------------------------------------------------------------
def test_read_sequences_dispatches_by_suffix_with_the_table_options(tmp_path):
    (tmp_path / "a.TS").write_text("@univariate true\n@classLabel true p q\n@data\n1,2:p\n")
    items = read_sequences(tmp_path / "a.TS")
    assert _x(items) == [[[1.0], [2.0]]] and items[0].label == "p"
    (tmp_path / "t.csv").write_text("seq,when,u,v,kind\na,2,5,50,k\na,1,4,40,k\n")
    items = read_sequences(tmp_path / "t.csv", id_column="seq", time_column="when",
                           label_column="kind", value_columns=["v"])
    assert _x(items) == [[[40.0], [50.0]]] and items[0].label == "k"
    assert items[0].features == ("v",) and items[0].where == f"{tmp_path / 't.csv'}:2: seq a"
    (tmp_path / "d.csv").write_text("id,t,v,label\na,1,4,k\n")
    assert read_sequences(tmp_path / "d.csv")[0].label == "k"  # the default label column
    assert _error(read_sequences, tmp_path / "a.dat") == (
        f"{tmp_path / 'a.dat'}: unknown sequence format '.dat'; use .ts (UEA/UCR), .npz (X, y) "
        "or a long-format .csv/.tsv/.jsonl (id, t, features, label)")


def test_folders_missing_files_and_a_byte_order_mark(tmp_path):
    assert _error(read_ts, tmp_path) == f"{tmp_path}: is a folder; expected a file"
    assert _error(read_ts, tmp_path / "no.ts") == (
        f"{tmp_path / 'no.ts'}: cannot read: No such file or directory")
    (tmp_path / "bom.ts").write_bytes(b"\xef\xbb\xbf@univariate true\n@classLabel false\n"
                                      b"@data\n1,2\n")
    assert _x(read_ts(tmp_path / "bom.ts")) == [[[1.0], [2.0]]]


# -- .ts ------------------------------------------------------------------------------------
def _ts(tmp_path, text, name="x.ts"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_channels_are_inferred_from_the_first_series_without_a_header(tmp_path):
    path = _ts(tmp_path, "@classLabel false\n@data\n1,2:3,4\n5:6\n")
    assert _x(read_ts(path)) == [[[1.0, 3.0], [2.0, 4.0]], [[5.0, 6.0]]]
    path = _ts(tmp_path, "@classLabel false\n@data\n1,2:3,4\n5\n")
    assert _error(read_ts, path) == (
        f"{path}:4: 1 channel(s), expected 2 (channels are separated by ':', the label comes "
        "last)")  # unlabelled: no hint about a missing label


def test_univariate_and_dimensions_fix_the_channel_count(tmp_path):
    path = _ts(tmp_path, "@univariate true\n@classLabel false\n@data\n1:2\n")
    assert _error(read_ts, path).startswith(f"{path}:4: 2 channel(s), expected 1 (")
    path = _ts(tmp_path, "@dimensions 2\n@classLabel false\n@data\n1:2:3\n")
    assert _error(read_ts, path).endswith(": 3 channel(s), expected 2 (channels are separated "
                                          "by ':', the label comes last)")
    path = _ts(tmp_path, "@dimensions 1\n@seriesLength 1\n@equalLength true\n@classLabel false"
                         "\n@data\n7\n")
    assert _x(read_ts(path)) == [[[7.0]]]  # 1 is a positive whole number
    path = _ts(tmp_path, "@dimensions 2\n@classLabel true a\n@data\n1:2:a\n3:4:A\n")
    items = read_ts(path)
    assert [i.label for i in items] == ["a", "a"]  # one class is enough; labels in any case,
    # spelt as the header does
    assert items[1].where == f"{path}:5"


def test_class_labels_match_in_any_case_and_others_are_refused(tmp_path):
    path = _ts(tmp_path, "@univariate true\n@classLabel true up Down\n@data\n1:UP\n2:down\n")
    assert [i.label for i in read_ts(path)] == ["up", "Down"]  # the header's spelling
    path = _ts(tmp_path, "@univariate true\n@classLabel true up down\n@data\n1:left\n")
    assert _error(read_ts, path) == (
        f"{path}:4: label 'left' is not one of the @classLabel values ['up', 'down']")


@pytest.mark.parametrize("header, message", [
    ("@dimensions 0", "@dimensions needs a positive whole number"),
    ("@dimensions x", "@dimensions needs a positive whole number"),
    ("@dimensions 2 3", "@dimensions needs a positive whole number"),
    ("@seriesLength", "@seriesLength needs a positive whole number"),
    ("@Missing", "@Missing needs true or false"),
    ("@equalLength yes", "@equalLength needs true or false"),
])
def test_malformed_header_lines_name_the_line(tmp_path, header, message):
    path = _ts(tmp_path, f"# comment\n{header}\n@classLabel false\n@data\n1\n")
    assert _error(read_ts, path) == f"{path}:2: {message}"


def test_header_values_are_used(tmp_path):
    path = _ts(tmp_path, "@dimensions 2\n@classLabel false\n@data\n1:2:3\n")
    assert "expected 2" in _error(read_ts, path)
    path = _ts(tmp_path, "@univariate true\n@equalLength true\n@seriesLength 3\n"
                         "@classLabel false\n@data\n1,2\n")
    assert _error(read_ts, path) == (f"{path}:6: 2 time steps, but the header says every "
                                     "series has 3 (@equalLength true)")


def test_header_errors_say_what_to_write(tmp_path):
    path = _ts(tmp_path, "@univariate true\n@data\n1\n")
    assert _error(read_ts, path) == (
        f"{path}:2: the header says nothing of labels: add @classLabel true <labels...>, "
        "@classLabel false or @targetLabel true before @data")
    path = _ts(tmp_path, "Xyz 1\n@data\n1\n")  # only # and % start a comment
    assert _error(read_ts, path) == f"{path}:1: data before the @data line (expected a @tag)"
    path = _ts(tmp_path, "@univariate true\n@targetLabel true\n@data\n1:high\n")
    assert _error(read_ts, path) == (f"{path}:4: target 'high' is not a number "
                                     "(@targetLabel true)")
    path = _ts(tmp_path, "@univariate true\n@classLabel true a\n@data\n1:\n")
    assert _error(read_ts, path) == (f"{path}:4: empty label: every series needs one (the "
                                     "last ':'-separated field)")


def test_missing_values_anywhere_in_a_channel(tmp_path):
    path = _ts(tmp_path, "@univariate true\n@classLabel false\n@data\n?,7,8\n1, ? ,3\n")
    items = read_ts(path)
    _nan_equal(items[0].x[:, 0].tolist(), [math.nan, 7.0, 8.0])
    _nan_equal(items[1].x[:, 0].tolist(), [1.0, math.nan, 3.0])
    assert items[0].x.dtype == np.float64


def test_a_channel_count_one_short_hints_at_the_label(tmp_path):
    path = _ts(tmp_path, "@dimensions 2\n@classLabel true a\n@data\n1,2:a\n")
    assert _error(read_ts, path) == (
        f"{path}:4: 1 channel(s), expected 2 (channels are separated by ':', the label comes "
        "last) (is the class label missing?)")


def test_blank_lines_are_skipped_with_one_warning(tmp_path):
    path = _ts(tmp_path, "@univariate true\n@classLabel false\n@data\n1\n\n")  # blank at end
    with pytest.warns(UserWarning) as w:
        read_ts(path)
    assert [str(m.message) for m in w] == [f"{path}: skipped 1 blank line(s) (line 5)"]
    path = _ts(tmp_path, "@univariate true\n@classLabel false\n@data\n1\n" + "\n" * 10 + "2\n")
    with pytest.warns(UserWarning) as w:
        read_ts(path)
    assert str(w[0].message) == (f"{path}: skipped 10 blank line(s) (line 5, 6, 7, 8, 9, 10, "
                                 "11, 12, 13, 14)")
    path = _ts(tmp_path, "@univariate true\n@classLabel false\n@data\n1\n" + "\n" * 11 + "2\n")
    with pytest.warns(UserWarning) as w:
        read_ts(path)
    assert str(w[0].message) == (f"{path}: skipped 11 blank line(s) (line 5, 6, 7, 8, 9, 10, "
                                 "11, 12, 13, 14 ...)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_ts(_ts(tmp_path, "@univariate true\n@classLabel false\n@data\n1\n"))  # no blank


# -- .npz -----------------------------------------------------------------------------------
def test_npz_integer_x_float32_targets_and_where(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, X=np.array([[1, 2], [3, 4]], dtype=np.int16),
             y=np.array([0.5, 0.1], dtype=np.float32))
    items = read_npz(path)
    assert [i.x.dtype for i in items] == [np.float64] * 2 and _x(items) == [[[1], [2]],
                                                                           [[3], [4]]]
    assert [i.where for i in items] == [f"{path}: X[0]", f"{path}: X[1]"]
    # a label is the target's exact value (float32 0.1 is 0.100000001490116...)
    assert [i.label for i in items] == ["0.5", str(float(np.float32(0.1)))]
    np.savez(path, X=np.array([[True, False]]))
    assert _x(read_npz(path)) == [[[1.0], [0.0]]]
    np.savez(path, X=np.zeros((1, 2, 3), dtype=np.uint8), lengths=np.array([1], np.uint8))
    assert read_npz(path)[0].x.shape == (1, 3)


def test_npz_errors_say_what_is_wrong(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path)
    assert _error(read_npz, path) == f"{path}: no array 'X' (it holds nothing)"
    np.savez(path, X=np.array([[1j]]))
    assert _error(read_npz, path) == (f"{path}: X must be numbers of shape (N, T, F) or (N, T), "
                                      "got complex128 (1, 1)")
    np.savez(path, X=np.zeros((2, 3)), lengths=np.array([True, True]))
    assert _error(read_npz, path) == f"{path}: lengths must be N = 2 whole numbers, got bool (2,)"
    np.savez(path, X=np.zeros((2, 3)), lengths=np.array([3, 0]))
    assert _error(read_npz, path) == (f"{path}: lengths[1] = 0: must be within 1..3 (X's time "
                                      "axis)")
    np.savez(path, X=np.zeros((2, 3)), y=np.array([1.0, math.nan]))
    assert _error(read_npz, path) == f"{path}: y[1] is empty: every sequence needs a label"
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros(3), np.zeros(2)
    np.savez(path, X=ragged)
    assert _error(read_npz, path) == (
        f"{path}: holds an object array; ragged X is not read (pickle can run code from the "
        "file): pad X to (N, T_max, F) and give `lengths`")


def test_unreadable_npz_files(tmp_path):
    path = tmp_path / "a.npz"
    assert _error(read_npz, path).startswith(f"{path}: cannot read: [Errno 2] No such file")
    path.write_bytes(b"\x93NUMPYgarbage")
    assert _error(read_npz, path) == (f"{path}: not a readable .npz file (we only support "
                                      "format version (1,0), (2,0), and (3,0), not (103, 97))")
    np.savez(path, X=np.zeros((2, 3)))
    path.write_bytes(path.read_bytes()[:40])  # a download cut short: a broken zip
    assert _error(read_npz, path).startswith(f"{path}: not a readable .npz file (")


# -- long tables ----------------------------------------------------------------------------
def test_long_table_question_marks_single_rows_and_the_label_message(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("id,t,a,label\nq,0,?,x\nq,1,2,x\nr,5,1,y\n")
    items = read_long_table(path)
    _nan_equal(items[0].x[:, 0].tolist(), [math.nan, 2.0])
    assert [i.label for i in items] == ["x", "y"]  # r: a sequence of one row
    path.write_text("id,t,a,label\nq,0,1,x\nq,1,2,x\nq,2,3,z\n")
    assert _error(read_long_table, path) == (f"{path}:4: 'label' = 'z', but line 2 gives the "
                                             "same sequence 'x' (an id is one sequence with "
                                             "one label: if an id holds several recordings, "
                                             "give each its own id)")
    path.write_text("id,t,a,label\nq,0,1,x\nq,1,2,y\n")
    assert _error(read_long_table, path) == (f"{path}:3: 'label' = 'y', but line 2 gives the "
                                             "same sequence 'x' (an id is one sequence with "
                                             "one label: if an id holds several recordings, "
                                             "give each its own id)")
    path.write_text("id,t,a,label\nq,0,1,x\nq,1,2,\n")
    assert _error(read_long_table, path) == (f"{path}:3: empty 'label': every row of a "
                                             "sequence carries its label")


def test_long_table_times_that_cannot_be_ordered(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("id,t,a\nq,0,1\nq,1,2\nq,1pm,3\n")
    assert _error(read_long_table, path) == (f"{path}:4: column 't': '1pm' is neither a "
                                             "number nor a date/time (ISO 8601, or "
                                             "day/month/year as in 31/01/2024)")
    path.write_text("id,t,a\nq,3,1\nq,2024-01-01,2\n")
    assert _error(read_long_table, path) == (f"{path}:2: column 't': the sequence mixes "
                                             "numbers and dates, or date layouts")
    path.write_text("id,t,a\nq,2024-01-01T00:00,1\nq,2024-01-02T00:00+01:00,2\n")
    assert _error(read_long_table, path) == (f"{path}:2: column 't': the sequence mixes times "
                                             "with and without a UTC offset")


def test_long_table_missing_columns_name_the_format(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("id,a\nq,1\n")
    assert _error(read_long_table, path, value_columns=["b"], time_column="").endswith(
        " (long format: id, no time column, features..., label)")
    assert _error(read_long_table, path).endswith(" (long format: id, t, features..., label)")


def test_long_table_notes_warn_at_the_caller(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("id,t,a\nq,0,1\n\nq,1,2\n")
    with pytest.warns(UserWarning, match=r"skipped 1 blank line\(s\) \(line 3\)"):
        assert _x(read_long_table(path)) == [[[1.0], [2.0]]]


# -- named sets from a fake aeon ------------------------------------------------------------
TINY = {"train": "@univariate true\n@classLabel true a b\n@data\n1,2:a\n",
        "test": "@univariate true\n@classLabel true a b\n@data\n3:b\n"}


def _sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def fake_aeon(tmp_path, monkeypatch):
    """An aeon installation holding Tiny's two files; ``find_spec`` answers only for aeon."""
    package = tmp_path / "site" / "aeon"
    folder = package / "datasets" / "data" / "Tiny"
    folder.mkdir(parents=True)
    for split, text in TINY.items():
        (folder / f"Tiny_{split.upper()}.ts").write_text(text)
    spec = types.SimpleNamespace(submodule_search_locations=[str(package), "/elsewhere"])
    monkeypatch.setattr(uea.importlib.util, "find_spec",
                        lambda name: spec if name == "aeon" else None)
    monkeypatch.setitem(uea.UEA_SETS, "Tiny",
                        {split: _sha(text) for split, text in TINY.items()})
    return folder


def test_named_set_is_copied_from_aeon_verified_and_read(tmp_path, fake_aeon, capsys):
    root = tmp_path / "cache"
    files = uea_files("Tiny", root=root)
    want = {s: root / "uea" / "Tiny" / f"Tiny_{s.upper()}.ts" for s in ("train", "test")}
    assert files == want
    assert {s: p.read_text() for s, p in files.items()} == TINY
    assert sorted(p.name for p in want["train"].parent.iterdir()) == ["Tiny_TEST.ts",
                                                                      "Tiny_TRAIN.ts"]
    assert capsys.readouterr().err == "".join(
        f"copied {fake_aeon / p.name} -> {p}\n" for p in want.values())
    assert [i.label for i in read_ts(files["test"])] == ["b"]
    (fake_aeon / "Tiny_TRAIN.ts").unlink()  # the cache is used as it is
    assert uea_files("Tiny", root=root) == want and capsys.readouterr().err == ""


def test_named_set_from_the_data_root(tmp_path, fake_aeon, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "env"))
    assert uea_files("Tiny")["test"] == tmp_path / "env" / "uea" / "Tiny" / "Tiny_TEST.ts"


def test_named_set_errors(tmp_path, fake_aeon, monkeypatch):
    root = tmp_path / "cache"
    cached = root / "uea" / "Tiny" / "Tiny_TRAIN.ts"
    cached.parent.mkdir(parents=True)
    cached.write_text("changed\n")
    assert _error(uea_files, "Tiny", root=root) == (
        f"Tiny: {cached} has sha256 {_sha('changed' + chr(10))}, expected "
        f"{_sha(TINY['train'])}; the file is corrupt or another version: delete it to copy it "
        "again")
    cached.unlink()
    (fake_aeon / "Tiny_TRAIN.ts").write_text("other\n")
    assert _error(uea_files, "Tiny", root=root) == (
        f"Tiny: {fake_aeon / 'Tiny_TRAIN.ts'} has sha256 {_sha('other' + chr(10))}, expected "
        f"{_sha(TINY['train'])} (the file aeon 1.6 ships); put the expected file into "
        f"{cached.parent}")
    assert not cached.exists()
    (fake_aeon / "Tiny_TRAIN.ts").unlink()
    assert _error(uea_files, "Tiny", root=root) == (
        f"Tiny: the installed aeon ({fake_aeon.parents[2]}) has no Tiny_TRAIN.ts; put the file "
        f"into {cached.parent}")
    monkeypatch.setattr(uea.importlib.util, "find_spec",
                        lambda name: types.SimpleNamespace(submodule_search_locations=[]))
    assert _error(uea_files, "Tiny", root=root) == (
        f"Tiny: {cached} not found. rnnkit copies it from the files the aeon package ships: "
        "pip install aeon (or pip install 'rnnkit[bench]'), or put Tiny_TRAIN.ts "
        f"(timeseriesclassification.com, Tiny.zip) into {cached.parent}")


# -- what the re-run after the .ts and .npz fixes found untested ----------------------------
def test_a_line_without_its_label_shows_40_characters_of_its_values(tmp_path):
    head = "@univariate true\n@classLabel true a b\n@data\n"
    for values, shown in (("1," * 19 + "22", "1," * 19 + "22"),     # 40 characters: whole
                          ("1," * 20 + "3", "1," * 20 + "..."),     # 41: the first 40 ...
                          ("1," * 30 + "3", "1," * 20 + "...")):
        path = _ts(tmp_path, head + values + "\n")
        assert _error(read_ts, path) == (
            f"{path}:4: no label: the line ends in values ({shown!r}), but the header says "
            "@classLabel true: end each series with its label (...:a), or write @classLabel "
            "false for series without labels")


def test_a_regression_line_without_its_target_names_target_label(tmp_path):
    # (no @classLabel line at all: the header's classes are still read as none)
    path = _ts(tmp_path, "@univariate true\n@targetLabel true\n@data\n1,2:0.5\n1,2,3\n")
    assert _error(read_ts, path) == (
        f"{path}:5: no label: the line ends in values ('1,2,3'), but the header says "
        "@targetLabel true: end each series with its label (...:2.5), or write @targetLabel "
        "false for series without labels")


def test_a_label_alone_on_its_line_is_named(tmp_path):
    path = _ts(tmp_path, "@univariate true\n@classLabel true a b\n@data\n1,2:a\nb\n")
    assert _error(read_ts, path) == (f"{path}:5: no values, only a label 'b' (a series line "
                                     "is values:values:...:label)")


def test_a_label_spelt_as_one_of_two_header_classes_keeps_its_spelling(tmp_path):
    # ('walk' and 'Walk' both in the header: each line keeps the one it wrote; 'WALK' takes
    # the first of the header's)
    path = _ts(tmp_path, "@univariate true\n@classLabel true Walk walk\n@data\n"
                         "1:walk\n2:Walk\n3:WALK\n")
    assert [s.label for s in read_ts(path)] == ["walk", "Walk", "Walk"]


def test_blank_line_warning_points_at_the_caller_of_read_ts(tmp_path):
    path = _ts(tmp_path, "@univariate true\n@classLabel false\n@data\n1\n\n2\n")
    with pytest.warns(UserWarning) as caught:
        read_ts(path)
    # (under mutmut each call passes two trampoline frames: level 3 is _note_skipped's outer one)
    trampolined = read_ts.__code__.co_filename.endswith("trampoline.py")
    assert caught[0].filename == (read_ts.__code__.co_filename if trampolined else __file__)


def test_ts_target_reads_what_the_header_says_each_series_carries(tmp_path):
    for header, want in (("@classLabel true a b", "class"), ("@targetLabel true", "value"),
                         ("@classLabel false", None)):
        path = _ts(tmp_path, f"# a comment \xe9\n@univariate true\n{header}\n@data\n1:a\n")
        assert ts_target(path) == want
    # a byte-order mark, and a bad byte in a comment (read as a replacement character)
    path = tmp_path / "bom.ts"
    path.write_bytes(b"\xef\xbb\xbf@problemName p\n# \xff\n@targetLabel true\n@data\n1:2\n")
    assert ts_target(path) == "value"
    path = _ts(tmp_path, "@problemName p\n1,2:a\n")
    assert _error(ts_target, path) == (f"{path}:2: data before the @data line (expected a "
                                       "@tag)")


def test_read_sequences_needs_the_id_column_unless_whole(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("t,a\n0,1\n1,2\n")
    message = _error(read_sequences, path)
    assert message.startswith(f"{path}: ") and "'id'" in message
    assert _x(read_sequences(path, whole=True)) == [[[1.0], [2.0]]]


def test_npz_labels_of_bytes_with_a_bad_byte_are_read_with_a_replacement(tmp_path):
    path = tmp_path / "b.npz"
    np.savez(path, X=np.zeros((2, 1)), y=np.array([b"ok", b"caf\xe9"]))
    assert [s.label for s in read_npz(path)] == ["ok", "caf\ufffd"]


def test_npz_of_one_array_and_the_one_hot_hint(tmp_path):
    path = tmp_path / "one.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((2, 3)))
    assert _error(read_npz, path) == (f"{path}: holds one .npy array, not an .npz archive of "
                                      "named arrays: save with np.savez(path, X=..., y=...)")
    np.savez(path, X=np.zeros((2, 3)), y=np.eye(2))
    assert _error(read_npz, path) == (f"{path}: y must have shape (2,) like X's first axis, got "
                                      "(2, 2): one label per sequence (one-hot rows? save "
                                      "y.argmax(1))")
    for y in (np.zeros((3, 2)), np.zeros(3), np.zeros((2, 2, 1))):  # (no one-hot rows)
        np.savez(path, X=np.zeros((2, 3)), y=y)
        assert _error(read_npz, path) == (f"{path}: y must have shape (2,) like X's first "
                                          f"axis, got {y.shape}")


def test_npz_without_features_or_steps(tmp_path):
    path = tmp_path / "e.npz"
    np.savez(path, X=np.zeros((2, 3, 0)))  # no features: no step is padding
    items = read_npz(path)
    assert [s.x.shape for s in items] == [(3, 0), (3, 0)]
    np.savez(path, X=np.zeros((2, 0, 1)))  # no steps
    assert _error(read_npz, path) == (f"{path}: lengths[0] = 0: must be within 1..0 (X's time "
                                      "axis)")


def test_an_npz_error_without_words_names_its_kind():
    from rnnkit.data.sequences import _npz_error
    assert str(_npz_error(Path("a.npz"), ValueError())) == ("a.npz: not a readable .npz file "
                                                             "(ValueError)")


def test_a_file_that_is_not_numpy_is_not_called_an_object_array(tmp_path):
    path = tmp_path / "page.npz"
    for text in (b"<html><body>Not found</body></html>", b"X,y\n1,2\n"):
        path.write_bytes(text)
        assert _error(read_npz, path) == (f"{path}: not an .npz file (a zip archive of NumPy "
                                          f"arrays): it starts with {text[:6]!r}")
    path.write_bytes(b"")
    assert _error(read_npz, path) == f"{path}: not a readable .npz file (No data left in file)"
    objects = np.empty(2, dtype=object)
    objects[0], objects[1] = 1, "a"
    with open(path, "wb") as f:  # (one .npy object array: NumPy's magic, then a pickle)
        np.save(f, objects)
    assert _error(read_npz, path) == (
        f"{path}: holds an object array; ragged X is not read (pickle can run code from the "
        "file): pad X to (N, T_max, F) and give `lengths`")


# -- long tables: what the re-run after the one-sequence reading found untested -------------
def _csv(tmp_path, text, name="l.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_long_table_without_the_id_column_is_one_sequence_only_when_whole(tmp_path):
    path = _csv(tmp_path, "t,a\n1,5\n0,4\n")
    keys = "task.id_column, task.time_column, task.label_column, task.value_columns"
    assert _error(read_long_table, path) == (
        f"{path}: no column 'id'; the columns are 't', 'a' (name the right ones with {keys}) "
        "(long format: id, t, features..., label)")
    assert _x(read_long_table(path, whole=True)) == [[[4.0], [5.0]]]
    assert _error(read_long_table, path, whole=True, value_columns=["a", "b"]) == (
        f"{path}: no column 'b'; the columns are 't', 'a' (name the right ones with {keys}) "
        "(long format: id, t, features..., label)")
    path = _csv(tmp_path, "t,label\n1,x\n")
    assert _error(read_long_table, path, whole=True) == (
        f"{path}: no feature columns besides '', 't' and 'label'")


def test_a_whole_json_lines_table_needs_the_time_on_every_row(tmp_path):
    path = _csv(tmp_path, '{"t": null, "v": 1}\n{"t": 2, "v": 3}\n', "w.jsonl")
    assert _error(read_long_table, path, whole=True) == (
        f"{path}:1: column 't' is null on this row (long format: no id column, t, "
        "features..., label)")
    path = _csv(tmp_path, '{"t": 1, "v": 1}\n{"v": 3}\n', "w.jsonl")
    assert _error(read_long_table, path, whole=True) == (
        f"{path}:2: column 't' is missing on this row (long format: no id column, t, "
        "features..., label)")
    path = _csv(tmp_path, '{"v": 1}\n{"v": 3}\n', "w.jsonl")  # (no time column: file order)
    assert _x(read_long_table(path, whole=True)) == [[[1.0], [3.0]]]


def test_a_word_in_a_feature_column_gets_the_advice_that_fits(tmp_path):
    def message(text, **kw):
        return _error(read_long_table, _csv(tmp_path, text), **kw).split(" is not a number")[1]
    # the features named by the user: nothing to guess
    assert message("id,t,a,b\nq,0,1,x\n", value_columns=["a", "b"]) == (
        " (leave a missing value empty, or write ? or NA)")
    # guessed, with a label column: the other features as the ones to name
    assert message("id,t,a,b,c,label\nq,0,1,x,2,k\n") == (
        " (leave a missing value empty, or write ? or NA; if 'b' is not a feature, name the "
        'features with task.value_columns, e.g. ["a", "c"])')
    assert message("id,t,b,label\nq,0,x,k\n") == (  # (the only feature: no others to name)
        " (leave a missing value empty, or write ? or NA)")
    # a comma that is no decimal comma
    assert message('id,t,a,b,label\nq,0,"1,2,3",4,k\n') == (
        " (leave a missing value empty, or write ? or NA; if 'a' is not a feature, name the "
        'features with task.value_columns, e.g. ["b"])')
    assert message('id,t,a,label\nq,0,"1,5",k\n') == (
        " (a decimal comma? write a decimal point: '1.5')")


def test_a_long_table_note_warns_at_the_line_that_called_the_reader(tmp_path):
    path = _csv(tmp_path, "id,t,a\nq,0,1\n\nq,1,2\n")
    with pytest.warns(UserWarning) as caught:
        read_long_table(path)
    assert _at_the_callers_line(caught[0], read_long_table)


def _at_the_callers_line(warning, function) -> bool:
    """A warning of ``stacklevel=2`` names the line that called ``function``: one of this
    file; under mutmut, whose trampoline (two frames) stands between ``function`` and this
    file, the inner frame's, which calls the function itself (the outer calls the inner)."""
    if not function.__code__.co_filename.endswith("trampoline.py"):
        return warning.filename == __file__
    return (warning.filename == function.__code__.co_filename
            and "func(*call_args" in linecache.getline(warning.filename, warning.lineno))


def test_the_channels_before_time_warning_is_at_the_line_that_called_read_npz(tmp_path):
    path = tmp_path / "aeon.npz"
    np.savez(path, X=np.zeros((3, 2, 50)))
    with pytest.warns(UserWarning, match=re.escape("save X.transpose(0, 2, 1)")) as caught:
        read_npz(path)
    assert _at_the_callers_line(caught[0], read_npz)
