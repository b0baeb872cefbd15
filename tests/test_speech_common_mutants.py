"""What the speech tasks share (rnnkit/tasks/speech_common.py) in detail, on a stand-in
predictor (frames = the signal cut into rows of 2, no trained model): the FSDD signals and
context on stand-in recordings, padding, read_file on audio files, arrays, JSON-lines
manifests and folders, and records for files, arrays and unreadable files, with the exact
messages; then transcription.py's ManifestData on a stand-in config: reading, splitting by
speaker or utterance, and its warnings (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import json
import linecache
import re
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

import rnnkit.tasks.speech_common as smod
import rnnkit.tasks.transcription as tmod
from rnnkit.data.audio import SAMPLE_RATE
from rnnkit.data.datasets import DataError
from rnnkit.data.manifests import Utterance
from rnnkit.tasks import TaskError
from rnnkit.tasks.datafiles import split_items
from rnnkit.tasks.speech_common import FSDDContext, SpeechPredictor, fsdd_signals, pad
from rnnkit.tasks.transcription import ManifestData, _shown, text_error_rates


class Stub(SpeechPredictor):
    """Frames: the signal's first even number of samples, two a row, times 10."""

    def frames(self, signal):
        n = len(signal) // 2 * 2
        return np.asarray(signal[:n], np.float32).reshape(-1, 2) * 10

    @property
    def width(self):
        return 2


def _stub(lowercase=None, sample_rate=None) -> Stub:
    task = SimpleNamespace() if lowercase is None else SimpleNamespace(lowercase=lowercase)
    p = Stub.__new__(Stub)
    p.model, p.info, p.run_dir = torch.nn.Linear(1, 1), {}, None
    p.context = SimpleNamespace(cfg=SimpleNamespace(task=task))
    return p


def _wav(path: Path, samples, rate=SAMPLE_RATE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.asarray(samples, np.float64), rate, subtype="PCM_16")
    return path


# -- FSDD --------------------------------------------------------------------------------
def test_fsdd_signals_reads_each_recording_at_the_rate(monkeypatch):
    recs = [SimpleNamespace(path="a.wav"), SimpleNamespace(path="b.wav")]
    calls = []
    monkeypatch.setattr(smod, "fsdd_recordings", lambda: recs)
    monkeypatch.setattr(smod, "read_audio",
                        lambda p, sr: calls.append((p, sr)) or np.array([len(calls)]))
    got_recs, signals = fsdd_signals()
    assert got_recs is recs and [s.tolist() for s in signals] == [[1], [2]]
    assert calls == [("a.wav", 8000), ("b.wav", 8000)]
    calls.clear()
    fsdd_signals(16000)
    assert calls == [("a.wav", 16000), ("b.wav", 16000)]


def test_a_missing_fsdd_is_a_task_error_with_its_message(monkeypatch):
    def missing():
        raise DataError("no FSDD here")
    monkeypatch.setattr(smod, "fsdd_recordings", missing)
    with pytest.raises(TaskError) as e:
        fsdd_signals()
    assert str(e.value) == "no FSDD here" and e.value.__cause__ is None


def test_the_context_reads_fsdd_once(monkeypatch):
    calls = []
    monkeypatch.setattr(smod, "fsdd_signals",
                        lambda *a: calls.append(a) or (["r1", "r2"], ["s1", "s2"]))
    ctx = FSDDContext(SimpleNamespace(), None)
    assert ctx.recordings == ["r1", "r2"] and ctx.signals == ["s1", "s2"]
    assert ctx.fsdd == (["r1", "r2"], ["s1", "s2"]) and calls == [()]


# -- pad ---------------------------------------------------------------------------------
def test_pad_zero_pads_to_the_longest():
    a = np.array([[1, 2, 3]], np.float32)
    b = np.array([[4, 5, 6], [7, 8, 9]], np.float32)
    x, lengths = pad([a, b])
    assert lengths.tolist() == [1, 2] and x.dtype == torch.float32
    assert x.tolist() == [[[1, 2, 3], [0, 0, 0]], [[4, 5, 6], [7, 8, 9]]]
    x, lengths = pad([b, a])
    assert lengths.tolist() == [2, 1]
    assert x.tolist() == [[[4, 5, 6], [7, 8, 9]], [[1, 2, 3], [0, 0, 0]]]
    x, lengths = pad([a])  # one input: its own width
    assert lengths.tolist() == [1] and x.tolist() == [[[1, 2, 3]]]


