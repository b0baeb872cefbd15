"""What the speech tasks share: the FSDD recordings on the run's context, padding frames,
and a predictor that turns audio files or arrays into model inputs.

Audio inputs are read by :func:`~rnnkit.data.audio.read_audio` at the predictor's
:attr:`SpeechPredictor.sample_rate` (8 kHz unless the task says otherwise), mono: several
channels are averaged, another sample rate is resampled; a file that cannot be read gives
its input an ``{"file", "error"}`` record and the others are still transcribed. A
:class:`~rnnkit.data.audio.Segment` (a manifest line with an ``offset``) is read alone, and
its record holds its ``offset`` and ``duration`` beside its ``file``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.audio import (
    SAMPLE_RATE,
    AudioError,
    Recording,
    Segment,
    fsdd_recordings,
    read_audio,
)
from ..data.datasets import DataError
from ..data.keywords import AUDIO_SUFFIXES, is_label_folder, scan_labels
from ..data.manifests import DURATION_TOLERANCE, Utterance, is_manifest, read_manifest
from .base import Context, TaskError
from .predictor import Predictor, files_in, read_arrays

ARRAY_SUFFIXES = (".npy", ".json", ".csv")


def fsdd_signals(sample_rate: int = SAMPLE_RATE) -> tuple[list[Recording], list[np.ndarray]]:
    """The 3,000 FSDD recordings and their signals (8 kHz, FSDD's own rate, unless
    ``sample_rate`` says otherwise; a missing or altered copy of the data set is a
    TaskError)."""
    try:
        recs = fsdd_recordings()
    except DataError as e:
        raise TaskError(str(e)) from None
    return recs, [read_audio(r.path, sample_rate) for r in recs]


class FSDDContext(Context):
    """A speech run's context: the FSDD recordings and their signals, read once on first
    use (a predictor never reads them)."""

    @cached_property
    def fsdd(self) -> tuple[list[Recording], list[np.ndarray]]:
        return fsdd_signals()

    @property
    def recordings(self) -> list[Recording]:
        return self.fsdd[0]

    @property
    def signals(self) -> list[np.ndarray]:
        return self.fsdd[1]


def pad(frames: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """(T_i, F) arrays -> ``x`` (N, T_max, F) zero-padded and ``lengths`` (N,)."""
    lengths = torch.tensor([len(f) for f in frames])
    x = torch.zeros(len(frames), int(lengths.max()), frames[0].shape[1])
    for i, f in enumerate(frames):
        x[i, :len(f)] = torch.from_numpy(f)
    return x, lengths


def padding_note(frames: dict[str, list[np.ndarray]], names: dict[str, list[str]],
                 advice: str, ratio: float = 5, seconds: float = 2.0) -> str:
    """Words for a warning ("" for none) naming the recordings of ``frames`` (by part, each
    (T, F) at 100 frames a second; ``names`` alike) that last over ``ratio`` times the median
    of them all and over ``seconds``: :func:`pad` pads every recording of a part to its
    longest, so one such recording multiplies its part's memory; ``advice`` ends it."""
    lengths = {split: [len(f) for f in part] for split, part in frames.items()}
    every = [n for part in lengths.values() for n in part]
    if not every:
        return ""
    median = float(np.median(every))
    limit = max(ratio * median, 1 + seconds * 100)
    long = [(names[split][i], n, split) for split, part in lengths.items()
            for i, n in enumerate(part) if n > limit]
    if not long:
        return ""
    width = 4 * next(f.shape[1] for part in frames.values() for f in part)  # bytes a step
    padded = sum(len(part) * max(part) for part in lengths.values() if part) * width
    short = [[n for n in part if n <= limit] for part in lengths.values()]
    kept = sum(len(part) * max(part) for part in short if part) * width
    shown = ", ".join(f"{name} ({(n - 1) / 100:.2f} s, {split})" for name, n, split in long[:5])
    return (f"{len(long)} recording(s) last over {ratio:g} times the median "
            f"({(median - 1) / 100:.2f} s) and over {seconds:g} s: {shown}"
            f"{' ...' if len(long) > 5 else ''}; every recording of a part is padded to its "
            f"longest, so the parts hold {_size(padded)} of frames, {_size(kept)} without "
            f"them: {advice}")


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.3g} {unit}"
        n /= 1000
    raise AssertionError  # (unreachable)


