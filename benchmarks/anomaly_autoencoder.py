"""Forecast error or reconstruction error? The anomaly task's choice, measured.

For each NAB example config, two detectors learn normal behaviour from the same points
(the config's fit range), read the same features (scaled value + calendar), and turn their
raw score into alarms by the same rule (the config's smoothing, threshold = factor x the
highest score on the calibration range, the same alarm hold and warm-up), scored by the
same event-level metrics on the points after the training range:

- ``forecast``: the task's model (a one-step Gaussian GRU forecaster, trained by the config),
  raw score = |error| / predicted std, state carried over the whole series.
- ``autoencoder``: an LSTM encoder-decoder over windows of ``task.window`` points (EncDec-AD,
  Malhotra et al. 2016, with an unconditioned decoder as in Srivastava et al. 2015) that
  reconstructs the window's values in reverse order from the encoder's final state, trained
  with the same optimiser, steps, batch and learning rate. Raw score of point t, two ways:
  ``last``: |reconstruction error| of t in the window ending at t (the first point the
  decoder emits), ``mean``: the mean |error| over that window; each divided by the error's
  std on the fit range.

    RNNKIT_DATA=../shared/data python benchmarks/anomaly_autoencoder.py [--configs ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnnkit.layers import LSTM
from rnnkit.tasks import TASKS, load, load_config, train_run
from rnnkit.tasks.timeseries.detector import (
    StreamingDetector,
    alarms,
    evaluate_detection,
    scored_windows,
    smooth_scores,
)
from rnnkit.tasks.timeseries.events import event_scores

KEYS = ["windows_detected", "windows_total", "false_positives", "alarm_points_outside",
        "precision", "recall", "f1"]


class Autoencoder(nn.Module):
    """Window (B, W, F) -> reconstruction (B, W) of its first feature, in reverse order."""

    def __init__(self, features: int, hidden: int):
        super().__init__()
        self.encoder = LSTM(features, hidden, batch_first=True)
        self.decoder = LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, state = self.encoder(x)
        zeros = x.new_zeros(x.shape[0], x.shape[1], 1)
        out, _ = self.decoder(zeros, state)
        return self.head(out)[..., 0].flip(1)  # back in time order


def windows(feats: np.ndarray, ends: np.ndarray, w: int) -> torch.Tensor:
    idx = ends[:, None] + np.arange(-w + 1, 1)[None, :]
    return torch.as_tensor(feats[idx], dtype=torch.float32)


@torch.no_grad()
def errors(model: Autoencoder, feats: np.ndarray, ends: np.ndarray, w: int) -> np.ndarray:
    """(N, W) reconstruction errors of the windows ending at ``ends``."""
    model.eval()
    out = []
    for chunk in np.array_split(ends, max(1, len(ends) // 1024)):
        x = windows(feats, chunk, w)
        out.append((model(x) - x[..., 0]).numpy())
    return np.concatenate(out)


def train_autoencoder(cfg, feats: np.ndarray, fit_end: int, seed: int) -> Autoencoder:
    torch.manual_seed(seed)
    w, t = cfg.task.window, cfg.train
    model = Autoencoder(feats.shape[1], cfg.model.hidden_size)
    opt = torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, t.steps)
    ends = np.arange(w - 1, fit_end)  # windows inside the fit range
    rng = np.random.default_rng(seed)
    for _ in range(t.steps):
        x = windows(feats, rng.choice(ends, t.batch_size), w)
        loss = ((model(x) - x[..., 0]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), t.clip_norm)
        opt.step()
        sched.step()
    return model


def context(cfg):
    """The anomaly run context of ``cfg`` (series, ranges, scaler)."""
    return TASKS["anomaly"].setup(cfg)


def autoencoder_rows(cfg, seed: int) -> dict[str, dict]:
    ctx = context(cfg)
    feats = ctx.features(ctx.series)
    w, n = cfg.task.window, len(feats)
    model = train_autoencoder(cfg, feats, ctx.fit_end, seed)
    ends = np.arange(w - 1, n)
    err = errors(model, feats, ends, w)  # (N - w + 1, W)
    fit = ends < ctx.fit_end
    windows_ = scored_windows(ctx)
    rows = {}
    for name, raw in (("last", np.abs(err[:, -1])), ("mean", np.abs(err).mean(1))):
        raw = raw / raw[fit].std()
        full = np.zeros(n)
        full[w - 1:] = raw
        scores = smooth_scores(full, cfg.task.smooth)
        limit = cfg.task.threshold_factor * scores[ctx.fit_end:ctx.train_end].max()
        found = alarms(cfg.task, limit, scores)  # the task's rule: no alarm in its warm-up
        found[:ctx.train_end] = False
        rows[f"autoencoder ({name})"] = event_scores(found, windows_)
    return rows


@torch.no_grad()
def streaming_cost(cfg, run_model, points: int = 300) -> dict[str, float]:
    """Milliseconds to score one new point of a stream: the forecaster carries its state
    (one recurrent step, :class:`StreamingDetector`); the autoencoder has to encode and
    decode the whole window ending at the new point."""
    ctx = context(cfg)
    det = StreamingDetector(run_model, ctx.scaler, cfg.task.calendar, cfg.task.smooth, 1.0)
    t, v = ctx.series.timestamps, ctx.series.values
    start = time.perf_counter()
    for i in range(points):
        det.update(t[i], v[i])
    forecast = (time.perf_counter() - start) / points
    ae = Autoencoder(5 if cfg.task.calendar else 1, cfg.model.hidden_size).eval()
    feats = ctx.features(ctx.series)
    w = cfg.task.window
    start = time.perf_counter()
    for i in range(points):
        ae(windows(feats, np.array([w + i]), w))
    return {"forecast": 1e3 * forecast, "autoencoder": 1e3 * (time.perf_counter() - start)
            / points}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--configs", nargs="+",
                   default=["examples/anomaly-taxi.toml", "examples/anomaly-machine.toml"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args()
    torch.set_num_threads(1)
    for path in args.configs:
        print(f"\n{path}\n\n| detector | seed | " + " | ".join(KEYS)
              + " | train s |\n|---|---|" + "---|" * (len(KEYS) + 1), flush=True)
        for seed in args.seeds:
            cfg = load_config(path, ["train.threads=1", "train.progress=off", f"seed={seed}"])
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                train_run(cfg, Path(tmp) / "run")
                model = load(Path(tmp) / "run").model
                rows = {"forecast": evaluate_detection(model, context(cfg))}
            times = {"forecast": time.perf_counter() - start}
            start = time.perf_counter()
            ae = autoencoder_rows(cfg, seed)
            times.update({k: time.perf_counter() - start for k in ae})
            rows.update(ae)
            if seed == args.seeds[0]:
                with tempfile.TemporaryDirectory() as tmp:
                    train_run(cfg, Path(tmp) / "run")
                    cost = streaming_cost(cfg, load(Path(tmp) / "run").model)
            for name, r in rows.items():
                print(f"| {name} | {seed} | " + " | ".join(
                    f"{r[k]:.3g}" if isinstance(r[k], float) else str(r[k]) for k in KEYS)
                    + f" | {times[name]:.0f} |", flush=True)
        print(f"\nstreaming, ms per new point (1 thread): forecaster {cost['forecast']:.3f}, "
              f"autoencoder {cost['autoencoder']:.3f}", flush=True)


if __name__ == "__main__":
    main()