# -- read_file ---------------------------------------------------------------------------
def test_an_audio_file_is_its_path(tmp_path):
    p = _stub()
    assert p.sample_rate == 8000
    assert p.read_file(tmp_path / "x.wav") == [str(tmp_path / "x.wav")]
    assert p.read_file(str(tmp_path / "y.flac")) == [str(tmp_path / "y.flac")]


def test_array_files_hold_arrays(tmp_path):
    a = np.array([[0.5, 1.0], [2.0, 3.0]], np.float32)
    for name in ("a.npy", "A.NPY"):
        with open(tmp_path / name, "wb") as fh:  # (np.save would append .npy)
            np.save(fh, a)
        got = _stub().read_file(tmp_path / name)
        assert len(got) == 1 and np.array_equal(got[0], a)
    (tmp_path / "b.json").write_text(json.dumps([1, 2, 3]))
    got = _stub().read_file(tmp_path / "b.json")
    assert [g.tolist() for g in got] == [[1, 2, 3]]
    (tmp_path / "c.csv").write_text("1,2\n3,4\n")
    got = _stub().read_file(tmp_path / "c.csv")
    assert [g.tolist() for g in got] == [[[1, 2], [3, 4]]]


@pytest.mark.parametrize("name", ["m.jsonl", "M.JSONL"])
def test_a_manifest_is_its_files(tmp_path, name):
    a, b = _wav(tmp_path / "a.wav", [0.0] * 80), _wav(tmp_path / "b.wav", [0.0] * 80)
    lines = [{"audio_filepath": str(a), "text": "One"}, {"audio_filepath": "b.wav", "text": "x"}]
    (tmp_path / name).write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert _stub().read_file(tmp_path / name) == [str(a), str(b)]
    assert _stub(lowercase=False).read_file(tmp_path / name) == [str(a), str(b)]


def test_a_bad_manifest_is_a_task_error_naming_the_line(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"text": "x"}\n')
    with pytest.raises(TaskError) as e:
        _stub().read_file(tmp_path / "m.jsonl")
    assert str(e.value).startswith(f"{tmp_path / 'm.jsonl'}:1: no 'audio_filepath' key")
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_a_folder_of_label_folders_is_its_recordings(tmp_path):
    for f in ("yes/2.wav", "yes/1.wav", "no/3.wav"):
        _wav(tmp_path / f, [0.0] * 8)
    _wav(tmp_path / "loose.wav", [0.0] * 8)
    (tmp_path / ".hidden").mkdir()
    assert _stub().read_file(tmp_path) == [str(tmp_path / f)
                                           for f in ("no/3.wav", "yes/1.wav", "yes/2.wav")]
    assert _stub().read_file(str(tmp_path)) == [str(tmp_path / f)
                                                for f in ("no/3.wav", "yes/1.wav", "yes/2.wav")]


def test_a_folder_of_audio_files_is_those_files(tmp_path):
    for f in ("b.WAV", "a.flac", "c.ogg"):
        (tmp_path / f).write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".git").mkdir()  # a hidden folder is not a label folder
    assert _stub().read_file(tmp_path) == [str(tmp_path / f) for f in ("a.flac", "b.WAV", "c.ogg")]


