"""``rnnkit diagnose RUN_DIR [--json] [--no-plots]``: redraw a run's diagnostics plots and
print a short verdict on its gradient flow, gates, recurrent weights and losses."""

from __future__ import annotations

from pathlib import Path

from .common import add_command, print_json, say


def register(sub) -> None:
    p = add_command(sub, "diagnose", "Redraw a run's plots and summarise its gradient flow.",
                    "rnnkit diagnose runs/adding-rnn", run)
    p.add_argument("run_dir", help="a run directory written by `rnnkit train`")
    p.add_argument("--no-plots", action="store_true", help="only print the summary")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args) -> int:
    from ..diagnostics.summary import summarize

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run directory {run_dir}")
    summary = summarize(run_dir)
    plots = []
    if not args.no_plots:
        from ..diagnostics.plots import draw_plots

        plots = [str(p) for p in draw_plots(run_dir)]
    if args.json:
        print_json({**summary.data, "summary": summary.lines, "plots": plots})
    else:
        for line in summary.lines:
            say(line)
        for path in plots:
            say(f"wrote {path}")
    return 0
