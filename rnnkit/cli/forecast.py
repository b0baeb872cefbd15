"""``rnnkit forecast RUN_DIR --horizon N [--input CSV] [--output CSV] [--plot PNG]``.

Writes ``timestamp,forecast,lower_80,upper_80,lower_95,upper_95`` (to stdout without
``--output``). Without ``--input`` it forecasts from the end of the run's training range, so
the plot shows the truth of the test range; with ``--input`` from the end of that CSV.
``--report`` adds the test figures against the baselines and the plot to report.md.
"""

from __future__ import annotations

from pathlib import Path

from ..tasks import TaskError, open_run
from .common import add_command, say

EXAMPLE = ("rnnkit forecast runs/airline --horizon 24 --output airline.csv --plot airline.png\n"
           "  rnnkit forecast runs/temperatures --horizon 30 --input recent.csv")


def register(sub) -> None:
    p = add_command(sub, "forecast", "Forecast a trained forecast run, with 80%/95% intervals.",
                    EXAMPLE, run)
    p.add_argument("run_dir", help="a run directory of task `forecast`")
    p.add_argument("--horizon", type=int, required=True, help="steps to forecast")
    p.add_argument("--input", help="history CSV (default: the run's training range)")
    p.add_argument("--repair", default=None,
                   help="read_csv repairs for --input, e.g. sort,interpolate")
    p.add_argument("--output", help="CSV file to write (default: stdout)")
    p.add_argument("--plot", help="PNG of history, truth, forecast and intervals")
    p.add_argument("--samples", type=int, default=1000,
                   help="sample paths when --horizon exceeds the model's horizon")
    p.add_argument("--report", action="store_true",
                   help="add test figures vs baselines and plots to the run's report.md")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))


def run(args) -> int:
    from ..tasks.forecast import context, forecast_history
    from ..tasks.forecast_data import Transform
    from ..tasks.ts_common import future_times, read_input, write_csv
    from ..tasks.ts_report import plot_forecast

    r = open_run(args.run_dir, args.checkpoint)
    if r.cfg.task.name != "forecast":
        raise TaskError(f"{args.run_dir} is a {r.cfg.task.name!r} run, not a forecast run")
    if args.horizon < 1:
        raise TaskError("--horizon must be >= 1")
    transform = Transform.from_dict(r.checkpoint.info["transform"])
    if args.input:
        series, truth = read_input(args.input, r.cfg.task, args.repair), None
        t, x = series.timestamps, series.values
    else:
        ctx = context(r.cfg.task)
        t, x = ctx.series.timestamps[:ctx.test_start], ctx.series.values[:ctx.test_start]
        truth = ctx.series.values[ctx.test_start:ctx.test_start + args.horizon]
    result = forecast_history(r.model, r.cfg.task, x, args.horizon, transform, args.samples)
    future = future_times(t, args.horizon)
    columns = {"timestamp": list(future), **{k: list(v) for k, v in result.items()}}
    if args.output:
        say(f"wrote {write_csv(args.output, columns)}")
    else:
        write_csv(None, columns)
    shown = max(3 * args.horizon, 60)
    if args.plot:
        path = plot_forecast(args.plot, t[-shown:], x[-shown:], future, result, truth,
                             title=f"{args.run_dir}: {args.horizon} steps ahead")
        say(f"wrote {path}")
    if args.report:
        from ..tasks.forecast import write_report_section

        say(f"wrote {write_report_section(r.model, r.cfg, Path(args.run_dir))}")
    return 0
