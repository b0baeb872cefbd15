"""Forecast and anomaly quality on the real series, rnnkit against classical baselines.

    RNNKIT_DATA=../shared/data python benchmarks/quality_timeseries.py [--runs DIR] [--skip-train]
    RNNKIT_DATA=../shared/data python benchmarks/quality_timeseries.py --select [--runs DIR]
    RNNKIT_DATA=../shared/data python benchmarks/quality_timeseries.py --only airline

Trains each example config (examples/{airline,temperatures,sunspots,anomaly-taxi,
anomaly-machine,ambient-temperature}.toml) into DIR (default runs/bench-ts), then prints
one table per task.
Forecasts use the same test range and horizon for every method: airline, the 24 test
months at once from the end of 1958; temperatures and sunspots, one step ahead rolling over
the test range (statsmodels models keep the parameters fitted on the training range and
filter through the test range). Baselines: seasonal naive and persistence
(rnnkit.tasks.timeseries.metrics), statsmodels SARIMA (airline: (0,1,1)(0,1,1)12 on log
values; elsewhere ARIMA(2,1,1)) and Holt-Winters (airline: additive trend, multiplicative
season; elsewhere Holt's additive trend); anomalies: a rolling z-score detector (|z| > 3 on
a trailing window of 288 points). Needs statsmodels (the `dev` extra).

``--select`` reruns the model choices made inside the training range (no test point is
read): the airline window (12, 24, 36) and seed-ensemble size (1, 5), by the RMSE of
24-month forecasts from several origins inside the training range (the model trained on
the points before each origin; AIRLINE_ORIGINS), averaged over origins and seeds; the
machine-temperature score smoothing, by the margin of a threshold set on the first half of
the calibration range over the highest score of its second half, in calibration-score
standard deviations (all of that range is normal; the largest margin is the most robust
threshold). ``--only airline`` restricts either mode to the named series.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from rnnkit.tasks import TASKS, evaluate_run, load, load_config, train_run
from rnnkit.tasks.timeseries.detector import batch_scores, scored_windows
from rnnkit.tasks.timeseries.events import event_scores, rolling_zscore
from rnnkit.tasks.timeseries.intervals import COVERAGES, Bands
from rnnkit.tasks.timeseries.scoring import figures

FORECASTS = ("airline", "temperatures", "sunspots")
ANOMALIES = ("anomaly-taxi", "anomaly-machine", "ambient-temperature")


def _bands(mean, lo_hi: dict) -> Bands:
    return Bands(np.asarray(mean), {c: np.asarray(lo_hi[c][0]) for c in COVERAGES},
                 {c: np.asarray(lo_hi[c][1]) for c in COVERAGES})


def statsmodels_baselines(ctx) -> dict[str, Bands]:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    x, s = ctx.series.values, ctx.test_start
    airline = ctx.protocol == "multistep"
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if airline:
            res = SARIMAX(np.log(x[:s]), order=(0, 1, 1), seasonal_order=(0, 1, 1, 12)).fit(
                disp=False)
            f = res.get_forecast(len(x) - s)
            conf = {c: np.exp(f.conf_int(alpha=1 - c / 100)).T for c in COVERAGES}
            out["SARIMA (0,1,1)(0,1,1)12 log"] = _bands(np.exp(f.predicted_mean), conf)
            hw = ExponentialSmoothing(x[:s], trend="add", seasonal="mul",
                                      seasonal_periods=12).fit()
            point = hw.forecast(len(x) - s)
            sims = hw.simulate(len(x) - s, repetitions=2000, random_state=0).T  # (reps, steps)
        else:
            res = SARIMAX(x[:s], order=(2, 1, 1)).fit(disp=False)
            f = res.apply(x).get_prediction(start=s)
            conf = {c: f.conf_int(alpha=1 - c / 100).T for c in COVERAGES}
            out["ARIMA(2,1,1)"] = _bands(f.predicted_mean, conf)
            hw = ExponentialSmoothing(x[:s], trend="add").fit()
            full = ExponentialSmoothing(x, trend="add").fit(
                smoothing_level=hw.params["smoothing_level"],
                smoothing_trend=hw.params["smoothing_trend"], optimized=False)
            point = full.fittedvalues[s:]
            sigma = np.std(hw.resid)
            sims = point[None, :] + sigma * np.random.default_rng(0).standard_normal(
                (2000, len(point)))
        q = {80: (10, 90), 95: (2.5, 97.5)}
        conf = {c: (np.percentile(sims, a, axis=0), np.percentile(sims, b, axis=0))
                for c, (a, b) in q.items()}
        name = "Holt-Winters (add. trend, mul. season)" if airline else "Holt (add. trend)"
        out[name] = _bands(point, conf)
    return out


def forecast_table(run_dir: Path, name: str) -> list[tuple[str, dict]]:
    cfg = load_config(run_dir / "config.toml")
    ctx = TASKS["forecast"].setup(cfg)
    result = evaluate_run(run_dir)
    rows = [("rnnkit", result), *result["baselines"].items()]
    y, train = ctx.series.values[ctx.test_start:], ctx.series.values[:ctx.test_start]
    for label, bands in statsmodels_baselines(ctx).items():
        rows.append((label, figures(y, bands, train, cfg.task.season)))
    return rows


def anomaly_table(run_dir: Path) -> list[tuple[str, dict]]:
    cfg = load_config(run_dir / "config.toml")
    ctx = TASKS["anomaly"].setup(cfg)
    ours = evaluate_run(run_dir)
    z = np.abs(rolling_zscore(ctx.series.values, 288)) > 3
    z[:ctx.train_end] = False
    return [("rnnkit", ours),
            ("rolling z-score (288, abs z > 3)", event_scores(z, scored_windows(ctx)))]


AIRLINE_WINDOWS = (12, 24, 36)
AIRLINE_ENSEMBLES = (1, 5)
# Validation origins (points observed): the ends of 1955 and 1956 and mid-1956. Each replay
# trains on the points before its origin and forecasts the next 24 months, all before 1959.
# The end of 1954 (72) is left out: window 36 would have 1 training window there (25 in the
# final setting), so that origin would score the amount of data rather than the window.
AIRLINE_ORIGINS = (84, 90, 96)
SMOOTHING = {"anomaly-machine": (1, 12, 48, 144, 288),  # 5 min .. a day (calib. half: 300)
             "ambient-temperature": (1, 6, 12, 24, 48)}  # 1 hour .. two days (half: 450)


def airline_replay(root: Path, window: int, members: int, seed: int, origin: int) -> float:
    """Validation RMSE of one airline setting: trained (600 steps, the last checkpoint) on
    the points before ``origin``, as the refitted final model is trained on every point
    before its forecast origin (``task.refit``), scored on the 24-month forecast from
    there. The series is cut at ``origin + 24`` <= 120 (the end of 1958), so no test month
    is loaded at all. The batch is capped at the number of training windows (window 36 has
    13 at origin 84)."""
    overrides = [
        f"task.window={window}", f"task.ensemble={members}", f"seed={seed}",
        f"task.cutoff={origin + 24}", "task.test_size=24", "task.val_size=24",
        "task.refit=true", "task.calibrate=false", "train.threads=1",
        "train.progress=off"]
    cfg = load_config("examples/airline.toml", overrides)
    windows = origin - cfg.task.horizon - (cfg.task.season + window - 1)  # see train_origins
    if windows < cfg.train.batch_size:
        cfg = load_config("examples/airline.toml", [*overrides, f"train.batch_size={windows}"])
    run = root / f"airline-select-w{window}-n{members}-s{seed}-o{origin}"
    train_run(cfg, run, overwrite=True)
    return evaluate_run(run, split="test", checkpoint="last")["rmse"]


def select_airline(root: Path, seeds: int, ensembles: int) -> None:
    """Window and ensemble size by the mean validation RMSE over origins and seeds: N = 1
    with seeds 0..seeds-1, N = 5 with disjoint member seeds (0-4, 5-9, ...)."""
    print("| window | N | seed | " + " | ".join(f"origin {o}" for o in AIRLINE_ORIGINS)
          + " | mean |\n|---|---|---|" + "---|" * (len(AIRLINE_ORIGINS) + 1))
    summary = {}
    for w in AIRLINE_WINDOWS:
        for n in AIRLINE_ENSEMBLES:
            runs = range(seeds) if n == 1 else range(0, n * ensembles, n)
            table = np.array([[airline_replay(root, w, n, s, o) for o in AIRLINE_ORIGINS]
                              for s in runs])  # (seeds, origins)
            for s, row in zip(runs, table):
                print(f"| {w} | {n} | {s} | " + " | ".join(f"{v:.2f}" for v in row)
                      + f" | {row.mean():.2f} |", flush=True)
            summary[w, n] = table
    print("\n| window | N | " + " | ".join(f"origin {o}" for o in AIRLINE_ORIGINS)
          + " | mean | std over seeds |\n|---|---|" + "---|" * (len(AIRLINE_ORIGINS) + 2))
    for (w, n), t in summary.items():
        print(f"| {w} | {n} | " + " | ".join(f"{v:.2f}" for v in t.mean(0))
              + f" | {t.mean():.2f} | {t.mean(1).std(ddof=1):.2f} |")
    best = min(summary, key=lambda k: summary[k].mean())
    print(f"\nchosen: window {best[0]}, ensemble {best[1]} "
          f"(mean validation rmse {summary[best].mean():.2f})")


def select_smoothing(root: Path, name: str) -> None:
    from rnnkit.data.timeseries import Series

    run = root / f"{name}-select"
    train_run(load_config(f"examples/{name}.toml", ["train.threads=1"]), run, overwrite=True)
    p = load(run)
    ctx = p.context
    a, b = ctx.fit_end, ctx.train_end
    mid = (a + b) // 2
    train = Series(ctx.series.timestamps[:b], ctx.series.values[:b])
    feats = ctx.features(train)
    print(f"| {name} smoothing | margin (calibration std) |\n|---|---|")
    for k in SMOOTHING[name]:
        s = batch_scores(p.model, feats, k)
        print(f"| {k} | {(s[a:mid].max() - s[mid:b].max()) / s[a:b].std():.3f} |")


def print_airline_seeds(root: Path, skip_train: bool, seeds: int = 3) -> None:
    """The airline figures of ``seeds`` runs (seed 0 is the table's run): mean and std. An
    ensemble of N members steps the seed by N, so the runs share no member."""
    keys = ["rmse", "mae", "coverage_80", "coverage_95"]
    step = load_config("examples/airline.toml").task.ensemble
    rows, used = [], [k * step for k in range(seeds)]
    for seed in used:
        run = root / ("airline" if seed == 0 else f"airline-seed{seed}")
        if seed and not skip_train:
            cfg = load_config("examples/airline.toml", ["train.progress=off", f"seed={seed}"])
            train_run(cfg, run, overwrite=True)
        rows.append([evaluate_run(run)[k] for k in keys])
        factors = json.loads((run / "checkpoints/best/model.json").read_text())[
            "model_config"].get("interval_factors")
        print(f"seed {seed}: interval factors (80%, 95%) from the replays: {factors}")
    a = np.array(rows)
    print(f"\nairline rnnkit over seeds {used}: " + ", ".join(
        f"{k} {m:.3f} ± {s:.3f}" for k, m, s in zip(keys, a.mean(0), a.std(0, ddof=1))))
    print("per seed: " + "; ".join(", ".join(f"{v:.3f}" for v in r) for r in rows))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", default="runs/bench-ts")
    p.add_argument("--skip-train", action="store_true", help="reuse the runs in --runs")
    p.add_argument("--select", action="store_true", help="rerun the validation choices")
    p.add_argument("--seeds", type=int, default=5,
                   help="single-model seeds per airline setting (--select)")
    p.add_argument("--ensembles", type=int, default=2,
                   help="ensembles (disjoint members) per airline setting (--select)")
    p.add_argument("--only", nargs="+", choices=FORECASTS + ANOMALIES,
                   help="just these series (the rest of the tables are skipped)")
    args = p.parse_args()
    root = Path(args.runs)
    names = args.only or FORECASTS + ANOMALIES
    if args.select:
        for name in SMOOTHING:
            if name in names:
                select_smoothing(root, name)
        if args.seeds and "airline" in names:
            select_airline(root, args.seeds, args.ensembles)
        return
    for name in names:
        if not args.skip_train:
            cfg = load_config(f"examples/{name}.toml", ["train.progress=off"])
            train_run(cfg, root / name, overwrite=True)
    keys = ["rmse", "mae", "mase", "smape", "coverage_80", "coverage_95"]
    print("| series | method | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 2) + "|")
    for name in (n for n in FORECASTS if n in names):
        for label, f in forecast_table(root / name, name):
            print(f"| {name} | {label} | " + " | ".join(f"{f[k]:.3f}" for k in keys) + " |")
    if "airline" in names:
        print_airline_seeds(root, args.skip_train)
    keys = ["windows_detected", "windows_total", "false_positives", "alarm_points_outside",
            "precision", "recall", "f1"]
    print("\n| series | method | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 2) + "|")
    for name in (n for n in ANOMALIES if n in names):
        for label, f in anomaly_table(root / name):
            cells = [f"{f[k]:.3f}" if isinstance(f[k], float) else str(f[k]) for k in keys]
            print(f"| {name} | {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
