"""``rnnkit detect RUN_DIR --input CSV [--output CSV] [--plot PNG] [--stream]``.

A thin shell over ``rnnkit.load(RUN_DIR).predict(...)``: writes the record's columns
(``timestamp,value,score,is_anomaly,warmup``) as CSV (to stdout without ``--output``); the
first ``window + smooth - 1`` points are the warm-up: scored, never alarmed.
``--stream`` feeds the points one at a time through ``stream()``, carrying the recurrent
state (same scores as the batch pass). ``--report`` adds the labelled-window figures
against the rolling z-score detector and the plot to report.md.
"""

from __future__ import annotations

from ..tasks import load
from .common import add_command, say, write_columns

EXAMPLE = ("rnnkit detect runs/anomaly-taxi --input nyc_taxi.csv --output alarms.csv "
           "--plot taxi.png\n  rnnkit detect runs/anomaly-taxi --input new.csv --stream")


def register(sub) -> None:
    p = add_command(sub, "detect", "Score a series for anomalies with a trained anomaly run.",
                    EXAMPLE, run)
    p.add_argument("run_dir", help="a run directory whose task detects anomalies")
    p.add_argument("--input", help="CSV to score (default: the run's whole series)")
    p.add_argument("--repair", default=None,
                   help="read_csv repairs for --input, e.g. ignore-gaps,keep-order")
    p.add_argument("--output", help="CSV file to write (default: stdout)")
    p.add_argument("--plot", help="PNG of values, alarms, scores and labelled windows")
    p.add_argument("--stream", action="store_true", help="score one point at a time")
    p.add_argument("--report", action="store_true",
                   help="add the labelled-window figures and plot to the run's report.md")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"),
                   help="the checkpoint to load: best (default) or last")


def run(args) -> int:
    p = load(args.run_dir, args.checkpoint)
    p.require("detect", "detect anomalies; use an anomaly run")
    inputs = (p.read_file(args.input, repair=args.repair) if args.input
              else p.default_inputs())
    (record,) = p.predict(inputs, stream=args.stream)
    say(write_columns(args.output, record["columns"]))
    say(f"{record['alarm_points']} alarm points, threshold {record['threshold']:.4g}; the "
        f"first {record['warmup_points']} points are the warm-up (scored, never alarmed)")
    if args.plot:
        say(f"wrote {p.plot(record, args.plot)}")
    if args.report:
        say(f"wrote {p.write_report()}")
    return 0
