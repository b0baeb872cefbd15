"""Folder scans pass over what a system leaves behind rather than data: hidden files and
folders (``.DS_Store``, macOS's ``._x.wav`` resource forks, ``.ipynb_checkpoints/``) and
``__MACOSX`` (a macOS zip's copies of them): the folders predicted on (audio, MIDI, images),
a folder of label folders or of audio files alone, FSDD's recordings, and a data folder's
fingerprint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from rnnkit.data.audio import FSDD_DIR, Recording, fsdd_recordings
from rnnkit.data.datasets import is_hidden
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.datafiles import fingerprint
from rnnkit.tasks.predictor import files_in
from rnnkit.tasks.speech_digits import SpeechDigitsConfig, SpeechDigitsPredictor
from rnnkit.training.config import RunConfig

LEFTOVERS = ["._a.wav", ".DS_Store", ".hidden.wav", "__MACOSX/._a.wav", "__MACOSX/b.wav",
             ".ipynb_checkpoints/a-checkpoint.wav"]


def _touch(root: Path, names: list[str], data: bytes = b"") -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def test_is_hidden_by_name_or_by_a_folder_below_the_root(tmp_path):
    assert is_hidden(tmp_path / "._a.wav") and is_hidden(tmp_path / ".DS_Store")
    assert is_hidden(tmp_path / "__MACOSX") and not is_hidden(tmp_path / "a.wav")
    assert not is_hidden(tmp_path / "__MACOSX" / "b.wav")  # by its name alone: a data file
    assert is_hidden(tmp_path / "__MACOSX" / "b.wav", tmp_path)
    assert is_hidden(tmp_path / ".git" / "x" / "b.wav", tmp_path)
    assert not is_hidden(tmp_path / "x" / "b.wav", tmp_path)
    hidden_root = tmp_path / ".data"  # a root the user names is theirs, hidden or not
    assert not is_hidden(hidden_root / "a.wav", hidden_root)


def test_files_in_passes_over_hidden_files(tmp_path):
    _touch(tmp_path, ["b.wav", "a.WAV", *LEFTOVERS])
    assert files_in(tmp_path, (".wav",), "audio") == [str(tmp_path / "a.WAV"),
                                                     str(tmp_path / "b.wav")]
    empty = tmp_path / "only-forks"
    _touch(empty, ["._a.wav", "._b.png"])
    with pytest.raises(TaskError, match=r"only-forks: no image file \(\.png\) in it"):
        files_in(empty, (".png",), "image")


def _wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.full(800, 0.1, np.float32), 16000)


def test_a_speech_predictor_reads_a_flat_folder_beside_macos_leftovers(tmp_path):
    task = TASKS["speech-digits"]
    ctx = task.setup(RunConfig(name="t", task=SpeechDigitsConfig()))
    p = SpeechDigitsPredictor(task, ctx, torch.nn.Linear(1, 1), {})  # no model used
    flat = tmp_path / "flat"
    _wav(flat / "b.wav")
    _wav(flat / "a.wav")
    _touch(flat, LEFTOVERS, b"\0\5\7")  # __MACOSX/: no label folder
    assert p.read_file(flat) == [str(flat / "a.wav"), str(flat / "b.wav")]
    labels = tmp_path / "labels"
    _wav(labels / "yes" / "y.wav")
    _touch(labels, ["yes/._y.wav", "__MACOSX/yes/._y.wav", ".DS_Store"], b"\0")
    assert p.read_file(labels) == [str(labels / "yes" / "y.wav")]


def test_fsdd_passes_over_resource_forks(tmp_path):
    folder = tmp_path / FSDD_DIR
    _touch(folder, ["0_george_1.wav", "._0_george_1.wav", "._x.wav"])
    assert fsdd_recordings(tmp_path, verify=False) == [
        Recording(folder / "0_george_1.wav", 0, "george", 1)]


def test_a_folder_fingerprint_leaves_out_hidden_files(tmp_path):
    data = tmp_path / "data"
    _touch(data, ["a.csv", "sub/b.csv"], b"rows")
    before = fingerprint(data)
    _touch(data, ["._a.csv", ".DS_Store", "sub/.DS_Store", "__MACOSX/._a.csv",
                  ".ipynb_checkpoints/a-checkpoint.csv"], b"finder")
    assert fingerprint(data) == before
    _touch(data, ["c.csv"], b"more rows")  # data still counts
    assert fingerprint(data) != before
