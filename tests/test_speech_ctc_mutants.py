"""Value tests of rnnkit/tasks/speech_ctc.py without training: a stand-in "model" whose
logits are a hand-made posteriorgram (so greedy and beam decodings are known by hand), FSDD
stand-in recordings (short tones, so the digit strings are synthesised in milliseconds),
and small manifests of generated audio. Checked: the config's defaults and checks, the lazy
splits, edit distance against a recursive reference, the tensors, the decodings, the
figures and report, and the predictor (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import fields
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

import rnnkit.tasks.speech_ctc as cmod
from rnnkit.data.audio import FEATURES, SAMPLE_RATE, connected_utterances, features, stack_frames
from rnnkit.models import ctc_beam_decode, ctc_greedy_decode
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.speech_ctc import (
    DIGITS,
    LazySplits,
    SpeechCTCConfig,
    SpeechCTCPredictor,
    decode,
    edit_distance,
    error_rates,
    frames_of,
    to_tensors,
)
from rnnkit.training.config import ModelConfig, RunConfig

TASK = TASKS["speech-ctc"]


def _run(seed=0, **task) -> RunConfig:
    return RunConfig(name="t", seed=seed, task=SpeechCTCConfig(**task),
                     model=ModelConfig(cell="gru", hidden_size=8, bidirectional=True))


def posteriorgram(steps: list[dict[int, float]], classes: int) -> torch.Tensor:
    """(T, C) log-probabilities: each step's given probabilities, the rest spread evenly."""
    rows = []
    for probs in steps:
        rest = (1 - sum(probs.values())) / max(classes - len(probs), 1)
        rows.append([probs.get(c, rest) for c in range(classes)])
    return torch.tensor(rows).clamp_min(1e-6).log()


# greedy: blank at each step (0.4) -> nothing; beam: class 1 gathers 1 - 0.6^3 - ... > blank's
AMBIGUOUS = [{0: 0.4, 1: 0.35, 2: 0.25}] * 3
# class 2, class 2, blank, class 2, class 3: greedy and beam -> [2, 2, 3]
CLEAR = [{2: 0.9}, {2: 0.9}, {0: 0.9}, {2: 0.9}, {3: 0.9}]
# greedy (the best path 1 2 1) -> [1, 2, 1]; a beam of 1 keeps prefix "1 2" after step 2
# (0.55 * 0.6 = 0.33), then "1 2 1" has 0.33 * 0.4 = 0.132 where "1 2" (2 repeated or a
# blank) has 0.33 * (0.3 + 0.3) = 0.198 -> [1, 2]
STEER = [{1: 0.55, 0: 0.35, 2: 0.1}, {2: 0.6, 1: 0.3, 0: 0.1}, {1: 0.4, 0: 0.3, 2: 0.3}]


class Scripted(nn.Module):
    """Every row's logits: ``steps`` (then blank) whatever the input; records each call."""

    def __init__(self, steps, classes):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.scores, self.classes, self.calls = posteriorgram(steps, classes), classes, []

    def forward(self, x, lengths=None):
        self.calls.append((tuple(x.shape), lengths.tolist(), self.training))
        B, T = x.shape[:2]
        out = posteriorgram([{0: 0.99}] * T, self.classes).repeat(B, 1, 1)
        n = min(T, len(self.scores))
        out[:, :n] = self.scores[:n]
        return SimpleNamespace(logits=out)


