"""Piano rolls: the JSB chorales, and conversion to and from standard MIDI files (mido).

A piano roll is a (T, K) array of 0/1: row t holds the keys sounding at step t, column k
the MIDI pitch ``lowest + k``. The JSB chorales use the piano's 88 keys (``LOWEST_PITCH``
21 = A0 .. 108 = C8) at one step per quarter note. In MIDI a step lasts ``ticks_per_step``
ticks (a quarter note is the file's ``ticks_per_beat``), so the roll follows the score's
beats, not the tempo; a key held over consecutive steps is one sustained note (the roll
cannot tell a repeated note from a held one). :func:`transposed` shifts a roll's keys;
:func:`to_tensors` pads rolls into the (previous frame, frame) tensors a model trains on.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._optional import pyplot, require
from .datasets import DataError, fetch, is_hidden

LOWEST_PITCH = 21  # A0
NUM_KEYS = 88  # A0 .. C8
JSB_SPLITS = {"train": "train", "val": "valid", "test": "test"}  # ours -> the file's keys
MIDI_SUFFIXES = (".mid", ".midi")
DRUM_CHANNEL = 9  # General MIDI channel 10 (counted from 0): percussion, not pitches


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


def midi_ticks(steps_per_quarter: int) -> tuple[int, int]:
    """(ticks_per_beat, ticks_per_step) for writing rolls of ``steps_per_quarter``: 480
    ticks a beat when that divides evenly, else the least multiple of 480 that does."""
    beat = math.lcm(480, int(steps_per_quarter))
    return beat, beat // int(steps_per_quarter)


def roll_to_midi(roll: np.ndarray, path: str | Path, *, ticks_per_step: int = 480,
                 ticks_per_beat: int = 480, bpm: float = 100.0, velocity: int = 80,
                 program: int = 0, lowest: int = LOWEST_PITCH) -> Path:
    """Write a (T, K) roll (column k = pitch ``lowest + k``) as a one-track standard MIDI
    file (type 1) with mido."""
    mido = require("mido", "music")

    roll = np.asarray(roll) > 0
    if roll.ndim != 2 or not 0 <= lowest <= lowest + roll.shape[1] - 1 <= 127:
        raise ValueError(f"a piano roll is (T, K) with pitches {lowest}..{lowest}+K-1 within "
                         f"0..127, got shape {roll.shape}")
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    track.append(mido.Message("program_change", program=program, time=0))
    edge = np.zeros((1, roll.shape[1]), bool)
    padded = np.vstack([edge, roll, edge])
    last_tick = 0
    for t in range(1, padded.shape[0]):
        tick = (t - 1) * ticks_per_step
        offs = np.flatnonzero(padded[t - 1] & ~padded[t])
        ons = np.flatnonzero(padded[t] & ~padded[t - 1])
        for kind, keys in (("note_off", offs), ("note_on", ons)):
            for k in keys:
                track.append(mido.Message(kind, note=int(k) + lowest,
                                          velocity=velocity if kind == "note_on" else 0,
                                          time=tick - last_tick))
                last_tick = tick
    end = roll.shape[0] * ticks_per_step
    track.append(mido.MetaMessage("end_of_track", time=max(end - last_tick, 0)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(str(path))
    return path


@dataclass
class MidiRoll:
    """A MIDI file read into a roll, with what was left out of it."""

    roll: np.ndarray  # (T, K) uint8
    notes: int  # notes in the roll
    out_of_range: int  # notes outside the roll's pitches, dropped
    drums: int  # percussion notes (channel 10), dropped unless asked for

    def note(self, lowest: int, keys: int) -> str:
        """What was dropped, in words ("" when nothing was)."""
        parts = []
        if self.out_of_range:
            parts.append(f"{self.out_of_range} note(s) outside pitches "
                         f"{lowest}..{lowest + keys - 1}")
        if self.drums:
            parts.append(f"{self.drums} percussion note(s) (channel 10)")
        return " and ".join(parts) + " left out" if parts else ""


def read_midi_roll(path: str | Path, *, steps_per_quarter: int = 1,
                   ticks_per_step: float | None = None, lowest: int = LOWEST_PITCH,
                   keys: int = NUM_KEYS, drums: bool = False) -> MidiRoll:
    """Read a MIDI file into a (T, ``keys``) roll of pitches ``lowest``.., one step per
    ``ticks_per_step`` ticks (default: a quarter note / ``steps_per_quarter``), as long as
    the longest track.

    All tracks and channels are merged. Onsets and ends are snapped to the nearest step
    boundary; a note shorter than a step still sounds at its onset step; a note left
    sounding at the end of its track ends there. Notes outside the pitch range and, unless
    ``drums``, percussion (channel 10) are left out and counted. A file timed in SMPTE
    frames reads as if at 120 bpm. A file mido cannot parse, or one with 0 ticks a quarter
    note, is a :class:`DataError` naming it.
    """
    mido = require("mido", "music")
    try:
        mid = mido.MidiFile(str(path))
    except Exception as e:  # mido raises many kinds on a corrupt file; all mean unreadable
        why = str(e) or ("the file ends too early" if isinstance(e, EOFError)
                         else type(e).__name__)
        raise DataError(f"{path}: not a readable MIDI file ({why})") from None
    beat = mid.ticks_per_beat
    if beat < 0:  # SMPTE time (-frames a second, ticks a frame): a beat at 120 bpm, 0.5 s
        beat = -(beat >> 8) * (beat & 0xFF) / 2
    if not beat and not ticks_per_step:
        raise DataError(f"{path}: not a readable MIDI file (its header gives 0 ticks per "
                        "quarter note)")
    step = ticks_per_step or beat / steps_per_quarter
    notes: list[tuple[int, int, int, int]] = []  # (channel, pitch, start tick, end tick)
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
                    notes.append((msg.channel, msg.note, start, tick))
        notes.extend((ch, note, start, tick) for (ch, note), start in sounding.items())
        last_tick = max(last_tick, tick)
    spans = [(ch, p, round(s / step), max(round(e / step), round(s / step) + 1))
             for ch, p, s, e in notes]
    length = max([round(last_tick / step)] + [end for *_, end in spans])
    roll = np.zeros((length, keys), dtype=np.uint8)
    kept = out_of_range = percussion = 0
    for channel, pitch, start, end in spans:
        if channel == DRUM_CHANNEL and not drums:
            percussion += 1
        elif not 0 <= pitch - lowest < keys:
            out_of_range += 1
        else:
            roll[start:end, pitch - lowest] = 1
            kept += 1
    return MidiRoll(roll, kept, out_of_range, percussion)


def midi_to_roll(path: str | Path, **options) -> np.ndarray:
    """The roll of :func:`read_midi_roll` alone (default: 88 keys, quarter-note steps)."""
    return read_midi_roll(path, **options).roll


def midi_files(folder: str | Path) -> list[Path]:
    """The MIDI files (``.mid``/``.midi``, any case) under ``folder``, searched
    recursively, in sorted order of their paths; hidden files and folders (``.name``:
    macOS's ``._song.mid`` resource forks) and ``__MACOSX`` (a macOS zip's copies of them)
    are passed over."""
    root = Path(folder)
    return sorted(p for p in root.rglob("*")
                  if p.suffix.lower() in MIDI_SUFFIXES and p.is_file() and not is_hidden(p, root))


def read_midi_folder(path: str | Path, *, lowest: int = LOWEST_PITCH, keys: int = NUM_KEYS,
                     drums: bool = False, **options) -> list[np.ndarray]:
    """The rolls of a MIDI file, or of every MIDI file under a folder (:func:`midi_files`
    order), read by :func:`read_midi_roll`.

    In a folder, a file that cannot be used is skipped: one mido cannot read (truncated,
    not MIDI at all) or one with no notes left in the roll's pitches. One warning counts
    the notes left out of the files read and the skipped files, and names the first 10
    (``path: reason``). A single file named by itself is never skipped: it reads or is an
    error. Errors (:class:`DataError`, naming the file or folder): a folder with no MIDI
    file, a folder where no file can be used (the first 5 named with their reasons), a
    single file mido cannot read or with no notes left."""
    path = Path(path)
    folder = path.is_dir()
    files = midi_files(path) if folder else [path]
    if not files:
        raise DataError(f"{path}: no MIDI files (.mid, .midi) in this folder or below it")
    pitches = f"pitches {lowest}..{lowest + keys - 1}"
    rolls, skipped, dropped = [], [], 0
    for f in files:
        try:
            read = read_midi_roll(f, lowest=lowest, keys=keys, drums=drums, **options)
        except DataError as e:  # "<f>: not a readable MIDI file (<why>)"
            if not folder:
                raise
            skipped.append(str(e))
            continue
        dropped += read.out_of_range + read.drums
        if read.notes:
            rolls.append(read.roll)
        elif folder:
            skipped.append(f"{f}: {read.note(lowest, keys) or 'no notes'}")
        else:
            raise DataError(f"{f}: no notes in {pitches} to learn from "
                            f"({read.note(lowest, keys) or 'the file holds none'})")
    if not rolls:
        more = " ..." if len(skipped) > 5 else ""
        raise DataError(f"{path}: none of its {len(files)} MIDI file(s) can be used (each is "
                        f"unreadable or holds no notes in {pitches}): "
                        f"{'; '.join(skipped[:5])}{more}")
    notes = []  # the list of skipped files last: its items are joined by "; " too
    if dropped:
        notes.append(f"left out {dropped} notes outside {pitches}"
                     f"{'' if drums else ' or on the drum channel'}")
    if skipped:
        more = " ..." if len(skipped) > 10 else ""
        notes.append(f"skipped {len(skipped)} of {len(files)} MIDI files that cannot be used: "
                     f"{'; '.join(skipped[:10])}{more}")
    if notes:
        warnings.warn(f"{path}: " + "; ".join(notes), stacklevel=2)
    return rolls


def plot_roll(roll: np.ndarray, path: str | Path, *, title: str = "", prime: int = 0,
              lowest: int = LOWEST_PITCH, step: str = "quarter note") -> Path:
    """Draw a (T, K) roll (time across, pitch up) to a PNG; a line marks the end of
    ``prime`` steps when given; ``step`` names how long a step is."""
    plt = pyplot()
    roll = np.asarray(roll)
    fig, ax = plt.subplots(figsize=(max(6.0, roll.shape[0] / 10), 4))
    ax.imshow(roll.T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest",
              extent=(0, roll.shape[0], lowest - 0.5, lowest + roll.shape[1] - 0.5))
    used = np.flatnonzero(roll.any(0))
    if used.size:
        ax.set_ylim(lowest + used[0] - 3, lowest + used[-1] + 3)
    if prime:
        ax.axvline(prime, color="tab:red", lw=1, label=f"end of prime ({prime} steps)")
        ax.legend(loc="upper right")
    ax.set_xlabel(f"step ({step})")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def transposed(roll: np.ndarray, shift: int) -> np.ndarray | None:
    """``roll`` shifted by ``shift`` semitones, or None when a note would leave its keys."""
    if shift == 0:
        return roll
    used = np.flatnonzero(roll.any(0))
    if used.size and not (0 <= used[0] + shift and used[-1] + shift < roll.shape[1]):
        return None
    return np.roll(roll, shift, axis=1)


def to_tensors(rolls: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """Rolls (T_i, K) -> ``x`` (N, T, K) previous frames (zero frame first), ``y`` (N, T, K)
    the frames, ``lengths`` (N,), padded with zeros to the longest."""
    T, K = max(len(r) for r in rolls), rolls[0].shape[1]
    y = torch.zeros(len(rolls), T, K)
    for i, r in enumerate(rolls):
        y[i, :len(r)] = torch.from_numpy(r.astype(np.float32))
    x = torch.cat([torch.zeros(len(rolls), 1, K), y[:, :-1]], dim=1)  # (N, T, K)
    return {"x": x, "y": y, "lengths": torch.tensor([len(r) for r in rolls])}
