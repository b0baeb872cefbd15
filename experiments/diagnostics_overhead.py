"""Cost of the diagnostics callback: wall time of Trainer.fit with [diagnostics] every = N.

LSTM regressor (H = 64) on the adding problem, T = 100, batch 64, 300 steps; each setting
runs ``--repeats`` times, interleaved (the CPU is shared), and the median is reported.

    python experiments/diagnostics_overhead.py
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from common import FIGURES, adding_problem, table

from rnnkit.diagnostics import DiagnosticsCallback
from rnnkit.models import SequenceRegressor
from rnnkit.training import TrainConfig, Trainer


def fit_seconds(every: int, steps: int, T: int, data) -> float:
    torch.manual_seed(0)
    model = SequenceRegressor(input_size=2, cell="lstm", hidden_size=64)
    cfg = TrainConfig(steps=steps, batch_size=64, eval_every=10**9, progress="off",
                      device="cpu")
    with tempfile.TemporaryDirectory() as run_dir:
        cbs = [DiagnosticsCallback(run_dir, every=every, plots=False)] if every else []
        trainer = Trainer(model, cfg, data, callbacks=cbs)
        start = time.perf_counter()
        trainer.fit()
        return time.perf_counter() - start


def component_seconds(T: int, data) -> tuple[float, float]:
    """Median seconds of one training step and of one diagnostics record, interleaved."""
    torch.manual_seed(0)
    model = SequenceRegressor(input_size=2, cell="lstm", hidden_size=64)
    cfg = TrainConfig(steps=10**6, batch_size=64, progress="off", device="cpu")
    with tempfile.TemporaryDirectory() as run_dir:
        callback = DiagnosticsCallback(run_dir, every=1, plots=False)
        trainer = Trainer(model, cfg, data)
        steps, snaps = [], []
        for i in range(20):
            start = time.perf_counter()
            trainer.train_step(trainer.stream.batch(i))
            steps.append(time.perf_counter() - start)
            start = time.perf_counter()
            callback.on_step_end(trainer, {})
            snaps.append(time.perf_counter() - start)
    return statistics.median(steps), statistics.median(snaps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--every", type=int, nargs="+", default=[0, 100, 50, 20])
    args = ap.parse_args()
    torch.set_num_threads(1)  # small matrices: one thread is fastest on a shared CPU
    x, y = adding_problem(2048, args.T, torch.Generator().manual_seed(0))
    data = {"x": x, "y": y}
    times: dict[int, list[float]] = {e: [] for e in args.every}
    for _ in range(args.repeats):
        for every in args.every:
            times[every].append(fit_seconds(every, args.steps, args.T, data))
    base = statistics.median(times[0])
    rows = []
    for every in args.every:
        med = statistics.median(times[every])
        rows.append([every, med, min(times[every]), f"{100 * (med / base - 1):+.1f}%"])
    print(table(["every", "median s", "min s", "overhead (median)"], rows))
    step, snap = component_seconds(args.T, data)
    print(f"\none training step {1000 * step:.1f} ms, one diagnostics record {1000 * snap:.1f} ms"
          f" (medians of 20): predicted overhead at every = N is {snap / step:.1f} / N "
          + ", ".join(f"({e}: {100 * snap / (e * step):.1f}%)" for e in args.every if e))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar([str(e) for e in args.every], [statistics.median(times[e]) for e in args.every])
    ax.set_xlabel("[diagnostics] every (0 = off)")
    ax.set_ylabel(f"seconds for {args.steps} steps")
    ax.set_title("diagnostics callback overhead")
    FIGURES.mkdir(exist_ok=True)
    fig.savefig(FIGURES / "diagnostics_overhead.png", dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    main()
