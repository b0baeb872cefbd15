"""rnnkit.data.tables against hand-written files (issue 20): each tiny CSV / TSV / JSON-lines
file reads to exactly the rows, file lines and skipped lines worked out by hand, and each
malformed file gives the whole expected message (file, line, column)."""

from __future__ import annotations

import csv

import pytest

from rnnkit.data.datasets import DataError
from rnnkit.data.tables import Table, read_table, table_format


def _write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def _error(path, required=("text",)) -> str:
    with pytest.raises(DataError) as e:
        read_table(path, list(required))
    return str(e.value)


# -- formats ---------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix, fmt", [
    (".csv", "csv"), (".CSV", "csv"), (".tsv", "tsv"), (".tab", "tsv"), (".txt", "tsv"),
    (".TXT", "tsv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl"),
])
def test_each_suffix_names_its_format(tmp_path, suffix, fmt):
    from pathlib import Path
    assert table_format(Path(f"a{suffix}")) == fmt
    body = ('{"text": "x y"}\n' if fmt == "jsonl" else
            "text\tlabel\nx y\t1\n" if fmt == "tsv" else "text,label\nx y,1\n")
    assert read_table(_write(tmp_path, f"a{suffix}", body), ["text"]).rows[0]["text"] == "x y"


def test_unknown_suffix_folder_and_missing_file(tmp_path):
    path = _write(tmp_path, "a.xlsx", "text\n")
    assert _error(path) == (f"{path}: unknown table format '.xlsx'; use .csv, .tsv or .jsonl "
                            "(one JSON object a line)")
    folder = tmp_path / "d.csv"
    folder.mkdir()
    assert _error(folder) == f"{folder}: is a folder; expected a .csv, .tsv or .jsonl file"
    gone = tmp_path / "gone.csv"
    assert _error(gone) == f"{gone}: cannot read: No such file or directory"


# -- CSV / TSV -------------------------------------------------------------------------------
def test_csv_rows_lines_and_blank_lines(tmp_path):
    content = ('\ufeff text , label \n'        # 1: BOM and spaces around the names
               'a b,x\n'                        # 2
               '\n'                             # 3: blank
               '" , ",\n'                       # 4: the quoted spaces are a value: a row
               ' , \n'                          # 5: only spaces: skipped
               '"one, two",y\n'                 # 6: a quoted comma
               '"multi\nline",z\n'              # 7-8: one row ending on line 8
               'last,w')                        # 9: no final newline
    table = read_table(_write(tmp_path, "t.csv", content), ["text", "label"])
    assert table.columns == ["text", "label"]
    assert table.rows == [{"text": "a b", "label": "x"}, {"text": " , ", "label": ""},
                          {"text": "one, two", "label": "y"},
                          {"text": "multi\nline", "label": "z"},
                          {"text": "last", "label": "w"}]
    assert table.lines == [2, 4, 6, 8, 9]
    assert table.skipped == [3, 5]
    assert table.path == tmp_path / "t.csv"


def test_crlf_and_cr_line_ends_keep_a_quoted_crlf(tmp_path):
    crlf = read_table(_write(tmp_path, "a.csv", 'text,label\r\n"a\r\nb",x\r\nc,y\r\n'),
                      ["text"])
    assert crlf.rows == [{"text": "a\r\nb", "label": "x"}, {"text": "c", "label": "y"}]
    assert crlf.lines == [3, 4]
    cr = read_table(_write(tmp_path, "b.csv", "text,label\rx,y\r\rz,w\r"), ["text"])
    assert cr.rows == [{"text": "x", "label": "y"}, {"text": "z", "label": "w"}]
    assert cr.lines == [2, 4] and cr.skipped == [3]


def test_tsv_splits_on_tabs_only(tmp_path):
    table = read_table(_write(tmp_path, "t.tsv", "text\tlabel\na, b\tx\n\t\n"), ["label"])
    assert table.rows == [{"text": "a, b", "label": "x"}] and table.skipped == [3]
    path = _write(tmp_path, "u.tsv", "text\tlabel\na\tb\tc\n")
    assert _error(path) == (f"{path}:2: 3 fields, the header has 2 (a tab inside a value "
                            "needs quotes)")


def test_wrong_field_counts_name_the_line(tmp_path):
    path = _write(tmp_path, "t.csv", "text,label\na,x\n\nb\n")
    assert _error(path) == (f"{path}:4: 1 fields, the header has 2 (a comma inside a value "
                            "needs quotes)")


@pytest.mark.parametrize("content", ["", "\n", " , \n", "\ntext\nx\n"])
def test_an_empty_or_blank_header(tmp_path, content):
    path = _write(tmp_path, "t.csv", content)
    assert _error(path) == f"{path}: empty, or the first line (the header) is blank"


