"""rnnkit.data.manifests against hand-written manifests (issue 20): each tiny JSON-lines file
reads to exactly the utterances, lines and skipped lines worked out by hand, and each
malformed line gives the whole expected message naming the manifest and the line. The
reader only checks that an audio file exists, so the "audio" files here are empty."""

from __future__ import annotations

import json

import pytest

from rnnkit.data.datasets import DataError
from rnnkit.data.manifests import (
    Manifest,
    Utterance,
    check_duration,
    is_manifest,
    normalize_text,
    read_manifest,
)


def _manifest(folder, lines: list[str], name: str = "m.jsonl", end: str = "\n"):
    (folder / "a.wav").write_bytes(b"")
    path = folder / name
    path.write_text("\n".join(lines) + end, encoding="utf-8")
    return path


def _error(path) -> str:
    with pytest.raises(DataError) as e:
        read_manifest(path)
    return str(e.value)


OK = '{"audio_filepath": "a.wav", "text": "a"}'


def test_utterances_lines_and_blank_lines(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/b.flac").write_bytes(b"")
    other = tmp_path / "abs.wav"
    other.write_bytes(b"")
    path = _manifest(tmp_path, [
        '\ufeff{"audio_filepath": "a.wav", "text": " Hello\\u00a0 W\\u00d6RLD ", "duration": 2}',
        "",
        "  \t",
        json.dumps({"audio_filepath": str(other), "text": "e\u0301", "speaker": 3,
                    "duration": 0.5, "offset": 0}),
        json.dumps({"audio_filepath": "sub/b.flac", "text": "x", "speaker": "s",
                    "duration": None, "offset": None, "extra": [1]}),
    ], end="")  # no final newline
    manifest = read_manifest(str(path))
    assert manifest.path == path
    assert manifest.items == [
        Utterance((tmp_path / "a.wav").resolve(), "hello w\u00f6rld", 2.0, None, f"{path}:1"),
        Utterance(other.resolve(), "\u00e9", 0.5, "3", f"{path}:4", 0.0),  # [0, 0.5 s)
        Utterance((tmp_path / "sub/b.flac").resolve(), "x", None, "s", f"{path}:5"),
    ]
    assert isinstance(manifest.items[0].duration, float)
    assert manifest.skipped == [2, 3]
    assert manifest.note() == f"{path}: skipped 2 blank line(s) (line 2, 3)"
    kept = read_manifest(path, lowercase=False).items[0].text
    assert kept == "Hello W\u00d6RLD"


def test_final_newline_adds_no_line_but_a_blank_last_line_counts(tmp_path):
    assert read_manifest(_manifest(tmp_path, [OK])).skipped == []
    two = read_manifest(_manifest(tmp_path, [OK, ""]))
    assert two.skipped == [2] and [u.where[-2:] for u in two.items] == [":1"]


def test_a_home_relative_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "m").mkdir()
    path = _manifest(tmp_path / "m", ['{"audio_filepath": "~/h.wav", "text": "h"}'])
    (tmp_path / "h.wav").write_bytes(b"")
    assert read_manifest(path).items[0].audio == (tmp_path / "h.wav").resolve()


@pytest.mark.parametrize("line, message", [
    ('{"audio_filepath": "a.wav", "text": "ab"', "not valid JSON (Expecting ',' delimiter at "
     "column 41)"),
    ('  ["a.wav"]', 'expected a JSON object {"audio_filepath", "text", "duration"}, got list'),
    ('{"text": "ab", "b": 1}', "no 'audio_filepath' key (each line needs 'audio_filepath' and "
     "'text'; 'duration' is checked when given); keys: ['b', 'text']"),
    ('{"audio_filepath": "a.wav"}', "no 'text' key (each line needs 'audio_filepath' and "
     "'text'; 'duration' is checked when given); keys: ['audio_filepath']"),
    ('{"audio_filepath": 1, "text": "ab"}', "'audio_filepath' must be a string, got 1"),
    ('{"audio_filepath": "a.wav", "text": ["x"]}', "'text' must be a string, got [\"x\"]"),
    ('{"audio_filepath": "a.wav", "text": "ab", "offset": 0.5}',
     "'offset' 0.5 needs a 'duration' (the utterance is the 'duration' seconds of the file "
     "from 'offset')"),
    ('{"audio_filepath": "a.wav", "text": "ab", "offset": 1, "duration": null}',
     "'offset' 1 needs a 'duration' (the utterance is the 'duration' seconds of the file "
     "from 'offset')"),
    ('{"audio_filepath": "a.wav", "text": "ab", "offset": 12.5, "duration": 0}',
     "a zero-length segment ('duration' 0 from 'offset' 12.5)"),
    ('{"audio_filepath": "a.wav", "text": "ab", "offset": -0.5, "duration": 1}',
     "'offset' must be a number of seconds >= 0, got -0.5"),
    ('{"audio_filepath": "a.wav", "text": "ab", "offset": "3", "duration": 1}',
     "'offset' must be a number of seconds >= 0, got \"3\""),
    ('{"audio_filepath": "a.wav", "text": "ab", "offset": false, "duration": 1}',
     "'offset' must be a number of seconds >= 0, got false"),
    ('{"audio_filepath": "a.wav", "text": "ab", "offset": NaN, "duration": 1}',
     "'offset' must be a number of seconds >= 0, got NaN"),
    ('{"audio_filepath": "a.wav", "text": "ab", "offset": 1, "duration": -2}',
     "'duration' must be a number of seconds >= 0, got -2"),
    ('{"audio_filepath": "a.wav", "text": " \\n "}',
     "empty 'text': every utterance needs a transcript"),
    ('{"audio_filepath": "a.wav", "text": "ab", "duration": -0.5}',
     "'duration' must be a number of seconds >= 0, got -0.5"),
    ('{"audio_filepath": "a.wav", "text": "ab", "duration": true}',
     "'duration' must be a number of seconds >= 0, got true"),
    ('{"audio_filepath": "a.wav", "text": "ab", "duration": "1"}',
     "'duration' must be a number of seconds >= 0, got \"1\""),
    ('{"audio_filepath": "a.wav", "text": "ab", "duration": Infinity}',
     "'duration' must be a number of seconds >= 0, got Infinity"),
    ('{"audio_filepath": "a.wav", "text": "ab", "duration": NaN}',
     "'duration' must be a number of seconds >= 0, got NaN"),
    ('{"audio_filepath": " ", "text": "ab"}', "empty 'audio_filepath'"),
])
def test_a_malformed_line_gives_its_whole_message(tmp_path, line, message):
    path = _manifest(tmp_path, [OK, "", line])
    assert _error(path) == f"{path}:3: {message}"


