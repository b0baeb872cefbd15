"""Speech transcription with CTC: characters from audio, without alignment.

Data, one of two:

- **the user's manifests** (``task.data``: one JSON-lines manifest holding the whole set, or
  ``task.train_data`` / ``val_data`` / ``test_data``: one each; :mod:`rnnkit.data.manifests`
  reads the NeMo layout ``{"audio_filepath", "text", "duration"}``). ``task.data`` is split
  into test / validation / training parts by ``split_seed`` (``test_fraction``,
  ``val_fraction``); so is the training manifest when ``val_data`` is not given.
  ``split_by``: ``"speaker"`` keeps each speaker's utterances in one part (every line
  needs a ``speaker`` key; at least one speaker per part), ``"utterance"`` splits the
  lines, ``"auto"`` (default) splits by speaker when every line names one and there are
  speakers enough, else by utterance. The classes are the CTC blank (0) and the
  characters of the training texts (:func:`~rnnkit.data.manifests.normalize_text`: white
  space runs made one space, lower case unless ``lowercase = false``), sorted; model.json
  stores them (``alphabet``). A validation or test text's characters that no training
  text has are counted and reported (a warning, and ``unseen_chars`` in the figures): they
  stay in the reference, so they count as errors, and are left out of the CTC targets.
  Audio is read as 8 kHz mono (other rates resampled, channels averaged); an unreadable
  file is an error naming the manifest line; a line with an ``offset`` is the segment of
  its file ``duration`` seconds from there (NeMo's meaning: many lines may cut one long
  recording), read alone, and one ending over ``duration_tolerance`` seconds after its file
  is an error naming the line; without ``offset``, a ``duration`` that differs from the
  audio by more than ``duration_tolerance`` seconds, and an utterance with fewer model steps
  than its text needs under CTC, are warned about, naming the lines.
- **FSDD digit strings** (the default): utterances of ``min_digits``..``max_digits`` digits
  joined from FSDD recordings of one split with short random silences
  (:func:`~rnnkit.data.audio.connected_utterances`): training utterances from recording
  indices 10..49, validation from 5..9, test from the official test recordings 0..4, all
  six speakers; the characters are the digits.

Model: a bidirectional :class:`~rnnkit.models.SequenceTagger` with ``loss = "ctc"`` over
MFCC (+ deltas) frames, ``stack`` of them concatenated per step (a lower frame rate: fewer
steps to run through, still several per spoken character as CTC needs).

``evaluate`` on manifests reports ``cer`` and ``wer`` (character and word error rate over
the split: edits / reference length, by ``jiwer``) for greedy (best-path) decoding, and
the same with ``_beam`` for prefix beam search of width ``beam_size``, which sums the
probability of every alignment of a text instead of following the single best path; on
FSDD ``digit_error_rate`` and ``utterance_accuracy`` (and ``_beam``).

Transcripts (evaluated, and the predictor's) have their white space normalised as the
references' (:func:`spell`): a space the model emits twice, or at either end, is not kept.

Predictor: ``predict(files or arrays, beam=None)`` -> ``{"file", "text"}`` per input
(a manifest's segment: ``{"file", "offset", "duration", "text"}``), decoded with the run's
characters (``rnnkit transcribe RUN FILE.wav [--beam N]``); ``beam``
None decodes with ``task.beam_size``, 0 greedily.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

import numpy as np
import torch

from .._optional import require
from ..data.audio import (
    FEATURES,
    SAMPLE_RATE,
    connected_utterances,
    feature_spec,
    features,
    stack_frames,
)
from ..data.batches import batches
from ..data.manifests import DURATION_TOLERANCE, normalize_text
from ..models.ctc_beam import ctc_beam_decode
from ..models.tagger import ctc_greedy_decode
from ..training.config import TaskConfig, choice, number
from .base import SPLITS, Task, TaskError, register
from .datafiles import DataFilesConfig, data_errors, uses_own_data
from .speech_common import FSDDContext, SpeechPredictor, pad
from .transcription import ManifestData, text_error_rates

SPLIT_INDICES = {"train": range(10, 50), "val": range(5, 10), "test": range(0, 5)}
DIGITS = "0123456789"
FSDD_ONLY = ("min_digits", "max_digits", "train_size", "val_size", "test_size")


@dataclass
class SpeechCTCConfig(DataFilesConfig, TaskConfig):
    name: str = "speech-ctc"
    features: str = choice("mfcc", *FEATURES)
    stack: int = number(3, 1, 8)  # frames concatenated per model step
    beam_size: int = number(8, 1)  # evaluation's `_beam` figures and transcribe's default
    split_by: str = choice("auto", "auto", "speaker", "utterance")  # manifests: how a part is split
    lowercase: bool = True  # manifests: texts lower-cased (case cannot be heard)
    # seconds of |duration - audio| not warned; a segment may end this far after its file
    duration_tolerance: float = number(DURATION_TOLERANCE, 0)
    min_digits: int = number(1, 1)  # FSDD digit strings: digits per utterance ...
    max_digits: int = number(7, 1)
    train_size: int = number(6000, 1)  # ... and utterances per split
    val_size: int = number(300, 1)
    test_size: int = number(1000, 1)


class LazySplits(Mapping):
    """``{split: data}`` whose values are built by ``make(split)`` on first access (so
    evaluating the test split does not read or synthesise the training utterances)."""

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


def to_tensors(frame_lists: list[np.ndarray], labels: list[list[int]]
               ) -> dict[str, torch.Tensor]:
    """Utterances' frames and labels (indices into the alphabet) -> ``x``, ``lengths``,
    ``y`` (labels + 1, class 0 is the CTC blank) and ``target_lengths``."""
    x, lengths = pad(frame_lists)
    y = torch.zeros(len(labels), max(1, max(len(s) for s in labels)), dtype=torch.long)
    for i, s in enumerate(labels):
        y[i, :len(s)] = torch.tensor(s, dtype=torch.long) + 1
    return {"x": x, "lengths": lengths, "y": y,
            "target_lengths": torch.tensor([len(s) for s in labels])}


@torch.no_grad()
def decode(model, x: torch.Tensor, lengths: torch.Tensor, beam_size: int = 0
           ) -> list[list[int]]:
    """Label sequences (indices into the alphabet) of frames ``x`` (B, T, F): greedy, or
    prefix beam search of width ``beam_size`` when it is > 0."""
    model.eval()
    logits = model(x.to(next(model.parameters()).device), lengths).logits.cpu()
    if beam_size:
        labels = ctc_beam_decode(logits, lengths, beam_size=beam_size, blank=0)
    else:
        labels = ctc_greedy_decode(logits, lengths, blank=0)
    return [[c - 1 for c in seq] for seq in labels]


def spell(labels: list[int], alphabet: str | list[str]) -> str:
    """A label sequence's text, white space normalised as the references' is (runs of it
    made one space, stripped: :func:`~rnnkit.data.manifests.normalize_text`, case kept), so
    that a space emitted twice or at an end is neither shown nor scored."""
    return normalize_text("".join(alphabet[c] for c in labels), lowercase=False)


class SpeechCTCContext(FSDDContext):
    """The run's utterances (FSDD digit strings, or the user's manifests) and alphabet."""

    @cached_property
    def manifests(self) -> ManifestData:
        """The user's manifests, split (texts read; audio read per split on demand); a
        trained run's alphabet is its own (``saved``: the classes its model learnt)."""
        saved = self.saved.get("alphabet")
        return ManifestData(self.task_cfg, lambda audio: frames_of(audio, self.task_cfg),
                            None if saved is None else "".join(saved))

    @cached_property
    def alphabet(self) -> str:
        """The characters the model emits (class i + 1 is ``alphabet[i]``)."""
        return self.manifests.alphabet if uses_own_data(self.task_cfg) else DIGITS

    def utterances(self, split: str) -> dict[str, torch.Tensor]:
        """One split's utterances as tensors (FSDD: synthesised, seeded by the run's seed)."""
        if uses_own_data(self.task_cfg):
            frames, labels = self.manifests.frames_and_labels(split)
            return to_tensors(frames, labels)
        cfg, recs, signals = self.task_cfg, self.recordings, self.signals
        size = {"train": cfg.train_size, "val": cfg.val_size, "test": cfg.test_size}[split]
        rows = [j for j, r in enumerate(recs) if r.index in SPLIT_INDICES[split]]
        audio, digits = connected_utterances(
            [signals[j] for j in rows], [recs[j].digit for j in rows], size,
            min_digits=cfg.min_digits, max_digits=cfg.max_digits,
            seed=self.cfg.seed * 10 + SPLITS.index(split))
        return to_tensors([frames_of(a, cfg) for a in audio], digits)

    def references(self, split: str) -> list[str]:
        """The split's reference texts, in the order of its tensors."""
        if uses_own_data(self.task_cfg):
            return [u.text for u in self.manifests.splits[split]]
        data = self.splits[split]
        return ["".join(DIGITS[c - 1] for c in row[:n].tolist())
                for row, n in zip(data["y"], data["target_lengths"])]

    def transcripts(self, model, split: str, beam: int) -> list[str]:
        """The model's texts for the split's utterances (``beam`` 0: greedy)."""
        hyps = []
        for batch in batches(self.splits[split], self.cfg.train.batch_size):
            hyps += decode(model, batch["x"], batch["lengths"], beam)
        return [spell(h, self.alphabet) for h in hyps]


