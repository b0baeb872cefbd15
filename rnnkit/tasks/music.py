"""Polyphonic music: next-frame prediction on the JSB chorales piano rolls.

A :class:`~rnnkit.models.piano_roll.PianoRollLM` reads the previous frame (an all-zero frame
before t = 0, so every frame is scored) and predicts the next one as 88 independent
Bernoullis. ``nll_per_step`` is the total test NLL / number of test frames (4,725), summed
over the 88 units: the convention of Boulanger-Lewandowski et al. (2012) and Chung et al.
(2014), whose GRU scores 8.54 nats. ``frame_accuracy`` is TP / (TP + FP + FN) over all
test frames (Bay et al. 2009), predicting a key when its probability exceeds 0.5.

``rnnkit generate RUN --steps 64 [--prime N] [--prompt FILE.mid] --output chorale.mid
[--temperature T] [--plot roll.png]`` samples a new chorale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.batches import batches
from ..data.datasets import DataError
from ..data.music import NUM_KEYS, load_jsb, midi_to_roll, plot_roll, roll_to_midi
from ..models import piano_roll  # noqa: F401  (registers PianoRollLM)
from ..training.config import TaskConfig, number
from .base import Task, TaskError, register


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


def jsb() -> dict[str, list[np.ndarray]]:
    """The JSB splits; a missing or corrupt file is a TaskError (a one-line CLI message)."""
    try:
        return load_jsb()
    except DataError as e:
        raise TaskError(str(e)) from None


class MusicTask(Task):
    name = "music"
    config_class = MusicConfig
    model_class = "PianoRollLM"

    def data(self, cfg: MusicConfig, seed: int):
        splits = jsb()
        train = [t for r in splits["train"] for s in range(-cfg.transpose, cfg.transpose + 1)
                 if (t := transposed(r, s)) is not None]
        return {"train": to_tensors(train), "val": to_tensors(splits["val"]),
                "test": to_tensors(splits["test"])}

    def model_args(self, cfg: MusicConfig) -> dict[str, Any]:
        return {"num_units": NUM_KEYS}

    @torch.no_grad()
    def extra_metrics(self, model, data, batch_size):
        """``frame_accuracy`` over the whole split (the model's is a per-batch average)."""
        model.eval()
        device = next(model.parameters()).device
        tp = union = 0
        for batch in batches(data, batch_size):
            logits = model(batch["x"].to(device), batch["lengths"]).logits.cpu()  # (B, T, 88)
            T = logits.shape[1]
            valid = (torch.arange(T)[None] < batch["lengths"][:, None]).unsqueeze(-1)
            pred, truth = (logits > 0) & valid, (batch["y"] > 0.5) & valid
            tp += int((pred & truth).sum())
            union += int((pred | truth).sum())
        return {"frame_accuracy": tp / max(union, 1), "frames": float(data["lengths"].sum())}

    @torch.no_grad()
    def predict(self, model, inputs, cfg: MusicConfig):
        """``inputs`` a roll (T, 88) or rolls (N, T, 88) of 0/1: the NLL per step of each
        and the probabilities of the frame after the last."""
        if inputs.dim() == 2:
            inputs = inputs[None]
        if inputs.dim() != 3 or inputs.shape[-1] != NUM_KEYS:
            raise TaskError(f"music inputs must be piano rolls (T, {NUM_KEYS}) or "
                            f"(N, T, {NUM_KEYS}), got shape {tuple(inputs.shape)}")
        rolls = [r.numpy() for r in (inputs > 0.5).to(torch.uint8)]
        batch = to_tensors(rolls)
        device = next(model.parameters()).device
        model.eval()
        nll = model.compute_loss({k: v.to(device) for k, v in batch.items()}).loss.item()
        full = torch.cat([batch["x"][:, :1], batch["y"]], dim=1)  # zero frame + the rolls
        last = model(full.to(device)).logits[:, -1]  # (N, 88): the frame after the last
        return {"nll_per_step": nll, "next_frame_probs": torch.sigmoid(last).cpu().tolist()}

    def generate(self, model, cfg: MusicConfig, options: dict[str, Any]):
        """Sample ``steps`` frames (``--steps``/``--max-new``), primed with the first
        ``--prime N`` steps of ``--prompt FILE.mid`` (default: test chorale 0); writes
        ``--output FILE.mid`` (prime + new steps) and ``--plot FILE.png`` when given."""
        steps = int(options.get("steps") or options.get("max_new") or 64)
        prime_steps = int(options.get("prime") or 0)
        prime = self._prime(options.get("prompt"), prime_steps)
        g = torch.Generator(device=next(model.parameters()).device)
        g.manual_seed(int(options.get("seed") or 0))
        model.eval()
        new = model.generate(steps, prime=torch.from_numpy(prime).float(),
                             temperature=float(options.get("temperature", 1.0)),
                             generator=g).cpu().numpy().astype(np.uint8)  # (steps, 88)
        roll = np.vstack([prime, new])
        result: dict[str, Any] = {
            "prime_steps": len(prime), "steps": steps,
            "notes_per_step": float(new.sum(1).mean()) if steps else 0.0,
            "generated": [(np.flatnonzero(f) + 21).tolist() for f in new]}
        if options.get("output"):
            result["output"] = str(roll_to_midi(roll, options["output"]))
        if options.get("plot"):
            result["plot"] = str(plot_roll(roll, options["plot"], prime=len(prime),
                                           title=f"{len(prime)} primed + {steps} sampled steps"))
        return result

    def _prime(self, prompt: str | None, n: int) -> np.ndarray:
        if n < 0:
            raise TaskError(f"--prime must be >= 0, got {n}")
        if prompt:
            if not Path(prompt).is_file():
                raise TaskError(f"--prompt {prompt}: no such MIDI file")
            try:
                source = midi_to_roll(prompt)
            except (OSError, ValueError, EOFError) as e:
                raise TaskError(f"--prompt {prompt}: not a readable MIDI file ({e})") from None
        else:
            source = jsb()["test"][0] if n else np.zeros((0, NUM_KEYS), np.uint8)
        if n > len(source):
            raise TaskError(f"--prime {n}: the priming piece has only {len(source)} steps")
        return source[:n] if n or not prompt else source


register(MusicTask())
