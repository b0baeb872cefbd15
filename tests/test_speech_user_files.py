"""Speech tasks on recordings as users bring them: NeMo manifests named ``.json``, MP3 and
other formats soundfile reads in keyword folders, and the sample rate a run hears at in its
exported preprocessing."""

from __future__ import annotations

import json
import linecache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

from rnnkit.data.audio import read_audio
from rnnkit.data.keywords import keep_readable, scan_labels
from rnnkit.tasks import base
from rnnkit.tasks.speech_common import SpeechPredictor


class Stub(SpeechPredictor):
    """Frames: the signal cut into rows of two samples (no model)."""

    def frames(self, signal):
        n = len(signal) // 2 * 2
        return np.asarray(signal[:n], np.float32).reshape(-1, 2)

    @property
    def width(self):
        return 2


def _stub() -> Stub:
    p = Stub.__new__(Stub)
    p.model, p.info, p.run_dir = torch.nn.Linear(1, 1), {}, None
    p.context = SimpleNamespace(cfg=SimpleNamespace(task=SimpleNamespace()))
    return p


def _wav(path: Path, seconds: float = 0.01, rate: int = 8000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * rate)), rate, subtype="PCM_16")
    return path


def test_a_nemo_manifest_named_json_is_its_files(tmp_path):
    """NeMo names its manifests ``train_manifest.json`` (JSON lines all the same); the
    training reads them, so transcribe reads them too (it read them as one JSON array:
    'cannot read inputs: Extra data')."""
    a, b = _wav(tmp_path / "audio" / "a.wav"), _wav(tmp_path / "audio" / "b.wav")
    lines = [{"audio_filepath": "audio/a.wav", "text": "one", "duration": 0.01},
             {"audio_filepath": str(b), "text": "two", "duration": 0.01}]
    for name in ("test_manifest.json", "M.JSON"):
        (tmp_path / name).write_text("".join(json.dumps(x) + "\n" for x in lines))
        assert _stub().read_file(tmp_path / name) == [str(a), str(b)]
    one = tmp_path / "one.json"  # a manifest of one line is a manifest too
    one.write_text(json.dumps(lines[0]) + "\n")
    assert _stub().read_file(one) == [str(a)]


def test_a_json_file_of_arrays_is_still_arrays(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps([[0.5, 1.0], [2.0, 3.0]]))
    [got] = _stub().read_file(tmp_path / "x.json")
    assert got.tolist() == [[0.5, 1.0], [2.0, 3.0]]


def _formats(path: Path, signal: np.ndarray, rate: int) -> list[Path]:
    """``signal`` written as MP3, Opus and AIFF files in ``path`` (those this libsndfile
    writes)."""
    out = []
    for name, kw in (("a.mp3", {"format": "MP3", "subtype": "MPEG_LAYER_III"}),
                     ("b.opus", {"format": "OGG", "subtype": "OPUS"}),
                     ("c.aiff", {}), ("d.AIF", {"format": "AIFF"})):
        try:
            sf.write(path / name, signal, rate, **kw)
        except (sf.LibsndfileError, TypeError, ValueError):
            continue
        out.append(path / name)
    return out


