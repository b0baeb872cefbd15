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

from rnnkit.data.audio import AudioError
from rnnkit.data.datasets import DataError
from rnnkit.data.keywords import (
    Clip,
    Scan,
    file_lists,
    keep_readable,
    read_file_list,
    scan_labels,
    speaker_of,
)


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
                               ".ogg, .opus, .mp3, .aif, .aiff): yes/readme.txt")


def test_note_shows_ten_skipped_names_then_dots(tmp_path):
    assert Scan([], []).note(tmp_path) == ""
    names = [f"a/{i:02d}.txt" for i in range(11)]
    shown = ", ".join(names[:10])
    assert Scan([], names[:10]).note(tmp_path) == (
        f"{tmp_path}: skipped 10 file(s) that are not audio (.wav, .flac, .ogg, .opus, .mp3, "
        f".aif, .aiff): {shown}")
    assert Scan([], names).note(tmp_path) == (
        f"{tmp_path}: skipped 11 file(s) that are not audio (.wav, .flac, .ogg, .opus, .mp3, "
        f".aif, .aiff): {shown} ...")


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
        f"{root / 'zz'}: label folder 'zz' holds no audio file (.wav, .flac, .ogg, .opus, "
        ".mp3, .aif, .aiff); remove it or add recordings")


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
    _tree(root, [f"f/{ete}.wav"])  # and the files of a folder in NFC order too
    assert [c.name for c in scan_labels(root).clips if c.label == "f"] == [
        "f/x.wav", "f/\u00e9t\u00e9.wav"]


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


# -- recordings that cannot be read, and the list files that name them ---------------------

def _clips(root, names: list[str]) -> list[Clip]:
    return [Clip(root / name, name.split("/")[0], name) for name in names]


def test_note_counts_and_shows_ten_of_each_kind_in_three_parts(tmp_path):
    clips = _clips(tmp_path, ["a/ok.wav"])
    bad = [(c, f"{c.path}: reason {i}")
           for i, c in enumerate(_clips(tmp_path, [f"b/{i:02d}.wav" for i in range(11)]))]
    unlisted = [f"testing_list.txt: b/{i:02d}.wav" for i in range(11)]
    ten_why, ten_named = "; ".join(why for _, why in bad[:10]), ", ".join(unlisted[:10])
    assert Scan(clips, ["a/x.txt"], bad[:10]).note(tmp_path, unlisted[:10]) == (
        f"{tmp_path}: skipped 1 file(s) that are not audio (.wav, .flac, .ogg, .opus, .mp3, "
        f".aif, .aiff): a/x.txt; left "
        f"10 recording(s) that cannot be read out of the file lists ({ten_named}); skipped 10 "
        f"of 11 recordings that cannot be read: {ten_why}")
    assert Scan(clips, [], bad).note(tmp_path, iter(unlisted)) == (
        f"{tmp_path}: left 11 recording(s) that cannot be read out of the file lists "
        f"({ten_named} ...); skipped 11 of 12 recordings that cannot be read: {ten_why} ...")
    assert Scan([], [], bad[:1]).note(tmp_path) == (
        f"{tmp_path}: skipped 1 of 1 recordings that cannot be read: {bad[0][1]}")
    assert Scan(clips, [], []).note(tmp_path, unlisted[:1]) == (
        f"{tmp_path}: left 1 recording(s) that cannot be read out of the file lists "
        f"({unlisted[0]})")


def _failing(*names: str):
    """A reader that raises AudioError on the clips ``names``, and records what it read."""
    seen = []

    def read(clip: Clip) -> None:
        seen.append(clip.name)
        if clip.name in names:
            raise AudioError(f"{clip.name}: bad")
    return read, seen


def test_keep_readable_moves_what_cannot_be_read_after_what_was_already(tmp_path):
    clips = _clips(tmp_path, ["no/1.wav", "no/2.wav", "yes/3.wav", "yes/4.wav"])
    earlier = (Clip(tmp_path / "x/0.wav", "x", "x/0.wav"), "x/0.wav: earlier")
    read, seen = _failing("no/2.wav", "yes/3.wav")
    got = keep_readable(Scan(clips, ["no/n.txt"], [earlier]), tmp_path, read)
    assert seen == ["no/1.wav", "no/2.wav", "yes/3.wav", "yes/4.wav"]
    assert got == Scan([clips[0], clips[3]], ["no/n.txt"],
                       [earlier, (clips[1], "no/2.wav: bad"), (clips[2], "yes/3.wav: bad")])


