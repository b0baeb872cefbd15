"""rnnkit.data.text against hand-made files (issue 20): the loaders read tiny stand-ins for
the real data sets (registered under the real names, with their own sha256, through the real
``fetch``) to exactly the sentences written; the splits are checked against their documented
properties (sizes, disjoint and complete, seeded); each malformed TSV line gives the whole
expected message naming the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.data import datasets
from rnnkit.data.datasets import DataError, RemoteFile, sha256_of
from rnnkit.data.text import (
    Labelled,
    load_eng_fra,
    load_rt_polarity,
    load_shakespeare,
    read_parallel,
    split_by_source,
    split_eng_fra,
    split_rt_polarity,
)


def _register(monkeypatch, tmp_path, name: str, files: dict[str, bytes]) -> Path:
    """Files under ``tmp_path/data`` registered as data set ``name`` (no download address);
    ``$RNNKIT_DATA`` points at an empty folder, so only ``root=`` finds them."""
    root = tmp_path / "data"
    specs = []
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
        specs.append(RemoteFile(rel, None, sha256_of(root / rel)))
    monkeypatch.setitem(datasets.DATASETS, name, specs)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "elsewhere"))
    return root


class _NoLocaleRead(type(Path())):
    """A path that refuses to be read with the locale's encoding (cp1252 on Windows)."""

    def read_text(self, encoding=None, errors=None):
        assert encoding is not None, "read with the locale's encoding"
        return super().read_text(encoding=encoding, errors=errors)


def test_shakespeare_is_split_90_10_by_characters(monkeypatch, tmp_path):
    text = "Ümlaut ça va — 東京!!\n" * 5  # 100 characters, 130+ bytes
    assert len(text) == 100
    root = _register(monkeypatch, tmp_path, "shakespeare",
                     {"shakespeare/input.txt": text.encode("utf-8")})
    train, val = load_shakespeare(root)
    assert (train, val) == (text[:90], text[90:])
    with pytest.raises(DataError, match="not found"):
        load_shakespeare()  # the default root is $RNNKIT_DATA, which lacks the file
    real_fetch = datasets.fetch

    def fetch(name, **kw):
        return [_NoLocaleRead(p) for p in real_fetch(name, **kw)]

    monkeypatch.setattr("rnnkit.data.text.fetch", fetch)
    assert load_shakespeare(root) == (text[:90], text[90:])


def _rt_files(pos: list[bytes], neg: list[bytes]) -> dict[str, bytes]:
    return {"sentiment/rt-polarity.pos": b"\n".join(pos) + b"\n",
            "sentiment/rt-polarity.neg": b"\n".join(neg) + b"\n"}


def test_rt_polarity_reads_latin1_lines_split_on_newlines_only(monkeypatch, tmp_path):
    pos = [b"caf\xe9 is good \x85 really", b" spaced out \r"] + [b"p%d" % i for i in range(5329)]
    neg = [b"bad", b"", b"  \t ", b"na\xefve plot"] + [b"n%d" % i for i in range(5329)]
    root = _register(monkeypatch, tmp_path, "rt-polarity", _rt_files(pos, neg))
    items = load_rt_polarity(root)
    assert len(items) == 10_662
    assert items[:3] == [Labelled("café is good \x85 really", 1),
                         Labelled("spaced out", 1), Labelled("p0", 1)]
    assert items[5331:5334] == [Labelled("bad", 0), Labelled("naïve plot", 0),
                                Labelled("n0", 0)]
    assert [i.label for i in items] == [1] * 5331 + [0] * 5331
    assert items[-1] == Labelled("n5328", 0) and items[5330] == Labelled("p5328", 1)
    with pytest.raises(DataError, match="not found"):
        load_rt_polarity()


@pytest.mark.parametrize("count", [5330, 5332])
def test_rt_polarity_with_a_wrong_sentence_count_names_the_file(monkeypatch, tmp_path, count):
    pos = [b"p%d" % i for i in range(5331)]
    neg = [b"n%d" % i for i in range(count)]
    root = _register(monkeypatch, tmp_path, "rt-polarity", _rt_files(pos, neg))
    with pytest.raises(DataError) as e:
        load_rt_polarity(root)
    path = root / "sentiment/rt-polarity.neg"
    assert str(e.value) == f"{path}: expected 5,331 sentences, found {count}"


def _items(n: int) -> list[Labelled]:
    return [Labelled(f"s{i}", i % 2) for i in range(n)]