class Frames(nn.Module):
    """Logits = the input frames (B, T, C)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, lengths=None):
        return SimpleNamespace(logits=x)


# -- config ----------------------------------------------------------------------------------
def test_config_defaults_and_bounds():
    cfg = SpeechCTCConfig()
    assert (cfg.name, cfg.features, cfg.stack, cfg.beam_size, cfg.split_by, cfg.lowercase,
            cfg.duration_tolerance, cfg.min_digits, cfg.max_digits, cfg.train_size,
            cfg.val_size, cfg.test_size) == (
        "speech-ctc", "mfcc", 3, 8, "auto", True, 0.1, 1, 7, 6000, 300, 1000)
    meta = {f.name: f.metadata for f in fields(cfg)}
    assert {k: (meta[k]["min"], meta[k]["max"]) for k in (
        "stack", "beam_size", "duration_tolerance", "min_digits", "max_digits", "train_size",
        "val_size", "test_size")} == {
        "stack": (1, 8), "beam_size": (1, None), "duration_tolerance": (0, None),
        "min_digits": (1, None), "max_digits": (1, None), "train_size": (1, None),
        "val_size": (1, None), "test_size": (1, None)}
    assert meta["features"]["choices"] == tuple(FEATURES)
    assert meta["split_by"]["choices"] == ("auto", "speaker", "utterance")
    assert cmod.SPLIT_INDICES == {"train": range(10, 50), "val": range(5, 10),
                                  "test": range(0, 5)}


def test_check_names_digit_ranges_and_fsdd_keys_given_with_manifests(tmp_path):
    assert TASK.check(_run()) == []
    assert TASK.check(_run(min_digits=3, max_digits=3)) == []
    assert TASK.check(_run(min_digits=4, max_digits=3)) == [
        "task.min_digits = 4 > task.max_digits = 3"]
    manifest = tmp_path / "all.jsonl"
    manifest.write_text("")
    own = {"data": str(manifest)}
    assert TASK.check(_run(**own)) == []
    for key, value in (("min_digits", 2), ("max_digits", 3), ("train_size", 5),
                       ("val_size", 5), ("test_size", 5)):
        assert TASK.check(_run(**own, **{key: value})) == [
            f"task.{key}: applies to the FSDD digit strings, not to manifests"]
    assert TASK.check(_run(**own, beam_size=3, stack=2)) == []
    both = TASK.check(_run(**own, train_size=5, test_size=6))
    assert both == [f"task.{k}: applies to the FSDD digit strings, not to manifests"
                    for k in ("train_size", "test_size")]


def test_task_attributes_model_args_and_info():
    assert (TASK.name, TASK.model_class, TASK.config_class) == (
        "speech-ctc", "SequenceTagger", SpeechCTCConfig)
    assert TASK.capabilities == frozenset({"transcribe"})
    assert TASK.fixed_model_args == frozenset({"num_tags", "input_size", "loss", "blank"})
    ctx = TASK.setup(_run(features="logmel", stack=2))
    assert isinstance(ctx, cmod.SpeechCTCContext) and ctx.alphabet == "0123456789"
    assert TASK.model_args(ctx) == {"num_tags": 11, "input_size": FEATURES["logmel"] * 2,
                                    "loss": "ctc", "blank": 0}
    info = TASK.info(ctx, Frames())
    assert info["alphabet"] == list("0123456789") and info["task"]["name"] == "speech-ctc"


# -- the lazy splits -------------------------------------------------------------------------
def test_lazy_splits_make_each_split_once_on_first_use():
    made = []
    splits = LazySplits(lambda s: made.append(s) or {"name": s}, ("train", "val", "test"))
    assert len(splits) == 3 and list(splits) == ["train", "val", "test"] and made == []
    assert "val" in splits and "dev" not in splits and made == []
    assert splits["test"] == {"name": "test"} and made == ["test"]
    assert splits["test"] is splits["test"] and made == ["test"]
    assert dict(splits.items())["val"] == {"name": "val"} and made == ["test", "train", "val"]
    with pytest.raises(KeyError) as e:
        splits["dev"]
    assert e.value.args == ("dev",)
    assert made == ["test", "train", "val"]
    ctx = TASK.setup(_run())
    lazy = TASK.make_splits(ctx)
    assert isinstance(lazy, LazySplits) and list(lazy) == ["train", "val", "test"]
    assert TASK.batches(ctx) is ctx.splits  # FSDD: no jiwer needed


# -- edit distance, error rates, tensors ------------------------------------------------------
def _levenshtein(a, b):
    @cache
    def d(i, j):
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))
    return d(len(a), len(b))


def test_edit_distance_equals_a_recursive_reference():
    rng = random.Random(0)
    for _ in range(300):
        a = [rng.randrange(4) for _ in range(rng.randrange(7))]
        b = [rng.randrange(4) for _ in range(rng.randrange(7))]
        assert edit_distance(a, b) == _levenshtein(tuple(a), tuple(b)), (a, b)
    assert edit_distance([5, 6, 7], []) == 3 and edit_distance([], []) == 0


def test_error_rates_pool_edits_and_count_exact_utterances():
    hyps, refs = [[1, 2], [], [3, 3, 3]], [[1, 2], [4], [3]]
    assert error_rates(hyps, refs) == {"digit_error_rate": (0 + 1 + 2) / 4,
                                       "utterance_accuracy": 1 / 3}
    assert error_rates([[1]], [[]]) == {"digit_error_rate": 1.0, "utterance_accuracy": 0.0}
    assert error_rates([[3]], [[3]]) == {"digit_error_rate": 0.0, "utterance_accuracy": 1.0}
    assert error_rates([], []) == {"digit_error_rate": 0.0, "utterance_accuracy": 0.0}


def test_to_tensors_pads_frames_and_shifts_labels_past_the_blank():
    a, b = np.ones((2, 3), np.float32), np.full((4, 3), 2, np.float32)
    out = to_tensors([a, b], [[0, 9, 4], [2]])
    assert out["x"].shape == (2, 4, 3) and out["lengths"].tolist() == [2, 4]
    assert out["x"][0].tolist() == [[1] * 3] * 2 + [[0] * 3] * 2
    assert out["y"].tolist() == [[1, 10, 5], [3, 0, 0]] and out["y"].dtype == torch.long
    assert out["target_lengths"].tolist() == [3, 1]
    empty = to_tensors([a], [[]])  # no label at all: one padding column
    assert empty["y"].tolist() == [[0]] and empty["target_lengths"].tolist() == [0]


def test_frames_of_are_the_stacked_features_of_the_configured_kind():
    signal = np.sin(np.arange(2000) / 7).astype(np.float32)
    for kind, stack in (("mfcc", 3), ("logmel", 2), ("mfcc", 1)):
        got = frames_of(signal, SpeechCTCConfig(features=kind, stack=stack))
        np.testing.assert_array_equal(got, stack_frames(features(signal, kind), stack))
        assert got.shape[1] == FEATURES[kind] * stack


# -- decoding --------------------------------------------------------------------------------
def test_decode_is_greedy_or_a_beam_search_of_the_model_logits_less_the_blank():
    model = Scripted(AMBIGUOUS, 3).train()
    x, lengths = torch.zeros(2, 4, 1), torch.tensor([4, 2])
    assert decode(model, x, lengths) == [[], []]
    assert model.training is False and model.calls == [((2, 4, 1), [4, 2], False)]
    assert decode(model, x, lengths, beam_size=4) == [[0], [0]]  # class 1 -> label 0
    clear = Scripted(CLEAR, 4)
    assert decode(clear, torch.zeros(1, 5, 1), torch.tensor([5])) == [[1, 1, 2]]
    assert decode(clear, torch.zeros(1, 5, 1), torch.tensor([2])) == [[1]]  # the length cuts
    logits = posteriorgram(CLEAR, 4)[None]
    for beam in (1, 2):
        want = ctc_beam_decode(logits, torch.tensor([5]), beam_size=beam)
        assert decode(Frames(), logits, torch.tensor([5]), beam) == [
            [c - 1 for c in w] for w in want]
    assert ctc_greedy_decode(logits) == [[2, 2, 3]]


# -- the FSDD digit strings on stand-in recordings --------------------------------------------
def _fsdd_ctx(seed=0, **task):
    """A context over 500 stand-in recordings (digit d, index i: a tone of its own)."""
    ctx = TASK.setup(_run(seed=seed, **task))
    recs, signals = [], []
    for i, d in itertools.product(range(50), range(10)):
        recs.append(SimpleNamespace(digit=d, index=i, speaker="s"))
        t = np.arange(160 + 4 * i) / SAMPLE_RATE
        signals.append((0.3 * np.sin(2 * np.pi * (300 + 150 * d) * t)).astype(np.float32))
    ctx.__dict__["fsdd"] = (recs, signals)
    return ctx


def test_fsdd_splits_join_each_splits_own_recordings_from_a_seed_of_their_own():
    sizes = {"train": 3, "val": 2, "test": 4}
    ctx = _fsdd_ctx(seed=2, min_digits=2, max_digits=3, stack=2, train_size=3, val_size=2,
                    test_size=4)
    recs, signals = ctx.recordings, ctx.signals
    for k, (split, indices) in enumerate((("train", range(10, 50)), ("val", range(5, 10)),
                                          ("test", range(0, 5)))):
        rows = [j for j, r in enumerate(recs) if r.index in indices]
        audio, digits = connected_utterances(
            [signals[j] for j in rows], [recs[j].digit for j in rows], sizes[split],
            min_digits=2, max_digits=3, seed=2 * 10 + k)
        want = to_tensors([stack_frames(features(a), 2) for a in audio], digits)
        got = ctx.splits[split]
        assert set(got) == set(want)
        for key in want:
            assert torch.equal(got[key], want[key]), (split, key)
        assert ctx.references(split) == ["".join(map(str, d)) for d in digits]
    other = _fsdd_ctx(seed=3, min_digits=2, max_digits=3, stack=2, train_size=3, val_size=2,
                      test_size=4)
    assert ctx.references("test") != other.references("test")


# -- figures, report and transcripts ---------------------------------------------------------
def _with_test_split(ctx, refs, width=6):
    """``ctx``'s test split: one row a reference (digit strings), ``width`` steps each."""
    labels = [[int(c) for c in r] for r in refs]
    ctx.splits = {"test": to_tensors([np.zeros((width, 1), np.float32)] * len(refs), labels)}
    return ctx


