"""Audio reading, features, CTC decoding, the speech tasks and ``rnnkit transcribe``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import rnnkit
from rnnkit.data.audio import (
    FEATURES,
    SAMPLE_RATE,
    AudioError,
    connected_utterances,
    features,
    fsdd_recordings,
    power_spectrogram,
    read_audio,
    stack_frames,
)
from rnnkit.models import SequenceClassifier, SequenceTagger, ctc_beam_decode, ctc_greedy_decode
from rnnkit.tasks import TaskError
from rnnkit.tasks.speech_common import pad
from rnnkit.tasks.speech_ctc import (
    SpeechCTCConfig,
    decode,
    edit_distance,
    error_rates,
    frames_of,
    to_tensors,
)
from rnnkit.tasks.speech_digits import (
    SpeechDigitsConfig,
    SpeechDigitsTask,
    confusion_plot,
    split_of,
)
from rnnkit.training.config import ModelConfig, RunConfig

DATA = os.environ.get("RNNKIT_DATA")
needs_data = pytest.mark.skipif(
    not DATA or not (Path(DATA) / "speech/fsdd/recordings").is_dir(),
    reason="real-data test: set RNNKIT_DATA to the shared data folder (FSDD recordings)")


def tone(freq: float, seconds: float, rate: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# -- reading ------------------------------------------------------------------------------
def test_read_mono_8k(tmp_path):
    sf.write(tmp_path / "a.wav", tone(440, 0.5), SAMPLE_RATE, subtype="PCM_16")
    audio = read_audio(tmp_path / "a.wav")
    assert audio.dtype == np.float32 and audio.shape == (4000,)
    np.testing.assert_allclose(audio, tone(440, 0.5), atol=1e-4)


def test_stereo_44k_is_mixed_down_and_resampled(tmp_path):
    left, right = tone(440, 1.0, 44100), tone(440, 1.0, 44100) * 0.5
    sf.write(tmp_path / "s.wav", np.stack([left, right], 1), 44100)
    audio = read_audio(tmp_path / "s.wav")
    assert abs(len(audio) - 8000) <= 1
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(audio) - 440) < 3  # the same pitch
    assert 0.3 < np.abs(audio).max() < 0.45  # the mean of the two channels (0.375 peak)
    with pytest.raises(AudioError, match="sample rate 44100 Hz, the model expects 8000 Hz"):
        read_audio(tmp_path / "s.wav", resample=False)


def test_bad_files_give_clear_errors(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("this is not audio\n")
    with pytest.raises(AudioError, match="empty"):
        read_audio(tmp_path / "empty.wav")
    with pytest.raises(AudioError, match="not a readable audio file"):
        read_audio(tmp_path / "text.wav")
    with pytest.raises(AudioError, match="no such file"):
        read_audio(tmp_path / "missing.wav")
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), SAMPLE_RATE)
    with pytest.raises(AudioError, match="no samples"):
        read_audio(tmp_path / "zero.wav")


# -- features -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(FEATURES))
def test_feature_shape_and_frame_rate(kind):
    for seconds in (1.0, 0.5, 0.1435):  # 0.1435 s = 1,148 samples, FSDD's shortest
        n = int(round(seconds * SAMPLE_RATE))
        feats = features(np.random.default_rng(0).normal(0, 0.1, n), kind)
        assert feats.shape == (1 + n // 80, FEATURES[kind])  # 10 ms hop: 100 frames/s
        assert feats.dtype == np.float32 and np.isfinite(feats).all()
        np.testing.assert_allclose(feats.mean(0), 0, atol=1e-4)  # per-utterance CMVN
    assert features(np.zeros(8000), kind).shape[0] == 101


def test_spectrogram_equals_librosa_stft():
    import librosa

    x = np.random.default_rng(1).normal(0, 0.1, 3501).astype(np.float32)
    ref = np.abs(librosa.stft(x, n_fft=256, win_length=200, hop_length=80)) ** 2
    np.testing.assert_allclose(power_spectrogram(x), ref, rtol=1e-4, atol=1e-6 * ref.max())


def test_stack_frames():
    f = np.arange(10, dtype=np.float32).reshape(5, 2)
    s = stack_frames(f, 2)
    assert s.shape == (3, 4)
    np.testing.assert_array_equal(s[2], [8, 9, 8, 9])
    assert stack_frames(f, 1) is f


def test_connected_utterances():
    signals = [np.full(800, d + 1, np.float32) for d in range(3)]
    audio, digits = connected_utterances(signals, [0, 1, 2], 20, min_digits=2, max_digits=4,
                                         noise=0.0, seed=3)
    assert len(audio) == 20 and all(2 <= len(d) <= 4 for d in digits)
    for a, d in zip(audio, digits):
        # the digits appear in order, each as one run of its constant value
        runs = [v for i, v in enumerate(a) if v and (i == 0 or a[i - 1] != v)]
        assert [int(v) - 1 for v in runs] == d
    again, _ = connected_utterances(signals, [0, 1, 2], 20, min_digits=2, max_digits=4,
                                    noise=0.0, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(audio, again))


# -- CTC decoding and scoring -------------------------------------------------------------
def posteriorgram(rows: list[dict[int, float]], classes: int = 4) -> torch.Tensor:
    """(1, T, C) log-probabilities from per-step {class: prob}, the rest spread evenly."""
    out = torch.zeros(1, len(rows), classes)
    for t, row in enumerate(rows):
        rest = (1 - sum(row.values())) / max(classes - len(row), 1)
        out[0, t] = torch.tensor([row.get(c, rest) for c in range(classes)]).log()
    return out


def test_ctc_greedy_decoding_of_a_hand_made_posteriorgram():
    # argmax path: 1 1 _ 1 2 2 _ 3 -> "1 1 2 3"
    path = [1, 1, 0, 1, 2, 2, 0, 3]
    scores = posteriorgram([{c: 0.9} for c in path])
    assert ctc_greedy_decode(scores) == [[1, 1, 2, 3]]
    assert ctc_beam_decode(scores, beam_size=4) == [[1, 1, 2, 3]]
    assert ctc_greedy_decode(scores, torch.tensor([3])) == [[1]]


def test_ctc_beam_sums_over_paths_where_greedy_does_not():
    """Each step is blank with p 0.4 and label 1 with 0.35: the best single path is all
    blanks (greedy: empty), but "1" gathers more probability over its paths."""
    scores = posteriorgram([{0: 0.4, 1: 0.35, 2: 0.25}] * 3, classes=3)
    assert ctc_greedy_decode(scores) == [[]]
    assert ctc_beam_decode(scores, beam_size=8) == [[1]]


def test_edit_distance_and_rates():
    assert edit_distance([1, 2, 3], [1, 3]) == 1
    assert edit_distance([], [4, 5]) == 2
    assert edit_distance([1, 2], [2, 1]) == 2
    rates = error_rates([[1, 2], [3]], [[1, 2, 3], [3]])
    assert rates == {"digit_error_rate": 0.25, "utterance_accuracy": 0.5}


# -- tiny models --------------------------------------------------------------------------
def tone_utterances(n: int, seed: int = 0):
    """Connected "digits" 0..2 spoken as tones of 500, 1200 and 2500 Hz."""
    signals = [tone(f, 0.15) for f in (500, 1200, 2500)]
    audio, digits = connected_utterances(signals, [0, 1, 2], n, min_digits=1, max_digits=3,
                                         seed=seed)
    frames = [stack_frames(features(a), 3) for a in audio]
    return to_tensors(frames, digits), digits


def test_tiny_ctc_model_overfits_a_few_utterances():
    batch, digits = tone_utterances(6)
    model = SequenceTagger(num_tags=4, input_size=batch["x"].shape[-1], cell="gru",
                           hidden_size=24, bidirectional=True, loss="ctc")
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(120):
        opt.zero_grad()
        model.compute_loss(batch).loss.backward()
        opt.step()
    model.eval()
    hyps = decode(model, batch["x"], batch["lengths"])
    assert hyps == digits
    assert decode(model, batch["x"], batch["lengths"], beam_size=4) == digits


def digits_context(data):
    """A speech-digits context whose splits are ``data`` (no FSDD needed)."""
    task = SpeechDigitsTask()
    cfg = RunConfig(name="t", task=SpeechDigitsConfig(),
                    model=ModelConfig(cell="gru", hidden_size=8, bidirectional=True))
    ctx = task.setup(cfg)
    ctx.splits = data
    return task, ctx


def tone_frames():
    frames = [features(tone(f, 0.3)) for f in (300, 900, 2000)]
    x, lengths = pad(frames)
    return {"x": x, "lengths": lengths, "y": torch.tensor([0, 1, 2])}


def test_confusion_plot_and_errors(tmp_path, monkeypatch):
    import rnnkit.tasks.confusion as sd

    data = tone_frames()
    model = SequenceClassifier(num_classes=10, input_size=39, cell="gru", hidden_size=8).eval()
    drawn = []
    plot = sd.plot_confusion
    monkeypatch.setattr(sd, "plot_confusion", lambda counts, *a: drawn.append((counts, a[1]))
                        or plot(counts, *a))
    path = confusion_plot(model, data, tmp_path)
    assert path == tmp_path / "plots" / "confusion.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with torch.no_grad():
        pred = model(data["x"], data["lengths"]).logits.argmax(-1)
    expected = np.zeros((10, 10), dtype=np.int64)  # rows: true class, columns: predicted
    for t, p in zip(data["y"].tolist(), pred.tolist()):
        expected[t, p] += 1
    (counts, title), = drawn
    np.testing.assert_array_equal(counts, expected)
    right = int(np.trace(expected))
    assert title == f"test: {right / len(pred):.2%} of {len(pred)} correct"
    task, ctx = digits_context({"test": data})
    wrong = int((pred != data["y"]).sum())
    assert task.extra_metrics(ctx, model, "test")["errors"] == wrong


def test_after_training_draws_confusion_and_links_it(tmp_path):
    task, ctx = digits_context({"test": tone_frames()})
    model = task.build_model(ctx)
    (tmp_path / "report.md").write_text("# Run `t`\n\nFiles: ...\n")
    task.after_training(ctx, model, tmp_path)
    task.after_training(ctx, model, tmp_path)  # a second call replaces, not repeats
    report = (tmp_path / "report.md").read_text()
    assert (tmp_path / "plots" / "confusion.png").stat().st_size > 0
    assert report.startswith("# Run `t`")
    assert report.count("![confusion matrix](plots/confusion.png)") == 1


# -- rnnkit.load(run) and rnnkit transcribe ---------------------------------------------------
def write_run(root: Path, task_cfg) -> Path:
    """A run directory holding an untrained model of ``task_cfg``'s task, as `rnnkit train`
    writes it (no FSDD needed)."""
    from rnnkit.tasks import TASKS
    from rnnkit.training.checkpoint import save_checkpoint
    from rnnkit.training.config_io import write_toml

    cfg = RunConfig(name="t", task=task_cfg,
                    model=ModelConfig(cell="gru", hidden_size=8, bidirectional=True))
    task = TASKS[task_cfg.name]
    ctx = task.setup(cfg)
    torch.manual_seed(0)
    model = task.build_model(ctx)
    run = root / task_cfg.name
    run.mkdir(parents=True)
    write_toml(cfg, run / "config.toml")
    info = {"model_class": type(model).__name__, "model_config": model.get_config(),
            "step": 0, **task.info(ctx, model)}
    save_checkpoint(run / "checkpoints" / "best", model, info)
    return run


@pytest.fixture
def ctc_run(tmp_path):
    return write_run(tmp_path, SpeechCTCConfig(beam_size=2))


@pytest.fixture
def digits_run(tmp_path):
    return write_run(tmp_path, SpeechDigitsConfig())


def test_transcribe_cli(ctc_run, tmp_path, capsys):
    from rnnkit.cli.main import main

    sf.write(tmp_path / "ok.wav", tone(700, 0.6), SAMPLE_RATE)
    sf.write(tmp_path / "stereo44k.wav", np.stack([tone(700, 0.6, 44100)] * 2, 1), 44100)
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not audio")

    assert main(["transcribe", str(ctc_run), str(tmp_path / "ok.wav"),
                 str(tmp_path / "stereo44k.wav")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in out] == [str(tmp_path / "ok.wav"),
                                                     str(tmp_path / "stereo44k.wav")]
    assert all(set(line.split("\t")[1]) <= set("0123456789") for line in out)

    code = main(["transcribe", str(ctc_run), str(tmp_path / "empty.wav"),
                 str(tmp_path / "notes.txt"), str(tmp_path / "ok.wav"), "--beam", "0"])
    captured = capsys.readouterr()
    assert code == 1
    assert "empty.wav: the file is empty (0 bytes), not audio" in captured.err
    assert "notes.txt: not a readable audio file" in captured.err
    assert captured.out.count("\t") == 1  # the good file is still transcribed


def speech_files(tmp_path) -> list[str]:
    files = []
    for k, f in enumerate((500, 1200, 2500)):
        audio = np.concatenate([tone(f, 0.2), np.zeros(800, np.float32), tone(3000 - f, 0.3)])
        sf.write(tmp_path / f"u{k}.wav", audio, SAMPLE_RATE, subtype="FLOAT")
        files.append(str(tmp_path / f"u{k}.wav"))
    (tmp_path / "empty.wav").write_bytes(b"")
    return [*files, str(tmp_path / "empty.wav")]


@pytest.mark.parametrize("beam", [None, 0, 3])
def test_ctc_predict_equals_transcribe_json(ctc_run, tmp_path, capsys, beam):
    from rnnkit.cli.main import main

    files = speech_files(tmp_path)
    extra = [] if beam is None else ["--beam", str(beam)]
    capsys.readouterr()
    assert main(["transcribe", str(ctc_run), *files, "--json", *extra]) == 1  # empty.wav
    printed = json.loads(capsys.readouterr().out)["results"]
    p = rnnkit.load(ctc_run)
    assert printed == p.predict(files, **({} if beam is None else {"beam": beam}))
    assert "empty" in printed[-1]["error"] and printed[-1]["file"] == files[-1]
    # each text is the model's decoding of the file's frames (beam None: task.beam_size 2)
    for path, record in zip(files[:-1], printed):
        x = torch.from_numpy(frames_of(read_audio(path), p.config.task))[None]
        digits = decode(p.model, x, torch.tensor([x.shape[1]]), 2 if beam is None else beam)[0]
        assert record == {"file": path, "text": "".join(map(str, digits))}


def test_digits_predict_equals_transcribe_json(digits_run, tmp_path, capsys):
    from rnnkit.cli.main import main

    files = speech_files(tmp_path)
    capsys.readouterr()
    assert main(["transcribe", str(digits_run), *files, "--json"]) == 1
    printed = json.loads(capsys.readouterr().out)["results"]
    p = rnnkit.load(digits_run)
    assert printed == p.predict(files)
    for path, record in zip(files[:-1], printed):
        x = torch.from_numpy(features(read_audio(path)))[None]
        with torch.no_grad():
            probs = torch.softmax(p.model(x).logits[0], -1)
        assert record["text"] == str(int(probs.argmax()))
        assert record["probability"] == pytest.approx(float(probs.max()), abs=1e-4)
    assert main(["transcribe", str(digits_run), files[0], "--beam", "3"]) == 1
    assert "--beam applies to speech-ctc runs only" in capsys.readouterr().err
    with pytest.raises(TaskError, match="speech-ctc runs only"):
        p.predict(files[:1], beam=3)


@pytest.mark.parametrize("which", ["ctc", "digits"])
def test_arrays_equal_files(which, ctc_run, digits_run, tmp_path):
    """A 1-D signal and the model's frames (2-D) give the record of the file they came
    from (with "file" None); predict_file reads one audio file or an .npy of arrays."""
    run = ctc_run if which == "ctc" else digits_run
    p = rnnkit.load(run)
    (path, *_) = speech_files(tmp_path)
    signal = read_audio(path)
    x = p.frames(signal)
    (from_file,) = p.predict([path])
    for record in p.predict([signal, x]):
        assert record == {**from_file, "file": None}
    assert p.predict_file(path) == [from_file]
    np.save(tmp_path / "signal.npy", signal)
    assert p.predict_file(tmp_path / "signal.npy") == [{**from_file, "file": None}]
    with pytest.raises(TaskError, match=r"frames \(T, "):
        p.predict([np.zeros((5, 7))])


def test_a_missing_extra_names_it(ctc_run, tmp_path, monkeypatch):
    """Without soundfile, transcribing stops with the extra to install (not an error record
    per file)."""
    from rnnkit._optional import MissingExtraError

    sf.write(tmp_path / "ok.wav", tone(700, 0.3), SAMPLE_RATE)
    monkeypatch.setitem(sys.modules, "soundfile", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[audio\]'"):
        rnnkit.load(ctc_run).predict([str(tmp_path / "ok.wav")])


def test_ctc_min_digits_above_max_is_a_config_error():
    from rnnkit.tasks import TASKS

    cfg = RunConfig(name="t", task=SpeechCTCConfig(min_digits=5, max_digits=3))
    assert any("min_digits = 5 > task.max_digits = 3" in e for e in TASKS["speech-ctc"].check(cfg))


# -- real data ----------------------------------------------------------------------------
@needs_data
def test_fsdd_release_and_official_split():
    recs = fsdd_recordings()  # checks the sha256 of the 3,000 files
    assert len(recs) == 3000 and len({r.speaker for r in recs}) == 6
    cfg = SpeechDigitsConfig()
    counts = {s: sum(split_of(r, cfg) == s for r in recs) for s in ("train", "val", "test")}
    assert counts == {"train": 2400, "val": 300, "test": 300}
    loso = SpeechDigitsConfig(split="speaker", test_speaker="theo")
    assert sum(split_of(r, loso) == "test" for r in recs) == 500
    assert all(r.speaker == "theo" for r in recs if split_of(r, loso) == "test")
    audio = read_audio(recs[0].path)
    assert features(audio).shape == (1 + len(audio) // 80, 39)


@needs_data
def test_digits_splits_follow_the_recordings():
    """make_splits puts each recording's frames and digit in its split, in order (frames
    replaced by markers here: computing the real ones takes a minute)."""
    task = SpeechDigitsTask()
    ctx = task.setup(RunConfig(name="t", task=SpeechDigitsConfig(split="speaker",
                                                                   test_speaker="lucas")))
    recs = ctx.recordings
    ctx.features = [np.full((1 + i % 3, 39), i, np.float32) for i in range(len(recs))]
    for split, data in ctx.splits.items():
        rows = [i for i, r in enumerate(recs) if split_of(r, ctx.task_cfg) == split]
        assert data["x"][:, 0, 0].long().tolist() == rows
        assert data["lengths"].tolist() == [1 + i % 3 for i in rows]
        assert data["y"].tolist() == [recs[i].digit for i in rows]
    assert len(ctx.splits["test"]["y"]) == 500


@needs_data
def test_ctc_splits_and_figures():
    from rnnkit.tasks import TASKS

    task = TASKS["speech-ctc"]
    cfg = RunConfig(name="t", task=SpeechCTCConfig(train_size=3, val_size=2, test_size=4,
                                                   max_digits=3, beam_size=2),
                    model=ModelConfig(cell="gru", hidden_size=8, bidirectional=True))
    ctx = task.setup(cfg)
    test = ctx.splits["test"]
    assert "train" not in ctx.splits._done  # the training utterances are not made
    assert len(test["y"]) == 4 and test["target_lengths"].max() <= 3
    assert test["x"].shape[-1] == 39 * 3
    again = task.setup(cfg).splits["test"]
    assert all(torch.equal(test[k], again[k]) for k in test)
    model = task.build_model(ctx).eval()
    figures = task.extra_metrics(ctx, model, "test")
    refs = [(row[:n] - 1).tolist() for row, n in zip(test["y"], test["target_lengths"])]
    beam = decode(model, test["x"], test["lengths"], 2)
    assert figures["digit_error_rate_beam"] == error_rates(beam, refs)["digit_error_rate"]
    assert set(figures) == {"digit_error_rate", "utterance_accuracy", "digit_error_rate_beam",
                            "utterance_accuracy_beam"}


# -- spoken keywords from a folder per label (issue 17, item 5) ------------------------------
KEYWORD_TONES = {"high": 2500, "low": 400, "mid": 1200}


def write_keywords(root: Path, per_label: int = 6, rate: int = 16000,
                   names: str = "{label}{i}.wav") -> dict[str, list[str]]:
    """``root/<label>/*.wav``: tones whose pitch is the label, with a little noise;
    returns the names (``label/file``) by label."""
    rng = np.random.default_rng(0)
    out = {}
    for label, freq in KEYWORD_TONES.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        out[label] = []
        for i in range(per_label):
            audio = tone(freq * (1 + 0.02 * i), 0.25 + 0.02 * i, rate)
            audio = audio + rng.normal(0, 0.01, audio.shape).astype(np.float32)
            name = names.format(label=label, i=i, speaker=f"s{i % 3}")
            sf.write(root / label / name, audio, rate, subtype="PCM_16")
            out[label].append(f"{label}/{name}")
    return out


def keywords_ctx(**task):
    from rnnkit.tasks import TASKS

    cfg = RunConfig(name="t", task=SpeechDigitsConfig(**task),
                    model=ModelConfig(cell="gru", hidden_size=8, bidirectional=True))
    return TASKS["speech-digits"], TASKS["speech-digits"].setup(cfg)


def test_a_16_bit_wav_reads_to_exactly_its_samples(tmp_path):
    ints = np.array([0, 1, -1, 32767, -32768, 1234, -4321], np.int16)
    sf.write(tmp_path / "a.wav", ints, 16000, subtype="PCM_16")
    np.testing.assert_array_equal(read_audio(tmp_path / "a.wav", 16000),
                                  ints.astype(np.float32) / 32768)


def test_spectrogram_at_16k_equals_librosa_stft():
    import librosa

    from rnnkit.data.audio import frame_sizes

    assert frame_sizes(16000) == (512, 400, 160) and frame_sizes(8000) == (256, 200, 80)
    x = np.random.default_rng(2).normal(0, 0.1, 7001).astype(np.float32)
    ref = np.abs(librosa.stft(x, n_fft=512, win_length=400, hop_length=160)) ** 2
    np.testing.assert_allclose(power_spectrogram(x, 16000), ref, rtol=1e-4,
                               atol=1e-6 * ref.max())
    feats = features(x, sample_rate=16000)
    assert feats.shape == (1 + 7001 // 160, 39) and np.isfinite(feats).all()


def test_keyword_folder_reads_to_exactly_the_expected_tensors(tmp_path):
    """Labels are the folder names, sorted; _background_noise_ is no label; each clip's
    frames are those of its file resampled to 16 kHz; a stereo 44.1 kHz file is mixed down
    and resampled; a non-audio file in a label folder is skipped and reported."""
    names = write_keywords(tmp_path / "kw")
    (tmp_path / "kw" / "_background_noise_").mkdir()
    sf.write(tmp_path / "kw" / "_background_noise_" / "hum.wav", tone(50, 1.0, 16000), 16000)
    (tmp_path / "kw" / "low" / "notes.txt").write_text("not a recording")
    stereo = np.stack([tone(400, 0.3, 44100), tone(400, 0.3, 44100) * 0.5], 1)
    sf.write(tmp_path / "kw" / "low" / "z-stereo.wav", stereo, 44100)
    names["low"].append("low/z-stereo.wav")
    task, ctx = keywords_ctx(data=str(tmp_path / "kw"), test_fraction=0.2, val_fraction=0.2)
    with pytest.warns(UserWarning, match=r"skipped 1 file\(s\) that are not audio .*"
                                         r"low/notes\.txt"):
        clips = ctx.clips
    assert ctx.labels == ["high", "low", "mid"] and ctx.rate == 16000
    assert sorted(c.name for part in clips.values() for c in part) == sorted(
        sum(names.values(), []))
    for split, data in ctx.splits.items():
        for row, clip in enumerate(clips[split]):
            want = features(read_audio(tmp_path / "kw" / clip.name, 16000), sample_rate=16000)
            n = int(data["lengths"][row])
            assert n == len(want)
            torch.testing.assert_close(data["x"][row, :n], torch.from_numpy(want))
            assert not data["x"][row, n:].any()
            assert int(data["y"][row]) == ["high", "low", "mid"].index(clip.name.split("/")[0])
    assert task.model_args(ctx) == {"num_classes": 3, "input_size": 39}


def test_file_lists_name_the_validation_and_test_recordings(tmp_path):
    names = write_keywords(tmp_path / "kw")
    test = [names["high"][0], names["low"][1], names["mid"][2]]
    (tmp_path / "kw" / "testing_list.txt").write_text("\n".join(test) + "\n\n")
    (tmp_path / "kw" / "validation_list.txt").write_text(f"./{names['mid'][3]}\n")
    _, ctx = keywords_ctx(data=str(tmp_path / "kw"))
    assert [c.name for c in ctx.clips["test"]] == test
    assert [c.name for c in ctx.clips["val"]] == [names["mid"][3]]
    rest = sorted(set(sum(names.values(), [])) - set(test) - {names["mid"][3]})
    assert [c.name for c in ctx.clips["train"]] == rest
    # only a testing list: validation carved from the rest (seeded, by file)
    (tmp_path / "kw" / "validation_list.txt").unlink()
    _, ctx = keywords_ctx(data=str(tmp_path / "kw"), val_fraction=0.2)
    assert [c.name for c in ctx.clips["test"]] == test
    assert len(ctx.clips["val"]) == round(0.2 * 15) and not set(ctx.clips["val"]) & set(
        ctx.clips["train"])


def test_speech_commands_names_split_by_speaker(tmp_path):
    write_keywords(tmp_path / "kw", per_label=9, names="{speaker}_nohash_{i}.wav")
    _, ctx = keywords_ctx(data=str(tmp_path / "kw"), test_fraction=0.34, val_fraction=0.5)
    speakers = {split: {c.name.split("/")[1].split("_")[0] for c in part}
                for split, part in ctx.clips.items()}
    assert all(len(s) == 1 for s in speakers.values())  # 3 speakers: one per part
    assert set.union(*speakers.values()) == {"s0", "s1", "s2"}
    assert sum(len(p) for p in ctx.clips.values()) == 27


def test_split_by_file_is_seeded_disjoint_and_complete(tmp_path):
    names = write_keywords(tmp_path / "kw", per_label=10)
    parts = []
    for seed in (0, 0, 1):
        _, ctx = keywords_ctx(data=str(tmp_path / "kw"), split_seed=seed)
        parts.append({k: [c.name for c in v] for k, v in ctx.clips.items()})
        assert sorted(sum(parts[-1].values(), [])) == sorted(sum(names.values(), []))
        assert [len(parts[-1][k]) for k in ("train", "val", "test")] == [24, 3, 3]
    assert parts[0] == parts[1] and parts[0] != parts[2]


@pytest.mark.parametrize("case, message", [
    ("text", r"kw/low: none of the 6 recording\(s\) of label 'low' can be read; .*"
             r"kw/low/low0\.wav: not a readable audio file"),
    ("zero", r"kw: none of its 18 recording\(s\) can be read: .*"
             r"kw/high/high0\.wav: the audio file holds no samples"),
    ("empty label", r"kw/quiet: label folder 'quiet' holds no audio file"),
    ("missing in list", r"kw/testing_list\.txt:2: 'low/nope\.wav': no such file"),
    ("in both lists", r"'high/high0\.wav' .* is named by both"),
    ("no labels", r"kw: no label folders"),
    ("one label", r"the training part has 1 label"),
])
def test_malformed_keyword_folders_name_the_file(tmp_path, case, message):
    root = tmp_path / "kw"
    if case == "no labels":
        root.mkdir()
        (root / "a.wav").write_bytes(b"")
    elif case == "one label":
        write_keywords(root)
        for label in ("low", "mid"):
            for f in (root / label).iterdir():
                f.unlink()
            (root / label).rmdir()
    else:
        write_keywords(root)
    if case == "text":  # one unreadable file is skipped (test_keyword_folders.py); all of
        for f in (root / "low").iterdir():  # a label's are an error
            f.write_text("this is not audio")
    elif case == "zero":
        for f in root.glob("*/*.wav"):
            sf.write(f, np.zeros(0, np.float32), 16000)
    elif case == "empty label":
        (root / "quiet").mkdir()
    elif case == "missing in list":
        (root / "testing_list.txt").write_text("high/high0.wav\nlow/nope.wav\n")
    elif case == "in both lists":
        for name in ("testing_list.txt", "validation_list.txt"):
            (root / name).write_text("high/high0.wav\n")
    task, ctx = keywords_ctx(data=str(root), val_fraction=0.3, test_fraction=0.3)
    with pytest.raises(TaskError, match=message):
        task.model_args(ctx)
        ctx.splits  # noqa: B018  (reads the audio)


