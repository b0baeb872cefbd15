"""Connected-digit recognition with CTC: digit strings spoken without alignment.

Utterances of ``min_digits``..``max_digits`` digits are made by joining FSDD recordings of
one split with short random silences (:func:`~rnnkit.data.audio.connected_utterances`):
training utterances from recording indices 10..49, validation from 5..9, test from the
official test recordings 0..4, all six speakers. A bidirectional
:class:`~rnnkit.models.SequenceTagger` with ``loss = "ctc"`` reads MFCC (+ deltas) frames,
``stack`` of them concatenated per step (a lower frame rate); classes are blank (0) and the
digits 0..9 (1..10).

``evaluate`` reports ``digit_error_rate`` (edit distance / reference length, summed over the
split) and ``utterance_accuracy`` for greedy (best-path) decoding, and the same with
``_beam`` for prefix beam search (``beam_size``). ``rnnkit transcribe RUN FILE.wav ...``
prints the digit string of each file.
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
from .base import Task, TaskError, register
from .speech_digits import fsdd_signals, pad, read_wavs

SPLIT_INDICES = {"train": range(10, 50), "val": range(5, 10), "test": range(0, 5)}


class LazySplits(Mapping):
    """``{split: data}`` whose values are built by ``make(split)`` on first access."""

    def __init__(self, make: Callable[[str], dict], names: tuple[str, ...]):
        self._make, self._names, self._done = make, names, {}

    def __getitem__(self, split: str) -> dict:
        if split not in self._names:
            raise KeyError(split)
        if split not in self._done:
            self._done[split] = self._make(split)
        return self._done[split]

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


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
    beam_size: int = number(8, 1)


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


class SpeechCTCTask(Task):
    name = "speech-ctc"
    config_class = SpeechCTCConfig
    model_class = "SequenceTagger"

    def data(self, cfg: SpeechCTCConfig, seed: int):
        """The splits, each made on first use (evaluating the test split does not
        synthesise the 6,000 training utterances)."""
        if cfg.min_digits > cfg.max_digits:
            raise TaskError(f"min_digits {cfg.min_digits} > max_digits {cfg.max_digits}")
        self._beam_size = cfg.beam_size
        return LazySplits(lambda split: self._split(cfg, seed, split), tuple(SPLIT_INDICES))

    def _split(self, cfg: SpeechCTCConfig, seed: int, split: str) -> dict[str, torch.Tensor]:
        recs, signals = fsdd_signals()
        size = {"train": cfg.train_size, "val": cfg.val_size, "test": cfg.test_size}[split]
        rows = [j for j, r in enumerate(recs) if r.index in SPLIT_INDICES[split]]
        audio, digits = connected_utterances(
            [signals[j] for j in rows], [recs[j].digit for j in rows], size,
            min_digits=cfg.min_digits, max_digits=cfg.max_digits,
            seed=seed * 10 + list(SPLIT_INDICES).index(split))
        return self._tensors([self._frames(a, cfg) for a in audio], digits)

    @staticmethod
    def _frames(audio: np.ndarray, cfg: SpeechCTCConfig) -> np.ndarray:
        return stack_frames(features(audio, cfg.features), cfg.stack)

    @staticmethod
    def _tensors(frames: list[np.ndarray], digits: list[list[int]]) -> dict[str, torch.Tensor]:
        x, lengths = pad(frames)
        y = torch.zeros(len(digits), max(len(d) for d in digits), dtype=torch.long)
        for i, d in enumerate(digits):
            y[i, :len(d)] = torch.tensor(d) + 1  # class 0 is the CTC blank
        return {"x": x, "lengths": lengths, "y": y,
                "target_lengths": torch.tensor([len(d) for d in digits])}

    def model_args(self, cfg: SpeechCTCConfig) -> dict[str, Any]:
        return {"num_tags": 11, "input_size": FEATURES[cfg.features] * cfg.stack,
                "loss": "ctc", "blank": 0}

    @torch.no_grad()
    def _decode(self, model, x, lengths, beam_size: int = 0) -> list[list[int]]:
        """Digit sequences (0..9): greedy, or prefix beam search when ``beam_size``."""
        model.eval()
        logits = model(x.to(next(model.parameters()).device), lengths).logits.cpu()
        if beam_size:
            labels = ctc_beam_decode(logits, lengths, beam_size=beam_size, blank=0)
        else:
            labels = ctc_greedy_decode(logits, lengths, blank=0)
        return [[c - 1 for c in seq] for seq in labels]

    def extra_metrics(self, model, data, batch_size):
        refs = [(row[:n] - 1).tolist() for row, n in zip(data["y"], data["target_lengths"])]
        figures: dict[str, float] = {}
        for suffix, beam in (("", 0), ("_beam", self._beam_size)):
            hyps = []
            for batch in batches(data, batch_size):
                hyps += self._decode(model, batch["x"], batch["lengths"], beam)
            figures.update({k + suffix: v for k, v in error_rates(hyps, refs).items()})
        return figures

    _beam_size = 8  # evaluation's beam (extra_metrics gets no config); set by data()

    def predict(self, model, inputs, cfg: SpeechCTCConfig):
        """``inputs`` stacked feature frames (N, T, F) or (T, F): digit strings."""
        if inputs.dim() == 2:
            inputs = inputs[None]
        F = FEATURES[cfg.features] * cfg.stack
        if inputs.dim() != 3 or inputs.shape[-1] != F:
            raise TaskError(f"speech-ctc inputs must be frames (N, T, {F}), got shape "
                            f"{tuple(inputs.shape)}; for audio use `rnnkit transcribe`")
        lengths = torch.full((inputs.shape[0],), inputs.shape[1])
        greedy = self._decode(model, inputs.float(), lengths)
        beam = self._decode(model, inputs.float(), lengths, cfg.beam_size)
        return {"greedy": ["".join(map(str, d)) for d in greedy],
                "beam": ["".join(map(str, d)) for d in beam]}

    def transcribe(self, model, cfg: SpeechCTCConfig, paths: list[str], *,
                   beam_size: int | None = None) -> list[dict]:
        """One result per file: ``{"file", "text"}`` (the digit string, beam search) or
        ``{"file", "error"}``."""
        beam = cfg.beam_size if beam_size is None else beam_size
        results = []
        for path, signal in read_wavs(paths):
            if isinstance(signal, str):
                results.append({"file": path, "error": signal})
                continue
            x = torch.from_numpy(self._frames(signal, cfg))[None]  # (1, T, F)
            digits = self._decode(model, x, torch.tensor([x.shape[1]]), beam)[0]
            results.append({"file": path, "text": "".join(map(str, digits))})
        return results


register(SpeechCTCTask())
