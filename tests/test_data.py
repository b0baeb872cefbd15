"""Data sets, tokenizers and time-series helpers."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data import datasets
from rnnkit.data.datasets import DataError, RemoteFile, fetch, sha256_of
from rnnkit.data.text import (
    load_eng_fra,
    load_rt_polarity,
    load_shakespeare,
    split_eng_fra,
    split_rt_polarity,
)
from rnnkit.data.timeseries import (
    SERIES,
    Scaler,
    difference,
    load_series,
    make_windows,
    read_csv,
    undifference,
    window_starts,
)
from rnnkit.data.tokenizers import CharTokenizer, WordTokenizer, tokenizer_from_dict


def data_dir() -> Path | None:
    """The real data sets (``RNNKIT_DATA``), or None when absent."""
    path = os.environ.get("RNNKIT_DATA")
    return Path(path) if path and Path(path).is_dir() else None


needs_data = pytest.mark.skipif(data_dir() is None,
                                reason="real data absent: set RNNKIT_DATA=../shared/data")


@needs_data
def test_real_files_verify_and_split_as_documented():
    train, val = load_shakespeare(data_dir())
    assert (len(train), len(val)) == (1_003_854, 111_540)
    items = load_rt_polarity(data_dir())
    assert len(items) == 10_662 and sum(i.label for i in items) == 5_331
    for name in SERIES:
        assert len(load_series(name, data_dir())) > 100


@needs_data
def test_rt_polarity_split_and_folds():
    items = load_rt_polarity(data_dir())
    train, test = split_rt_polarity(items, seed=0)
    assert (len(train), len(test)) == (9_596, 1_066)
    assert split_rt_polarity(items, seed=0)[1] == test
    seen = []
    for k in range(10):
        tr, te = split_rt_polarity(items, folds=10, fold=k)
        assert len(tr) + len(te) == len(items)
        seen += [t.text + str(t.label) for t in te]
    assert sorted(seen) == sorted(t.text + str(t.label) for t in items)


@needs_data
def test_eng_fra_test_sources_never_in_training():
    train, test = split_eng_fra(load_eng_fra(data_dir()), test_sources=500)
    held = {en for en, _ in test}
    assert len(held) == 500 and not held & {en for en, _ in train}
    assert max(len(refs) for _, refs in test) > 1  # several references kept


def _fake_dataset(monkeypatch, tmp_path, content=b"hello\n"):
    src = tmp_path / "src.txt"
    src.write_bytes(content)
    spec = RemoteFile("toy/file.txt", src.as_uri(), sha256_of(src))
    monkeypatch.setitem(datasets.DATASETS, "toy", [spec])
    return spec


def test_download_into_cache_then_offline(monkeypatch, tmp_path):
    _fake_dataset(monkeypatch, tmp_path)
    cache = tmp_path / "cache"
    (path,) = fetch("toy", root=cache)
    assert path.read_bytes() == b"hello\n"
    monkeypatch.setattr(datasets.urllib.request, "urlopen",
                        lambda *a, **k: pytest.fail("network used"))
    assert fetch("toy", root=cache) == [path]


def test_corrupted_file_is_rejected_with_both_hashes(monkeypatch, tmp_path):
    spec = _fake_dataset(monkeypatch, tmp_path)
    root = tmp_path / "root"
    (root / "toy").mkdir(parents=True)
    (root / "toy/file.txt").write_bytes(b"hellO\n")
    with pytest.raises(DataError, match=rf"file.txt has sha256 [0-9a-f]{{64}}, "
                                        rf"expected {spec.sha256}"):
        fetch("toy", root=root)


@needs_data
def test_real_file_truncated_is_rejected(tmp_path):
    (tmp_path / "shakespeare").mkdir()
    src = data_dir() / "shakespeare/input.txt"
    (tmp_path / "shakespeare/input.txt").write_bytes(src.read_bytes()[:1000])
    with pytest.raises(DataError, match="corrupt"):
        load_shakespeare(tmp_path)
    shutil.copy(src, tmp_path / "shakespeare/input.txt")
    assert len(load_shakespeare(tmp_path)[0]) == 1_003_854


def test_missing_file_without_address_says_where_to_put_it(tmp_path):
    with pytest.raises(DataError, match="RNNKIT_DATA.*translation/eng-fra.txt"):
        fetch("eng-fra", root=tmp_path)


def test_char_tokenizer_round_trips():
    text = "ROMEO:\nBut soft, what light through yonder window breaks?"
    tok = CharTokenizer.fit(text)
    assert tok.decode(tok.encode(text)) == text
    again = tokenizer_from_dict(tok.to_dict())
    assert again.encode(text) == tok.encode(text)
    assert tok.encode("~") == [1]  # unknown -> <unk>


@pytest.mark.parametrize("sentence,tokens", [
    ("I don't know, really!", ["i", "don't", "know", ",", "really", "!"]),
    ("Je n'ai pas vu l'homme aujourd'hui.",
     ["je", "n'", "ai", "pas", "vu", "l'", "homme", "aujourd'hui", "."]),
    ("Qu'est-ce que c’est ?", ["qu'", "est-ce", "que", "c'", "est", "?"]),
])
def test_word_tokenizer_splits_and_round_trips(sentence, tokens):
    assert WordTokenizer.split(sentence) == tokens
    tok = WordTokenizer.fit([sentence])
    ids = tok.encode(sentence, bos=True, eos=True)
    assert ids[0] == 2 and ids[-1] == 3
    assert WordTokenizer.split(tok.decode(ids)) == tokens
    assert tokenizer_from_dict(tok.to_dict()).encode(sentence) == tok.encode(sentence)


def test_word_vocabulary_min_freq_and_max_size():
    tok = WordTokenizer.fit(["a a a b b c"], min_freq=2)
    assert tok.vocab.itos[4:] == ["a", "b"]
    assert WordTokenizer.fit(["a a a b b c"], max_size=1).vocab.itos[4:] == ["a"]


@pytest.mark.parametrize("kind", ["standard", "minmax", "log", "none"])
def test_scalers_invert_exactly(kind):
    x = np.random.default_rng(0).uniform(1, 500, size=100)
    s = Scaler(kind).fit(x[:80])
    np.testing.assert_allclose(s.inverse(s.transform(x)), x, rtol=1e-12)
    s2 = Scaler.from_dict(s.to_dict())
    np.testing.assert_array_equal(s2.transform(x), s.transform(x))


def test_scaler_sees_only_the_training_range():
    x = np.concatenate([np.zeros(10), np.full(10, 100.0)])
    s = Scaler("minmax").fit(x[:10] + np.arange(10))
    assert (s.a, s.b) == (0.0, 9.0)


def test_seasonal_differencing_inverts_exactly():
    x = np.random.default_rng(1).normal(size=60).cumsum()
    lag = 12
    d = difference(x, lag)
    np.testing.assert_allclose(undifference(d[30:], x[:30 + lag], lag), x[30 + lag:])


def test_windows_never_cross_the_range():
    starts = window_starts(0, 100, window=12, horizon=6)
    assert starts.max() + 12 + 6 <= 100
    test = window_starts(100 - 12, 130, window=12, horizon=6)
    assert test.min() + 12 >= 100  # every test target lies in the test range
    x = np.arange(130.0)
    inputs, targets = make_windows(x, starts, 12, 6)
    assert inputs.shape == (len(starts), 12) and targets.max() < 100


def _csv(tmp_path, text):
    p = tmp_path / "s.csv"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text,kw,match", [
    ("t,v\n2020-01-01,1\n", {"value_column": "y"}, r"no value column 'y'.*\['t', 'v'\]"),
    ("t,v\n2020-01-01,1\n2020-01-02,abc\n", {}, r"s.csv:3: value 'abc'.*not a number"),
    ("t,v\n2020-01-01,1\n2020-01-03,2\n2020-01-02,3\n", {}, r"s.csv:4: .*before the previous"),
    ("t,v\n2020-01-01,1\n2020-01-02,2\n2020-01-02,3\n", {}, r"s.csv:4: duplicated timestamp"),
    ("t,v\n2020-01-01,1\n2020-01-02,2\n2020-01-05,3\n2020-01-06,3\n", {}, r"s.csv:4: gap"),
    ("t,v\nnot a date,1\n", {}, r"s.csv:2: cannot read a time"),
    ("t,v\n2020-01-01,1\n2020-01-02,\n2020-01-03,3\n", {}, r"s.csv:3: missing value"),
])
def test_bad_csv_errors_name_the_row(tmp_path, text, kw, match):
    with pytest.raises(DataError, match=match):
        read_csv(_csv(tmp_path, text), **kw)


def test_csv_repairs(tmp_path):
    s = read_csv(_csv(tmp_path, "t,v\n2020-01-02,2\n2020-01-01,1\n2020-01-01,9\n2020-01-04,4\n"),
                 repair=["sort", "drop-duplicates", "interpolate"])
    assert s.values.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert str(s.timestamps[2]) == "2020-01-03"
