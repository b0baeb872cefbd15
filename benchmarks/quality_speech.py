"""Spoken-digit quality on FSDD: rnnkit beside MFCC-statistics peers, on the same splits.

Peers, fitted here in the same run: each recording becomes the mean and standard deviation
over frames of its 13 MFCCs and their deltas (52 values, the same 25 ms / 10 ms frames as
rnnkit's), standardised, then an RBF SVM (C = 10) and a logistic regression (scikit-learn):
the peers the issue quotes (99.0%, 95.3%). A stronger variant adds delta-deltas and the
per-feature minimum and maximum (156 values). Splits:

- official: recordings 0..4 of every digit and speaker are the test set (300); the peers
  train on 5..49 (2,700), rnnkit on 10..49 with 5..9 for validation;
- leave one speaker out (6 folds, 500 test recordings each): the peers train on the other
  five speakers; ``--loso-config`` also trains rnnkit on every fold (5-12 minutes a fold on
  one CPU thread). ``--folds george,theo`` runs only those folds. Each finished fold is
  written to ``<loso-dir>/fold-<speaker>.json`` at once; a later call with the same config
  and overrides reads it back instead of training again (``--retrain`` trains anyway), so an
  interrupted benchmark resumes where it stopped.

``--ctc-run`` adds a trained speech-ctc run's connected-digit figures.

    RNNKIT_DATA=../shared/data python benchmarks/quality_speech.py \\
        --runs runs/speech-digits-bigru --ctc-run runs/speech-ctc-bigru \\
        [--loso-config examples/digits.toml --loso-set train.epochs=10 [--folds lucas,theo]]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import rnnkit
from rnnkit.data.audio import SPEAKERS, features
from rnnkit.tasks import evaluate_run, load_config, train_run
from rnnkit.tasks.speech_common import fsdd_signals
from rnnkit.tasks.speech_digits import confusion_plot


def statistics() -> tuple[dict[str, np.ndarray], np.ndarray, list]:
    """Per-recording feature statistics: {"MFCC+Δ mean,std" (3000, 52), "MFCC+Δ+ΔΔ
    mean,std,min,max" (3000, 156)}, the digits and the recordings."""
    recs, signals = fsdd_signals()
    feats = [features(s, "mfcc", normalize=False) for s in signals]  # (T, 39) each
    x = {"MFCC+Δ mean,std": np.stack([np.concatenate([f[:, :26].mean(0), f[:, :26].std(0)])
                                      for f in feats]),
         "MFCC+Δ+ΔΔ mean,std,min,max": np.stack([np.concatenate(
             [f.mean(0), f.std(0), f.min(0), f.max(0)]) for f in feats])}
    return x, np.array([r.digit for r in recs]), recs


def peers(x, y, train, test) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    models = {"svm": SVC(kernel="rbf", C=10.0, gamma="scale"),
              "logreg": LogisticRegression(max_iter=5000)}
    return {name: float((make_pipeline(StandardScaler(), m).fit(x[train], y[train])
                         .predict(x[test]) == y[test]).mean())
            for name, m in models.items()}


def loso_rnnkit(config: str, overrides: list[str], speaker: str, out: Path,
               retrain: bool = False) -> dict:
    """rnnkit's fold result ``{"speaker", "config", "overrides", "accuracy", "minutes"}``:
    read from ``out/fold-<speaker>.json`` when a run with the same config and overrides
    wrote it, else trained now and written there as soon as the fold ends."""
    path = out / f"fold-{speaker}.json"
    if path.exists() and not retrain:
        saved = json.loads(path.read_text())
        if saved.get("config") == config and saved.get("overrides") == overrides:
            return saved
    cfg = load_config(config, [*overrides, "task.split=speaker", f"task.test_speaker={speaker}",
                               f"name=loso-{speaker}", "train.progress=off"])
    start = time.time()
    result = train_run(cfg, out / f"loso-{speaker}", overwrite=True)
    fold = {"speaker": speaker, "config": config, "overrides": overrides,
            "accuracy": result.results["test"]["accuracy"],
            "errors": result.results["test"].get("errors"),
            "minutes": round((time.time() - start) / 60, 2)}
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fold, indent=1) + "\n")
    return fold