def test_repeated_header_columns(tmp_path):
    path = _write(tmp_path, "t.csv", "b,text,a,b,a\n1,2,3,4,5\n")
    assert _error(path) == f"{path}:1: the header repeats column(s) ['a', 'b']"


def test_csv_errors_name_the_line(tmp_path):
    big = "x" * (csv.field_size_limit() + 1)
    path = _write(tmp_path, "h.csv", f"text,{big}\n")
    assert _error(path) == (f"{path}:1: cannot read the header: field larger than field limit "
                            f"({csv.field_size_limit()})")
    path = _write(tmp_path, "r.csv", f"text,label\na,b\n\nc,{big}\n")
    assert _error(path) == f"{path}:4: field larger than field limit ({csv.field_size_limit()})"


def test_missing_columns_and_no_rows(tmp_path):
    path = _write(tmp_path, "t.csv", "body,label\nx,y\n")
    assert _error(path, ["text", "label", "id"]) == (
        f"{path}: no column 'text', 'id'; the columns are 'body', 'label' (name the right ones "
        "with task.text_column / task.label_column ...)")
    path = _write(tmp_path, "e.csv", "text,label\n\n\n")
    assert _error(path) == f"{path}: no data rows"
    assert read_table(_write(tmp_path, "n.csv", "text\nx\n"), []).rows == [{"text": "x"}]


# -- JSON lines ------------------------------------------------------------------------------
def test_jsonl_rows_values_columns_and_lines(tmp_path):
    content = ('{"text": "a", "n": 3, "f": 1.5, "b": true}\n'      # 1
               '\n'                                                 # 2: blank
               '   \n'                                              # 3: spaces
               '{"text": "b", "l": [1, "x"], "d": {"k": null}, "z": null}\n'  # 4
               '{"n": 0, "text": "c"}')                             # 5: no final newline
    table = read_table(_write(tmp_path, "t.jsonl", content), ["text"])
    assert table.columns == ["text", "n", "f", "b", "l", "d", "z"]
    assert table.rows == [{"text": "a", "n": "3", "f": "1.5", "b": "True"},
                          {"text": "b", "l": '[1, "x"]', "d": '{"k": null}', "z": None},
                          {"n": "0", "text": "c"}]
    assert table.lines == [1, 4, 5] and table.skipped == [2, 3]
    assert table.note() == f"{tmp_path / 't.jsonl'}: skipped 2 blank line(s) (line 2, 3)"


def test_jsonl_final_newline_adds_no_line_but_a_blank_last_line_counts(tmp_path):
    one = read_table(_write(tmp_path, "a.jsonl", '{"text": "a"}\n'), ["text"])
    assert one.lines == [1] and one.skipped == []
    two = read_table(_write(tmp_path, "b.jsonl", '{"text": "a"}\n\n'), ["text"])
    assert two.lines == [1] and two.skipped == [2]
    crlf = read_table(_write(tmp_path, "c.jsonl", '{"text": "a"}\r\n{"text": "b"}\r\n'),
                      ["text"])
    assert crlf.rows == [{"text": "a"}, {"text": "b"}] and crlf.lines == [1, 2]



def test_a_json_file_may_hold_one_array_of_objects(tmp_path):
    content = '[\n  {"text": "a", "n": 3},\n\n  {"text": "b", "label": null}\n]\n'
    table = read_table(_write(tmp_path, "t.json", content), ["text"])
    assert table.rows == [{"text": "a", "n": "3"}, {"text": "b", "label": None}]
    assert table.columns == ["text", "n", "label"] and table.lines == [2, 4]
    path = _write(tmp_path, "u.json", '[{"text": "a"},\n {"label": "x"}]')
    assert _error(path, ["text"]) == f"{path}:2: column 'text' is missing on this row"
    path = _write(tmp_path, "v.json", '[{"text": "a"},\n {"text": }]')
    assert _error(path, ["text"]) == f"{path}:2: not valid JSON (Expecting value)"


@pytest.mark.parametrize("content, message", [
    ('{"text": "a"}\n{"text": \n', ":2: not valid JSON (Expecting value)"),
    ('\n[1, 2]\n', ":2: expected one JSON object a line, got list"),
    ('"text"\n', ":1: expected one JSON object a line, got str"),
    ('{"text": "a", "label": "x"}\n{"label": "y"}\n', ":2: column 'text' is missing on this row"),
    ('{"text": "a", "label": "x"}\n\n{"text": "b", "label": null}\n',
     ":3: column 'label' is null on this row"),
    ('\n\n', ": no column 'text', 'label'; the columns are none (name the right ones with "
     "task.text_column / task.label_column ...)"),
])
def test_malformed_jsonl(tmp_path, content, message):
    path = _write(tmp_path, "t.jsonl", content)
    assert _error(path, ["text", "label"]) == f"{path}{message}"


