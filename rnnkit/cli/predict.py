"""``rnnkit predict RUN_DIR --input FILE | --text TEXT``: the model's output, JSON on stdout.

Text tasks (sentiment, charlm, translation) read ``--text`` (repeatable) or ``--input`` (one
text a line, ``-`` = stdin) and print one JSON object a line; ``--explain`` adds what the
task can show of why (sentiment: the attention weight of each token). Other tasks read
``--input`` as ``.npy``/``.json``/``.csv`` and print one JSON object.
"""

from __future__ import annotations

import json

from ..tasks import TaskError, open_run
from ..tasks.text_common import TextLine, read_lines
from .common import add_command, say


def register(sub) -> None:
    p = add_command(sub, "predict", "Predict with a trained run; prints JSON on stdout.",
                    "rnnkit predict runs/sentiment-bilstm --text \"a gripping, beautifully "
                    "acted film\" --explain\n"
                    "  rnnkit predict runs/sentiment-bilstm --input reviews.txt   # - = stdin\n"
                    "  rnnkit predict runs/adding-lstm --input sequences.npy", run)
    p.add_argument("run_dir", help="a run directory written by `rnnkit train`")
    p.add_argument("--input", default=None,
                   help="text tasks: one text a line (- = stdin); others: .npy, .json (list "
                        "of sequences) or .csv (one sequence)")
    p.add_argument("--text", action="append", default=None,
                   help="text tasks: a text to predict for (repeatable)")
    p.add_argument("--explain", action="store_true",
                   help="text tasks: add per-token attention weights (sentiment)")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))


def run(args) -> int:
    if (args.input is None) == (args.text is None):
        raise TaskError("give either --input FILE or --text TEXT")
    r = open_run(args.run_dir, args.checkpoint)
    if not r.task.text_io:
        if args.text is not None:
            raise TaskError(f"task {r.task.name!r} does not read text; use --input FILE")
        inputs = r.task.read_inputs(args.input)
        print(json.dumps(r.task.predict(r.model, inputs, r.cfg.task)))
        return 0
    lines = ([TextLine(t) for t in args.text] if args.text is not None
             else read_lines(args.input))
    for line in lines:
        if line.problem:
            say(f"warning: {line.problem}")
    for record in r.task.predict_text(r, lines, {"explain": args.explain}):
        print(json.dumps(record, ensure_ascii=False), flush=True)
    return 0