def test_fsdd_figures_score_greedy_and_beam_decodings():
    ctx = _with_test_split(TASK.setup(_run(beam_size=4)), ["0", "00", "1", "0"])
    model = Scripted(AMBIGUOUS, 11)
    figures = TASK.extra_metrics(ctx, model, "test")
    # greedy hears nothing: 5 deletions of 5 digits; beam hears "0": 0 + 1 + 1 + 0 edits
    assert figures == {"digit_error_rate": 1.0, "utterance_accuracy": 0.0,
                       "digit_error_rate_beam": 2 / 5, "utterance_accuracy_beam": 2 / 4}
    assert ctx.transcripts(model, "test", 0) == [""] * 4
    assert ctx.transcripts(model, "test", 3) == ["0"] * 4


def test_greedy_figures_and_the_report_follow_the_best_path_not_a_beam_of_one():
    ctx = _with_test_split(TASK.setup(_run(beam_size=1)), ["010"])
    model = Scripted(STEER, 11)
    assert TASK.extra_metrics(ctx, model, "test") == {
        "digit_error_rate": 0.0, "utterance_accuracy": 1.0,
        "digit_error_rate_beam": 1 / 3, "utterance_accuracy_beam": 0.0}
    assert TASK.report_sections(ctx, model)[4:] == ["| 010 | 010 |"]


