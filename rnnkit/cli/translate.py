"""``rnnkit translate RUN_DIR "sentence" [--beam 5] [--attention-plot FILE.png]``: a thin
shell over ``rnnkit.load(RUN_DIR).predict([sentence], beam=...)``."""

from __future__ import annotations

import sys

from ..tasks import TaskError, load
from .common import add_command, say


def register(sub) -> None:
    p = add_command(sub, "translate", "Translate a sentence with a trained translation run; "
                    "prints the translation on stdout.",
                    "rnnkit translate runs/translation-gru \"I am cold.\" --beam 5 "
                    "--attention-plot cold.png", run)
    p.add_argument("run_dir", help="a run directory whose task translates")
    p.add_argument("sentence", help="the sentence to translate")
    p.add_argument("--beam", type=int, default=None,
                   help="beam size (default: the run's task.beam; 1 = greedy)")
    p.add_argument("--attention-plot", default=None, metavar="FILE.png",
                   help="draw the attention weights (source words x target words)")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"),
                   help="the checkpoint to load: best (default) or last")


def run(args) -> int:
    if args.beam is not None and args.beam < 1:
        raise TaskError(f"--beam must be >= 1, got {args.beam}")
    p = load(args.run_dir, args.checkpoint)
    p.require("translate", "translate; use a translation run")
    (record,) = p.predict([args.sentence], beam=args.beam, explain=True)
    if record.get("error"):
        raise TaskError(record["error"])
    print(record["translation"])
    sys.stdout.flush()
    if args.attention_plot:
        say(f"attention plot: {p.plot(record, args.attention_plot)}")
    return 0
