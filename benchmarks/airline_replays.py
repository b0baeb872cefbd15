"""Airline settings compared on rolling-origin replays inside the training range (no month
after 1958 is loaded): each replay is the config trained (task.refit: fixed steps, last
checkpoint) on the months before its origin and scored on its 24-month forecast from there,
exactly as the calibration replays of ``task.refit`` are
(``rnnkit.tasks.timeseries.replays.replay_config``).

    RNNKIT_DATA=../shared/data python benchmarks/airline_replays.py \\
        --candidate "task.window=24" --candidate "task.difference=false task.level=true" \\
        --origins 78 84 90 96 --seeds 0 1 2 --jobs 2

Prints, per candidate (and for SARIMA, Holt-Winters and seasonal naive fitted on the same
months), the RMSE per origin (mean over seeds), the mean over origins, the
RMSE of the log forecasts (scale-free, so origins weigh alike) and the mean log error (bias:
> 0 over-forecasts), and the 95% coverage of the uncalibrated intervals.
"""

from __future__ import annotations

import argparse
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def replay(args: tuple[str, int, int]) -> tuple[float, float, float, float]:
    """(rmse, log rmse, log bias, coverage_95) of one candidate at one origin and seed."""
    import torch

    torch.set_num_threads(1)
    from rnnkit.tasks import TASKS, load_config
    from rnnkit.tasks.timeseries.replays import replay_bands, replay_config

    candidate, origin, seed = args
    overrides = [*candidate.split(), f"seed={seed}", "task.calibrate=false",
                 "train.threads=1", "train.progress=off"]
    cfg = load_config("examples/airline.toml", overrides)
    with tempfile.TemporaryDirectory() as tmp:
        bands = replay_bands(cfg, origin, Path(tmp) / "run")
    series = TASKS["forecast"].setup(replay_config(cfg, origin)).series  # cut at origin + h
    y = series.values[origin:origin + cfg.task.horizon]
    p = bands.point[0]
    log_err = np.log(p) - np.log(y)
    cover = np.mean((y >= bands.lower[95][0]) & (y <= bands.upper[95][0]))
    return (float(np.sqrt(np.mean((p - y) ** 2))), float(np.sqrt(np.mean(log_err ** 2))),
            float(log_err.mean()), float(cover))


def classical(origins: list[int]) -> None:
    """SARIMA (0,1,1)(0,1,1)12 on logs and Holt-Winters (additive trend, multiplicative
    season), fitted on the months before each origin like the replays: the peers' replay
    scores, to set the model's beside."""
    import warnings

    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    from rnnkit.data.timeseries import load_series

    x = load_series("airline-passengers").values
    rows = {"SARIMA (0,1,1)(0,1,1)12 log": [], "Holt-Winters (add. trend, mul. season)": [],
            "seasonal naive": []}
    for o in origins:
        y = x[o:o + 24]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sarima = np.exp(SARIMAX(np.log(x[:o]), order=(0, 1, 1),
                                    seasonal_order=(0, 1, 1, 12)).fit(disp=False)
                            .forecast(24))
            hw = ExponentialSmoothing(x[:o], trend="add", seasonal="mul",
                                      seasonal_periods=12).fit().forecast(24)
        naive = np.r_[x[o - 12:o], x[o - 12:o]]
        for name, p in zip(rows, (sarima, hw, naive)):
            log_err = np.log(p) - np.log(y)
            rows[name].append((np.sqrt(np.mean((p - y) ** 2)), np.sqrt(np.mean(log_err ** 2)),
                               log_err.mean()))
    for name, r in rows.items():
        r = np.array(r)
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in r[:, 0])
              + f" | {r[:, 0].mean():.2f} | {r[:, 1].mean():.4f} | {r[:, 2].mean():+.4f} | |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--candidate", action="append", default=[],
                   help="space-separated KEY=VALUE overrides of examples/airline.toml")
    p.add_argument("--origins", type=int, nargs="+", default=[78, 84, 90, 96])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    jobs = [(c, o, s) for c in args.candidate for o in args.origins for s in args.seeds]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = dict(zip(jobs, pool.map(replay, jobs)))
    print("| candidate | " + " | ".join(f"rmse o{o}" for o in args.origins)
          + " | mean rmse | log rmse | log bias | cov95 (raw) |\n|---|"
          + "---|" * (len(args.origins) + 4))
    for c in args.candidate:
        r = np.array([[results[c, o, s] for s in args.seeds] for o in args.origins])
        per_origin = r[:, :, 0].mean(1)
        print(f"| {c} | " + " | ".join(f"{v:.1f}" for v in per_origin)
              + f" | {per_origin.mean():.2f} | {r[:, :, 1].mean():.4f} | "
                f"{r[:, :, 2].mean():+.4f} | {r[:, :, 3].mean():.2f} |", flush=True)
    classical(args.origins)


if __name__ == "__main__":
    main()