def test_transcripts_run_in_batches_of_the_training_batch_size():
    cfg = _run()
    cfg.train.batch_size = 3
    ctx = _with_test_split(TASK.setup(cfg), ["12", "3", "45", "6", "7"])
    model = Scripted(CLEAR, 11)
    assert ctx.transcripts(model, "test", 0) == ["112"] * 5  # classes 2, 2, 3 -> "1", "1", "2"
    assert [c[0][0] for c in model.calls] == [3, 2]


def test_the_report_lists_the_first_twelve_test_transcripts():
    refs = [str(i % 10) * (1 + i % 3) for i in range(14)]
    ctx = _with_test_split(TASK.setup(_run()), refs)
    lines = TASK.report_sections(ctx, Scripted(CLEAR, 11))
    assert lines[:4] == ["## Test transcripts (greedy decoding)", "", "| reference | heard |",
                         "|---|---|"]
    assert lines[4:] == [f"| {r} | 112 |" for r in refs[:12]]
    quiet = TASK.report_sections(ctx, Scripted(AMBIGUOUS, 11))
    assert quiet[4] == "| 0 | (nothing) |" and len(quiet) == 16


# -- manifests ---------------------------------------------------------------------------------
def _manifest(folder: Path, name: str, texts: list[str]) -> str:
    lines = []
    for i, text in enumerate(texts):
        path = folder / f"{name}-{i}.wav"
        t = np.arange(int(0.3 * SAMPLE_RATE)) / SAMPLE_RATE
        sf.write(path, 0.3 * np.sin(2 * np.pi * (400 + 100 * i) * t), SAMPLE_RATE,
                 subtype="PCM_16")
        lines.append(json.dumps({"audio_filepath": str(path), "text": text, "duration": 0.3}))
    (folder / name).write_text("\n".join(lines) + "\n")
    return str(folder / name)


