"""Property-based tests (issue 19): any input to the config reader, the table and series
readers and the text readers gives either a result or an rnnkit error — never another
exception type. Bounded example counts keep them quick in CI."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data.datasets import DataError
from rnnkit.data.tables import read_table
from rnnkit.data.timeseries import read_csv
from rnnkit.tasks.runner import config_from_raw, load_config
from rnnkit.tasks.text_common import read_lines
from rnnkit.training import ConfigError

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
keys = st.sampled_from(["name", "seed", "lr", "steps", "epochs", "batch_size", "cell",
                        "hidden_size", "num_layers", "dropout", "window", "horizon", "data",
                        "sequence_length", "clip_norm", "max_minutes", "bogus", "metric"])
tables = st.dictionaries(keys, st.one_of(scalars, st.lists(scalars, max_size=3)), max_size=6)
raw_configs = st.fixed_dictionaries(
    {}, optional={"name": scalars, "seed": scalars,
                  "task": st.one_of(scalars, tables.map(lambda t: {**t, "name": "adding"}),
                                    tables.map(lambda t: {**t, "name": "sentiment"}), tables),
                  "model": st.one_of(scalars, tables), "train": st.one_of(scalars, tables),
                  "diagnostics": tables, "logging": tables})


@FUZZ
@given(raw=raw_configs)
def test_config_reader_gives_a_config_or_a_config_error(raw):
    try:
        config_from_raw(raw, "fuzz")
    except ConfigError:
        pass


@FUZZ
@given(text=st.text(max_size=300))
def test_config_file_text_gives_a_config_or_a_config_error(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path, [])
    except ConfigError:
        pass


@FUZZ
@given(raw=st.binary(max_size=80), head=st.sampled_from([b"", b'[task]\nname = "adding"\n']))
def test_config_file_bytes_give_a_config_or_a_config_error(tmp_path, raw, head):
    path = tmp_path / "c.toml"
    path.write_bytes(head + raw)
    try:
        load_config(path, [])
    except ConfigError:
        pass


def test_a_config_that_is_a_folder_or_not_utf8_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"is a folder; give a config file \(.toml\)"):
        load_config(tmp_path, [])
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "café"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1.toml: not valid UTF-8 \(byte 0xe9 at offset"):
        load_config(path, [])


@FUZZ
@given(overrides=st.lists(st.text(max_size=30), max_size=3))
def test_set_overrides_give_a_config_or_a_config_error(tmp_path, overrides):
    path = tmp_path / "c.toml"
    path.write_text('[task]\nname = "adding"\n')
    try:
        load_config(path, overrides)
    except ConfigError:
        pass


cells = st.one_of(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
                  st.sampled_from(["", "1", "-2.5", "nan", "inf", "1e300", "2020-01-01",
                                   "2020-01-01 00:05:00", '"', ",", "\t", ";", "01/02/2020",
                                   "13/01/2020", "2020/01/13", "31.12.2020 23:59", "1,5"]))
rows = st.lists(st.lists(cells, min_size=0, max_size=4), max_size=8)


def _csv(header, body, sep=","):
    return "\n".join(sep.join(r) for r in [header, *body]) + "\n"


@FUZZ
@given(header=st.lists(cells, max_size=4), body=rows, raw=st.binary(max_size=60),
       suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]), as_bytes=st.booleans())
def test_table_reader_gives_rows_or_a_data_error(tmp_path, header, body, raw, suffix, as_bytes):
    path = tmp_path / f"t{suffix}"
    if as_bytes:
        path.write_bytes(raw)
    else:
        path.write_text(_csv(header, body, "\t" if suffix == ".tsv" else ","), encoding="utf-8")
    try:
        table = read_table(path, ["text"])
    except DataError:
        return
    assert all(isinstance(r["text"], str) for r in table.rows)
    assert len(table.rows) == len(table.lines)


@FUZZ
@given(body=rows, raw=st.binary(max_size=60), as_bytes=st.booleans(),
       repair=st.lists(st.sampled_from(["sort", "drop-duplicates", "interpolate",
                                        "ignore-gaps", "keep-order"]), max_size=2, unique=True),
       sep=st.sampled_from([",", ";", "\t"]),
       time_format=st.sampled_from([None, "%d/%m/%Y", "%Y-%m-%d %H:%M"]))
def test_series_reader_gives_a_series_or_a_data_error(tmp_path, body, raw, as_bytes, repair,
                                                       sep, time_format):
    path = tmp_path / "s.csv"
    if as_bytes:
        path.write_bytes(raw)
    else:
        path.write_text(_csv(["time", "value"], body, sep), encoding="utf-8")
    try:
        series = read_csv(path, repair=repair, time_format=time_format)
    except (DataError, ValueError):
        return  # ValueError: read_csv's documented error for bad arguments and rows
    assert len(series.values) == len(series.timestamps)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_text_lines_are_read_whatever_the_bytes(tmp_path, raw):
    path = tmp_path / "in.txt"
    path.write_bytes(raw)
    lines = read_lines(str(path))
    assert all("\n" not in line.text for line in lines)
    body = raw.removeprefix(b"\xef\xbb\xbf")  # a byte order mark is no text
    assert len(lines) == body.count(b"\n") + (0 if body.endswith(b"\n") or not body else 1)


def test_text_lines_drop_a_byte_order_mark(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes("\ufeffune phrase\r\ndeux\n".encode())
    assert [line.text for line in read_lines(str(path))] == ["une phrase", "deux"]