def test_a_folder_without_audio_names_what_it_could_hold(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(TaskError) as e:
        _stub().read_file(tmp_path)
    assert str(e.value) == (f"{tmp_path}: no audio file (.wav, .flac, .ogg, .opus, .mp3, "
                            ".aif, .aiff) and no label folder in it")


def test_a_label_folder_without_audio_is_a_task_error(tmp_path):
    (tmp_path / "yes").mkdir()
    (tmp_path / "yes" / "notes.txt").write_text("x")
    with pytest.raises(TaskError) as e:
        _stub().read_file(tmp_path)
    assert "yes" in str(e.value) and e.value.__cause__ is None
    assert e.value.__suppress_context__


# -- records -----------------------------------------------------------------------------
def _heard(seen):
    def heard(x):
        seen.append(x)
        return {"sum": float(x.sum()), "shape": list(x.shape)}
    return heard


def test_records_of_files_arrays_and_an_unreadable_file(tmp_path):
    f = _wav(tmp_path / "a.wav", [0.25, 0.5, -0.25, 0.0, 0.5])
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    seen = []
    frames = np.array([[1, 2], [3, 4], [5, 6]], np.float64)
    out = _stub().records([str(f), bad, np.array([0.1, 0.2, 0.3]), frames], _heard(seen))
    assert out[0] == {"file": str(f), "sum": 5.0, "shape": [1, 2, 2]}
    assert out[1]["file"] == str(bad) and set(out[1]) == {"file", "error"}
    assert str(bad) in out[1]["error"]
    assert out[2] == {"file": None, "sum": pytest.approx(3.0), "shape": [1, 1, 2]}
    assert out[3] == {"file": None, "sum": 21.0, "shape": [1, 3, 2]}
    assert len(out) == 4 and len(seen) == 3
    assert all(x.dtype == torch.float32 and x.is_contiguous() for x in seen)
    assert seen[0].tolist() == [[[2.5, 5.0], [-2.5, 0.0]]]
    assert seen[2].tolist() == [[[1, 2], [3, 4], [5, 6]]]


def test_one_path_is_one_input(tmp_path):
    f = _wav(tmp_path / "a.wav", [0.5, 0.5])
    for given in (str(f), f):
        out = _stub().records(given, _heard([]))
        assert out == [{"file": str(f), "sum": 10.0, "shape": [1, 1, 2]}]


def test_files_are_resampled_to_the_sample_rate(tmp_path):
    f = _wav(tmp_path / "a.wav", np.zeros(1600), rate=16000)
    out = _stub().records([f], _heard([]))
    assert out == [{"file": str(f), "sum": 0.0, "shape": [1, 400, 2]}]


@pytest.mark.parametrize("item, message", [
    (np.zeros((2, 3)), "got an array of shape (2, 3)"),
    (np.zeros((1, 2, 2)), "got an array of shape (1, 2, 2)"),
    (np.zeros(0), "got an array of shape (0,)"),
    (np.zeros((0, 2)), "got an array of shape (0, 2)"),
    (np.float32(1.0), "got an array of shape ()"),
])
def test_arrays_of_the_wrong_shape_say_what_to_give(item, message):
    with pytest.raises(TaskError) as e:
        _stub().records([np.zeros(4), item], _heard([]))
    assert str(e.value) == ("input 1: give an audio file, a 1-D signal at 8000 Hz or frames "
                            f"(T, 2); {message}")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_arrays_with_nan_or_infinite_values_are_errors(bad):
    with pytest.raises(TaskError) as e:
        _stub().records([np.zeros(2), np.zeros(2), np.array([[0.0, bad]])], _heard([]))
    assert str(e.value) == "input 2: holds NaN or infinite values"


def test_a_non_numeric_input_is_an_error():
    with pytest.raises(TaskError) as e:
        _stub().records([["a", "b"]], _heard([]))
    assert re.fullmatch(r"input 0: not a file path or an array of numbers \(.+\)", str(e.value))
    assert e.value.__cause__ is None and e.value.__suppress_context__
    with pytest.raises(TaskError, match=r"^input 0: not a file path or an array of numbers"):
        _stub().records([{"a": 1}], _heard([]))


# == transcription.py: ManifestData on a stand-in config ======================================


def _at_caller(w) -> None:
    """A warning points at the caller, never transcription.py itself (under mutmut's
    trampoline, at the trampoline; outside mutmut exactly this file)."""
    assert not w.filename.endswith("transcription.py")
    if not w.filename.endswith("trampoline.py"):
        assert w.filename == __file__


def _cfg(**kw):
    base = dict(lowercase=True, split_by="auto", duration_tolerance=0.5, data=None,
                train_data=None, val_data=None, test_data=None, split_seed=0,
                test_fraction=0.1, val_fraction=0.1)
    return SimpleNamespace(**{**base, **kw})


def _utts(speakers, each=2):
    return [Utterance(Path(f"/a/{s}-{i}.wav"), "ab", None, s, f"m:{n}")
            for n, (s, i) in enumerate(((s, i) for s in speakers for i in range(each)), 1)]


def test_shown_lists_five_then_counts_the_rest():
    assert _shown(list("abcde")) == "a, b, c, d, e"
    assert _shown(list("abcdef")) == "a, b, c, d, e and 1 more"
    assert _shown(list("abcdefgh")) == "a, b, c, d, e and 3 more"
    assert _shown(list("abc"), 2) == "a, b and 1 more"


def test_error_rates_of_nothing_and_mismatched_lengths(monkeypatch):
    calls = []
    monkeypatch.setattr(tmod, "require", lambda *a: calls.append(a) or SimpleNamespace())
    assert text_error_rates([], []) == {"cer": 0.0, "wer": 0.0}
    assert calls == [("jiwer", "audio")]
    with pytest.raises(ValueError) as e:
        text_error_rates(["a"], ["a", "b"])
    assert str(e.value) == "1 references, 2 hypotheses"


def test_read_keeps_case_when_asked_and_notes_blank_lines(tmp_path):
    a = _wav(tmp_path / "a.wav", [0.0] * 8)
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"audio_filepath": str(a), "text": "Ab C"}) + "\n\n")
    with pytest.warns(UserWarning) as w:
        items = ManifestData(_cfg(lowercase=False), None).read(str(m))
    assert [u.text for u in items] == ["Ab C"]
    assert [str(x.message) for x in w] == [f"{m}: skipped 1 blank line(s) (line 2)"]
    # stacklevel 2: this line; under mutmut, whose trampoline (two frames) stands between
    # read and this test, the inner frame's, which calls read itself
    if ManifestData.read.__code__.co_filename.endswith("trampoline.py"):
        assert w[0].filename == ManifestData.read.__code__.co_filename
        assert "func(*call_args" in linecache.getline(w[0].filename, w[0].lineno)
    else:
        assert w[0].filename == __file__
    with pytest.warns(UserWarning):
        assert [u.text for u in ManifestData(_cfg(), None).read(str(m))] == ["ab c"]
    m.write_text("[1]\n")
    with pytest.raises(TaskError) as e:
        ManifestData(_cfg(), None).read(str(m))
    assert str(e.value) == (f'{m}:1: expected a JSON object {{"audio_filepath", "text", '
                            '"duration"}, got list')


