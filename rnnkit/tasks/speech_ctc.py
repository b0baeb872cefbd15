"""Connected-digit recognition with CTC: digit strings spoken without alignment.

Utterances of ``min_digits``..``max_digits`` digits are made by joining FSDD recordings of
one split with short random silences (:func:`~rnnkit.data.audio.connected_utterances`):
training utterances from recording indices 10..49, validation from 5..9, test from the
official test recordings 0..4, all six speakers. A bidirectional
:class:`~rnnkit.models.SequenceTagger` with ``loss = "ctc"`` reads MFCC (+ deltas) frames,
``stack`` of them concatenated per step (a lower frame rate: fewer steps to run through,
still several per spoken digit as CTC needs); classes are blank (0) and the digits 0..9
(1..10).

``evaluate`` reports ``digit_error_rate`` (edit distance / reference length, summed over the
split) and ``utterance_accuracy`` for greedy (best-path) decoding, and the same with
``_beam`` for prefix beam search of width ``beam_size``, which sums the probability of
every alignment of a digit string instead of following the single best path.

Predictor: ``predict(files or arrays, beam=None)`` -> ``{"file", "text": the digit
string}`` per input (``rnnkit transcribe RUN FILE.wav [--beam N]``); ``beam`` None decodes
with ``task.beam_size``, 0 greedily.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data.audio import FEATURES, connected_utterances, features, stack_frames
from ..data.batches import batches
from ..models.ctc_beam import ctc_beam_decode
from ..models.tagger import ctc_greedy_decode
from ..training.config import TaskConfig, choice, number
from .base import SPLITS, Task, TaskError, register
from .speech_common import FSDDContext, SpeechPredictor, pad

SPLIT_INDICES = {"train": range(10, 50), "val": range(5, 10), "test": range(0, 5)}


@dataclass
class SpeechCTCConfig(TaskConfig):
    name: str = "speech-ctc"
    features: str = choice("mfcc", *FEATURES)
    stack: int = number(3, 1, 8)  # frames concatenated per model step
    min_digits: int = number(1, 1)
    max_digits: int = number(7, 1)
    train_size: int = number(6000, 1)  # utterances
    val_size: int = number(300, 1)
    test_size: int = number(1000, 1)
    beam_size: int = number(8, 1)  # evaluation's `_beam` figures and transcribe's default


class LazySplits(Mapping):
    """``{split: data}`` whose values are built by ``make(split)`` on first access (so
    evaluating the test split does not synthesise the training utterances)."""

    def __init__(self, make: Callable[[str], dict], names: tuple[str, ...]):
        self._make, self._names, self._done = make, names, {}

    def __getitem__(self, split: str) -> dict:
        if split not in self._names:
            raise KeyError(split)
        if split not in self._done:
            self._done[split] = self._make(split)
        return self._done[split]

    def __contains__(self, split: object) -> bool:
        return split in self._names

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def edit_distance(a: list[int], b: list[int]) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two sequences."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def error_rates(hyps: list[list[int]], refs: list[list[int]]) -> dict[str, float]:
    """``digit_error_rate`` (total edits / total reference digits), ``utterance_accuracy``."""
    edits = sum(edit_distance(h, r) for h, r in zip(hyps, refs))
    digits = sum(len(r) for r in refs)
    exact = sum(h == r for h, r in zip(hyps, refs))
    return {"digit_error_rate": edits / max(digits, 1),
            "utterance_accuracy": exact / max(len(refs), 1)}


def frames_of(audio: np.ndarray, cfg: SpeechCTCConfig) -> np.ndarray:
    """A signal's model-input frames: features of kind ``cfg.features``, ``cfg.stack`` per
    step."""
    return stack_frames(features(audio, cfg.features), cfg.stack)


def to_tensors(frame_lists: list[np.ndarray], digits: list[list[int]]
               ) -> dict[str, torch.Tensor]:
    """Utterances' frames and digits -> ``x``, ``lengths``, ``y`` (digits + 1, class 0 is
    the CTC blank) and ``target_lengths``."""
    x, lengths = pad(frame_lists)
    y = torch.zeros(len(digits), max(len(d) for d in digits), dtype=torch.long)
    for i, d in enumerate(digits):
        y[i, :len(d)] = torch.tensor(d) + 1
    return {"x": x, "lengths": lengths, "y": y,
            "target_lengths": torch.tensor([len(d) for d in digits])}


@torch.no_grad()
def decode(model, x: torch.Tensor, lengths: torch.Tensor, beam_size: int = 0
           ) -> list[list[int]]:
    """Digit sequences (0..9) of frames ``x`` (B, T, F): greedy, or prefix beam search of
    width ``beam_size`` when it is > 0."""
    model.eval()
    logits = model(x.to(next(model.parameters()).device), lengths).logits.cpu()
    if beam_size:
        labels = ctc_beam_decode(logits, lengths, beam_size=beam_size, blank=0)
    else:
        labels = ctc_greedy_decode(logits, lengths, blank=0)
    return [[c - 1 for c in seq] for seq in labels]


class SpeechCTCContext(FSDDContext):
    def utterances(self, split: str) -> dict[str, torch.Tensor]:
        """One split's synthetic utterances as tensors (seeded by the run's seed)."""
        cfg, recs, signals = self.task_cfg, self.recordings, self.signals
        size = {"train": cfg.train_size, "val": cfg.val_size, "test": cfg.test_size}[split]
        rows = [j for j, r in enumerate(recs) if r.index in SPLIT_INDICES[split]]
        audio, digits = connected_utterances(
            [signals[j] for j in rows], [recs[j].digit for j in rows], size,
            min_digits=cfg.min_digits, max_digits=cfg.max_digits,
            seed=self.cfg.seed * 10 + SPLITS.index(split))
        return to_tensors([frames_of(a, cfg) for a in audio], digits)


class SpeechCTCTask(Task):
    name = "speech-ctc"
    config_class = SpeechCTCConfig
    model_class = "SequenceTagger"
    context_class = SpeechCTCContext
    capabilities = frozenset({"transcribe"})
    fixed_model_args = frozenset({"num_tags", "input_size", "loss", "blank"})

    def check(self, cfg) -> list[str]:
        errors = super().check(cfg)
        if cfg.task.min_digits > cfg.task.max_digits:
            errors.append(f"task.min_digits = {cfg.task.min_digits} > task.max_digits = "
                          f"{cfg.task.max_digits}")
        return errors

    def make_splits(self, ctx: SpeechCTCContext):
        """The splits, each made on first use."""
        return LazySplits(ctx.utterances, SPLITS)

    def model_args(self, ctx) -> dict[str, Any]:
        cfg = ctx.task_cfg
        return {"num_tags": 11, "input_size": FEATURES[cfg.features] * cfg.stack,
                "loss": "ctc", "blank": 0}

    def extra_metrics(self, ctx, model, split):
        data = self.batches(ctx)[split]
        refs = [(row[:n] - 1).tolist() for row, n in zip(data["y"], data["target_lengths"])]
        figures: dict[str, float] = {}
        for suffix, beam in (("", 0), ("_beam", ctx.task_cfg.beam_size)):
            hyps = []
            for batch in batches(data, ctx.cfg.train.batch_size):
                hyps += decode(model, batch["x"], batch["lengths"], beam)
            figures.update({k + suffix: v for k, v in error_rates(hyps, refs).items()})
        return figures

    def predictor(self, ctx, model, info, run_dir=None):
        return SpeechCTCPredictor(self, ctx, model, info, run_dir)


class SpeechCTCPredictor(SpeechPredictor):
    """Record: ``{"file", "text": the digit string}`` or ``{"file", "error"}``. Arrays of
    two dimensions are stacked frames (T, ``FEATURES[features] * stack``)."""

    @property
    def width(self) -> int:
        cfg = self.config.task
        return FEATURES[cfg.features] * cfg.stack

    def frames(self, signal: np.ndarray) -> np.ndarray:
        return frames_of(signal, self.config.task)

    def predict(self, inputs, beam: int | None = None, **options) -> list[dict[str, Any]]:
        """``beam``: the beam width (None: the run's ``task.beam_size``; 0: greedy)."""
        beam = self.config.task.beam_size if beam is None else int(beam)
        if beam < 0:
            raise TaskError(f"--beam must be >= 0 (0 = greedy), got {beam}")

        def heard(x: torch.Tensor) -> dict[str, Any]:
            digits = decode(self.model, x, torch.tensor([x.shape[1]]), beam)[0]
            return {"text": "".join(map(str, digits))}

        return self.records(inputs, heard)


register(SpeechCTCTask())
