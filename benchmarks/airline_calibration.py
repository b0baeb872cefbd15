"""Airline interval calibration rules compared inside the training range, then the chosen
rule scored once on the test range.

    RNNKIT_DATA=../shared/data python benchmarks/airline_calibration.py [--seeds 0 1 2]
        [--jobs 2] [--test]

Every replay is ``examples/airline.toml`` (uncalibrated) trained like the deployed model
(refit, fixed steps, last checkpoint) on the months before its origin, with the series cut
24 months after it (``rnnkit.tasks.timeseries.replays.replay_config``), and its raw 24-month
quantile forecast kept (cached in ``runs/airline-calibration``). Origins: every month from
71 (the first with 12 training windows) to 96 (the last whose forecast ends with 1958), so
no month after 1958 is loaded.

The rules (each maps a set of replay forecasts to interval widths):

- ``config``: the config's rule: 3 origins 6 months apart ending at the last one, one factor
  per coverage (``backtest_factors``: each lead time weighing equally).
- ``monthly``: every origin, one factor per coverage.
- ``monthly, widening``: every origin, one factor per coverage and lead time: the per-lead
  c-quantiles of the ratios |error| / half-width, smoothed by a power law in the lead time,
  log f(h) = a + b log h fitted by least squares with b >= 0 (a width that never narrows
  with the lead time).
- ``monthly, log errors``: the model's quantile head ignored: half-widths in log units are
  the per-lead c-quantiles of |log forecast - log actual|, smoothed by the same power law.
- ``last 12``, ``last 12, widening``, ``last 12, log errors``: the same from the 12 latest
  origins only, the replays closest to the deployed model in time and in training length
  (the earliest replays train on 12 windows, the deployed model on 61).

Choice (made on the training range only; the rule was fixed before the test range was
scored): a nested forward check per seed. Each rule is calibrated on the replays whose
forecasts end with 1957 (origins 71-84; ``config``: 72, 78, 84; ``last 12``: 73-84) and
assessed on the
replays from origins 85-96, whose forecasts reach into 1958. A rule passes when, on every
seed, its assessed coverage is within 0.65-0.95 (80%) and 0.85-0.99 (95%); of those passing,
the narrowest mean 95% width (relative to the forecast) is chosen; if none passes, the rule
with the smallest mean |coverage - nominal| over both levels and all seeds.

``--test`` then calibrates the chosen rule on every origin (71-96; ``config``: 84, 90, 96,
as the config does; ``last 12``: 85-96) and scores the deployed model (refit on 1949-1958)
of each seed on 1959-1960: RMSE and coverage of its 80% and 95% intervals.
"""

from __future__ import annotations

import argparse
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

CACHE = Path("runs/airline-calibration")
ORIGINS = list(range(71, 97))
SPLIT = 84  # nested check: calibrate on origins <= SPLIT, assess on the later ones
LEVELS = (80, 95)
BANDS = {80: (0.80, 0.65, 0.95), 95: (0.95, 0.85, 0.99)}  # nominal, lowest, highest


def _config(seed: int):
    from rnnkit.tasks import load_config

    return load_config("examples/airline.toml", [f"seed={seed}", "task.calibrate=false",
                                                 "train.threads=1", "train.progress=off"])


def replay(args: tuple[int, int]) -> dict[str, np.ndarray]:
    """The raw forecast of the replay at ``origin`` for ``seed``: point, lower/upper per
    level (24,), and the months it forecasts (24,)."""
    import torch

    torch.set_num_threads(1)
    from rnnkit.tasks import TASKS
    from rnnkit.tasks.timeseries.replays import replay_bands, replay_config

    origin, seed = args
    cfg = _config(seed)
    with tempfile.TemporaryDirectory() as tmp:
        b = replay_bands(cfg, origin, Path(tmp) / "run")
    series = TASKS["forecast"].setup(replay_config(cfg, origin)).series
    out = {"point": b.point[0], "y": series.values[origin:origin + 24]}
    for c in LEVELS:
        out[f"lo{c}"], out[f"hi{c}"] = b.lower[c][0], b.upper[c][0]
    return out


