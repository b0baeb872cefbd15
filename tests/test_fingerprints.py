"""Data fingerprints checked from the file system's stat listing (rnnkit/tasks/datafiles.py):
``rnnkit evaluate`` re-reads a data file or folder only when a size or mtime changed, and then
warns only when its sha256 changed too; a run's data.json from before the listing is checked
by sha256 as it always was."""

from __future__ import annotations

import builtins
import json
import os
from pathlib import Path

import pytest

from rnnkit.tasks import datafiles
from rnnkit.tasks.datafiles import (
    DataChangedWarning,
    DataFilesConfig,
    check_fingerprints,
    fingerprint,
    stat_listing,
    write_fingerprints,
)

PAST = 1_600_000_000_000_000_000  # an mtime long before any test runs (2020), in ns


def _age(path: Path, mtime_ns: int = PAST) -> None:
    os.utime(path, ns=(mtime_ns, mtime_ns))


def _folder(root: Path) -> Path:
    """A data folder of three files, all last modified long ago."""
    data = root / "data"
    for name, text in (("a.csv", "1,2\n"), ("b.csv", "3,4\n"), ("sub/c.csv", "5,6\n")):
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text(text)
        _age(data / name)
    return data


def _trained_on(root: Path, data: Path) -> Path:
    run = root / "run"
    run.mkdir()
    write_fingerprints(run, DataFilesConfig(data=str(data)))
    return run


