"""MIDI reading at the edges mutation testing found unguarded (benchmarks/mutation.py on
rnnkit/data/music.py): a header with 0 ticks a quarter note read at a given step, the
words for an exception that has none, the cut of a long list of unusable files, and one
roll padded on its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.data.datasets import DataError
from rnnkit.data.music import read_midi_folder, read_midi_roll, roll_to_midi, to_tensors

mido = pytest.importorskip("mido")


def _zero_division(path: Path) -> Path:
    roll = np.zeros((3, 1), np.uint8)
    roll[1:, 0] = 1
    roll_to_midi(roll, path, ticks_per_step=100, lowest=60)
    mid = mido.MidiFile(str(path))
    mid.ticks_per_beat = 0
    mid.save(str(path))
    return path


def test_zero_ticks_a_quarter_reads_only_at_a_given_step(tmp_path):
    path = _zero_division(tmp_path / "zero.mid")
    with pytest.raises(DataError) as err:
        read_midi_roll(path, lowest=60, keys=1)
    assert str(err.value) == (f"{path}: not a readable MIDI file (its header gives 0 ticks "
                              "per quarter note)")
    read = read_midi_roll(path, ticks_per_step=100, lowest=60, keys=1)
    assert read.roll[:, 0].tolist() == [0, 1, 1]


@pytest.mark.parametrize("error, words", [(EOFError(), "the file ends too early"),
                                          (ValueError(), "ValueError"),
                                          (OSError("bad chunk"), "bad chunk")])
def test_an_unreadable_file_is_named_with_words_for_any_error(tmp_path, monkeypatch,
                                                              error, words):
    def fail(_):
        raise error

    monkeypatch.setattr(mido, "MidiFile", fail)
    with pytest.raises(DataError) as err:
        read_midi_roll(tmp_path / "x.mid")
    assert str(err.value) == f"{tmp_path / 'x.mid'}: not a readable MIDI file ({words})"


@pytest.mark.parametrize("n, more", [(5, ""), (6, " ...")])
def test_a_folder_of_unusable_files_names_the_first_five(tmp_path, n, more):
    for i in range(n):
        (tmp_path / f"junk{i}.mid").write_text("junk")
    with pytest.raises(DataError) as err:
        read_midi_folder(tmp_path)
    message = str(err.value)
    assert message.startswith(f"{tmp_path}: none of its {n} MIDI file(s) can be used")
    assert message.count("not a readable MIDI file") == 5 and message.endswith(
        f"junk4.mid: not a readable MIDI file (the file ends too early){more}")


def test_a_single_file_without_notes_in_range_says_which_pitches_it_holds(tmp_path):
    roll = np.zeros((4, 88), np.uint8)
    roll[1, 50] = 1  # pitch 71
    path = roll_to_midi(roll, tmp_path / "high.mid", lowest=21)
    with pytest.raises(DataError) as err:
        read_midi_folder(path, lowest=60, keys=5)
    want = read_midi_roll(path, lowest=60, keys=5).note(60, 5)
    assert want and str(err.value) == (f"{path}: no notes in pitches 60..64 to learn from "
                                       f"({want})")


def test_one_roll_pads_to_itself():
    roll = np.eye(3, 4, dtype=np.uint8)
    t = to_tensors([roll])
    assert t["y"].dtype == torch.float32 and t["y"].shape == (1, 3, 4)
    torch.testing.assert_close(t["y"][0], torch.from_numpy(roll.astype(np.float32)))
    assert t["lengths"].tolist() == [3] and not t["x"][0, 0].any()


def test_the_extra_named_when_mido_is_missing(monkeypatch):
    from rnnkit._optional import MissingExtraError

    def missing(name, *args, **kwargs):
        raise ImportError(name)

    monkeypatch.setattr("importlib.import_module", missing)  # (how require imports)
    for call in (lambda: read_midi_roll("x.mid"),
                 lambda: roll_to_midi(np.zeros((1, 88), np.uint8), "x.mid")):
        with pytest.raises(MissingExtraError, match=r"rnnkit\[music\]"):
            call()
