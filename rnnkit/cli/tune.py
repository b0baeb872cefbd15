"""``rnnkit tune CONFIG.toml --trials N [--timeout MIN] [--jobs J] [--storage URL]``."""

from __future__ import annotations

import signal

from ..tasks import prepare_tuning, run_tuning
from .common import add_command, print_json, say

EXAMPLE = ("rnnkit tune examples/adding-tune.toml --trials 20 && "
           "rnnkit train runs/adding-lstm-tune/best.toml\n"
           "  rnnkit tune examples/adding-tune.toml --trials 40 --jobs 2   # continue, 2 "
           "processes\n"
           "  rnnkit tune CONFIG.toml --storage postgresql://host/db --name shared  # on "
           "every machine")


def register(sub) -> None:
    p = add_command(sub, "tune", "Search the config's [tune] space with Optuna (TPE, "
                    "pruning on the validation metric); writes runs/<name>/best.toml, "
                    "report.md and plots/. Rerunning continues the study.", EXAMPLE, run)
    p.add_argument("config", help="a config file with a [tune] table (TOML)")
    p.add_argument("--trials", type=int, metavar="N",
                   help="finished trials the study should hold (default: [tune] trials)")
    p.add_argument("--timeout", type=float, metavar="MIN",
                   help="start no new trial after MIN minutes")
    p.add_argument("--jobs", type=int, default=1, metavar="J",
                   help="worker processes running trials against the same study (default 1)")
    p.add_argument("--storage", metavar="URL",
                   help="SQLAlchemy URL of the study's storage (default "
                   "sqlite:///runs/<name>/study.db)")
    p.add_argument("--name", help="the study's name and folder (default <config name>-tune)")
    p.add_argument("--runs-dir", default="runs", help="where the study folder goes (runs)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key for every trial (repeatable)")
    p.add_argument("--json", action="store_true", help="the summary as JSON on stdout")


def run(args) -> int:
    tuning = prepare_tuning(args.config, args.overrides, name=args.name, storage=args.storage,
                            runs_dir=args.runs_dir)
    say(f"study {tuning.name}: {len(tuning.spec.space)} dimensions, storage {tuning.storage}")
    result = run_tuning(tuning, args.trials, args.timeout, args.jobs)
    summary = {"name": result.name, "dir": str(result.root), "storage": result.storage,
               "finished": result.finished, "pruned": result.pruned, "failed": result.failed,
               "best_trial": result.best_number, "best_value": result.best_value,
               "best_params": result.best_params, "interrupted": result.interrupted,
               "best_config": str(result.best_config) if result.best_config else None,
               "report": str(result.report) if result.report else None}
    if result.interrupted:
        say(f"interrupted by {signal.Signals(result.signum).name}: the study is kept in "
            f"{result.storage}; the same command continues it")
    for error in result.errors:
        say(f"rnnkit tune: {error}")
    if result.best_number is not None:
        say(f"best: trial {result.best_number}, validation {tuning.metric} "
            f"{result.best_value:.6g}  " + "  ".join(f"{k}={v}" for k, v in
                                                      result.best_params.items()))
        say(f"  config: {result.best_config}")
    say(f"  report: {result.report}")
    if args.json:
        print_json(summary)
    return 128 + result.signum if result.interrupted else 1 if result.errors else 0