def test_split_by_speaker_needs_two_speakers():
    data = ManifestData(_cfg(split_by="speaker"), None)
    with pytest.raises(TaskError) as e:
        data.split(_utts(["s1"]), 0, 0.1, "python", "test")
    assert str(e.value) == ("task.split_by = 'speaker': the test part needs a speaker of its "
                            "own, and there are 1 speaker(s) to split; give more speakers or "
                            "split_by = 'utterance'")
    rest, held = data.split(_utts(["s1", "s2"]), 0, 0.1, "python", "val")
    assert len({u.speaker for u in held}) == 1 and len(held) == 2 and len(rest) == 2
    items = _utts(["s1", "s2"]) + [Utterance(Path("/x.wav"), "a", None, None, "m:9")]
    with pytest.raises(TaskError) as e:
        data.split(items, 0, 0.1, "python", "test")
    assert str(e.value) == ("m:9: no 'speaker' key, and task.split_by = 'speaker' needs one "
                            "on every line")


@pytest.mark.parametrize("shuffle", ["python", "torch"])
def test_auto_splits_by_speaker_from_three_speakers(shuffle):
    data = ManifestData(_cfg(), None)
    items = _utts(["s1", "s2", "s3"], each=3)
    rest, held = data.split(items, 4, 0.1, shuffle, "test")
    _, (speaker,) = split_items(["s1", "s2", "s3"], 4, 1 / 3, shuffle=shuffle)
    assert held == [u for u in items if u.speaker == speaker]
    assert rest == [u for u in items if u.speaker != speaker]
    two = _utts(["s1", "s2"], each=5)  # two speakers: by utterance
    assert data.split(two, 4, 0.2, shuffle, "test") == split_items(two, 4, 0.2, shuffle=shuffle)
    mixed = _utts(["s1", "s2", "s3"]) + [Utterance(Path("/x.wav"), "a", None, None, "m:9")]
    assert data.split(mixed, 4, 0.3, shuffle, "test") == split_items(mixed, 4, 0.3,
                                                                     shuffle=shuffle)


def test_python_and_torch_shuffles_differ():
    items = _utts([f"s{i}" for i in range(10)], each=1)
    for by in ("utterance", "speaker"):
        data = ManifestData(_cfg(split_by=by), None)
        a = data.split(items, 1, 0.5, "python", "test")
        b = data.split(items, 1, 0.5, "torch", "test")
        assert a != b and len(a[1]) == len(b[1]) == 5


def _data_with(tmp_path, train_texts, test_texts, steps, tolerance=0.5, durations=None,
               alphabet=None):
    wav = _wav(tmp_path / "a.wav", np.zeros(800))  # 0.1 s
    def utt(t, i, d=None):
        return Utterance(wav, t, d, None, f"m:{i}")
    data = ManifestData(_cfg(duration_tolerance=tolerance),
                        lambda a: np.zeros((steps, 2), np.float32) + len(a), alphabet)
    durations = durations or [None] * len(test_texts)
    data.__dict__["splits"] = {"train": [utt(t, i) for i, t in enumerate(train_texts, 1)],
                               "test": [utt(t, i, d) for i, (t, d) in
                                        enumerate(zip(test_texts, durations), 1)]}
    return data


