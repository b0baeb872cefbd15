"""Value tests of rnnkit/tasks/speech_digits.py without training: stand-in FSDD recordings,
small folders of generated recordings, and a stand-in classifier whose logits are the last
frame of its input (so every prediction, count and probability is known by hand). Checked:
the config's defaults and checks, the FSDD and folder splits, the labels and their errors,
the tensors, the confusion counts, plot and report, and the predictor (found by mutation
testing, benchmarks/mutation.py)."""

from __future__ import annotations

import linecache
import struct
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

import rnnkit.tasks.confusion as cmod
import rnnkit.tasks.speech_digits as dmod
from rnnkit._optional import MissingExtraError
from rnnkit.data.audio import FEATURES, SPEAKERS, AudioError, features, read_audio
from rnnkit.data.keywords import Clip
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.datafiles import split_items
from rnnkit.tasks.speech_digits import (
    SpeechDigitsConfig,
    SpeechDigitsPredictor,
    add_report_section,
    carve,
    confusion,
    plot_confusion,
    split_clips,
    split_of,
)
from rnnkit.training.config import ModelConfig, RunConfig

TASK = TASKS["speech-digits"]


def _run(**task) -> RunConfig:
    return RunConfig(name="t", task=SpeechDigitsConfig(**task),
                     model=ModelConfig(cell="gru", hidden_size=8, bidirectional=True))


def _at_caller(w) -> None:
    """A warning points at the line that called split_clips (this file's); under mutmut the
    trampoline's two frames come in between: the inner one's line, which calls split_clips
    itself (stacklevel 3 would name the outer one's)."""
    if not split_clips.__code__.co_filename.endswith("trampoline.py"):
        assert w.filename == __file__
        assert "split_clips(" in linecache.getline(w.filename, w.lineno)
    else:
        assert w.filename == split_clips.__code__.co_filename
        assert "func(*call_args" in linecache.getline(w.filename, w.lineno)


class LastFrame(nn.Module):
    """A classifier whose logits are the first ``classes`` values (all: None) of the last
    frame of each input (B, T, F) -> (B, C): the frame at ``lengths - 1`` when lengths are
    given (padding is never read), else at T - 1."""

    def __init__(self, classes=None):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.classes, self.calls = classes, []

    def forward(self, x, lengths=None):
        self.calls.append((x.shape[0], self.training))
        last = torch.full((len(x),), x.shape[1] - 1) if lengths is None else lengths - 1
        return SimpleNamespace(logits=x[torch.arange(len(x)), last, :self.classes])

    def predict_proba(self, x):
        return torch.softmax(self(x).logits, -1)


def _wav(path: Path, freq: float, rate=16000, seconds=0.1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), rate, subtype="PCM_16")


def _folder(root: Path, layout: dict[str, list[str]]) -> Path:
    for k, (label, files) in enumerate(layout.items()):
        for i, name in enumerate(files):
            _wav(root / label / name, 300 + 200 * k + 20 * i)
    return root


# -- config, rates, the FSDD split -----------------------------------------------------------
def test_config_defaults_and_bounds():
    cfg = SpeechDigitsConfig()
    assert (cfg.name, cfg.features, cfg.sample_rate, cfg.split, cfg.test_speaker,
            cfg.val_count) == ("speech-digits", "mfcc", 0, "official", "george", 5)
    meta = {f.name: f.metadata for f in fields(cfg)}
    assert (meta["sample_rate"]["min"], meta["sample_rate"]["max"]) == (0, 192000)
    assert (meta["val_count"]["min"], meta["val_count"]["max"]) == (1, 45)
    assert meta["split"]["choices"] == ("official", "speaker")
    assert meta["test_speaker"]["choices"] == SPEAKERS
    assert meta["features"]["choices"] == tuple(FEATURES)


def test_the_sample_rate_is_the_configs_else_the_datas_usual_one(tmp_path):
    assert dmod.sample_rate(SpeechDigitsConfig()) == 8000
    assert dmod.sample_rate(SpeechDigitsConfig(data=str(tmp_path))) == 16000
    assert dmod.sample_rate(SpeechDigitsConfig(train_data=str(tmp_path))) == 16000
    assert dmod.sample_rate(SpeechDigitsConfig(sample_rate=22050)) == 22050
    assert dmod.sample_rate(SpeechDigitsConfig(sample_rate=11025, data="x")) == 11025


