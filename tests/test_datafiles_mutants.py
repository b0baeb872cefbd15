"""A user's data files (rnnkit/tasks/datafiles.py) on their own: the combinations of
data keys and their messages, paths resolved against the config's folder, the seeded
splits, and the fingerprints that say when a file changed since training (found by
mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import hashlib
import json
import linecache
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from rnnkit.tasks.base import TaskError
from rnnkit.tasks.datafiles import (
    DataChangedWarning,
    DataFilesConfig,
    check_fingerprints,
    data_errors,
    files_not_needed,
    fingerprint,
    load_splits,
    path_field,
    path_fields,
    resolve_paths,
    split_items,
    write_fingerprints,
)


@dataclass
class Cfg(DataFilesConfig):
    other: str = ""
    extra_path: str = path_field("")


PARTS_NOT_BOTH = ("task.data names the whole set; task.train_data/val_data/test_data name "
                  "its parts: set one or the other, not both")
NEED_TRAIN = "task.val_data/test_data need task.train_data"
NEED_TEST = ("task.train_data needs task.test_data too (or name the whole set with task.data, "
             "split by task.split_seed)")


def test_path_fields_and_defaults():
    assert path_fields(Cfg()) == ["data", "train_data", "val_data", "test_data", "extra_path"]
    c = DataFilesConfig()
    assert (c.data, c.split_seed, c.val_fraction, c.test_fraction) == ("", 0, 0.1, 0.1)


@pytest.mark.parametrize("fields, errors", [
    ({}, []),
    ({"data": "d"}, []),
    ({"train_data": "a", "test_data": "c"}, []),
    ({"train_data": "a", "val_data": "b", "test_data": "c"}, []),
    ({"data": "d", "test_data": "c"}, [PARTS_NOT_BOTH, NEED_TRAIN]),
    ({"data": "d", "val_data": "b"}, [PARTS_NOT_BOTH, NEED_TRAIN]),
    ({"data": "d", "train_data": "a"}, [PARTS_NOT_BOTH, NEED_TEST]),
    ({"val_data": "b"}, [NEED_TRAIN]),
    ({"test_data": "c"}, [NEED_TRAIN]),
    ({"train_data": "a"}, [NEED_TEST]),
    ({"train_data": "a", "val_data": "b"}, [NEED_TEST]),
])
def test_data_key_combinations(tmp_path, fields, errors):
    for name in ("a", "b", "c", "d"):
        (tmp_path / name).write_text("x")
    cfg = Cfg(**{k: str(tmp_path / v) for k, v in fields.items()})
    assert data_errors(cfg) == errors


def test_missing_files_are_named_unless_not_needed(tmp_path):
    cfg = Cfg(data=str(tmp_path / "gone.csv"), extra_path=str(tmp_path / "nope"))
    expected = [f"task.data = {str(tmp_path / 'gone.csv')!r}: no such file or folder",
                f"task.extra_path = {str(tmp_path / 'nope')!r}: no such file or folder"]
    assert data_errors(cfg) == expected
    with files_not_needed():
        assert data_errors(cfg) == []
    assert data_errors(cfg) == expected  # restored after


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = tmp_path / "configs"
    cfg = resolve_paths(Cfg(data="d/x.csv", test_data=str(tmp_path / "t.csv"), other="o"),
                        base)
    assert cfg.data == str((base / "d" / "x.csv").resolve())
    assert cfg.test_data == str(tmp_path / "t.csv") and cfg.other == "o"
    home = resolve_paths(Cfg(data="~/x.csv"), base)
    assert home.data == str(Path.home() / "x.csv")
    same = Cfg()
    assert resolve_paths(same, base) is same  # nothing to resolve: the config itself


def test_split_items_by_python_and_by_torch_shuffles():
    items = list(range(20))
    rest, held = split_items(items, 3, 0.25)
    order = list(range(20))
    random.Random(3).shuffle(order)
    assert held == [i for i in order if i in set(order[:5])]
    assert rest == [i for i in order if i not in set(order[:5])]
    rest_t, held_t = split_items(items, 3, 0.25, shuffle="torch")
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(3)).tolist()
    assert held_t == perm[:5] and rest_t == perm[5:]
    rest0, held0 = split_items(items, 3, 0.02)  # round(0.4) = 0: nothing held out
    assert held0 == [] and sorted(rest0) == items
    assert len(split_items(list(range(10)), 0, 0.15)[1]) == 2  # round(1.5) = 2


def test_load_splits_from_one_file_or_from_parts(tmp_path):
    whole = tmp_path / "whole"
    whole.write_text("")

    def read(path):
        return [f"{path.name}-{i}" for i in range(40 if path.name == "whole" else 10)]

    got = load_splits(Cfg(data=str(whole), split_seed=5, test_fraction=0.25, val_fraction=0.1),
                      read)
    train_all, test = split_items(read(whole), 5, 0.25)
    train, val = split_items(train_all, 6, 0.1, shuffle="torch")  # split_seed + 1
    assert got == {"train": train, "val": val, "test": test}
    parts = load_splits(Cfg(train_data=str(tmp_path / "a"), val_data=str(tmp_path / "b"),
                            test_data=str(tmp_path / "c")), read)
    assert parts["train"][0] == "a-0" and parts["val"][0] == "b-0" and parts["test"][0] == "c-0"
    assert len(parts["train"]) == 10
    carved = load_splits(Cfg(train_data=str(tmp_path / "a"), test_data=str(tmp_path / "c"),
                             split_seed=2, val_fraction=0.2), read)
    assert (carved["train"], carved["val"]) == split_items(read(tmp_path / "a"), 3, 0.2,
                                                           shuffle="torch")
    with pytest.raises(TaskError) as err:
        load_splits(Cfg(train_data=str(tmp_path / "a"), test_data=str(tmp_path / "c"),
                        val_fraction=0.01), read, "sentences")  # round(0.1) = 0
    assert str(err.value) == ("the val part holds no sentences: give more data, or raise "
                              "task.val_fraction / task.test_fraction")

    def nothing_in(name):
        return lambda path: [] if path.name == name else read(path)

    for name, split in (("a", "train"), ("c", "test")):
        with pytest.raises(TaskError) as err:
            load_splits(Cfg(train_data=str(tmp_path / "a"), val_data=str(tmp_path / "b"),
                            test_data=str(tmp_path / "c")), nothing_in(name))
        assert str(err.value) == (f"the {split} part holds no items: give more data, or "
                                  "raise task.val_fraction / task.test_fraction")


def test_fingerprints_of_a_file_and_a_folder(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(b"x" * (3 << 20))  # more than one read block
    assert fingerprint(f) == hashlib.sha256(b"x" * (3 << 20)).hexdigest()
    folder = tmp_path / "set"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_bytes(b"B")
    (folder / "sub" / "a.txt").write_bytes(b"A")
    h = hashlib.sha256()
    for name, data in (("b.txt", b"B"), ("sub/a.txt", b"A")):  # sorted paths, name \0 data
        h.update(name.encode() + b"\0")
        h.update(data)
    assert fingerprint(folder) == h.hexdigest()
    (folder / "sub" / "a.txt").rename(folder / "sub" / "c.txt")  # a renamed file counts
    assert fingerprint(folder) != h.hexdigest()


def test_changed_or_missing_data_warns_after_training(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("1")
    b.write_text("2")
    write_fingerprints(run, Cfg(train_data=str(a), test_data=str(b),
                                extra_path=str(tmp_path / "none")))
    text = (run / "data.json").read_text()
    assert text == json.dumps(json.loads(text), indent=1) + "\n"  # indented, one last newline
    record = json.loads(text)
    assert record == {"files": [
        {"key": "task.train_data", "path": str(a), "sha256": fingerprint(a)},
        {"key": "task.test_data", "path": str(b), "sha256": fingerprint(b)}]}
    assert check_fingerprints(run) == []
    a.write_text("changed")
    b.unlink()
    with pytest.warns(DataChangedWarning) as caught:
        out = check_fingerprints(run)
    assert out == [
        f"task.train_data = {str(a)!r} changed since training (sha256 differs): the figures "
        "are not those of the data the run trained on",
        f"task.test_data = {str(b)!r} no longer exists"]
    assert [str(w.message) for w in caught] == out
    # attributed to the caller's line; under mutmut, whose trampoline (two frames) stands
    # between check_fingerprints and this test, to the inner frame, which calls it itself
    called = check_fingerprints.__code__.co_filename
    for w in caught:
        if called.endswith("trampoline.py"):
            assert w.filename == called
            assert "func(*call_args" in linecache.getline(w.filename, w.lineno)
        else:
            assert w.filename == __file__
    empty = tmp_path / "empty"
    empty.mkdir()
    write_fingerprints(empty, Cfg())
    assert not (empty / "data.json").exists() and check_fingerprints(empty) == []
    (empty / "data.json").write_text("{not json")
    assert check_fingerprints(empty) == [f"{empty / 'data.json'}: unreadable; cannot tell "
                                         "whether the data changed"]
    (empty / "data.json").write_text('{"other": 1}')
    assert len(check_fingerprints(empty)) == 1


def test_the_listing_of_an_empty_folder_is_the_hash_of_nothing_and_no_time(tmp_path):
    from rnnkit.tasks.datafiles import stat_listing
    (tmp_path / "empty").mkdir()
    assert stat_listing(tmp_path / "empty") == (hashlib.sha256().hexdigest(), 0)