@pytest.mark.parametrize("steps, warned", [(4, True), (5, False)])
def test_too_few_steps_counts_a_blank_between_repeats(tmp_path, steps, warned):
    data = _data_with(tmp_path, ["ab"], ["aaa"], steps)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        frames, labels = data.frames_and_labels("test")
    assert labels == [[0, 0, 0]] and frames[0].shape == (steps, 2) and frames[0][0, 0] == 800
    assert [str(x.message) for x in w] == ([
        f"test: 1 utterance(s) have fewer model steps than CTC needs for their text, so they "
        f"cannot be learned (lower task.stack): m:1 ({steps} steps, 3 characters)"]
        if warned else [])
    for x in w:
        _at_caller(x)


def test_durations_and_unseen_characters_are_warned_at_the_caller(tmp_path):
    texts = ["a" + "bcdefghijkl"[:i + 1] for i in range(11)]
    data = _data_with(tmp_path, ["a"], texts, 50, tolerance=0.25,
                      durations=[0.5] + [None] * 10)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        data.frames_and_labels("test")
    assert [str(x.message) for x in w] == [
        "test: 1 utterance(s) whose 'duration' differs from the audio by more than 0.25 s "
        "(task.duration_tolerance): m:1: duration 0.5 s, the audio lasts 0.100 s",
        "test: 66 character(s) in 11 text(s) that no training text has ('b' x11, 'c' x10, "
        "'d' x9, 'e' x8, 'f' x7, 'g' x6, 'h' x5, 'i' x4, 'j' x3, 'k' x2; m:1, m:2, m:3, m:4, "
        "m:5 and 6 more): the model cannot emit them; they count as errors in cer/wer and are "
        "left out of the CTC targets"]
    for x in w:
        _at_caller(x)


# -- the padding note ------------------------------------------------------------------------
def test_sizes_are_written_with_three_digits_in_the_largest_unit_below_1000():
    from rnnkit.tasks.speech_common import _size
    assert [_size(n) for n in (999, 1000, 1000.5, 5e6, 5e9, 5e12)] == [
        "999 B", "1 kB", "1 kB", "5 MB", "5 GB", "5e+03 GB"]


def test_the_padding_note_names_recordings_over_ratio_times_the_median_and_seconds():
    from rnnkit.tasks.speech_common import padding_note

    def note(lengths, **kw):
        frames = {"train": [np.zeros((n, 1), np.float32) for n in lengths]}
        return padding_note(frames, {"train": [f"r{i}" for i in range(len(lengths))]},
                            "ADVICE", **kw)

    # median 11 frames (0.10 s): 5 times it is 55 frames, under the 2 s floor (201 frames);
    # 201 frames is at the limit (kept), 202 over it
    assert note([11] * 8 + [201, 202]) == (
        "1 recording(s) last over 5 times the median (0.10 s) and over 2 s: r9 (2.01 s, "
        "train); every recording of a part is padded to its longest, so the parts hold "
        "8.08 kB of frames, 7.24 kB without them: ADVICE")  # (10 x 202 x 4 B, 9 x 201 x 4 B)
    assert note([11] * 8 + [201]) == ""
    five, six = note([11] * 20 + [300] * 5), note([11] * 20 + [300] * 6)
    assert "r24 (2.99 s, train); every" in five
    assert "r24 (2.99 s, train) ...; every" in six


# -- transcription.py: what the re-run after segments and saved alphabets found untested ----
def test_error_rates_keep_case():
    pytest.importorskip("jiwer")
    assert text_error_rates(["Hello  world "], ["hello world"]) == {"cer": 1 / 11, "wer": 0.5}


def test_characters_a_saved_alphabet_lacks_are_named_as_such(tmp_path):
    data = _data_with(tmp_path, ["abc"], ["abc"], 50, alphabet="ab")
    with pytest.warns(UserWarning) as w:
        data.frames_and_labels("test")
    assert [str(x.message) for x in w] == [
        "test: 1 character(s) in 1 text(s) that the run's saved alphabet lacks ('c' x1; m:1): "
        "the model cannot emit them; they count as errors in cer/wer and are left out of the "
        "CTC targets"]


def test_every_segment_is_checked_after_a_whole_file_line(tmp_path):
    wav = _wav(tmp_path / "a.wav", np.zeros(800))  # 0.1 s
    items = [Utterance(wav, "a", None, None, "m:1"),
             Utterance(wav, "a", 0.5, None, "m:2", offset=0.0)]
    with pytest.raises(TaskError) as e:
        ManifestData(_cfg(duration_tolerance=0.0), None).check_segments(items)
    assert str(e.value) == (f"m:2: {wav}: the segment from 0 s lasting 0.5 s ends at 0.500 s, "
                            "beyond the end of the audio (0.100 s) by more than 0 s")
