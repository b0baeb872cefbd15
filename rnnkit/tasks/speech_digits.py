"""Spoken keywords (isolated words): spoken digits on the Free Spoken Digit Dataset, or a
folder of the user's recordings with one folder per label (the Speech Commands layout).

A bidirectional recurrent :class:`~rnnkit.models.SequenceClassifier` over MFCC (+ deltas)
or log-mel frames (``task.features``, :mod:`rnnkit.data.audio`), one class per label.

Data (:mod:`rnnkit.tasks.datafiles`): ``task.data`` names a root folder holding
``<label>/*.wav`` (also .flac, .ogg, .opus, .mp3, .aiff) for any labels — the folder
names, sorted, are the classes, in Unicode NFC (a macOS "café" is the same label);
``_background_noise_``, ``__MACOSX`` and hidden folders are not labels
(:mod:`rnnkit.data.keywords`). Or ``task.train_data``/``val_data``/``test_data`` name one
such root each. Recordings are read mono (channels averaged) and resampled to
``task.sample_rate`` (0 = the data's usual rate: 16 kHz for a user folder, 8 kHz for
FSDD); one that cannot be read (truncated, empty, not audio) is left out, as if it were
not there, and named in one warning a folder; a label with no readable recording is an
error. The split of ``task.data``, in this order of precedence:

1. ``testing_list.txt`` / ``validation_list.txt`` in the root (Speech Commands' files:
   paths relative to the root, one a line) name the test / validation recordings, the
   rest train; a part without its list is carved from the rest as in 2 or 3;
2. when every file is named ``<speaker>_nohash_<n>.<ext>`` (Speech Commands), by speaker:
   a seeded ``test_fraction`` of the speakers is the test part, ``val_fraction`` of the
   remaining speakers validation, so no voice is in two parts;
3. otherwise by file, seeded (``split_seed``, ``test_fraction``, ``val_fraction``).

FSDD (no data named): ``split = "official"``: recordings with index 0..4 are the test set
(300), the next ``val_count`` indices (5..9) validation, the rest training;
``split = "speaker"``: leave one speaker out, ``test_speaker``'s 500 recordings are the
test set; validation is index 0..``val_count``-1 of the other speakers.

``evaluate`` reports ``accuracy`` (and ``errors``); when training ends,
:meth:`SpeechDigitsTask.after_training` draws the test confusion matrix into the run's
``plots/confusion.png`` and links it from ``report.md``.

Predictor: ``predict(files or arrays)`` -> ``{"file", "text": the label, "probability",
"probabilities": {label: p}}`` per input (``rnnkit transcribe RUN FILE.wav``). A recording
holds one word, so there is nothing to search: ``beam`` is refused.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._optional import MissingExtraError
from ..data.audio import (
    FEATURES,
    SAMPLE_RATE,
    SPEAKERS,
    USER_SAMPLE_RATE,
    feature_spec,
    features,
    read_audio,
)
from ..data.datasets import DataError
from ..data.keywords import Clip, Scan, file_lists, keep_readable, scan_labels, speaker_of
from ..training.config import TaskConfig, choice, number
from .base import SPLITS, Task, TaskError, register
from .confusion import (  # noqa: F401 (kept importable from here)
    CONFUSION_MARK,
    DIGITS,
    add_report_section,
    confusion,
    confusion_plot,
    plot_confusion,
)
from .datafiles import DataFilesConfig, data_errors, split_items, uses_own_data
from .saved_labels import known_classes, saved_labels
from .speech_common import FSDDContext, SpeechPredictor, fsdd_signals, pad, padding_note


@dataclass
class SpeechDigitsConfig(DataFilesConfig, TaskConfig):
    name: str = "speech-digits"
    features: str = choice("mfcc", *FEATURES)
    sample_rate: int = number(0, 0, 192000)  # Hz; 0 = 16000 for your folder, 8000 for FSDD
    split: str = choice("official", "official", "speaker")  # FSDD only
    test_speaker: str = choice("george", *SPEAKERS)  # FSDD, split = "speaker"
    val_count: int = number(5, 1, 45)  # FSDD: recording indices per digit/speaker for val


def sample_rate(cfg: SpeechDigitsConfig) -> int:
    """The rate (Hz) a run reads its audio at."""
    return cfg.sample_rate or (USER_SAMPLE_RATE if uses_own_data(cfg) else SAMPLE_RATE)


def split_of(rec, cfg: SpeechDigitsConfig) -> str:
    """Which split an FSDD recording belongs to under ``cfg``."""
    if cfg.split == "speaker":
        if rec.speaker == cfg.test_speaker:
            return "test"
        return "val" if rec.index < cfg.val_count else "train"
    if rec.index < 5:
        return "test"
    return "val" if rec.index < 5 + cfg.val_count else "train"


def carve(clips: list[Clip], seed: int, fraction: float, shuffle: str
          ) -> tuple[list[Clip], list[Clip]]:
    """(rest, held out): by speaker when every name is ``<speaker>_nohash_<n>``, else by
    file; both keep the order of ``clips``."""
    speakers = [speaker_of(c.name) for c in clips]
    if clips and all(speakers):
        _, held = split_items(sorted(set(speakers)), seed, fraction, shuffle=shuffle)
        out = set(held)
    else:
        _, held = split_items(clips, seed, fraction, shuffle=shuffle)
        out, speakers = {c.name for c in held}, [c.name for c in clips]
    return ([c for c, s in zip(clips, speakers) if s not in out],
            [c for c, s in zip(clips, speakers) if s in out])


def read_clips(root: str | Path, read: Callable[[Clip], object]) -> Scan:
    """The recordings of ``root`` that ``read`` can read (:func:`scan_labels`, then
    :func:`keep_readable`); a folder's errors are TaskErrors."""
    try:
        return keep_readable(scan_labels(root), root, read)
    except DataError as e:
        raise TaskError(str(e)) from None


