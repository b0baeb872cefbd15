"""A separator at the end of every line (``a,b,c,`` as some spreadsheets export) makes a
column with no name and no values: it is no default value column of a series (it was read
as one and every row refused as missing a value) and no default feature of a long table
(it was a feature of missing values only, and the run then refused every file without the
trailing separator: "no column ''")."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.long_tables import read_long_table
from rnnkit.data.tables import unnamed_and_blank
from rnnkit.data.timeseries import read_csv


@pytest.mark.parametrize("name, cells, expected", [
    ("", ["", " ", None], True),
    ("  ", [], True),
    ("", ["", "3"], False),      # pandas' index column: unnamed, but it holds values
    ("x", ["", ""], False),      # a named column of missing values stays (and is refused)
    ("", ["NA"], False),         # a written mark is a value someone put there
])
def test_unnamed_and_blank(name, cells, expected):
    assert unnamed_and_blank(name, iter(cells)) is expected


@pytest.mark.parametrize("sep, eol", [(",", "\n"), (";", "\r\n")])
def test_a_series_with_a_trailing_separator_reads_its_values(tmp_path, sep, eol):
    path = tmp_path / "s.csv"
    rows = [["time", "load", "temp", ""]] + [[f"2024-01-0{d}", f"{d}", f"{10 * d}", ""]
                                             for d in (1, 2, 3)]
    path.write_text(eol.join(sep.join(r) for r in rows) + eol, encoding="utf-8-sig")
    s = read_csv(path)
    assert s.columns == ("load", "temp")
    np.testing.assert_array_equal(s.values, [[1, 10], [2, 20], [3, 30]])
    s = read_csv(path, covariate_columns=["temp"])
    assert s.columns == ("load",) and s.covariate_columns == ("temp",)
    np.testing.assert_array_equal(s.values, [1, 2, 3])


def test_a_long_table_with_a_trailing_separator_has_only_its_features(tmp_path):
    lines = ["rec;t;x;y;label;"] + [f"r{i};{t};{i}.5;{t};{'ab'[i]};" for i in (0, 1)
                                    for t in (1, 0)]
    (tmp_path / "long.csv").write_text("\r\n".join(lines) + "\r\n")
    a, b = read_long_table(tmp_path / "long.csv", id_column="rec")
    assert a.features == b.features == ("x", "y") and (a.label, b.label) == ("a", "b")
    np.testing.assert_array_equal(a.x, [[0.5, 0], [0.5, 1]])  # ordered by t
    np.testing.assert_array_equal(b.x, [[1.5, 0], [1.5, 1]])


def test_an_unnamed_column_with_values_is_still_a_feature(tmp_path):
    lines = ["rec,t,,x,label", "r0,0,7,1,a", "r0,1,,2,a"]  # one value: kept (one missing)
    (tmp_path / "long.csv").write_text("\n".join(lines) + "\n")
    (a,) = read_long_table(tmp_path / "long.csv", id_column="rec")
    assert a.features == ("", "x")
    np.testing.assert_array_equal(a.x, [[7, 1], [np.nan, 2]])
