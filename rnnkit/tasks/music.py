"""Polyphonic music: next-frame prediction on the JSB chorales piano rolls.

A :class:`~rnnkit.models.piano_roll.PianoRollLM` reads the previous frame (an all-zero frame
before t = 0, so every frame is scored) and predicts the next one as 88 independent
Bernoullis. ``nll_per_step`` is the total NLL of a split / its number of frames, summed over
the 88 keys: the convention of Boulanger-Lewandowski et al. (2012) and Chung et al. (2014).
``frame_accuracy`` is TP / (TP + FP + FN) over all frames of the split (Bay et al. 2009),
predicting a key when its probability exceeds 0.5.

``task.transpose = n`` adds copies of every training piece shifted by -n..+n semitones
(those that stay on the keyboard): more data for a model that should not care about key.

Predictor (``rnnkit.load(run)``):

- ``predict(rolls or MIDI files)``: per piece ``{"steps", "nll_per_step",
  "next_frame_probs"}`` (the model's probability of each key in the frame after the last);
- ``stream()``: ``push(frame)`` one 88-key frame at a time -> that frame's NLL under the
  model and the probabilities of the next frame;
- ``generate(max_new, prime, prompt, output, plot, temperature, seed)``: samples a new
  piece (``rnnkit generate RUN --steps 64 --prime 8 --output chorale.mid``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..data.batches import batches
from ..data.datasets import DataError
from ..data.music import NUM_KEYS, load_jsb, midi_to_roll, plot_roll, roll_to_midi
from ..models import piano_roll  # noqa: F401  (registers PianoRollLM)
from ..training.config import TaskConfig, number
from .base import Context, Task, TaskError, register
from .predictor import Predictor, Stream

MIDI_SUFFIXES = (".mid", ".midi")


@dataclass
class MusicConfig(TaskConfig):
    name: str = "music"
    transpose: int = number(0, 0, 12)  # train on copies shifted by -n..+n semitones too


def transposed(roll: np.ndarray, shift: int) -> np.ndarray | None:
    """``roll`` shifted by ``shift`` semitones, or None when a note would leave the keyboard."""
    if shift == 0:
        return roll
    used = np.flatnonzero(roll.any(0))
    if used.size and not (0 <= used[0] + shift and used[-1] + shift < roll.shape[1]):
        return None
    return np.roll(roll, shift, axis=1)


def to_tensors(rolls: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """Rolls -> ``x`` (N, T, 88) previous frames (zero frame first), ``y`` (N, T, 88) the
    frames, ``lengths`` (N,), padded with zeros to the longest."""
    T = max(len(r) for r in rolls)
    y = torch.zeros(len(rolls), T, NUM_KEYS)
    for i, r in enumerate(rolls):
        y[i, :len(r)] = torch.from_numpy(r.astype(np.float32))
    x = torch.cat([torch.zeros(len(rolls), 1, NUM_KEYS), y[:, :-1]], dim=1)  # (N, T, 88)
    return {"x": x, "y": y, "lengths": torch.tensor([len(r) for r in rolls])}


def read_midi(path: str | Path, what: str = "") -> np.ndarray:
    """A MIDI file as a (T, 88) roll; a missing or unreadable file is a TaskError naming it
    (``what``: how the user gave it, e.g. ``--prompt``)."""
    name = f"{what} {path}".strip()
    if not Path(path).is_file():
        raise TaskError(f"{name}: no such MIDI file")
    try:
        return midi_to_roll(path)
    except (OSError, ValueError, EOFError, KeyError, IndexError) as e:
        raise TaskError(f"{name}: not a readable MIDI file ({e})") from None


def as_roll(item: Any, what: str) -> np.ndarray:
    """A (T, 88) sequence of frames -> a 0/1 uint8 roll (values > 0.5 count as on)."""
    try:
        a = np.asarray(item, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TaskError(f"{what} is not a sequence of frames ({e})") from None
    if a.ndim != 2 or a.shape[1] != NUM_KEYS or not len(a):
        raise TaskError(f"{what} must be a piano roll (T, {NUM_KEYS}) with T >= 1, got shape "
                        f"{a.shape}")
    if not np.isfinite(a).all():
        raise TaskError(f"{what} holds NaN or infinite values")
    return (a > 0.5).astype(np.uint8)


class MusicContext(Context):
    """The JSB chorales, read on first use (training, evaluation, or priming ``generate``
    with a test chorale)."""

    @cached_property
    def jsb(self) -> dict[str, list[np.ndarray]]:
        """``train``/``val``/``test`` rolls; a missing or corrupt file is a TaskError."""
        try:
            return load_jsb()
        except DataError as e:
            raise TaskError(str(e)) from None


class MusicTask(Task):
    name = "music"
    config_class = MusicConfig
    model_class = "PianoRollLM"
    context_class = MusicContext
    capabilities = frozenset({"generate", "stream"})
    fixed_model_args = frozenset({"num_units"})

    def make_splits(self, ctx: MusicContext):
        n = ctx.task_cfg.transpose
        train = [t for r in ctx.jsb["train"] for s in range(-n, n + 1)
                 if (t := transposed(r, s)) is not None]
        return {"train": to_tensors(train), "val": to_tensors(ctx.jsb["val"]),
                "test": to_tensors(ctx.jsb["test"])}

    def model_args(self, ctx) -> dict[str, Any]:
        return {"num_units": NUM_KEYS}

    @torch.no_grad()
    def extra_metrics(self, ctx, model, split):
        """``frame_accuracy`` over the whole split (the model's is a per-batch average)."""
        data = self.batches(ctx)[split]
        model.eval()
        device = next(model.parameters()).device
        tp = union = 0
        for batch in batches(data, ctx.cfg.train.batch_size):
            logits = model(batch["x"].to(device), batch["lengths"]).logits.cpu()  # (B, T, 88)
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
    """Inputs: piano rolls (T, 88) of 0/1 (values > 0.5 count as on), or paths of MIDI
    files (read one step per quarter note, see :func:`~rnnkit.data.music.midi_to_roll`)."""

    def read_file(self, path, **options) -> list[Any]:
        """A MIDI file is one input (its path); ``.npy``/``.json``/``.csv`` hold rolls."""
        if Path(path).suffix.lower() in MIDI_SUFFIXES:
            return [str(path)]
        return super().read_file(path, **options)

    @torch.no_grad()
    def predict(self, inputs, **options) -> list[dict[str, Any]]:
        """Per input ``{"steps", "nll_per_step", "next_frame_probs"}``: the NLL (nats per
        step, summed over the 88 keys, an all-zero frame before the first) and each key's
        probability in the frame after the last; MIDI inputs add ``"file"``, and one that
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
                    roll = read_midi(item)
                except TaskError as e:
                    records[-1]["error"] = str(e)
                    continue
                if not len(roll):
                    records[-1]["error"] = f"{item}: the MIDI file holds no steps"
                    continue
            else:
                records.append({})
                roll = as_roll(item, f"music input {i}")
            rolls.append((len(records) - 1, roll))
        if rolls:
            for (k, _), scored in zip(rolls, self._score([r for _, r in rolls])):
                records[k].update(scored)
        return records

    def _score(self, rolls: list[np.ndarray]) -> list[dict[str, Any]]:
        """One forward pass over the zero frame and each roll, padded to the longest."""
        lengths = torch.tensor([len(r) for r in rolls])
        full = torch.zeros(len(rolls), int(lengths.max()) + 1, NUM_KEYS)  # (N, T+1, 88)
        for i, r in enumerate(rolls):
            full[i, 1:len(r) + 1] = torch.from_numpy(r.astype(np.float32))
        logits = self.model(full.to(self.device), lengths + 1).logits.cpu()  # (N, T+1, 88)
        out = []
        for i, T in enumerate(lengths.tolist()):
            nll = F.binary_cross_entropy_with_logits(logits[i, :T], full[i, 1:T + 1],
                                                     reduction="sum")
            out.append({"steps": T, "nll_per_step": float(nll) / T,
                        "next_frame_probs": _probs(logits[i, T])})
        return out

    def stream(self, **options) -> MusicStream:
        """A :class:`MusicStream`: the piece so far, one frame at a time."""
        return MusicStream(self.model)

    def generate(self, prompt: str | None = None, max_new: int = 64, prime: int = 0,
                 output: str | None = None, plot: str | None = None,
                 temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 seed: int | None = 0) -> dict[str, Any]:
        """Sample ``max_new`` frames after a prime: the first ``prime`` steps of the MIDI
        file ``prompt`` (the whole file with ``prime = 0``), or of test chorale 0 when
        there is no prompt (this reads the JSB data); nothing with neither.

        Each key is drawn on or off from its probability, the logits divided by
        ``temperature`` (0: on when above 0.5, deterministic); ``top_k``/``top_p`` do not
        apply to independent keys. ``seed`` fixes the draw. Writes ``output`` (MIDI: prime
        and new steps) and ``plot`` (PNG piano roll) when given.

        Returns ``{"prime_steps", "steps", "notes_per_step", "generated"}`` (the MIDI
        pitches sounding at each new step) and ``"output"``/``"plot"`` when written.
        """
        if top_k or (top_p is not None and top_p != 1.0):
            raise TaskError("music draws each key on or off by itself: top-k and top-p do "
                            "not apply (use temperature)")
        if temperature < 0:
            raise TaskError(f"temperature must be >= 0, got {temperature}")
        if max_new < 0:
            raise TaskError(f"--steps must be >= 0, got {max_new}")
        steps = int(max_new)
        start = self._prime(prompt, int(prime or 0))
        g = torch.Generator(device=self.device)
        g.manual_seed(int(seed or 0))
        new = self.model.generate(steps, prime=torch.from_numpy(start).float(),
                                  temperature=float(temperature),
                                  generator=g).cpu().numpy().astype(np.uint8)  # (steps, 88)
        roll = np.vstack([start, new])
        result: dict[str, Any] = {
            "prime_steps": len(start), "steps": steps,
            "notes_per_step": float(new.sum(1).mean()) if steps else 0.0,
            "generated": [(np.flatnonzero(f) + 21).tolist() for f in new]}
        if output:
            result["output"] = str(roll_to_midi(roll, output))
        if plot:
            result["plot"] = str(plot_roll(roll, plot, prime=len(start),
                                           title=f"{len(start)} primed + {steps} sampled steps"))
        return result

    def _prime(self, prompt: str | None, n: int) -> np.ndarray:
        if n < 0:
            raise TaskError(f"--prime must be >= 0, got {n}")
        if prompt:
            source = read_midi(prompt, "--prompt")
        else:
            source = self.context.jsb["test"][0] if n else np.zeros((0, NUM_KEYS), np.uint8)
        if n > len(source):
            raise TaskError(f"--prime {n}: the priming piece has only {len(source)} steps")
        return source[:n] if n or not prompt else source


class MusicStream(Stream):
    """A piece one frame at a time. :meth:`push` takes the next frame (88 values, > 0.5 =
    key on) and returns ``{"step", "nll", "nll_per_step", "next_frame_probs"}``: that
    frame's NLL under the model's prediction before it, the running mean, and each key's
    probability in the frame to come. Fed a whole piece, the last record equals
    ``predict([piece])``."""

    def __init__(self, model):
        self.model = model
        self.reset()

    @torch.no_grad()
    def reset(self) -> None:
        """Start a new piece: the prediction for its first frame (after the zero frame)."""
        device = next(self.model.parameters()).device
        self._logits, self._state = self.model.step(torch.zeros(1, NUM_KEYS, device=device))
        self._steps, self._total = 0, 0.0

    @torch.no_grad()
    def push(self, x_t) -> dict[str, Any]:
        frame = as_roll(np.asarray(x_t, dtype=np.float64).reshape(1, -1),
                        f"stream frame {self._steps}")
        y = torch.from_numpy(frame.astype(np.float32)).to(self._logits.device)  # (1, 88)
        nll = float(F.binary_cross_entropy_with_logits(self._logits, y, reduction="sum"))
        self._logits, self._state = self.model.step(y, self._state)
        self._steps += 1
        self._total += nll
        return {"step": self._steps, "nll": nll, "nll_per_step": self._total / self._steps,
                "next_frame_probs": _probs(self._logits[0].cpu())}


register(MusicTask())