def test_keyword_config_errors(tmp_path):
    from rnnkit.tasks import TASKS

    check = TASKS["speech-digits"].check
    write_keywords(tmp_path / "kw", per_label=1)
    own = {"data": str(tmp_path / "kw")}
    assert not check(RunConfig(name="t", task=SpeechDigitsConfig(**own)))
    assert any("task.split applies to FSDD" in e for e in check(RunConfig(
        name="t", task=SpeechDigitsConfig(split="speaker", **own))))
    assert any("too low" in e for e in check(RunConfig(
        name="t", task=SpeechDigitsConfig(sample_rate=2000, **own))))
    assert any("no such file or folder" in e for e in check(RunConfig(
        name="t", task=SpeechDigitsConfig(data=str(tmp_path / "missing")))))


KEYWORDS_CONFIG = """
name = "keywords"
[task]
name = "speech-digits"
data = "kw"
test_fraction = 0.2
val_fraction = 0.2
[model]
cell = "gru"
hidden_size = 8
bidirectional = true
[train]
steps = 4
batch_size = 4
eval_every = 2
progress = "off"
"""


@pytest.fixture(scope="module")
def keywords_run(tmp_path_factory):
    from rnnkit.cli.main import main

    root = tmp_path_factory.mktemp("keywords")
    write_keywords(root / "kw")
    (root / "keywords.toml").write_text(KEYWORDS_CONFIG)
    assert main(["train", str(root / "keywords.toml"), "--run-dir", str(root / "run")]) == 0
    return root