def draw_confusion(run_dir: str) -> None:
    """(Re)draw a speech-digits run's plots/confusion.png: its best checkpoint on the test
    split (training draws the same figure when it ends)."""
    p = rnnkit.load(run_dir)
    confusion_plot(p.model, p.context.splits["test"], run_dir, p.config.train.batch_size)


def folds_arg(text: str) -> list[str]:
    """``--folds`` value: known speakers, comma-separated, in the order given."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SPEAKERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown speaker(s) {unknown or text!r}; "
                                         f"choose from {', '.join(SPEAKERS)}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="*", default=[], help="speech-digits runs (official)")
    parser.add_argument("--ctc-run", nargs="*", default=[], help="speech-ctc runs")
    parser.add_argument("--loso-config", help="train rnnkit on each leave-one-speaker-out fold")
    parser.add_argument("--loso-set", action="append", default=[], help="override (repeatable)")
    parser.add_argument("--loso-dir", default="runs/loso",
                        help="where the fold runs and their fold-<speaker>.json results go")
    parser.add_argument("--folds", type=folds_arg, default=list(SPEAKERS),
                        help="comma-separated held-out speakers (default: all six)")
    parser.add_argument("--retrain", action="store_true",
                        help="train rnnkit's folds even where a fold-<speaker>.json exists")
    args = parser.parse_args()

    xs, y, recs = statistics()
    index = np.array([r.index for r in recs])
    print("FSDD official split (test: recordings 0..4, 300)")
    print("| model | test accuracy | errors / 300 |")
    print("|---|---|---|")
    for stats, x in xs.items():
        for name, acc in peers(x, y, index >= 5, index < 5).items():
            print(f"| {stats} + {name} | {acc:.2%} | {round((1 - acc) * 300)} |")
    for run in args.runs:
        f = evaluate_run(run, "test")
        print(f"| rnnkit {run} | {f['accuracy']:.2%} | {int(f['errors'])} |")
        draw_confusion(run)

    x = xs["MFCC+Δ mean,std"]
    speaker = np.array([r.speaker for r in recs])
    print("\nFSDD leave one speaker out (test: the speaker's 500 recordings; peers on "
          "MFCC+Δ mean,std)")
    columns = ["svm", "logreg"] + (["rnnkit"] if args.loso_config else [])
    print("| held-out speaker | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    totals: dict[str, list[float]] = {c: [] for c in columns}
    for s in args.folds:
        fold = peers(x, y, speaker != s, speaker == s)
        if args.loso_config:
            fold["rnnkit"] = loso_rnnkit(args.loso_config, args.loso_set, s,
                                         Path(args.loso_dir), args.retrain)["accuracy"]
        for c in columns:
            totals[c].append(fold[c])
        print(f"| {s} | " + " | ".join(f"{fold[c]:.2%}" for c in columns) + " |", flush=True)
    print("| mean | " + " | ".join(f"{np.mean(totals[c]):.2%}" for c in columns) + " |")

    if args.ctc_run:
        print("\nConnected digits (speech-ctc), test-split utterances")
        print("| run | digit error rate (greedy) | utterance acc. (greedy) | DER (beam) "
              "| utterance acc. (beam) |")
        print("|---|---|---|---|---|")
        for run in args.ctc_run:
            f = evaluate_run(run, "test")
            print(f"| rnnkit {run} | {f['digit_error_rate']:.2%} | {f['utterance_accuracy']:.2%}"
                  f" | {f['digit_error_rate_beam']:.2%} | {f['utterance_accuracy_beam']:.2%} |")


if __name__ == "__main__":
    main()
