"""``rnnkit translate RUN_DIR "sentence" [--beam 5] [--attention-plot FILE.png]``."""

from __future__ import annotations

import sys

from ..tasks import TaskError, open_run
from ..tasks.text_common import TextLine
from .common import add_command, say


def register(sub) -> None:
    p = add_command(sub, "translate", "Translate a sentence with a trained translation run; "
                    "prints the translation on stdout.",
                    "rnnkit translate runs/translation-gru \"I am cold.\" --beam 5 "
                    "--attention-plot cold.png", run)
    p.add_argument("run_dir", help="a run directory written by `rnnkit train` (translation)")
    p.add_argument("sentence", help="the sentence to translate")
    p.add_argument("--beam", type=int, default=None,
                   help="beam size (default: the run's task.beam; 1 = greedy)")
    p.add_argument("--attention-plot", default=None, metavar="FILE.png",
                   help="draw the attention weights (source words x target words)")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))


def run(args) -> int:
    if args.beam is not None and args.beam < 1:
        raise TaskError(f"--beam must be >= 1, got {args.beam}")
    r = open_run(args.run_dir, args.checkpoint)
    if r.task.name != "translation":
        raise TaskError(f"{args.run_dir} is a {r.task.name!r} run, not a translation run")
    options = {"beam": args.beam, "explain": True}
    (record,) = r.task.predict_text(r, [TextLine(args.sentence)], options)
    if record.get("error"):
        raise TaskError(record["error"])
    print(record["translation"])
    sys.stdout.flush()
    if args.attention_plot:
        if record["attention"] is None:
            raise TaskError("this model has no attention (model.attention = \"none\")")
        if not record["target_tokens"]:
            raise TaskError("the translation is empty: no attention to plot")
        from ..tasks.translation import plot_attention

        try:
            path = plot_attention(record["source_tokens"], record["target_tokens"],
                                  record["attention"], args.attention_plot)
        except ImportError:
            raise TaskError("--attention-plot needs matplotlib (pip install "
                            "'rnnkit[all]')") from None
        say(f"attention plot: {path}")
    return 0