class SpeechCTCTask(Task):
    name = "speech-ctc"
    config_class = SpeechCTCConfig
    model_class = "SequenceTagger"
    context_class = SpeechCTCContext
    capabilities = frozenset({"transcribe"})
    fixed_model_args = frozenset({"num_tags", "input_size", "loss", "blank"})

    def check(self, cfg) -> list[str]:
        t = cfg.task
        errors = super().check(cfg) + data_errors(t)
        if t.min_digits > t.max_digits:
            errors.append(f"task.min_digits = {t.min_digits} > task.max_digits = "
                          f"{t.max_digits}")
        if uses_own_data(t):
            defaults = {f.name: f.default for f in fields(SpeechCTCConfig)}
            errors += [f"task.{k}: applies to the FSDD digit strings, not to manifests"
                       for k in FSDD_ONLY if getattr(t, k) != defaults[k]]
        return errors

    def make_splits(self, ctx: SpeechCTCContext):
        """The splits, each made on first use."""
        return LazySplits(ctx.utterances, SPLITS)

    def batches(self, ctx: SpeechCTCContext):
        if uses_own_data(ctx.task_cfg):
            require("jiwer", "audio")  # scores the transcripts: missing, fail before training
        return ctx.splits

    def model_args(self, ctx: SpeechCTCContext) -> dict[str, Any]:
        cfg = ctx.task_cfg
        return {"num_tags": len(ctx.alphabet) + 1,
                "input_size": FEATURES[cfg.features] * cfg.stack, "loss": "ctc", "blank": 0}

    def info(self, ctx: SpeechCTCContext, model):
        cfg = ctx.task_cfg
        return {**super().info(ctx, model), "alphabet": list(ctx.alphabet),
                "audio": feature_spec(cfg.features, SAMPLE_RATE, cfg.stack)}

    def extra_metrics(self, ctx: SpeechCTCContext, model, split):
        refs = ctx.references(split)
        own = uses_own_data(ctx.task_cfg)
        figures: dict[str, float] = {}
        for suffix, beam in (("", 0), ("_beam", ctx.task_cfg.beam_size)):
            hyps = ctx.transcripts(model, split, beam)
            rates = (text_error_rates(refs, hyps) if own else
                     error_rates([[DIGITS.index(c) for c in h] for h in hyps],
                                 [[DIGITS.index(c) for c in r] for r in refs]))
            figures.update({k + suffix: v for k, v in rates.items()})
        if own:
            figures["unseen_chars"] = ctx.manifests.unseen_count(split)
        return figures

    def report_sections(self, ctx: SpeechCTCContext, model) -> list[str]:
        """The first test utterances, heard (greedy) beside the reference."""
        refs, hyps = ctx.references("test")[:12], ctx.transcripts(model, "test", 0)[:12]
        lines = ["## Test transcripts (greedy decoding)", "", "| reference | heard |",
                 "|---|---|"]
        for ref, hyp in zip(refs, hyps):
            ref, hyp = (t.replace("|", r"\|") for t in (ref, hyp))
            lines.append(f"| {ref} | {hyp or '(nothing)'} |")
        return lines

    def predictor(self, ctx, model, info, run_dir=None):
        return SpeechCTCPredictor(self, ctx, model, info, run_dir)


