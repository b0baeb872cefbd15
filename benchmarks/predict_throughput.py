"""Batch prediction throughput of ``rnnkit predict RUN --input FILE`` on the sentiment
example, start-up included: the command as a user runs it, timed from outside.

Writes ``--sentences`` lines from rt-polarity (positive and negative snippets alternating,
from ``$RNNKIT_DATA/sentiment``), runs ``rnnkit predict RUN --input FILE > /dev/null``
``--repeats`` times, and prints sentences per second (wall clock, and per CPU second of the
command: user + system time, which a loaded shared machine distorts least) and the
start-up: the same command on a one-line file. ``RUN`` defaults to examples/sentiment.toml
trained here for ``--train-steps`` steps (the throughput does not depend on training).

    RNNKIT_DATA=../shared/data nice python benchmarks/predict_throughput.py
    RNNKIT_DATA=../shared/data python benchmarks/predict_throughput.py --run runs/sentiment-bilstm
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sentences(n: int) -> list[str]:
    """n rt-polarity snippets, positive and negative alternating (read as latin-1, as the
    data set is)."""
    folder = Path(os.environ.get("RNNKIT_DATA", Path.home() / ".cache" / "rnnkit")) / "sentiment"
    pos, neg = ((folder / f"rt-polarity.{k}").read_text(encoding="latin-1").split("\n")
                for k in ("pos", "neg"))
    mixed = [s.strip() for pair in zip(pos, neg) for s in pair if s.strip()]
    if len(mixed) < n:
        raise SystemExit(f"rt-polarity has {len(mixed)} sentences, asked for {n}")
    return mixed[:n]


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s = user + system of the command) of one run, its stdout discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def train(run: Path, steps: int) -> None:
    subprocess.run([sys.executable, "-m", "rnnkit.cli.main", "train",
                    str(ROOT / "examples" / "sentiment.toml"), "--run-dir", str(run),
                    "--set", f"train.steps={steps}", "--set", "train.epochs=0",
                    "--set", f"train.eval_every={steps}"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a trained sentiment run (default: trained here)")
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = Path(args.run) if args.run else tmp / "sentiment"
        if not args.run:
            train(run, args.train_steps)
        texts = sentences(args.sentences)
        (tmp / "many.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
        (tmp / "one.txt").write_text(texts[0] + "\n", encoding="utf-8")
        cmd = [sys.executable, "-m", "rnnkit.cli.main", "predict", str(run), "--input"]
        load = os.getloadavg()[0]
        full, start = [], []
        for _ in range(args.repeats):
            start.append(timed(cmd + [str(tmp / "one.txt")]))
            full.append(timed(cmd + [str(tmp / "many.txt")]))
        load_end = os.getloadavg()[0]
    n = args.sentences
    fw, fc = (statistics.median(t[i] for t in full) for i in (0, 1))
    sw, sc = (statistics.median(t[i] for t in start) for i in (0, 1))
    print(f"rnnkit predict --input ({n:,} sentences, sentiment example), median of "
          f"{args.repeats}; load average {load:.2f} at start, {load_end:.2f} at end")
    print(f"  whole command: {fw:.2f} s wall, {fc:.2f} s CPU -> {n / fw:,.0f} sentences/s "
          f"(wall), {n / fc:,.0f} sentences per CPU second (target >= 1,000/s)")
    print(f"  start-up (one sentence): {sw:.2f} s wall, {sc:.2f} s CPU")
    print(f"  after start-up: {n / max(fw - sw, 1e-9):,.0f} sentences/s (wall), "
          f"{n / max(fc - sc, 1e-9):,.0f} per CPU second")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