def test_mp3_opus_and_aiff_recordings_are_read_not_skipped(tmp_path):
    """An MP3 in a keyword folder was skipped as 'not audio (.wav, .flac, .ogg)' though
    soundfile (libsndfile >= 1.1) reads it; so were Opus and AIFF files."""
    rate = 16000
    signal = 0.3 * np.sin(np.arange(rate // 4) / 5).astype(np.float32)
    for label in ("yes", "no"):
        (tmp_path / label).mkdir()
        _wav(tmp_path / label / "0.wav", 0.25, rate)
    made = _formats(tmp_path / "yes", signal, rate)
    assert made, "this libsndfile writes none of MP3, Opus, AIFF"
    scan = keep_readable(scan_labels(tmp_path), tmp_path, lambda c: read_audio(c.path, rate))
    assert scan.skipped == [] and scan.unreadable == []
    assert sorted(c.path for c in scan.clips) == sorted(
        [tmp_path / "no" / "0.wav", tmp_path / "yes" / "0.wav", *made])
    flat = tmp_path / "yes"  # a folder of audio files alone: the same files
    assert _stub().read_file(flat) == sorted(map(str, [flat / "0.wav", *made]))


def test_a_long_recording_among_short_ones_is_named_with_what_it_costs(tmp_path):
    """A 30 s file among 1 s keywords padded every recording of its part to 30 s (Speech
    Commands' 85,000 training clips: 40 GB of frames) without a word; the recordings far
    longer than the rest are named now, with the memory they cost."""
    from rnnkit.tasks import TASKS
    from rnnkit.tasks.speech_digits import SpeechDigitsConfig
    from rnnkit.training.config import ModelConfig, RunConfig

    rate = 16000
    rng = np.random.default_rng(0)
    for label in ("yes", "no"):
        (tmp_path / label).mkdir()
        for i in range(6):
            sf.write(tmp_path / label / f"{i}.wav", rng.normal(0, 0.1, rate // 4), rate)
    sf.write(tmp_path / "yes" / "long.wav", rng.normal(0, 0.1, 6 * rate), rate)
    (tmp_path / "testing_list.txt").write_text("yes/0.wav\nno/0.wav\n")
    (tmp_path / "validation_list.txt").write_text("yes/1.wav\nno/1.wav\n")
    cfg = RunConfig(name="t", task=SpeechDigitsConfig(data=str(tmp_path)),
                    model=ModelConfig(cell="gru", hidden_size=4))
    ctx = TASKS["speech-digits"].setup(cfg)
    with pytest.warns(UserWarning) as caught:
        splits = ctx.splits
    assert splits["train"]["x"].shape == (9, 601, 39)
    [message] = [str(w.message) for w in caught]
    assert message == (
        f"1 recording(s) last over 5 times the median (0.25 s) and over 2 s: "
        f"{tmp_path / 'yes' / 'long.wav'} (6.00 s, train); every recording of a part is "
        "padded to its longest, so the parts hold 860 kB of frames, 48.7 kB without them: a "
        "keyword recording holds one word; trim or remove them")
    # stacklevel 2: the line of Context.splits that calls make_splits; under mutmut the
    # trampoline's two frames come in between: the inner one's, which calls make_splits
    make_splits = type(ctx.task).make_splits
    line = linecache.getline(caught[0].filename, caught[0].lineno)
    if make_splits.__code__.co_filename.endswith("trampoline.py"):
        assert caught[0].filename == make_splits.__code__.co_filename
        assert "func(*call_args" in line
    else:
        assert caught[0].filename == base.__file__ and "make_splits(self)" in line


def test_the_padding_note_names_five_then_dots_and_says_nothing_for_even_lengths():
    from rnnkit.tasks.speech_common import padding_note

    short, long = np.zeros((101, 2)), np.zeros((1001, 2))  # 1 s, 10 s
    assert padding_note({"train": [short] * 4, "test": []}, {"train": ["a"] * 4}, "x") == ""
    assert padding_note({"train": [long] * 3}, {"train": ["a"] * 3}, "x") == ""  # all alike
    assert padding_note({"train": []}, {"train": []}, "x") == ""
    frames = {"train": [short] * 20 + [long] * 6, "val": [short]}
    names = {"train": [f"s{i}" for i in range(20)] + [f"l{i}" for i in range(6)], "val": ["v"]}
    note = padding_note(frames, names, "fix it")
    assert note.startswith("6 recording(s) last over 5 times the median (1.00 s) and over "
                           "2 s: l0 (10.00 s, train), l1 (10.00 s, train), ")
    assert "l4 (10.00 s, train) ...; every" in note and "l5" not in note
    assert note.endswith("the parts hold 209 kB of frames, 17 kB without them: fix it")


def _keyword_folder(root: Path, rate: int = 16000) -> Path:
    rng = np.random.default_rng(1)
    for label in ("yes", "no"):
        (root / label).mkdir(parents=True)
        for i in range(5):
            sf.write(root / label / f"{i}.wav", rng.normal(0, 0.1, rate // 4), rate)
    return root


@pytest.mark.filterwarnings("ignore:1 audio file.s. are both in the training and the test")
def test_a_run_records_the_rate_and_framing_its_model_hears(tmp_path):
    """preprocessing.json (the run's info) said ``"sample_rate": 0`` for a keyword model
    that hears 16 kHz, and a CTC run's 8 kHz was nowhere: an exported model could not be fed
    without reading rnnkit's source. The info now holds the framing, enough to rebuild the
    frames with librosa."""
    import librosa

    from rnnkit.data.audio import features
    from rnnkit.tasks import TASKS
    from rnnkit.tasks.speech_ctc import SpeechCTCConfig
    from rnnkit.tasks.speech_digits import SpeechDigitsConfig
    from rnnkit.training.config import ModelConfig, RunConfig

    def info(name, task):
        cfg = RunConfig(name="t", task=task, model=ModelConfig(cell="gru", hidden_size=4))
        return TASKS[name].info(TASKS[name].setup(cfg), None)

    own = info("speech-digits", SpeechDigitsConfig(data=str(_keyword_folder(tmp_path / "kw")),
                                                   features="logmel"))
    assert own["task"]["sample_rate"] == 0 and own["audio"] == {
        "sample_rate": 16000, "features": "logmel", "n_fft": 512, "win_length": 400,
        "hop_length": 160, "window": "hann", "center": True, "n_mels": 40,
        "log_offset": 1e-6, "normalize": 1e-5, "stack": 1}
    assert info("speech-digits", SpeechDigitsConfig())["audio"]["sample_rate"] == 8000
    _wav(tmp_path / "a.wav")
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio_filepath": "a.wav", "text": "ab"}))
    ctc = info("speech-ctc", SpeechCTCConfig(train_data=str(tmp_path / "m.jsonl"),
                                             val_data=str(tmp_path / "m.jsonl"),
                                             test_data=str(tmp_path / "m.jsonl"), stack=2))
    assert ctc["audio"] == {
        "sample_rate": 8000, "features": "mfcc", "n_fft": 256, "win_length": 200,
        "hop_length": 80, "window": "hann", "center": True, "n_mels": 40,
        "log_offset": 1e-6, "n_mfcc": 13, "deltas": [1, 2], "delta_width": 9,
        "normalize": 1e-5, "stack": 2}
    spec = own["audio"]  # rebuilt from the record alone
    signal = np.random.default_rng(2).normal(0, 0.1, 5000).astype(np.float32)
    mel = librosa.feature.melspectrogram(
        y=signal, sr=spec["sample_rate"], n_fft=spec["n_fft"], win_length=spec["win_length"],
        hop_length=spec["hop_length"], window=spec["window"], center=spec["center"],
        pad_mode="constant", n_mels=spec["n_mels"], power=2.0)
    frames = np.log(mel + spec["log_offset"]).T
    frames = (frames - frames.mean(0)) / (frames.std(0) + spec["normalize"])
    np.testing.assert_allclose(frames, features(signal, "logmel", sample_rate=16000),
                               atol=2e-3)


def test_a_root_one_folder_too_high_says_which_folder_to_name(tmp_path):
    """An archive unpacked into its own folder (speech_commands_v0.02/<label>/*.wav) given
    one level up made the archive's folder a label 'with no audio file', with the advice
    'remove it or add recordings'; the error now names the folder to give instead."""
    from rnnkit.data.datasets import DataError

    inner = _keyword_folder(tmp_path / "speech_commands_v0.02")
    (inner / "_background_noise_").mkdir()
    with pytest.raises(DataError) as e:
        scan_labels(tmp_path)
    assert str(e.value) == (
        f"{inner}: label folder 'speech_commands_v0.02' holds no audio file (.wav, .flac, "
        ".ogg, .opus, .mp3, .aif, .aiff) but folders of recordings (no, yes): if those are "
        f"the labels, read {inner} as the root (task.data)")
    (tmp_path / "zz").mkdir()  # (after speech_commands_v0.02)
    (inner / "no").rename(tmp_path / "zz" / "no")
    (inner / "yes").rename(tmp_path / "yes")
    with pytest.raises(DataError) as e:  # a folder of nothing: the advice as before
        scan_labels(tmp_path)
    assert str(e.value).endswith("holds no audio file (.wav, .flac, .ogg, .opus, .mp3, "
                                 ".aif, .aiff); remove it or add recordings")


def test_a_path_relative_to_the_working_folder_is_named_with_the_fix(tmp_path, monkeypatch):
    """NeMo tries a relative audio_filepath from the working folder before the manifest's;
    manifests written that way (data/an4/wav/x.wav beside data/an4/train_manifest.json) were
    refused as 'not found' only; the error now says where the file is and what to write."""
    from rnnkit.data.datasets import DataError
    from rnnkit.data.manifests import read_manifest

    _wav(tmp_path / "data" / "an4" / "wav" / "x.wav")
    manifest = tmp_path / "data" / "an4" / "train_manifest.json"
    manifest.write_text(json.dumps({"audio_filepath": "data/an4/wav/x.wav", "text": "a"}) + "\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as e:
        read_manifest(manifest)
    assert str(e.value) == (
        f"{manifest}:1: audio file {str(tmp_path / 'data/an4/data/an4/wav/x.wav')!r} not "
        "found (a relative audio_filepath is read from the manifest's folder); "
        "'data/an4/wav/x.wav' is relative to the working folder (as NeMo also reads it): "
        "write it relative to the manifest's folder ('wav/x.wav') or absolute")
    monkeypatch.chdir(tmp_path / "data")  # found nowhere: the message as before
    with pytest.raises(DataError) as e:
        read_manifest(manifest)
    assert str(e.value).endswith("not found (a relative audio_filepath is read from the "
                                 "manifest's folder)")


def test_a_label_of_one_recording_outside_training_names_its_folder(tmp_path):
    """A label folder with one file that the split put in the test part was refused as
    'the test part has label(s) ['stop'] with no training recording' without naming the
    folder or how many recordings it has."""
    from rnnkit.tasks import TASKS, TaskError
    from rnnkit.tasks.speech_digits import SpeechDigitsConfig
    from rnnkit.training.config import ModelConfig, RunConfig

    root = _keyword_folder(tmp_path / "kw")
    _wav(root / "stop" / "0.wav", 0.25, 16000)
    (root / "testing_list.txt").write_text("stop/0.wav\nyes/0.wav\n")
    cfg = RunConfig(name="t", task=SpeechDigitsConfig(data=str(root)),
                    model=ModelConfig(cell="gru", hidden_size=4))
    with pytest.raises(TaskError) as e:
        _ = TASKS["speech-digits"].setup(cfg).labels
    assert str(e.value) == (
        f"the test part has label(s) ['stop'] with no training recording ({root / 'stop'}: 1 "
        "recording(s), none in the training part); give training recordings of every label, "
        "or remove the folder")
