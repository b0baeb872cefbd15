"""Sequence classification (task ``classify``) against 1-NN DTW and MiniRocket.

    python benchmarks/quality_classify.py [--runs DIR] [--seeds 3] [--only BasicMotions]
    python benchmarks/quality_classify.py --select [--folds 3] [--only JapaneseVowels]

Both UEA sets come with their official TRAIN/TEST split as aeon ships them (copied into
``$RNNKIT_DATA/uea/`` on first use: rnnkit.data.sequences.uea_files). rnnkit trains
examples/basic-motions.toml and examples/japanese-vowels.toml (seeds 0..S-1; seed 0 is the
example's own result) into DIR (default runs/bench-classify); every method is fitted on
TRAIN and scored once on TEST:

- 1-NN DTW: aeon's ``KNeighborsTimeSeriesClassifier(distance="dtw")`` (full window,
  multivariate dependent DTW), on the series as they are (variable lengths);
- MiniRocket: aeon's ``MiniRocketClassifier(random_state=0)`` (10,000 kernels, ridge
  classifier), on series zero-padded to the longest one (aeon's ``Padder``; MiniRocket
  needs equal lengths; BasicMotions is equal already).

``--select`` reruns the model choice without reading TEST: each candidate in CANDIDATES
(overrides of the example config) trains on TRAIN with a validation part carved from it
(``task.val_fraction``, one carve per ``task.split_seed`` in 0..folds-1; TRAIN also stands
in for the test file, so TEST is never opened) and is ranked by its mean validation
accuracy, ties by mean validation loss. Needs aeon (``pip install aeon``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

import rnnkit
from rnnkit.data.sequences import read_ts, uea_files
from rnnkit.tasks import evaluate_run, load_config, train_run

ROOT = Path(__file__).resolve().parents[1]
SETS = {"BasicMotions": "basic-motions", "JapaneseVowels": "japanese-vowels"}

# model choices tried by --select: overrides of the example config, every model key that
# differs between them set by each
def _model(cell: str, hidden: int, layers: int, pooling: str, dropout: float = 0.1) -> list:
    return [f"model.cell={json.dumps(cell)}", f"model.hidden_size={hidden}",
            f"model.num_layers={layers}", f"model.pooling={json.dumps(pooling)}",
            f"model.dropout={dropout}"]


CANDIDATES = {
    "gru64-mean": _model("gru", 64, 1, "mean"),
    "gru128-mean": _model("gru", 128, 1, "mean"),
    "lstm64-mean": _model("lstm", 64, 1, "mean"),
    "gru64-attention": _model("gru", 64, 1, "attention"),
    "gru64-last": _model("gru", 64, 1, "last"),
    "gru64x2-mean": _model("gru", 64, 2, "mean"),
    "gru64x2-mean-dropout0.3": _model("gru", 64, 2, "mean", 0.3),
    "gru64x2-attention": _model("gru", 64, 2, "attention"),
    "lstm64x2-mean": _model("lstm", 64, 2, "mean"),
}


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def config_path(name: str) -> Path:
    return ROOT / "examples" / f"{SETS[name]}.toml"


def peers(name: str) -> dict[str, tuple[float, float]]:
    """``{method: (test accuracy, seconds)}`` for 1-NN DTW and MiniRocket."""
    from aeon.classification.convolution_based import MiniRocketClassifier
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
    from aeon.transformations.collection.unequal_length import Padder

    files = uea_files(name)
    train, test = read_ts(files["train"]), read_ts(files["test"])
    x_train, x_test = [s.x.T for s in train], [s.x.T for s in test]  # aeon: (F, T) each
    y_train, y_test = np.array([s.label for s in train]), np.array([s.label for s in test])
    out = {}
    start = time.time()
    knn = KNeighborsTimeSeriesClassifier(distance="dtw").fit(x_train, y_train)
    out["1-NN DTW"] = (float((knn.predict(x_test) == y_test).mean()), time.time() - start)
    start = time.time()
    pad = Padder(padded_length=max(len(s.x) for s in train + test))
    rocket = MiniRocketClassifier(random_state=0).fit(pad.fit_transform(x_train), y_train)
    acc = float((rocket.predict(pad.transform(x_test)) == y_test).mean())
    out["MiniRocket"] = (acc, time.time() - start)
    return out


def train_rnnkit(name: str, root: Path, seed: int) -> tuple[float, float, Path]:
    """(test accuracy, seconds, run dir) of the example config with ``seed``."""
    run = root / f"{SETS[name]}-s{seed}"
    cfg = load_config(config_path(name), [f"seed={seed}", "train.progress=\"off\""])
    start = time.time()
    train_run(cfg, run, overwrite=True)
    seconds = time.time() - start
    return evaluate_run(run, "test")["accuracy"], seconds, run


def check_predictor(run: Path, name: str) -> None:
    """The loaded predictor agrees with evaluate on TEST (the public API end to end)."""
    test = read_ts(uea_files(name)["test"])
    records = rnnkit.load(run).predict(test)
    acc = np.mean([r["label"] == s.label for r, s in zip(records, test)])
    print(f"  {name}: rnnkit.load(run).predict on TEST: accuracy {acc:.4f}")


def compare(names: list[str], root: Path, seeds: int) -> None:
    rows = []
    for name in names:
        print(f"{name}: load {load_avg()}", flush=True)
        scores = [train_rnnkit(name, root, seed) for seed in range(seeds)]
        check_predictor(scores[0][2], name)
        rows.append((name, scores, peers(name)))
        print(f"{name}: done, load {load_avg()}", flush=True)
    print(f"\n| set | rnnkit (seed 0) | rnnkit, {seeds} seed(s): mean (min..max) | 1-NN DTW | "
          "MiniRocket | target: > DTW and >= MiniRocket - 2 points |")
    print("|---|---|---|---|---|---|")
    for name, scores, other in rows:
        accs = [a for a, _, _ in scores]
        dtw, rocket = other["1-NN DTW"][0], other["MiniRocket"][0]
        met = "met" if accs[0] > dtw and accs[0] >= rocket - 0.02 else "missed"
        print(f"| {name} | {accs[0]:.2%} ({scores[0][1]:.0f} s) | {statistics.mean(accs):.2%} "
              f"({min(accs):.2%}..{max(accs):.2%}) | {dtw:.2%} ({other['1-NN DTW'][1]:.0f} s)"
              f" | {rocket:.2%} ({other['MiniRocket'][1]:.0f} s) | {met} |")
    print(f"\nload average (1, 5, 15 min) at the end: {load_avg()}")


def select(names: list[str], root: Path, folds: int, seeds: int, candidates: list[str],
           val_fraction: float | None) -> None:
    for name in names:
        train_file = str(uea_files(name)["train"])
        results = {}
        for label in candidates:
            accs, losses = [], []
            for fold in range(folds):
                for seed in range(seeds):
                    run = root / f"select-{SETS[name]}-{label}-f{fold}-s{seed}"
                    extra = [] if val_fraction is None else [f"task.val_fraction={val_fraction}"]
                    cfg = load_config(config_path(name), [
                        *CANDIDATES[label], *extra, f"seed={seed}", "task.dataset=\"\"",
                        f"task.train_data={json.dumps(train_file)}",
                        f"task.test_data={json.dumps(train_file)}", f"task.split_seed={fold}",
                        "train.progress=\"off\""])
                    result = train_run(cfg, run, overwrite=True)
                    accs.append(result.results["val"]["accuracy"])
                    losses.append(result.results["val"]["loss"])
            results[label] = (statistics.mean(accs), statistics.mean(losses), accs)
            print(f"{name} {label}: val accuracy {results[label][0]:.4f} "
                  f"(runs {[round(a, 4) for a in accs]}), loss {results[label][1]:.4f}; "
                  f"load {load_avg()}", flush=True)
        best = max(results, key=lambda k: (results[k][0], -results[k][1]))
        print(f"{name}: chosen {best}\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", default="runs/bench-classify", help="folder for the runs")
    p.add_argument("--seeds", type=int, default=None,
                   help="rnnkit training seeds per set (default 3; --select: 1)")
    p.add_argument("--select", action="store_true", help="rerun the validation choice")
    p.add_argument("--folds", type=int, default=3, help="validation carves per candidate")
    p.add_argument("--candidates", nargs="+", choices=sorted(CANDIDATES),
                   default=list(CANDIDATES), help="--select: the candidates to try")
    p.add_argument("--val-fraction", type=float, default=None,
                   help="--select: the part of TRAIN held out (default: the example's)")
    p.add_argument("--only", choices=sorted(SETS), action="append", help="one set only")
    args = p.parse_args()
    warnings.filterwarnings("ignore", module="aeon")
    names = args.only or list(SETS)
    root = Path(args.runs)
    if args.select:
        select(names, root, args.folds, args.seeds or 1, args.candidates, args.val_fraction)
    else:
        compare(names, root, args.seeds or 3)


if __name__ == "__main__":
    main()