def deployed(seed: int) -> dict[str, np.ndarray]:
    """The deployed model's raw forecast of 1959-1960 (trained on 1949-1958), and the test
    months."""
    import torch

    torch.set_num_threads(1)
    from rnnkit.tasks import TASKS, train_run
    from rnnkit.tasks.predictor import open_checkpoint
    from rnnkit.tasks.timeseries.calibration import forecast_bands

    cfg = _config(seed)
    with tempfile.TemporaryDirectory() as tmp:
        train_run(cfg, Path(tmp))
        _, _, model = open_checkpoint(Path(tmp))
    ctx = TASKS["forecast"].setup(cfg)
    s = ctx.test_start
    b = forecast_bands(model, ctx.transform, ctx.z, np.array([s - 1]), cfg.task.window,
                       zc=ctx.zc)
    out = {"point": b.point[0], "y": ctx.series.values[s:s + 24]}
    for c in LEVELS:
        out[f"lo{c}"], out[f"hi{c}"] = b.lower[c][0], b.upper[c][0]
    return out


def cached(key: str, fn, arg) -> dict[str, np.ndarray]:
    path = CACHE / f"{key}.npz"
    if path.exists():
        return dict(np.load(path))
    out = fn(arg)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def _replay_job(args):
    origin, seed = args
    return cached(f"replay-{origin}-{seed}", replay, args)


def _deployed_job(seed):
    return cached(f"test-{seed}", deployed, seed)


def _ratios(f: dict, c: int) -> np.ndarray:
    """|error| / the half-width on the error's side, per lead (24,)."""
    above = f["y"] >= f["point"]
    half = np.where(above, f[f"hi{c}"] - f["point"], f["point"] - f[f"lo{c}"])
    return np.abs(f["y"] - f["point"]) / np.maximum(half, 1e-12)


def _power_law(q: np.ndarray) -> np.ndarray:
    """Per-lead values (H,) smoothed by log f(h) = a + b log h, b >= 0 (least squares)."""
    h = np.log(np.arange(1, len(q) + 1))
    v = np.log(np.maximum(q, 1e-12))
    b = max(np.polyfit(h, v, 1)[0], 0.0)
    a = np.mean(v - b * h)
    return np.exp(a + b * h)


def widths(rule: str, calib: list[dict], c: int) -> callable:
    """``rule`` calibrated on the replays ``calib`` at level ``c`` -> a function of a raw
    forecast returning its (lower, upper) (H,)."""
    q = c / 100
    rule = rule.replace("last 12", "monthly")
    if rule in ("config", "monthly"):
        r = np.stack([_ratios(f, c) for f in calib])  # (N, H): every lead weighs alike
        factor = float(np.quantile(r, q))

        def apply(f):
            return (f["point"] - factor * (f["point"] - f[f"lo{c}"]),
                    f["point"] + factor * (f[f"hi{c}"] - f["point"]))
        return apply
    if rule == "monthly, widening":
        r = np.stack([_ratios(f, c) for f in calib])
        factor = _power_law(np.quantile(r, q, axis=0))

        def apply(f):
            return (f["point"] - factor * (f["point"] - f[f"lo{c}"]),
                    f["point"] + factor * (f[f"hi{c}"] - f["point"]))
        return apply
    if rule == "monthly, log errors":
        e = np.stack([np.abs(np.log(f["point"]) - np.log(f["y"])) for f in calib])
        half = _power_law(np.quantile(e, q, axis=0))

        def apply(f):
            return f["point"] * np.exp(-half), f["point"] * np.exp(half)
        return apply
    raise ValueError(rule)


