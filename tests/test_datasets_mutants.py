"""Named data sets (rnnkit/data/datasets.py): the cache folder, sha256 of files larger than a
read block against hashlib on the whole bytes, downloads from file:// addresses into
tmp_path (no network), every error message whole, and the shared data files against their
recorded hashes when RNNKIT_DATA points at them."""

import hashlib
import os
from pathlib import Path

import pytest

from rnnkit.data import datasets
from rnnkit.data.datasets import DATASETS, DataError, RemoteFile, data_root, fetch, sha256_of


def _error(fn, *args, **kw):
    with pytest.raises(DataError) as e:
        fn(*args, **kw)
    return str(e.value)


def test_data_root_from_the_environment_or_the_home_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RNNKIT_DATA", "~/data")
    assert data_root() == tmp_path / "home" / "data"
    monkeypatch.setenv("RNNKIT_DATA", "")
    assert data_root() == tmp_path / "home" / ".cache" / "rnnkit"
    monkeypatch.delenv("RNNKIT_DATA")
    assert data_root() == tmp_path / "home" / ".cache" / "rnnkit"


def test_a_relative_data_root_is_made_absolute_from_the_working_directory(monkeypatch,
                                                                         tmp_path):
    """RNNKIT_DATA=../shared/data (the README's): the files' paths must not depend on the
    directory they are later used from (a symlink to one, a run's stored config)."""
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    monkeypatch.setenv("RNNKIT_DATA", "../shared/data")
    root = data_root()
    assert root.is_absolute()
    assert root.resolve() == (tmp_path / "shared" / "data").resolve()


def test_sha256_of_a_file_of_several_read_blocks(tmp_path):
    data = bytes(range(256)) * (10 * 1024 + 3)  # 2.5 MiB: three reads of 1 MiB
    (tmp_path / "f").write_bytes(data)
    assert sha256_of(tmp_path / "f") == hashlib.sha256(data).hexdigest()
    (tmp_path / "e").write_bytes(b"")
    assert sha256_of(tmp_path / "e") == hashlib.sha256(b"").hexdigest()


def _toy(monkeypatch, tmp_path, files):
    """Data set "toy": {relative path: bytes} served from file:// addresses."""
    specs = []
    for rel, content in files.items():
        src = tmp_path / "server" / rel
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_bytes(content)
        specs.append(RemoteFile(rel, src.as_uri(), hashlib.sha256(content).hexdigest()))
    monkeypatch.setitem(DATASETS, "toy", specs)
    return specs


def test_fetch_downloads_each_file_into_its_folder_and_reports_it(monkeypatch, tmp_path,
                                                                  capsys):
    specs = _toy(monkeypatch, tmp_path, {"toy/a/one.txt": b"1\n", "toy/b/two.txt": b"22\n",
                                         "toy/b/three.txt": b"333\n"})  # (b: made once)
    root = tmp_path / "cache"
    paths = fetch("toy", root=root)
    assert paths == [root / "toy/a/one.txt", root / "toy/b/two.txt", root / "toy/b/three.txt"]
    assert [p.read_bytes() for p in paths] == [b"1\n", b"22\n", b"333\n"]
    assert sorted(p.name for p in (root / "toy/a").iterdir()) == ["one.txt"]  # no temp left
    assert capsys.readouterr().err == "".join(
        f"downloading {s.url} -> {p}\n" for s, p in zip(specs, paths))


def test_fetch_uses_the_data_root_by_default(monkeypatch, tmp_path):
    _toy(monkeypatch, tmp_path, {"toy/one.txt": b"1\n"})
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "env"))
    assert fetch("toy") == [tmp_path / "env" / "toy/one.txt"]


def test_fetch_errors_say_what_to_do(monkeypatch, tmp_path):
    assert _error(fetch, "nope", root=tmp_path) == (
        f"unknown data set 'nope'; known: {sorted(DATASETS)}")
    (spec,) = _toy(monkeypatch, tmp_path, {"toy/one.txt": b"1\n"})
    root = tmp_path / "cache"
    assert _error(fetch, "toy", root=root, download=False) == (
        f"toy: {root / 'toy/one.txt'} not found; set RNNKIT_DATA to a folder holding "
        f"toy/one.txt, or download it from {spec.url}")
    monkeypatch.setitem(DATASETS, "toy", [RemoteFile("toy/one.txt", None, spec.sha256)])
    assert _error(fetch, "toy", root=root) == (
        f"toy: {root / 'toy/one.txt'} not found; set RNNKIT_DATA to a folder holding "
        "toy/one.txt, or see the data README")
    (root / "toy").mkdir(parents=True)
    (root / "toy/one.txt").write_bytes(b"2\n")
    assert _error(fetch, "toy", root=root) == (
        f"toy: {root / 'toy/one.txt'} has sha256 {hashlib.sha256(b'2' + bytes([10])).hexdigest()}"
        f", expected {spec.sha256}; the file is corrupt or a different version: delete it to "
        "download it again")


def test_a_failed_download_leaves_nothing_behind(monkeypatch, tmp_path):
    (spec,) = _toy(monkeypatch, tmp_path, {"toy/one.txt": b"1\n"})
    (tmp_path / "server/toy/one.txt").unlink()
    root = tmp_path / "cache"
    message = _error(fetch, "toy", root=root)
    assert message.startswith(f"could not download {spec.url}: <urlopen error [Errno 2] No such "
                              "file or directory")
    assert list((root / "toy").iterdir()) == []

    def interrupted(url, timeout):
        assert (url, timeout) == (spec.url, 60)
        raise KeyboardInterrupt

    monkeypatch.setattr(datasets.urllib.request, "urlopen", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fetch("toy", root=root)
    assert list((root / "toy").iterdir()) == []


def test_the_download_goes_to_a_temporary_name_beside_the_file(monkeypatch, tmp_path):
    (spec,) = _toy(monkeypatch, tmp_path, {"toy/one.txt": b"1\n" * 10})
    root = tmp_path / "cache"
    seen = []
    real = os.replace

    def replace(a, b):
        seen.append((Path(a).parent, Path(a).name, Path(a).read_bytes(), Path(b)))
        real(a, b)

    monkeypatch.setattr(datasets.os, "replace", replace)
    (path,) = fetch("toy", root=root)
    ((folder, name, content, target),) = seen
    assert folder == root / "toy" and name.startswith(".one.txt.") and target == path
    assert content == b"1\n" * 10


@pytest.mark.skipif(not os.environ.get("RNNKIT_DATA"), reason="real data absent: set "
                    "RNNKIT_DATA=../shared/data")
def test_the_shared_data_files_match_their_recorded_hashes():
    root = Path(os.environ["RNNKIT_DATA"])
    for name, specs in DATASETS.items():
        assert fetch(name, root=root, download=False) == [root / s.path for s in specs]


def test_every_address_names_the_file_it_is_saved_as():
    for specs in DATASETS.values():
        for s in specs:
            assert len(s.sha256) == 64 and set(s.sha256) <= set("0123456789abcdef")
            if s.url is not None:
                assert s.url.startswith("https://raw.githubusercontent.com/")
                assert s.url.rsplit("/", 1)[1] == Path(s.path).name
