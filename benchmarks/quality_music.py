"""Polyphonic music quality on the JSB chorales test split: rnnkit runs beside the peers.

Peers, fitted here on the same split in the same run:

- per-unit training frequencies: each of the 88 keys on with its training-set frequency;
- first-order logistic model: one logistic regression per key from the previous frame
  (scikit-learn; the inverse regularisation C picked on the validation split);
- published GRU / LSTM / tanh figures of Chung et al. (2014) (not rerun).

All NLLs follow the data README's convention: an all-zero frame before t = 0, total test NLL
/ 4,725 test frames, summed over the 88 keys (nats per step).

    RNNKIT_DATA=../shared/data python benchmarks/quality_music.py \\
        --runs runs/music-gru runs/music-lstm runs/music-rnn
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rnnkit.data.music import load_jsb
from rnnkit.tasks import evaluate_run

PUBLISHED = {"Chung et al. 2014 tanh RNN": 8.67, "Chung et al. 2014 GRU": 8.54,
             "Chung et al. 2014 LSTM": 8.67}
EPS = 1e-6


def pairs(rolls: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(previous frame, frame) for every frame, an all-zero frame before each piece's first."""
    prev = np.vstack([np.vstack([np.zeros((1, r.shape[1]), r.dtype), r[:-1]]) for r in rolls])
    return prev.astype(np.float32), np.vstack(rolls).astype(np.float32)


def nll_per_step(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, EPS, 1 - EPS)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).sum() / len(y))


def frame_accuracy(p: np.ndarray, y: np.ndarray) -> float:
    pred, truth = p > 0.5, y > 0.5
    return float((pred & truth).sum() / max((pred | truth).sum(), 1))


def logistic_probs(x_train, y_train, x_eval, C: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    probs = np.empty((len(x_eval), y_train.shape[1]))
    for k in range(y_train.shape[1]):
        column = y_train[:, k]
        if column.min() == column.max():  # a key never (or always) on in training
            probs[:, k] = np.clip(column.mean(), EPS, 1 - EPS)
            continue
        model = LogisticRegression(C=C, max_iter=1000).fit(x_train, column)
        probs[:, k] = model.predict_proba(x_eval)[:, 1]
    return probs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="*", default=[], help="trained music run directories")
    args = parser.parse_args()
    splits = load_jsb()
    (xtr, ytr), (xva, yva), (xte, yte) = (pairs(splits[s]) for s in ("train", "val", "test"))
    rows = []

    freq = ytr.mean(0, keepdims=True)
    p = np.repeat(freq, len(yte), 0)
    rows.append(("per-unit training frequencies", nll_per_step(p, yte), frame_accuracy(p, yte),
                 "fitted here"))

    t0 = time.perf_counter()
    val = {C: nll_per_step(logistic_probs(xtr, ytr, xva, C), yva) for C in (0.1, 1.0, 10.0)}
    best_C = min(val, key=val.get)
    p = logistic_probs(xtr, ytr, xte, best_C)
    rows.append(("first-order logistic (sklearn)", nll_per_step(p, yte), frame_accuracy(p, yte),
                 f"C={best_C:g} by val NLL ({time.perf_counter() - t0:.0f} s)"))

    for run in args.runs:
        figures = evaluate_run(run, "test")
        rows.append((f"rnnkit {run}", figures["nll_per_step"], figures["frame_accuracy"],
                     f"best checkpoint, step {figures['step']}"))
    for name, nll in PUBLISHED.items():
        rows.append((name, nll, float("nan"), "published, not rerun"))

    print(f"JSB chorales, test split ({len(yte)} frames): NLL in nats per step")
    print("| model | test NLL/step | frame accuracy | note |")
    print("|---|---|---|---|")
    for name, nll, acc, note in rows:
        acc_s = "–" if np.isnan(acc) else f"{acc:.3f}"
        print(f"| {name} | {nll:.3f} | {acc_s} | {note} |")


if __name__ == "__main__":
    main()
