"""Manifest lines with an ``offset`` (NeMo's meaning): the utterance is the ``duration``
seconds of its file from ``offset``, so many lines cut one long recording. Each segment is
checked against the same samples written to a file of their own (an independent
reference), bad segments give whole messages naming the line, and a run trains, evaluates
and transcribes on such manifests, one record per line."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import rnnkit
from rnnkit.cli.main import main
from rnnkit.data.audio import AudioError, Segment, read_audio
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.speech_ctc import SpeechCTCConfig, frames_of
from rnnkit.tasks.transcription import overlapping
from rnnkit.training.config import ModelConfig, RunConfig

needs_jiwer = pytest.mark.skipif(importlib.util.find_spec("jiwer") is None,
                                 reason="jiwer is not installed (pip install 'rnnkit[audio]')")
TONES = {"a": 400, "b": 1100, "c": 2300, " ": None}  # a character is a tone, a space silence


def say(text: str, rate: int, seconds: float = 0.12) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    parts = [np.zeros_like(t) if TONES[ch] is None else 0.4 * np.sin(2 * np.pi * TONES[ch] * t)
             for ch in text]
    return np.concatenate(parts).astype(np.float32)


def recording(folder: Path, name: str, texts: list[str], rate: int, seed: int = 0
              ) -> tuple[Path, list[tuple[int, int]]]:
    """``texts`` spoken one after another into ``folder/name`` (16-bit PCM) with silences of
    random length between (a little noise throughout), and each one's (start, stop) sample;
    the last one ends the file."""
    rng = np.random.default_rng(seed)
    parts, spans, at = [], [], 0
    for text in texts:
        gap = np.zeros(int(rng.integers(rate // 20, rate // 5)), np.float32)
        signal = say(text, rate)
        parts += [gap, signal]
        spans.append((at + len(gap), at + len(gap) + len(signal)))
        at += len(gap) + len(signal)
    audio = np.concatenate(parts) + rng.normal(0, 1e-3, at).astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(folder / name, audio, rate, subtype="PCM_16")
    return folder / name, spans


def segment_manifest(path: Path, audio: Path, texts: list[str], spans, rate: int) -> Path:
    rows = [{"audio_filepath": audio.name, "text": t, "offset": a / rate,
             "duration": (b - a) / rate} for t, (a, b) in zip(texts, spans)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def context(**task):
    cfg = RunConfig(name="t", task=SpeechCTCConfig(**task),
                    model=ModelConfig(cell="gru", hidden_size=8, bidirectional=True))
    return TASKS["speech-ctc"].setup(cfg)


TEXTS = ["ab", "ba c", "cab", "a c", "bb", "c a b", "ac", "b c"]
SAME = "ignore:.*both in the training and the test part"


@pytest.mark.filterwarnings(SAME)
@pytest.mark.parametrize("rate", [8000, 16000])  # the model's rate, and one resampled
def test_each_segment_reads_as_its_samples_in_a_file_of_their_own(tmp_path, rate):
    long, spans = recording(tmp_path, "long.wav", TEXTS, rate)
    stored = sf.read(long, dtype="float32")[0]  # the 16-bit samples, as written
    alone = []
    for i, (a, b) in enumerate(spans):
        alone.append(tmp_path / f"alone{i}.wav")
        sf.write(alone[-1], stored[a:b], rate, subtype="PCM_16")
    manifest = segment_manifest(tmp_path / "m.jsonl", long, TEXTS, spans, rate)
    ctx = context(train_data=str(manifest), val_data=str(manifest), test_data=str(manifest))
    frames, labels = ctx.manifests.frames_and_labels("train")
    assert len(frames) == len(TEXTS)
    for i, path in enumerate(alone):
        np.testing.assert_array_equal(frames[i], frames_of(read_audio(path), ctx.task_cfg))
    assert labels[1] == [ctx.alphabet.index(c) for c in "ba c"]
    a, b = spans[3]
    got = read_audio(long, rate, offset=a / rate, duration=(b - a) / rate)
    np.testing.assert_array_equal(got, stored[a:b])  # the file's rate: the samples exactly
    rest = read_audio(long, rate, offset=a / rate)  # no duration: to the end
    np.testing.assert_array_equal(rest, stored[a:])


def test_offsets_are_rounded_to_the_nearest_sample(tmp_path):
    """1.001 * 8000 is 8007.99...: truncating (NeMo's int()) would start a sample early."""
    signal = np.arange(16000, dtype=np.float32) / 16000 - 0.5
    sf.write(tmp_path / "r.wav", signal, 8000, subtype="FLOAT")
    got = read_audio(tmp_path / "r.wav", offset=1.001, duration=0.1)
    np.testing.assert_array_equal(got, signal[8008:8808])


RAMP = np.linspace(-0.5, 0.5, 9600, dtype=np.float32)  # 1.2 s at 8 kHz


def _wav_of_1_2_s(folder: Path) -> Path:
    sf.write(folder / "s.wav", RAMP, 8000, subtype="FLOAT")
    return folder / "s.wav"


@pytest.mark.parametrize("offset, duration, message", [
    (1.0, 0.5, "the segment from 1 s lasting 0.5 s ends at 1.500 s, beyond the end of the "
     "audio (1.200 s) by more than 0.1 s"),
    (1.5, 0.25, "the segment from 1.5 s starts at or after the end of the audio (1.200 s)"),
    (1.2, 0.05, "the segment from 1.2 s starts at or after the end of the audio (1.200 s)"),
    (0.1, 1e-5, "the segment from 0.1 s lasting 1e-05 s holds no sample at 8000 Hz"),
])
def test_a_segment_outside_its_file_is_an_error_naming_the_line(tmp_path, offset, duration,
                                                                 message):
    wav = _wav_of_1_2_s(tmp_path)
    manifest = tmp_path / "m.jsonl"
    good = {"audio_filepath": "s.wav", "text": "a", "offset": 0, "duration": 1.2}
    bad = {"audio_filepath": "s.wav", "text": "b", "offset": offset, "duration": duration}
    manifest.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(TaskError) as e:  # when the splits are made: before any training
        _ = context(train_data=str(manifest), val_data=str(manifest),
                    test_data=str(manifest)).manifests.splits
    assert str(e.value) == f"{manifest}:2: {wav.resolve()}: {message}"
    with pytest.raises(AudioError) as e:  # reading it alone
        read_audio(wav, offset=offset, duration=duration, tolerance=0.1)
    assert str(e.value) == f"{wav}: {message}"


@pytest.mark.filterwarnings(SAME)
def test_a_segment_ending_just_after_its_file_is_read_to_the_end(tmp_path):
    wav = _wav_of_1_2_s(tmp_path)  # 1.2 s
    np.testing.assert_array_equal(read_audio(wav, offset=1.0, duration=0.25, tolerance=0.1),
                                  RAMP[8000:])
    manifest = tmp_path / "m.jsonl"
    line = {"audio_filepath": "s.wav", "text": "a", "offset": 1.0, "duration": 0.25}
    manifest.write_text(json.dumps(line) + "\n")
    files = {"train_data": str(manifest), "val_data": str(manifest), "test_data": str(manifest)}
    frames, _ = context(**files).manifests.frames_and_labels("test")
    assert len(frames[0]) == 7  # 0.2 s: 1 + 1600 // 80 = 21 frames, 3 a step
    with pytest.raises(TaskError, match=r"m\.jsonl:1: .*by more than 0 s$"):
        _ = context(**files, duration_tolerance=0.0).manifests.splits


def test_only_the_same_audio_in_training_and_test_is_a_leak():
    from rnnkit.data.manifests import Utterance

    def u(path, offset=None, duration=None):
        return Utterance(Path(path), "a", duration, None, "m:1", offset)

    train = [u("/long", 0.0, 2.0), u("/long", 5.0, 1.0), u("/whole")]
    assert overlapping(train, [u("/long", 2.0, 3.0)]) == set()  # [2, 5): touches, no overlap
    assert overlapping(train, [u("/long", 5.5, 2.0)]) == {Path("/long")}
    assert overlapping(train, [u("/long")]) == {Path("/long")}  # the whole file holds them
    assert overlapping(train, [u("/whole", 3.0, 1.0), u("/other")]) == {Path("/whole")}


# -- a run on segments -----------------------------------------------------------------------
CONFIG = """
name = "segments"
seed = 0
[task]
name = "speech-ctc"
train_data = "data/train.jsonl"
val_data = "data/val.jsonl"
test_data = "data/test.jsonl"
beam_size = 2
[model]
cell = "gru"
hidden_size = 16
bidirectional = true
[train]
steps = 4
batch_size = 4
eval_every = 2
lr = 1e-2
progress = "off"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Training on segments of one recording; validation and test on disjoint segments
    of another (val its first two, test the rest), each also written alone."""
    root = tmp_path_factory.mktemp("segments")
    data = root / "data"
    train, spans = recording(data, "train-long.wav", TEXTS, 8000, seed=1)
    segment_manifest(data / "train.jsonl", train, TEXTS, spans, 8000)
    held, spans = recording(data, "held-long.wav", TEXTS[:5], 8000, seed=2)
    segment_manifest(data / "val.jsonl", held, TEXTS[:2], spans[:2], 8000)
    segment_manifest(data / "test.jsonl", held, TEXTS[2:5], spans[2:5], 8000)
    stored = sf.read(held, dtype="float32")[0]
    for i, (a, b) in enumerate(spans[2:5]):
        sf.write(data / f"test-alone{i}.wav", stored[a:b], 8000, subtype="PCM_16")
    (root / "segments.toml").write_text(CONFIG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["train", str(root / "segments.toml"), "--run-dir", str(root / "run")]) == 0
    assert not [str(w.message) for w in caught if ".jsonl" in str(w.message)
                or "both in the training" in str(w.message)]  # disjoint: no leak, no note
    return root


@needs_jiwer
def test_transcribe_gives_one_record_per_line_with_its_segment(run, capsys):
    manifest = run / "data/test.jsonl"
    lines = [json.loads(x) for x in manifest.read_text().splitlines()]
    capsys.readouterr()
    assert main(["transcribe", str(run / "run"), str(manifest), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)["results"]
    held = str((run / "data/held-long.wav").resolve())
    assert [{k: r[k] for k in ("file", "offset", "duration")} for r in records] == [
        {"file": held, "offset": x["offset"], "duration": x["duration"]} for x in lines]
    p = rnnkit.load(run / "run")
    assert p.predict_file(manifest) == records
    assert records == p.predict([Segment(Path(held), x["offset"], x["duration"])
                                 for x in lines])
    alone = p.predict([str(run / f"data/test-alone{i}.wav") for i in range(3)])
    assert [r["text"] for r in records] == [r["text"] for r in alone]  # the same samples
    assert main(["transcribe", str(run / "run"), str(manifest)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{held} ({x['offset']:g} s + {x['duration']:g} s)\t{r['text']}"
        for x, r in zip(lines, records)]


@needs_jiwer
def test_evaluate_scores_the_segments(run, capsys):
    from rnnkit.tasks.transcription import text_error_rates

    capsys.readouterr()
    assert main(["evaluate", str(run / "run"), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    p = rnnkit.load(run / "run")
    hyps = [r["text"] for r in p.predict_file(run / "data/test.jsonl", beam=0)]
    assert figures["cer"] == pytest.approx(text_error_rates(TEXTS[2:5], hyps)["cer"])


def test_a_segment_past_the_end_is_an_error_record_and_the_others_are_heard(run):
    p = rnnkit.load(run / "run")
    held = (run / "data/held-long.wav").resolve()
    bad, good = Segment(held, 100.0, 1.0), Segment(held, 0.5, 0.3)
    first, second = p.predict([bad, good])
    assert first == {"file": str(held), "offset": 100.0, "duration": 1.0, "error": (
        f"{held}: the segment from 100 s starts at or after the end of the audio "
        f"({sf.info(held).frames / 8000:.3f} s)")}
    assert set(second) == {"file", "offset", "duration", "text"}