def split_clips(cfg: SpeechDigitsConfig, read: Callable[[Clip], object] | None = None
                ) -> dict[str, list[Clip]]:
    """``train``/``val``/``test`` recordings of the user's folder(s) (module docstring).

    Every recording is read first, by ``read`` (default: its audio, read and dropped): one
    that cannot be read is left out as if it were not there (a list file naming it too),
    and one warning a folder names the files skipped; a label left with no readable
    recording, or a folder with none, is an error (:func:`keep_readable`)."""
    seed = cfg.split_seed
    read = read or (lambda clip: read_audio(clip.path))  # (readable at any rate)
    roots = [cfg.data] if cfg.data else [cfg.train_data, cfg.test_data, cfg.val_data]
    scans = {root: read_clips(root, read) for root in roots if root}
    unlisted: list[str] = []
    if not cfg.data:
        rest, test = scans[cfg.train_data].clips, scans[cfg.test_data].clips
        named = {"val": scans[cfg.val_data].clips} if cfg.val_data else {}
    else:
        try:
            named, unlisted = file_lists(Path(cfg.data), scans[cfg.data])
        except DataError as e:
            raise TaskError(str(e)) from None
        listed = {c.name for part in named.values() for c in part}
        rest = [c for c in scans[cfg.data].clips if c.name not in listed]
        rest, test = (rest, named["test"]) if "test" in named else carve(
            rest, seed, cfg.test_fraction, "python")
    for root, scan in scans.items():
        if note := scan.note(Path(root), unlisted if root == cfg.data else ()):
            warnings.warn(note, stacklevel=2)
    rest, val = (rest, named["val"]) if "val" in named else carve(
        rest, seed + 1, cfg.val_fraction, "torch")
    parts = {"train": rest, "val": val, "test": test}
    for split, part in parts.items():
        if not part:
            raise TaskError(f"the {split} part holds no recordings: give more recordings "
                            "(or speakers), a file list, or raise task.val_fraction / "
                            "task.test_fraction")
    return parts


