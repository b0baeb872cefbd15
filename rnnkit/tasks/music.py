"""Polyphonic music: next-frame prediction on piano rolls — the JSB chorales, or a folder
of the user's MIDI files.

A :class:`~rnnkit.models.piano_roll.PianoRollLM` reads the previous frame (an all-zero frame
before t = 0, so every frame is scored) and predicts the next one as K independent
Bernoullis, one per key. ``nll_per_step`` is the total NLL of a split / its number of
frames, summed over the keys: the convention of Boulanger-Lewandowski et al. (2012) and
Chung et al. (2014). ``frame_accuracy`` is TP / (TP + FP + FN) over all frames of the split
(Bay et al. 2009), predicting a key when its probability exceeds 0.5.

Data (:mod:`rnnkit.tasks.datafiles`): ``task.data`` names a folder of MIDI files (``.mid``
/ ``.midi``, searched recursively; or one MIDI file), split by file into train/val/test by
``task.split_seed``; or ``task.train_data``/``val_data``/``test_data`` name a folder (or
file) each. Without them: the JSB chorales (Boulanger-Lewandowski et al.'s split). Each
file becomes one piece, read by :func:`~rnnkit.data.music.read_midi_roll`:

- ``task.steps_per_quarter``: the resolution (1 = a step per quarter note, JSB's; 4 =
  sixteenth notes); onsets and ends snap to the nearest step;
- ``task.lowest_pitch``..``task.highest_pitch``: the roll's keys (default the piano's
  21..108); notes outside, and percussion (channel 10) unless ``task.drums``, are left out
  and counted in a warning;
- a file in a folder that mido cannot read (truncated, not MIDI) or with no notes left is
  skipped and named in the warning; no usable file, or a bad file named alone, is an error.

Long pieces (pop songs at sixteenth notes run to thousands of steps): set ``train.tbptt``
(truncated backpropagation through time) and ``train.batching = "bucket"``.

``task.transpose = n`` adds copies of every training piece shifted by -n..+n semitones
(those that stay within the pitch range): more data for a model that should not care about
key. Validation and test pieces are never transposed.

Predictor (``rnnkit.load(run)``):

- ``predict(rolls or MIDI files)``: per piece ``{"steps", "nll_per_step",
  "next_frame_probs"}`` (the model's probability of each key in the frame after the last);
  MIDI files are read as the run read its training files;
- ``stream()``: ``push(frame)`` one K-key frame at a time -> that frame's NLL under the
  model and the probabilities of the next frame;
- ``generate(max_new, prime, prompt, output, plot, temperature, seed)``: samples a new
  piece after a prime: the first ``prime`` steps of the MIDI file ``prompt``, or all of
  the MIDI file given as ``prime`` (``rnnkit generate RUN --steps 64 --prime 8 --prompt
  song.mid --output out.mid``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..data.batches import batches
from ..data.datasets import DataError, is_file
from ..data.music import (
    LOWEST_PITCH,
    MIDI_SUFFIXES,
    NUM_KEYS,
    load_jsb,
    midi_files,
    midi_ticks,
    plot_roll,
    read_midi_folder,
    read_midi_roll,
    roll_to_midi,
    to_tensors,
    transposed,
)
from ..models import piano_roll  # noqa: F401  (registers PianoRollLM)
from ..training.config import TaskConfig, number
from .base import Context, Task, TaskError, register
from .datafiles import DataFilesConfig, data_errors, load_splits, uses_own_data
from .predictor import Predictor, Stream


@dataclass
class MusicConfig(DataFilesConfig, TaskConfig):
    name: str = "music"
    steps_per_quarter: int = number(1, 1, 64)  # MIDI files: steps per quarter note
    lowest_pitch: int = number(LOWEST_PITCH, 0, 127)  # the roll's keys: these MIDI pitches
    highest_pitch: int = number(LOWEST_PITCH + NUM_KEYS - 1, 0, 127)  # ... up to this one
    drums: bool = False  # keep percussion (channel 10) notes, as pitches, in the roll
    transpose: int = number(0, 0, 12)  # train on copies shifted by -n..+n semitones too


def num_keys(cfg: MusicConfig) -> int:
    return cfg.highest_pitch - cfg.lowest_pitch + 1


def read_midi(path: str | Path, cfg: MusicConfig | None = None, what: str = ""):
    """A MIDI file read as ``cfg`` says (default: 88 keys, quarter notes) -> a
    :class:`~rnnkit.data.music.MidiRoll`; a missing or unreadable file is a TaskError
    naming it (``what``: how the user gave it, e.g. ``--prompt``)."""
    cfg = cfg or MusicConfig()
    name = f"{what} {path}".strip()
    if not is_file(path):
        raise TaskError(f"{name}: no such MIDI file")
    try:
        return read_midi_roll(path, steps_per_quarter=cfg.steps_per_quarter,
                              lowest=cfg.lowest_pitch, keys=num_keys(cfg), drums=cfg.drums)
    except DataError as e:
        raise TaskError(f"{what} {e}".strip()) from None


def read_pieces(path: str | Path, cfg: MusicConfig) -> list[np.ndarray]:
    """The rolls of a MIDI file, or of every MIDI file under a folder, read as ``cfg``
    says (:func:`~rnnkit.data.music.read_midi_folder`: a folder's unusable files are
    skipped and named in a warning); errors are TaskErrors naming the file or folder."""
    try:
        return read_midi_folder(path, steps_per_quarter=cfg.steps_per_quarter,
                                lowest=cfg.lowest_pitch, keys=num_keys(cfg), drums=cfg.drums)
    except DataError as e:
        raise TaskError(str(e)) from None


def as_roll(item: Any, what: str, keys: int = NUM_KEYS) -> np.ndarray:
    """A (T, K) sequence of frames -> a 0/1 uint8 roll (values > 0.5 count as on)."""
    try:
        a = np.asarray(item, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TaskError(f"{what} is not a sequence of frames ({e})") from None
    if a.ndim != 2 or a.shape[1] != keys or not len(a):
        raise TaskError(f"{what} must be a piano roll (T, {keys}) with T >= 1, got shape "
                        f"{a.shape}")
    if not np.isfinite(a).all():
        raise TaskError(f"{what} holds NaN or infinite values")
    return (a > 0.5).astype(np.uint8)


class MusicContext(Context):
    """The run's pieces, read on first use (training, evaluation, or priming ``generate``
    with the first test piece)."""

    @cached_property
    def pieces(self) -> dict[str, list[np.ndarray]]:
        """``train``/``val``/``test`` rolls (T, K): the user's MIDI files split by file, or
        the JSB chorales cut to the run's pitch range; a folder with no usable file, a bad
        file named alone, or an empty part is a TaskError."""
        cfg = self.task_cfg
        if uses_own_data(cfg):
            return load_splits(cfg, lambda p: read_pieces(p, cfg), "MIDI files")
        try:
            jsb = load_jsb()
        except DataError as e:
            raise TaskError(str(e)) from None
        lo = cfg.lowest_pitch - LOWEST_PITCH
        cut = {k: [r[:, lo:lo + num_keys(cfg)] for r in v] for k, v in jsb.items()}
        lost = sum(int(r.sum()) for v in jsb.values() for r in v) - sum(
            int(r.sum()) for v in cut.values() for r in v)
        if lost:
            warnings.warn(f"JSB chorales: {lost} sounding keys outside pitches "
                          f"{cfg.lowest_pitch}..{cfg.highest_pitch} left out", stacklevel=2)
        return cut


class MusicTask(Task):
    name = "music"
    config_class = MusicConfig
    model_class = "PianoRollLM"
    context_class = MusicContext
    capabilities = frozenset({"generate", "stream"})
    fixed_model_args = frozenset({"num_units"})

    def check(self, cfg) -> list[str]:
        t = cfg.task
        errors = super().check(cfg) + data_errors(t)
        if t.lowest_pitch > t.highest_pitch:
            errors.append(f"task.lowest_pitch = {t.lowest_pitch} is above task.highest_pitch "
                          f"= {t.highest_pitch}")
        elif not uses_own_data(t) and (t.lowest_pitch < LOWEST_PITCH
                                       or t.highest_pitch > LOWEST_PITCH + NUM_KEYS - 1):
            errors.append("the JSB chorales hold pitches 21..108: keep task.lowest_pitch/"
                          "highest_pitch within them, or name your MIDI files with task.data")
        if t.steps_per_quarter != 1 and not uses_own_data(t):
            errors.append("task.steps_per_quarter: the JSB chorales come at one step per "
                          "quarter note; other resolutions need your MIDI files (task.data)")
        return errors

    def make_splits(self, ctx: MusicContext):
        n = ctx.task_cfg.transpose
        train = [t for r in ctx.pieces["train"] for s in range(-n, n + 1)
                 if (t := transposed(r, s)) is not None]
        return {"train": to_tensors(train), "val": to_tensors(ctx.pieces["val"]),
                "test": to_tensors(ctx.pieces["test"])}

    def model_args(self, ctx) -> dict[str, Any]:
        return {"num_units": num_keys(ctx.task_cfg)}

    @torch.no_grad()
    def extra_metrics(self, ctx, model, split):
        """``frame_accuracy`` over the whole split (the model's is a per-batch average)."""
        data = self.batches(ctx)[split]
        model.eval()
        device = next(model.parameters()).device
        tp = union = 0
        for batch in batches(data, ctx.cfg.train.batch_size):
            logits = model(batch["x"].to(device), batch["lengths"]).logits.cpu()  # (B, T, K)
            T = logits.shape[1]
            valid = (torch.arange(T)[None] < batch["lengths"][:, None]).unsqueeze(-1)
            pred, truth = (logits > 0) & valid, (batch["y"] > 0.5) & valid
            tp += int((pred & truth).sum())
            union += int((pred | truth).sum())
        return {"frame_accuracy": tp / max(union, 1), "frames": float(data["lengths"].sum())}

    def predictor(self, ctx, model, info, run_dir=None):
        return MusicPredictor(self, ctx, model, info, run_dir)


def _probs(logits: torch.Tensor) -> list[float]:
    return [round(float(p), 6) for p in torch.sigmoid(logits)]


class MusicPredictor(Predictor):
    """Inputs: piano rolls (T, K) of 0/1 (values > 0.5 count as on; K = the run's keys), or
    paths of MIDI files (read at the run's resolution and pitch range)."""

    @property
    def keys(self) -> int:
        return num_keys(self.config.task)

    def read_file(self, path, **options) -> list[Any]:
        """A MIDI file is one input (its path), a folder of them its MIDI files, searched
        recursively as training reads a folder (:func:`~rnnkit.data.music.midi_files`);
        ``.npy``/``.json``/``.csv`` hold rolls."""
        path = Path(path)
        if path.is_dir():
            files = midi_files(path)
            if not files:
                raise TaskError(f"{path}: no MIDI file ({', '.join(MIDI_SUFFIXES)}) in it or "
                                "below it")
            return [str(f) for f in files]
        if path.suffix.lower() in MIDI_SUFFIXES:
            return [str(path)]
        return super().read_file(path, **options)

    @torch.no_grad()
    def predict(self, inputs, **options) -> list[dict[str, Any]]:
        """Per input ``{"steps", "nll_per_step", "next_frame_probs"}``: the NLL (nats per
        step, summed over the keys, an all-zero frame before the first) and each key's
        probability in the frame after the last; MIDI inputs add ``"file"`` (and
        ``"warning"`` when notes outside the run's pitches were left out), and one that
        cannot be read gives ``{"file", "error"}``. Arrays of the wrong shape raise."""
        if isinstance(inputs, (str, Path)) or (isinstance(inputs, np.ndarray)
                                               and inputs.ndim == 2):
            inputs = [inputs]
        records: list[dict[str, Any]] = []
        rolls: list[tuple[int, np.ndarray]] = []
        for i, item in enumerate(inputs):
            if isinstance(item, (str, Path)):
                records.append({"file": str(item)})
                try:
                    read = read_midi(item, self.config.task)
                except TaskError as e:
                    records[-1]["error"] = str(e)
                    continue
                if not len(read.roll):
                    records[-1]["error"] = f"{item}: the MIDI file holds no steps"
                    continue
                if read.note(self.config.task.lowest_pitch, self.keys):
                    records[-1]["warning"] = read.note(self.config.task.lowest_pitch,
                                                       self.keys)
                roll = read.roll
            else:
                records.append({})
                roll = as_roll(item, f"music input {i}", self.keys)
            rolls.append((len(records) - 1, roll))
        if rolls:
            for (k, _), scored in zip(rolls, self._score([r for _, r in rolls])):
                records[k].update(scored)
        return records

    def _score(self, rolls: list[np.ndarray]) -> list[dict[str, Any]]:
        """One forward pass over the zero frame and each roll, padded to the longest."""
        lengths = torch.tensor([len(r) for r in rolls])
        full = torch.zeros(len(rolls), int(lengths.max()) + 1, self.keys)  # (N, T+1, K)
        for i, r in enumerate(rolls):
            full[i, 1:len(r) + 1] = torch.from_numpy(r.astype(np.float32))
        logits = self.model(full.to(self.device), lengths + 1).logits.cpu()  # (N, T+1, K)
        out = []
        for i, T in enumerate(lengths.tolist()):
            nll = F.binary_cross_entropy_with_logits(logits[i, :T], full[i, 1:T + 1],
                                                     reduction="sum")
            out.append({"steps": T, "nll_per_step": float(nll) / T,
                        "next_frame_probs": _probs(logits[i, T])})
        return out

    def stream(self, **options) -> MusicStream:
        """A :class:`MusicStream`: the piece so far, one frame at a time."""
        return MusicStream(self.model, self.keys)

    def generate(self, prompt: str | None = None, max_new: int = 64,
                 prime: int | str | Path = 0, output: str | None = None,
                 plot: str | None = None, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, seed: int | None = 0) -> dict[str, Any]:
        """Sample ``max_new`` frames after a prime: the first ``prime`` steps of the MIDI
        file ``prompt`` (the whole file with ``prime = 0``), all of the MIDI file given as
        ``prime`` itself (a path), or the first ``prime`` steps of the run's first test
        piece when there is no prompt (this reads the run's data); nothing with neither.

        Each key is drawn on or off from its probability, the logits divided by
        ``temperature`` (0: on when above 0.5, deterministic); ``top_k``/``top_p`` do not
        apply to independent keys. ``seed`` fixes the draw. Writes ``output`` (MIDI: prime
        and new steps, at the run's resolution) and ``plot`` (PNG piano roll) when given.

        Returns ``{"prime_steps", "steps", "notes_per_step", "generated"}`` (the MIDI
        pitches sounding at each new step) and ``"output"``/``"plot"`` when written.
        """
        if top_k or (top_p is not None and top_p != 1.0):
            raise TaskError("music draws each key on or off by itself: top-k and top-p do "
                            "not apply (use temperature)")
        if not 0 <= temperature < math.inf:  # (NaN fails it)
            raise TaskError(f"temperature must be a number >= 0, got {temperature}")
        if max_new < 0:
            raise TaskError(f"--steps must be >= 0, got {max_new}")
        if isinstance(prime, (str, Path)) and not str(prime).lstrip("-").isdigit():
            if prompt:
                raise TaskError(f"--prime {prime} and --prompt {prompt}: give the priming "
                                "MIDI file once")
            prompt, prime = str(prime), 0
        steps, cfg = int(max_new), self.config.task
        start = self._prime(prompt, int(prime or 0))
        g = torch.Generator(device=self.device)
        g.manual_seed(int(seed or 0))
        new = self.model.generate(steps, prime=torch.from_numpy(start).float(),
                                  temperature=float(temperature),
                                  generator=g).cpu().numpy().astype(np.uint8)  # (steps, K)
        roll = np.vstack([start, new])
        result: dict[str, Any] = {
            "prime_steps": len(start), "steps": steps,
            "notes_per_step": float(new.sum(1).mean()) if steps else 0.0,
            "generated": [(np.flatnonzero(f) + cfg.lowest_pitch).tolist() for f in new]}
        if output:
            beat, step = midi_ticks(cfg.steps_per_quarter)
            result["output"] = str(roll_to_midi(roll, output, ticks_per_step=step,
                                                ticks_per_beat=beat, lowest=cfg.lowest_pitch))
        if plot:
            what = {1: "quarter note", 2: "eighth note", 4: "sixteenth note"}.get(
                cfg.steps_per_quarter, f"1/{cfg.steps_per_quarter} quarter note")
            result["plot"] = str(plot_roll(roll, plot, prime=len(start), lowest=cfg.lowest_pitch,
                                           step=what,
                                           title=f"{len(start)} primed + {steps} sampled steps"))
        return result

    def _prime(self, prompt: str | None, n: int) -> np.ndarray:
        if n < 0:
            raise TaskError(f"--prime must be >= 0, got {n}")
        if prompt:
            source = read_midi(prompt, self.config.task, "--prompt").roll
        else:
            source = self.context.pieces["test"][0] if n else np.zeros((0, self.keys), np.uint8)
        if n > len(source):
            raise TaskError(f"--prime {n}: the priming piece has only {len(source)} steps")
        return source[:n] if n or not prompt else source


class MusicStream(Stream):
    """A piece one frame at a time. :meth:`push` takes the next frame (K values, > 0.5 =
    key on) and returns ``{"step", "nll", "nll_per_step", "next_frame_probs"}``: that
    frame's NLL under the model's prediction before it, the running mean, and each key's
    probability in the frame to come. Fed a whole piece, the last record equals
    ``predict([piece])``."""

    def __init__(self, model, keys: int = NUM_KEYS):
        self.model, self.keys = model, keys
        self.reset()

    @torch.no_grad()
    def reset(self) -> None:
        """Start a new piece: the prediction for its first frame (after the zero frame)."""
        device = next(self.model.parameters()).device
        self._logits, self._state = self.model.step(torch.zeros(1, self.keys, device=device))
        self._steps, self._total = 0, 0.0

    @torch.no_grad()
    def push(self, x_t) -> dict[str, Any]:
        frame = as_roll(np.asarray(x_t, dtype=np.float64).reshape(1, -1),
                        f"stream frame {self._steps}", self.keys)
        y = torch.from_numpy(frame.astype(np.float32)).to(self._logits.device)  # (1, K)
        nll = float(F.binary_cross_entropy_with_logits(self._logits, y, reduction="sum"))
        self._logits, self._state = self.model.step(y, self._state)
        self._steps += 1
        self._total += nll
        return {"step": self._steps, "nll": nll, "nll_per_step": self._total / self._steps,
                "next_frame_probs": _probs(self._logits[0].cpu())}


register(MusicTask())