def test_split_of_follows_the_recording_index_and_speaker():
    def rec(index, speaker="george"):
        return SimpleNamespace(index=index, speaker=speaker)

    official = SpeechDigitsConfig(val_count=3)
    assert [split_of(rec(i), official) for i in (0, 4, 5, 7, 8, 49)] == [
        "test", "test", "val", "val", "train", "train"]
    loso = SpeechDigitsConfig(split="speaker", test_speaker="theo", val_count=2)
    assert [split_of(rec(i, "theo"), loso) for i in (0, 1, 2, 30)] == ["test"] * 4
    assert [split_of(rec(i, "lucas"), loso) for i in (0, 1, 2, 30)] == [
        "val", "val", "train", "train"]


def test_check_refuses_the_fsdd_split_and_low_rates_for_a_folder(tmp_path):
    _folder(tmp_path / "kw", {"a": ["1.wav"], "b": ["2.wav"]})
    own = {"data": str(tmp_path / "kw")}
    assert TASK.check(_run(**own)) == [] and TASK.check(_run(split="speaker")) == []
    assert TASK.check(_run(split="speaker", **own)) == [
        "task.split applies to FSDD; your folder is split by its testing_list.txt/"
        "validation_list.txt, by speaker or by task.split_seed (see the task's docs)"]
    assert TASK.check(_run(sample_rate=3999)) == [
        "task.sample_rate = 3999: too low for speech features (use 8000 or more; 0 = the "
        "data's usual rate)"]
    assert TASK.check(_run(sample_rate=4000)) == [] and TASK.check(_run(sample_rate=0)) == []


# -- the FSDD context on stand-in recordings -----------------------------------------------
def test_the_fsdd_context_reads_at_its_rate_and_frames_every_recording(monkeypatch):
    recs = [SimpleNamespace(digit=d, index=i, speaker=s) for d, i, s in (
        (3, 0, "george"), (5, 7, "lucas"), (1, 20, "theo"), (4, 3, "theo"))]
    t = np.arange(1600) / 16000
    signals = [np.sin(2 * np.pi * f * t).astype(np.float32) for f in (300, 500, 700, 900)]
    calls = []
    monkeypatch.setattr(dmod, "fsdd_signals", lambda rate: calls.append(rate) or (recs, signals))
    ctx = TASK.setup(_run(sample_rate=16000, features="logmel", split="speaker",
                          test_speaker="theo"))
    assert ctx.rate == 16000 and ctx.recordings == recs and calls == [16000]
    want = [features(s, "logmel", sample_rate=16000) for s in signals]
    for got, w in zip(ctx.features, want):
        np.testing.assert_array_equal(got, w)
    assert ctx.labels == [str(d) for d in range(10)]
    splits = ctx.splits
    assert splits["test"]["y"].tolist() == [1, 4] and splits["val"]["y"].tolist() == [3]
    assert splits["train"]["y"].tolist() == [5]
    assert splits["test"]["lengths"].tolist() == [len(want[2]), len(want[3])]
    torch.testing.assert_close(splits["val"]["x"][0], torch.from_numpy(want[0]))
    assert TASK.model_args(ctx) == {"num_classes": 10, "input_size": FEATURES["logmel"]}
    assert TASK.report_sections(ctx, LastFrame()) == []
    assert TASK.setup(_run()).rate == 8000


# -- the user's folders -------------------------------------------------------------------
def test_carve_holds_out_whole_speakers_or_files_in_their_order():
    names = [f"{lab}/{spk}_nohash_{i}.wav" for lab in ("a", "b") for spk in ("s1", "s2", "s3")
             for i in range(2)]
    clips = [Clip(Path(n), n.split("/")[0], n) for n in names]
    for shuffle in ("python", "torch"):
        rest, held = carve(clips, 4, 0.34, shuffle)
        (speaker,) = split_items(["s1", "s2", "s3"], 4, 0.34, shuffle=shuffle)[1]
        assert held == [c for c in clips if f"/{speaker}_" in c.name]
        assert rest == [c for c in clips if f"/{speaker}_" not in c.name]
    plain = [Clip(Path(f"a/{i}.wav"), "a", f"a/{i}.wav") for i in range(10)]
    rest, held = carve(plain, 2, 0.3, "torch")
    want = set(split_items([c.name for c in plain], 2, 0.3, shuffle="torch")[1])
    assert held == [c for c in plain if c.name in want] and len(held) == 3
    assert rest == [c for c in plain if c.name not in want]
    mixed = clips[:4] + plain[:2]  # not every name has a speaker: by file
    rest, held = carve(mixed, 0, 0.5, "python")
    want = set(split_items([c.name for c in mixed], 0, 0.5)[1])
    assert held == [c for c in mixed if c.name in want] and len(held) == 3
    assert carve([], 0, 0.5, "python") == ([], [])


