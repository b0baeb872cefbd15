"""Text classification on a user CSV against the built-in loader (issue 17's target: the
same test accuracy within 0.5 points, same seed and split).

    RNNKIT_DATA=../shared/data python benchmarks/text_csv_parity.py \\
        [--config examples/sentiment.toml] [--set KEY=VALUE ...] [--out runs/text-csv-parity]

Writes rt-polarity as ``OUT/rt-polarity.csv`` (``text,label`` rows in the built-in
loader's order, labels as the strings ``negative``/``positive``), then trains the config
twice with the same seed: once on the built-in loader, once with ``task.data`` naming the
CSV (the user-data path: the table reader, the label strings mapped to classes, the seeded
split). Prints both test accuracies, their difference, and whether the two best
checkpoints hold the same weights.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import time
from pathlib import Path

import torch

from rnnkit.data.text import load_rt_polarity
from rnnkit.tasks import load_config, train_run


def write_csv(path: Path) -> int:
    """rt-polarity as a user would hold it: one ``text,label`` row per sentence."""
    rows = load_rt_polarity()
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for s in rows:
            w.writerow([s.text, ("negative", "positive")[s.label]])
    return len(rows)


def weights_digest(run_dir: Path) -> str:
    return hashlib.sha256(
        (run_dir / "checkpoints" / "best" / "model.safetensors").read_bytes()).hexdigest()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="examples/sentiment.toml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", default="runs/text-csv-parity")
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n = write_csv(out / "rt-polarity.csv")
    print(f"wrote {n} rows to {out / 'rt-polarity.csv'}")
    variants = {"built-in loader": [],
                "user CSV (task.data)": [f"task.data={(out / 'rt-polarity.csv').absolute()}"]}
    rows = []
    for i, (label, extra) in enumerate(variants.items()):
        cfg = load_config(args.config, [*args.set, *extra, "train.progress=off"])
        start = time.time()
        result = train_run(cfg, out / f"run{i}", overwrite=True)
        test = result.results["test"]
        rows.append({"data": label, "test accuracy": test["accuracy"],
                     "test loss": test["loss"], "minutes": (time.time() - start) / 60,
                     "best weights sha256": weights_digest(result.run_dir)[:16]})
    print("| data | test accuracy | test loss | minutes | best weights sha256 |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['data']} | {r['test accuracy']:.4f} | {r['test loss']:.4f} | "
              f"{r['minutes']:.1f} | {r['best weights sha256']} |")
    diff = 100 * (rows[1]["test accuracy"] - rows[0]["test accuracy"])
    print(f"difference: {diff:+.2f} points (target within 0.5)")
    (out / "parity.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