class SpeechDigitsContext(FSDDContext):
    @property
    def rate(self) -> int:
        return sample_rate(self.task_cfg)

    @cached_property
    def fsdd(self):
        return fsdd_signals(self.rate)

    @cached_property
    def features(self) -> list[np.ndarray]:
        """Every FSDD recording's frames (T, F) of kind ``task.features``."""
        return [features(s, self.task_cfg.features, sample_rate=self.rate)
                for s in self.signals]

    @cached_property
    def frames(self) -> dict[Path, np.ndarray]:
        """The user's recordings' frames (T, F) by path, kept as :attr:`clips` reads them
        until :meth:`SpeechDigitsTask.make_splits` has them in its tensors."""
        return {}

    @cached_property
    def clips(self) -> dict[str, list[Clip]]:
        """The user's recordings by split: every one read (:meth:`clip_frames`) and those
        that cannot be read skipped (:func:`split_clips`); a trained run's own labels only."""
        clips, saved = split_clips(self.task_cfg, self.clip_frames), saved_labels(self.saved)
        return clips if saved is None else known_classes(clips, saved, lambda c: c.label,
                                                         "recording(s)")

    @cached_property
    def labels(self) -> list[str]:
        """The class names: the training part's labels, sorted (FSDD: "0".."9"), or a
        trained run's own (``saved``: its model's outputs, whatever the folders hold now)."""
        if not uses_own_data(self.task_cfg):
            return DIGITS
        if (saved := saved_labels(self.saved)) is not None:
            return saved
        names = sorted({c.label for c in self.clips["train"]})
        for split in ("val", "test"):
            unseen = sorted({c.label for c in self.clips[split]} - set(names))
            if unseen:
                folder = next(c.path.parent for c in self.clips[split] if c.label == unseen[0])
                count = sum(c.label == unseen[0] for part in self.clips.values() for c in part)
                raise TaskError(f"the {split} part has label(s) {unseen} with no training "
                                f"recording ({folder}: {count} recording(s), none in the "
                                "training part); give training recordings of every label, "
                                "or remove the folder")
        if len(names) < 2:
            raise TaskError(f"the training part has {len(names)} label(s) ({names}); a "
                            "classifier needs at least 2")
        return names

    def clip_frames(self, clip: Clip) -> np.ndarray:
        """A recording's frames (T, F) at the run's rate, read once (:attr:`frames`); a file
        that cannot be read is an :class:`~rnnkit.data.audio.AudioError` naming it."""
        if clip.path not in self.frames:
            signal = read_audio(clip.path, self.rate)
            self.frames[clip.path] = features(signal, self.task_cfg.features,
                                              sample_rate=self.rate)
        return self.frames[clip.path]


