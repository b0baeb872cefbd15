"""``rnnkit forecast RUN_DIR [--horizon N] [--input CSV] [--output CSV] [--plot PNG]``.

A thin shell over ``rnnkit.load(RUN_DIR).predict(...)``: writes the record's columns
(``timestamp,forecast,lower_80,upper_80,lower_95,upper_95``) as CSV (to stdout without
``--output``) for ``--horizon`` points (default: the model's ``task.horizon``, as
``predict``). Without ``--input`` it forecasts from the end of the run's training range
(``default_inputs``), so the plot shows the truth of the test range; with ``--input`` from
the end of that CSV. ``--report`` adds the test figures against the baselines and the plot
to report.md.
"""

from __future__ import annotations

from ..tasks import TaskError, load
from .common import add_command, say, write_columns

EXAMPLE = ("rnnkit forecast runs/airline --horizon 24 --output airline.csv --plot airline.png\n"
           "  rnnkit forecast runs/temperatures --horizon 30 --input recent.csv")


def register(sub) -> None:
    p = add_command(sub, "forecast", "Forecast a trained forecast run, with 80%/95% intervals.",
                    EXAMPLE, run)
    p.add_argument("run_dir", help="a run directory whose task forecasts")
    p.add_argument("--horizon", type=int, default=None,
                   help="steps to forecast (default: the model's task.horizon)")
    p.add_argument("--input", help="history CSV (default: the run's training range)")
    p.add_argument("--repair", default=None,
                   help="read_csv repairs for --input, e.g. sort,interpolate")
    p.add_argument("--output", help="CSV file to write (default: stdout)")
    p.add_argument("--plot", help="PNG of history, truth, forecast and intervals")
    p.add_argument("--samples", type=int, default=1000,
                   help="sample paths when --horizon exceeds the model's horizon")
    p.add_argument("--report", action="store_true",
                   help="add test figures vs baselines and plots to the run's report.md")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"),
                   help="the checkpoint to load: best (default) or last")


def run(args) -> int:
    if args.horizon is not None and args.horizon < 1:
        raise TaskError("--horizon must be >= 1")
    if args.samples < 1:
        raise TaskError("--samples must be >= 1")
    p = load(args.run_dir, args.checkpoint)
    p.require("forecast", "forecast; use a forecast run")
    inputs = (p.read_file(args.input, repair=args.repair) if args.input
              else p.default_inputs())
    (record,) = p.predict(inputs, horizon=args.horizon, samples=args.samples)
    say(write_columns(args.output, record["columns"]))
    if args.plot:
        say(f"wrote {p.plot(record, args.plot)}")
    if args.report:
        say(f"wrote {p.write_report()}")
    return 0
