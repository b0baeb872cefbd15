"""Piano rolls: the JSB chorales, and conversion to and from standard MIDI files (mido).

A piano roll is a (T, 88) array of 0/1: row t holds the keys sounding at step t, column k
the MIDI pitch ``LOWEST_PITCH + k`` (21 = A0 .. 108 = C8). In MIDI a step lasts
``ticks_per_step`` ticks (default one quarter note); a key held over consecutive steps is one
sustained note (the roll cannot tell a repeated note from a held one).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._optional import pyplot, require
from .datasets import DataError, fetch

LOWEST_PITCH = 21  # A0
NUM_KEYS = 88  # A0 .. C8
JSB_SPLITS = {"train": "train", "val": "valid", "test": "test"}  # ours -> the file's keys


def pitches_to_roll(steps: list[list[int]]) -> np.ndarray:
    """A list of steps, each the MIDI pitches sounding, -> a (T, 88) uint8 roll."""
    roll = np.zeros((len(steps), NUM_KEYS), dtype=np.uint8)
    for t, pitches in enumerate(steps):
        for p in pitches:
            k = int(p) - LOWEST_PITCH
            if not 0 <= k < NUM_KEYS:
                raise DataError(f"pitch {p} at step {t} lies outside the piano range 21..108")
            roll[t, k] = 1
    return roll


def load_jsb(root: Path | None = None) -> dict[str, list[np.ndarray]]:
    """The JSB chorales (Boulanger-Lewandowski et al. 2012 split, quarter-note steps) as
    ``{"train": 229, "val": 76, "test": 77}`` lists of (T, 88) rolls."""
    (path,) = fetch("jsb-chorales", root=root)
    raw = json.loads(Path(path).read_text())
    return {ours: [pitches_to_roll(seq) for seq in raw[theirs]]
            for ours, theirs in JSB_SPLITS.items()}


def roll_to_midi(roll: np.ndarray, path: str | Path, *, ticks_per_step: int = 480,
                 ticks_per_beat: int = 480, bpm: float = 100.0, velocity: int = 80,
                 program: int = 0) -> Path:
    """Write a (T, 88) roll as a one-track standard MIDI file (type 1) with mido."""
    mido = require("mido", "music")

    roll = np.asarray(roll) > 0
    if roll.ndim != 2 or roll.shape[1] != NUM_KEYS:
        raise ValueError(f"a piano roll is (T, {NUM_KEYS}), got shape {roll.shape}")
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    track.append(mido.Message("program_change", program=program, time=0))
    padded = np.vstack([np.zeros((1, NUM_KEYS), bool), roll, np.zeros((1, NUM_KEYS), bool)])
    last_tick = 0
    for t in range(1, padded.shape[0]):
        tick = (t - 1) * ticks_per_step
        offs = np.flatnonzero(padded[t - 1] & ~padded[t])
        ons = np.flatnonzero(padded[t] & ~padded[t - 1])
        for kind, keys in (("note_off", offs), ("note_on", ons)):
            for k in keys:
                track.append(mido.Message(kind, note=int(k) + LOWEST_PITCH,
                                          velocity=velocity if kind == "note_on" else 0,
                                          time=tick - last_tick))
                last_tick = tick
    end = roll.shape[0] * ticks_per_step
    track.append(mido.MetaMessage("end_of_track", time=max(end - last_tick, 0)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(str(path))
    return path


def midi_to_roll(path: str | Path, *, ticks_per_step: int | None = None) -> np.ndarray:
    """Read a MIDI file into a (T, 88) roll, one step per ``ticks_per_step`` ticks (default
    one quarter note), as long as the longest track. Notes are snapped to the nearest step
    boundary; all tracks and channels are merged; pitches outside 21..108 are dropped."""
    mido = require("mido", "music")

    mid = mido.MidiFile(str(path))
    step = ticks_per_step or mid.ticks_per_beat
    notes: list[tuple[int, int, int]] = []  # (pitch, start tick, end tick)
    last_tick = 0
    for track in mid.tracks:
        tick, sounding = 0, {}
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                sounding.setdefault((msg.channel, msg.note), tick)
            elif msg.type in ("note_off", "note_on"):
                start = sounding.pop((msg.channel, msg.note), None)
                if start is not None:
                    notes.append((msg.note, start, tick))
        last_tick = max(last_tick, tick)
    length = max([round(last_tick / step)] + [round(end / step) for _, _, end in notes])
    roll = np.zeros((length, NUM_KEYS), dtype=np.uint8)
    for pitch, start, end in notes:
        k = pitch - LOWEST_PITCH
        if 0 <= k < NUM_KEYS:
            roll[round(start / step):round(end / step), k] = 1
    return roll


def plot_roll(roll: np.ndarray, path: str | Path, *, title: str = "", prime: int = 0) -> Path:
    """Draw a (T, 88) roll (time across, pitch up) to a PNG; a line marks the end of
    ``prime`` steps when given."""
    plt = pyplot()
    roll = np.asarray(roll)
    fig, ax = plt.subplots(figsize=(max(6.0, roll.shape[0] / 10), 4))
    ax.imshow(roll.T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest",
              extent=(0, roll.shape[0], LOWEST_PITCH - 0.5, LOWEST_PITCH + NUM_KEYS - 0.5))
    used = np.flatnonzero(roll.any(0))
    if used.size:
        ax.set_ylim(LOWEST_PITCH + used[0] - 3, LOWEST_PITCH + used[-1] + 3)
    if prime:
        ax.axvline(prime, color="tab:red", lw=1, label=f"end of prime ({prime} steps)")
        ax.legend(loc="upper right")
    ax.set_xlabel("step (quarter note)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