def test_run_on_a_keyword_folder_predicts_as_the_cli_prints(keywords_run, tmp_path, capsys):
    from rnnkit.cli.main import main

    run = keywords_run / "run"
    report = (run / "report.md").read_text()
    assert "## Recordings per label (16000 Hz)" in report and "| high |" in report
    p = rnnkit.load(run)
    assert p.info["labels"] == ["high", "low", "mid"] and p.sample_rate == 16000
    sf.write(tmp_path / "low-8k.wav", tone(400, 0.3), 8000)  # resampled to 16 kHz
    files = [str(keywords_run / "kw" / "high" / "high0.wav"), str(tmp_path / "low-8k.wav")]
    capsys.readouterr()
    assert main(["transcribe", str(run), *files, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["results"]
    assert printed == p.predict(files)
    for path, record in zip(files, printed):
        x = torch.from_numpy(features(read_audio(path, 16000), sample_rate=16000))[None]
        with torch.no_grad():
            probs = torch.softmax(p.model(x).logits[0], -1)
        assert record["text"] == ["high", "low", "mid"][int(probs.argmax())]
        assert record["probabilities"] == pytest.approx(
            dict(zip(["high", "low", "mid"], probs.tolist())), abs=1e-4)
    assert main(["predict", str(run), "--input", files[1]]) == 0
    assert json.loads(capsys.readouterr().out) == printed[1]


def test_a_keyword_folder_predicts_each_recording(keywords_run, tmp_path):
    import shutil

    p = rnnkit.load(keywords_run / "run")
    root = keywords_run / "kw"
    records = p.predict_file(root)
    files = [str(f) for label in ("high", "low", "mid") for f in sorted((root / label).iterdir())]
    assert [r["file"] for r in records] == files
    assert records == p.predict(files)
    flat = tmp_path / "flat"  # a folder of recordings alone
    flat.mkdir()
    for f in files[:2]:
        shutil.copy(f, flat / Path(f).name)
    (flat / "notes.txt").write_text("not audio")
    assert p.predict_file(flat) == p.predict(sorted(str(f) for f in flat.glob("*.wav")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(TaskError, match="no audio file .* and no label folder"):
        p.predict_file(tmp_path / "empty")


@needs_data
def test_fsdd_laid_out_as_folders_splits_as_the_builtin_task(tmp_path):
    """FSDD as root/<digit>/*.wav with the official split written as list files: the same
    recordings in the same order in every part (every recording read, as training reads
    them: none is skipped)."""
    recs = fsdd_recordings()
    lists = {"testing_list.txt": [], "validation_list.txt": []}
    for r in recs:
        (tmp_path / str(r.digit)).mkdir(exist_ok=True)
        (tmp_path / str(r.digit) / r.path.name).symlink_to(r.path)
        if r.index < 10:
            lists["testing_list.txt" if r.index < 5 else "validation_list.txt"].append(
                f"{r.digit}/{r.path.name}")
    for name, lines in lists.items():
        (tmp_path / name).write_text("\n".join(lines))
    _, own = keywords_ctx(data=str(tmp_path))
    builtin = SpeechDigitsConfig()
    for split in ("train", "val", "test"):
        assert [c.name for c in own.clips[split]] == [
            f"{r.digit}/{r.path.name}" for r in recs if split_of(r, builtin) == split]
    assert own.labels == [str(d) for d in range(10)]


def test_an_audio_file_with_nan_samples_is_an_error_naming_it(tmp_path):
    import numpy as np
    import soundfile as sf

    from rnnkit.data.audio import AudioError, read_audio

    signal = np.zeros(800, dtype=np.float32)
    signal[100:] = np.nan
    sf.write(tmp_path / "nan.wav", signal, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan.wav: 700 of 800 samples are NaN or infinite "
                                         r"\(the first at sample 100"):
        read_audio(tmp_path / "nan.wav")
