"""Write examples/data/keywords/: four spoken keywords (Speech Commands words) in the
Speech Commands layout that `rnnkit train examples/keywords-folder.toml` reads,

    keywords/<word>/<speaker>_nohash_<n>.wav      (8 kHz mono, 16-bit)

spoken by ten synthetic speakers (espeak-ng voices: an accent, a voice variant and a
speed each), silence trimmed. The file names tell the task who speaks, so the split keeps
each speaker in one part. Needs the espeak-ng program (Debian/Ubuntu: apt install espeak-ng) and
rnnkit's audio extra; the committed files are what this wrote with espeak-ng 1.51.

    python examples/data/make_keywords.py      # rewrites keywords/ (deterministic)
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from rnnkit.data.audio import read_audio

WORDS = ("yes", "no", "up", "down")
SPEAKERS = {  # name: (voice, words per minute)
    "amy": ("en-us+f2", 150), "ben": ("en-gb+m3", 170), "cal": ("en-gb-scotland+m1", 160),
    "dee": ("en-029+f4", 180), "eve": ("en-gb-x-rp+f1", 140), "fin": ("en-us+m5", 190),
    "gus": ("en-gb-x-gbclan+m2", 165), "hal": ("en-gb-x-gbcwmd+m7", 175),
    "ivy": ("en-us+f5", 155), "jo": ("en-gb-x-rp+f3", 185)}
RATE = 8000


def trimmed(signal: np.ndarray, margin: float = 0.03) -> np.ndarray:
    """The signal from its first to its last sample above 2% of its peak, with ``margin``
    seconds of what surrounds it."""
    loud = np.flatnonzero(np.abs(signal) > 0.02 * np.abs(signal).max())
    pad = int(margin * RATE)
    return signal[max(loud[0] - pad, 0):loud[-1] + pad]


def main() -> None:
    out = Path(__file__).with_name("keywords")
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        for word in WORDS:
            (out / word).mkdir(parents=True)
            for speaker, (voice, speed) in SPEAKERS.items():
                raw = Path(tmp) / "raw.wav"
                subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw),
                                word], check=True)
                signal = trimmed(read_audio(raw, RATE))  # 22.05 kHz -> 8 kHz
                sf.write(out / word / f"{speaker}_nohash_0.wav",
                         0.9 * signal / np.abs(signal).max(), RATE, subtype="PCM_16")
    print(f"wrote {sum(1 for _ in out.rglob('*.wav'))} recordings to {out}")


if __name__ == "__main__":
    main()