# -- bytes -----------------------------------------------------------------------------------
def test_non_utf8_names_the_line_and_the_byte(tmp_path):
    path = _write(tmp_path, "t.csv", b"text,label\na,x\ncaf\xe9,y\n")
    assert _error(path) == f"{path}:3: not valid UTF-8 (byte 0xe9); save the file as UTF-8"
    path = _write(tmp_path, "u.jsonl", b"\x81")
    assert _error(path) == f"{path}:1: not valid UTF-8 (byte 0x81); save the file as UTF-8"


# -- the note --------------------------------------------------------------------------------
def test_note_lists_up_to_ten_skipped_lines(tmp_path):
    table = Table(tmp_path / "t.csv", ["text"])
    assert table.note() == ""
    table.skipped = list(range(2, 12))
    assert table.note() == (f"{tmp_path / 't.csv'}: skipped 10 blank line(s) "
                            "(line 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)")
    table.skipped.append(14)
    assert table.note() == (f"{tmp_path / 't.csv'}: skipped 11 blank line(s) "
                            "(line 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 ...)")
    fresh = Table(tmp_path / "u.csv", [])
    assert fresh.rows == [] and fresh.lines == [] and fresh.skipped == []


def test_is_missing_knows_the_usual_marks_in_any_case_and_nothing_else():
    from rnnkit.data.tables import is_missing

    for cell in (None, "", "  ", "?", "NA", "na", " N/A ", "#N/A", "NaN", "nan", "NULL",
                 "null", "None", "<NA>"):
        assert is_missing(cell), cell
    for cell in ("0", "-", "n", "NAN1", "missing", "N.A.", "inf", "x"):
        assert not is_missing(cell), cell


def test_a_json_array_after_blank_lines_with_nested_arrays_keeps_each_object_s_line(tmp_path):
    content = ('\n\n[{"text": "a", "tags": ["x", "y"]},\n {"text": "b", "tags": []},\n'
               ' {"text": "c"}]\n')
    table = read_table(_write(tmp_path, "t.json", content), ["text"])
    assert [r["text"] for r in table.rows] == ["a", "b", "c"]
    assert table.lines == [3, 4, 5] and table.rows[0]["tags"] == '["x", "y"]'
    path = _write(tmp_path, "u.json", '\n[{"text": "a"},\n {"tags": [1]}]')
    assert _error(path) == f"{path}:3: column 'text' is missing on this row"


def test_a_tsv_file_splits_on_tabs_even_when_its_header_holds_a_comma(tmp_path):
    path = _write(tmp_path, "t.tsv", "text, in short\tlabel\na, b\tx\n")
    table = read_table(path, ["text, in short", "label"])
    assert table.columns == ["text, in short", "label"]
    assert table.rows == [{"text, in short": "a, b", "label": "x"}]


def test_delimiter_of_an_open_file_reads_its_first_non_blank_line_and_rewinds(tmp_path):
    from rnnkit.data.tables import delimiter_of

    for text, want in (("\n\n  \nt;v\n1;2\n", ";"), ("t\tv\n", "\t"), ("t,v;w\n", ","),
                       ("", ","), ("\n\n", ",")):
        path = _write(tmp_path, "s.csv", text)
        with open(path, newline="") as f:
            f.read(1)  # wherever the caller left it
            assert delimiter_of(f) == want, text
            assert f.tell() == 0 and f.read() == text


def test_a_stray_quote_right_after_a_quoted_line_break_is_named_alone(tmp_path):
    # (line 3 ends the value line 2 opened; read with it, line 4's quote would close that
    # value instead of opening its own)
    path = _write(tmp_path, "q.csv", 'text,b\n"x\n",1\n",2\nz" q,3\n')
    assert _error(path) == (
        f"{path}:4: a quote opens a value here and is not closed properly before line 5, so "
        "lines 4-5 would be read as one value; inside a quoted value write a quote twice "
        '(""), or quote the whole value')


def test_to_number_reads_a_decimal_comma_only_when_told():
    from rnnkit.data.tables import to_number
    assert to_number(" 2.5 ") == 2.5
    with pytest.raises(ValueError):
        to_number("10,5")
    assert to_number("10,5", True) == 10.5
    with pytest.raises(ValueError):
        to_number("1.234,5", True)  # (thousands marks are not read)
