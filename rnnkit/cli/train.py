"""``rnnkit train CONFIG.toml [--set k=v ...] [--run-dir D] | --resume RUN_DIR``."""

from __future__ import annotations

import signal
from pathlib import Path

from ..tasks import load_config, resume_config, stopped_before_first_checkpoint, train_run
from ..training import ConfigError
from ..training.checkpoint import checkpoint_exists
from ..training.trainer import stop_signal
from .common import Interrupted, add_command, say

EXAMPLE = ("rnnkit train examples/adding.toml --set train.steps=500 --set model.cell=gru\n"
           "  rnnkit train --resume runs/adding-lstm --set train.steps=4000")


def register(sub) -> None:
    p = add_command(sub, "train", "Train a model from a TOML config into a run directory.",
                    EXAMPLE, run)
    p.add_argument("config", nargs="?", help="the config file (TOML); omit with --resume")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. train.lr=3e-4 (repeatable)")
    p.add_argument("--run-dir", help="where to write the run (default runs/<name>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from checkpoints/last")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing run in the run directory")


def run(args) -> int:
    if args.resume:
        if args.config:
            raise ConfigError("give either CONFIG.toml or --resume RUN_DIR, not both")
        cfg = resume_config(args.resume, args.overrides)
        run_dir, resume = args.resume, True
    elif args.config:
        cfg = load_config(args.config, args.overrides)
        run_dir, resume = args.run_dir, False
    else:
        raise ConfigError("give a config file (rnnkit train CONFIG.toml) or --resume RUN_DIR")
    where = Path(run_dir) if run_dir is not None else Path("runs") / cfg.name
    try:
        result = train_run(cfg, run_dir, resume=resume, overwrite=args.overwrite)
    except KeyboardInterrupt as e:  # before or after the training loop (setup, the report)
        raise Interrupted(getattr(e, "signum", signal.SIGINT), _kept(where)) from None
    except OSError as e:  # a full disk writing metrics.jsonl, report.md, a plot ...
        if not _kept(where):
            raise
        raise OSError(f"{e}{_kept(where)} once the cause is removed") from None
    if result.interrupted:
        say(f"{result.state.stop_reason} at step {result.state.step}: saved "
            f"{result.run_dir}/checkpoints/last; continue with "
            f"`rnnkit train --resume {result.run_dir}`")
        return 128 + stop_signal(result.state.stop_reason)
    skipped = (f" ({result.state.skipped} skipped: non-finite loss or gradient)"
               if result.state.skipped else "")
    say(f"{result.state.stop_reason} after {result.state.step} steps{skipped}; run: "
        f"{result.run_dir}")
    for split, figures in result.results.items():
        say(f"  best checkpoint, {split}: " + "  ".join(f"{k} {v:.4g}" for k, v in figures.items()))
    say(f"  report: {result.run_dir}/report.md")
    return 0


def _kept(run_dir: Path) -> str:
    """What an interrupted or failed training leaves to go on from ("" when nothing)."""
    if not checkpoint_exists(run_dir / "checkpoints" / "last"):
        if run_dir.is_dir() and stopped_before_first_checkpoint(run_dir):
            return f"; {run_dir} holds no checkpoint yet: start it again with --overwrite"
        return ""
    return (f"; {run_dir}/checkpoints/last is kept: continue with "
            f"`rnnkit train --resume {run_dir}`")