@pytest.mark.parametrize("n", [5, 6])
def test_nothing_readable_is_an_error_giving_the_first_five_reasons(tmp_path, n):
    nos = [f"no/{i}.wav" for i in range(n)]
    reasons = "; ".join(f"no/{i}.wav: bad" for i in range(5)) + (" ..." if n > 5 else "")
    scan = Scan(_clips(tmp_path, nos), [])
    assert _error(keep_readable, scan, str(tmp_path), _failing(*nos)[0]) == (
        f"{tmp_path}: none of its {n} recording(s) can be read: {reasons}")
    # one label unheard (a bad file of another label is not counted with it)
    scan = Scan(_clips(tmp_path, ["a/ok.wav", "a/bad.wav", *nos]), [])
    assert _error(keep_readable, scan, tmp_path, _failing("a/bad.wav", *nos)[0]) == (
        f"{tmp_path / 'no'}: none of the {n} recording(s) of label 'no' can be read; replace "
        f"them, or remove the folder: {reasons}")


def test_file_lists_leave_out_the_unreadable_and_name_a_recording_in_both(tmp_path):
    root = _tree(tmp_path / "kw", ["no/a.wav", "no/b.wav", "yes/c.wav", "yes/d.wav"])
    a, b, c, d = scan_labels(root).clips
    scan = Scan([a, d], [], [(b, "no/b.wav: bad"), (c, "yes/c.wav: bad")])
    assert file_lists(root, scan) == ({}, [])
    (root / "testing_list.txt").write_text("yes/d.wav\nno/b.wav\n")
    (root / "validation_list.txt").write_text("yes/c.wav\nno/a.wav\n")
    parts, unlisted = file_lists(root, scan)
    assert parts == {"val": [a], "test": [d]} and list(parts) == ["val", "test"]
    assert unlisted == ["validation_list.txt: yes/c.wav", "testing_list.txt: no/b.wav"]
    (root / "validation_list.txt").write_text("yes/d.wav\nno/b.wav\nyes/c.wav\n")
    assert _error(file_lists, root, scan) == (
        f"{root}: 'no/b.wav' (and 1 more) is named by both validation_list.txt and "
        "testing_list.txt")
    (root / "validation_list.txt").write_text("yes/d.wav\n")
    assert _error(file_lists, root, scan) == (
        f"{root}: 'yes/d.wav' (and 0 more) is named by both validation_list.txt and "
        "testing_list.txt")


def test_a_list_file_that_cannot_be_read_or_is_not_utf8_is_named(tmp_path, monkeypatch):
    path = tmp_path / "testing_list.txt"
    path.mkdir()
    assert _error(read_file_list, path, set()) == f"{path}: cannot read: Is a directory"
    path.rmdir()
    path.write_bytes(b"\xef\xbb\xbfyes/a.wav\n\nno/caf\xe9.wav\n")
    assert _error(read_file_list, path, {"yes/a.wav"}) == (
        f"{path}:3: not valid UTF-8 (byte 0xe9); save the list as UTF-8")
    path.write_bytes(b"\xffyes/a.wav\n")
    assert _error(read_file_list, path, {"yes/a.wav"}) == (
        f"{path}:1: not valid UTF-8 (byte 0xff); save the list as UTF-8")
    path.write_bytes(b"\xef\xbb\xbfab\n\xff\n")  # (the byte-order mark is not counted)
    assert _error(read_file_list, path, {"yes/a.wav"}) == (
        f"{path}:2: not valid UTF-8 (byte 0xff); save the list as UTF-8")

    def refuse(self):
        raise OSError("the disk said no")  # (no errno, no strerror)
    monkeypatch.setattr(type(path), "read_bytes", refuse)
    assert _error(read_file_list, path, set()) == f"{path}: cannot read: the disk said no"


def test_a_folder_of_label_folders_names_five_of_those_holding_recordings(tmp_path):
    no_audio = (".wav, .flac, .ogg, .opus, .mp3, .aif, .aiff")
    labels = ["a", "b", "c", "d", "e", "f"]
    root = _tree(tmp_path / "r", [f"archive/{x}/1.wav" for x in labels[:5]])
    inner = root / "archive"
    assert _error(scan_labels, root) == (
        f"{inner}: label folder 'archive' holds no audio file ({no_audio}) but folders of "
        f"recordings (a, b, c, d, e): if those are the labels, read {inner} as the root "
        "(task.data)")
    _tree(root, ["archive/f/1.wav"])
    assert f"(a, b, c, d, e ...): if those are the labels, read {inner}" in _error(
        scan_labels, root)
    # folders holding no recording: a text file, a hidden recording, a folder named .wav
    root = _tree(tmp_path / "s", ["archive/notes/readme.txt", "archive/hid/.x.wav"])
    (root / "archive" / "dir" / "a.wav").mkdir(parents=True)
    assert _error(scan_labels, root) == (
        f"{root / 'archive'}: label folder 'archive' holds no audio file ({no_audio}); remove "
        "it or add recordings")
