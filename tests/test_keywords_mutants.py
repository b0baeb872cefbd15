"""rnnkit.data.keywords against hand-made folders (issue 20): the clips, labels, names and
skipped files of a tiny folder tree worked out by hand, each error message in full. The
scanner never opens a recording, so the "audio" files here are empty."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rnnkit.data.datasets import DataError
from rnnkit.data.keywords import Clip, Scan, read_file_list, scan_labels, speaker_of


def _tree(root, files: list[str]):
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return root


def _error(fn, *args) -> str:
    with pytest.raises(DataError) as e:
        fn(*args)
    return str(e.value)


def test_scan_lists_audio_by_label_then_name_and_skips_the_rest(tmp_path):
    root = _tree(tmp_path / "kw", [
        "yes/b.wav", "yes/a.FLAC", "yes/readme.txt", "yes/sub/deep.wav",  # deep: not a child
        "no/c.ogg", "no/.DS_Store",
        "_background_noise_/hum.wav", ".hidden/x.wav",  # not labels
        "top.wav", "validation_list.txt",  # files in root: not recordings
    ])
    scan = scan_labels(str(root))
    assert scan.clips == [Clip(root / "no/c.ogg", "no", "no/c.ogg"),
                          Clip(root / "yes/a.FLAC", "yes", "yes/a.FLAC"),
                          Clip(root / "yes/b.wav", "yes", "yes/b.wav")]
    assert scan.skipped == ["no/.DS_Store", "yes/readme.txt"]
    assert scan.note(root) == (f"{root}: skipped 2 file(s) that are not audio (.wav, .flac, "
                               ".ogg): no/.DS_Store, yes/readme.txt")


def test_note_shows_ten_skipped_names_then_dots(tmp_path):
    assert Scan([], []).note(tmp_path) == ""
    names = [f"a/{i:02d}.txt" for i in range(11)]
    shown = ", ".join(names[:10])
    assert Scan([], names[:10]).note(tmp_path) == (
        f"{tmp_path}: skipped 10 file(s) that are not audio (.wav, .flac, .ogg): {shown}")
    assert Scan([], names).note(tmp_path) == (
        f"{tmp_path}: skipped 11 file(s) that are not audio (.wav, .flac, .ogg): {shown} ...")


def test_scan_errors_name_the_folder(tmp_path):
    missing = tmp_path / "missing"
    assert _error(scan_labels, missing) == (
        f"{missing}: not a folder; keywords are read from root/<label>/*.wav")
    afile = _tree(tmp_path, ["f.wav"]) / "f.wav"
    assert _error(scan_labels, afile).startswith(f"{afile}: not a folder")
    root = _tree(tmp_path / "kw", ["a.wav", "_background_noise_/n.wav", ".git/x.wav"])
    assert _error(scan_labels, root) == (
        f"{root}: no label folders; keywords are read from root/<label>/*.wav, one folder per "
        "label")
    _tree(root, ["yes/y.wav", "zz/notes.txt"])
    assert _error(scan_labels, root) == (
        f"{root / 'zz'}: label folder 'zz' holds no audio file (.wav, .flac, .ogg); remove it "
        "or add recordings")


def test_file_list_reads_names_in_order(tmp_path):
    path = tmp_path / "testing_list.txt"
    path.write_text("yes/b.wav\n\n  ./no/c.wav  \r\nyes\\a.wav\n   \nno/./d.wav\n",
                    encoding="utf-8")
    known = {"yes/a.wav", "yes/b.wav", "no/c.wav", "no/./d.wav"}
    assert read_file_list(path, known) == ["yes/b.wav", "no/c.wav", "yes/a.wav", "no/./d.wav"]


def test_file_list_errors_name_the_line_and_why(tmp_path):
    _tree(tmp_path, ["yes/there.wav"])
    path = tmp_path / "validation_list.txt"
    path.write_text("yes/a.wav\n\nyes/gone.wav\n", encoding="utf-8")
    assert _error(read_file_list, path, {"yes/a.wav"}) == (
        f"{path}:3: 'yes/gone.wav': no such file (names are relative to {tmp_path}, e.g. "
        "yes/0a7c2a8d_nohash_0.wav)")
    path.write_text("./yes/there.wav\n", encoding="utf-8")
    assert _error(read_file_list, path, {"yes/a.wav"}) == (
        f"{path}:1: 'yes/there.wav': is not a recording of a label folder (names are relative "
        f"to {tmp_path}, e.g. yes/0a7c2a8d_nohash_0.wav)")


def test_file_lists_are_read_as_utf8_under_an_ascii_locale(tmp_path):
    (tmp_path / "list.txt").write_bytes("caf\u00e9/x.wav\n".encode())
    # (in this process too, so that mutmut knows this test reaches read_file_list)
    assert read_file_list(tmp_path / "list.txt", {"caf\u00e9/x.wav"}) == ["caf\u00e9/x.wav"]
    code = ("import sys; from pathlib import Path; from rnnkit.data.keywords import "
            "read_file_list as r; print(ascii(r(Path(sys.argv[1]), {'caf\\xe9/x.wav'})))")
    env = dict(os.environ, LC_ALL="C", PYTHONCOERCECLOCALE="0", PYTHONUTF8="0")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "list.txt")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "['caf\\xe9/x.wav']", out.stderr[-500:]


@pytest.mark.parametrize("name, speaker", [
    ("0a7c2a8d_nohash_0.wav", "0a7c2a8d"),
    ("yes/0a7c2a8d_nohash_12.flac", "0a7c2a8d"),
    ("a_b_nohash_3.wav", "a_b"),
    ("x_nohash_0.wav.bak", None),
    ("0a7c2a8d_nohash_.wav", None),
    ("0a7c2a8d_nohash_x.wav", None),
    ("_nohash_1.wav", None),
    ("pre0a7c2a8d_hash_0.wav", None),
    ("0a7c2a8d_nohash_1", None),
    ("plain.wav", None),
])
def test_speaker_of_speech_commands_names(name, speaker):
    assert speaker_of(name) == speaker
