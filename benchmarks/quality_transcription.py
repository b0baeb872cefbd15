"""Transcription with CTC on a speech manifest set: character and word error rate on the
test manifest's speakers (voices the model never heard), greedy and beam decoding.

Trains ``--config`` (default ``examples/transcribe-manifest.toml``) unless ``--run`` names a
trained run, then evaluates its best checkpoint on the test manifest. ``--make`` first
writes the example set (``examples/data/make_speech_manifest.py``, espeak-ng or FSDD).

    python benchmarks/quality_transcription.py --make            # set, train, table
    python benchmarks/quality_transcription.py --run runs/transcribe-manifest
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from rnnkit.tasks import evaluate_run, load_config, train_run

ROOT = Path(__file__).resolve().parents[1]


def manifest_summary(path: str) -> str:
    lines = [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]
    speakers = {x.get("speaker") for x in lines} - {None}
    seconds = sum(float(x.get("duration") or 0) for x in lines)
    return f"{len(lines)} utterances, {len(speakers)} speakers, {seconds / 60:.1f} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "examples/transcribe-manifest.toml"))
    parser.add_argument("--set", action="append", default=[], help="config override")
    parser.add_argument("--run", help="a trained run to evaluate (no training)")
    parser.add_argument("--run-dir", default=None, help="where to train (default runs/NAME)")
    parser.add_argument("--make", action="store_true", help="write the example set first")
    args = parser.parse_args()
    if args.make:
        subprocess.run([sys.executable, str(ROOT / "examples/data/make_speech_manifest.py")],
                       check=True)
    minutes = None
    if args.run:
        run = Path(args.run)
    else:
        cfg = load_config(args.config, args.set)
        start = time.perf_counter()
        run = train_run(cfg, args.run_dir).run_dir
        minutes = (time.perf_counter() - start) / 60
    cfg = load_config(run / "config.toml")
    f = evaluate_run(run, "test")
    print(f"test manifest: {cfg.task.test_data or cfg.task.data} "
          f"({manifest_summary(cfg.task.test_data or cfg.task.data)})")
    print("| run | CER (greedy) | WER (greedy) | CER (beam) | WER (beam) | unseen chars "
          "| training min |")
    print("|---|---|---|---|---|---|---|")
    took = f"{minutes:.1f}" if minutes is not None else "-"
    print(f"| {run} | {f['cer']:.2%} | {f['wer']:.2%} | {f['cer_beam']:.2%} "
          f"| {f['wer_beam']:.2%} | {f['unseen_chars']} | {took} |")


if __name__ == "__main__":
    main()