@pytest.fixture
def manifests(tmp_path):
    return {"train_data": _manifest(tmp_path, "train.jsonl", ["ab", "a|b", "b"]),
            "val_data": _manifest(tmp_path, "val.jsonl", ["ba"]),
            "test_data": _manifest(tmp_path, "test.jsonl", ["ab", "zab", "b|"])}


def test_manifest_figures_are_cer_wer_and_the_unseen_characters(manifests):
    ctx = TASK.setup(_run(beam_size=2, **manifests))
    assert ctx.alphabet == "ab|"
    # greedy: nothing; beam: class 1 = "a" (refs "ab", "zab", "b|": 7 characters)
    with pytest.warns(UserWarning, match="no training text has"):
        figures = TASK.extra_metrics(ctx, Scripted(AMBIGUOUS, 4), "test")
    assert figures == pytest.approx({"cer": 1.0, "wer": 1.0, "cer_beam": (1 + 2 + 2) / 7,
                                     "wer_beam": 1.0, "unseen_chars": 1})
    assert ctx.references("test") == ["ab", "zab", "b|"]
    lines = TASK.report_sections(ctx, Scripted(CLEAR, 4))  # classes 2, 2, 3 -> "bb|"
    assert lines[4:] == [r"| ab | bb\| |", r"| zab | bb\| |", r"| b\| | bb\| |"]
    assert TASK.model_args(ctx)["num_tags"] == 4
    assert TASK.info(ctx, Frames())["alphabet"] == ["a", "b", "|"]


# -- the predictor ---------------------------------------------------------------------------
def _predictor(model, info=None, **task):
    ctx = TASK.setup(_run(**task))
    return SpeechCTCPredictor(TASK, ctx, model, {} if info is None else info)


def test_predict_decodes_with_the_runs_beam_unless_told_otherwise():
    p = _predictor(Scripted(AMBIGUOUS, 11), beam_size=3)
    width = FEATURES["mfcc"] * 3
    x = np.zeros((4, width), np.float32)
    assert p.width == width and p.alphabet == DIGITS
    assert p.predict([x]) == [{"file": None, "text": "0"}]  # the run's beam_size 3
    assert p.predict([x], beam=0) == [{"file": None, "text": ""}]  # greedy
    assert p.predict([x], beam="2") == [{"file": None, "text": "0"}]
    assert p.predict([x], beam=None) == [{"file": None, "text": "0"}]
    with pytest.raises(TaskError) as e:
        p.predict([x], beam=-1)
    assert str(e.value) == "--beam must be >= 0 (0 = greedy), got -1"


def test_the_task_builds_its_predictor_over_the_run(tmp_path):
    ctx = TASK.setup(_run())
    model = Frames().train()
    p = TASK.predictor(ctx, model, {"alphabet": ["a"]}, tmp_path)
    assert isinstance(p, SpeechCTCPredictor) and p.run_dir == tmp_path
    assert p.model is model and p.context is ctx and p.alphabet == ["a"]
    assert p.task == "speech-ctc" and model.training is False
    assert TASK.predictor(ctx, model, {}).run_dir is None


def test_predict_speaks_the_runs_alphabet_from_the_stacked_frames():
    model = Scripted(CLEAR, 4)
    p = _predictor(model, {"alphabet": list("xy z")}, features="logmel", stack=2)
    assert p.width == FEATURES["logmel"] * 2 and p.alphabet == list("xy z")
    signal = np.sin(np.arange(1600) / 5).astype(np.float32)
    np.testing.assert_array_equal(p.frames(signal), frames_of(signal, p.config.task))
    (from_signal,) = p.predict([signal], beam=0)
    assert from_signal == {"file": None, "text": "yy"}  # classes 2, 2, 3 (" " stripped)
    steps = len(frames_of(signal, p.config.task))
    assert model.calls[-1] == ((1, steps, FEATURES["logmel"] * 2), [steps], False)
    with pytest.raises(TaskError, match=rf"frames \(T, {FEATURES['logmel'] * 2}\)"):
        p.predict([np.zeros((3, FEATURES["logmel"]))])
