"""The adding problem at several lengths and cells: steps and minutes to test MSE < 0.01.

Each run trains until the validation MSE reaches the target (then stops), or until its step
or time budget ends, and is scored on the test split with its best checkpoint. Predicting 1
always scores about 0.167; the tanh RNN is expected to stay near it at these lengths.

    python benchmarks/tasks.py              # T = 100, 200 x lstm, gru, rnn (7.5 min measured)
    python benchmarks/tasks.py --lengths 50 --cells gru --max-minutes 1
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

from rnnkit.tasks import train_run
from rnnkit.tasks.runner import config_from_raw

TARGET = 0.01


def config(length: int, cell: str, args) -> dict:
    return {
        "name": f"adding-{cell}-{length}", "seed": args.seed,
        "task": {"name": "adding", "sequence_length": length, "train_size": 20000,
                 "val_size": 1000, "test_size": 2000},
        "model": {"cell": cell, "hidden_size": args.hidden_size},
        "train": {"steps": args.steps, "max_minutes": args.max_minutes, "batch_size": 64,
                  "optimizer": "adam", "lr": args.lr, "warmup_steps": 100, "clip_norm": 1.0,
                  "eval_every": 100, "log_every": 100, "metric": "mse", "target": TARGET,
                  "progress": "off", "device": "cpu",
                  "threads": args.threads},
    }


def run_one(length: int, cell: str, args, root: Path) -> dict:
    cfg = config_from_raw(config(length, cell, args), "benchmarks/tasks.py")
    start = time.perf_counter()
    result = train_run(cfg, root / cfg.name)
    test = result.results["test"]
    return {"T": length, "cell": cell, "steps": result.state.step,
            "minutes": round(result.state.elapsed / 60, 2),
            "wall_minutes": round((time.perf_counter() - start) / 60, 2),
            "test_mse": test["mse"], "baseline_mse": test["baseline_mse"],
            "solved": test["mse"] < TARGET, "ended": result.state.stop_reason}


def table(rows: list[dict]) -> str:
    lines = ["| T | cell | steps | train min | test MSE | solved (< 0.01) | ended |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['T']} | {r['cell']} | {r['steps']} | {r['minutes']:.2f} | "
                     f"{r['test_mse']:.4f} | {'yes' if r['solved'] else 'no'} | {r['ended']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lengths", type=int, nargs="+", default=[100, 200])
    p.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    p.add_argument("--steps", type=int, default=8000, help="step budget per run")
    p.add_argument("--max-minutes", type=float, default=3.0, help="time budget per run")
    p.add_argument("--hidden-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per run (1: steady timings on a shared machine)")
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for length, cell in itertools.product(args.lengths, args.cells):
            rows.append(run_one(length, cell, args, Path(root)))
            print(f"T={length} {cell}: {rows[-1]}", file=sys.stderr, flush=True)
            if rows[-1]["ended"].startswith("interrupted"):
                break  # Ctrl-C ends the benchmark, not only the current run
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
