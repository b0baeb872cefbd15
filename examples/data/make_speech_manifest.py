"""Write a small speech set for transcription with CTC (``examples/transcribe-manifest.toml``):
short sentences of a few words, as audio files and JSON-lines manifests in the NeMo layout
(``{"audio_filepath", "text", "duration", "speaker"}``, paths relative to the manifest).

    python examples/data/make_speech_manifest.py                  # espeak-ng, else FSDD
    python examples/data/make_speech_manifest.py --source fsdd    # needs RNNKIT_DATA

Sources:

- ``espeak``: sentences of 2..4 words from a vocabulary of 30, spoken by the ``espeak-ng``
  synthesiser (Debian/Ubuntu: ``apt-get install espeak-ng``) in ``--speakers`` voices (an
  accent and a voice variant each, with its own pitch and speed; the rate varies a little
  per sentence). A voice is a speaker.
- ``fsdd``: 2..4 Free Spoken Digit Dataset recordings of one speaker joined by short
  silences, with their digits written as words ("three one four"); six speakers. Needs the
  recordings under ``$RNNKIT_DATA/speech/fsdd/recordings``.

The speakers are split into train/val/test (``--val-speakers``, ``--test-speakers``, by a
seeded shuffle), so the test manifest holds voices the model never heard. Files: ``OUT/
train.jsonl``, ``val.jsonl``, ``test.jsonl`` and ``all.jsonl`` (every line, for
``task.data``), and ``OUT/audio/<speaker>/<n>.flac`` (8 kHz mono, 16-bit FLAC); OUT gets a
``.gitignore`` of its own (the set is made, not committed: some 12 MB). The same
arguments write the same sentences, voices and splits (espeak-ng's own output may differ
slightly between its versions).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

RATE = 8000
WORDS = ("red green blue black white yellow cat dog bird fish horse mouse runs jumps sleeps "
         "eats sings swims one two three four five six big small happy quick over under "
         "near").split()
ACCENTS = ("en", "en-us", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-us-nyc")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
DIGIT_WORDS = ("zero one two three four five six seven eight nine").split()


def espeak_voices(n: int, seed: int) -> list[tuple[str, int, int]]:
    """``n`` distinct voices ``(accent+variant, pitch 0..99, words per minute)``."""
    rng = random.Random(seed)
    combos = [f"{a}+{v}" for a in ACCENTS for v in VARIANTS]
    rng.shuffle(combos)
    if n > len(combos):
        raise SystemExit(f"--speakers {n}: at most {len(combos)} espeak voices")
    return [(c, rng.randint(25, 75), rng.randint(140, 185)) for c in combos[:n]]


def espeak(text: str, voice: str, pitch: int, speed: int, tmp: Path) -> np.ndarray:
    """``text`` spoken by espeak-ng, as a float32 signal at ``RATE``."""
    import librosa
    import soundfile as sf

    wav = tmp / "u.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w",
                    str(wav), text], check=True, capture_output=True)
    audio, rate = sf.read(wav, dtype="float32")
    return librosa.resample(audio, orig_sr=rate, target_sr=RATE)


def espeak_set(speakers: int, per_speaker: int, seed: int):
    """``{speaker: [(signal, text), ...]}`` synthesised by espeak-ng."""
    rng = random.Random(seed + 1)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for voice, pitch, speed in espeak_voices(speakers, seed):
            items = []
            for _ in range(per_speaker):
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4)))
                rate = speed + rng.randint(-10, 10)
                items.append((espeak(text, voice, pitch, rate, Path(tmp)), text))
            out[voice] = items
    return out


def fsdd_set(per_speaker: int, seed: int):
    """``{speaker: [(signal, text), ...]}`` joined from FSDD recordings of each speaker."""
    import soundfile as sf

    folder = Path(os.environ.get("RNNKIT_DATA", "~/.cache/rnnkit")).expanduser()
    files = sorted((folder / "speech/fsdd/recordings").glob("*.wav"))
    if not files:
        raise SystemExit(f"no FSDD recordings in {folder}/speech/fsdd/recordings: set "
                         "RNNKIT_DATA to the folder holding speech/fsdd/")
    by_speaker: dict[str, list[Path]] = {}
    for f in files:
        by_speaker.setdefault(f.stem.split("_")[1], []).append(f)
    rng = np.random.default_rng(seed)
    out = {}
    for speaker, paths in sorted(by_speaker.items()):
        items = []
        for _ in range(per_speaker):
            pick = [paths[i] for i in rng.integers(0, len(paths), size=rng.integers(2, 5))]
            parts, words = [np.zeros(int(rng.uniform(0.05, 0.2) * RATE), np.float32)], []
            for p in pick:
                audio, rate = sf.read(p, dtype="float32")
                assert rate == RATE, p
                parts += [audio, np.zeros(int(rng.uniform(0.05, 0.25) * RATE), np.float32)]
                words.append(DIGIT_WORDS[int(p.name[0])])
            items.append((np.concatenate(parts), " ".join(words)))
        out[speaker] = items
    return out


def write_set(sets: dict, out: Path, val_speakers: int, test_speakers: int, seed: int) -> dict:
    """Audio files and the manifests; returns ``{split: number of utterances}``."""
    import soundfile as sf

    speakers = sorted(sets)
    random.Random(seed + 2).shuffle(speakers)
    if len(speakers) < val_speakers + test_speakers + 1:
        raise SystemExit(f"{len(speakers)} speakers: too few for {val_speakers} validation "
                         f"and {test_speakers} test speakers and a training one")
    split_of = {s: "test" for s in speakers[:test_speakers]}
    split_of.update({s: "val" for s in speakers[test_speakers:test_speakers + val_speakers]})
    if (out / "audio").exists():
        shutil.rmtree(out / "audio")
    lines: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for speaker in sorted(sets):
        folder = out / "audio" / speaker.replace("+", "_")
        folder.mkdir(parents=True)
        for n, (signal, text) in enumerate(sets[speaker]):
            path = folder / f"{n:03d}.flac"
            sf.write(path, np.clip(signal, -1, 1), RATE, subtype="PCM_16")
            line = {"audio_filepath": str(path.relative_to(out)), "text": text,
                    "duration": round(len(signal) / RATE, 3), "speaker": speaker}
            lines[split_of.get(speaker, "train")].append(json.dumps(line))
    for split, rows in lines.items():
        (out / f"{split}.jsonl").write_text("".join(r + "\n" for r in rows))
    (out / "all.jsonl").write_text("".join(r + "\n" for rows in lines.values() for r in rows))
    return {split: len(rows) for split, rows in lines.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "speech")
    parser.add_argument("--source", choices=("auto", "espeak", "fsdd"), default="auto",
                        help="auto: espeak when espeak-ng is installed, else fsdd")
    parser.add_argument("--speakers", type=int, default=32, help="espeak voices")
    parser.add_argument("--per-speaker", type=int, default=None,
                        help="utterances per speaker (default 24; fsdd 100)")
    parser.add_argument("--val-speakers", type=int, default=None, help="default 3 (fsdd 1)")
    parser.add_argument("--test-speakers", type=int, default=None, help="default 5 (fsdd 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    source = args.source
    if source == "auto":
        source = "espeak" if shutil.which("espeak-ng") else "fsdd"
    if source == "espeak":
        if not shutil.which("espeak-ng"):
            raise SystemExit("espeak-ng is not installed (apt-get install espeak-ng); or use "
                             "--source fsdd")
        sets = espeak_set(args.speakers, args.per_speaker or 24, args.seed)
        val, test = args.val_speakers or 3, args.test_speakers or 5
    else:
        sets = fsdd_set(args.per_speaker or 100, args.seed)
        val, test = args.val_speakers or 1, args.test_speakers or 1
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / ".gitignore").write_text("*\n")  # generated: never committed
    counts = write_set(sets, args.out, val, test, args.seed)
    print(f"{source}: wrote {counts} utterances under {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
