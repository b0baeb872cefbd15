"""Write examples/data/midi/: 24 short made-up pieces as standard MIDI files, a sample of the
folder `rnnkit train examples/music-folder.toml` reads (any .mid/.midi files, any depth).

Each piece is four bars of 4/4 in a major key: block chords of a I-IV-V-I or I-vi-IV-V
progression in the left hand (half notes) and a stepwise melody over the chord in the right
hand (eighth and quarter notes), on two tracks, as a sequencer would save it.

    python examples/data/make_midi.py        # rewrites midi/ (deterministic; needs mido)
"""

import random
import shutil
from pathlib import Path

import mido

TPB = 96  # ticks per quarter note
MAJOR = (0, 2, 4, 5, 7, 9, 11)
PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 3, 4))  # scale degrees of the chord roots, one a bar


def chord(key: int, degree: int) -> list[int]:
    """The triad on ``degree`` of ``key`` major, around C3."""
    notes = [MAJOR[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]
    return [48 + key + n for n in notes]


def track(notes: list[tuple[int, int, int]]) -> mido.MidiTrack:
    """(pitch, start tick, end tick) -> a track of note_on/note_off in time order."""
    events = sorted([(s, 1, p) for p, s, _ in notes] + [(e, 0, p) for p, _, e in notes])
    out, last = mido.MidiTrack(), 0
    for tick, on, pitch in events:
        out.append(mido.Message("note_on" if on else "note_off", note=pitch,
                                velocity=72 if on else 0, time=tick - last))
        last = tick
    return out


def piece(rng: random.Random) -> mido.MidiFile:
    key = rng.choice((0, 2, 5, 7, 9, 10))  # C, D, F, G, A, B-flat major
    left, right = [], []
    pitch = 72 + key
    for bar, degree in enumerate(rng.choice(PROGRESSIONS)):
        start = bar * 4 * TPB
        for half in (0, 2 * TPB):
            left += [(p, start + half, start + half + 2 * TPB) for p in chord(key, degree)]
        t = start
        while t < start + 4 * TPB:
            length = rng.choice((TPB // 2, TPB // 2, TPB))
            scale = [72 + key + MAJOR[d % 7] + 12 * (d // 7) for d in range(-3, 8)]
            target = pitch + rng.choice((-2, -1, 1, 2))
            pitch = min(scale, key=lambda s: abs(s - target))
            right.append((pitch, t, t + length))
            t += length
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    mid.tracks += [track(right), track(left)]
    return mid


def main() -> None:
    out = Path(__file__).with_name("midi")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    rng = random.Random(0)
    for i in range(24):
        piece(rng).save(str(out / f"piece{i:02d}.mid"))
    print(f"wrote 24 MIDI files to {out}")


if __name__ == "__main__":
    main()
