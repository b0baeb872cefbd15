"""A folder of the user's MIDI files with bad files in it: the unusable ones are skipped with
one warning that counts and names them; only a folder with nothing usable, an empty part,
or a single named file that is bad, is an error."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.datasets import DataError
from rnnkit.data.music import read_midi_folder, roll_to_midi
from rnnkit.tasks import TaskError
from rnnkit.tasks.music import MusicConfig, MusicTask, read_pieces
from rnnkit.training.config import RunConfig

pytest.importorskip("mido")

KEYS = dict(lowest=48, keys=37, steps_per_quarter=4)  # read_midi_folder's view of CFG


def cfg(root: Path, **task) -> MusicConfig:
    return MusicConfig(data=str(root), steps_per_quarter=4, lowest_pitch=48,
                       highest_pitch=84, **task)


def good(root: Path, n: int) -> list[np.ndarray]:
    """``n`` readable pieces ``good{i}.mid`` (sixteenth notes, pitches 48..84), in order."""
    rolls = []
    for i in range(n):
        roll = np.zeros((6 + i, 37), np.uint8)
        roll[1: 4 + i, (5 * i) % 37] = 1
        roll_to_midi(roll, root / f"good{i:02d}.mid", ticks_per_step=120, lowest=48)
        rolls.append(roll)
    return rolls


def bad(root: Path) -> dict[str, str]:
    """One file of each kind that cannot be used -> {name: the reason the warning gives}."""
    root.mkdir(parents=True, exist_ok=True)
    whole = roll_to_midi(np.eye(4, 37, dtype=np.uint8), root / "whole.tmp", lowest=48)
    (root / "cut.mid").write_bytes(whole.read_bytes()[:30])  # truncated mid-track
    whole.unlink()
    (root / "text.midi").write_text("these are the lyrics, not a MIDI file\n")
    (root / "zero.mid").write_bytes(b"")
    roll_to_midi(np.zeros((4, 37), np.uint8), root / "silent.mid", lowest=48)  # no notes
    return {"cut.mid": "not a readable MIDI file (the file ends too early)",
            "text.midi": "not a readable MIDI file (",
            "zero.mid": "not a readable MIDI file (the file ends too early)",
            "silent.mid": "no notes"}


def test_bad_files_in_a_folder_are_skipped_with_one_warning(tmp_path):
    want = good(tmp_path, 3)
    reasons = bad(tmp_path)
    with pytest.warns(UserWarning) as caught:
        rolls = read_midi_folder(tmp_path, **KEYS)
    assert len(caught) == 1
    message = str(caught[0].message)
    head = f"{tmp_path}: skipped 4 of 7 MIDI files that cannot be used: "
    assert message.startswith(head)
    listed = message[len(head):].split(f"; {tmp_path}")
    assert len(listed) == 4
    for name, why in reasons.items():
        assert f"{tmp_path / name}: {why}" in message
    assert len(rolls) == 3
    for got, roll in zip(rolls, want):
        np.testing.assert_array_equal(got, roll)


def test_the_warning_names_the_first_ten_and_counts_all(tmp_path):
    good(tmp_path, 1)
    for i in range(12):
        (tmp_path / f"junk{i:02d}.mid").write_text("junk")
    with pytest.warns(UserWarning) as caught:
        (roll,) = read_midi_folder(tmp_path, **KEYS)
    message = str(caught[0].message)
    assert message.startswith(f"{tmp_path}: skipped 12 of 13 MIDI files") and message.endswith(
        " ...")
    assert message.count("not a readable MIDI file") == 10
    assert "junk09.mid" in message and "junk10.mid" not in message


def test_a_folder_with_nothing_usable_is_an_error_naming_it(tmp_path):
    reasons = bad(tmp_path / "songs")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the error says it all: no warning besides
        with pytest.raises(DataError) as e:
            read_midi_folder(tmp_path / "songs", **KEYS)
    message = str(e.value)
    assert message.startswith(f"{tmp_path / 'songs'}: none of its 4 MIDI file(s) can be used "
                              "(each is unreadable or holds no notes in pitches 48..84): ")
    assert all(f"{tmp_path / 'songs' / name}: {why}" in message
               for name, why in reasons.items())
    with pytest.raises(TaskError, match="none of its 4 MIDI file"):
        read_pieces(tmp_path / "songs", cfg(tmp_path / "songs"))


def test_a_single_named_file_that_is_bad_is_an_error(tmp_path):
    reasons = bad(tmp_path)
    for name in ("cut.mid", "text.midi", "zero.mid"):
        with pytest.raises(DataError) as e:
            read_midi_folder(tmp_path / name, **KEYS)
        assert str(e.value).startswith(f"{tmp_path / name}: {reasons[name]}")
    with pytest.raises(DataError) as e:
        read_midi_folder(tmp_path / "silent.mid", **KEYS)
    assert str(e.value) == (f"{tmp_path / 'silent.mid'}: no notes in pitches 48..84 to learn "
                            "from (the file holds none)")
    task = MusicTask()
    for name in ("cut.mid", "silent.mid"):  # task.data naming one bad file
        ctx = task.setup(RunConfig(name="t", task=cfg(tmp_path / name)))
        with pytest.raises(TaskError, match=str(tmp_path / name)):
            ctx.pieces  # noqa: B018


def test_the_task_trains_on_what_is_left(tmp_path):
    want = good(tmp_path / "songs", 10)
    bad(tmp_path / "songs")
    task = MusicTask()
    ctx = task.setup(RunConfig(name="t", task=cfg(tmp_path / "songs")))
    with pytest.warns(UserWarning, match="skipped 4 of 14 MIDI files"):
        parts = ctx.pieces
    got = sorted(r.tobytes() for part in parts.values() for r in part)
    assert got == sorted(r.tobytes() for r in want)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [8, 1, 1]


def test_too_few_usable_files_for_a_part_is_an_error(tmp_path):
    good(tmp_path / "songs", 2)  # 0.1 of 2 files, rounded: no val (or test) piece
    bad(tmp_path / "songs")
    ctx = MusicTask().setup(RunConfig(name="t", task=cfg(tmp_path / "songs")))
    with pytest.warns(UserWarning, match="skipped 4 of 6"):
        with pytest.raises(TaskError, match="the val part holds no MIDI files"):
            ctx.pieces  # noqa: B018