RULES = ("config", "monthly", "monthly, widening", "monthly, log errors", "last 12",
         "last 12, widening", "last 12, log errors")
RECENT = 12  # the "last 12" rules: the 12 latest origins only (closest in time and in
# training length to the deployed model)


def score(rule: str, calib: list[dict], targets: list[dict]) -> dict:
    out = {}
    for c in LEVELS:
        apply = widths(rule, calib, c)
        cover, width = [], []
        for f in targets:
            lo, hi = apply(f)
            lo, hi = np.minimum(lo, f["point"]), np.maximum(hi, f["point"])
            cover.append(np.mean((f["y"] >= lo) & (f["y"] <= hi)))
            width.append(np.mean((hi - lo) / f["point"]))
        out[c] = float(np.mean(cover)), float(np.mean(width))
    return out


def calibration_origins(rule: str, last: int) -> list[int]:
    """The replay origins ``rule`` is calibrated on when the latest usable one is ``last``."""
    if rule == "config":
        return [last - 12, last - 6, last]
    if rule.startswith("last 12"):
        return list(range(last - RECENT + 1, last + 1))
    return [o for o in ORIGINS if o <= last]


def nested(rule: str, reps: dict[int, dict]) -> dict:
    calib = [reps[o] for o in calibration_origins(rule, SPLIT)]
    return score(rule, calib, [reps[o] for o in ORIGINS if o > SPLIT])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--test", action="store_true", help="score the chosen rule on 1959-1960")
    args = p.parse_args()
    jobs = [(o, s) for s in args.seeds for o in ORIGINS]
    with ProcessPoolExecutor(args.jobs) as pool:
        got = dict(zip(jobs, pool.map(_replay_job, jobs)))
    reps = {s: {o: got[o, s] for o in ORIGINS} for s in args.seeds}

    print("Nested forward check (calibrated on origins 71-84, assessed on 85-96):\n")
    print("| rule | seed | coverage_80 | width_80 | coverage_95 | width_95 |\n"
          "|---|---|---|---|---|---|")
    results = {}
    for rule in RULES:
        results[rule] = {s: nested(rule, reps[s]) for s in args.seeds}
        for s in args.seeds:
            r = results[rule][s]
            print(f"| {rule} | {s} | {r[80][0]:.2f} | {r[80][1]:.3f} | {r[95][0]:.2f} | "
                  f"{r[95][1]:.3f} |")
    passing = [rule for rule in RULES
               if all(BANDS[c][1] <= results[rule][s][c][0] <= BANDS[c][2]
                      for s in args.seeds for c in LEVELS)]
    if passing:
        chosen = min(passing, key=lambda r: np.mean([results[r][s][95][1] for s in args.seeds]))
    else:
        chosen = min(RULES, key=lambda r: np.mean([abs(results[r][s][c][0] - BANDS[c][0])
                                                  for s in args.seeds for c in LEVELS]))
    print(f"\npassing: {passing or 'none'}; chosen: {chosen}\n", flush=True)
    if not args.test:
        return

    with ProcessPoolExecutor(args.jobs) as pool:
        tests = dict(zip(args.seeds, pool.map(_deployed_job, args.seeds)))
    print("Test range 1959-1960, deployed model (refit on 1949-1958), rule calibrated on "
          "every origin:\n")
    print("| rule | seed | rmse | coverage_80 | coverage_95 |\n|---|---|---|---|---|")
    for rule in RULES:
        for s in args.seeds:
            calib = [reps[s][o] for o in calibration_origins(rule, ORIGINS[-1])]
            r = score(rule, calib, [tests[s]])
            f = tests[s]
            rmse = float(np.sqrt(np.mean((f["point"] - f["y"]) ** 2)))
            mark = " (chosen)" if rule == chosen else ""
            print(f"| {rule}{mark} | {s} | {rmse:.1f} | {r[80][0]:.2f} | {r[95][0]:.2f} |")


if __name__ == "__main__":
    main()
