"""Transcription with CTC on the user's manifests (issue 17, item 6): the NeMo JSON-lines
layout read exactly, errors naming the manifest line, splits by speaker, the character
alphabet, unseen characters reported, CER/WER against hand counts, and a tiny run whose
``rnnkit.load(...).predict`` equals ``rnnkit transcribe --json``."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import rnnkit
from rnnkit.cli.main import main
from rnnkit.data.audio import SAMPLE_RATE, read_audio
from rnnkit.data.datasets import DataError
from rnnkit.data.manifests import Utterance, normalize_text, read_manifest
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.speech_ctc import SpeechCTCConfig, decode, frames_of
from rnnkit.tasks.transcription import text_error_rates
from rnnkit.training.config import ModelConfig, RunConfig

needs_jiwer = pytest.mark.skipif(importlib.util.find_spec("jiwer") is None,
                                 reason="jiwer is not installed (pip install 'rnnkit[audio]')")
TONES = {"a": 400, "b": 1100, "c": 2300, " ": None}  # a character is a tone, a space silence


def say(text: str, seconds: float = 0.12) -> np.ndarray:
    """A signal spelling ``text`` in tones, with short silences around."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    gap = np.zeros(int(0.04 * SAMPLE_RATE), np.float32)
    parts = [gap]
    for ch in text:
        f = TONES[ch]
        parts += [np.zeros_like(t) if f is None else 0.4 * np.sin(2 * np.pi * f * t), gap]
    return np.concatenate(parts).astype(np.float32)


def write_manifest(folder: Path, name: str, rows: list[dict], blank_after: int = -1) -> Path:
    """Each row's ``say`` text written to ``audio/<file>`` (unless it has ``audio_filepath``
    already), the rows to ``folder/name`` as JSON lines."""
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    lines = []
    for i, row in enumerate(rows):
        row = dict(row)
        if "say" in row:
            audio = say(row.pop("say"))
            rel = f"audio/{name}-{i}.wav"
            sf.write(folder / rel, audio, SAMPLE_RATE, subtype="PCM_16")
            row.setdefault("audio_filepath", rel)
            row.setdefault("duration", len(audio) / SAMPLE_RATE)
        lines.append(json.dumps(row))
        if i == blank_after:
            lines.append("   ")
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