def test_a_folder_splits_test_then_validation_with_their_own_seeds(tmp_path):
    files = [f"{i}.wav" for i in range(10)]
    root = _folder(tmp_path / "kw", {"a": files, "b": files})
    cfg = SpeechDigitsConfig(data=str(root), split_seed=3, test_fraction=0.2,
                             val_fraction=0.25)
    parts = split_clips(cfg)
    names = [f"{lab}/{f}" for lab in ("a", "b") for f in sorted(files)]
    rest, test = split_items(names, 3, 0.2, shuffle="python")
    train, val = split_items([n for n in names if n in set(rest)], 4, 0.25, shuffle="torch")
    assert [c.name for c in parts["test"]] == [n for n in names if n in set(test)]
    assert [c.name for c in parts["val"]] == [n for n in names if n in set(val)]
    assert [c.name for c in parts["train"]] == [n for n in names if n in set(train)]


def test_split_clips_reads_every_recording_by_default(tmp_path):
    root = _folder(tmp_path / "kw", {"a": ["1.wav", "2.wav", "3.wav"], "b": ["4.wav", "5.wav"]})
    (root / "a" / "2.wav").write_bytes(b"RIFF")  # truncated
    with pytest.warns(UserWarning, match=r"skipped 1 of 5 recordings that cannot be read: "
                                         r".*a/2\.wav"):
        parts = split_clips(SpeechDigitsConfig(data=str(root), test_fraction=0.25,
                                               val_fraction=0.34))
    names = sorted(c.name for part in parts.values() for c in part)
    assert names == ["a/1.wav", "a/3.wav", "b/4.wav", "b/5.wav"]


def test_separate_folders_and_a_validation_list(tmp_path):
    train = _folder(tmp_path / "train", {"a": ["1.wav", "2.wav", "3.wav"], "b": ["4.wav"]})
    test = _folder(tmp_path / "test", {"b": ["5.wav"]})
    val = _folder(tmp_path / "val", {"a": ["6.wav"]})
    parts = split_clips(SpeechDigitsConfig(train_data=str(train), test_data=str(test),
                                           val_data=str(val)))
    assert {k: [c.name for c in v] for k, v in parts.items()} == {
        "train": ["a/1.wav", "a/2.wav", "a/3.wav", "b/4.wav"], "val": ["a/6.wav"],
        "test": ["b/5.wav"]}
    carved = split_clips(SpeechDigitsConfig(train_data=str(train), test_data=str(test),
                                            val_fraction=0.25, split_seed=1))
    names = ["a/1.wav", "a/2.wav", "a/3.wav", "b/4.wav"]
    held = set(split_items(names, 2, 0.25, shuffle="torch")[1])
    assert [c.name for c in carved["val"]] == [n for n in names if n in held]
    (root := tmp_path / "lists").mkdir()
    _folder(root, {"a": ["1.wav", "2.wav", "3.wav"], "b": ["4.wav", "5.wav"]})
    (root / "validation_list.txt").write_text("b/5.wav\n")
    parts = split_clips(SpeechDigitsConfig(data=str(root), test_fraction=0.25))
    assert [c.name for c in parts["val"]] == ["b/5.wav"]
    rest = ["a/1.wav", "a/2.wav", "a/3.wav", "b/4.wav"]
    held = set(split_items(rest, 0, 0.25)[1])
    assert [c.name for c in parts["test"]] == [n for n in rest if n in held]