def test_zero_duration_without_an_offset_and_a_segment_from_zero_are_fine(tmp_path):
    path = _manifest(tmp_path, ['{"audio_filepath": "a.wav", "text": "a", "duration": 0}',
                                '{"audio_filepath": "a.wav", "text": "a", "duration": 2, '
                                '"offset": 0}', '{"audio_filepath": "a.wav", "text": "a", '
                                '"duration": 0.25, "offset": 3, "speaker": "s"}'])
    first, second, third = read_manifest(path).items
    assert (first.duration, first.offset, first.span) == (0.0, None, (0.0, float("inf")))
    assert (second.duration, second.offset, second.span) == (2.0, 0.0, (0.0, 2.0))
    assert isinstance(third.offset, float) and third.span == (3.0, 3.25)


def test_a_missing_audio_file_names_where_it_was_looked_for(tmp_path):
    (tmp_path / "m").mkdir()
    path = _manifest(tmp_path / "m", ['{"audio_filepath": "gone.wav", "text": "a"}'])
    assert _error(path) == (f"{path}:1: audio file {str(tmp_path / 'm' / 'gone.wav')!r} not "
                            "found (a relative audio_filepath is read from the manifest's "
                            "folder)")
    (tmp_path / "m" / "dir.wav").mkdir()
    path = _manifest(tmp_path / "m", ['{"audio_filepath": "dir.wav", "text": "a"}'])
    assert _error(path).startswith(f"{path}:1: audio file ")


def test_file_errors(tmp_path):
    assert _error(tmp_path) == (f"{tmp_path}: is a folder; expected a JSON-lines manifest (one "
                                '{"audio_filepath", "text", "duration"} object a line)')
    gone = tmp_path / "gone.jsonl"
    assert _error(gone) == f"{gone}: cannot read: No such file or directory"
    path = tmp_path / "b.jsonl"
    path.write_bytes(OK.encode() + b"\n\n{\"text\": \"caf\xe9\"}\n")
    assert _error(path) == f"{path}:3: not valid UTF-8 (byte 0xe9); save the manifest as UTF-8"
    path.write_text("\n \n", encoding="utf-8")
    assert _error(path) == f"{path}: no utterances (an empty manifest)"


def test_normalize_text():
    assert normalize_text(" A\u00a0\tB\n c ") == "a b c"
    assert normalize_text(" A\u00a0\tB\n c ", lowercase=False) == "A B c"
    assert normalize_text("Cafe\u0301", False) == "Caf\u00e9"


def test_note_lists_up_to_ten_skipped_lines(tmp_path):
    m = Manifest(tmp_path / "m.jsonl")
    assert m.note() == "" and m.items == [] and m.skipped == []
    m.skipped = list(range(1, 11))
    assert m.note() == f"{m.path}: skipped 10 blank line(s) (line 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)"
    m.skipped.append(12)
    assert m.note() == (f"{m.path}: skipped 11 blank line(s) "
                        "(line 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ...)")


def test_check_duration_is_silent_for_a_segment():
    """A segment's duration is what is read, not a claim about the file to check."""
    segment = Utterance(None, "a", 1.5, None, "m.jsonl:4", 10.0)
    assert check_duration(segment, 60.0, 0.0) == ""


def test_check_duration_tolerance_is_inclusive():
    utt = Utterance(None, "a", 1.5, None, "m.jsonl:4")
    assert check_duration(utt, 1.75, 0.25) == "" and check_duration(utt, 1.25, 0.25) == ""
    assert check_duration(utt, 1.8, 0.25) == "m.jsonl:4: duration 1.5 s, the audio lasts 1.800 s"
    assert check_duration(utt, 1.2, 0.25) == "m.jsonl:4: duration 1.5 s, the audio lasts 1.200 s"
    assert check_duration(Utterance(None, "a", None, None, "w"), 99.0, 0.0) == ""


def test_is_manifest_reads_the_first_non_blank_line_as_a_json_object_with_audio(tmp_path):
    path = tmp_path / "m.json"
    line = json.dumps({"audio_filepath": "a.wav", "text": "x"}) + "\n"
    for content, want in ((b"\n  \n" + line.encode(), True),
                          (b"\xef\xbb\xbf" + line.encode(), True),  # a byte-order mark
                          (b"", False), (b"\n\n", False),          # nothing to read
                          (b'{"audio": "a.wav"}\n', False),         # another JSON object
                          (b'["audio_filepath"]\n', False),         # not an object
                          (b"audio_filepath,text\n", False),        # not JSON
                          (b'{"audio_filepath": "\xff"}\n', False)):  # not UTF-8
        path.write_bytes(content)
        assert is_manifest(path) is want, content
    assert is_manifest(tmp_path / "missing.json") is False
    assert is_manifest(tmp_path) is False  # (a folder)