class SpeechCTCPredictor(SpeechPredictor):
    """Record: ``{"file", "text"}`` (in the run's characters; FSDD: the digit string) or
    ``{"file", "error"}``. Arrays of two dimensions are stacked frames (T,
    ``FEATURES[features] * stack``)."""

    @property
    def width(self) -> int:
        cfg = self.config.task
        return FEATURES[cfg.features] * cfg.stack

    @property
    def alphabet(self) -> str | list[str]:
        return self.info.get("alphabet") or DIGITS

    def frames(self, signal: np.ndarray) -> np.ndarray:
        return frames_of(signal, self.config.task)

    def predict(self, inputs, beam: int | None = None, **options) -> list[dict[str, Any]]:
        """``beam``: the beam width (None: the run's ``task.beam_size``; 0: greedy)."""
        beam = self.config.task.beam_size if beam is None else int(beam)
        if beam < 0:
            raise TaskError(f"--beam must be >= 0 (0 = greedy), got {beam}")
        alphabet = self.alphabet

        def heard(x: torch.Tensor) -> dict[str, Any]:
            labels = decode(self.model, x, torch.tensor([x.shape[1]]), beam)[0]
            return {"text": spell(labels, alphabet)}

        return self.records(inputs, heard)


register(SpeechCTCTask())
