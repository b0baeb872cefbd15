"""``rnnkit detect RUN_DIR --input CSV [--output CSV] [--plot PNG] [--stream]``.

Writes ``timestamp,value,score,is_anomaly`` (to stdout without ``--output``). ``--stream``
feeds the points one at a time, carrying the recurrent state (same scores as the batch
pass). The threshold is the run's, calibrated on its training range; alarms follow the
run's hysteresis and hold (``release_factor``, ``hold``). ``--report`` adds the
labelled-window figures against the rolling z-score detector and the plot to report.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..tasks import TaskError, open_run
from .common import add_command, say

EXAMPLE = ("rnnkit detect runs/anomaly-taxi --input nyc_taxi.csv --output alarms.csv "
           "--plot taxi.png\n  rnnkit detect runs/anomaly-taxi --input new.csv --stream")


def register(sub) -> None:
    p = add_command(sub, "detect", "Score a series for anomalies with a trained anomaly run.",
                    EXAMPLE, run)
    p.add_argument("run_dir", help="a run directory of task `anomaly`")
    p.add_argument("--input", help="CSV to score (default: the run's whole series)")
    p.add_argument("--repair", default=None,
                   help="read_csv repairs for --input, e.g. ignore-gaps,keep-order")
    p.add_argument("--output", help="CSV file to write (default: stdout)")
    p.add_argument("--plot", help="PNG of values, alarms, scores and labelled windows")
    p.add_argument("--stream", action="store_true", help="score one point at a time")
    p.add_argument("--report", action="store_true",
                   help="add the labelled-window figures and plot to the run's report.md")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))


def run(args) -> int:
    from ..data.timeseries import Scaler
    from ..tasks.anomaly import (
        StreamingDetector,
        alarm,
        batch_scores,
        context,
        features,
        labelled_windows,
        threshold,
    )
    from ..tasks.ts_common import read_input, write_csv
    from ..tasks.ts_report import plot_detection

    r = open_run(args.run_dir, args.checkpoint)
    cfg = r.cfg.task
    if cfg.name != "anomaly":
        raise TaskError(f"{args.run_dir} is a {cfg.name!r} run, not an anomaly run")
    ctx = context(cfg)
    series = read_input(args.input, cfg, args.repair) if args.input else ctx.series
    scaler = Scaler.from_dict(r.checkpoint.info["scaler"])
    limit = threshold(r.model, ctx)
    if args.stream:
        det = StreamingDetector(r.model, scaler, cfg.calendar, cfg.smooth, limit,
                                alarm(cfg, limit))
        pairs = [det.update(t, v) for t, v in zip(series.timestamps, series.values)]
        scores = np.array([s for s, _ in pairs])
        alarms = np.array([a for _, a in pairs], dtype=bool)
    else:
        scores = batch_scores(r.model, features(series, scaler, cfg.calendar), cfg.smooth)
        alarms = alarm(cfg, limit).run(scores)
    columns = {"timestamp": list(series.timestamps), "value": list(series.values),
               "score": list(scores), "is_anomaly": list(alarms)}
    if args.output:
        say(f"wrote {write_csv(args.output, columns)}")
    else:
        write_csv(None, columns)
    say(f"{int(alarms.sum())} alarm points, threshold {limit:.4g}")
    if args.plot:
        windows = labelled_windows(ctx, series.timestamps) or []
        path = plot_detection(args.plot, series.timestamps, series.values, scores, alarms,
                              limit, windows, title=str(args.run_dir))
        say(f"wrote {path}")
    if args.report:
        from ..tasks.anomaly import write_report_section

        say(f"wrote {write_report_section(r.model, r.cfg, Path(args.run_dir))}")
    return 0