# -- reading ----------------------------------------------------------------------------
def test_a_manifest_reads_to_exactly_its_utterances(tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    sf.write(other / "abs.wav", say("c"), SAMPLE_RATE)
    path = write_manifest(tmp_path / "m", "train.jsonl", [
        {"say": "ab", "text": "  A  B\t", "speaker": "s1", "extra": [1, 2]},
        {"audio_filepath": str(other / "abs.wav"), "text": "c", "speaker": 7},
        {"say": "ba", "text": "Ba", "duration": 0},
    ], blank_after=0)
    manifest = read_manifest(path)
    assert manifest.items == [
        Utterance((tmp_path / "m/audio/train.jsonl-0.wav").resolve(), "a b",
                  len(say("ab")) / SAMPLE_RATE, "s1", f"{path}:1"),
        Utterance((other / "abs.wav").resolve(), "c", None, "7", f"{path}:3"),
        Utterance((tmp_path / "m/audio/train.jsonl-2.wav").resolve(), "ba", 0.0, None,
                  f"{path}:4"),
    ]
    assert manifest.skipped == [2]
    assert manifest.note() == f"{path}: skipped 1 blank line(s) (line 2)"
    assert read_manifest(path, lowercase=False).items[0].text == "A B"
    assert normalize_text(" Ab\u00a0 C\n", lowercase=False) == "Ab C"
    assert normalize_text("e\u0301") == "\u00e9"  # NFC: one character, as typed or not


@pytest.mark.parametrize("line, message", [
    ('{"audio_filepath": "a.wav", "text": "ab"', "not valid JSON"),
    ('["a.wav", "ab"]', "expected a JSON object"),
    ('{"text": "ab", "duration": 1}', "no 'audio_filepath' key"),
    ('{"audio_filepath": "a.wav", "duration": 1}', "no 'text' key"),
    ('{"audio_filepath": "a.wav", "text": 5}', "'text' must be a string, got 5"),
    ('{"audio_filepath": "a.wav", "text": "  \\t "}', "empty 'text'"),
    ('{"audio_filepath": "a.wav", "text": "ab", "duration": -1}', "'duration' must be a number"),
    ('{"audio_filepath": "a.wav", "text": "ab", "duration": "1.5"}', "'duration' must be"),
    ('{"audio_filepath": "gone.wav", "text": "ab"}', "audio file .*gone.wav' not found"),
    ('{"audio_filepath": "", "text": "ab"}', "empty 'audio_filepath'"),
    ('{"audio_filepath": "a.wav", "text": "ab", "offset": 2.0}',
     "'offset' 2 needs a 'duration'"),
])
def test_a_malformed_line_is_an_error_naming_it(tmp_path, line, message):
    sf.write(tmp_path / "a.wav", say("a"), SAMPLE_RATE)
    path = tmp_path / "m.jsonl"
    path.write_text('{"audio_filepath": "a.wav", "text": "a"}\n' + line + "\n")
    with pytest.raises(DataError, match=f"m.jsonl:2: {message}"):
        read_manifest(path)


def test_unreadable_files_and_encodings(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"audio_filepath": "a.wav", "text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"m.jsonl:2: not valid UTF-8"):
        read_manifest(path)
    path.write_text("\n\n")
    with pytest.raises(DataError, match="no utterances"):
        read_manifest(path)
    with pytest.raises(DataError, match="is a folder"):
        read_manifest(tmp_path)


# -- the task's data ------------------------------------------------------------------------
def context(**task):
    cfg = RunConfig(name="t", task=SpeechCTCConfig(**task),
                    model=ModelConfig(cell="gru", hidden_size=8, bidirectional=True))
    return TASKS["speech-ctc"].setup(cfg)


def test_frames_labels_and_alphabet_come_from_the_manifests(tmp_path):
    train = write_manifest(tmp_path, "train.jsonl", [{"say": "ab", "text": "ab"},
                                                     {"say": "c a", "text": "C A"}])
    val = write_manifest(tmp_path, "val.jsonl", [{"say": "ba", "text": "ba"}])
    test = write_manifest(tmp_path, "test.jsonl", [{"say": "ca", "text": "ca"}])
    ctx = context(train_data=str(train), val_data=str(val), test_data=str(test))
    assert ctx.alphabet == " abc"
    data = ctx.splits["train"]
    expected = [frames_of(read_audio(tmp_path / f"audio/train.jsonl-{i}.wav"), ctx.task_cfg)
                for i in range(2)]
    assert data["lengths"].tolist() == [len(f) for f in expected]
    for i, f in enumerate(expected):
        assert torch.equal(data["x"][i, :len(f)], torch.from_numpy(f))
        assert not data["x"][i, len(f):].any()
    assert data["y"].tolist() == [[2, 3, 0], [4, 1, 2]]  # blank 0, then " abc" -> 1..4
    assert data["target_lengths"].tolist() == [2, 3]
    assert ctx.references("test") == ["ca"]
    assert TASKS["speech-ctc"].model_args(ctx)["num_tags"] == 5


@needs_jiwer
def test_unseen_characters_are_counted_and_reported(tmp_path):
    train = write_manifest(tmp_path, "train.jsonl", [{"say": "ab", "text": "ab"}] * 2)
    test = write_manifest(tmp_path, "test.jsonl", [{"say": "ab", "text": "ab"},
                                                   {"say": "ca", "text": "cax"}])
    ctx = context(train_data=str(train), test_data=str(test), val_data=str(train))
    with pytest.warns(UserWarning, match=r"test: 2 character\(s\) in 1 text\(s\) that no "
                                         r"training text has \('c' x1, 'x' x1; .*test.jsonl:2\)"):
        data = ctx.splits["test"]
    assert data["y"].tolist() == [[1, 2], [1, 0]]  # "cax" -> only "a" is a target
    assert data["target_lengths"].tolist() == [2, 1]
    model = TASKS["speech-ctc"].build_model(ctx)
    figures = TASKS["speech-ctc"].extra_metrics(ctx, model, "test")
    assert figures["unseen_chars"] == 2
    assert ctx.references("test") == ["ab", "cax"]  # the reference keeps them


LEAK = "ignore:.*both in the training and the test part"


@pytest.mark.filterwarnings(LEAK)
def test_unreadable_audio_and_durations_name_the_line(tmp_path):
    rows = [{"say": "ab", "text": "ab"}, {"say": "ba", "text": "ba", "duration": 9.0}]
    train = write_manifest(tmp_path, "train.jsonl", rows)
    ctx = context(train_data=str(train), test_data=str(train), val_data=str(train))
    with pytest.warns(UserWarning, match=r"1 utterance\(s\) whose 'duration' differs .*"
                                         r"train.jsonl:2: duration 9 s, the audio lasts"):
        ctx.splits["train"]
    (tmp_path / "audio/train.jsonl-0.wav").write_text("not audio")
    with pytest.raises(TaskError, match=r"train.jsonl:1: .*not a readable audio file"):
        context(train_data=str(train), test_data=str(train), val_data=str(train)).splits["val"]


@pytest.mark.filterwarnings(LEAK)
def test_too_short_for_ctc_is_warned(tmp_path):
    train = write_manifest(tmp_path, "train.jsonl", [{"say": "a", "text": "aaaa bbbb cccc"}])
    ctx = context(train_data=str(train), test_data=str(train), val_data=str(train), stack=8)
    with pytest.warns(UserWarning, match=r"fewer model steps than CTC needs .*train.jsonl:1"):
        ctx.splits["train"]


def test_a_file_in_training_and_test_is_warned(tmp_path):
    train = write_manifest(tmp_path, "train.jsonl", [{"say": "ab", "text": "ab"}] * 10)
    test = tmp_path / "test.jsonl"
    test.write_text(train.read_text().splitlines()[1] + "\n")
    with pytest.warns(UserWarning, match=r"1 audio file\(s\) are both in the training and "
                                         r"the test part \(e.g. .*train.jsonl-1.wav\)"):
        _ = context(train_data=str(train), test_data=str(test)).manifests.splits


def speaker_rows(speakers: int, each: int, named: bool = True) -> list[dict]:
    return [{"say": "ab", "text": "ab", **({"speaker": f"s{s}"} if named else {})}
            for s in range(speakers) for _ in range(each)]


def test_one_manifest_splits_by_speaker_when_every_line_names_one(tmp_path):
    path = write_manifest(tmp_path, "all.jsonl", speaker_rows(10, 3))
    parts = context(data=str(path), split_seed=3).manifests.splits
    speakers = {k: {u.speaker for u in v} for k, v in parts.items()}
    assert len(speakers["test"]) == 1 and len(speakers["val"]) == 1
    assert speakers["train"] | speakers["val"] | speakers["test"] == {f"s{s}" for s in range(10)}
    assert not (speakers["train"] & speakers["test"]) and not (speakers["val"] & speakers["test"])
    assert sum(map(len, parts.values())) == 30 and len(parts["test"]) == 3
    again = context(data=str(path), split_seed=3).manifests.splits
    assert again == parts
    by_line = context(data=str(path), split_by="utterance").manifests.splits
    assert len(by_line["test"]) == 3 and len({u.speaker for u in by_line["test"]}) > 1


def test_without_speakers_the_split_is_by_utterance_or_an_error(tmp_path):
    path = write_manifest(tmp_path, "all.jsonl", speaker_rows(1, 20, named=False))
    parts = context(data=str(path)).manifests.splits
    assert [len(parts[k]) for k in ("train", "val", "test")] == [16, 2, 2]
    lines = sorted(u.where for v in parts.values() for u in v)
    assert lines == sorted(f"{path}:{n}" for n in range(1, 21))
    with pytest.raises(TaskError, match=r"all.jsonl:1: no 'speaker' key, and "
                                        r"task.split_by = 'speaker'"):
        _ = context(data=str(path), split_by="speaker").manifests.splits


def test_config_errors():
    base = {"name": "t", "task": {"name": "speech-ctc", "data": "/no/such/manifest.jsonl",
                                  "max_digits": 3}}
    from rnnkit.training.config_io import ConfigError

    with pytest.raises(ConfigError) as e:
        config_from_raw(base, "t.toml")
    assert "task.data = '/no/such/manifest.jsonl': no such file" in str(e.value)
    assert "task.max_digits: applies to the FSDD digit strings" in str(e.value)


# -- error rates ------------------------------------------------------------------------------
@pytest.mark.parametrize("refs, hyps, cer, wer", [
    (["abc"], ["abc"], 0, 0),
    (["abc"], ["abd"], 1 / 3, 1),  # one substitution
    (["abcd"], ["abd"], 1 / 4, 1),  # one deletion
    (["ab"], ["abxy"], 2 / 2, 1),  # two insertions: a rate can pass 1
    (["the cat sat"], ["the bat sat down"], 6 / 11, 2 / 3),  # c->b, " down" inserted
    (["the cat", "a dog"], ["the cat", ""], 5 / 12, 2 / 4),  # corpus sums, not a mean
    (["", "ab"], ["xy", "ab"], 2 / 2, 1 / 1),  # an empty reference: its insertions count
    (["a b c d"], ["a c d"], 2 / 7, 1 / 4),  # a deleted word: "b " two characters
])
@needs_jiwer
def test_error_rates_by_hand(refs, hyps, cer, wer):
    assert text_error_rates(refs, hyps) == pytest.approx({"cer": cer, "wer": wer})


def test_without_jiwer_training_stops_before_it_starts(monkeypatch, tmp_path):
    import sys

    from rnnkit._optional import MissingExtraError

    monkeypatch.setitem(sys.modules, "jiwer", None)
    with pytest.raises(MissingExtraError, match=r"rnnkit\[audio\]"):
        text_error_rates(["a"], ["a"])
    train = write_manifest(tmp_path, "train.jsonl", [{"say": "ab", "text": "ab"}])
    ctx = context(train_data=str(train), test_data=str(train), val_data=str(train))
    with pytest.raises(MissingExtraError, match=r"jiwer .*rnnkit\[audio\]"):
        TASKS["speech-ctc"].batches(ctx)
    assert "splits" not in vars(ctx)  # no audio was read


# -- a tiny run end to end ---------------------------------------------------------------
CONFIG = """
name = "tones"
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
steps = 6
batch_size = 4
eval_every = 3
lr = 1e-2
progress = "off"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ctc")
    texts = ["ab", "ba c", "cab", "a c", "bb", "c a b", "ac", "b c"]
    for name, part in (("train", texts), ("val", texts[:2]), ("test", texts[2:5])):
        write_manifest(root / "data", f"{name}.jsonl", [{"say": t, "text": t} for t in part])
    (root / "tones.toml").write_text(CONFIG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["train", str(root / "tones.toml"), "--run-dir", str(root / "run")]) == 0
    assert not [w for w in caught if ".jsonl" in str(w.message)]  # a clean set: no notes
    return root



@needs_jiwer
@pytest.mark.parametrize("line, message", [
    ({"audio_filepath": "audio/gone.wav", "text": "ab"}, r"audio file .*gone\.wav' not found"),
    ({"audio_filepath": "../tones.toml", "text": "ab"}, r"tones\.toml: not a readable audio"),
])
def test_a_bad_manifest_line_stops_training_naming_it_not_the_model(tmp_path, capsys, line,
                                                                     message):
    """The manifests are read when the model is built (the alphabet) and the audio when
    training starts: the error is the data's, not "change [model]" / "[train]"."""
    rows = [{"say": t, "text": t} for t in ("ab", "ba c", "cab")]
    for name in ("val", "test"):
        write_manifest(tmp_path / "data", f"{name}.jsonl", rows)
    train = write_manifest(tmp_path / "data", "train.jsonl", rows)
    train.write_text(train.read_text() + json.dumps(line) + "\n")
    (tmp_path / "tones.toml").write_text(CONFIG)
    assert main(["train", str(tmp_path / "tones.toml"), "--run-dir",
                 str(tmp_path / "run")]) != 0
    err = capsys.readouterr().err
    assert re.search(r"train\.jsonl:4: .*" + message, err) and "change [" not in err

@needs_jiwer
def test_predict_equals_transcribe_json(run, capsys):
    files = [str(run / "data/audio/test.jsonl-0.wav"), str(run / "data/audio/val.jsonl-1.wav")]
    capsys.readouterr()
    assert main(["transcribe", str(run / "run"), *files, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["results"]
    p = rnnkit.load(run / "run")
    assert printed == p.predict(files)
    alphabet = json.loads((run / "run/checkpoints/best/model.json").read_text())["alphabet"]
    assert alphabet == [" ", "a", "b", "c"]
    for path, record in zip(files, printed):  # the model's beam decoding, in the alphabet
        x = torch.from_numpy(frames_of(read_audio(path), p.config.task))[None]
        labels = decode(p.model, x, torch.tensor([x.shape[1]]), 2)[0]
        text = " ".join("".join(alphabet[c] for c in labels).split())  # spaces normalised
        assert record == {"file": path, "text": text}


@needs_jiwer
def test_a_manifest_transcribes_its_utterances(run, tmp_path, capsys):
    manifest = run / "data" / "test.jsonl"
    p = rnnkit.load(run / "run")
    files = [str(run / f"data/audio/test.jsonl-{i}.wav") for i in range(3)]
    records = p.predict_file(manifest)
    assert records == p.predict(files)  # each utterance as its file alone would be
    capsys.readouterr()
    assert main(["transcribe", str(run / "run"), str(manifest), files[0], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == records + p.predict(files[:1])
    (tmp_path / "bad.jsonl").write_text('{"audio_filepath": "gone.wav", "text": "a"}\n')
    with pytest.raises(TaskError, match=r"bad\.jsonl:1: .*gone\.wav"):
        p.predict_file(tmp_path / "bad.jsonl")


@needs_jiwer
def test_evaluate_reports_cer_and_wer_of_the_transcripts(run, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run / "run"), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    p = rnnkit.load(run / "run")
    files = [str(run / f"data/audio/test.jsonl-{i}.wav") for i in range(3)]
    refs = ["cab", "a c", "bb"]
    for suffix, beam in (("", 0), ("_beam", 2)):
        hyps = [r["text"] for r in p.predict(files, beam=beam)]
        rates = text_error_rates(refs, hyps)
        assert figures["cer" + suffix] == pytest.approx(rates["cer"])
        assert figures["wer" + suffix] == pytest.approx(rates["wer"])
    assert figures["unseen_chars"] == 0
    report = (run / "run/report.md").read_text()
    assert "## Test transcripts" in report and "| cab |" in report


@needs_jiwer
def test_the_run_records_the_manifests_with_their_sha256(run):
    import hashlib

    saved = json.loads((run / "run/data.json").read_text())["files"]
    assert {f["key"] for f in saved} == {"task.train_data", "task.val_data", "task.test_data"}
    for f in saved:
        assert f["sha256"] == hashlib.sha256(Path(f["path"]).read_bytes()).hexdigest()


# -- the example set's script --------------------------------------------------------------
def example_script():
    path = Path(__file__).parents[1] / "examples/data/make_speech_manifest.py"
    spec = importlib.util.spec_from_file_location("make_speech_manifest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_written_set(out: Path, speakers: int) -> None:
    parts = {k: read_manifest(out / f"{k}.jsonl").items for k in ("train", "val", "test")}
    seen = [{u.speaker for u in v} for v in parts.values()]
    assert sum(map(len, seen)) == speakers and len(set.union(*seen)) == speakers
    every = read_manifest(out / "all.jsonl").items
    assert sorted(u.audio for u in every) == sorted(u.audio for v in parts.values() for u in v)
    for u in every[:3]:
        assert abs(len(read_audio(u.audio)) / SAMPLE_RATE - u.duration) < 0.01


@pytest.mark.skipif(not shutil.which("espeak-ng"),
                    reason="espeak-ng is not installed (apt-get install espeak-ng)")
def test_example_script_with_espeak(tmp_path):
    assert example_script().main(["--out", str(tmp_path), "--source", "espeak", "--speakers",
                                  "4", "--per-speaker", "2", "--val-speakers", "1",
                                  "--test-speakers", "1"]) == 0
    check_written_set(tmp_path, 4)


DATA = os.environ.get("RNNKIT_DATA")


@pytest.mark.skipif(not DATA or not (Path(DATA) / "speech/fsdd/recordings").is_dir(),
                    reason="real-data test: set RNNKIT_DATA to the shared data folder (FSDD)")
def test_example_script_with_fsdd(tmp_path):
    assert example_script().main(["--out", str(tmp_path), "--source", "fsdd",
                                  "--per-speaker", "2"]) == 0
    check_written_set(tmp_path, 6)
    words = {w for u in read_manifest(tmp_path / "all.jsonl").items for w in u.text.split()}
    assert words <= {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                     "nine"}