def test_rt_polarity_split_sizes_and_seeds():
    items = _items(55)
    train, test = split_rt_polarity(items)
    assert len(test) == 6 and len(train) == 49  # round(5.5) = 6 (ties to even)
    assert sorted(train + test, key=lambda x: int(x.text[1:])) == items
    assert not {x.text for x in train} & {x.text for x in test}
    assert split_rt_polarity(items, seed=0) == (train, test)  # the default seed is 0
    assert split_rt_polarity(items, seed=1) != (train, test)
    assert split_rt_polarity(items, seed=0, test_fraction=0.1) == (train, test)
    order = [x.text for x in train + test]
    assert order != sorted(order, key=lambda s: int(s[1:]))  # shuffled
    train3, test3 = split_rt_polarity(items, test_fraction=0.3)
    assert len(test3) == 16 and set(x.text for x in test) < set(x.text for x in test3)


def test_rt_polarity_folds_partition_the_items():
    items = _items(23)
    tests = []
    for k in range(5):
        train, test = split_rt_polarity(items, folds=5, fold=k, seed=4)
        assert len(test) == (5 if k < 3 else 4) and len(train) == 23 - len(test)
        assert not {x.text for x in train} & {x.text for x in test}
        tests += [x.text for x in test]
    assert sorted(tests) == sorted(x.text for x in items)
    assert split_rt_polarity(items, folds=5, seed=4) == split_rt_polarity(items, folds=5,
                                                                          fold=0, seed=4)
    for bad in (-1, 5):
        with pytest.raises(ValueError, match=rf"^fold must be in \[0, 5\), got {bad}$"):
            split_rt_polarity(items, folds=5, fold=bad)


def _pairs(n_sources: int) -> list[tuple[str, str]]:
    """Source i has 1 + i % 3 targets."""
    return [(f"en{i}", f"fr{i}.{j}") for i in range(n_sources) for j in range(1 + i % 3)]


def test_split_by_source_holds_out_every_target_of_a_source():
    pairs = _pairs(30)
    train, held = split_by_source(pairs, 7)
    assert split_by_source(pairs, 7, 0) == (train, held)  # the default seed is 0
    assert split_by_source(pairs, 7, 1) != (train, held)
    sources = [s for s, _ in held]
    assert len(sources) == 7 and sources == sorted(sources)
    for s, refs in held:
        i = int(s[2:])
        assert refs == [f"fr{i}.{j}" for j in range(1 + i % 3)]
    assert train == [(s, t) for s, t in pairs if s not in sources]  # file order kept


def test_eng_fra_holds_out_2000_sources_by_default():
    pairs = _pairs(2010)
    train, held = split_eng_fra(pairs)
    assert len(held) == 2000
    assert (train, held) == split_by_source(pairs, 2000, 0)
    assert split_eng_fra(pairs, test_sources=3, seed=2) == split_by_source(pairs, 3, 2)


def test_eng_fra_reads_the_registered_tsv(monkeypatch, tmp_path):
    root = _register(monkeypatch, tmp_path, "eng-fra",
                     {"translation/eng-fra.txt": b"Go.\tVa !\tCC-BY\nHi.\tSalut.\n"})
    assert load_eng_fra(root) == [("Go.", "Va !"), ("Hi.", "Salut.")]
    with pytest.raises(DataError, match="not found"):
        load_eng_fra()


def _error(path: Path) -> str:
    with pytest.raises(DataError) as e:
        read_parallel(path)
    return str(e.value)


def test_carriage_returns_are_cut_from_the_line_end_only(tmp_path):
    path = tmp_path / "crlf.tsv"
    path.write_bytes(b"\rGo.\tTAX\r\nHi.\tSalut.X\r\n")
    assert read_parallel(path).pairs == [("Go.", "TAX"), ("Hi.", "Salut.X")]
    path.write_bytes(b"Go.\tVa !\r\nNO TAX\r\n")
    assert _error(path) == f"{path}:2: no tab; expected 'source<TAB>target', got 'NO TAX'"


def test_messages_are_whole(tmp_path):
    path = tmp_path / "long.tsv"
    line = "".join(chr(ord("a") + i % 26) for i in range(70))
    path.write_text(line + "\n")
    assert _error(path) == (f"{path}:1: no tab; expected 'source<TAB>target', got "
                            f"{line[:60]!r}")
    path.write_text("Go.\tVa !\n\tSalut.\n")
    assert _error(path) == (f"{path}:2: empty source (column 1); every line needs a sentence "
                            "on both sides of the tab")
    missing = tmp_path / "missing.tsv"
    assert _error(missing) == f"{missing}: cannot read: No such file or directory"


def test_note_lists_at_most_ten_skipped_lines(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("a\tb\n")
    text = read_parallel(path)
    assert text.note() == "" and text.skipped == []
    for blanks, shown in ((10, "2, 3, 4, 5, 6, 7, 8, 9, 10, 11"),
                          (11, "2, 3, 4, 5, 6, 7, 8, 9, 10, 11 ...")):
        path.write_text("a\tb\n" + "\n" * blanks + "c\td\n")
        text = read_parallel(path)
        assert text.skipped == list(range(2, blanks + 2))
        assert text.note() == f"{path}: skipped {blanks} blank line(s) (line {shown})"

