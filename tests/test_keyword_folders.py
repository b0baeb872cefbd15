"""A spoken-keyword folder (``root/<label>/*.wav``) with recordings that cannot be read:
they are skipped with one warning a folder that counts them and names the first 10 with
their reasons, as if they were not there (a list file naming one leaves it out); only a
label, or a whole folder, with no readable recording is an error; a bad file named by
itself stays a per-file error when predicting."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.speech_digits import SpeechDigitsConfig, split_clips
from rnnkit.training.config import ModelConfig, RunConfig

TASK = TASKS["speech-digits"]
SUFFIXES = "(WAV, FLAC, OGG ...): "


def _wav(path: Path, freq: float, rate: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(800) / rate  # 50 ms
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), rate, subtype="PCM_16")


def good(root: Path, per_label: int = 4, name: str = "{label}{i}.wav") -> list[str]:
    """Readable recordings of labels ``no`` and ``yes`` -> their names (``label/file``)."""
    names = []
    for k, label in enumerate(("no", "yes")):
        for i in range(per_label):
            file = name.format(label=label, i=i, speaker=f"s{i % 3}")
            _wav(root / label / file, 300 + 400 * k + 15 * i)
            names.append(f"{label}/{file}")
    return names


def bad(folder: Path) -> dict[str, str]:
    """One recording of each kind that cannot be read -> {name: how its reason starts}."""
    folder.mkdir(parents=True, exist_ok=True)
    _wav(folder / "whole.tmp.wav", 500)
    (folder / "cut.wav").write_bytes((folder / "whole.tmp.wav").read_bytes()[:30])  # truncated
    (folder / "whole.tmp.wav").unlink()
    (folder / "text.wav").write_text("a transcript, renamed .wav\n")
    (folder / "zero.wav").write_bytes(b"")
    sf.write(folder / "none.wav", np.zeros(0, np.float32), 16000)  # a header, no samples
    return {"cut.wav": f"not a readable audio file {SUFFIXES}",
            "text.wav": f"not a readable audio file {SUFFIXES}",
            "zero.wav": "the file is empty (0 bytes), not audio",
            "none.wav": "the audio file holds no samples"}


def setup(**task):
    return TASK.setup(RunConfig(name="t", task=SpeechDigitsConfig(**task),
                                model=ModelConfig(cell="gru", hidden_size=8)))


def names(parts) -> dict[str, list[str]]:
    return {split: [c.name for c in part] for split, part in parts.items()}


def test_unreadable_recordings_are_skipped_with_one_warning(tmp_path):
    root = tmp_path / "kw"
    want = good(root)
    reasons = bad(root / "yes")
    (root / "no" / "notes.txt").write_text("not audio")
    ctx = setup(data=str(root), val_fraction=0.25, test_fraction=0.25)
    with pytest.warns(UserWarning) as caught:
        parts = ctx.clips
    assert len(caught) == 1
    message = str(caught[0].message)
    head = (f"{root}: skipped 1 file(s) that are not audio (.wav, .flac, .ogg, .opus, .mp3, "
            ".aif, .aiff): no/notes.txt; "
            f"skipped 4 of 12 recordings that cannot be read: ")
    assert message.startswith(head)
    listed = message[len(head):].split(f"; {root}")
    assert len(listed) == 4
    for name, why in reasons.items():
        assert f"{root / 'yes' / name}: {why}" in message
    assert sorted(sum(names(parts).values(), [])) == sorted(want)
    assert ctx.labels == ["no", "yes"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # read once: no second warning
        splits = ctx.splits
    assert sum(len(s["y"]) for s in splits.values()) == 8
    for split, part in parts.items():
        assert splits[split]["y"].tolist() == [ctx.labels.index(c.label) for c in part]


@pytest.mark.parametrize("name", ["{label}{i}.wav", "{speaker}_nohash_{i}.wav"])
def test_the_split_is_that_of_the_folder_without_the_bad_files(tmp_path, name):
    """By file, or by speaker for Speech Commands names (no voice in two parts)."""
    split = dict(split_seed=4, test_fraction=0.34, val_fraction=0.5)  # nohash: 3 speakers
    good(tmp_path / "clean", per_label=12, name=name)
    good(tmp_path / "kw", per_label=12, name=name)
    bad(tmp_path / "kw" / "no")
    (tmp_path / "kw" / "yes" / "s9_nohash_0.wav").write_bytes(b"RIFF")  # a voice unheard
    with pytest.warns(UserWarning, match=r"skipped 5 of 29 recordings that cannot be read"):
        got = names(split_clips(SpeechDigitsConfig(data=str(tmp_path / "kw"), **split)))
    want = names(split_clips(SpeechDigitsConfig(data=str(tmp_path / "clean"), **split)))
    assert got == want and all(want.values())
    if "nohash" in name:
        voices = [{n.split("/")[1].split("_")[0] for n in part} for part in got.values()]
        assert not (voices[0] & voices[1] or voices[0] & voices[2] or voices[1] & voices[2])


def test_the_warning_names_the_first_ten_and_counts_all(tmp_path):
    root = tmp_path / "kw"
    good(root, per_label=3)
    for i in range(12):
        (root / "yes" / f"junk{i:02d}.wav").write_text("junk")
    with pytest.warns(UserWarning) as caught:
        split_clips(SpeechDigitsConfig(data=str(root), val_fraction=0.3, test_fraction=0.3))
    (warning,) = caught
    message = str(warning.message)
    assert message.startswith(f"{root}: skipped 12 of 18 recordings that cannot be read: ")
    assert message.endswith(" ...") and message.count("not a readable audio file") == 10
    assert "junk09.wav" in message and "junk10.wav" not in message


def test_file_lists_naming_a_skipped_recording_leave_it_out(tmp_path):
    root = tmp_path / "kw"
    good(root)
    bad(root / "no")
    (root / "yes" / "cut.wav").write_bytes(b"")
    (root / "testing_list.txt").write_text("yes/yes0.wav\nno/zero.wav\n")
    (root / "validation_list.txt").write_text("yes/cut.wav\nno/no1.wav\nno/text.wav\n")
    with pytest.warns(UserWarning) as caught:
        parts = names(split_clips(SpeechDigitsConfig(data=str(root))))
    assert parts == {"train": ["no/no0.wav", "no/no2.wav", "no/no3.wav", "yes/yes1.wav",
                               "yes/yes2.wav", "yes/yes3.wav"],
                     "val": ["no/no1.wav"], "test": ["yes/yes0.wav"]}
    (warning,) = caught
    message = str(warning.message)
    assert message.startswith(
        f"{root}: left 3 recording(s) that cannot be read out of the file lists "
        "(validation_list.txt: yes/cut.wav, validation_list.txt: no/text.wav, "
        f"testing_list.txt: no/zero.wav); skipped 5 of 13 recordings that cannot be read: "
        f"{root / 'no' / 'cut.wav'}: not a readable audio file")
    (root / "testing_list.txt").write_text("no/zero.wav\nyes/nope.wav\n")  # still an error
    with pytest.raises(TaskError, match=r"testing_list\.txt:2: 'yes/nope\.wav': no such file"):
        split_clips(SpeechDigitsConfig(data=str(root)))


def test_a_label_with_no_readable_recording_is_an_error_naming_its_folder(tmp_path):
    root = tmp_path / "kw"
    good(root)
    for f in (root / "no").iterdir():
        f.unlink()
    reasons = bad(root / "no")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the error says it all: no warning besides
        with pytest.raises(TaskError) as e:
            setup(data=str(root)).labels  # noqa: B018
    message = str(e.value)
    assert message.startswith(f"{root / 'no'}: none of the 4 recording(s) of label 'no' can "
                              "be read; replace them, or remove the folder: ")
    assert all(f"{root / 'no' / n}: {why}" in message for n, why in reasons.items())
    assert not message.endswith(" ...") and e.value.__cause__ is None


def test_a_folder_with_no_readable_recording_is_an_error_naming_it(tmp_path):
    root = tmp_path / "kw"
    bad(root / "no")
    bad(root / "yes")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TaskError) as e:
            split_clips(SpeechDigitsConfig(data=str(root)))
    message = str(e.value)
    assert message.startswith(f"{root}: none of its 8 recording(s) can be read: "
                              f"{root / 'no' / 'cut.wav'}: not a readable audio file")
    assert message.endswith(" ...") and message.count(f"; {root}") == 4  # the first 5 named


def test_separate_folders_are_each_skipped_and_warned_once(tmp_path):
    good(tmp_path / "train")
    good(tmp_path / "test", per_label=1)
    (tmp_path / "train" / "yes" / "zero.wav").write_bytes(b"")
    (tmp_path / "test" / "no" / "text.wav").write_text("text")
    with pytest.warns(UserWarning) as caught:
        parts = names(split_clips(SpeechDigitsConfig(
            train_data=str(tmp_path / "train"), test_data=str(tmp_path / "test"),
            val_fraction=0.25, split_seed=2)))
    assert [str(w.message).split(": skipped 1 of ")[0] for w in caught] == [
        str(tmp_path / "train"), str(tmp_path / "test")]
    assert parts["test"] == ["no/no0.wav", "yes/yes0.wav"]
    assert len(parts["train"]) + len(parts["val"]) == 8


CONFIG = """
name = "keywords"
[task]
name = "speech-digits"
data = "kw"
test_fraction = 0.25
val_fraction = 0.25
[model]
cell = "gru"
hidden_size = 8
[train]
steps = 2
batch_size = 4
eval_every = 2
progress = "off"
"""


def test_a_run_trains_on_what_is_left_and_a_bad_file_stays_an_error(tmp_path, capsys):
    import rnnkit
    from rnnkit.cli.main import main

    want = good(tmp_path / "kw")
    bad(tmp_path / "kw" / "yes")
    (tmp_path / "keywords.toml").write_text(CONFIG)
    with pytest.warns(UserWarning, match="skipped 4 of 12 recordings that cannot be read"):
        assert main(["train", str(tmp_path / "keywords.toml"), "--run-dir",
                     str(tmp_path / "run")]) == 0
    report = (tmp_path / "run" / "report.md").read_text().splitlines()
    rows = [line.strip("| ").split(" | ") for line in report  # | label | train | val | test |
            if line.startswith(("| no |", "| yes |"))]
    assert [sum(map(int, row[1:])) for row in rows] == [4, 4]
    cut, ok = tmp_path / "kw" / "yes" / "cut.wav", tmp_path / "kw" / want[0]
    capsys.readouterr()
    assert main(["transcribe", str(tmp_path / "run"), str(cut), str(ok)]) == 1
    captured = capsys.readouterr()
    assert f"{cut}: not a readable audio file {SUFFIXES}" in captured.err
    assert captured.out.startswith(f"{ok}\t")
    p = rnnkit.load(tmp_path / "run")
    (record,) = p.predict([str(cut)])
    assert record["file"] == str(cut) and record["error"].startswith(
        f"{cut}: not a readable audio file")
    records = p.predict_file(tmp_path / "kw")  # the folder's files, each its own record
    assert [r["file"] for r in records if "error" in r] == [
        str(tmp_path / "kw" / "yes" / n) for n in ("cut.wav", "none.wav", "text.wav", "zero.wav")]
