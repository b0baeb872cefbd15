"""``rnnkit evaluate RUN_DIR [--split test] [--checkpoint best] [--json]``."""

from __future__ import annotations

from ..tasks import evaluate_run
from .common import add_command, print_json, say


def register(sub) -> None:
    p = add_command(sub, "evaluate", "Evaluate a trained run on one data split.",
                    "rnnkit evaluate runs/adding-lstm --split test --json", run)
    p.add_argument("run_dir", help="a run directory written by `rnnkit train`")
    p.add_argument("--split", default="test", help="train | val | test (default test)")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"),
                   help="the checkpoint to load: best (default) or last")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args) -> int:
    figures = evaluate_run(args.run_dir, args.split, args.checkpoint)
    if args.json:
        print_json(figures)
    else:
        say(f"{args.run_dir} ({args.checkpoint} checkpoint, step {figures['step']}), "
            f"{args.split}:")
        for k, v in figures.items():
            if k not in ("split", "checkpoint", "step"):
                say(f"  {k:>16} {v:.6g}")
    return 0