def test_folder_errors_say_what_to_change(tmp_path):
    root = _folder(tmp_path / "kw", {"a": ["1.wav", "2.wav"], "b": ["3.wav", "4.wav"]})
    for name in ("testing_list.txt", "validation_list.txt"):
        (root / name).write_text("a/1.wav\nb/3.wav\n")
    with pytest.raises(TaskError) as e:
        split_clips(SpeechDigitsConfig(data=str(root)))
    assert str(e.value) == (f"{root}: 'a/1.wav' (and 1 more) is named by both "
                            "validation_list.txt and testing_list.txt")
    (root / "validation_list.txt").write_text("a/2.wav\n")
    (root / "testing_list.txt").write_text("a/9.wav\n")
    with pytest.raises(TaskError) as e:
        split_clips(SpeechDigitsConfig(data=str(root)))
    assert "testing_list.txt:1: 'a/9.wav'" in str(e.value) and e.value.__cause__ is None
    (root / "testing_list.txt").write_text("a/1.wav\nb/3.wav\nb/4.wav\n")
    with pytest.raises(TaskError) as e:
        split_clips(SpeechDigitsConfig(data=str(root)))
    assert str(e.value) == (
        "the train part holds no recordings: give more recordings (or speakers), a file "
        "list, or raise task.val_fraction / task.test_fraction")
    with pytest.raises(TaskError) as e:
        split_clips(SpeechDigitsConfig(data=str(tmp_path / "none")))
    assert "none" in str(e.value) and e.value.__cause__ is None


def test_skipped_files_are_warned_at_the_caller(tmp_path):
    root = _folder(tmp_path / "kw", {"a": ["1.wav", "2.wav"], "b": ["3.wav", "4.wav"]})
    (root / "a" / "notes.txt").write_text("not audio")
    for name, held in (("testing_list.txt", "a/1.wav"), ("validation_list.txt", "b/3.wav")):
        (root / name).write_text(held + "\n")
    with pytest.warns(UserWarning) as w:
        split_clips(SpeechDigitsConfig(data=str(root)))
    (warning,) = w
    assert str(warning.message).startswith(f"{root}: skipped 1 file(s) that are not audio")
    _at_caller(warning)


def test_labels_come_from_the_training_part_and_need_two(tmp_path):
    root = _folder(tmp_path / "kw", {"b": ["1.wav", "2.wav"], "a": ["3.wav"], "c": ["4.wav"]})
    (root / "testing_list.txt").write_text("c/4.wav\n")
    (root / "validation_list.txt").write_text("b/2.wav\n")
    ctx = TASK.setup(_run(data=str(root)))
    with pytest.raises(TaskError) as e:
        _ = ctx.labels
    assert str(e.value) == (f"the test part has label(s) ['c'] with no training recording "
                            f"({root / 'c'}: 1 recording(s), none in the training part); "
                            "give training recordings of every label, or remove the folder")
    (root / "testing_list.txt").write_text("a/3.wav\n")
    with pytest.raises(TaskError) as e:
        _ = TASK.setup(_run(data=str(root))).labels
    assert str(e.value) == (f"the test part has label(s) ['a'] with no training recording "
                            f"({root / 'a'}: 1 recording(s), none in the training part); "
                            "give training recordings of every label, or remove the folder")
    (root / "testing_list.txt").write_text("b/1.wav\n")
    (root / "validation_list.txt").write_text("a/3.wav\n")
    with pytest.raises(TaskError) as e:
        _ = TASK.setup(_run(data=str(root))).labels
    assert str(e.value) == (f"the val part has label(s) ['a'] with no training recording "
                            f"({root / 'a'}: 1 recording(s), none in the training part); "
                            "give training recordings of every label, or remove the folder")


def test_one_training_label_is_refused(tmp_path):
    root = _folder(tmp_path / "kw", {"a": ["1.wav", "2.wav"], "b": ["3.wav"]})
    (root / "testing_list.txt").write_text("b/3.wav\n")
    (root / "validation_list.txt").write_text("a/2.wav\n")
    ctx = TASK.setup(_run(data=str(root)))
    ctx.clips["test"] = []  # (the test label b out of the way)
    with pytest.raises(TaskError) as e:
        _ = ctx.labels
    assert str(e.value) == ("the training part has 1 label(s) (['a']); a classifier needs "
                            "at least 2")