@pytest.fixture
def opened(monkeypatch, tmp_path):
    """The files under tmp_path/data opened (for hashing) while the test runs."""
    seen: list[Path] = []
    real_open = builtins.open

    def counting_open(file, *args, **kwargs):
        if isinstance(file, (str, Path)) and (tmp_path / "data") in Path(file).parents:
            seen.append(Path(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    return seen


def test_the_listing_of_a_file_and_of_a_folder(tmp_path):
    data = _folder(tmp_path)
    assert stat_listing(data / "a.csv") == (f"4:{PAST}", PAST)
    listing, newest = stat_listing(data)
    assert newest == PAST and len(listing) == 64
    _age(data / "b.csv", PAST + 1)  # one nanosecond later
    assert stat_listing(data) == (stat_listing(data)[0], PAST + 1) and \
        stat_listing(data)[0] != listing
    _age(data / "b.csv")
    assert stat_listing(data)[0] == listing
    (data / "b.csv").write_text("3,4,5\n")
    _age(data / "b.csv")  # same mtime, another size
    assert stat_listing(data)[0] != listing
    (data / "b.csv").write_text("3,4\n")
    _age(data / "b.csv")
    assert stat_listing(data)[0] == listing
    (data / "sub" / "c.csv").rename(data / "sub" / "d.csv")  # same size and mtime
    assert stat_listing(data)[0] != listing


def test_an_unchanged_folder_is_not_read_again(tmp_path, opened):
    data = _folder(tmp_path)
    run = _trained_on(tmp_path, data)
    [item] = json.loads((run / "data.json").read_text())["files"]
    assert item == {"key": "task.data", "path": str(data), "sha256": fingerprint(data),
                    "stat": stat_listing(data)[0]}
    opened.clear()
    assert check_fingerprints(run) == [] and opened == []
    # the listing alone decides: an edit that keeps the size and the mtime passes unseen
    (data / "a.csv").write_text("9,9\n")
    _age(data / "a.csv")
    assert check_fingerprints(run) == [] and opened == []


def test_an_unchanged_file_is_not_read_again(tmp_path, opened):
    data = _folder(tmp_path)
    run = _trained_on(tmp_path, data / "a.csv")
    opened.clear()
    assert check_fingerprints(run) == [] and opened == []


@pytest.mark.parametrize("name", ["a.csv", "sub/c.csv"])
def test_new_contents_of_the_same_size_warn(tmp_path, name):
    data = _folder(tmp_path)
    run = _trained_on(tmp_path, data)
    (data / name).write_text("7,8\n")
    _age(data / name, PAST + 1_000_000_000)
    with pytest.warns(DataChangedWarning) as caught:
        out = check_fingerprints(run)
    assert out == [f"task.data = {str(data)!r} changed since training (sha256 differs): the "
                   "figures are not those of the data the run trained on"]
    assert [str(w.message) for w in caught] == out


def test_a_changed_file_named_alone_warns(tmp_path):
    data = _folder(tmp_path)
    run = _trained_on(tmp_path, data / "a.csv")
    (data / "a.csv").write_text("7,8\n")
    with pytest.warns(DataChangedWarning, match="changed since training"):
        assert len(check_fingerprints(run)) == 1


@pytest.mark.parametrize("named", ["data", "data/a.csv"])
def test_a_touch_or_a_copy_of_the_same_bytes_does_not_warn(tmp_path, opened, named):
    data = _folder(tmp_path)
    run = _trained_on(tmp_path, tmp_path / named)
    (data / "a.csv").touch()  # a new mtime
    opened.clear()
    assert check_fingerprints(run) == []
    assert data / "a.csv" in opened  # the listing differed, so the sha256 decided
    (data / "a.csv").unlink()
    (data / "a.csv").write_text("1,2\n")  # copied back: a new file, the same bytes
    assert check_fingerprints(run) == []


def test_a_file_added_or_removed_in_the_folder_warns(tmp_path):
    data = _folder(tmp_path)
    run = _trained_on(tmp_path, data)
    (data / "sub" / "new.csv").write_text("")
    _age(data / "sub" / "new.csv")
    with pytest.warns(DataChangedWarning, match="changed since training"):
        assert len(check_fingerprints(run)) == 1
    (data / "sub" / "new.csv").unlink()
    assert check_fingerprints(run) == []
    (data / "b.csv").unlink()
    with pytest.warns(DataChangedWarning, match="changed since training"):
        assert len(check_fingerprints(run)) == 1


def test_hidden_files_added_do_not_warn_nor_make_it_read_again(tmp_path, opened):
    data = _folder(tmp_path)
    run = _trained_on(tmp_path, data)
    for name in (".DS_Store", "sub/._c.csv", "__MACOSX/a.csv", ".ipynb_checkpoints/a.csv"):
        (data / name).parent.mkdir(exist_ok=True)
        (data / name).write_text("finder")
    opened.clear()
    assert check_fingerprints(run) == [] and opened == []


def test_a_data_json_without_listings_is_checked_by_sha256(tmp_path, opened):
    data = _folder(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "data.json").write_text(json.dumps({"files": [  # as runs wrote before listings
        {"key": "task.data", "path": str(data), "sha256": fingerprint(data)}]}))
    opened.clear()
    assert check_fingerprints(run) == [] and len(opened) == 3
    (data / "a.csv").write_text("9,9\n")  # same size, and the same mtime as when trained
    _age(data / "a.csv")
    with pytest.warns(DataChangedWarning, match="changed since training"):
        assert len(check_fingerprints(run)) == 1


def test_files_modified_just_before_training_get_no_listing(tmp_path):
    """A change within the file system's timestamp tick keeps the mtime, so a listing taken
    then would hide it; such an entry is checked by sha256 instead."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("1,2\n")
    mtime = (data / "a.csv").stat().st_mtime_ns
    run = _trained_on(tmp_path, data)
    assert "stat" not in json.loads((run / "data.json").read_text())["files"][0]
    (data / "a.csv").write_text("9,9\n")
    _age(data / "a.csv", mtime)
    with pytest.warns(DataChangedWarning, match="changed since training"):
        assert len(check_fingerprints(run)) == 1


def test_the_racy_window_is_measured_from_now(tmp_path, monkeypatch):
    data = _folder(tmp_path)
    monkeypatch.setattr(datafiles.time, "time_ns", lambda: PAST + datafiles.RACY_NS)
    assert "stat" not in datafiles.fingerprints(DataFilesConfig(data=str(data)))[0]
    monkeypatch.setattr(datafiles.time, "time_ns", lambda: PAST + datafiles.RACY_NS + 1)
    assert "stat" in datafiles.fingerprints(DataFilesConfig(data=str(data)))[0]


def test_an_unreadable_data_json_says_so(tmp_path):
    data = _folder(tmp_path)
    run = _trained_on(tmp_path, data)
    (run / "data.json").write_text('{"files": ')
    assert check_fingerprints(run) == [f"{run / 'data.json'}: unreadable; cannot tell "
                                       "whether the data changed"]