def manifest_input(u: Utterance) -> str | Segment:
    """What a predictor reads for a manifest line: its file, or the segment of it."""
    return str(u.audio) if u.offset is None else Segment(u.audio, u.offset, u.duration)


class SpeechPredictor(Predictor):
    """Inputs: audio file paths, segments of files (:class:`~rnnkit.data.audio.Segment`),
    1-D arrays (a mono signal at :attr:`sample_rate`) or 2-D arrays (T, F), the model's
    input frames as the run computes them. One record per input with ``"file"`` (the path;
    None for an array; a segment's ``"offset"`` and ``"duration"`` after it) and what the
    task heard, or ``{"file", "error"}`` for a file that cannot be read."""

    @property
    def sample_rate(self) -> int:
        """The rate (Hz) audio files are resampled to before :meth:`frames`."""
        return SAMPLE_RATE

    def frames(self, signal: np.ndarray) -> np.ndarray:
        """A signal's model-input frames (T, F)."""
        raise NotImplementedError

    @property
    def width(self) -> int:
        """Values per model-input frame."""
        raise NotImplementedError

    def read_file(self, path, **options) -> list[Any]:
        """An audio file is one input (its path); ``.npy``/``.json``/``.csv`` hold arrays.
        The data sets' layouts: a JSON-lines manifest (``.jsonl``, or ``.json`` as NeMo
        names them, ``{"audio_filepath", "text"}`` a line) is its utterances' files (a line
        with an ``offset``: that :class:`~rnnkit.data.audio.Segment` of its file), a
        folder of label folders (``root/<label>/*.wav``) its recordings, a folder of audio
        files alone those files; the records are those of ``predict`` on the files."""
        path = Path(path)
        try:
            if path.is_dir():
                if any(map(is_label_folder, path.iterdir())):
                    return [str(c.path) for c in scan_labels(path).clips]
                return files_in(path, AUDIO_SUFFIXES, "audio", " and no label folder")
            suffix = path.suffix.lower()
            if suffix == ".jsonl" or (suffix == ".json" and is_manifest(path)):
                lowercase = getattr(self.config.task, "lowercase", True)
                return [manifest_input(u) for u in read_manifest(path, lowercase).items]
        except DataError as e:
            raise TaskError(str(e)) from None
        if path.suffix.lower() in ARRAY_SUFFIXES:
            return read_arrays(path)
        return [str(path)]

    @torch.no_grad()
    def records(self, inputs, heard: Callable[[torch.Tensor], dict[str, Any]]
                ) -> list[dict[str, Any]]:
        """Each input read and framed, then ``heard(x (1, T, F))`` -> the record's fields,
        one input at a time (no padding: a result never depends on the other inputs)."""
        if isinstance(inputs, (str, Path)):
            inputs = [inputs]
        out = []
        tolerance = getattr(self.config.task, "duration_tolerance", DURATION_TOLERANCE)
        for i, item in enumerate(inputs):
            if isinstance(item, (str, Path, Segment)):
                record, where = _source(item)
                try:
                    frames = self.frames(read_audio(**where, sample_rate=self.sample_rate,
                                                    tolerance=tolerance))
                except AudioError as e:
                    out.append({**record, "error": str(e)})
                    continue
            else:
                record, frames = {"file": None}, self._array_frames(item, i)
            x = torch.from_numpy(np.ascontiguousarray(frames, np.float32))[None]  # (1, T, F)
            out.append({**record, **heard(x.to(self.device))})
        return out

    def _array_frames(self, item: Any, i: int) -> np.ndarray:
        try:
            a = np.asarray(item, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise TaskError(f"input {i}: not a file path or an array of numbers ({e})") from None
        if not (a.ndim == 1 or (a.ndim == 2 and a.shape[1] == self.width)) or not len(a):
            raise TaskError(f"input {i}: give an audio file, a 1-D signal at "
                            f"{self.sample_rate} Hz or frames (T, {self.width}); got an array "
                            f"of shape {a.shape}")
        if not np.isfinite(a).all():
            raise TaskError(f"input {i}: holds NaN or infinite values")
        return self.frames(a) if a.ndim == 1 else a


def _source(item: str | Path | Segment) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the record's start, :func:`read_audio`'s arguments) for a file or a segment."""
    if isinstance(item, Segment):
        record = {"file": str(item.path), "offset": item.offset, "duration": item.duration}
        return record, {"path": item.path, "offset": item.offset, "duration": item.duration}
    return {"file": str(item)}, {"path": item}