def test_folder_tensors_labels_report_and_an_unreadable_clip(tmp_path):
    root = _folder(tmp_path / "kw", {"yes": ["1.wav", "2.wav", "3.wav"],
                                     "no": ["4.wav", "5.wav"]})
    (root / "testing_list.txt").write_text("yes/3.wav\n")
    (root / "validation_list.txt").write_text("no/5.wav\n")
    ctx = TASK.setup(_run(data=str(root), sample_rate=11025, features="logmel"))
    assert ctx.labels == ["no", "yes"] and ctx.rate == 11025
    train = ctx.splits["train"]
    assert train["y"].tolist() == [0, 1, 1]
    want = features(read_audio(root / "yes" / "1.wav", 11025), "logmel", sample_rate=11025)
    assert int(train["lengths"][1]) == len(want)
    torch.testing.assert_close(train["x"][1, :len(want)], torch.from_numpy(want))
    assert ctx.splits["test"]["y"].tolist() == [1] and ctx.splits["val"]["y"].tolist() == [0]
    assert TASK.model_args(ctx) == {"num_classes": 2, "input_size": FEATURES["logmel"]}
    assert TASK.info(ctx, LastFrame())["labels"] == ["no", "yes"]
    assert TASK.report_sections(ctx, LastFrame()) == [
        "## Recordings per label (11025 Hz)", "", "| label | train | val | test |",
        "|---|---|---|---|", "| no | 1 | 1 | 0 |", "| yes | 2 | 0 | 1 |"]
    assert ctx.frames == {}  # read once, for the split; in the tensors now
    clip = ctx.clips["train"][0]
    assert ctx.clip_frames(clip) is ctx.clip_frames(clip)  # read again, then kept
    ctx.frames.clear()
    (root / "no" / "4.wav").write_text("not audio")
    with pytest.raises(AudioError, match=r"no/4\.wav: not a readable audio file"):
        ctx.clip_frames(clip)


# -- confusion counts, plot and report ----------------------------------------------------------
def _data(last_frames, y):
    x = torch.tensor(last_frames, dtype=torch.float32)[:, None].repeat(1, 2, 1)
    return {"x": x, "lengths": torch.full((len(y),), 2), "y": torch.tensor(y)}


def test_confusion_counts_true_against_predicted_in_batches():
    # predicted: argmax of each row's last frame: 2, 0, 2, 1, 2
    data = _data([[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]], [2, 0, 1, 1, 0])
    model = LastFrame().train()
    counts = confusion(model, data, 2, 3)
    assert counts.tolist() == [[1, 0, 1], [0, 1, 1], [0, 0, 1]]
    assert counts.dtype == np.int64 and model.training is False
    assert [n for n, _ in model.calls] == [2, 2, 1]
    assert confusion(LastFrame(), data, 8).shape == (10, 10)  # the digits by default
    ctx = TASK.setup(_run())
    ctx.cfg.train.batch_size = 2
    ctx.__dict__["labels"] = ["p", "q", "r"]
    ctx.splits = {"test": data}
    assert TASK.extra_metrics(ctx, LastFrame(), "test") == {"errors": 2.0}


def test_confusion_reads_each_recording_to_its_length_only():
    data = _data([[0, 1, 0], [0, 0, 1]], [1, 1])
    data["lengths"] = torch.tensor([1, 2])
    data["x"][0, 1] = torch.tensor([9.0, 0, 0])  # padding that would say class 0
    assert confusion(LastFrame(), data, 4, 3).tolist() == [[0, 0, 0], [0, 1, 1], [0, 0, 0]]


def test_errors_are_counted_over_more_than_ten_labels():
    ctx = TASK.setup(_run())
    ctx.__dict__["labels"] = [f"w{i}" for i in range(12)]
    ctx.splits = {"test": _data(np.eye(12)[[11, 3, 10]].tolist(), [11, 4, 10])}
    assert TASK.extra_metrics(ctx, LastFrame(), "test") == {"errors": 1.0}


