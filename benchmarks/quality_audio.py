"""Audio quality benchmark: music (JSB chorales) and spoken digits (FSDD), rnnkit beside peers.

    RNNKIT_DATA=../shared/data python benchmarks/quality_audio.py \
        [--music-runs RUN ...] [--speech-runs RUN ...] [--ctc-runs RUN ...]

Runs ``quality_music.py`` (per-unit frequencies, first-order logistic model, Chung et al.
2014's published NLLs, and the given music runs) then ``quality_speech.py`` (MFCC statistics +
SVM / logistic regression on the official and leave-one-speaker-out splits, and the given
runs); each prints its table. Train the runs first with ``rnnkit train examples/chorales.toml``,
``examples/digits.toml`` and ``examples/digit-strings.toml``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--music-runs", nargs="*", default=[])
    p.add_argument("--speech-runs", nargs="*", default=[])
    p.add_argument("--ctc-runs", nargs="*", default=[])
    args = p.parse_args()
    music = [sys.executable, str(HERE / "quality_music.py"), "--runs", *args.music_runs]
    speech = [sys.executable, str(HERE / "quality_speech.py"), "--runs", *args.speech_runs,
              "--ctc-run", *args.ctc_runs]
    for cmd in (music, speech):
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
