"""A file that starts with a UTF-8 byte-order mark (as Excel and Notepad save) and holds a
byte that is not UTF-8: every reader names the line and the byte of the file, not of the
text after the mark (Python's utf-8-sig decoder counts its error position from there)."""

from __future__ import annotations

import pytest

from rnnkit.data.datasets import DataError
from rnnkit.data.keywords import read_file_list
from rnnkit.data.manifests import read_manifest
from rnnkit.data.sequences import _text_lines
from rnnkit.data.tables import read_table

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("name, read", [
    ("t.csv", lambda p: read_table(p, ["text", "label"])),
    ("m.jsonl", read_manifest),
    ("s.ts", _text_lines),
    ("validation_list.txt", lambda p: read_file_list(p, set())),
])
def test_the_bad_byte_and_its_line_are_the_files(tmp_path, name, read):
    path = tmp_path / name
    path.write_bytes(BOM + b"ab\ncd\nx\xffy\n")  # the bad byte on line 3
    with pytest.raises(DataError) as err:
        read(path)
    assert str(err.value).startswith(f"{path}:3: not valid UTF-8 (byte 0xff)")