def test_the_confusion_plot_writes_each_count_in_a_contrasting_colour(tmp_path, monkeypatch):
    plt = pytest.importorskip("matplotlib.pyplot")
    figures = []
    close = plt.close
    monkeypatch.setattr(plt, "close", figures.append)
    counts = np.array([[6, 0, 1], [2, 3, 0], [0, 0, 4]])
    with plt.rc_context({"savefig.dpi": 50, "image.cmap": "gray"}):
        path = plot_confusion(counts, tmp_path / "run" / "plots" / "c.png", "a title",
                              ["x", "y", "z"])
        long_names = plot_confusion(np.eye(20, dtype=int), tmp_path / "d.png", "t",
                                    [f"w{i:03d}" for i in range(20)])
    small, big = figures
    try:
        assert path == tmp_path / "run" / "plots" / "c.png"  # the folders made
        assert tuple(small.get_size_inches()) == pytest.approx((5.0, 4.5))
        width, height = struct.unpack(">II", path.read_bytes()[16:24])  # 100 dpi
        assert (width, height) == (500, 450)
        (ax,) = small.axes
        (image,) = ax.images
        assert image.get_array().tolist() == counts.tolist()
        assert image.get_cmap().name == "Blues"
        # a count above half the largest (6) in white, the others in black; zeros unwritten
        texts = {(t.get_position(), t.get_text()): t.get_color() for t in ax.texts}
        assert texts == {((0, 0), "6"): "white", ((2, 0), "1"): "black",
                         ((0, 1), "2"): "black", ((1, 1), "3"): "black",
                         ((2, 2), "4"): "white"}
        assert {(t.get_ha(), t.get_va(), t.get_fontsize()) for t in ax.texts} == {
            ("center", "center", 8)}
        assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y", "z"]
        assert list(ax.get_xticks()) == [0, 1, 2] and list(ax.get_yticks()) == [0, 1, 2]
        assert {t.get_rotation() for t in ax.get_xticklabels()} == {0}
        assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
            "predicted", "spoken", "a title")
        # many classes: 0.4 by 0.36 inch a class; names longer than 2 characters upright
        assert tuple(big.get_size_inches()) == pytest.approx((0.4 * 20, 0.36 * 20))
        assert {t.get_rotation() for t in big.axes[0].get_xticklabels()} == {90}
        assert long_names.is_file()
        assert [t.get_text() for t in big.axes[0].get_xticklabels()][:2] == ["w000", "w001"]
    finally:
        for f in figures:
            close(f)
    more = []
    monkeypatch.setattr(plt, "close", more.append)
    plot_confusion(np.eye(2, dtype=int), tmp_path / "e.png", "t")
    plot_confusion(np.eye(2, dtype=int), tmp_path / "f.png", "t", ["ab", "c"])
    plot_confusion(np.eye(2, dtype=int), tmp_path / "g.png", "t", ["abc", "d"])
    try:
        assert [t.get_text() for t in more[0].axes[0].get_xticklabels()] == ["0", "1"]
        # label names of up to two characters stay level, longer ones are turned upright
        assert [{t.get_rotation() for t in f.axes[0].get_xticklabels()} for f in more] == [
            {0}, {0}, {90}]
    finally:
        for f in more:
            close(f)