class SpeechDigitsTask(Task):
    name = "speech-digits"
    config_class = SpeechDigitsConfig
    model_class = "SequenceClassifier"
    context_class = SpeechDigitsContext
    capabilities = frozenset({"transcribe"})
    fixed_model_args = frozenset({"num_classes", "input_size"})

    def check(self, cfg) -> list[str]:
        t = cfg.task
        errors = super().check(cfg) + data_errors(t)
        if uses_own_data(t) and t.split != "official":
            errors.append("task.split applies to FSDD; your folder is split by its "
                          "testing_list.txt/validation_list.txt, by speaker or by "
                          "task.split_seed (see the task's docs)")
        if t.sample_rate and t.sample_rate < 4000:
            errors.append(f"task.sample_rate = {t.sample_rate}: too low for speech features "
                          "(use 8000 or more; 0 = the data's usual rate)")
        return errors

    def make_splits(self, ctx: SpeechDigitsContext):
        if uses_own_data(ctx.task_cfg):
            frames = {split: [ctx.clip_frames(c) for c in ctx.clips[split]] for split in SPLITS}
            names = {split: [str(c.path) for c in ctx.clips[split]] for split in SPLITS}
            if note := padding_note(frames, names, "a keyword recording holds one word; trim "
                                    "or remove them"):
                warnings.warn(note, stacklevel=2)
            out = {}
            for split in SPLITS:
                clips = ctx.clips[split]
                x, lengths = pad(frames[split])
                out[split] = {"x": x, "lengths": lengths,
                              "y": torch.tensor([ctx.labels.index(c.label) for c in clips])}
            ctx.frames.clear()  # in the tensors now
            return out
        recs, feats = ctx.recordings, ctx.features
        out = {}
        for split in SPLITS:
            rows = [i for i, r in enumerate(recs) if split_of(r, ctx.task_cfg) == split]
            x, lengths = pad([feats[i] for i in rows])
            out[split] = {"x": x, "lengths": lengths,
                          "y": torch.tensor([recs[i].digit for i in rows])}
        return out

    def model_args(self, ctx) -> dict[str, Any]:
        return {"num_classes": len(ctx.labels), "input_size": FEATURES[ctx.task_cfg.features]}

    def info(self, ctx, model):
        return {**super().info(ctx, model), "labels": list(ctx.labels),
                "audio": feature_spec(ctx.task_cfg.features, ctx.rate)}

    def extra_metrics(self, ctx, model, split):
        counts = confusion(model, self.batches(ctx)[split], ctx.cfg.train.batch_size,
                           len(ctx.labels))
        return {"errors": float(counts.sum() - np.trace(counts))}

    def report_sections(self, ctx, model) -> list[str]:
        """With the user's folder: recordings per label and split."""
        if not uses_own_data(ctx.task_cfg):
            return []
        lines = [f"## Recordings per label ({sample_rate(ctx.task_cfg)} Hz)", "",
                 "| label | train | val | test |", "|---|---|---|---|"]
        for label in ctx.labels:
            n = [sum(c.label == label for c in ctx.clips[s]) for s in SPLITS]
            lines.append(f"| {label} | {n[0]} | {n[1]} | {n[2]} |")
        return lines

    def after_training(self, ctx, model, run_dir) -> None:
        """plots/confusion.png (the best checkpoint on the test split), linked from
        report.md; skipped without matplotlib, like the other plots."""
        try:
            path = confusion_plot(model, self.batches(ctx)["test"], run_dir,
                                  ctx.cfg.train.batch_size, ctx.labels)
        except MissingExtraError:
            return
        add_report_section(Path(run_dir) / "report.md",
                           ["## Confusion matrix (test split, best checkpoint)", "",
                            f"![confusion matrix](plots/{path.name})"])

    def predictor(self, ctx, model, info, run_dir=None):
        return SpeechDigitsPredictor(self, ctx, model, info, run_dir)


class SpeechDigitsPredictor(SpeechPredictor):
    """Record: ``{"file", "text": the label, "probability", "probabilities": {label: p}}``
    (``probability``: the model's probability of that label), or ``{"file", "error"}``.
    Audio files are resampled to the run's sample rate."""

    @property
    def labels(self) -> list[str]:
        return self.info.get("labels") or DIGITS

    @property
    def sample_rate(self) -> int:
        return sample_rate(self.config.task)

    @property
    def width(self) -> int:
        return FEATURES[self.config.task.features]

    def frames(self, signal: np.ndarray) -> np.ndarray:
        return features(signal, self.config.task.features, sample_rate=self.sample_rate)

    def predict(self, inputs, beam: int | None = None, **options) -> list[dict[str, Any]]:
        if beam is not None:
            raise TaskError("--beam applies to speech-ctc runs only: a speech-digits model "
                            "hears one word per recording, there is no sequence to search")
        labels = self.labels

        def heard(x: torch.Tensor) -> dict[str, Any]:
            probs = self.model.predict_proba(x)[0]  # (C,)
            k = int(probs.argmax())
            return {"text": labels[k], "probability": round(float(probs[k]), 4),
                    "probabilities": {name: round(float(p), 4)
                                      for name, p in zip(labels, probs)}}

        return self.records(inputs, heard)


register(SpeechDigitsTask())
