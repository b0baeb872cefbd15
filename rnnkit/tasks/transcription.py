"""Transcription on the user's manifests (task ``speech-ctc``): the splits, the character
alphabet, the audio of each split, and character / word error rates.

    data = ManifestData(task_cfg, frames)   # frames(signal) -> (T, F) model inputs
    data.splits["test"]                     # [Utterance], texts normalised
    data.alphabet                           # the training texts' characters, sorted (or
                                            # a trained run's own, given as alphabet=)
    data.frames_and_labels("test")          # audio read and framed, texts as indices
    text_error_rates(refs, hyps)            # {"cer", "wer"} over a corpus (jiwer)
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable
from functools import cached_property

import numpy as np

from .._optional import require
from ..data.audio import SAMPLE_RATE, AudioError, audio_frames, read_audio, segment_samples
from ..data.datasets import DataError
from ..data.manifests import Utterance, check_duration, normalize_text, read_manifest
from .base import TaskError
from .datafiles import split_items


def text_error_rates(refs: list[str], hyps: list[str]) -> dict[str, float]:
    """``cer`` and ``wer``: the edits (substitutions + deletions + insertions) that turn the
    hypotheses into the references, over the references' characters / words (all of the
    corpus at once, not an average of per-utterance rates). Both are first normalised as a
    manifest's texts are (:func:`~rnnkit.data.manifests.normalize_text`, case kept: NFC,
    white-space runs made one space, stripped), so a double or trailing space a CTC model
    emits is no error. Words are split at white space; a space is a character. An empty
    reference counts its hypothesis's length as edits over no characters (the corpus total
    stays finite while some reference is not empty). Computed by ``jiwer`` (the ``audio``
    extra)."""
    jiwer = require("jiwer", "audio")
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references, {len(hyps)} hypotheses")
    if not refs:
        return {"cer": 0.0, "wer": 0.0}
    refs = [normalize_text(r, lowercase=False) for r in refs]
    hyps = [normalize_text(h, lowercase=False) for h in hyps]
    return {"cer": float(jiwer.process_characters(refs, hyps).cer),
            "wer": float(jiwer.process_words(refs, hyps).wer)}


def overlapping(train: list[Utterance], test: list[Utterance]) -> set:
    """The audio files of which the test part holds a stretch that training also holds (the
    same file whole, or overlapping segments of it; disjoint segments of one recording are
    not the same audio)."""
    spans: dict = {}
    for u in train:
        spans.setdefault(u.audio, []).append(u.span)
    return {u.audio for u in test
            if any(a < u.span[1] and u.span[0] < b for a, b in spans.get(u.audio, ()))}


def _shown(lines: list[str], k: int = 5) -> str:
    return ", ".join(lines[:k]) + (f" and {len(lines) - k} more" if len(lines) > k else "")


class ManifestData:
    """The splits of a task config's manifests (:class:`~rnnkit.tasks.datafiles.
    DataFilesConfig` fields, plus ``split_by``, ``lowercase``, ``duration_tolerance``).
    ``alphabet``: a trained run's own (its model.json), not fitted again from the texts."""

    def __init__(self, cfg, frames: Callable[[np.ndarray], np.ndarray],
                 alphabet: str | None = None):
        self.cfg, self.frames, self.saved_alphabet = cfg, frames, alphabet

    # -- texts -----------------------------------------------------------------------------
    def read(self, path: str) -> list[Utterance]:
        try:
            manifest = read_manifest(path, self.cfg.lowercase)
        except DataError as e:
            raise TaskError(str(e)) from None
        if manifest.note():
            warnings.warn(manifest.note(), stacklevel=2)
        return manifest.items

    @cached_property
    def splits(self) -> dict[str, list[Utterance]]:
        """``train``/``val``/``test`` utterances, deterministic given ``split_seed``."""
        cfg = self.cfg
        if cfg.data:
            train, test = self.split(self.read(cfg.data), cfg.split_seed, cfg.test_fraction,
                                     "python", "test")
        else:
            train, test = self.read(cfg.train_data), self.read(cfg.test_data)
        if cfg.val_data:
            val = self.read(cfg.val_data)
        else:
            train, val = self.split(train, cfg.split_seed + 1, cfg.val_fraction, "torch", "val")
        for split, items in (("train", train), ("val", val), ("test", test)):
            if not items:
                raise TaskError(f"the {split} part holds no utterances: give more data, or "
                                "raise task.val_fraction / task.test_fraction")
        self.check_segments(train + val + test)
        leaked = overlapping(train, test)
        if leaked:
            warnings.warn(f"{len(leaked)} audio file(s) are both in the training and the test "
                          f"part (e.g. {sorted(leaked)[0]}): the test figures flatter the "
                          "model", stacklevel=1)
        return {"train": train, "val": val, "test": test}

    def check_segments(self, items: list[Utterance]) -> None:
        """Each segment (a line with an ``offset``) within its file, by the file's header:
        an error naming the line now, not when its part's audio is read (the test part's
        after training)."""
        sizes: dict = {}
        for u in items:
            if u.offset is None:
                continue
            try:
                if u.audio not in sizes:
                    sizes[u.audio] = audio_frames(u.audio)
                segment_samples(u.audio, *sizes[u.audio], u.offset, u.duration,
                                self.cfg.duration_tolerance)
            except AudioError as e:
                raise TaskError(f"{u.where}: {e}") from None

    def split(self, items: list[Utterance], seed: int, fraction: float, shuffle: str,
              part: str) -> tuple[list[Utterance], list[Utterance]]:
        """(rest, held out): by speaker (whole speakers held out, at least one) or by
        utterance, as ``split_by`` says."""
        by = self.cfg.split_by
        named = all(u.speaker is not None for u in items)
        speakers = sorted({u.speaker for u in items}) if named else []
        if by == "speaker":
            if not named:
                where = next(u.where for u in items if u.speaker is None)
                raise TaskError(f"{where}: no 'speaker' key, and task.split_by = 'speaker' "
                                "needs one on every line")
            if len(speakers) < 2:
                raise TaskError(f"task.split_by = 'speaker': the {part} part needs a speaker "
                                f"of its own, and there are {len(speakers)} speaker(s) to "
                                "split; give more speakers or split_by = 'utterance'")
        if by == "utterance" or (by == "auto" and len(speakers) < 3):
            return split_items(items, seed, fraction, shuffle=shuffle)
        rest, held = split_items(speakers, seed, max(fraction, 1 / len(speakers)),
                                 shuffle=shuffle)
        held_set = set(held)
        return ([u for u in items if u.speaker not in held_set],
                [u for u in items if u.speaker in held_set])

    @cached_property
    def alphabet(self) -> str:
        """The characters of the training texts, sorted (class i + 1 is ``alphabet[i]``),
        or the run's saved one."""
        if self.saved_alphabet is not None:
            return self.saved_alphabet
        return "".join(sorted({c for u in self.splits["train"] for c in u.text}))

    def unseen(self, split: str) -> tuple[Counter, list[str]]:
        """Characters of the split's texts that the alphabet lacks (no training text has
        them) (counts) and the lines holding them."""
        known = set(self.alphabet)
        counts: Counter = Counter()
        lines = []
        for u in self.splits[split]:
            missing = [c for c in u.text if c not in known]
            if missing:
                counts.update(missing)
                lines.append(u.where)
        return counts, lines

    def unseen_count(self, split: str) -> int:
        return sum(self.unseen(split)[0].values())

    # -- audio -----------------------------------------------------------------------------
    def frames_and_labels(self, split: str) -> tuple[list[np.ndarray], list[list[int]]]:
        """The split's audio as model-input frames, and its texts as indices into the
        alphabet (characters it lacks left out, and reported)."""
        index = {c: i for i, c in enumerate(self.alphabet)}
        frames, labels, off, short = [], [], [], []
        for u in self.splits[split]:
            try:
                audio = read_audio(u.audio, SAMPLE_RATE, offset=u.offset, duration=u.duration,
                                   tolerance=self.cfg.duration_tolerance)
            except AudioError as e:
                raise TaskError(f"{u.where}: {e}") from None
            message = check_duration(u, len(audio) / SAMPLE_RATE, self.cfg.duration_tolerance)
            if message:
                off.append(message)
            f = self.frames(audio)
            ids = [index[c] for c in u.text if c in index]
            if len(f) < len(ids) + sum(a == b for a, b in zip(ids, ids[1:])):
                short.append(f"{u.where} ({len(f)} steps, {len(u.text)} characters)")
            frames.append(f)
            labels.append(ids)
        self._warn(split, off, short)
        return frames, labels

    def _warn(self, split: str, off: list[str], short: list[str]) -> None:
        if off:
            warnings.warn(f"{split}: {len(off)} utterance(s) whose 'duration' differs from the "
                          f"audio by more than {self.cfg.duration_tolerance:g} s "
                          f"(task.duration_tolerance): {_shown(off)}", stacklevel=3)
        if short:
            warnings.warn(f"{split}: {len(short)} utterance(s) have fewer model steps than "
                          f"CTC needs for their text, so they cannot be learned (lower "
                          f"task.stack): {_shown(short)}", stacklevel=3)
        counts, lines = self.unseen(split)
        if counts:
            chars = ", ".join(f"{c!r} x{n}" for c, n in counts.most_common(10))
            lacking = ("the run's saved alphabet lacks" if self.saved_alphabet is not None
                       else "no training text has")
            warnings.warn(f"{split}: {sum(counts.values())} character(s) in {len(lines)} text(s) "
                          f"that {lacking} ({chars}; {_shown(lines)}): the model "
                          "cannot emit them; they count as errors in cer/wer and are left out "
                          "of the CTC targets", stacklevel=3)