def test_confusion_plot_titles_the_accuracy_and_names_the_labels(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(cmod, "plot_confusion",
                        lambda counts, path, title, labels: drawn.append(
                            (counts.tolist(), path, title, labels)) or path)
    data = _data([[0, 0, 1], [1, 0, 0], [0, 1, 0]], [2, 1, 1])
    path = dmod.confusion_plot(LastFrame(), data, tmp_path, 2, ["a", "b", "c"])
    assert path == tmp_path / "plots" / "confusion.png"
    assert drawn[0][1:] == (path, "test: 66.67% of 3 correct", ["a", "b", "c"])
    assert drawn[0][0] == [[0, 0, 0], [1, 1, 0], [0, 0, 1]]
    ten = _data(np.eye(10)[[3, 3]].tolist(), [3, 4])
    dmod.confusion_plot(LastFrame(), ten, tmp_path)
    assert drawn[1][2:] == ("test: 50.00% of 2 correct", [str(d) for d in range(10)])
    empty = {"x": torch.zeros(0, 2, 10), "lengths": torch.zeros(0, dtype=torch.long),
             "y": torch.zeros(0, dtype=torch.long)}
    dmod.confusion_plot(LastFrame(), empty, tmp_path)
    assert drawn[2][2] == "test: 0.00% of 0 correct"
    dmod.confusion_plot(LastFrame(), _data(np.eye(10)[[5]].tolist(), [5]), tmp_path)
    assert drawn[3][2] == "test: 100.00% of 1 correct"


def test_the_report_section_is_appended_once_and_replaced(tmp_path):
    report = tmp_path / "report.md"
    add_report_section(report, ["## A", "one"])
    assert report.read_text() == f"\n\n{dmod.CONFUSION_MARK}\n## A\none\n"
    report.write_text("# Run\n\ntext\n\n\n")
    add_report_section(report, ["## A", "one"])
    add_report_section(report, ["## B"])
    assert report.read_text() == f"# Run\n\ntext\n\n{dmod.CONFUSION_MARK}\n## B\n"
    # only blank lines are trimmed: not a markdown line break (two spaces), nor letters
    for end in ("a line break  ", "TAX"):
        report.write_text(f"# Run\n\n{end}\n")
        add_report_section(report, ["## C"])
        assert report.read_text() == f"# Run\n\n{end}\n\n{dmod.CONFUSION_MARK}\n## C\n"


def test_after_training_links_the_plot_unless_matplotlib_is_missing(tmp_path, monkeypatch):
    ctx = TASK.setup(_run())
    ctx.cfg.train.batch_size = 7
    ctx.splits = {"test": _data(np.eye(10)[[1, 2]].tolist(), [1, 2])}
    calls = []

    def plot(model, data, run_dir, batch_size, labels):
        calls.append((data is ctx.splits["test"], run_dir, batch_size, labels))
        return Path(run_dir) / "plots" / "confusion.png"

    monkeypatch.setattr(dmod, "confusion_plot", plot)
    (tmp_path / "report.md").write_text("# Run\n")
    TASK.after_training(ctx, LastFrame(), tmp_path)
    assert calls == [(True, tmp_path, 7, [str(d) for d in range(10)])]
    assert (tmp_path / "report.md").read_text() == (
        f"# Run\n\n{dmod.CONFUSION_MARK}\n## Confusion matrix (test split, best checkpoint)"
        "\n\n![confusion matrix](plots/confusion.png)\n")

    def missing(*a):
        raise MissingExtraError("no matplotlib")

    monkeypatch.setattr(dmod, "confusion_plot", missing)
    (tmp_path / "report.md").write_text("# Run\n")
    TASK.after_training(ctx, LastFrame(), tmp_path)
    assert (tmp_path / "report.md").read_text() == "# Run\n"


# -- the predictor ---------------------------------------------------------------------------
def _predictor(info=None, classes=None, **task):
    ctx = TASK.setup(_run(**task))
    return SpeechDigitsPredictor(TASK, ctx, LastFrame(classes), {} if info is None else info)


def _softmax(logits):
    e = np.exp(np.asarray(logits, np.float64))
    return e / e.sum()


def test_predict_gives_the_label_its_probability_and_every_probability():
    p = _predictor({"labels": ["down", "up"]}, 2, features="logmel", sample_rate=16000)
    assert p.labels == ["down", "up"] and p.sample_rate == 16000
    assert p.width == FEATURES["logmel"]
    frames = np.zeros((3, FEATURES["logmel"]), np.float32)
    frames[-1, :2] = 0.1, 1.3
    (record,) = p.predict([frames])
    probs = _softmax([0.1, 1.3])
    assert record == {"file": None, "text": "up", "probability": round(float(probs[1]), 4),
                      "probabilities": {"down": round(float(probs[0]), 4),
                                        "up": round(float(probs[1]), 4)}}
    signal = np.sin(np.arange(3200) / 3).astype(np.float32)
    np.testing.assert_array_equal(p.frames(signal),
                                  features(signal, "logmel", sample_rate=16000))
    with pytest.raises(TaskError) as e:
        p.predict([frames], beam=3)
    assert str(e.value) == ("--beam applies to speech-ctc runs only: a speech-digits model "
                            "hears one word per recording, there is no sequence to search")


def test_the_task_builds_its_predictor_over_the_run(tmp_path):
    ctx = TASK.setup(_run())
    model = LastFrame().train()
    p = TASK.predictor(ctx, model, {"labels": ["a", "b"]}, tmp_path)
    assert isinstance(p, SpeechDigitsPredictor) and p.run_dir == tmp_path
    assert p.model is model and p.context is ctx and p.labels == ["a", "b"]
    assert p.task == "speech-digits" and model.training is False
    assert TASK.predictor(ctx, model, {}).run_dir is None


def test_without_saved_labels_a_predictor_speaks_digits():
    p = _predictor(classes=10)
    assert p.labels == [str(d) for d in range(10)] and p.sample_rate == 8000
    assert p.width == FEATURES["mfcc"]
    frames = np.zeros((2, FEATURES["mfcc"]), np.float32)
    frames[-1, 7], frames[-1, 2] = 0.123, 0.05
    (record,) = p.predict([frames], beam=None)
    probs = _softmax(frames[-1, :10])
    assert record["text"] == "7" and record["probability"] == round(float(probs[7]), 4)
    assert record["probabilities"] == {str(d): round(float(probs[d]), 4) for d in range(10)}
    assert record["probability"] != round(float(probs[7]), 3)  # four decimals, not three
