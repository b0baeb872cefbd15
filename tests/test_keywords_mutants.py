"""rnnkit.data.keywords against hand-made folders (issue 20): the clips, labels, names and
skipped files of a tiny folder tree worked out by hand, each error message in full. The
scanner never opens a recording, so the "audio" files here are empty, but in the one test
where the task reads them."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

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
    assert scan.skipped == ["yes/readme.txt"]  # .DS_Store: hidden, passed over silently
    assert scan.note(root) == (f"{root}: skipped 1 file(s) that are not audio (.wav, .flac, "
                               ".ogg): yes/readme.txt")


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


# -- label names in either Unicode form, and what is not data ------------------------------
NFC, NFD = "caf\u00e9", "cafe\u0301"  # "café" as typed, and as a macOS file system gives it


def test_labels_and_names_come_out_in_nfc_whatever_the_file_system_gave(tmp_path):
    ete = "e\u0301te\u0301"  # "été" in NFD: it sorts before "f" as is, after it in NFC
    root = _tree(tmp_path / "kw", [f"{NFD}/{NFD}1.wav", f"{ete}/b.wav", f"{ete}/{ete}.wav",
                                   "f/x.wav"])
    scan = scan_labels(root)
    assert scan.clips == [Clip(root / NFD / f"{NFD}1.wav", NFC, f"{NFC}/{NFC}1.wav"),
                          Clip(root / "f/x.wav", "f", "f/x.wav"),
                          Clip(root / ete / "b.wav", "\u00e9t\u00e9", "\u00e9t\u00e9/b.wav"),
                          Clip(root / ete / f"{ete}.wav", "\u00e9t\u00e9",
                               "\u00e9t\u00e9/\u00e9t\u00e9.wav")]
    assert all(c.path.is_file() for c in scan.clips)  # paths stay the file system's own


def test_file_lists_match_names_in_either_form(tmp_path):
    root = _tree(tmp_path / "kw", [f"{NFD}/a.wav", f"{NFD}/b.wav"])
    known = {c.name for c in scan_labels(root).clips}
    (root / "testing_list.txt").write_text(f"{NFC}/b.wav\n{NFD}/a.wav\n", encoding="utf-8")
    assert read_file_list(root / "testing_list.txt", known) == [f"{NFC}/b.wav", f"{NFC}/a.wav"]


def test_a_task_matches_a_label_across_roots_and_list_files(tmp_path):
    from rnnkit.tasks import TASKS
    from rnnkit.tasks.speech_digits import SpeechDigitsConfig
    from rnnkit.training.config import RunConfig

    def ctx(**task):
        return TASKS["speech-digits"].setup(RunConfig(name="t", task=SpeechDigitsConfig(**task)))

    _tree(tmp_path / "mac", [f"{NFD}/a.wav", f"{NFD}/b.wav", "tea/c.wav", "tea/d.wav"])
    _tree(tmp_path / "linux", [f"{NFC}/e.wav", "tea/f.wav"])
    for path in tmp_path.rglob("*.wav"):  # the task reads its recordings: real audio here
        sf.write(path, np.full(160, 0.1, np.float32), 16000)
    both = ctx(train_data=str(tmp_path / "mac"), test_data=str(tmp_path / "linux"),
               val_fraction=0.5)
    assert both.labels == [NFC, "tea"]
    assert {c.label for c in both.clips["test"]} == {NFC, "tea"}
    (tmp_path / "mac" / "testing_list.txt").write_text(f"{NFC}/a.wav\ntea/c.wav\n")
    (tmp_path / "mac" / "validation_list.txt").write_text(f"{NFC}/b.wav\n")
    listed = ctx(data=str(tmp_path / "mac"))
    assert {k: [c.name for c in v] for k, v in listed.clips.items()} == {
        "train": ["tea/d.wav"], "val": [f"{NFC}/b.wav"], "test": [f"{NFC}/a.wav", "tea/c.wav"]}


def test_two_folders_or_files_in_two_unicode_forms_are_an_error(tmp_path):
    root = _tree(tmp_path / "kw", [f"{NFC}/a.wav", f"{NFD}/b.wav", "tea/c.wav"])
    assert _error(scan_labels, root) == (
        f"{root}: the folders 'cafe\\u0301' and 'caf\\xe9' are both 'caf\u00e9', written in "
        "two Unicode forms (NFC and NFD, as macOS writes names); merge them into one, or "
        "rename one")
    (root / NFD / "b.wav").unlink()
    (root / NFD).rmdir()
    _tree(root, [f"tea/{NFD}.wav", f"tea/{NFC}.wav"])
    message = _error(scan_labels, root)
    assert message.startswith(f"{root / 'tea'}: the files ") and "'cafe\\u0301.wav'" in message


def test_hidden_entries_and_macos_leftovers_are_passed_over_silently(tmp_path):
    root = _tree(tmp_path / "kw", [
        "yes/a.wav", "yes/.DS_Store", "yes/._a.wav", "yes/.ipynb_checkpoints/a-checkpoint.wav",
        ".ipynb_checkpoints/x.wav", ".DS_Store", "__MACOSX/yes/._a.wav",
        "_background_noise_/hum.wav", "no/b.wav", "no/notes.txt",
    ])
    scan = scan_labels(root)
    assert [c.name for c in scan.clips] == ["no/b.wav", "yes/a.wav"]
    assert scan.skipped == ["no/notes.txt"]
